//! Reductions and normalisations: Softmax and its kin, Reduce*, global
//! pooling, layer/instance normalisation, batch normalisation.

use super::{host, one, only_first_output, Outs};
use crate::cpu::{self, Ctx};
use crate::error::{Error, Result};
use crate::gpu::{wgsl, GVal, GpuBackend, GpuTensor};
use crate::model::Node;
use crate::tensor::{numel, Tensor};

impl GpuBackend {
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
        let shape = cpu::reduce::reduced_shape(&x.shape, &red, keep);
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
        _ => Ok(None),
    }
}
