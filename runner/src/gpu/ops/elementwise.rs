//! Element-wise operators: unary expressions, Clip, broadcasting binary
//! and variadic arithmetic, Where.

use super::{host, one, Outs};
use crate::cpu::broadcast::{broadcast_shapes, broadcast_strides};
use crate::cpu::{self, Ctx};
use crate::error::Result;
use crate::gpu::{wgsl, GVal, GpuBackend, GpuTensor};
use crate::model::Node;
use crate::tensor::{numel, Data, DataType, Tensor};

/// WGSL float literal; non-finite attribute values have no GPU path.
fn lit(v: f32) -> Option<String> {
    v.is_finite().then(|| format!("({v:?})"))
}

fn unary_expr(node: &Node) -> Result<Option<String>> {
    let a = |n: &str, d: f32| -> Result<Option<String>> { Ok(lit(node.attr_f(n, d)?)) };
    macro_rules! p {
        ($e:expr) => {
            match $e {
                Some(v) => v,
                None => return Ok(None),
            }
        };
    }
    Ok(Some(match node.op_type.as_str() {
        "Abs" => "abs(x)".into(),
        "Neg" => "(-x)".into(),
        "Exp" => "exp(x)".into(),
        "Log" => "log(x)".into(),
        "Sqrt" => "sqrt(x)".into(),
        "Reciprocal" => "(1.0 / x)".into(),
        "Sigmoid" => "sigmoid_f(x)".into(),
        "Tanh" => "tanh_f(x)".into(),
        "Relu" => "max(x, 0.0)".into(),
        "Sin" => "sin(x)".into(),
        "Cos" => "cos(x)".into(),
        "Tan" => "tan(x)".into(),
        "Asin" => "asin(x)".into(),
        "Acos" => "acos(x)".into(),
        "Atan" => "atan(x)".into(),
        "Sinh" => "sinh(x)".into(),
        "Cosh" => "cosh(x)".into(),
        "Asinh" => "asinh(x)".into(),
        "Acosh" => "acosh(x)".into(),
        "Atanh" => "atanh(x)".into(),
        "Floor" => "floor(x)".into(),
        "Ceil" => "ceil(x)".into(),
        "Round" => "round(x)".into(),
        "Sign" => "sign(x)".into(),
        "Erf" => "erf_f(x)".into(),
        "Softplus" => "softplus_f(x)".into(),
        "Softsign" => "(x / (1.0 + abs(x)))".into(),
        "Mish" => "(x * tanh_f(softplus_f(x)))".into(),
        "HardSwish" => "(x * clamp(x / 6.0 + 0.5, 0.0, 1.0))".into(),
        "Swish" => format!("(x * sigmoid_f({} * x))", p!(a("alpha", 1.0)?)),
        "LeakyRelu" => format!("select(x, {} * x, x < 0.0)", p!(a("alpha", 0.01)?)),
        "Elu" => format!("select(x, {} * expm1_f(x), x < 0.0)", p!(a("alpha", 1.0)?)),
        "Selu" => {
            let (al, g) = (p!(a("alpha", 1.673_263_2)?), p!(a("gamma", 1.050_701)?));
            format!("select({g} * x, {g} * {al} * expm1_f(x), x <= 0.0)")
        }
        "Celu" => {
            let al = p!(a("alpha", 1.0)?);
            format!("(max(x, 0.0) + min(0.0, {al} * expm1_f(x / {al})))")
        }
        "ThresholdedRelu" => format!("select(0.0, x, x > {})", p!(a("alpha", 1.0)?)),
        "HardSigmoid" => format!(
            "clamp({} * x + {}, 0.0, 1.0)",
            p!(a("alpha", 0.2)?),
            p!(a("beta", 0.5)?)
        ),
        "Shrink" => {
            let (b, l) = (p!(a("bias", 0.0)?), p!(a("lambd", 0.5)?));
            format!("select(select(0.0, x - {b}, x > {l}), x + {b}, x < -{l})")
        }
        "Gelu" => {
            if node.attr_s("approximate", "none")? == "tanh" {
                "(0.5 * x * (1.0 + tanh_f(0.7978845608 * (x + 0.044715 * x * x * x))))".into()
            } else {
                "(0.5 * x * (1.0 + erf_f(x * 0.7071067812)))".into()
            }
        }
        _ => return Ok(None),
    }))
}

fn binary_expr(node: &Node) -> Result<Option<&'static str>> {
    Ok(Some(match node.op_type.as_str() {
        "Add" | "Sum" | "Mean" => "v0 + v1",
        "Sub" => "v0 - v1",
        "Mul" => "v0 * v1",
        "Div" => "v0 / v1",
        "Pow" => "pow_f(v0, v1)",
        "Max" => "max(v0, v1)",
        "Min" => "min(v0, v1)",
        "Mod" if node.attr_i("fmod", 0)? != 0 => "fmod_f(v0, v1)",
        "PRelu" => "select(v0, v0 * v1, v0 < 0.0)",
        _ => return Ok(None),
    }))
}

impl GpuBackend {
    pub(super) fn unary(&mut self, expr: &str, x: &GpuTensor) -> Result<GpuTensor> {
        let n = x.len();
        let out = self.alloc(n)?;
        if n > 0 {
            let pipe = self.pipeline(&format!("u:{expr}"), || wgsl::unary(expr))?;
            let (gx, gy, w) = self.grid(n)?;
            let prm = [w, n as u32];
            self.dispatch(&pipe, &prm, &[&x.buf, &out], (gx, gy, 1))?;
        }
        Ok(GpuTensor {
            buf: out,
            shape: x.shape.clone(),
        })
    }

    pub(super) fn nary(
        &mut self,
        ctx: &Ctx,
        op: &str,
        expr: &str,
        xs: &[&GpuTensor],
    ) -> Result<GpuTensor> {
        let shapes: Vec<&[usize]> = xs.iter().map(|t| t.shape.as_slice()).collect();
        let out_shape = broadcast_shapes(op, &shapes)?;
        ctx.limits.check_shape(&out_shape, 4)?;
        let n = numel(&out_shape);
        let out = self.alloc(n)?;
        if n > 0 {
            let same = shapes.iter().all(|s| *s == out_shape.as_slice());
            let key = format!("n{}{}:{expr}", xs.len(), same);
            let pipe = self.pipeline(&key, || wgsl::nary(xs.len(), expr, same))?;
            let (gx, gy, w) = self.grid(n)?;
            let mut prm = vec![w, n as u32, out_shape.len() as u32];
            prm.extend(out_shape.iter().map(|&d| d as u32));
            for s in &shapes {
                prm.extend(broadcast_strides(s, &out_shape).iter().map(|&d| d as u32));
            }
            let mut bufs: Vec<&wgpu::Buffer> = xs.iter().map(|t| t.buf.as_ref()).collect();
            bufs.push(&out);
            self.dispatch(&pipe, &prm, &bufs, (gx, gy, 1))?;
        }
        Ok(GpuTensor {
            buf: out,
            shape: out_shape,
        })
    }
}

pub(super) fn run<'m>(
    gpu: &mut GpuBackend,
    ctx: &Ctx,
    node: &Node,
    ins: &[Option<GVal<'m>>],
) -> Result<Outs<'m>> {
    let op = node.op_type.as_str();
    let x = some!(ins.first().and_then(|v| v.as_ref()));
    match op {
        _ if crate::cpu::elementwise::UNARY_OPS.contains(&op) => {
            let expr = some!(unary_expr(node)?);
            let t = gpu.on_gpu(x)?;
            one(gpu.unary(&expr, &t)?)
        }
        "Clip" => {
            let (lo, hi) = if ctx.opset < 11 {
                (
                    node.attr_f("min", f32::NEG_INFINITY)?,
                    node.attr_f("max", f32::INFINITY)?,
                )
            } else {
                let v = |i| -> Option<f32> {
                    match host(ins.get(i))? {
                        None => Some(f32::NAN),
                        Some(t) => t.to_f64s().first().map(|&v| v as f32),
                    }
                };
                let (lo, hi) = (some!(v(1)), some!(v(2)));
                (
                    if lo.is_nan() { f32::NEG_INFINITY } else { lo },
                    if hi.is_nan() { f32::INFINITY } else { hi },
                )
            };
            let mut expr = "x".to_string();
            if let Some(l) = lit(lo) {
                expr = format!("max({expr}, {l})");
            }
            if let Some(h) = lit(hi) {
                expr = format!("min({expr}, {h})");
            }
            let t = gpu.on_gpu(x)?;
            one(gpu.unary(&expr, &t)?)
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Mod" | "Max" | "Min" | "Sum" | "Mean"
        | "PRelu" => {
            let expr = some!(binary_expr(node)?);
            let mut ts = Vec::new();
            for (k, v) in ins.iter().flatten().enumerate() {
                match v {
                    // Integer exponents are exact in f32 for Pow's purposes.
                    _ if op == "Pow" && k == 1 && !v.is_f32() => match v.host() {
                        Some(t) => ts.push(gpu.upload(&cpu::misc::cast_tensor(t, DataType::F32))?),
                        None => return Ok(None),
                    },
                    _ if !v.is_f32() => return Ok(None),
                    _ => ts.push(gpu.on_gpu(v)?),
                }
            }
            if op == "PRelu" && ts.len() == 2 {
                // Per-channel slopes of old opsets, as on the CPU.
                let (xs, s) = (&ts[0].shape, &ts[1].shape);
                if s.len() == 1 && xs.len() > 2 && s[0] == xs[1] && s[0] != xs[xs.len() - 1] {
                    let mut sh = vec![s[0]];
                    sh.extend(std::iter::repeat_n(1, xs.len() - 2));
                    ts[1].shape = sh;
                }
            }
            let mut acc = ts[0].clone();
            for t in &ts[1..] {
                acc = gpu.nary(ctx, op, expr, &[&acc, t])?;
            }
            if op == "Mean" && ts.len() > 1 {
                acc = gpu.unary(
                    &format!("(x * {})", some!(lit(1.0 / ts.len() as f32))),
                    &acc,
                )?;
            }
            one(acc)
        }
        "Where" => {
            let c = some!(host(ins.first()).flatten());
            let cond = match &c.data {
                Data::Bool(v) => v.iter().map(|&b| b as u8 as f32).collect(),
                _ => return Ok(None),
            };
            let (xv, yv) = (
                some!(ins.get(1).and_then(|v| v.as_ref())),
                some!(ins.get(2).and_then(|v| v.as_ref())),
            );
            if !xv.is_f32() || !yv.is_f32() {
                return Ok(None);
            }
            let ct = gpu.upload(&Tensor::new(c.shape.clone(), Data::F32(cond))?)?;
            let (xt, yt) = (gpu.on_gpu(xv)?, gpu.on_gpu(yv)?);
            one(gpu.nary(ctx, op, "select(v2, v1, v0 != 0.0)", &[&ct, &xt, &yt])?)
        }
        _ => Ok(None),
    }
}
