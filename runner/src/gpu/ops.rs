//! Mapping of ONNX nodes onto the WGSL kernels. `run` returns `Ok(None)`
//! when a node has no GPU path for these inputs; the executor then runs the
//! CPU kernel instead.

use super::{wgsl, GVal, GpuBackend, GpuTensor};
use crate::cpu::broadcast::{broadcast_shapes, broadcast_strides};
use crate::cpu::{self, Ctx};
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::{numel, Data, DataType, Tensor};

type Outs<'m> = Option<Vec<GVal<'m>>>;

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
    pub(super) fn on_gpu(&mut self, v: &GVal) -> Result<GpuTensor> {
        match v {
            GVal::Gpu(t) => Ok(t.clone()),
            GVal::Host(t) => self.upload(t),
            GVal::Const(id, t) => self.constant(*id, t),
            GVal::Seq(_) => Err(Error::Backend("a sequence cannot be uploaded".into())),
        }
    }

    fn unary(&mut self, expr: &str, x: &GpuTensor) -> Result<GpuTensor> {
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

    fn nary(&mut self, ctx: &Ctx, op: &str, expr: &str, xs: &[&GpuTensor]) -> Result<GpuTensor> {
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

    /// Concat whose inputs are whole blocks of the output (every dimension
    /// before the axis is 1, as for channels of one image): buffer copies
    /// instead of an index map. `None` leaves other cases, and the errors of
    /// mismatched shapes, to the general path.
    fn concat_contiguous(
        &mut self,
        node: &Node,
        ins: &[Option<GVal>],
    ) -> Result<Option<GpuTensor>> {
        let vals: Vec<&GVal> = ins.iter().flatten().collect();
        let Some(first) = vals.first() else {
            return Ok(None);
        };
        if vals.len() != ins.len() || !vals.iter().all(|v| v.is_f32()) {
            return Ok(None);
        }
        let rank = first.shape().len() as i64;
        let axis = node.attr_i("axis", 0)?;
        if rank == 0 || !(-rank..rank).contains(&axis) {
            return Ok(None);
        }
        let axis = axis.rem_euclid(rank) as usize;
        let mut shape = first.shape().to_vec();
        shape[axis] = 0;
        for v in &vals {
            let s = v.shape();
            let others_match = s.len() == shape.len()
                && s.iter()
                    .zip(&shape)
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b);
            if !others_match {
                return Ok(None);
            }
            shape[axis] += s[axis];
        }
        if shape[..axis].iter().product::<usize>() != 1 {
            return Ok(None);
        }
        let parts: Vec<GpuTensor> = vals.iter().map(|v| self.on_gpu(v)).collect::<Result<_>>()?;
        let refs: Vec<&GpuTensor> = parts.iter().collect();
        Ok(Some(GpuTensor {
            buf: self.concat_buffers(&refs)?,
            shape,
        }))
    }

    /// Gather of float data with indices known on the host (an embedding
    /// lookup): the kernel reads the indices directly, where an index map
    /// would be as large as the table. `None` leaves out-of-range indices,
    /// and their error, to the general path.
    fn gather_host_indices(
        &mut self,
        node: &Node,
        ins: &[Option<GVal>],
    ) -> Result<Option<GpuTensor>> {
        let (Some(Some(data)), Some(Some(indices))) = (ins.first(), ins.get(1)) else {
            return Ok(None);
        };
        let (true, Some(indices)) = (data.is_f32(), indices.host()) else {
            return Ok(None);
        };
        let shape = data.shape();
        let rank = shape.len() as i64;
        let axis = node.attr_i("axis", 0)?;
        if rank == 0 || !(-rank..rank).contains(&axis) {
            return Ok(None);
        }
        let axis = axis.rem_euclid(rank) as usize;
        let d = shape[axis];
        let mut idx = Vec::with_capacity(indices.len());
        for i in indices.to_i64s("Gather")? {
            let i = if i < 0 { i + d as i64 } else { i };
            if !(0..d as i64).contains(&i) {
                return Ok(None);
            }
            idx.push(i as u32);
        }
        let inner: usize = shape[axis + 1..].iter().product();
        let mut out_shape = shape[..axis].to_vec();
        out_shape.extend(&indices.shape);
        out_shape.extend(&shape[axis + 1..]);
        let n = numel(&out_shape);
        let x = self.on_gpu(data)?;
        let out = self.alloc(n)?;
        if n > 0 {
            let idx = self.words(&idx)?;
            let (gx, gy, w) = self.grid(n)?;
            let prm = [w, n as u32, inner as u32, indices.len() as u32, d as u32];
            let pipe = self.pipeline("gather-rows", wgsl::gather_rows)?;
            self.dispatch(&pipe, &prm, &[&x.buf, &idx, &out], (gx, gy, 1))?;
        }
        Ok(Some(GpuTensor {
            buf: out,
            shape: out_shape,
        }))
    }

    /// Runs a data-movement op by evaluating the CPU kernel on tensors of
    /// element indices, then gathering on the GPU with that index map.
    fn index_mapped(
        &mut self,
        ctx: &Ctx,
        node: &Node,
        ins: &[Option<GVal>],
        data_inputs: &[usize],
        fill: f32,
    ) -> Result<Outs<'static>> {
        let mut idx_ins: Vec<Option<Tensor>> = Vec::with_capacity(ins.len());
        let mut parts: Vec<GpuTensor> = Vec::new();
        let mut base = 1i64;
        for (k, v) in ins.iter().enumerate() {
            idx_ins.push(match v {
                None => None,
                Some(v) if data_inputs.contains(&k) => {
                    if !v.is_f32() {
                        return Ok(None);
                    }
                    let n = numel(v.shape());
                    let t = Tensor::new(
                        v.shape().to_vec(),
                        Data::I64((base..base + n as i64).collect()),
                    )?;
                    base += n as i64;
                    parts.push(self.on_gpu(v)?);
                    Some(t)
                }
                Some(v) => match v.host() {
                    Some(t) => Some(t.clone()),
                    None => return Ok(None),
                },
            });
        }
        if base > u32::MAX as i64 {
            return Ok(None);
        }
        let mut node = node.clone();
        if node.op_type == "Pad" {
            // The pad value becomes index 0, which the kernel maps to `fill`.
            node.attrs.retain(|(k, _)| k != "value");
            if idx_ins.len() > 2 && idx_ins[2].is_some() {
                idx_ins[2] = Some(Tensor::from_i64(vec![], vec![0])?);
            }
        }
        let refs: Vec<Option<&Tensor>> = idx_ins.iter().map(|t| t.as_ref()).collect();
        let maps = cpu::run_node(ctx, &node, &refs)?;
        let src = if parts.len() == 1 {
            parts[0].buf.clone()
        } else {
            let p: Vec<&GpuTensor> = parts.iter().collect();
            self.concat_buffers(&p)?
        };
        let pipe = self.pipeline("gather", wgsl::gather)?;
        let mut outs = Vec::with_capacity(maps.len());
        for m in maps {
            let ids = m.to_i64s(&node.op_type)?;
            let n = ids.len();
            let out = self.alloc(n)?;
            if n > 0 {
                let words: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
                let idx = self.words(&words)?;
                let (gx, gy, w) = self.grid(n)?;
                let prm = [w, n as u32, fill.to_bits()];
                self.dispatch(&pipe, &prm, &[&src, &idx, &out], (gx, gy, 1))?;
            }
            outs.push(GVal::Gpu(GpuTensor {
                buf: out,
                shape: m.shape,
            }));
        }
        Ok(Some(outs))
    }

    /// Output shape of a metadata-only op (Reshape & co.), from the CPU
    /// kernel applied to a byte-sized stand-in of the input.
    fn reshaped<'m>(
        &mut self,
        ctx: &Ctx,
        node: &Node,
        ins: &[Option<GVal<'m>>],
    ) -> Result<Outs<'m>> {
        let Some(Some(GVal::Gpu(x))) = ins.first() else {
            return Ok(None);
        };
        let mut host: Vec<Option<Tensor>> = vec![Some(Tensor::new(
            x.shape.clone(),
            Data::U8(vec![0; x.len()]),
        )?)];
        for v in &ins[1..] {
            host.push(match v {
                None => None,
                Some(v) => match v.host() {
                    Some(t) => Some(t.clone()),
                    None => return Ok(None),
                },
            });
        }
        let refs: Vec<Option<&Tensor>> = host.iter().map(|t| t.as_ref()).collect();
        let outs = cpu::run_node(ctx, node, &refs)?;
        let Some(first) = outs.first() else {
            return Ok(None);
        };
        if outs.len() > 1 && node.outputs.iter().skip(1).any(Option::is_some) {
            return Ok(None);
        }
        Ok(Some(vec![GVal::Gpu(GpuTensor {
            buf: x.buf.clone(),
            shape: first.shape.clone(),
        })]))
    }

    /// Generic reduction over `axes` with the given kernel kind.
    fn reduce(
        &mut self,
        ctx: &Ctx,
        x: &GpuTensor,
        axes: &[usize],
        keep: bool,
        kind: u32,
    ) -> Result<GpuTensor> {
        let r = x.shape.len();
        let red: Vec<bool> = (0..r).map(|d| axes.contains(&d)).collect();
        let st = cpu::shape::strides(&x.shape);
        let kept: Vec<usize> = x
            .shape
            .iter()
            .zip(&red)
            .map(|(&d, &rd)| if rd { 1 } else { d })
            .collect();
        let rshape: Vec<usize> = x
            .shape
            .iter()
            .zip(&red)
            .map(|(&d, &rd)| if rd { d } else { 1 })
            .collect();
        let n_out = numel(&kept);
        let cnt = numel(&rshape);
        ctx.limits.check_shape(&[n_out + cnt], 4)?;
        let mut table: Vec<u32> = Vec::with_capacity(n_out + cnt);
        cpu::shape::for_each_multi(&kept, |m| {
            table.push(m.iter().zip(&st).map(|(i, s)| i * s).sum::<usize>() as u32)
        });
        cpu::shape::for_each_multi(&rshape, |m| {
            table.push(m.iter().zip(&st).map(|(i, s)| i * s).sum::<usize>() as u32)
        });
        let shape = if keep {
            kept
        } else {
            x.shape
                .iter()
                .zip(&red)
                .filter(|(_, &rd)| !rd)
                .map(|(&d, _)| d)
                .collect()
        };
        let out = self.alloc(n_out)?;
        if n_out > 0 {
            let pipe = self.pipeline("reduce", wgsl::reduce)?;
            let idx = self.words(&table)?;
            let (gx, gy, w) = self.grid(n_out)?;
            let prm = [w, n_out as u32, cnt as u32, kind];
            self.dispatch(&pipe, &prm, &[&x.buf, &idx, &out], (gx, gy, 1))?;
        }
        Ok(GpuTensor { buf: out, shape })
    }

    /// Conv / ConvTranspose / pooling geometry words for up to 3 spatial
    /// dims (lower ranks are padded with unit dims at the front).
    #[allow(clippy::too_many_arguments)]
    fn geom_words(
        w: u32,
        n_out: usize,
        nb: usize,
        cin: usize,
        cout: usize,
        g: usize,
        sp: &[usize],
        out: &[usize],
        k: &[usize],
        s: &[usize],
        d: &[usize],
        p: &[usize],
    ) -> Option<Vec<u32>> {
        let pad3 = |v: &[usize], fill: usize| -> Option<Vec<u32>> {
            if v.len() > 3 {
                return None;
            }
            let mut r = vec![fill as u32; 3 - v.len()];
            r.extend(v.iter().map(|&x| x as u32));
            Some(r)
        };
        let mut words = vec![
            w,
            n_out as u32,
            nb as u32,
            cin as u32,
            cout as u32,
            g as u32,
        ];
        words.extend(pad3(sp, 1)?);
        words.extend(pad3(out, 1)?);
        words.extend(pad3(k, 1)?);
        words.extend(pad3(s, 1)?);
        words.extend(pad3(d, 1)?);
        words.extend(pad3(p, 0)?);
        Some(words)
    }
}

fn host<'a>(v: Option<&'a Option<GVal>>) -> Option<Option<&'a Tensor>> {
    match v {
        None | Some(None) => Some(None),
        Some(Some(v)) => v.host().map(Some),
    }
}

fn only_first_output(node: &Node) -> bool {
    node.outputs.iter().skip(1).all(Option::is_none)
}

/// Executes `node` on the GPU, or returns `Ok(None)` for the CPU fallback.
pub(super) fn run<'m>(
    gpu: &mut GpuBackend,
    ctx: &Ctx,
    node: &Node,
    ins: &[Option<GVal<'m>>],
) -> Result<Outs<'m>> {
    let fused = node.domain == crate::optimize::FUSED_DOMAIN;
    if !(node.domain.is_empty() || node.domain == "ai.onnx" || fused) {
        return Ok(None);
    }
    let op = node.op_type.as_str();
    let x = match ins.first() {
        Some(Some(v)) => v,
        _ => return Ok(None),
    };
    // Everything below computes float32 data.
    let f32_data = ins.iter().flatten().next().is_some_and(GVal::is_f32);
    macro_rules! some {
        ($e:expr) => {
            match $e {
                Some(v) => v,
                None => return Ok(None),
            }
        };
    }
    let one = |t: GpuTensor| Ok(Some(vec![GVal::Gpu(t)]));
    match op {
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Identity"
            if matches!(x, GVal::Gpu(_)) =>
        {
            gpu.reshaped(ctx, node, ins)
        }
        "Shape" | "Size" if matches!(x, GVal::Gpu(_)) => {
            // Only the shape is read: answer from metadata, no download.
            let stand_in = Tensor::new(x.shape().to_vec(), Data::U8(vec![0; numel(x.shape())]))?;
            Ok(Some(
                cpu::run_node(ctx, node, &[Some(&stand_in)])?
                    .into_iter()
                    .map(GVal::Host)
                    .collect(),
            ))
        }
        "Dropout" if matches!(x, GVal::Gpu(_)) && only_first_output(node) => {
            gpu.reshaped(ctx, node, ins)
        }
        "Cast" | "CastLike" if f32_data => {
            let target = if op == "CastLike" {
                some!(ins.get(1).and_then(|v| v.as_ref())).is_f32()
            } else {
                // (Cast-1's string `to` takes the CPU kernel.)
                DataType::from_onnx(node.attr_i("to", 0).unwrap_or(0) as i32) == Some(DataType::F32)
            };
            if target {
                Ok(Some(vec![x.clone()]))
            } else {
                Ok(None)
            }
        }
        _ if !f32_data => Ok(None),
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
        "MatMul" if !fused => {
            let b = some!(ins.get(1).and_then(|v| v.as_ref()));
            if !b.is_f32() {
                return Ok(None);
            }
            let (a, b) = (gpu.on_gpu(x)?, gpu.on_gpu(b)?);
            one(gpu.matmul(ctx, &a, &b, None)?)
        }
        "MatMulAdd" if fused => {
            let (b, bias) = (
                some!(ins.get(1).and_then(|v| v.as_ref())),
                some!(ins.get(2).and_then(|v| v.as_ref())),
            );
            if !b.is_f32() || !bias.is_f32() {
                return Ok(None);
            }
            let (a, b, bias) = (gpu.on_gpu(x)?, gpu.on_gpu(b)?, gpu.on_gpu(bias)?);
            one(gpu.matmul(ctx, &a, &b, Some(&bias))?)
        }
        _ if fused && op != "Conv" => Ok(None),
        "Gemm" => {
            let b = some!(ins.get(1).and_then(|v| v.as_ref()));
            let (a, b) = (gpu.on_gpu(x)?, gpu.on_gpu(b)?);
            let c = ins.get(2).and_then(|v| v.as_ref());
            one(gpu.gemm_node(ctx, node, &a, &b, c)?)
        }
        "Softmax" | "LogSoftmax" | "Hardmax" => {
            let t = gpu.on_gpu(x)?;
            let r = t.shape.len();
            let (rows, d, inner) = if ctx.opset < 13 {
                let mut a = node.attr_i("axis", 1)?;
                if a < 0 {
                    a += r as i64;
                }
                if a < 0 || a > r as i64 {
                    return Err(Error::op(op, "axis out of range"));
                }
                let d = numel(&t.shape[a as usize..]);
                (numel(&t.shape[..a as usize]), d, 1)
            } else {
                let a = cpu::shape::norm_axis(op, node.attr_i("axis", -1)?, r)?;
                (
                    numel(&t.shape[..a]) * numel(&t.shape[a + 1..]),
                    t.shape.get(a).copied().unwrap_or(1),
                    numel(&t.shape[a + 1..]),
                )
            };
            let out = gpu.alloc(t.len())?;
            if rows > 0 && d > 0 {
                let pipe = gpu.pipeline("softmax", wgsl::softmax)?;
                let (gx, gy, w) = gpu.grid(rows)?;
                let kind = match op {
                    "Softmax" => 0,
                    "LogSoftmax" => 1,
                    _ => 2,
                };
                let prm = [w, rows as u32, d as u32, inner as u32, kind];
                gpu.dispatch(&pipe, &prm, &[&t.buf, &out], (gx, gy, 1))?;
            }
            one(GpuTensor {
                buf: out,
                shape: t.shape.clone(),
            })
        }
        "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1"
        | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceSumSquare" => {
            let t = gpu.on_gpu(x)?;
            let from_input = if op == "ReduceSum" {
                ctx.opset >= 13
            } else {
                ctx.opset >= 18
            };
            let axes = if from_input {
                some!(host(ins.get(1))).map(|t| t.to_i64s(op)).transpose()?
            } else {
                node.attr_ints("axes")?
            }
            .unwrap_or_default();
            let r = t.shape.len();
            let axes: Vec<usize> = if axes.is_empty() {
                if node.attr_i("noop_with_empty_axes", 0)? != 0 {
                    return one(t);
                }
                (0..r).collect()
            } else {
                axes.iter()
                    .map(|&a| cpu::shape::norm_axis(op, a, r))
                    .collect::<Result<_>>()?
            };
            let kind = match op {
                "ReduceSum" => 0,
                "ReduceMean" => 1,
                "ReduceMax" => 2,
                "ReduceMin" => 3,
                "ReduceProd" => 4,
                "ReduceL1" => 5,
                "ReduceL2" => 6,
                "ReduceLogSum" => 7,
                "ReduceLogSumExp" => 8,
                _ => 9,
            };
            let keep = node.attr_i("keepdims", 1)? != 0;
            one(gpu.reduce(ctx, &t, &axes, keep, kind)?)
        }
        "GlobalAveragePool" | "GlobalMaxPool" => {
            let t = gpu.on_gpu(x)?;
            if t.shape.len() < 2 {
                return Ok(None);
            }
            let axes: Vec<usize> = (2..t.shape.len()).collect();
            one(gpu.reduce(
                ctx,
                &t,
                &axes,
                true,
                if op == "GlobalMaxPool" { 2 } else { 1 },
            )?)
        }
        "LayerNormalization" | "InstanceNormalization" => {
            let t = gpu.on_gpu(x)?;
            let r = t.shape.len();
            let (rows, d, mode, ch) = if op == "LayerNormalization" {
                let a = cpu::shape::norm_axis(op, node.attr_i("axis", -1)?, r)?;
                (numel(&t.shape[..a]), numel(&t.shape[a..]), 0u32, 1usize)
            } else {
                if r < 3 {
                    return Ok(None);
                }
                (t.shape[0] * t.shape[1], numel(&t.shape[2..]), 1, t.shape[1])
            };
            let s = some!(ins.get(1).and_then(|v| v.as_ref()));
            let st = gpu.on_gpu(s)?;
            let bv = ins.get(2).and_then(|v| v.as_ref());
            let bt = match bv {
                Some(b) => Some(gpu.on_gpu(b)?),
                None => None,
            };
            let want = if mode == 0 { d } else { ch };
            let ok = |len: usize| len == want || (mode == 0 && len == 1);
            if !ok(st.len()) || bt.as_ref().is_some_and(|b| !ok(b.len())) {
                return Ok(None);
            }
            let eps = node.attr_f("epsilon", 1e-5)?;
            let out = gpu.alloc(t.len())?;
            let (mean, inv) = (gpu.alloc(rows)?, gpu.alloc(rows)?);
            if rows > 0 && d > 0 {
                let pipe = gpu.pipeline("norm", wgsl::norm)?;
                let (gx, gy, w) = gpu.grid(rows)?;
                let blen = bt.as_ref().map_or(1, |b| b.len());
                let prm = [
                    w,
                    rows as u32,
                    d as u32,
                    eps.to_bits(),
                    mode,
                    ch as u32,
                    st.len() as u32,
                    blen as u32,
                    bt.is_some() as u32,
                ];
                let bbuf = bt.as_ref().map_or(st.buf.clone(), |b| b.buf.clone());
                gpu.dispatch(
                    &pipe,
                    &prm,
                    &[&t.buf, &st.buf, &bbuf, &out, &mean, &inv],
                    (gx, gy, 1),
                )?;
            }
            let mut outs = vec![GVal::Gpu(GpuTensor {
                buf: out,
                shape: t.shape.clone(),
            })];
            if mode == 0 {
                // Mean and InvStdDev keep the normalised axes as size 1.
                let axis = r - t
                    .shape
                    .iter()
                    .rev()
                    .scan(1usize, |acc, &dim| {
                        *acc *= dim;
                        Some(*acc)
                    })
                    .position(|p| p == d)
                    .map_or(0, |p| p + 1);
                let mut stat = t.shape[..axis].to_vec();
                stat.extend(std::iter::repeat_n(1, r - axis));
                outs.push(GVal::Gpu(GpuTensor {
                    buf: mean,
                    shape: stat.clone(),
                }));
                outs.push(GVal::Gpu(GpuTensor {
                    buf: inv,
                    shape: stat,
                }));
            }
            Ok(Some(outs))
        }
        "BatchNormalization" => {
            if node.attr_i("training_mode", 0)? != 0 || !only_first_output(node) {
                return Ok(None);
            }
            let t = gpu.on_gpu(x)?;
            if t.shape.len() < 2 {
                return Ok(None);
            }
            let c = t.shape[1];
            let p = |i| -> Option<Vec<f32>> {
                let t = host(ins.get(i))??;
                t.f32s(op).ok().map(|v| v.to_vec())
            };
            let (sc, bi, mean, var) = (some!(p(1)), some!(p(2)), some!(p(3)), some!(p(4)));
            if [&sc, &bi, &mean, &var].iter().any(|v| v.len() != c) {
                return Err(Error::op(op, "per-channel parameter length mismatch"));
            }
            let eps = node.attr_f("epsilon", 1e-5)?;
            // Fold the statistics into one scale and shift per channel.
            let a: Vec<f32> = (0..c).map(|k| sc[k] / (var[k] + eps).sqrt()).collect();
            let b: Vec<f32> = (0..c).map(|k| bi[k] - mean[k] * a[k]).collect();
            let (at, bt) = (
                gpu.upload(&Tensor::from_f32(vec![c], a)?)?,
                gpu.upload(&Tensor::from_f32(vec![c], b)?)?,
            );
            let n = t.len();
            let out = gpu.alloc(n)?;
            if n > 0 {
                let pipe = gpu.pipeline("chaff", wgsl::channel_affine)?;
                let (gx, gy, w) = gpu.grid(n)?;
                let prm = [w, n as u32, c as u32, numel(&t.shape[2..]) as u32];
                gpu.dispatch(&pipe, &prm, &[&t.buf, &at.buf, &bt.buf, &out], (gx, gy, 1))?;
            }
            one(GpuTensor {
                buf: out,
                shape: t.shape.clone(),
            })
        }
        "Conv" => {
            let wv = some!(ins.get(1).and_then(|v| v.as_ref()));
            let (t, w) = (gpu.on_gpu(x)?, gpu.on_gpu(wv)?);
            let bias = match ins.get(2).and_then(|v| v.as_ref()) {
                Some(b) => Some(gpu.on_gpu(b)?),
                None => None,
            };
            Ok(gpu
                .conv(ctx, node, &t, &w, bias.as_ref(), fused)?
                .map(|t| vec![GVal::Gpu(t)]))
        }
        "ConvTranspose" => {
            let wv = some!(ins.get(1).and_then(|v| v.as_ref()));
            let (t, w) = (gpu.on_gpu(x)?, gpu.on_gpu(wv)?);
            let r = t.shape.len();
            if !(3..=5).contains(&r) || w.shape.len() != r {
                return Ok(None);
            }
            let (nb, cin) = (t.shape[0], t.shape[1]);
            let g = node.attr_i("group", 1)?;
            if g < 1 || cin % g as usize != 0 {
                return Err(Error::op(op, "invalid group"));
            }
            let g = g as usize;
            let sp = &t.shape[2..];
            let kernel = w.shape[2..].to_vec();
            if w.shape[0] != cin {
                return Err(Error::op(op, "weight/input channel mismatch"));
            }
            let (st, dil, pb, out) = cpu::nn::conv_transpose_geometry(node, sp, &kernel)?;
            if pb.iter().any(|&p| p < 0) {
                return Ok(None);
            }
            let pb: Vec<usize> = pb.iter().map(|&p| p as usize).collect();
            let cout = w.shape[1] * g;
            let mut oshape = vec![nb, cout];
            oshape.extend(&out);
            ctx.limits.check_shape(&oshape, 4)?;
            let n_out = numel(&oshape);
            let bias = match ins.get(2).and_then(|v| v.as_ref()) {
                Some(b) => {
                    let b = gpu.on_gpu(b)?;
                    if b.len() != cout {
                        return Err(Error::op(op, "bias length differs from output channels"));
                    }
                    Some(b)
                }
                None => None,
            };
            let buf = gpu.alloc(n_out)?;
            if n_out > 0 {
                let (gx, gy, wd) = gpu.grid(n_out)?;
                let mut words = some!(GpuBackend::geom_words(
                    wd, n_out, nb, cin, cout, g, sp, &out, &kernel, &st, &dil, &pb
                ));
                words.push(bias.is_some() as u32);
                let pipe = gpu.pipeline("convT", wgsl::conv_transpose)?;
                let bbuf = bias.as_ref().map_or(w.buf.clone(), |b| b.buf.clone());
                gpu.dispatch(&pipe, &words, &[&t.buf, &w.buf, &bbuf, &buf], (gx, gy, 1))?;
            }
            one(GpuTensor { buf, shape: oshape })
        }
        "MaxPool" | "AveragePool" | "LpPool" => {
            if !only_first_output(node) {
                return Ok(None);
            }
            let t = gpu.on_gpu(x)?;
            let r = t.shape.len();
            if !(3..=5).contains(&r) {
                return Ok(None);
            }
            let kernel: Vec<usize> = some!(node.attr_ints("kernel_shape")?)
                .iter()
                .map(|&k| usize::try_from(k).map_err(|_| Error::op(op, "negative kernel")))
                .collect::<Result<_>>()?;
            let sp = &t.shape[2..];
            let geo = cpu::nn::geometry(node, sp, kernel, node.attr_i("ceil_mode", 0)? != 0)?;
            let (nb, c) = (t.shape[0], t.shape[1]);
            let mut oshape = vec![nb, c];
            oshape.extend(&geo.out);
            ctx.limits.check_shape(&oshape, 4)?;
            let n_out = numel(&oshape);
            let buf = gpu.alloc(n_out)?;
            if n_out > 0 {
                let (gx, gy, wd) = gpu.grid(n_out)?;
                let mut words = some!(GpuBackend::geom_words(
                    wd,
                    n_out,
                    nb,
                    c,
                    c,
                    1,
                    sp,
                    &geo.out,
                    &geo.kernel,
                    &geo.strides,
                    &geo.dilations,
                    &geo.pad_begin
                ));
                let kind = match op {
                    "MaxPool" => 0,
                    "AveragePool" => 1,
                    _ => 2,
                };
                words.push(kind);
                words.push((node.attr_i("count_include_pad", 0)? != 0) as u32);
                let pads = node.attr_ints("pads")?.unwrap_or_default();
                let k = sp.len();
                let mut pe: Vec<u32> = vec![0; 3 - k];
                pe.extend((0..k).map(|i| pads.get(i + k).copied().unwrap_or(0).max(0) as u32));
                words.extend(pe);
                words.push((node.attr_i("p", 2)? as f32).to_bits());
                let pipe = gpu.pipeline(&format!("pool-{kind}"), || wgsl::pool(kind))?;
                gpu.dispatch(&pipe, &words, &[&t.buf, &buf], (gx, gy, 1))?;
            }
            one(GpuTensor { buf, shape: oshape })
        }
        "Concat" => {
            if let Some(t) = gpu.concat_contiguous(node, ins)? {
                return one(t);
            }
            let data: Vec<usize> = (0..ins.len()).collect();
            gpu.index_mapped(ctx, node, ins, &data, 0.0)
        }
        "Pad" => {
            let fill = if ctx.opset < 11 {
                node.attr_f("value", 0.0)?
            } else {
                match some!(host(ins.get(2))) {
                    Some(t) => t.to_f64s().first().copied().unwrap_or(0.0) as f32,
                    None => 0.0,
                }
            };
            gpu.index_mapped(ctx, node, ins, &[0], fill)
        }
        "Resize" if node.attr_s("mode", "nearest")? == "nearest" => {
            gpu.index_mapped(ctx, node, ins, &[0], 0.0)
        }
        "Gather" => {
            if let Some(t) = gpu.gather_host_indices(node, ins)? {
                return one(t);
            }
            gpu.index_mapped(ctx, node, ins, &[0], 0.0)
        }
        "Transpose" | "Slice" | "GatherElements" | "GatherND" | "Expand" | "Tile" | "Split"
        | "DepthToSpace" | "SpaceToDepth" | "Trilu" => gpu.index_mapped(ctx, node, ins, &[0], 0.0),
        _ => Ok(None),
    }
}
