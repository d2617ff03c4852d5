//! Cast, Range, OneHot, TopK, CumSum and Resize.

use super::shape::norm_axis;
use super::{opt, req, Ctx};
use crate::error::{Error, Result};
use crate::half;
use crate::model::Node;
use crate::tensor::{numel, Data, DataType, Tensor};

/// Converts a tensor to `dtype` with ONNX `Cast` semantics: float to
/// integer truncates toward zero (out-of-range values, which ONNX leaves
/// undefined, saturate; NaN becomes 0), anything to float16/bfloat16
/// rounds to nearest even (overflow to infinity, NaN kept), to bool is
/// `x != 0` (NaN is true). float16/bfloat16 sources widen exactly to
/// float32 first.
pub fn cast_tensor(x: &Tensor, dtype: DataType) -> Tensor {
    if x.dtype() == dtype {
        return x.clone();
    }
    macro_rules! conv {
        ($v:expr) => {
            match dtype {
                DataType::F32 => Data::F32($v.iter().map(|&a| a as f32).collect()),
                DataType::F64 => Data::F64($v.iter().map(|&a| a as f64).collect()),
                DataType::I64 => Data::I64($v.iter().map(|&a| a as i64).collect()),
                DataType::I32 => Data::I32($v.iter().map(|&a| a as i32).collect()),
                DataType::I8 => Data::I8($v.iter().map(|&a| a as i8).collect()),
                DataType::U8 => Data::U8($v.iter().map(|&a| a as u8).collect()),
                DataType::I16 => Data::I16($v.iter().map(|&a| a as i16).collect()),
                DataType::U16 => Data::U16($v.iter().map(|&a| a as u16).collect()),
                // Every source type widens to float64 exactly (int64 beyond
                // 2^53 aside), so this is a single rounding.
                DataType::F16 => {
                    Data::F16($v.iter().map(|&a| half::f64_to_f16(a as f64)).collect())
                }
                DataType::BF16 => {
                    Data::BF16($v.iter().map(|&a| half::f64_to_bf16(a as f64)).collect())
                }
                DataType::Bool => Data::Bool($v.iter().map(|&a| a as f64 != 0.0).collect()),
                DataType::String => Data::String($v.iter().map(|&a| Fmt(a).to_string()).collect()),
            }
        };
    }
    let data = match &x.data {
        Data::F32(v) => conv!(v),
        Data::F64(v) => conv!(v),
        Data::I64(v) => conv!(v),
        Data::I32(v) => conv!(v),
        Data::I8(v) => conv!(v),
        Data::U8(v) => conv!(v),
        Data::I16(v) => conv!(v),
        Data::U16(v) => conv!(v),
        Data::F16(bits) | Data::BF16(bits) if dtype == DataType::String => {
            let bf = x.dtype() == DataType::BF16;
            Data::String(bits.iter().map(|&h| half_to_string(h, bf)).collect())
        }
        Data::F16(_) | Data::BF16(_) => {
            let w = x.widen_half().expect("half data widens");
            let f = w.f32s("Cast").expect("widened to float32");
            conv!(f)
        }
        Data::Bool(v) => {
            let u: Vec<u8> = v.iter().map(|&b| b as u8).collect();
            conv!(u)
        }
        Data::String(v) => {
            // Numbers parse as float64 (NaN if unparseable), like NumPy's
            // `astype` from str; "true"/"false" are also accepted.
            let f: Vec<f64> = v.iter().map(|s| parse_number(s)).collect();
            if dtype == DataType::Bool {
                Data::Bool(f.iter().map(|&a| a != 0.0).collect())
            } else {
                conv!(f)
            }
        }
    };
    Tensor {
        shape: x.shape.clone(),
        data,
    }
}

/// The shortest decimal that reads back as the same 16-bit float, in
/// NumPy's spelling (`str(np.float16(0.1))` is `0.1`, not float32's digits).
fn half_to_string(h: u16, bf: bool) -> String {
    type Widen = fn(u16) -> f32;
    type Narrow = fn(f32) -> u16;
    let (to, from): (Widen, Narrow) = if bf {
        (half::bf16_to_f32, half::f32_to_bf16)
    } else {
        (half::f16_to_f32, half::f32_to_f16)
    };
    let v = to(h);
    if !v.is_finite() {
        return Fmt(v).to_string();
    }
    let short = (0..9)
        .filter_map(|p| format!("{v:.p$e}").parse::<f32>().ok())
        .find(|&s| from(s) == h)
        .unwrap_or(v);
    Fmt(short).to_string()
}

fn parse_number(s: &str) -> f64 {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "true" => 1.0,
        "false" => 0.0,
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => t.parse().unwrap_or(f64::NAN),
    }
}

/// Number-to-string formatting for Cast: the shortest representation
/// that round-trips (as NumPy prints), with NumPy's spelling of
/// non-finite values and exponents for very large or small magnitudes.
struct Fmt<T>(T);

macro_rules! fmt_int {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for Fmt<$t> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    )*};
}
fmt_int!(i64, i32, i8, u8, i16, u16);

macro_rules! fmt_float {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for Fmt<$t> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let v = self.0;
                if v.is_nan() {
                    return f.write_str("nan");
                }
                if v.is_infinite() {
                    return f.write_str(if v > 0.0 { "inf" } else { "-inf" });
                }
                let a = v.abs();
                if a != 0.0 && !(1e-4..1e16).contains(&a) {
                    // 1e-05, 1.5e+20
                    let s = format!("{v:e}");
                    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                    let e: i32 = e.parse().unwrap_or(0);
                    let sign = if e < 0 { '-' } else { '+' };
                    return write!(f, "{m}e{sign}{:02}", e.abs());
                }
                let s = v.to_string();
                if s.contains('.') {
                    f.write_str(&s)
                } else {
                    write!(f, "{s}.0")
                }
            }
        }
    )*};
}
fmt_float!(f32, f64);

/// `Cast` (all versions: opset 1 names the target type as a string) and
/// `CastLike`. `saturate` (opset 19+) and `round_mode` (opset 24+) only
/// concern the float8/float4 targets, which are unsupported element types,
/// so a valid model never needs them here.
pub fn cast(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let op = node.op_type.as_str();
    let x = req(node, ins, 0)?;
    let dtype = if op == "CastLike" {
        req(node, ins, 1)?.dtype()
    } else {
        let to = match node.attr("to") {
            Some(crate::model::Attr::String(name)) => (0..32)
                .find(|&c| crate::tensor::type_name(c) == name.to_ascii_uppercase())
                .ok_or_else(|| Error::unsup(op, format!("target type {name}")))?
                as i64,
            _ => node.attr_i("to", 0)?,
        };
        DataType::from_onnx(to as i32).ok_or_else(|| {
            Error::unsup(
                op,
                format!("target type {}", crate::tensor::type_name(to as i32)),
            )
        })?
    };
    Ok(vec![cast_tensor(x, dtype)])
}

pub fn range(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let s = req(node, ins, 0)?;
    let l = req(node, ins, 1)?;
    let d = req(node, ins, 2)?;
    let first = |t: &Tensor| {
        t.to_f64s()
            .first()
            .copied()
            .ok_or_else(|| Error::op("Range", "empty scalar"))
    };
    let (start, limit, delta) = (first(s)?, first(l)?, first(d)?);
    if delta == 0.0 || !delta.is_finite() || !start.is_finite() || !limit.is_finite() {
        return Err(Error::op("Range", "delta must be finite and non-zero"));
    }
    let n = ((limit - start) / delta).ceil().max(0.0);
    if n > ctx.limits.max_dim as f64 {
        return Err(Error::Limit(format!("Range of {n} elements")));
    }
    let n = n as usize;
    ctx.limits.check_shape(&[n], s.dtype().size())?;
    let data = match &s.data {
        Data::F32(_) => {
            let (a, b) = (start as f32, delta as f32);
            Data::F32((0..n).map(|i| a + i as f32 * b).collect())
        }
        Data::F64(_) => Data::F64((0..n).map(|i| start + i as f64 * delta).collect()),
        Data::I64(_) => Data::I64(
            (0..n)
                .map(|i| start as i64 + i as i64 * delta as i64)
                .collect(),
        ),
        Data::I32(_) => Data::I32(
            (0..n)
                .map(|i| start as i32 + i as i32 * delta as i32)
                .collect(),
        ),
        d => {
            return Err(Error::unsup(
                "Range",
                format!("unsupported type {:?}", d.dtype()),
            ))
        }
    };
    Ok(vec![Tensor::new(vec![n], data)?])
}

pub fn one_hot(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let ind = req(node, ins, 0)?;
    let depth = req(node, ins, 1)?.to_f64s().first().copied().unwrap_or(0.0);
    let vals = req(node, ins, 2)?;
    if depth < 1.0 || depth > ctx.limits.max_dim as f64 || vals.len() != 2 {
        return Err(Error::op("OneHot", "invalid depth or values"));
    }
    let depth = depth as usize;
    let r = ind.rank() + 1;
    let axis = norm_axis("OneHot", node.attr_i("axis", -1)?, r)?;
    let mut out = ind.shape.clone();
    out.insert(axis, depth);
    ctx.limits.check_shape(&out, vals.dtype().size())?;
    let iv = ind.to_f64s();
    let outer = numel(&ind.shape[..axis]);
    let inner = numel(&ind.shape[axis..]);
    let mut hot = vec![false; numel(&out)];
    for o in 0..outer {
        for i in 0..inner {
            let mut k = iv[o * inner + i] as i64;
            if k < 0 {
                k += depth as i64;
            }
            if (0..depth as i64).contains(&k) {
                hot[(o * depth + k as usize) * inner + i] = true;
            }
        }
    }
    let data =
        crate::map_data!(&vals.data, v => hot.iter().map(|&h| &v[h as usize]).cloned().collect());
    Ok(vec![Tensor::new(out, data)?])
}

pub fn topk(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let k = if ctx.opset >= 10 {
        req(node, ins, 1)?
            .to_i64s("TopK")?
            .first()
            .copied()
            .unwrap_or(-1)
    } else {
        node.attr_i("k", -1)?
    };
    let axis = norm_axis("TopK", node.attr_i("axis", -1)?, x.rank())?;
    let dim = x.shape[axis];
    if k < 0 || k as usize > dim {
        return Err(Error::op(
            "TopK",
            format!("k={k} out of range for axis of {dim}"),
        ));
    }
    let k = k as usize;
    let largest = node.attr_i("largest", 1)? != 0;
    let vals = x.to_f64s();
    let outer = numel(&x.shape[..axis]);
    let inner = numel(&x.shape[axis + 1..]);
    let mut out = x.shape.clone();
    out[axis] = k;
    let mut src_idx = vec![0usize; numel(&out)];
    let mut ind = vec![0i64; numel(&out)];
    let mut order: Vec<usize> = Vec::with_capacity(dim);
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * dim + j) * inner + i;
            order.clear();
            order.extend(0..dim);
            // Stable sort keeps the lower index first among equal values.
            order.sort_by(|&a, &b| {
                let (va, vb) = (vals[at(a)], vals[at(b)]);
                let c = va.partial_cmp(&vb).unwrap_or(std::cmp::Ordering::Equal);
                if largest {
                    c.reverse()
                } else {
                    c
                }
            });
            for (j, &s) in order.iter().take(k).enumerate() {
                let dst = (o * k + j) * inner + i;
                src_idx[dst] = at(s);
                ind[dst] = s as i64;
            }
        }
    }
    Ok(vec![
        Tensor::new(out.clone(), super::shape::take(&x.data, &src_idx))?,
        Tensor::new(out, Data::I64(ind))?,
    ])
}

/// NonZero: `[rank, nnz]` int64 coordinates of non-zero elements.
pub fn non_zero(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let v = x.to_f64s();
    let st = super::shape::strides(&x.shape);
    let hits: Vec<usize> = (0..v.len()).filter(|&i| v[i] != 0.0).collect();
    let r = x.rank();
    let mut out = vec![0i64; r * hits.len()];
    for (k, &i) in hits.iter().enumerate() {
        for d in 0..r {
            out[d * hits.len() + k] = ((i / st[d]) % x.shape[d]) as i64;
        }
    }
    Ok(vec![Tensor::new(vec![r, hits.len()], Data::I64(out))?])
}

/// Hann, Hamming and Blackman windows.
pub fn window(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let n = req(node, ins, 0)?
        .to_i64s(&node.op_type)?
        .first()
        .copied()
        .unwrap_or(0);
    if n < 0 || n as usize > ctx.limits.max_dim {
        return Err(Error::op(&node.op_type, "invalid window size"));
    }
    ctx.limits.check_shape(&[n as usize], 8)?;
    let periodic = node.attr_i("periodic", 1)? != 0;
    let len = if periodic {
        n as f64
    } else {
        (n - 1).max(1) as f64
    };
    let tau = 2.0 * std::f64::consts::PI;
    let v: Vec<f64> = (0..n)
        .map(|i| {
            let t = tau * i as f64 / len;
            match node.op_type.as_str() {
                "HannWindow" => 0.5 - 0.5 * t.cos(),
                "HammingWindow" => 25.0 / 46.0 - 21.0 / 46.0 * t.cos(),
                _ => 0.42 - 0.5 * t.cos() + 0.08 * (2.0 * t).cos(),
            }
        })
        .collect();
    let dtype = DataType::from_onnx(node.attr_i("output_datatype", 1)? as i32)
        .ok_or_else(|| Error::Unsupported("window output type".into()))?;
    Ok(vec![cast_tensor(
        &Tensor::new(vec![n as usize], Data::F64(v))?,
        dtype,
    )])
}

pub fn cumsum(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let a = req(node, ins, 1)?.to_i64s("CumSum")?;
    let axis = norm_axis(
        "CumSum",
        *a.first().ok_or_else(|| Error::op("CumSum", "empty axis"))?,
        x.rank(),
    )?;
    let excl = node.attr_i("exclusive", 0)? != 0;
    let rev = node.attr_i("reverse", 0)? != 0;
    let prod = node.op_type == "CumProd";
    let dim = x.shape[axis];
    let inner = numel(&x.shape[axis + 1..]);
    let outer = numel(&x.shape[..axis]);
    macro_rules! go {
        ($v:expr, $zero:expr, $one:expr) => {{
            let mut out = vec![$zero; $v.len()];
            for o in 0..outer {
                for i in 0..inner {
                    let mut acc = if prod { $one } else { $zero };
                    for s in 0..dim {
                        let j = if rev { dim - 1 - s } else { s };
                        let p = (o * dim + j) * inner + i;
                        if excl {
                            out[p] = acc;
                            acc = if prod { acc * $v[p] } else { acc + $v[p] };
                        } else {
                            acc = if prod { acc * $v[p] } else { acc + $v[p] };
                            out[p] = acc;
                        }
                    }
                }
            }
            out
        }};
    }
    let data = match &x.data {
        Data::F32(v) => Data::F32(go!(v, 0.0f32, 1.0f32)),
        Data::F64(v) => Data::F64(go!(v, 0.0f64, 1.0f64)),
        Data::I64(v) => Data::I64(go!(v, 0i64, 1i64)),
        Data::I32(v) => Data::I32(go!(v, 0i32, 1i32)),
        d => {
            return Err(Error::unsup(
                "CumSum",
                format!("unsupported type {:?}", d.dtype()),
            ))
        }
    };
    Ok(vec![Tensor::new(x.shape.clone(), data)?])
}

/// Source taps (index, weight) for each output coordinate along one axis.
fn resize_taps(
    node: &Node,
    mode: &str,
    in_len: usize,
    out_len: usize,
    scale: f64,
) -> Result<Vec<Vec<(usize, f64)>>> {
    let ctm = node.attr_s("coordinate_transformation_mode", "half_pixel")?;
    let nearest = node.attr_s("nearest_mode", "round_prefer_floor")?;
    let a = node.attr_f("cubic_coeff_a", -0.75)? as f64;
    let exclude = node.attr_i("exclude_outside", 0)? != 0;
    let n = in_len as i64;
    let clampi = |i: i64| i.clamp(0, n - 1) as usize;
    let mut taps = Vec::with_capacity(out_len);
    for o in 0..out_len {
        let xr = o as f64;
        let x = match ctm.as_str() {
            "half_pixel" => (xr + 0.5) / scale - 0.5,
            "half_pixel_symmetric" => {
                let adj = out_len as f64 / (scale * in_len as f64);
                let center = in_len as f64 / 2.0;
                center * (1.0 - adj) + (xr + 0.5) / scale - 0.5
            }
            "pytorch_half_pixel" => {
                if out_len > 1 {
                    (xr + 0.5) / scale - 0.5
                } else {
                    0.0
                }
            }
            // The reference uses the unrounded resized length here.
            "align_corners" => {
                let len = scale * in_len as f64;
                if out_len == 1 {
                    0.0
                } else {
                    xr * (in_len as f64 - 1.0) / (len - 1.0)
                }
            }
            "asymmetric" => xr / scale,
            m => return Err(Error::Unsupported(format!("Resize coordinate mode {m}"))),
        };
        taps.push(match mode {
            "nearest" => {
                let i = match nearest.as_str() {
                    "round_prefer_ceil" => (x + 0.5).floor(),
                    "floor" => x.floor(),
                    "ceil" => x.ceil(),
                    _ => {
                        if x.fract() == 0.5 {
                            x.floor()
                        } else {
                            x.round()
                        }
                    }
                };
                vec![(clampi(i as i64), 1.0)]
            }
            "linear" => {
                let x = x.clamp(0.0, in_len as f64 - 1.0);
                let i = x.floor();
                let r = x - i;
                vec![(clampi(i as i64), 1.0 - r), (clampi(i as i64 + 1), r)]
            }
            "cubic" => {
                let i = x.floor() as i64;
                let r = x - x.floor();
                let w = [
                    ((a * (r + 1.0) - 5.0 * a) * (r + 1.0) + 8.0 * a) * (r + 1.0) - 4.0 * a,
                    ((a + 2.0) * r - (a + 3.0)) * r * r + 1.0,
                    ((a + 2.0) * (1.0 - r) - (a + 3.0)) * (1.0 - r) * (1.0 - r) + 1.0,
                    ((a * (2.0 - r) - 5.0 * a) * (2.0 - r) + 8.0 * a) * (2.0 - r) - 4.0 * a,
                ];
                let mut t: Vec<(usize, f64)> = Vec::with_capacity(4);
                let mut total = 0.0;
                for (k, &wk) in w.iter().enumerate() {
                    let j = i - 1 + k as i64;
                    if exclude && (j < 0 || j >= n) {
                        continue;
                    }
                    total += wk;
                    t.push((clampi(j), wk));
                }
                if exclude && total != 0.0 {
                    t.iter_mut().for_each(|p| p.1 /= total);
                }
                t
            }
            m => return Err(Error::Unsupported(format!("Resize mode {m}"))),
        });
    }
    Ok(taps)
}

pub fn resize(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let r = x.rank();
    if node.attr_i("antialias", 0)? != 0 {
        return Err(Error::Unsupported("Resize antialias".into()));
    }
    let mode = node.attr_s("mode", "nearest")?;
    let (scales_in, sizes_in) = if ctx.opset < 11 {
        (opt(ins, 1), None)
    } else {
        (opt(ins, 2), opt(ins, 3))
    };
    let axes: Vec<usize> = match node.attr_ints("axes")? {
        Some(a) => a
            .iter()
            .map(|&v| norm_axis("Resize", v, r))
            .collect::<Result<_>>()?,
        None => (0..r).collect(),
    };
    let mut scales = vec![1.0f64; r];
    let mut out = x.shape.clone();
    if let Some(sz) = sizes_in.filter(|t| !t.is_empty()) {
        let sz = sz.to_i64s("Resize")?;
        if sz.len() != axes.len() || sz.iter().any(|&v| v < 0) {
            return Err(Error::op(
                "Resize",
                "sizes must be non-negative, one per axis",
            ));
        }
        let policy = node.attr_s("keep_aspect_ratio_policy", "stretch")?;
        let ratios: Vec<f64> = axes
            .iter()
            .zip(&sz)
            .map(|(&a, &s)| s as f64 / x.shape[a] as f64)
            .collect();
        let common = match policy.as_str() {
            "not_larger" => ratios.iter().cloned().fold(f64::INFINITY, f64::min),
            "not_smaller" => ratios.iter().cloned().fold(0.0, f64::max),
            _ => f64::NAN,
        };
        for (k, &a) in axes.iter().enumerate() {
            if common.is_nan() {
                scales[a] = ratios[k];
                out[a] = sz[k] as usize;
            } else {
                scales[a] = common;
                out[a] = (x.shape[a] as f64 * common).round() as usize;
            }
        }
    } else if let Some(sc) = scales_in.filter(|t| !t.is_empty()) {
        let sc = sc.to_f64s();
        if sc.len() != axes.len() || sc.iter().any(|&s| s <= 0.0 || !s.is_finite()) {
            return Err(Error::op("Resize", "scales must be positive, one per axis"));
        }
        for (k, &a) in axes.iter().enumerate() {
            scales[a] = sc[k];
            let o = (x.shape[a] as f64 * sc[k]).floor();
            if o > ctx.limits.max_dim as f64 {
                return Err(Error::Limit("Resize output too large".into()));
            }
            out[a] = o as usize;
        }
    } else {
        return Err(Error::op("Resize", "needs scales or sizes"));
    }
    ctx.limits.check_shape(&out, 4)?;
    let mut cur = x.to_f64s();
    let mut shape = x.shape.clone();
    // Separable resampling: one axis at a time.
    for a in 0..r {
        if out[a] == shape[a] && scales[a] == 1.0 {
            continue;
        }
        if shape[a] == 0 {
            return Err(Error::op("Resize", "cannot resize an empty axis"));
        }
        let taps = resize_taps(node, &mode, shape[a], out[a], scales[a])?;
        let outer = numel(&shape[..a]);
        let inner = numel(&shape[a + 1..]);
        let mut next = vec![0.0f64; outer * out[a] * inner];
        for o in 0..outer {
            for (j, t) in taps.iter().enumerate() {
                for i in 0..inner {
                    next[(o * out[a] + j) * inner + i] = t
                        .iter()
                        .map(|&(s, w)| w * cur[(o * shape[a] + s) * inner + i])
                        .sum();
                }
            }
        }
        cur = next;
        shape[a] = out[a];
    }
    let t = Tensor::new(out, Data::F64(cur))?;
    Ok(vec![cast_tensor(&t, x.dtype())])
}

#[cfg(test)]
mod cast_tests {
    use super::*;

    fn f32s(v: &[f32]) -> Tensor {
        Tensor::from_f32(vec![v.len()], v.to_vec()).unwrap()
    }

    #[test]
    fn float_to_int_truncates_toward_zero() {
        let y = cast_tensor(&f32s(&[2.7, -2.7, 0.5, -0.5, 127.9]), DataType::I8);
        assert_eq!(y.data, Data::I8(vec![2, -2, 0, 0, 127]));
        let y = cast_tensor(&f32s(&[3.99, -1.01]), DataType::I64);
        assert_eq!(y.data, Data::I64(vec![3, -1]));
    }

    #[test]
    fn to_float16_rounds_to_nearest_even_and_keeps_specials() {
        let x = f32s(&[
            1.0 + 2f32.powi(-11),
            1.0 + 3.0 * 2f32.powi(-11),
            70000.0,
            f32::NEG_INFINITY,
            f32::NAN,
            -0.0,
        ]);
        let Data::F16(h) = cast_tensor(&x, DataType::F16).data else {
            panic!("float16 expected")
        };
        assert_eq!(&h[..4], &[0x3c00, 0x3c02, 0x7c00, 0xfc00]);
        assert!(half::f16_to_f32(h[4]).is_nan());
        assert_eq!(h[5], 0x8000);
        // And back, exactly; bfloat16 too.
        let back = cast_tensor(&cast_tensor(&x, DataType::F16), DataType::F32);
        assert_eq!(back.f32s("t").unwrap()[1], 1.0 + 2f32.powi(-9));
        let b = cast_tensor(&f32s(&[1.0 + 2f32.powi(-8)]), DataType::BF16);
        assert_eq!(b.data, Data::BF16(vec![0x3f80]));
    }

    #[test]
    fn half_to_int_and_string() {
        let h = Tensor::new(
            vec![3],
            Data::F16(vec![half::f32_to_f16(-3.75), half::f32_to_f16(0.1), 0x7c00]),
        )
        .unwrap();
        assert_eq!(
            cast_tensor(&h, DataType::I32).data,
            Data::I32(vec![-3, 0, i32::MAX])
        );
        assert_eq!(
            cast_tensor(&h, DataType::String).data,
            Data::String(vec!["-3.75".into(), "0.1".into(), "inf".into()])
        );
        let s = Tensor::new(vec![1], Data::String(vec!["0.1".into()])).unwrap();
        assert_eq!(
            cast_tensor(&s, DataType::F16).data,
            Data::F16(vec![half::f32_to_f16(0.1)])
        );
    }
}

#[cfg(test)]
mod cast_v1_tests {
    use super::*;
    use crate::limits::Limits;
    use crate::model::Attr;

    #[test]
    fn cast_1_takes_the_type_name_as_a_string() {
        let node = Node {
            name: String::new(),
            op_type: "Cast".into(),
            domain: String::new(),
            inputs: vec![],
            outputs: vec![],
            attrs: vec![("to".into(), Attr::String("float16".into()))],
        };
        let limits = Limits::default();
        let x = Tensor::from_f32(vec![1], vec![0.5]).unwrap();
        let y = cast(&Ctx::new(&limits, 1), &node, &[Some(&x)]).unwrap();
        assert_eq!(y[0].data, Data::F16(vec![0x3800]));
    }
}
