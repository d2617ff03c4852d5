//! Element-wise unary, binary, comparison, logic and selection operators.

use super::broadcast::{binary, broadcast_shapes, broadcast_to};
use super::{opt, req, Ctx};
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::{Data, Tensor};

/// Float32 unary op table; `None` if `op` is not a simple unary op.
type UnaryFn = Box<dyn Fn(f32) -> f32>;

fn unary_fn(node: &Node) -> Result<Option<UnaryFn>> {
    let a = |n, d| node.attr_f(n, d);
    Ok(Some(match node.op_type.as_str() {
        "Abs" => Box::new(f32::abs),
        "Neg" => Box::new(|x: f32| -x),
        "Exp" => Box::new(f32::exp),
        "Log" => Box::new(f32::ln),
        "Sqrt" => Box::new(f32::sqrt),
        "Reciprocal" => Box::new(|x: f32| 1.0 / x),
        "Sigmoid" => Box::new(sigmoid),
        "Tanh" => Box::new(f32::tanh),
        "Relu" => Box::new(|x: f32| x.max(0.0)),
        "Sin" => Box::new(f32::sin),
        "Cos" => Box::new(f32::cos),
        "Tan" => Box::new(f32::tan),
        "Asin" => Box::new(f32::asin),
        "Acos" => Box::new(f32::acos),
        "Atan" => Box::new(f32::atan),
        "Sinh" => Box::new(f32::sinh),
        "Cosh" => Box::new(f32::cosh),
        "Asinh" => Box::new(f32::asinh),
        "Acosh" => Box::new(f32::acosh),
        "Atanh" => Box::new(f32::atanh),
        "Floor" => Box::new(f32::floor),
        "Ceil" => Box::new(f32::ceil),
        "Round" => Box::new(f32::round_ties_even),
        "Sign" => Box::new(|x: f32| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }),
        "Erf" => Box::new(libm::erff),
        "Softplus" => Box::new(|x: f32| if x > 20.0 { x } else { x.exp().ln_1p() }),
        "Softsign" => Box::new(|x: f32| x / (1.0 + x.abs())),
        "Mish" => Box::new(|x: f32| x * (x.exp().ln_1p()).tanh()),
        "LeakyRelu" => {
            let al = a("alpha", 0.01)?;
            Box::new(move |x: f32| if x < 0.0 { al * x } else { x })
        }
        "Elu" => {
            let al = a("alpha", 1.0)?;
            Box::new(move |x: f32| if x < 0.0 { al * (x.exp() - 1.0) } else { x })
        }
        "Selu" => {
            let al = a("alpha", 1.673_263_2)?;
            let g = a("gamma", 1.050_701)?;
            Box::new(move |x: f32| {
                if x <= 0.0 {
                    g * (al * x.exp() - al)
                } else {
                    g * x
                }
            })
        }
        "Celu" => {
            let al = a("alpha", 1.0)?;
            Box::new(move |x: f32| x.max(0.0) + (al * ((x / al).exp() - 1.0)).min(0.0))
        }
        "ThresholdedRelu" => {
            let al = a("alpha", 1.0)?;
            Box::new(move |x: f32| if x > al { x } else { 0.0 })
        }
        "HardSigmoid" => {
            let (al, b) = (a("alpha", 0.2)?, a("beta", 0.5)?);
            Box::new(move |x: f32| (al * x + b).clamp(0.0, 1.0))
        }
        "HardSwish" => Box::new(|x: f32| x * (x / 6.0 + 0.5).clamp(0.0, 1.0)),
        "Swish" => {
            let al = a("alpha", 1.0)?;
            Box::new(move |x: f32| x * sigmoid(al * x))
        }
        "Shrink" => {
            let (b, l) = (a("bias", 0.0)?, a("lambd", 0.5)?);
            Box::new(move |x: f32| {
                if x < -l {
                    x + b
                } else if x > l {
                    x - b
                } else {
                    0.0
                }
            })
        }
        "Gelu" => {
            if node.attr_s("approximate", "none")? == "tanh" {
                Box::new(|x: f32| {
                    let c = (2.0f32 / std::f32::consts::PI).sqrt();
                    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
                })
            } else {
                Box::new(gelu_erf)
            }
        }
        _ => return Ok(None),
    }))
}

/// erfc(z) for z >= 0 with relative error below 1.2e-7 (the Chebyshev
/// fit of Press et al., *Numerical Recipes*, 6.2), in one `exp`: much
/// cheaper than `libm::erff`, and accurate relative to the result even
/// where erfc is tiny, which 1 - erf is not.
#[inline(always)]
#[allow(clippy::excessive_precision)] // the published coefficients, as printed
fn erfc_pos(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    t * exp_fast(p - z * z)
}

/// Exact (erf) GELU: x/2 * (1 + erf(x/sqrt 2)), written with erfc so the
/// result keeps its relative precision for negative x.
#[inline(always)]
pub(crate) fn gelu_erf(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let c = erfc_pos(z);
    if x >= 0.0 {
        0.5 * x * (2.0 - c)
    } else {
        0.5 * x * c
    }
}

/// Branch-free exp(x) (Cephes' `expf`: range reduction by ln 2, a
/// polynomial, 2^n built in the exponent bits), within about 2 ulp of
/// `f32::exp`; written without calls so loops over it vectorise. Overflows
/// to infinity above 88.72 and underflows through the subnormals; NaN
/// stays NaN.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' coefficients, as printed
pub(crate) fn exp_fast(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let xc = x.clamp(-104.0, 88.72);
    let t = xc * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = xc - n * 0.693_359_375 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_15e-4f32;
    p = p * r + 1.398_199_95e-3;
    p = p * r + 8.333_451_9e-3;
    p = p * r + 4.166_579_59e-2;
    p = p * r + 1.666_666_55e-1;
    p = p * r + 5.000_000_12e-1;
    let y = p * r * r + r + 1.0;
    // 2^n (n in -150..=128, the integer held in t's low mantissa bits) as
    // two normal factors, so neither end overflows the exponent field.
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let h = ni >> 1;
    let p1 = f32::from_bits((h.wrapping_add(127) as u32) << 23);
    let p2 = f32::from_bits((ni.wrapping_sub(h).wrapping_add(127) as u32) << 23);
    let e = y * p1 * p2;
    if x > 88.72 {
        f32::INFINITY
    } else {
        e
    }
}

/// Runs `f` over `v` in place, compiled for AVX2+FMA when the CPU has
/// them (so the loop vectorises 8-wide), otherwise for the baseline.
#[inline(always)]
pub(crate) fn map_in_place(v: &mut [f32], f: impl Fn(f32) -> f32 + Copy) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(v: &mut [f32], f: impl Fn(f32) -> f32 + Copy) {
            v.iter_mut().for_each(|x| *x = f(*x));
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function enables.
            unsafe { avx2(v, f) };
            return;
        }
    }
    v.iter_mut().for_each(|x| *x = f(*x));
}

/// `v` mapped through `f` into a new vector (a copy, then
/// [`map_in_place`]: the in-place loop vectorises where a collecting
/// iterator over the same body did not).
pub(crate) fn map_to(v: &[f32], f: impl Fn(f32) -> f32 + Copy) -> Vec<f32> {
    let mut out = v.to_vec();
    map_in_place(&mut out, f);
    out
}

/// `x = exp(x - m)` over a slice; returns the sum (softmax numerators).
pub(crate) fn exp_shifted_sum(v: &mut [f32], m: f32) -> f32 {
    map_in_place(v, move |x| exp_fast(x - m));
    // Eight running sums, so the reduction vectorises too.
    let mut acc = [0.0f32; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        acc.iter_mut().zip(c).for_each(|(a, &x)| *a += x);
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// Sign test that also compiles for unsigned types (for integer Mod).
trait Negative {
    fn negative(self) -> bool;
}

macro_rules! negative_impl {
    ($($t:ty => $e:expr),*) => {
        $(impl Negative for $t {
            fn negative(self) -> bool {
                let f: fn($t) -> bool = $e;
                f(self)
            }
        })*
    };
}
negative_impl!(i64 => |v| v < 0, i32 => |v| v < 0, i16 => |v| v < 0, i8 => |v| v < 0, u16 => |_| false, u8 => |_| false);

pub(crate) fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

pub const UNARY_OPS: &[&str] = &[
    "Abs",
    "Neg",
    "Exp",
    "Log",
    "Sqrt",
    "Reciprocal",
    "Sigmoid",
    "Tanh",
    "Relu",
    "Sin",
    "Cos",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Sinh",
    "Cosh",
    "Asinh",
    "Acosh",
    "Atanh",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Erf",
    "Softplus",
    "Softsign",
    "Mish",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Celu",
    "ThresholdedRelu",
    "HardSigmoid",
    "HardSwish",
    "Shrink",
    "Gelu",
    "Swish",
];

pub fn unary(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = node.op_type.as_str();
    // Integer support for the ops where it is meaningful.
    let data = match (&x.data, op) {
        (Data::I64(v), "Abs") => Data::I64(v.iter().map(|x| x.wrapping_abs()).collect()),
        (Data::I32(v), "Abs") => Data::I32(v.iter().map(|x| x.wrapping_abs()).collect()),
        (Data::I64(v), "Neg") => Data::I64(v.iter().map(|x| x.wrapping_neg()).collect()),
        (Data::I32(v), "Neg") => Data::I32(v.iter().map(|x| x.wrapping_neg()).collect()),
        (Data::I64(v), "Sign") => Data::I64(v.iter().map(|x| x.signum()).collect()),
        (Data::I32(v), "Sign") => Data::I32(v.iter().map(|x| x.signum()).collect()),
        (Data::I64(v), "Relu") => Data::I64(v.iter().map(|&x| x.max(0)).collect()),
        (Data::I32(v), "Relu") => Data::I32(v.iter().map(|&x| x.max(0)).collect()),
        (Data::F32(v), "Relu") => Data::F32(map_to(v, |x| x.max(0.0))),
        (Data::F32(v), "Gelu") if node.attr_s("approximate", "none")? != "tanh" => {
            Data::F32(map_to(v, gelu_erf))
        }
        (Data::F32(v), _) => {
            let f = unary_fn(node)?.ok_or_else(|| Error::Unsupported(op.to_string()))?;
            Data::F32(v.iter().map(|&x| f(x)).collect())
        }
        (d, _) => {
            return Err(Error::unsup(
                op,
                format!("unsupported type {:?}", d.dtype()),
            ))
        }
    };
    Ok(vec![Tensor {
        shape: x.shape.clone(),
        data,
    }])
}

pub fn clip(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let bound = |i: usize, attr: &str, dflt: f64| -> Result<f64> {
        if ctx.opset < 11 {
            return Ok(node.attr_f(attr, dflt as f32)? as f64);
        }
        Ok(match opt(ins, i) {
            Some(t) => *t
                .to_f64s()
                .first()
                .ok_or_else(|| Error::op("Clip", "empty bound"))?,
            None => dflt,
        })
    };
    let lo = bound(1, "min", f64::NEG_INFINITY)?;
    let hi = bound(2, "max", f64::INFINITY)?;
    let data = match &x.data {
        Data::F32(v) => Data::F32(v.iter().map(|&x| x.max(lo as f32).min(hi as f32)).collect()),
        Data::I64(v) => Data::I64(
            v.iter()
                .map(|&x| (x as f64).max(lo).min(hi) as i64)
                .collect(),
        ),
        Data::I32(v) => Data::I32(
            v.iter()
                .map(|&x| (x as f64).max(lo).min(hi) as i32)
                .collect(),
        ),
        Data::I8(v) => Data::I8(
            v.iter()
                .map(|&x| (x as f64).max(lo).min(hi) as i8)
                .collect(),
        ),
        Data::U8(v) => Data::U8(
            v.iter()
                .map(|&x| (x as f64).max(lo).min(hi) as u8)
                .collect(),
        ),
        Data::I16(v) => Data::I16(
            v.iter()
                .map(|&x| (x as f64).max(lo).min(hi) as i16)
                .collect(),
        ),
        Data::U16(v) => Data::U16(
            v.iter()
                .map(|&x| (x as f64).max(lo).min(hi) as u16)
                .collect(),
        ),
        d => {
            return Err(Error::unsup(
                "Clip",
                format!("unsupported type {:?}", d.dtype()),
            ))
        }
    };
    Ok(vec![Tensor {
        shape: x.shape.clone(),
        data,
    }])
}

/// Numeric binary op over matching types; separate float and integer
/// expressions so integer paths can avoid overflow/zero-division panics.
macro_rules! arith_arm {
    ($name:expr, $l:expr, $a:expr, $b:expr, $p:expr, $q:expr, $var:ident, |$x:ident, $y:ident| $e:expr) => {{
        let (v, s) = binary($name, $l, $p, &$a.shape, $q, &$b.shape, |$x, $y| $e)?;
        Tensor {
            shape: s,
            data: Data::$var(v),
        }
    }};
}

macro_rules! arith {
    ($name:expr, $ctx:expr, $a:expr, $b:expr, |$x:ident, $y:ident| float: $fe:expr, int: $ie:expr) => {{
        let (a, b): (&Tensor, &Tensor) = ($a, $b);
        let l = $ctx.limits;
        match (&a.data, &b.data) {
            (Data::F32(p), Data::F32(q)) => arith_arm!($name, l, a, b, p, q, F32, |$x, $y| $fe),
            (Data::F64(p), Data::F64(q)) => arith_arm!($name, l, a, b, p, q, F64, |$x, $y| $fe),
            (Data::I64(p), Data::I64(q)) => arith_arm!($name, l, a, b, p, q, I64, |$x, $y| $ie),
            (Data::I32(p), Data::I32(q)) => arith_arm!($name, l, a, b, p, q, I32, |$x, $y| $ie),
            (Data::I8(p), Data::I8(q)) => arith_arm!($name, l, a, b, p, q, I8, |$x, $y| $ie),
            (Data::U8(p), Data::U8(q)) => arith_arm!($name, l, a, b, p, q, U8, |$x, $y| $ie),
            (Data::I16(p), Data::I16(q)) => arith_arm!($name, l, a, b, p, q, I16, |$x, $y| $ie),
            (Data::U16(p), Data::U16(q)) => arith_arm!($name, l, a, b, p, q, U16, |$x, $y| $ie),
            (p, q) => {
                return Err(Error::op(
                    $name,
                    format!("unsupported types {:?}, {:?}", p.dtype(), q.dtype()),
                ))
            }
        }
    }};
}

fn binary_arith(ctx: &Ctx, op: &str, a: &Tensor, b: &Tensor, fmod: bool) -> Result<Tensor> {
    Ok(match op {
        "Add" | "Sum" => arith!(op, ctx, a, b, |x, y| float: x + y, int: x.wrapping_add(y)),
        "Sub" => arith!(op, ctx, a, b, |x, y| float: x - y, int: x.wrapping_sub(y)),
        "Mul" => arith!(op, ctx, a, b, |x, y| float: x * y, int: x.wrapping_mul(y)),
        "Div" => arith!(op, ctx, a, b, |x, y| float: x / y, int: x.checked_div(y).unwrap_or(0)),
        "Max" => {
            arith!(op, ctx, a, b, |x, y| float: if x.is_nan() || x > y { x } else { y }, int: x.max(y))
        }
        "Min" => {
            arith!(op, ctx, a, b, |x, y| float: if x.is_nan() || x < y { x } else { y }, int: x.min(y))
        }
        "Mod" if fmod => {
            arith!(op, ctx, a, b, |x, y| float: x % y, int: x.checked_rem(y).unwrap_or(0))
        }
        "Mod" => {
            arith!(op, ctx, a, b, |x, y| float: { let r = x % y; if r != 0.0 && ((r < 0.0) != (y < 0.0)) { r + y } else { r } },
            int: { let r = x.checked_rem(y).unwrap_or(0); if r != 0 && (r.negative() != y.negative()) { r.wrapping_add(y) } else { r } })
        }
        _ => return Err(Error::Unsupported(op.to_string())),
    })
}

pub fn arith_op(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let a = req(node, ins, 0)?;
    let b = req(node, ins, 1)?;
    let fmod = node.attr_i("fmod", 0)? != 0;
    Ok(vec![binary_arith(ctx, &node.op_type, a, b, fmod)?])
}

/// Max, Min, Sum, Mean over any number of broadcast inputs.
pub fn variadic(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let op = node.op_type.as_str();
    let first = req(node, ins, 0)?;
    let n = ins.iter().flatten().count();
    let base = if op == "Mean" { "Sum" } else { op };
    // The first pair reads its inputs in place: no copy of input 0.
    let mut acc: Option<Tensor> = None;
    for t in ins.iter().skip(1).flatten() {
        acc = Some(binary_arith(
            ctx,
            base,
            acc.as_ref().unwrap_or(first),
            t,
            false,
        )?);
    }
    let mut acc = acc.unwrap_or_else(|| first.clone());
    if op == "Mean" {
        acc = match acc.data {
            Data::F32(v) => Tensor {
                data: Data::F32(v.into_iter().map(|x| x / n as f32).collect()),
                shape: acc.shape,
            },
            d => {
                return Err(Error::unsup(
                    op,
                    format!("unsupported type {:?}", d.dtype()),
                ))
            }
        };
    }
    Ok(vec![acc])
}

pub fn pow(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let a = req(node, ins, 0)?;
    let b = req(node, ins, 1)?;
    let l = ctx.limits;
    let out = match &a.data {
        Data::F32(x) => {
            let e: Vec<f32> = match &b.data {
                Data::F32(v) => v.clone(),
                _ => b.to_f64s().into_iter().map(|v| v as f32).collect(),
            };
            let (v, s) = binary("Pow", l, x, &a.shape, &e, &b.shape, f32::powf)?;
            Tensor::new(s, Data::F32(v))?
        }
        Data::I64(_) | Data::I32(_) => {
            let (x, e) = (a.to_f64s(), b.to_f64s());
            let (v, s) = binary("Pow", l, &x, &a.shape, &e, &b.shape, f64::powf)?;
            let data = if let Data::I64(_) = a.data {
                Data::I64(v.into_iter().map(|f| f as i64).collect())
            } else {
                Data::I32(v.into_iter().map(|f| f as i32).collect())
            };
            Tensor::new(s, data)?
        }
        d => {
            return Err(Error::unsup(
                "Pow",
                format!("unsupported type {:?}", d.dtype()),
            ))
        }
    };
    Ok(vec![out])
}

pub fn prelu(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let mut s = req(node, ins, 1)?.clone();
    // Opset < 7 slopes are per-channel vectors; align them with axis 1.
    if s.rank() == 1 && x.rank() > 2 && s.len() == x.shape[1] && s.len() != x.shape[x.rank() - 1] {
        s.shape = vec![s.len()];
        s.shape.extend(std::iter::repeat_n(1, x.rank() - 2));
    }
    let (v, sh) = binary(
        "PRelu",
        ctx.limits,
        x.f32s("PRelu")?,
        &x.shape,
        s.f32s("PRelu")?,
        &s.shape,
        |x, a| if x < 0.0 { a * x } else { x },
    )?;
    Ok(vec![Tensor::new(sh, Data::F32(v))?])
}

pub fn compare(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let a = req(node, ins, 0)?;
    let b = req(node, ins, 1)?;
    let op = node.op_type.as_str();
    macro_rules! cmp {
        ($p:expr, $q:expr) => {{
            let (v, s) = match op {
                "Equal" => binary(op, ctx.limits, $p, &a.shape, $q, &b.shape, |x, y| x == y)?,
                "Less" => binary(op, ctx.limits, $p, &a.shape, $q, &b.shape, |x, y| x < y)?,
                "Greater" => binary(op, ctx.limits, $p, &a.shape, $q, &b.shape, |x, y| x > y)?,
                "LessOrEqual" => binary(op, ctx.limits, $p, &a.shape, $q, &b.shape, |x, y| x <= y)?,
                "GreaterOrEqual" => {
                    binary(op, ctx.limits, $p, &a.shape, $q, &b.shape, |x, y| x >= y)?
                }
                _ => return Err(Error::Unsupported(op.to_string())),
            };
            Tensor::new(s, Data::Bool(v))?
        }};
    }
    let t = match (&a.data, &b.data) {
        (Data::F32(p), Data::F32(q)) => cmp!(p, q),
        (Data::F64(p), Data::F64(q)) => cmp!(p, q),
        (Data::I64(p), Data::I64(q)) => cmp!(p, q),
        (Data::I32(p), Data::I32(q)) => cmp!(p, q),
        (Data::I8(p), Data::I8(q)) => cmp!(p, q),
        (Data::U8(p), Data::U8(q)) => cmp!(p, q),
        (Data::I16(p), Data::I16(q)) => cmp!(p, q),
        (Data::U16(p), Data::U16(q)) => cmp!(p, q),
        (Data::Bool(p), Data::Bool(q)) => cmp!(p, q),
        (p, q) => {
            return Err(Error::op(
                op,
                format!("unsupported types {:?}, {:?}", p.dtype(), q.dtype()),
            ))
        }
    };
    Ok(vec![t])
}

fn bools<'a>(op: &str, t: &'a Tensor) -> Result<&'a [bool]> {
    match &t.data {
        Data::Bool(v) => Ok(v),
        d => Err(Error::op(op, format!("expected bool, got {:?}", d.dtype()))),
    }
}

pub fn logic(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let op = node.op_type.as_str();
    let a = req(node, ins, 0)?;
    if op == "Not" {
        let v = bools(op, a)?.iter().map(|x| !x).collect();
        return Ok(vec![Tensor::new(a.shape.clone(), Data::Bool(v))?]);
    }
    let b = req(node, ins, 1)?;
    let (p, q) = (bools(op, a)?, bools(op, b)?);
    let f: fn(bool, bool) -> bool = match op {
        "And" => |x, y| x && y,
        "Or" => |x, y| x || y,
        "Xor" => |x, y| x ^ y,
        _ => return Err(Error::Unsupported(op.to_string())),
    };
    let (v, s) = binary(op, ctx.limits, p, &a.shape, q, &b.shape, f)?;
    Ok(vec![Tensor::new(s, Data::Bool(v))?])
}

pub fn is_nan_inf(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let v = x.f32s(&node.op_type)?;
    let out: Vec<bool> = if node.op_type == "IsNaN" {
        v.iter().map(|x| x.is_nan()).collect()
    } else {
        let pos = node.attr_i("detect_positive", 1)? != 0;
        let neg = node.attr_i("detect_negative", 1)? != 0;
        v.iter()
            .map(|&x| x.is_infinite() && ((x > 0.0 && pos) || (x < 0.0 && neg)))
            .collect()
    };
    Ok(vec![Tensor::new(x.shape.clone(), Data::Bool(out))?])
}

pub fn where_op(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let c = req(node, ins, 0)?;
    let x = req(node, ins, 1)?;
    let y = req(node, ins, 2)?;
    let cond = bools("Where", c)?;
    let out = broadcast_shapes("Where", &[&c.shape, &x.shape, &y.shape])?;
    ctx.limits.check_shape(&out, x.dtype().size())?;
    let cb = broadcast_to(cond, &c.shape, &out);
    macro_rules! sel {
        ($p:expr, $q:expr, $var:ident) => {{
            let p = broadcast_to($p, &x.shape, &out);
            let q = broadcast_to($q, &y.shape, &out);
            Data::$var(
                cb.iter()
                    .zip(p.into_iter().zip(q))
                    .map(|(&c, (a, b))| if c { a } else { b })
                    .collect(),
            )
        }};
    }
    let data = match (&x.data, &y.data) {
        (Data::F32(p), Data::F32(q)) => sel!(p, q, F32),
        (Data::F64(p), Data::F64(q)) => sel!(p, q, F64),
        (Data::I64(p), Data::I64(q)) => sel!(p, q, I64),
        (Data::I32(p), Data::I32(q)) => sel!(p, q, I32),
        (Data::I8(p), Data::I8(q)) => sel!(p, q, I8),
        (Data::U8(p), Data::U8(q)) => sel!(p, q, U8),
        (Data::I16(p), Data::I16(q)) => sel!(p, q, I16),
        (Data::U16(p), Data::U16(q)) => sel!(p, q, U16),
        (Data::Bool(p), Data::Bool(q)) => sel!(p, q, Bool),
        _ => return Err(Error::op("Where", "branches have different types")),
    };
    Ok(vec![Tensor::new(out, data)?])
}

/// BitwiseAnd/Or/Xor/Not on integer tensors.
pub fn bitwise(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let op = node.op_type.as_str();
    let a = req(node, ins, 0)?;
    if op == "BitwiseNot" {
        let data = match &a.data {
            Data::I64(v) => Data::I64(v.iter().map(|x| !x).collect()),
            Data::I32(v) => Data::I32(v.iter().map(|x| !x).collect()),
            Data::I8(v) => Data::I8(v.iter().map(|x| !x).collect()),
            Data::U8(v) => Data::U8(v.iter().map(|x| !x).collect()),
            Data::I16(v) => Data::I16(v.iter().map(|x| !x).collect()),
            Data::U16(v) => Data::U16(v.iter().map(|x| !x).collect()),
            d => {
                return Err(Error::unsup(
                    op,
                    format!("unsupported type {:?}", d.dtype()),
                ))
            }
        };
        return Ok(vec![Tensor::new(a.shape.clone(), data)?]);
    }
    let b = req(node, ins, 1)?;
    macro_rules! bits {
        ($p:expr, $q:expr, $var:ident) => {{
            let (v, sh) = match op {
                "BitwiseAnd" => binary(op, ctx.limits, $p, &a.shape, $q, &b.shape, |x, y| x & y)?,
                "BitwiseOr" => binary(op, ctx.limits, $p, &a.shape, $q, &b.shape, |x, y| x | y)?,
                _ => binary(op, ctx.limits, $p, &a.shape, $q, &b.shape, |x, y| x ^ y)?,
            };
            Tensor::new(sh, Data::$var(v))?
        }};
    }
    Ok(vec![match (&a.data, &b.data) {
        (Data::I64(p), Data::I64(q)) => bits!(p, q, I64),
        (Data::I32(p), Data::I32(q)) => bits!(p, q, I32),
        (Data::I8(p), Data::I8(q)) => bits!(p, q, I8),
        (Data::U8(p), Data::U8(q)) => bits!(p, q, U8),
        (Data::I16(p), Data::I16(q)) => bits!(p, q, I16),
        (Data::U16(p), Data::U16(q)) => bits!(p, q, U16),
        (p, q) => {
            return Err(Error::unsup(
                op,
                format!("types {:?}, {:?}", p.dtype(), q.dtype()),
            ))
        }
    }])
}

#[cfg(test)]
mod fast_math_tests {
    use super::{exp_fast, exp_shifted_sum, gelu_erf, map_to};

    #[test]
    fn exp_fast_matches_std() {
        let mut x = -110.0f32;
        while x < 90.0 {
            let (got, want) = (exp_fast(x), x.exp());
            if want.is_infinite() {
                assert!(got.is_infinite() || got > 3.0e38, "exp({x}) = {got}");
            } else if want >= f32::MIN_POSITIVE {
                assert!(
                    (got - want).abs() <= 4.0 * f32::EPSILON * want,
                    "exp({x}) = {got}, want {want}"
                );
            } else {
                assert!((got - want).abs() <= 1e-44, "exp({x}) = {got}, want {want}");
            }
            x += 0.0137;
        }
        assert!(exp_fast(f32::NAN).is_nan());
        assert_eq!(exp_fast(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_fast(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_fast(0.0), 1.0);
    }

    #[test]
    fn slices_match_scalar() {
        let v: Vec<f32> = (0..1003).map(|i| (i as f32 - 500.0) * 0.013).collect();
        let want: Vec<f32> = v.iter().map(|&x| gelu_erf(x)).collect();
        assert_eq!(map_to(&v, gelu_erf), want);
        let mut r: Vec<f32> = (0..37).map(|i| i as f32 * 0.1).collect();
        let s = exp_shifted_sum(&mut r, 3.6);
        let want: f32 = (0..37).map(|i| (i as f32 * 0.1 - 3.6).exp()).sum();
        assert!((s - want).abs() < 1e-5 * want);
    }
}
