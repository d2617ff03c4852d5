//! MatMul, Gemm and Einsum. Dense products go through `matrixmultiply`,
//! whose arbitrary strides give transposes for free.

use super::broadcast::{broadcast_shapes, broadcast_strides, for_each_index};
use super::{opt, req, Ctx};
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::{numel, Data, Tensor};

/// C[m,n] = alpha * A[m,k] * B[k,n] + beta * C, with element strides.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
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
        c.iter_mut().for_each(|x| *x *= beta);
        return;
    }
    let last = |r: usize, rs: usize, cols: usize, cs: usize| (r - 1) * rs + (cols - 1) * cs;
    assert!(last(m, rsa, k, csa) < a.len() && last(k, rsb, n, csb) < b.len() && m * n <= c.len());
    // SAFETY: the assert above proves every strided access is in bounds.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
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
        sgemm(
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
    sgemm(
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
