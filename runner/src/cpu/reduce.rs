//! Reductions, ArgMax/ArgMin and the softmax family.

use super::misc::cast_tensor;
use super::shape::{for_each_multi, norm_axis};
use super::{opt, req, Ctx};
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::{numel, Data, Tensor};

/// Reduction axes: attribute before the opset that moved them to an input.
fn reduce_axes(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>], rank: usize) -> Result<Vec<usize>> {
    let from_input = if node.op_type == "ReduceSum" {
        ctx.opset >= 13
    } else {
        ctx.opset >= 18
    };
    let axes = if from_input {
        opt(ins, 1).map(|t| t.to_i64s(&node.op_type)).transpose()?
    } else {
        node.attr_ints("axes")?
    };
    let axes = axes.unwrap_or_default();
    if axes.is_empty() {
        if node.attr_i("noop_with_empty_axes", 0)? != 0 {
            return Ok(vec![]);
        }
        return Ok((0..rank).collect());
    }
    let mut v = axes
        .iter()
        .map(|&a| norm_axis(&node.op_type, a, rank))
        .collect::<Result<Vec<_>>>()?;
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// The output shape of a reduction over the dimensions marked in `red`:
/// they become 1 with `keep`, else they are dropped. Both backends use it.
pub(crate) fn reduced_shape(shape: &[usize], red: &[bool], keep: bool) -> Vec<usize> {
    shape
        .iter()
        .zip(red)
        .filter(|(_, &r)| keep || !r)
        .map(|(&d, &r)| if r { 1 } else { d })
        .collect()
}

pub fn reduce(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = node.op_type.as_str();
    let axes = reduce_axes(ctx, node, ins, x.rank())?;
    let keep = node.attr_i("keepdims", 1)? != 0;
    if matches!(x.data, Data::Bool(_)) && !matches!(op, "ReduceMax" | "ReduceMin") {
        return Err(Error::unsup(op, "bool input"));
    }
    let red: Vec<bool> = (0..x.rank()).map(|d| axes.contains(&d)).collect();
    let kept: Vec<usize> = x
        .shape
        .iter()
        .zip(&red)
        .map(|(&d, &r)| if r { 1 } else { d })
        .collect();
    let count = x
        .shape
        .iter()
        .zip(&red)
        .filter(|(_, &r)| r)
        .map(|(&d, _)| d)
        .fold(1usize, |a, d| a.saturating_mul(d));
    let n_out = numel(&kept);
    let init = match op {
        "ReduceMax" | "ReduceLogSumExp" => f64::NEG_INFINITY,
        "ReduceMin" => f64::INFINITY,
        "ReduceProd" => 1.0,
        _ => 0.0,
    };
    let mut acc = vec![init; n_out];
    // Max-shift makes LogSumExp stable: first pass finds per-output maxima.
    let mut shift = vec![0.0f64; n_out];
    let v = x.to_f64s();
    let kst = super::shape::strides(&kept);
    let out_index = |m: &[usize]| -> usize {
        m.iter()
            .zip(&red)
            .zip(&kst)
            .map(|((&i, &r), &s)| if r { 0 } else { i * s })
            .sum()
    };
    if op == "ReduceLogSumExp" {
        let mut k = 0;
        for_each_multi(&x.shape, |m| {
            let o = out_index(m);
            if v[k] > acc[o] {
                acc[o] = v[k];
            }
            k += 1;
        });
        for (s, a) in shift.iter_mut().zip(acc.iter_mut()) {
            *s = if a.is_finite() { *a } else { 0.0 };
            *a = 0.0;
        }
    }
    let mut k = 0;
    for_each_multi(&x.shape, |m| {
        let o = out_index(m);
        let e = v[k];
        let a = &mut acc[o];
        match op {
            "ReduceMax" => {
                if e > *a || e.is_nan() {
                    *a = e
                }
            }
            "ReduceMin" => {
                if e < *a || e.is_nan() {
                    *a = e
                }
            }
            "ReduceProd" => *a *= e,
            "ReduceL1" => *a += e.abs(),
            "ReduceL2" | "ReduceSumSquare" => *a += e * e,
            "ReduceLogSumExp" => *a += (e - shift[o]).exp(),
            _ => *a += e,
        }
        k += 1;
    });
    for (a, s) in acc.iter_mut().zip(&shift) {
        *a = match op {
            "ReduceMean" => *a / count as f64,
            "ReduceL2" => a.sqrt(),
            "ReduceLogSum" => a.ln(),
            "ReduceLogSumExp" => a.ln() + s,
            _ => *a,
        };
    }
    if count == 0 && op == "ReduceLogSumExp" {
        acc.iter_mut().for_each(|a| *a = f64::NEG_INFINITY);
    }
    let t = Tensor::new(reduced_shape(&x.shape, &red, keep), Data::F64(acc))?;
    Ok(vec![cast_tensor(&t, x.dtype())])
}

pub fn arg(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let axis = norm_axis(&node.op_type, node.attr_i("axis", 0)?, x.rank())?;
    let keep = node.attr_i("keepdims", 1)? != 0;
    let last = node.attr_i("select_last_index", 0)? != 0;
    let is_max = node.op_type == "ArgMax";
    let v = x.to_f64s();
    let dim = x.shape[axis];
    if dim == 0 {
        return Err(Error::op(&node.op_type, "empty axis"));
    }
    let outer = numel(&x.shape[..axis]);
    let inner = numel(&x.shape[axis + 1..]);
    let mut res = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let mut best = 0usize;
            for j in 1..dim {
                let (c, b) = (
                    v[(o * dim + j) * inner + i],
                    v[(o * dim + best) * inner + i],
                );
                let better = if is_max {
                    c > b || (last && c == b)
                } else {
                    c < b || (last && c == b)
                };
                if better {
                    best = j;
                }
            }
            res.push(best as i64);
        }
    }
    let mut shape = x.shape.clone();
    if keep {
        shape[axis] = 1;
    } else {
        shape.remove(axis);
    }
    Ok(vec![Tensor::new(shape, Data::I64(res))?])
}

/// Softmax-family kernel over `n` rows of length `d` (contiguous).
pub(crate) fn softmax_rows(v: &mut [f32], d: usize, kind: &str) {
    if d == 0 {
        return;
    }
    for row in v.chunks_mut(d) {
        let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        match kind {
            "Hardmax" => {
                let k = row.iter().position(|&x| x == m).unwrap_or(0);
                row.iter_mut()
                    .enumerate()
                    .for_each(|(i, x)| *x = if i == k { 1.0 } else { 0.0 });
            }
            _ => {
                let mut s = 0.0f32;
                if kind == "LogSoftmax" {
                    for x in row.iter_mut() {
                        *x -= m;
                        s += x.exp();
                    }
                    let l = s.ln();
                    row.iter_mut().for_each(|x| *x -= l);
                } else {
                    let s = super::elementwise::exp_shifted_sum(row, m);
                    let inv = 1.0 / s;
                    row.iter_mut().for_each(|x| *x *= inv);
                }
            }
        }
    }
}

pub fn softmax(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = node.op_type.as_str();
    let v = x.f32s(op)?;
    if ctx.opset < 13 {
        // Old semantics: coerce to 2-D at `axis`, normalise each row.
        let r = x.rank() as i64;
        let mut a = node.attr_i("axis", 1)?;
        if a < 0 {
            a += r;
        }
        if a < 0 || a > r {
            return Err(Error::op(op, "axis out of range"));
        }
        let d = numel(&x.shape[a as usize..]);
        let mut out = v.to_vec();
        softmax_rows(&mut out, d, op);
        return Ok(vec![Tensor::new(x.shape.clone(), Data::F32(out))?]);
    }
    if x.rank() == 0 {
        let mut out = v.to_vec();
        softmax_rows(&mut out, 1, op);
        return Ok(vec![Tensor::new(vec![], Data::F32(out))?]);
    }
    let axis = norm_axis(op, node.attr_i("axis", -1)?, x.rank())?;
    let perm_needed = axis + 1 != x.rank();
    if !perm_needed {
        let mut out = v.to_vec();
        softmax_rows(&mut out, x.shape.get(axis).copied().unwrap_or(1), op);
        return Ok(vec![Tensor::new(x.shape.clone(), Data::F32(out))?]);
    }
    // Move the axis last, normalise rows, move it back.
    let r = x.rank();
    let mut perm: Vec<usize> = (0..r).filter(|&i| i != axis).collect();
    perm.push(axis);
    let t = super::shape::transpose_tensor(x, &perm);
    let mut out = t.f32s(op)?.to_vec();
    softmax_rows(&mut out, x.shape[axis], op);
    let mut inv = vec![0usize; r];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    let back = super::shape::transpose_tensor(&Tensor::new(t.shape.clone(), Data::F32(out))?, &inv);
    Ok(vec![back])
}
