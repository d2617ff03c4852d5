//! NumPy-style multidirectional broadcasting shared by element-wise ops.

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::tensor::numel;

/// Broadcast result shape of several shapes, or an error naming `op`.
pub fn broadcast_shapes(op: &str, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        let off = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(Error::op(op, format!("cannot broadcast shapes {shapes:?}")));
            }
        }
    }
    Ok(out)
}

/// Strides of `shape` viewed in `out`'s rank, 0 on broadcast axes.
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let off = out.len() - shape.len();
    let mut strides = vec![0usize; out.len()];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[off + i] = if shape[i] == 1 { 0 } else { acc };
        acc *= shape[i];
    }
    strides
}

/// Calls `f(offsets)` for every output element in row-major order, where
/// `offsets[k]` is the element's linear index in input `k`.
pub fn for_each_index<const K: usize>(
    out: &[usize],
    strides: [&[usize]; K],
    mut f: impl FnMut([usize; K]),
) {
    let n = numel(out);
    if n == 0 {
        return;
    }
    let r = out.len();
    if r == 0 {
        f([0; K]);
        return;
    }
    let inner = out[r - 1];
    let inner_s: [usize; K] = std::array::from_fn(|k| strides[k][r - 1]);
    let mut idx = vec![0usize; r - 1];
    let mut base = [0usize; K];
    for _ in 0..n / inner {
        for j in 0..inner {
            f(std::array::from_fn(|k| base[k] + j * inner_s[k]));
        }
        for d in (0..r - 1).rev() {
            idx[d] += 1;
            for k in 0..K {
                base[k] += strides[k][d];
            }
            if idx[d] < out[d] {
                break;
            }
            for k in 0..K {
                base[k] -= strides[k][d] * out[d];
            }
            idx[d] = 0;
        }
    }
}

/// Element-wise binary map with broadcasting.
pub fn binary<A: Copy, B: Copy, O>(
    op: &str,
    limits: &Limits,
    a: &[A],
    ash: &[usize],
    b: &[B],
    bsh: &[usize],
    f: impl Fn(A, B) -> O,
) -> Result<(Vec<O>, Vec<usize>)> {
    let out = broadcast_shapes(op, &[ash, bsh])?;
    limits.check_shape(&out, std::mem::size_of::<O>())?;
    if ash == bsh {
        return Ok((a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect(), out));
    }
    if b.len() == 1 && out == ash {
        let y = b[0];
        return Ok((a.iter().map(|&x| f(x, y)).collect(), out));
    }
    if a.len() == 1 && out == bsh {
        let x = a[0];
        return Ok((b.iter().map(|&y| f(x, y)).collect(), out));
    }
    // One operand repeats along leading axes only (a bias row, a mask):
    // cycle it over the other.
    let trailing = |small: &[usize], big: &[usize]| {
        let s = &small[small.iter().take_while(|&&d| d == 1).count()..];
        s.len() <= big.len() && big.ends_with(s)
    };
    if out == ash && !b.is_empty() && trailing(bsh, ash) {
        let res = a
            .chunks(b.len())
            .flat_map(|row| row.iter().zip(b).map(|(&x, &y)| f(x, y)))
            .collect();
        return Ok((res, out));
    }
    if out == bsh && !a.is_empty() && trailing(ash, bsh) {
        let res = b
            .chunks(a.len())
            .flat_map(|row| a.iter().zip(row).map(|(&x, &y)| f(x, y)))
            .collect();
        return Ok((res, out));
    }
    let sa = broadcast_strides(ash, &out);
    let sb = broadcast_strides(bsh, &out);
    let mut res = Vec::with_capacity(numel(&out));
    for_each_index(&out, [&sa, &sb], |[i, j]| res.push(f(a[i], b[j])));
    Ok((res, out))
}

/// Materialises `data` (of `shape`) broadcast to `out`.
pub fn broadcast_to<T: Clone>(data: &[T], shape: &[usize], out: &[usize]) -> Vec<T> {
    if shape == out {
        return data.to_vec();
    }
    let s = broadcast_strides(shape, out);
    let mut res = Vec::with_capacity(numel(out));
    for_each_index(out, [&s], |[i]| res.push(data[i].clone()));
    res
}
