//! The backend abstraction shared by the CPU and GPU executors.

use crate::error::{Error, Result};
use crate::model::{Dim, Model};
use crate::tensor::Tensor;
use crate::value::{Value, ValueRef};

/// Something that can execute a loaded [`Model`].
pub trait Backend {
    /// Short name, e.g. `"cpu"` or `"wgpu"`.
    fn name(&self) -> &'static str;

    /// Operator types in `model` this backend cannot execute.
    fn unsupported_ops(&self, model: &Model) -> Vec<String>;

    /// Runs the model on `inputs` (in graph-input order), returning the
    /// graph outputs in order.
    fn run(&mut self, model: &Model, inputs: &[Tensor]) -> Result<Vec<Tensor>>;

    /// Like [`Backend::run`] for graphs whose inputs or outputs may be
    /// sequences. The default accepts tensors only.
    fn run_values(&mut self, model: &Model, inputs: &[Value]) -> Result<Vec<Value>> {
        let tensors = inputs
            .iter()
            .enumerate()
            .map(|(k, v)| v.clone().into_tensor(&format!("input {k}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .run(model, &tensors)?
            .into_iter()
            .map(Value::Tensor)
            .collect())
    }

    /// float32 nodes of the last run that this backend handed to the CPU
    /// reference kernels (always 0 for the CPU backend itself).
    fn fallback_nodes(&self) -> usize {
        0
    }
}

/// Checks runtime inputs against the graph's declared inputs.
pub fn check_inputs(model: &Model, inputs: &[Tensor]) -> Result<()> {
    let refs: Vec<ValueRef> = inputs.iter().map(ValueRef::Tensor).collect();
    check_values(model, &refs)
}

/// Graph outputs as tensors, for [`Backend::run`]: a sequence output is an
/// error pointing to [`Backend::run_values`].
pub fn tensors_only(model: &Model, outputs: Vec<Value>) -> Result<Vec<Tensor>> {
    outputs
        .into_iter()
        .zip(&model.graph.outputs)
        .map(|(v, (id, _))| {
            v.into_tensor(&format!(
                "graph output `{}` (use run_values)",
                model.graph.values[*id]
            ))
        })
        .collect()
}

/// Checks runtime values (tensors or sequences) against the graph's
/// declared inputs.
pub fn check_values(model: &Model, inputs: &[ValueRef]) -> Result<()> {
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
    for ((id, vt), v) in g.inputs.iter().zip(inputs) {
        let name = &g.values[*id];
        let t = match (v, vt.sequence) {
            (ValueRef::Tensor(t), false) => *t,
            (ValueRef::Sequence(s), true) => {
                if let Some(dt) = vt.dtype {
                    if dt != s.elem_type {
                        return Err(Error::Invalid(format!(
                            "input `{name}` is a sequence of {:?}, graph declares {dt:?}",
                            s.elem_type
                        )));
                    }
                }
                s.check(&model.limits)?;
                continue;
            }
            (ValueRef::Tensor(_), true) => {
                return Err(Error::Invalid(format!(
                    "input `{name}` must be a sequence, got a tensor"
                )))
            }
            (ValueRef::Sequence(_), false) => {
                return Err(Error::Invalid(format!(
                    "input `{name}` must be a tensor, got a sequence"
                )))
            }
        };
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
