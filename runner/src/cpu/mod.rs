//! CPU backend: the reference implementation of every operator, also used
//! as the browser fallback when no GPU adapter is available.

pub mod broadcast;
pub(crate) mod elementwise;
pub mod grad;
pub(crate) mod linalg;
pub(crate) mod misc;
pub(crate) mod nn;
pub(crate) mod quant;
pub(crate) mod reduce;
pub(crate) mod sequence;
pub(crate) mod shape;
pub(crate) mod strings;

use crate::backend::{check_values, last_uses, tensors_only, Backend};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::model::{Model, Node, TRAINING_DOMAIN};
use crate::tensor::{DataType, Tensor};
use crate::value::{Value, ValueRef};

/// Per-run context handed to operator kernels.
pub struct Ctx<'a> {
    pub limits: &'a Limits,
    /// Default-domain opset version (operator semantics change across it).
    pub opset: i64,
    /// Worker threads the heavy kernels (GEMM, convolution) may use; 1 on
    /// wasm32, where the standard library cannot spawn threads.
    pub threads: usize,
}

impl<'a> Ctx<'a> {
    /// A single-threaded context.
    pub fn new(limits: &'a Limits, opset: i64) -> Self {
        Ctx {
            limits,
            opset,
            threads: 1,
        }
    }
}

/// Kernel signature: inputs are `None` where an optional input is omitted.
pub type OpFn = fn(&Ctx, &Node, &[Option<&Tensor>]) -> Result<Vec<Tensor>>;

/// Signature of kernels that take or produce sequences.
pub type ValueOpFn = fn(&Ctx, &Node, &[Option<ValueRef>]) -> Result<Vec<Value>>;

pub(crate) fn req<'a>(node: &Node, ins: &[Option<&'a Tensor>], i: usize) -> Result<&'a Tensor> {
    ins.get(i)
        .copied()
        .flatten()
        .ok_or_else(|| Error::op(&node.op_type, format!("missing input {i}")))
}

pub(crate) fn opt<'a>(ins: &[Option<&'a Tensor>], i: usize) -> Option<&'a Tensor> {
    ins.get(i).copied().flatten()
}

/// The kernel for an operator type, if the CPU backend implements it.
pub fn kernel(op_type: &str) -> Option<OpFn> {
    use elementwise as ew;
    if ew::UNARY_OPS.contains(&op_type) {
        return Some(ew::unary);
    }
    Some(match op_type {
        "Add" | "Sub" | "Mul" | "Div" | "Mod" => ew::arith_op,
        "Max" | "Min" | "Sum" | "Mean" => ew::variadic,
        "Pow" => ew::pow,
        "PRelu" => ew::prelu,
        "Clip" => ew::clip,
        "Equal" => equal,
        "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" => ew::compare,
        "And" | "Or" | "Xor" | "Not" => ew::logic,
        "IsNaN" | "IsInf" => ew::is_nan_inf,
        "Where" => ew::where_op,
        "Identity" | "Dropout" => shape::identity,
        "Reshape" => shape::reshape,
        "Flatten" => shape::flatten,
        "Squeeze" => shape::squeeze,
        "Unsqueeze" => shape::unsqueeze,
        "Transpose" => shape::transpose,
        "Concat" => shape::concat,
        "Split" => shape::split,
        "Slice" => shape::slice,
        "Gather" => shape::gather,
        "GatherElements" => shape::gather_elements,
        "GatherND" => shape::gather_nd,
        "ScatterElements" => shape::scatter_elements,
        "ScatterND" => shape::scatter_nd,
        "Expand" => shape::expand,
        "Tile" => shape::tile,
        "Pad" => shape::pad,
        "Shape" => shape::shape_op,
        "Size" => shape::size,
        "ConstantOfShape" => shape::constant_of_shape,
        "Constant" => shape::constant,
        "DepthToSpace" | "SpaceToDepth" => shape::depth_space,
        "Trilu" => shape::trilu,
        "EyeLike" => shape::eye_like,
        "Range" => misc::range,
        "Cast" | "CastLike" => misc::cast,
        "QuantizeLinear" => quant::quantize_linear,
        "DequantizeLinear" => quant::dequantize_linear,
        "DynamicQuantizeLinear" => quant::dynamic_quantize_linear,
        "MatMulInteger" => quant::matmul_integer,
        "OneHot" => misc::one_hot,
        "TopK" => misc::topk,
        "CumSum" | "CumProd" => misc::cumsum,
        "NonZero" => misc::non_zero,
        "HannWindow" | "HammingWindow" | "BlackmanWindow" => misc::window,
        "BitwiseAnd" | "BitwiseOr" | "BitwiseXor" | "BitwiseNot" => ew::bitwise,
        "LpNormalization" => nn::lp_norm,
        "RMSNormalization" => nn::rms_norm,
        "GroupNormalization" => nn::group_norm,
        "Scatter" => shape::scatter_elements,
        "Resize" => misc::resize,
        "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1"
        | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceSumSquare" => reduce::reduce,
        "ArgMax" | "ArgMin" => reduce::arg,
        "Softmax" | "LogSoftmax" | "Hardmax" => reduce::softmax,
        "MatMul" => linalg::matmul,
        "Gemm" => linalg::gemm,
        "Einsum" => linalg::einsum,
        "Conv" => nn::conv,
        "ConvTranspose" => nn::conv_transpose,
        "MaxPool" | "AveragePool" | "LpPool" => nn::pool,
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => nn::global_pool,
        "BatchNormalization" => nn::batch_norm,
        "InstanceNormalization" => nn::instance_norm,
        "LayerNormalization" => nn::layer_norm,
        "MeanVarianceNormalization" => nn::mvn,
        "LRN" => nn::lrn,
        "StringNormalizer" => strings::string_normalizer,
        "StringConcat" => strings::string_concat,
        "StringSplit" => strings::string_split,
        _ => return None,
    })
}

/// `Equal` for numbers and bools, or strings.
fn equal(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    match opt(ins, 0).map(Tensor::dtype) {
        Some(crate::tensor::DataType::String) => strings::equal(ctx, node, ins),
        _ => elementwise::compare(ctx, node, ins),
    }
}

/// The kernel for a node whose inputs or outputs are sequences.
pub fn value_kernel(node: &Node) -> Option<ValueOpFn> {
    if !matches!(node.domain.as_str(), "" | "ai.onnx") {
        return None;
    }
    Some(match node.op_type.as_str() {
        "SequenceEmpty" => sequence::sequence_empty,
        "SequenceConstruct" => sequence::sequence_construct,
        "SequenceInsert" => sequence::sequence_insert,
        "SequenceErase" => sequence::sequence_erase,
        "SequenceAt" => sequence::sequence_at,
        "SequenceLength" => sequence::sequence_length,
        "SplitToSequence" => sequence::split_to_sequence,
        "ConcatFromSequence" => sequence::concat_from_sequence,
        _ => return None,
    })
}

/// The kernel for a node, including Bazaar's fused operators.
pub fn kernel_for(node: &Node) -> Option<OpFn> {
    match (node.domain.as_str(), node.op_type.as_str()) {
        ("" | "ai.onnx", op) => kernel(op),
        (crate::optimize::FUSED_DOMAIN, "MatMulAdd") => Some(linalg::matmul_add),
        (crate::optimize::FUSED_DOMAIN, "Conv") => Some(nn::conv),
        (TRAINING_DOMAIN, "Gradient") => Some(grad::gradient),
        _ => None,
    }
}

/// Whether the CPU backend can execute `node` (tensor or sequence kernel).
pub fn supports(node: &Node) -> bool {
    kernel_for(node).is_some() || value_kernel(node).is_some()
}

/// Runs one node on values (tensors or sequences), enforcing the size
/// budget on outputs. Sequence operators use their own kernels, and
/// `Identity` passes sequences through; every other operator needs tensor
/// inputs.
pub fn run_node_values(ctx: &Ctx, node: &Node, ins: &[Option<ValueRef>]) -> Result<Vec<Value>> {
    if let Some(k) = value_kernel(node) {
        let outs = k(ctx, node, ins)?;
        for v in &outs {
            v.check(ctx.limits)?;
        }
        return Ok(outs);
    }
    if node.op_type == "Identity" {
        if let Some(Some(ValueRef::Sequence(_))) = ins.first() {
            return sequence::identity(ctx, node, ins);
        }
    }
    let tensors = ins
        .iter()
        .enumerate()
        .map(|(k, v)| match v {
            None => Ok(None),
            Some(ValueRef::Tensor(t)) => Ok(Some(*t)),
            Some(ValueRef::Sequence(_)) => Err(Error::op(
                &node.op_type,
                format!("input {k} is a sequence; a tensor is expected"),
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(run_node(ctx, node, &tensors)?
        .into_iter()
        .map(Value::Tensor)
        .collect())
}

/// Runs one node on host tensors, enforcing the size budget on outputs.
pub fn run_node(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let k = kernel_for(node).ok_or_else(|| {
        Error::Unsupported(match node.domain.as_str() {
            "" | "ai.onnx" => format!("operator {}", node.op_type),
            d => format!("operator {d}::{}", node.op_type),
        })
    })?;
    let outs = match half_plan(node, ins) {
        Some(narrow) => run_widened(ctx, node, ins, k, narrow)?,
        None => k(ctx, node, ins)?,
    };
    for t in &outs {
        ctx.limits.check_shape(&t.shape, t.dtype().size())?;
    }
    Ok(outs)
}

/// Whether a node's kernel should see float32 in place of its
/// float16/bfloat16 inputs, and if so the type its float32 outputs are
/// rounded back to: that of the first floating-point input (Where's `x`,
/// Pow's base...), or none when that input is not a 16-bit float (e.g.
/// `Pow(float32, float16)` stays float32). Kernels that handle the 16-bit
/// types themselves (Cast, the quantisation operators) and nodes whose
/// output type is an attribute are left alone.
fn half_plan(node: &Node, ins: &[Option<&Tensor>]) -> Option<Option<DataType>> {
    let mut floats = ins
        .iter()
        .flatten()
        .map(|t| t.dtype())
        .filter(|d| d.is_float());
    let first = floats.next()?;
    if !first.is_half() && !floats.any(DataType::is_half) {
        return None;
    }
    let own = matches!(
        node.op_type.as_str(),
        "Cast" | "CastLike" | "QuantizeLinear" | "DequantizeLinear" | "DynamicQuantizeLinear"
    ) || ["to", "dtype", "output_datatype"]
        .iter()
        .any(|a| node.attr(a).is_some());
    (!own).then_some(first.is_half().then_some(first))
}

/// Runs `k` on float32 copies of the 16-bit float inputs and rounds its
/// float32 outputs to `narrow` (nearest even): one rounding per operator,
/// as the reference computes most 16-bit operators.
fn run_widened(
    ctx: &Ctx,
    node: &Node,
    ins: &[Option<&Tensor>],
    k: OpFn,
    narrow: Option<DataType>,
) -> Result<Vec<Tensor>> {
    let wide: Vec<Option<Tensor>> = ins.iter().map(|t| t.and_then(Tensor::widen_half)).collect();
    let refs: Vec<Option<&Tensor>> = ins
        .iter()
        .zip(&wide)
        .map(|(t, w)| w.as_ref().or(*t))
        .collect();
    let outs = k(ctx, node, &refs)?;
    Ok(match narrow {
        Some(half) => outs.into_iter().map(|t| t.narrow_to_half(half)).collect(),
        None => outs,
    })
}

#[cfg(test)]
mod half_tests {
    use super::*;
    use crate::half::f32_to_f16;
    use crate::tensor::Data;

    fn node(op: &str) -> Node {
        Node {
            name: String::new(),
            op_type: op.into(),
            domain: String::new(),
            inputs: vec![],
            outputs: vec![],
            attrs: vec![],
        }
    }

    fn f16(v: &[f32]) -> Tensor {
        Tensor::new(
            vec![v.len()],
            Data::F16(v.iter().map(|&x| f32_to_f16(x)).collect()),
        )
        .unwrap()
    }

    #[test]
    fn outputs_take_the_first_float_inputs_type() {
        let limits = Limits::default();
        let ctx = Ctx::new(&limits, 18);
        // float16 + float16 rounds once to float16: 2048 + 1 is a tie → 2048.
        let y = run_node(
            &ctx,
            &node("Add"),
            &[Some(&f16(&[2048.0])), Some(&f16(&[1.0]))],
        )
        .unwrap();
        assert_eq!(y[0].data, Data::F16(vec![f32_to_f16(2048.0)]));
        // Pow(float32, float16) stays float32.
        let x = Tensor::from_f32(vec![1], vec![3.0]).unwrap();
        let y = run_node(&ctx, &node("Pow"), &[Some(&x), Some(&f16(&[2.0]))]).unwrap();
        assert_eq!(y[0].data, Data::F32(vec![9.0]));
        // Where(bool, float16, float16) is float16.
        let c = Tensor::new(vec![1], Data::Bool(vec![false])).unwrap();
        let (a, b) = (f16(&[1.0]), f16(&[-0.5]));
        let y = run_node(&ctx, &node("Where"), &[Some(&c), Some(&a), Some(&b)]).unwrap();
        assert_eq!(y[0].data, Data::F16(vec![f32_to_f16(-0.5)]));
    }
}

/// The CPU executor.
#[derive(Debug, Clone)]
pub struct CpuBackend {
    threads: usize,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    /// A single-threaded executor.
    pub fn new() -> Self {
        CpuBackend { threads: 1 }
    }

    /// An executor whose GEMM and convolution kernels split their work over
    /// up to `threads` threads (scoped, per kernel call). On wasm32 this is
    /// always 1.
    pub fn with_threads(threads: usize) -> Self {
        let threads = if cfg!(target_arch = "wasm32") {
            1
        } else {
            threads.max(1)
        };
        CpuBackend { threads }
    }

    /// Thread count in use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Like [`Backend::run`], calling `observe(node_index, done)` before
    /// (`false`) and after (`true`) each node, e.g. to time operators.
    pub fn run_observed(
        &mut self,
        model: &Model,
        inputs: &[Tensor],
        observe: &mut dyn FnMut(usize, bool),
    ) -> Result<Vec<Tensor>> {
        let refs: Vec<ValueRef> = inputs.iter().map(ValueRef::Tensor).collect();
        tensors_only(model, self.execute(model, &refs, observe)?)
    }

    fn execute(
        &mut self,
        model: &Model,
        inputs: &[ValueRef],
        observe: &mut dyn FnMut(usize, bool),
    ) -> Result<Vec<Value>> {
        check_values(model, inputs)?;
        let g = &model.graph;
        let ctx = Ctx {
            limits: &model.limits,
            opset: model.opset,
            threads: self.threads,
        };
        let last = last_uses(model);
        let mut vals: Vec<Option<Value>> = vec![None; g.values.len()];
        for ((id, _), v) in g.inputs.iter().zip(inputs) {
            vals[*id] = Some(v.to_owned_value());
        }
        for (i, node) in g.nodes.iter().enumerate() {
            observe(i, false);
            let outs = {
                let ins: Vec<Option<ValueRef>> = node
                    .inputs
                    .iter()
                    .map(|v| {
                        v.and_then(|id| {
                            vals[id]
                                .as_ref()
                                .map(Value::as_ref)
                                .or(g.consts[id].as_ref().map(ValueRef::Tensor))
                        })
                    })
                    .collect();
                if let Some(pos) = node
                    .inputs
                    .iter()
                    .zip(&ins)
                    .position(|(v, t)| v.is_some() && t.is_none())
                {
                    return Err(Error::MissingValue {
                        node: node.name.clone(),
                        value: g.values[node.inputs[pos].unwrap_or(0)].clone(),
                    });
                }
                run_node_values(&ctx, node, &ins)?
            };
            let mut outs = outs.into_iter();
            for o in &node.outputs {
                let t = outs.next();
                if let (Some(id), Some(t)) = (o, t) {
                    vals[*id] = Some(t);
                }
            }
            // Free everything whose last reader was this node.
            for v in node.inputs.iter().flatten() {
                if last[*v] == i {
                    vals[*v] = None;
                }
            }
            observe(i, true);
        }
        g.outputs
            .iter()
            .map(|(id, _)| {
                vals[*id]
                    .clone()
                    .or_else(|| g.consts[*id].clone().map(Value::Tensor))
                    .ok_or_else(|| Error::MissingValue {
                        node: "<graph output>".into(),
                        value: g.values[*id].clone(),
                    })
            })
            .collect()
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn unsupported_ops(&self, model: &Model) -> Vec<String> {
        let mut v: Vec<String> = model
            .graph
            .nodes
            .iter()
            .filter(|n| !supports(n))
            .map(|n| n.op_type.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    fn run(&mut self, model: &Model, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        self.run_observed(model, inputs, &mut |_, _| {})
    }

    fn run_values(&mut self, model: &Model, inputs: &[Value]) -> Result<Vec<Value>> {
        let refs: Vec<ValueRef> = inputs.iter().map(Value::as_ref).collect();
        self.execute(model, &refs, &mut |_, _| {})
    }
}
