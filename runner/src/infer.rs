//! Static shape inference by partial evaluation.
//!
//! Values whose contents are known at load time (initializers, `Shape` of a
//! statically shaped value, and small results computed from them) are
//! evaluated with the CPU kernels; shapes of the remaining values follow
//! per-operator rules. Tensors the inference proves larger than the budget
//! are rejected at load time rather than at run time.

use crate::cpu::broadcast::broadcast_shapes;
use crate::cpu::{self, Ctx};
use crate::error::{Error, Result};
use crate::model::{Model, Node};
use crate::tensor::{numel, Data, DataType, Tensor};

/// Static type of a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueInfo {
    pub dtype: DataType,
    pub shape: Vec<usize>,
}

/// Largest result (in elements) evaluated at load time.
const EVAL_LIMIT: usize = 1 << 16;
/// Largest stand-in tensor used to infer a data-movement op's shape.
const STAND_IN_LIMIT: usize = 1 << 22;

/// Inference results, indexed by value id.
#[derive(Clone, Debug, Default)]
pub struct Inferred {
    pub info: Vec<Option<ValueInfo>>,
    /// Contents known at load time.
    pub values: Vec<Option<Tensor>>,
}

fn info_of(t: &Tensor) -> ValueInfo {
    ValueInfo {
        dtype: t.dtype(),
        shape: t.shape.clone(),
    }
}

/// Infers static shapes for every value it can; fails only when a value is
/// proven to exceed the model's limits.
pub fn infer(model: &Model) -> Result<Inferred> {
    let g = &model.graph;
    let ctx = Ctx::new(&model.limits, model.opset);
    let mut inf = Inferred {
        info: vec![None; g.values.len()],
        values: g.consts.clone(),
    };
    for (id, t) in g.consts.iter().enumerate() {
        inf.info[id] = t.as_ref().map(info_of);
    }
    // Sequences have no tensor info: nodes reading them are left to run time.
    for (id, vt) in g.inputs.iter().filter(|(_, vt)| !vt.sequence) {
        if let (Some(dtype), Some(shape)) = (vt.dtype, vt.static_shape()) {
            inf.info[*id] = Some(ValueInfo { dtype, shape });
        }
    }
    for node in &g.nodes {
        let ins: Vec<Option<&ValueInfo>> = node
            .inputs
            .iter()
            .map(|v| v.and_then(|id| inf.info[id].as_ref()))
            .collect();
        let vals: Vec<Option<&Tensor>> = node
            .inputs
            .iter()
            .map(|v| v.and_then(|id| inf.values[id].as_ref()))
            .collect();
        // Inference is advisory: only a proven budget violation is an error;
        // anything else inconsistent is left for execution to report.
        let (infos, values) = match infer_node(&ctx, node, &ins, &vals) {
            Ok(r) => r,
            Err(e @ Error::Limit(_)) => return Err(e),
            Err(_) => (vec![], vec![]),
        };
        for (k, o) in node.outputs.iter().enumerate() {
            let Some(id) = o else { continue };
            if let Some(Some(i)) = infos.get(k) {
                model.limits.check_shape(&i.shape, i.dtype.size())?;
                inf.info[*id] = Some(i.clone());
            }
            if let Some(Some(v)) = values.get(k) {
                inf.values[*id] = Some(v.clone());
            }
        }
    }
    Ok(inf)
}

type NodeResult = (Vec<Option<ValueInfo>>, Vec<Option<Tensor>>);

fn deterministic(op: &str) -> bool {
    !op.starts_with("Random") && !matches!(op, "Multinomial" | "Bernoulli" | "Dropout")
}

fn infer_node(
    ctx: &Ctx,
    node: &Node,
    ins: &[Option<&ValueInfo>],
    vals: &[Option<&Tensor>],
) -> Result<NodeResult> {
    let present = node.inputs.iter().zip(vals).filter(|(v, _)| v.is_some());
    let all_known = present.clone().all(|(_, t)| t.is_some());
    let op = node.op_type.as_str();
    let in_domain = node.domain.is_empty() || node.domain == "ai.onnx";
    // Sequence-valued results carry no tensor info; SequenceLength is a
    // scalar count.
    if in_domain && cpu::value_kernel(node).is_some() {
        let info = (op == "SequenceLength").then(|| ValueInfo {
            dtype: DataType::I64,
            shape: vec![],
        });
        return Ok((vec![info], vec![]));
    }
    // Gradient outputs have the types of the `xs` inputs.
    if node.domain == crate::model::TRAINING_DOMAIN && op == "Gradient" {
        let infos = (0..node.outputs.len())
            .map(|k| ins.get(k).copied().flatten().cloned())
            .collect();
        return Ok((infos, vec![]));
    }
    // 1. Everything known: evaluate (small results only).
    if all_known && in_domain && deterministic(op) && cpu::kernel(op).is_some() {
        let small = vals.iter().flatten().all(|t| t.len() <= EVAL_LIMIT);
        if small {
            match cpu::run_node(ctx, node, vals) {
                Ok(outs) if outs.iter().all(|t| t.len() <= EVAL_LIMIT) => {
                    let infos = outs.iter().map(|t| Some(info_of(t))).collect();
                    return Ok((infos, outs.into_iter().map(Some).collect()));
                }
                Ok(outs) => return Ok((outs.iter().map(|t| Some(info_of(t))).collect(), vec![])),
                Err(e @ Error::Limit(_)) => return Err(e),
                Err(_) => return Ok((vec![], vec![])),
            }
        }
    }
    // 2. Shape/Size only need the input's shape.
    if let (Some(Some(x)), "Shape" | "Size") = (ins.first(), op) {
        let dims: Vec<i64> = x.shape.iter().map(|&d| d as i64).collect();
        let t = if op == "Size" {
            Tensor::from_i64(vec![], vec![numel(&x.shape) as i64])?
        } else {
            let r = dims.len() as i64;
            let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
            let (a, b) = (
                clampi(node.attr_i("start", 0)?),
                clampi(node.attr_i("end", r)?),
            );
            let d = dims[a..b.max(a)].to_vec();
            Tensor::from_i64(vec![d.len()], d)?
        };
        return Ok((vec![Some(info_of(&t))], vec![Some(t)]));
    }
    let known: Option<Vec<&ValueInfo>> = node
        .inputs
        .iter()
        .zip(ins)
        .filter(|(v, _)| v.is_some())
        .map(|(_, i)| *i)
        .collect();
    let Some(known) = known else {
        return Ok((vec![], vec![]));
    };
    let Some(first) = known.first() else {
        return Ok((vec![], vec![]));
    };
    let same = |dtype: DataType| {
        Ok((
            vec![Some(ValueInfo {
                dtype,
                shape: first.shape.clone(),
            })],
            vec![],
        ))
    };
    // 3. Per-operator rules for compute ops.
    match op {
        _ if cpu::elementwise::UNARY_OPS.contains(&op) => same(first.dtype),
        "Clip"
        | "PRelu"
        | "Softmax"
        | "LogSoftmax"
        | "Hardmax"
        | "LRN"
        | "BatchNormalization"
        | "InstanceNormalization"
        | "MeanVarianceNormalization"
        | "CumSum"
        | "Trilu"
        | "Identity"
        | "Not" => same(first.dtype),
        "IsNaN" | "IsInf" => same(DataType::Bool),
        // Cast-1 names the type as a string: left to run time.
        "Cast" => {
            match crate::tensor::DataType::from_onnx(node.attr_i("to", 0).unwrap_or(0) as i32) {
                Some(d) => same(d),
                None => Ok((vec![], vec![])),
            }
        }
        "CastLike" => same(known.get(1).map_or(first.dtype, |i| i.dtype)),
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Mod" | "Max" | "Min" | "Sum" | "Mean"
        | "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or"
        | "Xor" | "Where" => {
            let shapes: Vec<&[usize]> = known.iter().map(|i| i.shape.as_slice()).collect();
            let shape = broadcast_shapes(op, &shapes)?;
            let dtype = match op {
                "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or"
                | "Xor" => DataType::Bool,
                "Where" => known.get(1).map_or(first.dtype, |i| i.dtype),
                _ => first.dtype,
            };
            Ok((vec![Some(ValueInfo { dtype, shape })], vec![]))
        }
        "MatMul" if known.len() == 2 => {
            let (a, b) = (&known[0].shape, &known[1].shape);
            if a.is_empty() || b.is_empty() {
                return Ok((vec![], vec![]));
            }
            let (mut a2, mut b2) = (a.clone(), b.clone());
            if a2.len() == 1 {
                a2.insert(0, 1);
            }
            if b2.len() == 1 {
                b2.push(1);
            }
            let batch = broadcast_shapes(op, &[&a2[..a2.len() - 2], &b2[..b2.len() - 2]])?;
            let mut shape = batch;
            if a.len() > 1 {
                shape.push(a2[a2.len() - 2]);
            }
            if b.len() > 1 {
                shape.push(b2[b2.len() - 1]);
            }
            Ok((
                vec![Some(ValueInfo {
                    dtype: first.dtype,
                    shape,
                })],
                vec![],
            ))
        }
        "Gemm" if known.len() >= 2 && known[0].shape.len() == 2 && known[1].shape.len() == 2 => {
            let m = if node.attr_i("transA", 0)? != 0 {
                known[0].shape[1]
            } else {
                known[0].shape[0]
            };
            let n = if node.attr_i("transB", 0)? != 0 {
                known[1].shape[0]
            } else {
                known[1].shape[1]
            };
            Ok((
                vec![Some(ValueInfo {
                    dtype: first.dtype,
                    shape: vec![m, n],
                })],
                vec![],
            ))
        }
        "Conv" | "MaxPool" | "AveragePool" | "LpPool" if first.shape.len() >= 3 => {
            let sp = &first.shape[2..];
            let (channels, kernel) = if op == "Conv" {
                let Some(w) = known.get(1) else {
                    return Ok((vec![], vec![]));
                };
                if w.shape.len() != first.shape.len() {
                    return Ok((vec![], vec![]));
                }
                (w.shape[0], w.shape[2..].to_vec())
            } else {
                let k = node.attr_ints("kernel_shape")?.unwrap_or_default();
                (
                    first.shape[1],
                    k.iter().map(|&v| v.max(1) as usize).collect(),
                )
            };
            let ceil = node.attr_i("ceil_mode", 0)? != 0;
            let geo = cpu::nn::geometry(node, sp, kernel, ceil && op != "Conv")?;
            let mut shape = vec![first.shape[0], channels];
            shape.extend(geo.out);
            let out = Some(ValueInfo {
                dtype: first.dtype,
                shape: shape.clone(),
            });
            let idx = Some(ValueInfo {
                dtype: DataType::I64,
                shape,
            });
            Ok((vec![out, idx], vec![]))
        }
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" if first.shape.len() >= 2 => {
            let mut shape = first.shape.clone();
            shape[2..].iter_mut().for_each(|d| *d = 1);
            Ok((
                vec![Some(ValueInfo {
                    dtype: first.dtype,
                    shape,
                })],
                vec![],
            ))
        }
        "LayerNormalization" => {
            let r = first.shape.len();
            let a = cpu::shape::norm_axis(op, node.attr_i("axis", -1)?, r)?;
            let mut stat = first.shape[..a].to_vec();
            stat.extend(std::iter::repeat_n(1, r - a));
            let f = |shape: Vec<usize>| {
                Some(ValueInfo {
                    dtype: first.dtype,
                    shape,
                })
            };
            Ok((
                vec![f(first.shape.clone()), f(stat.clone()), f(stat)],
                vec![],
            ))
        }
        _ => {
            // 4. Data-movement ops and reductions: run the kernel on
            //    zero-filled stand-ins for unknown *data* inputs. Inputs whose
            //    values shape the output (axes, shapes, pads...) must be known.
            let data_inputs: &[usize] = match op {
                "Concat" => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
                "Gather" | "GatherElements" | "GatherND" | "ScatterElements" | "ScatterND" => {
                    &[0, 1, 2]
                }
                "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Transpose" | "Slice"
                | "Expand" | "Tile" | "Pad" | "Split" | "DepthToSpace" | "SpaceToDepth"
                | "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd"
                | "ReduceL1" | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp"
                | "ReduceSumSquare" | "ArgMax" | "ArgMin" => &[0],
                _ => return Ok((vec![], vec![])),
            };
            let total: usize = ins.iter().flatten().map(|i| numel(&i.shape)).sum();
            let params_known = node
                .inputs
                .iter()
                .zip(vals)
                .enumerate()
                .all(|(k, (v, t))| v.is_none() || t.is_some() || data_inputs.contains(&k));
            if total > STAND_IN_LIMIT || !in_domain || !params_known {
                return Ok((vec![], vec![]));
            }
            let stand: Vec<Option<Tensor>> = ins
                .iter()
                .zip(vals)
                .map(|(i, v)| match (i, v) {
                    (_, Some(t)) => Some((*t).clone()),
                    (Some(i), None) => {
                        Tensor::new(i.shape.clone(), Data::zeros(i.dtype, numel(&i.shape))).ok()
                    }
                    _ => None,
                })
                .collect();
            let refs: Vec<Option<&Tensor>> = stand.iter().map(|t| t.as_ref()).collect();
            match cpu::run_node(ctx, node, &refs) {
                Ok(outs) => Ok((outs.iter().map(|t| Some(info_of(t))).collect(), vec![])),
                Err(e @ Error::Limit(_)) => Err(e),
                Err(_) => Ok((vec![], vec![])),
            }
        }
    }
}
