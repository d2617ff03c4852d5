//! Shape and data-movement operators. Most are expressed as "compute the
//! source index of every output element, then gather", which works for
//! every element type through one generic path.

use super::broadcast::{broadcast_shapes, broadcast_strides};
use super::{opt, req, Ctx};
use crate::error::{Error, Result};
use crate::map_data;
use crate::model::{Attr, Node};
use crate::tensor::{numel, Data, DataType, Tensor};

/// Resolves a possibly negative axis against `rank`.
pub(crate) fn norm_axis(op: &str, axis: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(Error::op(
            op,
            format!("axis {axis} out of range for rank {rank}"),
        ));
    }
    Ok(a as usize)
}

/// Row-major strides.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Gathers `data[idx[k]]` for every k.
pub(crate) fn take(data: &Data, idx: &[usize]) -> Data {
    map_data!(data, v => idx.iter().map(|&i| &v[i]).cloned().collect())
}

/// Source indices of an affine view: offset + sum(i_d * stride_d).
pub(crate) fn affine_indices(out: &[usize], strides: &[i64], offset: i64) -> Vec<usize> {
    let n = numel(out);
    let mut res = Vec::with_capacity(n);
    if n == 0 {
        return res;
    }
    let r = out.len();
    let mut idx = vec![0usize; r];
    let mut cur = offset;
    for _ in 0..n {
        res.push(cur as usize);
        for d in (0..r).rev() {
            idx[d] += 1;
            cur += strides[d];
            if idx[d] < out[d] {
                break;
            }
            cur -= strides[d] * out[d] as i64;
            idx[d] = 0;
        }
    }
    res
}

/// Calls `f` with every multi-index of `shape` in row-major order.
pub(crate) fn for_each_multi(shape: &[usize], mut f: impl FnMut(&[usize])) {
    let n = numel(shape);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        f(&idx);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

fn with_shape(t: &Tensor, shape: Vec<usize>) -> Result<Tensor> {
    Tensor::new(shape, t.data.clone())
}

/// Integer list from an optional input, falling back to an attribute
/// (operators moved attributes to inputs across opsets).
fn ints_from(
    node: &Node,
    ins: &[Option<&Tensor>],
    i: usize,
    attr: &str,
) -> Result<Option<Vec<i64>>> {
    match opt(ins, i) {
        Some(t) => Ok(Some(t.to_i64s(&node.op_type)?)),
        None => node.attr_ints(attr),
    }
}

pub fn identity(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    if node.op_type == "Dropout" {
        if let Some(t) = opt(ins, 2) {
            if matches!(&t.data, Data::Bool(v) if v.first() == Some(&true)) {
                return Err(Error::Unsupported("Dropout in training mode".into()));
            }
        }
        let mask = Tensor::new(x.shape.clone(), Data::Bool(vec![true; x.len()]))?;
        return Ok(vec![x.clone(), mask]);
    }
    Ok(vec![x.clone()])
}

pub fn reshape(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let spec = if ctx.opset < 5 {
        node.attr_ints("shape")?.unwrap_or_default()
    } else {
        req(node, ins, 1)?.to_i64s("Reshape")?
    };
    let allowzero = node.attr_i("allowzero", 0)? != 0;
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        out.push(match d {
            0 if !allowzero => *x
                .shape
                .get(i)
                .ok_or_else(|| Error::op("Reshape", "0 refers past the input rank"))?,
            -1 if infer.is_none() => {
                infer = Some(i);
                1
            }
            d if d >= 0 => d as usize,
            _ => return Err(Error::op("Reshape", format!("invalid shape {spec:?}"))),
        });
    }
    if let Some(i) = infer {
        let known = numel(&out);
        if known == 0 || x.len() % known != 0 {
            return Err(Error::op(
                "Reshape",
                format!("cannot infer -1 in {spec:?} for {:?}", x.shape),
            ));
        }
        out[i] = x.len() / known;
    }
    if numel(&out) != x.len() {
        return Err(Error::op(
            "Reshape",
            format!("{:?} cannot become {spec:?}", x.shape),
        ));
    }
    Ok(vec![with_shape(x, out)?])
}

pub fn flatten(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let r = x.rank() as i64;
    let mut axis = node.attr_i("axis", 1)?;
    if axis < 0 {
        axis += r;
    }
    if axis < 0 || axis > r {
        return Err(Error::op("Flatten", "axis out of range"));
    }
    let a = axis as usize;
    let outer = numel(&x.shape[..a]);
    let inner = numel(&x.shape[a..]);
    Ok(vec![with_shape(x, vec![outer, inner])?])
}

pub fn squeeze(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let axes = if ctx.opset >= 13 {
        ints_from(node, ins, 1, "axes")?
    } else {
        node.attr_ints("axes")?
    };
    let out: Vec<usize> = match axes {
        None => x.shape.iter().copied().filter(|&d| d != 1).collect(),
        Some(axes) => {
            let ax = axes
                .iter()
                .map(|&a| norm_axis("Squeeze", a, x.rank()))
                .collect::<Result<Vec<_>>>()?;
            if ax.iter().any(|&a| x.shape[a] != 1) {
                return Err(Error::op("Squeeze", "squeezed axis is not 1"));
            }
            x.shape
                .iter()
                .enumerate()
                .filter(|(i, _)| !ax.contains(i))
                .map(|(_, &d)| d)
                .collect()
        }
    };
    Ok(vec![with_shape(x, out)?])
}

pub fn unsqueeze(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let axes = if ctx.opset >= 13 {
        ints_from(node, ins, 1, "axes")?
    } else {
        node.attr_ints("axes")?
    }
    .ok_or_else(|| Error::op("Unsqueeze", "missing axes"))?;
    let r = x.rank() + axes.len();
    let mut ax = axes
        .iter()
        .map(|&a| norm_axis("Unsqueeze", a, r))
        .collect::<Result<Vec<_>>>()?;
    ax.sort_unstable();
    if ax.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::op("Unsqueeze", "duplicate axes"));
    }
    let mut src = x.shape.iter();
    let out = (0..r)
        .map(|i| {
            if ax.contains(&i) {
                1
            } else {
                src.next().copied().unwrap_or(1)
            }
        })
        .collect();
    Ok(vec![with_shape(x, out)?])
}

pub(crate) fn transpose_tensor(x: &Tensor, perm: &[usize]) -> Tensor {
    let st = strides(&x.shape);
    let out: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let ps: Vec<i64> = perm.iter().map(|&p| st[p] as i64).collect();
    let idx = affine_indices(&out, &ps, 0);
    Tensor {
        shape: out,
        data: take(&x.data, &idx),
    }
}

pub fn transpose(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let r = x.rank();
    let perm: Vec<usize> = match node.attr_ints("perm")? {
        Some(p) => p
            .iter()
            .map(|&a| norm_axis("Transpose", a, r))
            .collect::<Result<_>>()?,
        None => (0..r).rev().collect(),
    };
    let mut seen = vec![false; r];
    if perm.len() != r || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true)) {
        return Err(Error::op("Transpose", format!("invalid perm {perm:?}")));
    }
    Ok(vec![transpose_tensor(x, &perm)])
}

pub fn concat(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let ts: Vec<&Tensor> = ins.iter().flatten().copied().collect();
    let first = *ts.first().ok_or_else(|| Error::op("Concat", "no inputs"))?;
    let axis = norm_axis("Concat", node.attr_i("axis", 0)?, first.rank())?;
    let mut out = first.shape.clone();
    out[axis] = 0;
    for t in &ts {
        if t.rank() != first.rank()
            || t.dtype() != first.dtype()
            || t.shape
                .iter()
                .enumerate()
                .any(|(i, &d)| i != axis && d != first.shape[i])
        {
            return Err(Error::op("Concat", "inputs do not match"));
        }
        out[axis] += t.shape[axis];
    }
    ctx.limits.check_shape(&out, first.dtype().size())?;
    let outer = numel(&first.shape[..axis]);
    let chunks: Vec<usize> = ts.iter().map(|t| numel(&t.shape[axis..])).collect();
    macro_rules! cat {
        ($var:ident) => {{
            let parts: Vec<&Vec<_>> = ts
                .iter()
                .map(|t| match &t.data {
                    Data::$var(v) => v,
                    _ => unreachable!("dtypes checked above"),
                })
                .collect();
            let mut v = Vec::with_capacity(numel(&out));
            for o in 0..outer {
                for (p, &c) in parts.iter().zip(&chunks) {
                    v.extend_from_slice(&p[o * c..(o + 1) * c]);
                }
            }
            Data::$var(v)
        }};
    }
    let data = match first.dtype() {
        DataType::F32 => cat!(F32),
        DataType::F64 => cat!(F64),
        DataType::I64 => cat!(I64),
        DataType::I32 => cat!(I32),
        DataType::I8 => cat!(I8),
        DataType::U8 => cat!(U8),
        DataType::I16 => cat!(I16),
        DataType::U16 => cat!(U16),
        DataType::F16 => cat!(F16),
        DataType::BF16 => cat!(BF16),
        DataType::Bool => cat!(Bool),
        DataType::String => cat!(String),
    };
    Ok(vec![Tensor::new(out, data)?])
}

/// Extracts `[lo, hi)` along `axis`.
pub(crate) fn narrow(x: &Tensor, axis: usize, lo: usize, hi: usize) -> Tensor {
    let mut out = x.shape.clone();
    out[axis] = hi - lo;
    let st = strides(&x.shape);
    let s: Vec<i64> = st.iter().map(|&v| v as i64).collect();
    let idx = affine_indices(&out, &s, (lo * st[axis]) as i64);
    Tensor {
        shape: out,
        data: take(&x.data, &idx),
    }
}

pub fn split(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let axis = norm_axis("Split", node.attr_i("axis", 0)?, x.rank())?;
    let n_out = node.outputs.len();
    let dim = x.shape[axis];
    let sizes: Vec<usize> = match if ctx.opset >= 13 {
        ints_from(node, ins, 1, "split")?
    } else {
        node.attr_ints("split")?
    } {
        Some(s) => s
            .iter()
            .map(|&v| usize::try_from(v).map_err(|_| Error::op("Split", "negative split")))
            .collect::<Result<_>>()?,
        None => {
            let parts = node.attr_i("num_outputs", n_out as i64)?;
            if parts < 1 || parts as usize != n_out {
                return Err(Error::op(
                    "Split",
                    "num_outputs must equal the number of outputs",
                ));
            }
            let parts = parts as usize;
            let chunk = dim.div_ceil(parts);
            (0..parts)
                .map(|i| chunk.min(dim.saturating_sub(i * chunk)))
                .collect()
        }
    };
    if sizes.iter().sum::<usize>() != dim {
        return Err(Error::op(
            "Split",
            format!("sizes {sizes:?} do not sum to {dim}"),
        ));
    }
    let mut lo = 0;
    Ok(sizes
        .iter()
        .map(|&s| {
            let t = narrow(x, axis, lo, lo + s);
            lo += s;
            t
        })
        .collect())
}

pub fn slice(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let (starts, ends, axes, steps) = if ctx.opset < 10 {
        (
            node.attr_ints("starts")?.unwrap_or_default(),
            node.attr_ints("ends")?.unwrap_or_default(),
            node.attr_ints("axes")?,
            None,
        )
    } else {
        (
            req(node, ins, 1)?.to_i64s("Slice")?,
            req(node, ins, 2)?.to_i64s("Slice")?,
            opt(ins, 3).map(|t| t.to_i64s("Slice")).transpose()?,
            opt(ins, 4).map(|t| t.to_i64s("Slice")).transpose()?,
        )
    };
    let r = x.rank();
    let axes: Vec<usize> = match axes {
        Some(a) => a
            .iter()
            .map(|&a| norm_axis("Slice", a, r))
            .collect::<Result<_>>()?,
        None => (0..starts.len()).collect(),
    };
    if ends.len() != starts.len() || axes.len() != starts.len() {
        return Err(Error::op("Slice", "starts/ends/axes lengths differ"));
    }
    if axes.iter().any(|&a| a >= r) {
        return Err(Error::op("Slice", "more axes than the input has"));
    }
    let st = strides(&x.shape);
    let mut out = x.shape.clone();
    let mut step_of: Vec<i64> = vec![1; r];
    let mut offset: i64 = 0;
    let mut begin = vec![0i64; r];
    for (k, &ax) in axes.iter().enumerate() {
        let step = steps.as_ref().map_or(1, |s| s.get(k).copied().unwrap_or(1));
        if step == 0 {
            return Err(Error::op("Slice", "step is 0"));
        }
        let d = x.shape[ax] as i64;
        let fix = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (s, e) = (fix(starts[k]), fix(ends[k]));
        let (s, e) = if d == 0 {
            (0, 0)
        } else if step > 0 {
            (s.clamp(0, d), e.clamp(0, d))
        } else {
            (s.clamp(0, d - 1), e.clamp(-1, d - 1))
        };
        let len = if step > 0 {
            (e - s).max(0)
        } else {
            (s - e).max(0)
        };
        // ceil(len / |step|) without overflow for |step| up to 2^63.
        let n = if len == 0 {
            0
        } else {
            (len as u64 - 1) / step.unsigned_abs() + 1
        };
        out[ax] = n as usize;
        // With at most one element the step is never applied; keeping it
        // out of the stride product avoids overflow for huge steps.
        step_of[ax] = if n > 1 { step } else { 1 };
        begin[ax] = s;
    }
    let mut ps = vec![0i64; r];
    for d in 0..r {
        ps[d] = st[d] as i64 * step_of[d];
        if out[d] > 0 {
            offset += begin[d] * st[d] as i64;
        }
    }
    let idx = affine_indices(&out, &ps, offset);
    Ok(vec![Tensor::new(out, take(&x.data, &idx))?])
}

fn index(op: &str, i: i64, dim: usize) -> Result<usize> {
    let j = if i < 0 { i + dim as i64 } else { i };
    if j < 0 || j >= dim as i64 {
        return Err(Error::op(op, format!("index {i} out of bounds for {dim}")));
    }
    Ok(j as usize)
}

pub fn gather(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let ind = req(node, ins, 1)?;
    let axis = norm_axis("Gather", node.attr_i("axis", 0)?, x.rank())?;
    let iv = ind.to_i64s("Gather")?;
    let mut out: Vec<usize> = x.shape[..axis].to_vec();
    out.extend_from_slice(&ind.shape);
    out.extend_from_slice(&x.shape[axis + 1..]);
    ctx.limits.check_shape(&out, x.dtype().size())?;
    let outer = numel(&x.shape[..axis]);
    let inner = numel(&x.shape[axis + 1..]);
    let dim = x.shape[axis];
    let iv = iv
        .iter()
        .map(|&i| index("Gather", i, dim))
        .collect::<Result<Vec<_>>>()?;
    let mut idx = Vec::with_capacity(numel(&out));
    for o in 0..outer {
        for &i in &iv {
            let base = (o * dim + i) * inner;
            idx.extend(base..base + inner);
        }
    }
    Ok(vec![Tensor::new(out, take(&x.data, &idx))?])
}

pub fn gather_elements(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let ind = req(node, ins, 1)?;
    let axis = norm_axis("GatherElements", node.attr_i("axis", 0)?, x.rank())?;
    if ind.rank() != x.rank() {
        return Err(Error::op("GatherElements", "rank mismatch"));
    }
    let iv = ind.to_i64s("GatherElements")?;
    let st = strides(&x.shape);
    let mut idx = Vec::with_capacity(iv.len());
    let mut err = None;
    let mut k = 0;
    for_each_multi(&ind.shape, |m| {
        let mut off = 0;
        for d in 0..m.len() {
            let c = if d == axis {
                match index("GatherElements", iv[k], x.shape[axis]) {
                    Ok(c) => c,
                    Err(e) => {
                        err = Some(e);
                        0
                    }
                }
            } else {
                m[d].min(x.shape[d].saturating_sub(1))
            };
            off += c * st[d];
        }
        idx.push(off);
        k += 1;
    });
    if let Some(e) = err {
        return Err(e);
    }
    if x.is_empty() && !idx.is_empty() {
        return Err(Error::op("GatherElements", "gather from empty tensor"));
    }
    Ok(vec![Tensor::new(ind.shape.clone(), take(&x.data, &idx))?])
}

pub fn gather_nd(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let ind = req(node, ins, 1)?;
    let b = node.attr_i("batch_dims", 0)?.max(0) as usize;
    let iv = ind.to_i64s("GatherND")?;
    let q = ind.rank();
    let k = *ind
        .shape
        .last()
        .ok_or_else(|| Error::op("GatherND", "scalar indices"))?;
    if b >= q || b + k > x.rank() {
        return Err(Error::op("GatherND", "index depth exceeds data rank"));
    }
    let st = strides(&x.shape);
    let inner = numel(&x.shape[b + k..]);
    let batch = numel(&x.shape[..b]);
    let per_batch = numel(&ind.shape[b..q - 1]);
    if ind.shape[..b] != x.shape[..b] || iv.len() != batch * per_batch * k {
        return Err(Error::op(
            "GatherND",
            "batch dimensions of data and indices differ",
        ));
    }
    let mut out_shape = ind.shape[..q - 1].to_vec();
    out_shape.extend_from_slice(&x.shape[b + k..]);
    ctx.limits.check_shape(&out_shape, x.dtype().size())?;
    let mut idx = Vec::new();
    for bi in 0..batch {
        for j in 0..per_batch {
            let t = &iv[(bi * per_batch + j) * k..(bi * per_batch + j + 1) * k];
            let mut off = bi * if b > 0 { st[b - 1] } else { 0 };
            for (d, &i) in t.iter().enumerate() {
                off += index("GatherND", i, x.shape[b + d])? * st[b + d];
            }
            idx.extend(off..off + inner);
        }
    }
    let mut out = ind.shape[..q - 1].to_vec();
    out.extend_from_slice(&x.shape[b + k..]);
    Ok(vec![Tensor::new(out, take(&x.data, &idx))?])
}

/// Applies `updates` onto a copy of `x` at linear `targets`.
fn scatter_into(
    op: &str,
    x: &Tensor,
    upd: &Tensor,
    targets: &[usize],
    reduction: &str,
) -> Result<Tensor> {
    let mut data = x.data.clone();
    macro_rules! go {
        ($dst:expr, $src:expr) => {{
            for (&t, &u) in targets.iter().zip($src.iter()) {
                let d = &mut $dst[t];
                *d = match reduction {
                    "add" => *d + u,
                    "mul" => *d * u,
                    "max" => {
                        if u > *d {
                            u
                        } else {
                            *d
                        }
                    }
                    "min" => {
                        if u < *d {
                            u
                        } else {
                            *d
                        }
                    }
                    _ => u,
                };
            }
        }};
    }
    match (&mut data, &upd.data) {
        (Data::F32(d), Data::F32(s)) => go!(d, s),
        (Data::I64(d), Data::I64(s)) => go!(d, s),
        (Data::I32(d), Data::I32(s)) => go!(d, s),
        _ => return Err(Error::unsup(op, "unsupported type combination")),
    }
    Tensor::new(x.shape.clone(), data)
}

pub fn scatter_elements(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let ind = req(node, ins, 1)?;
    let upd = req(node, ins, 2)?;
    let axis = norm_axis("ScatterElements", node.attr_i("axis", 0)?, x.rank())?;
    if ind.shape != upd.shape || ind.rank() != x.rank() {
        return Err(Error::op("ScatterElements", "shape mismatch"));
    }
    let iv = ind.to_i64s("ScatterElements")?;
    let st = strides(&x.shape);
    let mut targets = Vec::with_capacity(iv.len());
    let mut err = None;
    let mut k = 0;
    for_each_multi(&ind.shape, |m| {
        let mut off = 0;
        for d in 0..m.len() {
            let c = if d == axis {
                index("ScatterElements", iv[k], x.shape[axis]).unwrap_or_else(|e| {
                    err = Some(e);
                    0
                })
            } else if m[d] < x.shape[d] {
                m[d]
            } else {
                err = Some(Error::op("ScatterElements", "indices exceed data"));
                0
            };
            off += c * st[d];
        }
        targets.push(off);
        k += 1;
    });
    if let Some(e) = err {
        return Err(e);
    }
    let red = node.attr_s("reduction", "none")?;
    Ok(vec![scatter_into(
        "ScatterElements",
        x,
        upd,
        &targets,
        &red,
    )?])
}

pub fn scatter_nd(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let ind = req(node, ins, 1)?;
    let upd = req(node, ins, 2)?;
    let iv = ind.to_i64s("ScatterND")?;
    let k = *ind
        .shape
        .last()
        .ok_or_else(|| Error::op("ScatterND", "scalar indices"))?;
    if k > x.rank() {
        return Err(Error::op("ScatterND", "index depth exceeds rank"));
    }
    let st = strides(&x.shape);
    let inner = numel(&x.shape[k..]);
    let tuples = iv.len().checked_div(k).unwrap_or(1);
    if tuples.checked_mul(inner) != Some(upd.len()) {
        return Err(Error::op("ScatterND", "updates shape mismatch"));
    }
    let mut targets = Vec::with_capacity(upd.len());
    for t in iv.chunks(k.max(1)) {
        let mut off = 0;
        for (d, &i) in t.iter().enumerate().take(k) {
            off += index("ScatterND", i, x.shape[d])? * st[d];
        }
        targets.extend(off..off + inner);
    }
    if targets.len() != upd.len() {
        return Err(Error::op("ScatterND", "updates shape mismatch"));
    }
    let red = node.attr_s("reduction", "none")?;
    Ok(vec![scatter_into("ScatterND", x, upd, &targets, &red)?])
}

pub fn expand(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let s = req(node, ins, 1)?.to_i64s("Expand")?;
    let s: Vec<usize> = s
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| Error::op("Expand", "negative dimension")))
        .collect::<Result<_>>()?;
    let out = broadcast_shapes("Expand", &[&x.shape, &s])?;
    ctx.limits.check_shape(&out, x.dtype().size())?;
    let bs: Vec<i64> = broadcast_strides(&x.shape, &out)
        .iter()
        .map(|&v| v as i64)
        .collect();
    let idx = affine_indices(&out, &bs, 0);
    Ok(vec![Tensor::new(out, take(&x.data, &idx))?])
}

pub fn tile(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let reps = req(node, ins, 1)?.to_i64s("Tile")?;
    if reps.len() != x.rank() || reps.iter().any(|&r| r < 0) {
        return Err(Error::op(
            "Tile",
            "repeats must be non-negative, one per axis",
        ));
    }
    let mut out = Vec::with_capacity(x.rank());
    for (&d, &r) in x.shape.iter().zip(&reps) {
        out.push(
            d.checked_mul(r as usize)
                .ok_or_else(|| Error::Limit("Tile overflow".into()))?,
        );
    }
    ctx.limits.check_shape(&out, x.dtype().size())?;
    let st = strides(&x.shape);
    let mut idx = Vec::with_capacity(numel(&out));
    for_each_multi(&out, |m| {
        idx.push(
            m.iter()
                .zip(&x.shape)
                .zip(&st)
                .map(|((&i, &d), &s)| (i % d) * s)
                .sum(),
        );
    });
    Ok(vec![Tensor::new(out, take(&x.data, &idx))?])
}

pub fn pad(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let r = x.rank();
    let (pads, cval) = if ctx.opset < 11 {
        (
            node.attr_ints("pads")?.unwrap_or_default(),
            node.attr_f("value", 0.0)? as f64,
        )
    } else {
        (
            req(node, ins, 1)?.to_i64s("Pad")?,
            opt(ins, 2)
                .and_then(|t| t.to_f64s().first().copied())
                .unwrap_or(0.0),
        )
    };
    let axes: Vec<usize> = match opt(ins, 3) {
        Some(t) => t
            .to_i64s("Pad")?
            .iter()
            .map(|&a| norm_axis("Pad", a, r))
            .collect::<Result<_>>()?,
        None => (0..r).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(Error::op("Pad", "pads length must be twice the axes count"));
    }
    let mut before = vec![0i64; r];
    let mut after = vec![0i64; r];
    for (k, &a) in axes.iter().enumerate() {
        before[a] = pads[k];
        after[a] = pads[k + axes.len()];
    }
    let mut out = Vec::with_capacity(r);
    for d in 0..r {
        let n = x.shape[d] as i64 + before[d] + after[d];
        if n < 0 {
            return Err(Error::op("Pad", "negative output dimension"));
        }
        out.push(n as usize);
    }
    ctx.limits.check_shape(&out, x.dtype().size())?;
    let mode = node.attr_s("mode", "constant")?;
    if mode != "constant" && x.is_empty() && numel(&out) > 0 {
        return Err(Error::op("Pad", "cannot reflect/edge-pad an empty tensor"));
    }
    let st = strides(&x.shape);
    let mut idx = Vec::with_capacity(numel(&out));
    for_each_multi(&out, |m| {
        let mut off = 0usize;
        for d in 0..r {
            let n = x.shape[d] as i64;
            let mut i = m[d] as i64 - before[d];
            if i < 0 || i >= n {
                i = match mode.as_str() {
                    "edge" => i.clamp(0, n - 1),
                    "wrap" => i.rem_euclid(n),
                    "reflect" if n > 1 => {
                        let p = 2 * (n - 1);
                        let j = i.rem_euclid(p);
                        if j >= n {
                            p - j
                        } else {
                            j
                        }
                    }
                    "reflect" => 0,
                    _ => {
                        off = usize::MAX;
                        break;
                    }
                };
            }
            off += i as usize * st[d];
        }
        idx.push(off);
    });
    // Padding cells point one past the data, where the fill value sits.
    let n = x.len();
    idx.iter_mut()
        .filter(|i| **i == usize::MAX)
        .for_each(|i| *i = n);
    let data = take(&append(&x.data, &cast_scalar(cval, x.dtype())), &idx);
    Ok(vec![Tensor::new(out, data)?])
}

/// Concatenates two buffers of the same type (a's type wins otherwise).
fn append(a: &Data, b: &Data) -> Data {
    macro_rules! cat {
        ($($var:ident),*) => {
            match (a, b) {
                $((Data::$var(x), Data::$var(y)) => Data::$var(x.iter().chain(y).cloned().collect()),)*
                _ => a.clone(),
            }
        };
    }
    cat!(F32, F64, I64, I32, I8, U8, I16, U16, F16, BF16, Bool, String)
}

/// A one-element `Data` of `dtype` holding `v`.
pub(crate) fn cast_scalar(v: f64, dtype: DataType) -> Data {
    match dtype {
        DataType::F32 => Data::F32(vec![v as f32]),
        DataType::F64 => Data::F64(vec![v]),
        DataType::I64 => Data::I64(vec![v as i64]),
        DataType::I32 => Data::I32(vec![v as i32]),
        DataType::I8 => Data::I8(vec![v as i8]),
        DataType::U8 => Data::U8(vec![v as u8]),
        DataType::I16 => Data::I16(vec![v as i16]),
        DataType::U16 => Data::U16(vec![v as u16]),
        DataType::F16 => Data::F16(vec![crate::half::f64_to_f16(v)]),
        DataType::BF16 => Data::BF16(vec![crate::half::f64_to_bf16(v)]),
        DataType::Bool => Data::Bool(vec![v != 0.0]),
        DataType::String => Data::String(vec![v.to_string()]),
    }
}

pub fn shape_op(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let r = x.rank() as i64;
    let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let s = clampi(node.attr_i("start", 0)?);
    let e = clampi(node.attr_i("end", r)?);
    let dims: Vec<i64> = x.shape[s..e.max(s)].iter().map(|&d| d as i64).collect();
    Ok(vec![Tensor::from_i64(vec![dims.len()], dims)?])
}

pub fn size(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    Ok(vec![Tensor::from_i64(vec![], vec![x.len() as i64])?])
}

pub fn constant_of_shape(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let s = req(node, ins, 0)?.to_i64s("ConstantOfShape")?;
    let value = match node.attr("value") {
        Some(Attr::Tensor(t)) if t.len() == 1 => t.clone(),
        None => Tensor::scalar_f32(0.0),
        _ => {
            return Err(Error::op(
                "ConstantOfShape",
                "value must be a one-element tensor",
            ))
        }
    };
    let shape = ctx.limits.check_dims(&s, value.dtype().size())?;
    let n = numel(&shape);
    let data = map_data!(&value.data, v => std::iter::repeat_n(&v[0], n).cloned().collect());
    Ok(vec![Tensor::new(shape, data)?])
}

pub fn constant(_ctx: &Ctx, node: &Node, _ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let (name, a) = node
        .attrs
        .first()
        .ok_or_else(|| Error::op("Constant", "no value"))?;
    let t = match (name.as_str(), a) {
        ("value", Attr::Tensor(t)) => t.clone(),
        ("value_float", Attr::Float(f)) => Tensor::scalar_f32(*f),
        ("value_floats", Attr::Floats(v)) => Tensor::from_f32(vec![v.len()], v.clone())?,
        ("value_int", Attr::Int(i)) => Tensor::from_i64(vec![], vec![*i])?,
        ("value_ints", Attr::Ints(v)) => Tensor::from_i64(vec![v.len()], v.clone())?,
        _ => return Err(Error::Unsupported(format!("Constant attribute `{name}`"))),
    };
    Ok(vec![t])
}

pub fn depth_space(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let b = node.attr_i("blocksize", 0)?;
    if x.rank() != 4 || b <= 0 {
        return Err(Error::op(
            &node.op_type,
            "expects NCHW input and a positive blocksize",
        ));
    }
    let b = b as usize;
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    // Both ops are a reshape to 6-D, a transpose, and a reshape back.
    let (six, perm, out) = if node.op_type == "DepthToSpace" {
        if c % (b * b) != 0 {
            return Err(Error::op(
                "DepthToSpace",
                "channels not divisible by blocksize^2",
            ));
        }
        let co = c / (b * b);
        if node.attr_s("mode", "DCR")? == "CRD" {
            (
                vec![n, co, b, b, h, w],
                vec![0, 1, 4, 2, 5, 3],
                vec![n, co, h * b, w * b],
            )
        } else {
            (
                vec![n, b, b, co, h, w],
                vec![0, 3, 4, 1, 5, 2],
                vec![n, co, h * b, w * b],
            )
        }
    } else {
        if h % b != 0 || w % b != 0 {
            return Err(Error::op(
                "SpaceToDepth",
                "spatial dims not divisible by blocksize",
            ));
        }
        (
            vec![n, c, h / b, b, w / b, b],
            vec![0, 3, 5, 1, 2, 4],
            vec![n, c * b * b, h / b, w / b],
        )
    };
    let t = transpose_tensor(
        &Tensor {
            shape: six,
            data: x.data.clone(),
        },
        &perm,
    );
    Ok(vec![Tensor::new(out, t.data)?])
}

pub fn trilu(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    if x.rank() < 2 {
        return Err(Error::op("Trilu", "rank must be >= 2"));
    }
    let k = opt(ins, 1)
        .map(|t| t.to_i64s("Trilu"))
        .transpose()?
        .and_then(|v| v.first().copied())
        .unwrap_or(0);
    let upper = node.attr_i("upper", 1)? != 0;
    let (h, w) = (x.shape[x.rank() - 2], x.shape[x.rank() - 1]);
    let keep: Vec<bool> = (0..x.len())
        .map(|i| {
            let (r, c) = (((i / w) % h) as i64, (i % w) as i64);
            if upper {
                c - r >= k
            } else {
                c - r <= k
            }
        })
        .collect();
    let data = map_data!(&x.data, v => v.iter().zip(&keep).map(|(a, &k)| k.then_some(a).cloned().unwrap_or_default()).collect());
    Ok(vec![Tensor::new(x.shape.clone(), data)?])
}

pub fn eye_like(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    if x.rank() != 2 {
        return Err(Error::op("EyeLike", "input must be 2-D"));
    }
    let k = node.attr_i("k", 0)?;
    let dtype = match node.attr("dtype") {
        Some(Attr::Int(c)) => DataType::from_onnx(*c as i32)
            .ok_or_else(|| Error::Unsupported(format!("EyeLike dtype {c}")))?,
        _ => x.dtype(),
    };
    let (h, w) = (x.shape[0], x.shape[1]);
    let ones: Vec<f64> = (0..h * w)
        .map(|i| {
            if (i % w) as i64 - (i / w) as i64 == k {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let t = Tensor::new(vec![h, w], Data::F64(ones))?;
    Ok(vec![super::misc::cast_tensor(&t, dtype)])
}
