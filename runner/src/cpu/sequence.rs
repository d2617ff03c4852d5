//! Sequence operators: values that are ordered lists of tensors.

use super::shape::{narrow, norm_axis};
use super::Ctx;
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::{DataType, Tensor};
use crate::value::{Sequence, Value, ValueRef, SEQ_ELEM_OVERHEAD};

fn input<'a>(node: &Node, ins: &[Option<ValueRef<'a>>], i: usize) -> Result<ValueRef<'a>> {
    ins.get(i)
        .copied()
        .flatten()
        .ok_or_else(|| Error::op(&node.op_type, format!("missing input {i}")))
}

fn seq_in<'a>(node: &Node, ins: &[Option<ValueRef<'a>>], i: usize) -> Result<&'a Sequence> {
    input(node, ins, i)?
        .sequence()
        .ok_or_else(|| Error::op(&node.op_type, format!("input {i} must be a sequence")))
}

fn tensor_in<'a>(node: &Node, ins: &[Option<ValueRef<'a>>], i: usize) -> Result<&'a Tensor> {
    input(node, ins, i)?
        .tensor()
        .ok_or_else(|| Error::op(&node.op_type, format!("input {i} must be a tensor")))
}

fn opt_tensor<'a>(
    node: &Node,
    ins: &[Option<ValueRef<'a>>],
    i: usize,
) -> Result<Option<&'a Tensor>> {
    match ins.get(i).copied().flatten() {
        None => Ok(None),
        Some(v) => v
            .tensor()
            .map(Some)
            .ok_or_else(|| Error::op(&node.op_type, format!("input {i} must be a tensor"))),
    }
}

/// A scalar (or one-element) integer position, normalised against `len`;
/// `inclusive_end` admits `len` itself (insertion at the back).
fn position(node: &Node, t: &Tensor, len: usize, inclusive_end: bool) -> Result<usize> {
    let v = t.to_i64s(&node.op_type)?;
    let [p] = v.as_slice() else {
        return Err(Error::op(&node.op_type, "position must be a scalar"));
    };
    let n = len as i64;
    let hi = if inclusive_end { n } else { n - 1 };
    if *p < -n || *p > hi {
        return Err(Error::op(
            &node.op_type,
            format!("position {p} out of range for a sequence of {len}"),
        ));
    }
    Ok(if *p < 0 { p + n } else { *p } as usize)
}

fn checked(ctx: &Ctx, s: Sequence) -> Result<Vec<Value>> {
    s.check(ctx.limits)?;
    Ok(vec![Value::Sequence(s)])
}

pub fn sequence_empty(ctx: &Ctx, node: &Node, _ins: &[Option<ValueRef>]) -> Result<Vec<Value>> {
    let code = node.attr_i("dtype", crate::onnx::data_type::FLOAT as i64)?;
    let dtype = DataType::from_onnx(code as i32)
        .ok_or_else(|| Error::Unsupported(format!("SequenceEmpty of type {code}")))?;
    checked(ctx, Sequence::new(dtype, vec![])?)
}

pub fn sequence_construct(ctx: &Ctx, node: &Node, ins: &[Option<ValueRef>]) -> Result<Vec<Value>> {
    let tensors: Vec<Tensor> = (0..ins.len())
        .map(|i| tensor_in(node, ins, i).cloned())
        .collect::<Result<_>>()?;
    let first = tensors
        .first()
        .ok_or_else(|| Error::op("SequenceConstruct", "needs at least one input"))?;
    let dtype = first.dtype();
    checked(
        ctx,
        Sequence::new(dtype, tensors).map_err(|e| Error::op("SequenceConstruct", e.to_string()))?,
    )
}

pub fn sequence_insert(ctx: &Ctx, node: &Node, ins: &[Option<ValueRef>]) -> Result<Vec<Value>> {
    let s = seq_in(node, ins, 0)?;
    let t = tensor_in(node, ins, 1)?;
    if t.dtype() != s.elem_type {
        return Err(Error::op(
            "SequenceInsert",
            format!(
                "inserting {:?} into a sequence of {:?}",
                t.dtype(),
                s.elem_type
            ),
        ));
    }
    let at = match opt_tensor(node, ins, 2)? {
        Some(p) => position(node, p, s.len(), true)?,
        None => s.len(),
    };
    let mut tensors = Vec::with_capacity(s.len() + 1);
    tensors.extend_from_slice(&s.tensors[..at]);
    tensors.push(t.clone());
    tensors.extend_from_slice(&s.tensors[at..]);
    checked(ctx, Sequence::new(s.elem_type, tensors)?)
}

pub fn sequence_erase(ctx: &Ctx, node: &Node, ins: &[Option<ValueRef>]) -> Result<Vec<Value>> {
    let s = seq_in(node, ins, 0)?;
    if s.is_empty() {
        return Err(Error::op("SequenceErase", "sequence is empty"));
    }
    let at = match opt_tensor(node, ins, 1)? {
        Some(p) => position(node, p, s.len(), false)?,
        None => s.len() - 1,
    };
    let mut tensors = s.tensors.clone();
    tensors.remove(at);
    checked(ctx, Sequence::new(s.elem_type, tensors)?)
}

pub fn sequence_at(_ctx: &Ctx, node: &Node, ins: &[Option<ValueRef>]) -> Result<Vec<Value>> {
    let s = seq_in(node, ins, 0)?;
    let at = position(node, tensor_in(node, ins, 1)?, s.len(), false)?;
    Ok(vec![Value::Tensor(s.tensors[at].clone())])
}

pub fn sequence_length(_ctx: &Ctx, node: &Node, ins: &[Option<ValueRef>]) -> Result<Vec<Value>> {
    let s = seq_in(node, ins, 0)?;
    Ok(vec![Tensor::from_i64(vec![], vec![s.len() as i64])?.into()])
}

/// `Identity` on a sequence (tensors go to the tensor kernel).
pub fn identity(_ctx: &Ctx, node: &Node, ins: &[Option<ValueRef>]) -> Result<Vec<Value>> {
    Ok(vec![input(node, ins, 0)?.to_owned_value()])
}

pub fn split_to_sequence(ctx: &Ctx, node: &Node, ins: &[Option<ValueRef>]) -> Result<Vec<Value>> {
    let op = "SplitToSequence";
    let x = tensor_in(node, ins, 0)?;
    let r = x.rank();
    if r == 0 {
        return Err(Error::op(op, "cannot split a scalar"));
    }
    let axis = norm_axis(op, node.attr_i("axis", 0)?, r)?;
    let dim = x.shape[axis];
    let split = opt_tensor(node, ins, 1)?;
    // Chunk lengths along `axis`.
    let (sizes, squeeze): (Vec<usize>, bool) = match split {
        None => (vec![1; dim], node.attr_i("keepdims", 1)? == 0),
        Some(t) => {
            let v = t.to_i64s(op)?;
            if v.iter().any(|&s| s < 0) {
                return Err(Error::op(op, "negative split length"));
            }
            if t.rank() == 0 {
                let c = v[0] as usize;
                if c == 0 && dim > 0 {
                    return Err(Error::op(op, "split length 0"));
                }
                let mut sizes = vec![c; dim.checked_div(c).unwrap_or(0)];
                if c > 0 && dim % c != 0 {
                    sizes.push(dim % c);
                }
                (sizes, false)
            } else {
                let total = v.iter().try_fold(0u64, |a, &s| a.checked_add(s as u64));
                if total != Some(dim as u64) {
                    return Err(Error::op(
                        op,
                        format!("split lengths {v:?} do not sum to {dim}"),
                    ));
                }
                (v.iter().map(|&s| s as usize).collect(), false)
            }
        }
    };
    // Budget before allocating: the data once more, plus per-element cost.
    let bytes = x
        .len()
        .saturating_mul(x.dtype().size())
        .saturating_add(sizes.len().saturating_mul(SEQ_ELEM_OVERHEAD));
    if bytes > ctx.limits.max_tensor_bytes {
        return Err(Error::Limit(format!(
            "{op} would produce {} tensors ({bytes} bytes)",
            sizes.len()
        )));
    }
    let mut tensors = Vec::with_capacity(sizes.len());
    let mut lo = 0;
    for s in sizes {
        let mut t = narrow(x, axis, lo, lo + s);
        if squeeze {
            t.shape.remove(axis);
        }
        tensors.push(t);
        lo += s;
    }
    checked(ctx, Sequence::new(x.dtype(), tensors)?)
}

pub fn concat_from_sequence(
    ctx: &Ctx,
    node: &Node,
    ins: &[Option<ValueRef>],
) -> Result<Vec<Value>> {
    let op = "ConcatFromSequence";
    let s = seq_in(node, ins, 0)?;
    let first = s
        .tensors
        .first()
        .ok_or_else(|| Error::op(op, "cannot concatenate an empty sequence"))?;
    let new_axis = node.attr_i("new_axis", 0)? != 0;
    let r = first.rank() + new_axis as usize;
    let axis = norm_axis(op, node.attr_i("axis", 0)?, r)?;
    // Stacking inserts a unit axis in every element, then concatenates.
    let parts: Vec<Tensor> = if new_axis {
        s.tensors
            .iter()
            .map(|t| {
                let mut shape = t.shape.clone();
                if axis > shape.len() {
                    return Err(Error::op(op, "elements differ in rank"));
                }
                shape.insert(axis, 1);
                Tensor::new(shape, t.data.clone())
            })
            .collect::<Result<_>>()?
    } else {
        s.tensors.clone()
    };
    let concat = Node {
        name: node.name.clone(),
        op_type: "Concat".into(),
        domain: String::new(),
        inputs: vec![],
        outputs: vec![],
        attrs: vec![("axis".into(), crate::model::Attr::Int(axis as i64))],
    };
    let refs: Vec<Option<&Tensor>> = parts.iter().map(Some).collect();
    let out = super::run_node(ctx, &concat, &refs)?;
    Ok(out.into_iter().map(Value::Tensor).collect())
}
