//! MatMul, Gemm and Einsum. Dense products go through `matrixmultiply`,
//! whose arbitrary strides give transposes for free.

use super::broadcast::{broadcast_shapes, broadcast_strides, for_each_index};
use super::{opt, req, Ctx};
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::{numel, Data, Tensor};

/// C[m,n] = alpha * A[m,k] * B[k,n] + beta * C, with element strides;
/// C is row-major with row stride `n`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    sa: (usize, usize),
    b: &[f32],
    sb: (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    par_sgemm(1, m, k, n, alpha, a, sa, b, sb, beta, c)
}

/// Smallest product (multiply-adds) worth splitting over threads: below
/// it, spawning costs more than it saves.
const PAR_MIN_MACS: usize = 1 << 19;

/// A pointer to C that scoped workers may share: each writes a disjoint
/// set of columns.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: workers write disjoint column ranges of the same matrix and the
// scope joins them before the owning borrow ends.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

/// One `matrixmultiply` call on raw parts; the caller proves bounds.
#[allow(clippy::too_many_arguments)]
unsafe fn raw_sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    (rsa, csa): (usize, usize),
    b: *const f32,
    (rsb, csb): (usize, usize),
    beta: f32,
    c: *mut f32,
    rsc: usize,
) {
    matrixmultiply::sgemm(
        m,
        k,
        n,
        alpha,
        a,
        rsa as isize,
        csa as isize,
        b,
        rsb as isize,
        csb as isize,
        beta,
        c,
        rsc as isize,
        1,
    );
}

/// [`sgemm`] split over up to `threads` scoped threads: by rows of C when
/// M is the larger side (each worker packs all of B), by columns otherwise
/// (each packs all of A), so the duplicated packing stays small relative
/// to the work.
#[allow(clippy::too_many_arguments)]
pub(crate) fn par_sgemm(
    threads: usize,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c[..m * n].iter_mut().for_each(|x| *x *= beta);
        return;
    }
    let last = |r: usize, rs: usize, cols: usize, cs: usize| (r - 1) * rs + (cols - 1) * cs;
    assert!(last(m, rsa, k, csa) < a.len() && last(k, rsb, n, csb) < b.len() && m * n <= c.len());
    let work = m.saturating_mul(k).saturating_mul(n);
    let threads = if cfg!(target_arch = "wasm32") || work < PAR_MIN_MACS {
        1
    } else {
        threads.min(m.max(n).div_ceil(16)).max(1)
    };
    let (ap, bp) = (a.as_ptr() as usize, b.as_ptr() as usize);
    if threads == 1 {
        // SAFETY: the assert above proves every strided access is in bounds.
        unsafe {
            raw_sgemm(
                m,
                k,
                n,
                alpha,
                a.as_ptr(),
                (rsa, csa),
                b.as_ptr(),
                (rsb, csb),
                beta,
                c.as_mut_ptr(),
                n,
            )
        };
        return;
    }
    if m >= n {
        // Row blocks of C are contiguous: safe disjoint chunks.
        let rows = m.div_ceil(threads).next_multiple_of(8);
        std::thread::scope(|s| {
            let mut chunks = c[..m * n].chunks_mut(rows * n).enumerate();
            let first = chunks.next();
            for (t, cc) in chunks {
                s.spawn(move || {
                    let r0 = t * rows;
                    let mr = cc.len() / n;
                    // SAFETY: rows r0..r0+mr of A are in bounds (assert above).
                    unsafe {
                        raw_sgemm(
                            mr,
                            k,
                            n,
                            alpha,
                            (ap as *const f32).add(r0 * rsa),
                            (rsa, csa),
                            bp as *const f32,
                            (rsb, csb),
                            beta,
                            cc.as_mut_ptr(),
                            n,
                        )
                    };
                });
            }
            if let Some((_, cc)) = first {
                let mr = cc.len() / n;
                // SAFETY: as above, for rows 0..mr.
                unsafe {
                    raw_sgemm(
                        mr,
                        k,
                        n,
                        alpha,
                        ap as *const f32,
                        (rsa, csa),
                        bp as *const f32,
                        (rsb, csb),
                        beta,
                        cc.as_mut_ptr(),
                        n,
                    )
                };
            }
        });
    } else {
        let cols = n.div_ceil(threads).next_multiple_of(16);
        let out = SharedOut(c.as_mut_ptr());
        std::thread::scope(|s| {
            let work = move |c0: usize| {
                let nc = cols.min(n - c0);
                let out = out;
                // SAFETY: columns c0..c0+nc of B and C are in bounds; each
                // worker owns a disjoint column range of C.
                unsafe {
                    raw_sgemm(
                        m,
                        k,
                        nc,
                        alpha,
                        ap as *const f32,
                        (rsa, csa),
                        (bp as *const f32).add(c0 * csb),
                        (rsb, csb),
                        beta,
                        out.0.add(c0),
                        n,
                    )
                };
            };
            for c0 in (cols..n).step_by(cols) {
                s.spawn(move || work(c0));
            }
            work(0);
        });
    }
}

pub fn matmul(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let a = req(node, ins, 0)?;
    let b = req(node, ins, 1)?;
    let (av, bv) = (a.f32s("MatMul")?, b.f32s("MatMul")?);
    if a.rank() == 0 || b.rank() == 0 {
        return Err(Error::op("MatMul", "scalar operand"));
    }
    let mut ash = a.shape.clone();
    let mut bsh = b.shape.clone();
    let a1 = ash.len() == 1;
    let b1 = bsh.len() == 1;
    if a1 {
        ash.insert(0, 1);
    }
    if b1 {
        bsh.push(1);
    }
    let (m, k) = (ash[ash.len() - 2], ash[ash.len() - 1]);
    let (k2, n) = (bsh[bsh.len() - 2], bsh[bsh.len() - 1]);
    if k != k2 {
        return Err(Error::op(
            "MatMul",
            format!("inner dims differ: {:?} x {:?}", a.shape, b.shape),
        ));
    }
    let abatch = &ash[..ash.len() - 2];
    let bbatch = &bsh[..bsh.len() - 2];
    let batch = broadcast_shapes("MatMul", &[abatch, bbatch])?;
    let mut out = batch.clone();
    out.extend([m, n]);
    ctx.limits.check_shape(&out, 4)?;
    let mut c = vec![0.0f32; numel(&out)];
    let sa = broadcast_strides(abatch, &batch);
    let sb = broadcast_strides(bbatch, &batch);
    let mut bi = 0;
    for_each_index(&batch, [&sa, &sb], |[i, j]| {
        let (ao, bo) = (i * m * k, j * k * n);
        par_sgemm(
            ctx.threads,
            m,
            k,
            n,
            1.0,
            &av[ao..ao + m * k],
            (k, 1),
            &bv[bo..bo + k * n],
            (n, 1),
            0.0,
            &mut c[bi * m * n..(bi + 1) * m * n],
        );
        bi += 1;
    });
    if a1 {
        out.remove(out.len() - 2);
    }
    if b1 {
        out.pop();
    }
    Ok(vec![Tensor::new(out, Data::F32(c))?])
}

/// `bazaar::MatMulAdd(A, W, b)` = MatMul(A, W) + b, bias added in place.
pub fn matmul_add(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let mut out = matmul(ctx, node, ins)?;
    let b = req(node, ins, 2)?.f32s("MatMulAdd")?;
    let t = &mut out[0];
    let n = t.shape.last().copied().unwrap_or(0);
    if b.len() != n {
        return Err(Error::op(
            "MatMulAdd",
            "bias length differs from output columns",
        ));
    }
    if let Data::F32(v) = &mut t.data {
        for row in v.chunks_mut(n.max(1)) {
            row.iter_mut().zip(b).for_each(|(x, &y)| *x += y);
        }
    }
    Ok(out)
}

pub fn gemm(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let a = req(node, ins, 0)?;
    let b = req(node, ins, 1)?;
    if a.rank() != 2 || b.rank() != 2 {
        return Err(Error::op("Gemm", "A and B must be 2-D"));
    }
    let ta = node.attr_i("transA", 0)? != 0;
    let tb = node.attr_i("transB", 0)? != 0;
    let alpha = node.attr_f("alpha", 1.0)?;
    let beta = node.attr_f("beta", 1.0)?;
    let (m, k) = if ta {
        (a.shape[1], a.shape[0])
    } else {
        (a.shape[0], a.shape[1])
    };
    let (k2, n) = if tb {
        (b.shape[1], b.shape[0])
    } else {
        (b.shape[0], b.shape[1])
    };
    if k != k2 {
        return Err(Error::op("Gemm", "inner dimensions differ"));
    }
    ctx.limits.check_shape(&[m, n], 4)?;
    let mut c = match opt(ins, 2) {
        Some(ct) if beta != 0.0 => {
            let sh = broadcast_shapes("Gemm", &[&ct.shape, &[m, n]])?;
            if sh != [m, n] {
                return Err(Error::op("Gemm", "C does not broadcast to [M, N]"));
            }
            super::broadcast::broadcast_to(ct.f32s("Gemm")?, &ct.shape, &[m, n])
        }
        _ => vec![0.0; m * n],
    };
    let sa = if ta { (1, m) } else { (k, 1) };
    let sb = if tb { (1, k) } else { (n, 1) };
    par_sgemm(
        ctx.threads,
        m,
        k,
        n,
        alpha,
        a.f32s("Gemm")?,
        sa,
        b.f32s("Gemm")?,
        sb,
        beta,
        &mut c,
    );
    Ok(vec![Tensor::new(vec![m, n], Data::F32(c))?])
}

/// General Einsum by explicit index enumeration (fine for the operand
/// sizes Einsum sees in practice; bounded by the tensor budget).
pub fn einsum(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let eq: String = node
        .attr_s("equation", "")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let ts: Vec<&Tensor> = ins.iter().flatten().copied().collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != ts.len() || eq.contains("...") {
        return Err(Error::Unsupported(
            "Einsum with ellipsis or operand mismatch".into(),
        ));
    }
    let mut dims: Vec<(char, usize)> = Vec::new();
    for (t, x) in terms.iter().zip(&ts) {
        if t.chars().count() != x.rank() {
            return Err(Error::op("Einsum", "term rank mismatch"));
        }
        for (c, &d) in t.chars().zip(&x.shape) {
            match dims.iter().find(|(l, _)| *l == c) {
                Some(&(_, e)) if e != d => return Err(Error::op("Einsum", "dimension mismatch")),
                Some(_) => {}
                None => dims.push((c, d)),
            }
        }
    }
    let out_labels: Vec<char> = match rhs {
        Some(r) => r.chars().collect(),
        None => {
            // Implicit mode: labels appearing once, alphabetically.
            let mut v: Vec<char> = dims
                .iter()
                .map(|d| d.0)
                .filter(|c| lhs.matches(*c).count() == 1)
                .collect();
            v.sort_unstable();
            v
        }
    };
    let pos = |c: char| dims.iter().position(|d| d.0 == c);
    let out_shape: Vec<usize> = out_labels
        .iter()
        .map(|&c| {
            pos(c)
                .map(|p| dims[p].1)
                .ok_or_else(|| Error::op("Einsum", "unknown output label"))
        })
        .collect::<Result<_>>()?;
    ctx.limits.check_shape(&out_shape, 4)?;
    let all: Vec<usize> = dims.iter().map(|d| d.1).collect();
    if all
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none_or(|n| n > ctx.limits.max_tensor_bytes)
    {
        return Err(Error::Limit("Einsum iteration space too large".into()));
    }
    let vals: Vec<Vec<f64>> = ts.iter().map(|t| t.to_f64s()).collect();
    let strides: Vec<Vec<usize>> = terms
        .iter()
        .zip(&ts)
        .map(|(t, x)| {
            let st = super::shape::strides(&x.shape);
            let mut s = vec![0usize; dims.len()];
            for (c, &v) in t.chars().zip(&st) {
                if let Some(p) = pos(c) {
                    s[p] += v;
                }
            }
            s
        })
        .collect();
    let ost = super::shape::strides(&out_shape);
    let mut os = vec![0usize; dims.len()];
    for (&c, &v) in out_labels.iter().zip(&ost) {
        if let Some(p) = pos(c) {
            os[p] = v;
        }
    }
    let mut out = vec![0.0f64; numel(&out_shape)];
    super::shape::for_each_multi(&all, |m| {
        let mut prod = 1.0;
        for (v, s) in vals.iter().zip(&strides) {
            prod *= v[m.iter().zip(s).map(|(i, s)| i * s).sum::<usize>()];
        }
        out[m.iter().zip(&os).map(|(i, s)| i * s).sum::<usize>()] += prod;
    });
    let t = Tensor::new(out_shape, Data::F64(out))?;
    Ok(vec![super::misc::cast_tensor(
        &t,
        ts.first()
            .map_or(crate::tensor::DataType::F32, |t| t.dtype()),
    )])
}
