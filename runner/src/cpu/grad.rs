//! `Gradient` (ai.onnx.preview.training): reverse-mode differentiation of
//! the forward subgraph the loader attached to the node.
//!
//! The forward subgraph is evaluated on the node's inputs with the CPU
//! kernels, keeping every intermediate; then gradients flow back from `y`
//! (seeded with ones, i.e. the gradient of the sum of `y`'s elements)
//! through each node's local derivative. Element-wise operators broadcast,
//! so an input's gradient is the output gradient summed over the axes the
//! input was broadcast along.

use super::broadcast::{broadcast_strides, broadcast_to, for_each_index};
use super::{req, run_node, Ctx};
use crate::error::{Error, Result};
use crate::model::{Attr, Graph, Node, GRADIENT_FORWARD};
use crate::tensor::{numel, Data, DataType, Tensor};

/// Operators `Gradient` can differentiate through.
pub const DIFFERENTIABLE: &[&str] = &[
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Neg",
    "Identity",
    "Sum",
    "Mean",
    "Pow",
    "Relu",
    "Exp",
    "Log",
    "Sqrt",
    "Tanh",
    "Sigmoid",
    "Sin",
    "Cos",
    "Abs",
    "Reciprocal",
];

/// A gradient: float64 values in some shape.
struct Grad {
    shape: Vec<usize>,
    data: Vec<f64>,
}

/// float32/float64 contents, or an error: only those are differentiable.
fn floats(t: &Tensor, what: &str) -> Result<Vec<f64>> {
    match t.dtype() {
        DataType::F32 | DataType::F64 => Ok(t.to_f64s()),
        d => Err(Error::op(
            "Gradient",
            format!("{what} is {d:?}; only float tensors are differentiable"),
        )),
    }
}

/// `x` (a forward input) broadcast to the output shape `out`, as f64.
fn expand(x: &Tensor, out: &[usize]) -> Result<Vec<f64>> {
    let v = floats(x, "a forward input")?;
    if x.shape.len() > out.len() {
        return Err(Error::op("Gradient", "input of higher rank than output"));
    }
    Ok(broadcast_to(&v, &x.shape, out))
}

/// Sums `g` (of shape `out`) down to `shape`, the shape of an input that
/// was broadcast to `out`.
fn reduce_to(g: &[f64], out: &[usize], shape: &[usize]) -> Result<Grad> {
    if shape == out {
        return Ok(Grad {
            shape: shape.to_vec(),
            data: g.to_vec(),
        });
    }
    let compatible = shape.len() <= out.len()
        && shape
            .iter()
            .zip(&out[out.len() - shape.len()..])
            .all(|(&s, &o)| s == o || s == 1);
    if !compatible {
        return Err(Error::op(
            "Gradient",
            format!("input shape {shape:?} does not broadcast to {out:?}"),
        ));
    }
    let strides = broadcast_strides(shape, out);
    let mut acc = vec![0.0f64; numel(shape)];
    let mut j = 0;
    for_each_index(out, [&strides], |[i]| {
        acc[i] += g[j];
        j += 1;
    });
    Ok(Grad {
        shape: shape.to_vec(),
        data: acc,
    })
}

fn zip(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

/// Gradients of `node`'s inputs given `g`, the gradient of its (first)
/// output `out`. `None` for inputs that receive none.
fn backward(
    node: &Node,
    ins: &[Option<&Tensor>],
    out: &Tensor,
    g: &[f64],
) -> Result<Vec<Option<Grad>>> {
    let op = node.op_type.as_str();
    let os = out.shape.as_slice();
    let input = |k: usize| req(node, ins, k);
    // Gradient of input k from per-element local derivative factors.
    let through = |k: usize, local: Vec<f64>| -> Result<Option<Grad>> {
        Ok(Some(reduce_to(
            &zip(g, &local, |a, b| a * b),
            os,
            &input(k)?.shape,
        )?))
    };
    let pass = |k: usize, scale: f64| -> Result<Option<Grad>> {
        let v: Vec<f64> = g.iter().map(|&a| a * scale).collect();
        Ok(Some(reduce_to(&v, os, &input(k)?.shape)?))
    };
    let y = floats(out, "a forward output")?;
    Ok(match op {
        "Add" => vec![pass(0, 1.0)?, pass(1, 1.0)?],
        "Sub" => vec![pass(0, 1.0)?, pass(1, -1.0)?],
        "Identity" => vec![pass(0, 1.0)?],
        "Neg" => vec![pass(0, -1.0)?],
        "Sum" | "Mean" => {
            let n = ins.iter().flatten().count().max(1);
            let scale = if op == "Mean" { 1.0 / n as f64 } else { 1.0 };
            (0..ins.len())
                .map(|k| match ins[k] {
                    Some(_) => pass(k, scale),
                    None => Ok(None),
                })
                .collect::<Result<_>>()?
        }
        "Mul" => {
            let (a, b) = (expand(input(0)?, os)?, expand(input(1)?, os)?);
            vec![through(0, b)?, through(1, a)?]
        }
        "Div" => {
            let b = expand(input(1)?, os)?;
            let da = b.iter().map(|&b| 1.0 / b).collect();
            let db = zip(&y, &b, |y, b| -y / b);
            vec![through(0, da)?, through(1, db)?]
        }
        "Pow" => {
            let (a, b) = (expand(input(0)?, os)?, expand(input(1)?, os)?);
            let da = zip(&a, &b, |a, b| b * a.powf(b - 1.0));
            let db = zip(&y, &a, |y, a| y * a.ln());
            vec![through(0, da)?, through(1, db)?]
        }
        _ => {
            let x = floats(input(0)?, "a forward input")?;
            let local: Vec<f64> = match op {
                "Relu" => x.iter().map(|&x| if x > 0.0 { 1.0 } else { 0.0 }).collect(),
                "Exp" => y.clone(),
                "Log" => x.iter().map(|&x| 1.0 / x).collect(),
                "Sqrt" => y.iter().map(|&y| 0.5 / y).collect(),
                "Tanh" => y.iter().map(|&y| 1.0 - y * y).collect(),
                "Sigmoid" => y.iter().map(|&y| y * (1.0 - y)).collect(),
                "Sin" => x.iter().map(|&x| x.cos()).collect(),
                "Cos" => x.iter().map(|&x| -x.sin()).collect(),
                "Abs" => x
                    .iter()
                    .map(|&x| x.signum() * (x != 0.0) as u8 as f64)
                    .collect(),
                "Reciprocal" => y.iter().map(|&y| -y * y).collect(),
                _ => {
                    return Err(Error::Unsupported(format!(
                        "Gradient through operator {op}"
                    )))
                }
            };
            if local.len() != g.len() {
                return Err(Error::op("Gradient", format!("{op}: shape mismatch")));
            }
            vec![through(0, local)?]
        }
    })
}

fn to_tensor(g: Grad, dtype: DataType) -> Result<Tensor> {
    let data = match dtype {
        DataType::F64 => Data::F64(g.data),
        _ => Data::F32(g.data.iter().map(|&v| v as f32).collect()),
    };
    Tensor::new(g.shape, data)
}

/// The `Gradient` kernel: one output per name in `xs`, each the gradient
/// of `y` with respect to it (zeros where `y` does not depend on it).
pub fn gradient(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let fwd: &Graph = match node.attr(GRADIENT_FORWARD) {
        Some(Attr::Subgraph(g)) => g,
        _ => {
            return Err(Error::op(
                "Gradient",
                "forward subgraph missing (the node was not prepared by the loader)",
            ))
        }
    };
    if fwd.inputs.len() != ins.len() || fwd.outputs.len() != 1 {
        return Err(Error::op(
            "Gradient",
            "inputs do not match the forward subgraph",
        ));
    }
    // Forward pass, keeping every intermediate.
    let mut vals: Vec<Option<Tensor>> = vec![None; fwd.values.len()];
    for (k, (id, _)) in fwd.inputs.iter().enumerate() {
        vals[*id] = Some(req(node, ins, k)?.clone());
    }
    for n in &fwd.nodes {
        let refs: Vec<Option<&Tensor>> = n
            .inputs
            .iter()
            .map(|v| v.and_then(|id| vals[id].as_ref()))
            .collect();
        if n.inputs
            .iter()
            .zip(&refs)
            .any(|(v, t)| v.is_some() && t.is_none())
        {
            return Err(Error::op(
                "Gradient",
                format!("{}: input not computed", n.name),
            ));
        }
        let outs = run_node(ctx, n, &refs)?;
        for (o, t) in n.outputs.iter().zip(outs) {
            if let Some(id) = o {
                vals[*id] = Some(t);
            }
        }
    }
    // Backward pass.
    let y = fwd.outputs[0].0;
    let yt = vals[y]
        .as_ref()
        .ok_or_else(|| Error::op("Gradient", "`y` was not computed"))?;
    floats(yt, "`y`")?;
    let mut grads: Vec<Option<Grad>> = (0..fwd.values.len()).map(|_| None).collect();
    grads[y] = Some(Grad {
        shape: yt.shape.clone(),
        data: vec![1.0; yt.len()],
    });
    for n in fwd.nodes.iter().rev() {
        let Some(out) = n.outputs.first().copied().flatten() else {
            continue;
        };
        let Some(g) = grads[out].take() else {
            continue;
        };
        let out_t = vals[out]
            .as_ref()
            .ok_or_else(|| Error::op("Gradient", "output not computed"))?;
        if out_t.shape != g.shape {
            return Err(Error::op(
                "Gradient",
                format!("{}: gradient shape mismatch", n.name),
            ));
        }
        let refs: Vec<Option<&Tensor>> = n
            .inputs
            .iter()
            .map(|v| v.and_then(|id| vals[id].as_ref()))
            .collect();
        let gs = backward(n, &refs, out_t, &g.data)?;
        for (v, gi) in n.inputs.iter().zip(gs) {
            let (Some(id), Some(gi)) = (v, gi) else {
                continue;
            };
            match &mut grads[*id] {
                Some(acc) if acc.shape == gi.shape => {
                    acc.data.iter_mut().zip(&gi.data).for_each(|(a, b)| *a += b)
                }
                Some(_) => return Err(Error::op("Gradient", "gradient shape mismatch")),
                slot @ None => *slot = Some(gi),
            }
        }
    }
    node.outputs
        .iter()
        .enumerate()
        .map(|(k, _)| {
            let (id, _) = &fwd.inputs[k];
            let x = req(node, ins, k)?;
            floats(x, "an `xs` input")?;
            let g = grads[*id].take().unwrap_or_else(|| Grad {
                shape: x.shape.clone(),
                data: vec![0.0; x.len()],
            });
            to_tensor(g, x.dtype())
        })
        .collect()
}
