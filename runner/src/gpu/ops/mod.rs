//! Mapping of ONNX nodes onto the WGSL kernels, one file per operator
//! family. `run` returns `Ok(None)` when a node has no GPU path for these
//! inputs; the executor then runs the CPU kernel instead.

/// Unwraps an `Option`, or returns `Ok(None)`: no GPU path.
macro_rules! some {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

mod elementwise;
mod movement;
mod nn;
mod reduce;

use super::{GVal, GpuBackend, GpuTensor};
use crate::cpu::Ctx;
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::Tensor;

type Outs<'m> = Option<Vec<GVal<'m>>>;

fn one<'m>(t: GpuTensor) -> Result<Outs<'m>> {
    Ok(Some(vec![GVal::Gpu(t)]))
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
    if ins.first().and_then(|v| v.as_ref()).is_none() {
        return Ok(None);
    }
    // Everything past the metadata ops computes float32 data.
    let f32_data = ins.iter().flatten().next().is_some_and(GVal::is_f32);
    // Each family answers `Ok(None)` for ops that are not its own, so the
    // families are tried in turn, in the order the rules below need.
    if let Some(outs) = movement::metadata(gpu, ctx, node, ins)? {
        return Ok(Some(outs));
    }
    if !f32_data {
        return Ok(None);
    }
    if let Some(outs) = elementwise::run(gpu, ctx, node, ins)? {
        return Ok(Some(outs));
    }
    if let Some(outs) = nn::run(gpu, ctx, node, ins, fused)? {
        return Ok(Some(outs));
    }
    // Other fused nodes (`optimize`'s) have no GPU path.
    if fused {
        return Ok(None);
    }
    if let Some(outs) = reduce::run(gpu, ctx, node, ins)? {
        return Ok(Some(outs));
    }
    movement::run(gpu, ctx, node, ins)
}
