//! The backend abstraction shared by the CPU and GPU executors.

use crate::error::{Error, Result};
use crate::model::{Dim, Model};
use crate::tensor::Tensor;

/// Something that can execute a loaded [`Model`].
pub trait Backend {
    /// Short name, e.g. `"cpu"` or `"wgpu"`.
    fn name(&self) -> &'static str;

    /// Operator types in `model` this backend cannot execute.
    fn unsupported_ops(&self, model: &Model) -> Vec<String>;

    /// Runs the model on `inputs` (in graph-input order), returning the
    /// graph outputs in order.
    fn run(&mut self, model: &Model, inputs: &[Tensor]) -> Result<Vec<Tensor>>;

    /// float32 nodes of the last run that this backend handed to the CPU
    /// reference kernels (always 0 for the CPU backend itself).
    fn fallback_nodes(&self) -> usize {
        0
    }
}

/// Checks runtime inputs against the graph's declared inputs.
pub fn check_inputs(model: &Model, inputs: &[Tensor]) -> Result<()> {
    let g = &model.graph;
    if inputs.len() < g.inputs.len() {
        let missing = &g.inputs[inputs.len()].0;
        return Err(Error::MissingInput(g.values[*missing].clone()));
    }
    if inputs.len() > g.inputs.len() {
        return Err(Error::Invalid(format!(
            "{} inputs given, graph has {}",
            inputs.len(),
            g.inputs.len()
        )));
    }
    for ((id, vt), t) in g.inputs.iter().zip(inputs) {
        let name = &g.values[*id];
        if let Some(dt) = vt.dtype {
            if dt != t.dtype() {
                return Err(Error::Invalid(format!(
                    "input `{name}` is {:?}, graph declares {dt:?}",
                    t.dtype()
                )));
            }
        }
        if let Some(shape) = &vt.shape {
            let ok = shape.len() == t.rank()
                && shape.iter().zip(&t.shape).all(|(d, &n)| match d {
                    Dim::Known(k) => *k == n,
                    _ => true,
                });
            if !ok {
                return Err(Error::Invalid(format!(
                    "input `{name}` has shape {:?}, graph declares {shape:?}",
                    t.shape
                )));
            }
        }
        model.limits.check_shape(&t.shape, t.dtype().size())?;
    }
    Ok(())
}

/// For each value, the index of the last node reading it (`usize::MAX` for
/// graph outputs, which must survive). Executors free a value right after
/// its last use, so peak memory follows the live set, not the graph size.
pub fn last_uses(model: &Model) -> Vec<usize> {
    let g = &model.graph;
    let mut last = vec![0usize; g.values.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        for v in n.inputs.iter().flatten() {
            last[*v] = i;
        }
    }
    for (o, _) in &g.outputs {
        last[*o] = usize::MAX;
    }
    last
}
