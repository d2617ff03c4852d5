//! Linear quantisation: QuantizeLinear, DequantizeLinear,
//! DynamicQuantizeLinear and MatMulInteger.
//!
//! Scales and zero points come per tensor, per axis or per block
//! ([`Granularity`]); the shape rules live here once and serve every
//! backend. Quantised element types: int8, uint8, int16, uint16 (and int32
//! for DequantizeLinear); float8/int4/int2 are `Unsupported`.

use super::broadcast::{broadcast_shapes, broadcast_to};
use super::shape::norm_axis;
use super::{opt, req, Ctx};
use crate::error::{Error, Result};
use crate::half;
use crate::model::Node;
use crate::tensor::{numel, type_name, Data, DataType, Tensor};

/// How a scale (and zero point) tensor maps onto the elements of `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// One scale.
    Tensor,
    /// One scale per index along the axis: `(outer, dim, inner)` of x.
    Axis { dim: usize, inner: usize },
    /// `block` consecutive indices along the axis share a scale; the scale
    /// has `blocks` entries along it.
    Block {
        dim: usize,
        inner: usize,
        block: usize,
        blocks: usize,
    },
}

impl Granularity {
    /// Reads `axis`/`block_size` (as the node's opset defines them) and
    /// checks the scale's shape against `x`'s.
    pub fn of(
        op: &str,
        node: &Node,
        opset: i64,
        x: &[usize],
        scale: &[usize],
    ) -> Result<Granularity> {
        let block = if opset >= 21 {
            node.attr_i("block_size", 0)?
        } else {
            0
        };
        if block < 0 {
            return Err(Error::op(op, format!("block_size {block} is negative")));
        }
        if block == 0 && numel(scale) == 1 && scale.len() <= 1 {
            return Ok(Granularity::Tensor);
        }
        if opset < 13 {
            return Err(Error::op(
                op,
                format!("opset {opset} allows only a scalar scale, got shape {scale:?}"),
            ));
        }
        let axis = norm_axis(op, node.attr_i("axis", 1)?, x.len())?;
        let (dim, inner) = (x[axis], numel(&x[axis + 1..]));
        if block == 0 {
            if scale.len() != 1 || scale[0] != dim {
                return Err(Error::op(
                    op,
                    format!(
                        "per-axis scale of shape {scale:?} must be 1-D of length {dim} (axis {axis} of {x:?})"
                    ),
                ));
            }
            return Ok(Granularity::Axis { dim, inner });
        }
        let block = usize::try_from(block).unwrap_or(usize::MAX);
        let blocks = dim.div_ceil(block);
        let ok = scale.len() == x.len()
            && scale
                .iter()
                .zip(x)
                .enumerate()
                .all(|(d, (&s, &n))| if d == axis { s == blocks } else { s == n });
        if !ok {
            return Err(Error::op(
                op,
                format!(
                    "blocked scale of shape {scale:?} does not fit x {x:?} with block_size {block} on axis {axis}"
                ),
            ));
        }
        Ok(Granularity::Block {
            dim,
            inner,
            block,
            blocks,
        })
    }

    /// The scale index of element `i` of x.
    #[inline]
    pub fn index(self, i: usize) -> usize {
        match self {
            Granularity::Tensor => 0,
            Granularity::Axis { dim, inner } => (i / inner) % dim,
            Granularity::Block {
                dim,
                inner,
                block,
                blocks,
            } => {
                let (outer, rest) = (i / (dim * inner), i % (dim * inner));
                let (a, j) = (rest / inner, rest % inner);
                (outer * blocks + a / block) * inner + j
            }
        }
    }
}

/// Zero point and scale shapes must match; exporters also write a
/// one-element 1-D zero point beside a scalar scale (or the reverse), which
/// means the same per-tensor quantisation.
fn same_granularity(zero_point: &[usize], scale: &[usize]) -> bool {
    zero_point == scale
        || (numel(zero_point) == 1
            && numel(scale) == 1
            && zero_point.len() <= 1
            && scale.len() <= 1)
}

/// Float contents as f32: float32/float16/bfloat16 (exact) and, where
/// `ints` allows it, int32.
fn floats(op: &str, t: &Tensor, ints: bool) -> Result<Vec<f32>> {
    Ok(match &t.data {
        Data::F32(v) => v.clone(),
        Data::F16(v) => v.iter().map(|&h| half::f16_to_f32(h)).collect(),
        Data::BF16(v) => v.iter().map(|&h| half::bf16_to_f32(h)).collect(),
        Data::I32(v) if ints => v.iter().map(|&x| x as f32).collect(),
        d => return Err(Error::unsup(op, format!("{:?} input", d.dtype()))),
    })
}

/// Integer contents widened to i64 (the quantised types).
fn quantized(op: &str, t: &Tensor) -> Result<Vec<i64>> {
    match t.dtype() {
        DataType::I8 | DataType::U8 | DataType::I16 | DataType::U16 | DataType::I32 => {
            t.to_i64s(op)
        }
        d => Err(Error::unsup(op, format!("quantised type {d:?}"))),
    }
}

/// Saturation range of a quantised output type.
fn range(op: &str, d: DataType) -> Result<(f32, f32)> {
    Ok(match d {
        DataType::U8 => (0.0, 255.0),
        DataType::I8 => (-128.0, 127.0),
        DataType::U16 => (0.0, 65535.0),
        DataType::I16 => (-32768.0, 32767.0),
        d => return Err(Error::unsup(op, format!("output type {d:?}"))),
    })
}

/// Wraps already saturated integer values as `d`.
fn int_data(d: DataType, v: impl Iterator<Item = f32>) -> Data {
    match d {
        DataType::U8 => Data::U8(v.map(|x| x as u8).collect()),
        DataType::I8 => Data::I8(v.map(|x| x as i8).collect()),
        DataType::U16 => Data::U16(v.map(|x| x as u16).collect()),
        _ => Data::I16(v.map(|x| x as i16).collect()),
    }
}

/// A type attribute (`output_dtype`, `precision`); 0 means absent.
fn type_attr(op: &str, node: &Node, name: &str) -> Result<Option<DataType>> {
    match node.attr_i(name, 0)? {
        0 => Ok(None),
        c => DataType::from_onnx(c as i32)
            .map(Some)
            .ok_or_else(|| Error::unsup(op, format!("{name} {}", type_name(c as i32)))),
    }
}

/// Rounds an f32 to the precision of `d` (float16/bfloat16), else as is.
fn to_precision(v: f32, d: DataType) -> f32 {
    match d {
        DataType::F16 => half::f16_to_f32(half::f32_to_f16(v)),
        DataType::BF16 => half::bf16_to_f32(half::f32_to_bf16(v)),
        _ => v,
    }
}

/// `y = saturate(round_half_even(x / y_scale) + y_zero_point)`.
pub fn quantize_linear(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    const OP: &str = "QuantizeLinear";
    let (x, scale, zp) = (req(node, ins, 0)?, req(node, ins, 1)?, opt(ins, 2));
    let xs = floats(OP, x, true)?;
    let ss = floats(OP, scale, ctx.opset >= 23)?;
    let g = Granularity::of(OP, node, ctx.opset, &x.shape, &scale.shape)?;
    let attr_type = if ctx.opset >= 21 {
        type_attr(OP, node, "output_dtype")?
    } else {
        None
    };
    let out_type = match (zp.map(Tensor::dtype), attr_type) {
        (Some(z), Some(a)) if z != a => {
            return Err(Error::op(
                OP,
                format!("output_dtype {a:?} differs from y_zero_point's {z:?}"),
            ))
        }
        (Some(z), _) => z,
        (None, Some(a)) => a,
        (None, None) => DataType::U8,
    };
    let (lo, hi) = range(OP, out_type)?;
    let zs = match zp {
        Some(z) => {
            if !same_granularity(&z.shape, &scale.shape) {
                return Err(Error::op(
                    OP,
                    format!(
                        "y_zero_point shape {:?} differs from y_scale's {:?}",
                        z.shape, scale.shape
                    ),
                ));
            }
            quantized(OP, z)?.into_iter().map(|v| v as f32).collect()
        }
        None => vec![0.0; ss.len()],
    };
    if let Some(i) = ss.iter().position(|&s| s == 0.0 || !s.is_finite()) {
        return Err(Error::op(
            OP,
            format!(
                "y_scale[{i}] is {}; scales must be finite and non-zero",
                ss[i]
            ),
        ));
    }
    // The division runs at the scale's precision unless `precision` says
    // otherwise (opset 23).
    let precision = match (ctx.opset >= 23)
        .then(|| type_attr(OP, node, "precision"))
        .transpose()?
        .flatten()
    {
        Some(p) if p.is_float() && p != DataType::F64 => p,
        Some(p) => return Err(Error::unsup(OP, format!("precision {p:?}"))),
        None => scale.dtype(),
    };
    let y = xs.iter().enumerate().map(|(i, &v)| {
        let k = g.index(i);
        let q = to_precision(v / ss[k], precision).round_ties_even() + zs[k];
        // NaN (undefined in ONNX) saturates to the zero point.
        if q.is_nan() {
            zs[k]
        } else {
            q.clamp(lo, hi)
        }
    });
    Ok(vec![Tensor::new(x.shape.clone(), int_data(out_type, y))?])
}

/// `y = (x - x_zero_point) * x_scale`, in the output type's precision.
pub fn dequantize_linear(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    const OP: &str = "DequantizeLinear";
    let (x, scale, zp) = (req(node, ins, 0)?, req(node, ins, 1)?, opt(ins, 2));
    let xs = quantized(OP, x)?;
    let ss = floats(OP, scale, false)?;
    let g = Granularity::of(OP, node, ctx.opset, &x.shape, &scale.shape)?;
    let out_type = match (ctx.opset >= 23)
        .then(|| type_attr(OP, node, "output_dtype"))
        .transpose()?
        .flatten()
    {
        Some(d @ (DataType::F32 | DataType::F16 | DataType::BF16)) => d,
        Some(d) => return Err(Error::unsup(OP, format!("output_dtype {d:?}"))),
        None => scale.dtype(),
    };
    let zs: Vec<i64> = match zp {
        Some(z) => {
            if z.dtype() != x.dtype() {
                return Err(Error::op(
                    OP,
                    format!("x_zero_point is {:?}, x is {:?}", z.dtype(), x.dtype()),
                ));
            }
            if !same_granularity(&z.shape, &scale.shape) {
                return Err(Error::op(
                    OP,
                    format!(
                        "x_zero_point shape {:?} differs from x_scale's {:?}",
                        z.shape, scale.shape
                    ),
                ));
            }
            let zs = quantized(OP, z)?;
            if x.dtype() == DataType::I32 && zs.iter().any(|&v| v != 0) {
                return Err(Error::op(OP, "int32 input takes no non-zero zero point"));
            }
            zs
        }
        None => vec![0; ss.len()],
    };
    let y: Vec<f32> = xs
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let k = g.index(i);
            // x − zp is exact in f32 for 16-bit types (int32: as the
            // reference, which converts to float32 first).
            ((v - zs[k]) as f32) * ss[k]
        })
        .collect();
    Ok(vec![
        Tensor::from_f32(x.shape.clone(), y)?.narrow_to_half(out_type)
    ])
}

/// uint8 quantisation with scale and zero point computed from the data:
/// the range `[min(0, min x), max(0, max x)]` maps onto `[0, 255]`.
pub fn dynamic_quantize_linear(
    _ctx: &Ctx,
    node: &Node,
    ins: &[Option<&Tensor>],
) -> Result<Vec<Tensor>> {
    const OP: &str = "DynamicQuantizeLinear";
    let x = req(node, ins, 0)?;
    let xs = x.f32s(OP)?;
    let lo = xs.iter().copied().fold(0f32, f32::min);
    let hi = xs.iter().copied().fold(0f32, f32::max);
    let scale = (hi - lo) / 255.0;
    if !scale.is_finite() {
        return Err(Error::op(OP, "input range is not finite"));
    }
    let (zp, y): (f32, Vec<u8>) = if scale == 0.0 {
        // All zeros: nothing to scale.
        (0.0, vec![0; xs.len()])
    } else {
        let zp = (0.0 - lo / scale).clamp(0.0, 255.0).round_ties_even();
        let y = xs
            .iter()
            .map(|&v| {
                let q = (v / scale).round_ties_even() + zp;
                if q.is_nan() {
                    zp as u8
                } else {
                    q.clamp(0.0, 255.0) as u8
                }
            })
            .collect();
        (zp, y)
    };
    Ok(vec![
        Tensor::new(x.shape.clone(), Data::U8(y))?,
        Tensor::scalar_f32(scale),
        Tensor::new(vec![], Data::U8(vec![zp as u8]))?,
    ])
}

/// int8/uint8 matrix product with zero points, accumulated in int32
/// (wrapping, as int32 hardware does); NumPy `matmul` broadcasting.
pub fn matmul_integer(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    const OP: &str = "MatMulInteger";
    let (a, b) = (req(node, ins, 0)?, req(node, ins, 1)?);
    for t in [a, b] {
        if !matches!(t.dtype(), DataType::I8 | DataType::U8) {
            return Err(Error::unsup(OP, format!("{:?} input", t.dtype())));
        }
    }
    if a.rank() == 0 || b.rank() == 0 {
        return Err(Error::op(OP, "inputs must have rank 1 or more"));
    }
    // 1-D operands get a unit dimension, removed from the result.
    let mut ash = a.shape.clone();
    let mut bsh = b.shape.clone();
    if ash.len() == 1 {
        ash.insert(0, 1);
    }
    if bsh.len() == 1 {
        bsh.push(1);
    }
    let (m, k) = (ash[ash.len() - 2], ash[ash.len() - 1]);
    let (k2, n) = (bsh[bsh.len() - 2], bsh[bsh.len() - 1]);
    if k != k2 {
        return Err(Error::op(
            OP,
            format!("shapes {:?} and {:?} do not multiply", a.shape, b.shape),
        ));
    }
    let batch = broadcast_shapes(OP, &[&ash[..ash.len() - 2], &bsh[..bsh.len() - 2]])?;
    let nb = numel(&batch);
    let mut out_shape = batch.clone();
    out_shape.extend([m, n]);
    ctx.limits.check_shape(&out_shape, 4)?;
    // Zero points: a scalar, per row of A (M entries, or one set per batch
    // of A) or per column of B (N entries, or per batch of B).
    let zero_point = |i: usize, t: &Tensor, per: usize, batches: usize| -> Result<Vec<i64>> {
        let Some(z) = opt(ins, i) else {
            return Ok(vec![0]);
        };
        if z.dtype() != t.dtype() {
            return Err(Error::op(
                OP,
                format!("zero point {i} type differs from its input"),
            ));
        }
        let v = z.to_i64s(OP)?;
        if v.len() == 1 || v.len() == per || v.len() == per * batches {
            Ok(v)
        } else {
            Err(Error::op(
                OP,
                format!(
                    "zero point {i} of shape {:?} fits neither a scalar nor {per} entries",
                    z.shape
                ),
            ))
        }
    };
    let a_batches = numel(&ash[..ash.len() - 2]);
    let b_batches = numel(&bsh[..bsh.len() - 2]);
    let za = zero_point(2, a, m, a_batches)?;
    let zb = zero_point(3, b, n, b_batches)?;
    // Batch index of every output batch into A's and B's own batches.
    let index_map = |sh: &[usize]| -> Vec<usize> {
        let own = &sh[..sh.len() - 2];
        let ids: Vec<usize> = (0..numel(own)).collect();
        let mut full = vec![1; batch.len() - own.len()];
        full.extend_from_slice(own);
        broadcast_to(&ids, &full, &batch)
    };
    let (ia, ib) = (index_map(&ash), index_map(&bsh));
    let (av, bv) = (a.to_i64s(OP)?, b.to_i64s(OP)?);
    let mut out = vec![0i32; nb * m * n];
    let pick = |z: &[i64], bi: usize, j: usize, per: usize| -> i32 {
        match z.len() {
            1 => z[0] as i32,
            l if l == per => z[j] as i32,
            _ => z[bi * per + j] as i32,
        }
    };
    for (o, (&ba, &bb)) in ia.iter().zip(&ib).enumerate() {
        let (ao, bo) = (ba * m * k, bb * k * n);
        for r in 0..m {
            let zr = pick(&za, ba, r, m);
            let row = &mut out[(o * m + r) * n..(o * m + r + 1) * n];
            for p in 0..k {
                let x = av[ao + r * k + p] as i32 - zr;
                if x == 0 {
                    continue;
                }
                for (c, acc) in row.iter_mut().enumerate() {
                    let y = bv[bo + p * n + c] as i32 - pick(&zb, bb, c, n);
                    *acc = acc.wrapping_add(x.wrapping_mul(y));
                }
            }
        }
    }
    let mut shape = out_shape;
    if b.rank() == 1 {
        shape.pop();
    }
    if a.rank() == 1 {
        shape.remove(shape.len() - if b.rank() == 1 { 1 } else { 2 });
    }
    Ok(vec![Tensor::new(shape, Data::I32(out))?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::model::Attr;

    fn node(op: &str, attrs: Vec<(&str, Attr)>) -> Node {
        Node {
            op_type: op.into(),
            attrs: attrs.into_iter().map(|(n, a)| (n.to_string(), a)).collect(),
            name: String::new(),
            domain: String::new(),
            inputs: vec![],
            outputs: vec![],
        }
    }

    fn run(
        f: super::super::OpFn,
        n: &Node,
        opset: i64,
        ins: &[Option<&Tensor>],
    ) -> Result<Vec<Tensor>> {
        let limits = Limits::default();
        f(&Ctx::new(&limits, opset), n, ins)
    }

    #[test]
    fn quantize_saturates_and_rounds_half_to_even() {
        let x = Tensor::from_f32(
            vec![8],
            vec![0.5, 1.5, 2.5, -0.5, -1.5, 1000.0, -1000.0, f32::NAN],
        )
        .unwrap();
        let s = Tensor::scalar_f32(1.0);
        let z = Tensor::new(vec![], Data::I8(vec![1])).unwrap();
        let y = run(
            quantize_linear,
            &node("QuantizeLinear", vec![]),
            21,
            &[Some(&x), Some(&s), Some(&z)],
        )
        .unwrap();
        assert_eq!(y[0].data, Data::I8(vec![1, 3, 3, 1, -1, 127, -128, 1]));
        // uint8 by default.
        let y = run(
            quantize_linear,
            &node("QuantizeLinear", vec![]),
            21,
            &[Some(&x), Some(&s)],
        )
        .unwrap();
        assert_eq!(y[0].data, Data::U8(vec![0, 2, 2, 0, 0, 255, 0, 0]));
        // A one-element 1-D zero point beside a scalar scale is per tensor.
        let z1 = Tensor::new(vec![1], Data::I8(vec![1])).unwrap();
        let y = run(
            quantize_linear,
            &node("QuantizeLinear", vec![]),
            21,
            &[Some(&x), Some(&s), Some(&z1)],
        )
        .unwrap();
        assert_eq!(y[0].data, Data::I8(vec![1, 3, 3, 1, -1, 127, -128, 1]));
        // A zero point of another shape is an error.
        let z2 = Tensor::new(vec![2], Data::I8(vec![1, 1])).unwrap();
        assert!(run(
            quantize_linear,
            &node("QuantizeLinear", vec![]),
            21,
            &[Some(&x), Some(&s), Some(&z2)]
        )
        .is_err());
    }

    #[test]
    fn quantize_rejects_zero_scale() {
        let x = Tensor::from_f32(vec![2], vec![1.0, 2.0]).unwrap();
        let s = Tensor::scalar_f32(0.0);
        let e = run(
            quantize_linear,
            &node("QuantizeLinear", vec![]),
            13,
            &[Some(&x), Some(&s)],
        );
        assert!(matches!(e, Err(Error::Op { .. })), "{e:?}");
    }

    #[test]
    fn per_axis_and_blocked_scales_broadcast() {
        // x: 2×3, scale per column (axis 1).
        let x = Tensor::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let s = Tensor::from_f32(vec![3], vec![1.0, 2.0, 4.0]).unwrap();
        let y = run(
            quantize_linear,
            &node("QuantizeLinear", vec![]),
            13,
            &[Some(&x), Some(&s)],
        )
        .unwrap();
        assert_eq!(y[0].data, Data::U8(vec![1, 1, 1, 4, 2, 2]));
        // axis 0: one scale per row.
        let s0 = Tensor::from_f32(vec![2], vec![1.0, 2.0]).unwrap();
        let n0 = node("QuantizeLinear", vec![("axis", Attr::Int(0))]);
        let y = run(quantize_linear, &n0, 13, &[Some(&x), Some(&s0)]).unwrap();
        assert_eq!(y[0].data, Data::U8(vec![1, 2, 3, 2, 2, 3]));
        // Opset 10 has no per-axis form.
        assert!(run(quantize_linear, &n0, 10, &[Some(&x), Some(&s0)]).is_err());
        // Blocks of 2 along axis 1 (3 columns → 2 blocks).
        let sb = Tensor::from_f32(vec![2, 2], vec![1.0, 10.0, 2.0, 20.0]).unwrap();
        let nb = node(
            "QuantizeLinear",
            vec![("axis", Attr::Int(1)), ("block_size", Attr::Int(2))],
        );
        let q = Tensor::new(vec![2, 3], Data::I8(vec![1, 2, 3, 4, 5, 6])).unwrap();
        let y = run(dequantize_linear, &nb, 21, &[Some(&q), Some(&sb)]).unwrap();
        assert_eq!(y[0].data, Data::F32(vec![1.0, 2.0, 30.0, 8.0, 10.0, 120.0]));
        // A scale that does not fit the blocks is an error.
        let bad = Tensor::from_f32(vec![2, 3], vec![1.0; 6]).unwrap();
        assert!(run(dequantize_linear, &nb, 21, &[Some(&q), Some(&bad)]).is_err());
    }

    #[test]
    fn dequantize_follows_the_scale_type() {
        let q = Tensor::new(vec![3], Data::U8(vec![0, 128, 255])).unwrap();
        let s = Tensor::new(vec![], Data::F16(vec![half::f32_to_f16(0.5)])).unwrap();
        let z = Tensor::new(vec![], Data::U8(vec![128])).unwrap();
        let y = run(
            dequantize_linear,
            &node("DequantizeLinear", vec![]),
            21,
            &[Some(&q), Some(&s), Some(&z)],
        )
        .unwrap();
        let want: Vec<u16> = [-64.0, 0.0, 63.5]
            .iter()
            .map(|&v| half::f32_to_f16(v))
            .collect();
        assert_eq!(y[0].data, Data::F16(want));
    }

    #[test]
    fn dynamic_quantize_matches_the_reference_formula() {
        let x = Tensor::from_f32(vec![6], vec![0.0, 2.0, -3.0, -2.5, 1.34, 0.5]).unwrap();
        let y = run(
            dynamic_quantize_linear,
            &node("DynamicQuantizeLinear", vec![]),
            11,
            &[Some(&x)],
        )
        .unwrap();
        assert_eq!(y[0].data, Data::U8(vec![153, 255, 0, 26, 221, 179]));
        assert_eq!(y[1].data, Data::F32(vec![5.0 / 255.0]));
        assert_eq!(y[2].data, Data::U8(vec![153]));
        let zeros = Tensor::from_f32(vec![2], vec![0.0, 0.0]).unwrap();
        let y = run(
            dynamic_quantize_linear,
            &node("DynamicQuantizeLinear", vec![]),
            11,
            &[Some(&zeros)],
        )
        .unwrap();
        assert_eq!(y[0].data, Data::U8(vec![0, 0]));
    }

    #[test]
    fn matmul_integer_subtracts_zero_points() {
        let a = Tensor::new(vec![2, 2], Data::U8(vec![1, 2, 3, 4])).unwrap();
        let b = Tensor::new(vec![2, 2], Data::U8(vec![5, 6, 7, 8])).unwrap();
        let za = Tensor::new(vec![2], Data::U8(vec![1, 0])).unwrap();
        let zb = Tensor::new(vec![], Data::U8(vec![5])).unwrap();
        let y = run(
            matmul_integer,
            &node("MatMulInteger", vec![]),
            10,
            &[Some(&a), Some(&b), Some(&za), Some(&zb)],
        )
        .unwrap();
        // A − za = [[0,1],[3,4]], B − zb = [[0,1],[2,3]].
        assert_eq!(y[0].data, Data::I32(vec![2, 3, 8, 15]));
        assert_eq!(y[0].shape, vec![2, 2]);
    }
}
