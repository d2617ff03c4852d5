//! Matrix products, convolutions and pooling (the GEMM kernels live in
//! `gpu::gemm`). `fused` nodes come from `optimize`: only MatMul+bias and
//! Conv with an activation have GPU paths.

use super::{one, only_first_output, Outs};
use crate::cpu::{self, Ctx};
use crate::error::{Error, Result};
use crate::gpu::{wgsl, GVal, GpuBackend, GpuTensor};
use crate::model::Node;
use crate::tensor::numel;

impl GpuBackend {
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

pub(super) fn run<'m>(
    gpu: &mut GpuBackend,
    ctx: &Ctx,
    node: &Node,
    ins: &[Option<GVal<'m>>],
    fused: bool,
) -> Result<Outs<'m>> {
    let op = node.op_type.as_str();
    let x = some!(ins.first().and_then(|v| v.as_ref()));
    match op {
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
        _ => Ok(None),
    }
}
