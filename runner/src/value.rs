//! Runtime values: a tensor or a sequence of tensors.
//!
//! Most operators take and produce tensors; the sequence operators
//! (`SequenceConstruct`, `SplitToSequence`, ...) pass sequences between
//! them, and graphs may take or return sequences.

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::onnx::{sequence_elem_type as st, SequenceProto};
use crate::tensor::{DataType, Tensor};

/// Bytes charged per sequence element on top of its data, so a sequence of
/// many tiny tensors cannot exhaust memory under the per-tensor budget.
pub const SEQ_ELEM_OVERHEAD: usize = 64;

/// An ordered list of tensors sharing one element type (shapes may
/// differ). An empty sequence still knows its element type.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    pub elem_type: DataType,
    pub tensors: Vec<Tensor>,
}

impl Sequence {
    /// A sequence of `tensors`, which must all be of `elem_type`.
    pub fn new(elem_type: DataType, tensors: Vec<Tensor>) -> Result<Self> {
        if let Some(t) = tensors.iter().find(|t| t.dtype() != elem_type) {
            return Err(Error::Invalid(format!(
                "sequence of {elem_type:?} holds a {:?} tensor",
                t.dtype()
            )));
        }
        Ok(Sequence { elem_type, tensors })
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Bytes the sequence accounts for: its elements' data plus
    /// [`SEQ_ELEM_OVERHEAD`] each.
    pub fn bytes(&self) -> usize {
        self.tensors.iter().fold(0usize, |a, t| {
            a.saturating_add(t.len().saturating_mul(t.dtype().size()))
                .saturating_add(SEQ_ELEM_OVERHEAD)
        })
    }

    /// Checks every element against `limits` and the whole sequence
    /// against the per-tensor byte budget.
    pub fn check(&self, limits: &Limits) -> Result<()> {
        for t in &self.tensors {
            limits.check_shape(&t.shape, t.dtype().size())?;
        }
        if self.bytes() > limits.max_tensor_bytes {
            return Err(Error::Limit(format!(
                "sequence of {} tensors needs {} bytes, limit is {}",
                self.len(),
                self.bytes(),
                limits.max_tensor_bytes
            )));
        }
        Ok(())
    }

    /// Decodes a `SequenceProto` of tensors. `elem_type` is used when the
    /// sequence is empty (protos do not record the tensor type then).
    pub fn from_proto(
        p: &SequenceProto,
        elem_type: Option<DataType>,
        limits: &Limits,
    ) -> Result<Self> {
        match p.elem_type {
            st::TENSOR | st::UNDEFINED => {}
            st::SEQUENCE | st::MAP | st::OPTIONAL | st::SPARSE_TENSOR => {
                return Err(Error::Unsupported(format!(
                    "sequence `{}` of element kind {}",
                    p.name, p.elem_type
                )))
            }
            k => {
                return Err(Error::Invalid(format!(
                    "sequence `{}` has element kind {k}",
                    p.name
                )))
            }
        }
        if !p.sequence_values.is_empty() || !p.sparse_tensor_values.is_empty() {
            return Err(Error::Unsupported(format!(
                "sequence `{}` of sequences or sparse tensors",
                p.name
            )));
        }
        let tensors = p
            .tensor_values
            .iter()
            .map(|t| Tensor::from_proto(t, limits))
            .collect::<Result<Vec<_>>>()?;
        let elem_type = tensors
            .first()
            .map(Tensor::dtype)
            .or(elem_type)
            .unwrap_or(DataType::F32);
        let s = Sequence::new(elem_type, tensors)?;
        s.check(limits)?;
        Ok(s)
    }

    /// Encodes as a `SequenceProto`.
    pub fn to_proto(&self, name: &str) -> SequenceProto {
        SequenceProto {
            name: name.to_string(),
            elem_type: st::TENSOR,
            tensor_values: self.tensors.iter().map(|t| t.to_proto("")).collect(),
            ..Default::default()
        }
    }
}

/// A runtime value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Tensor(Tensor),
    Sequence(Sequence),
}

/// A borrowed [`Value`], so executors can hand out constants (stored as
/// tensors) and computed values alike without copying.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Tensor(&'a Tensor),
    Sequence(&'a Sequence),
}

impl Value {
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Tensor(t) => ValueRef::Tensor(t),
            Value::Sequence(s) => ValueRef::Sequence(s),
        }
    }

    /// The tensor, or an error saying that `what` is a sequence.
    pub fn into_tensor(self, what: &str) -> Result<Tensor> {
        match self {
            Value::Tensor(t) => Ok(t),
            Value::Sequence(_) => Err(Error::Invalid(format!(
                "{what} is a sequence, not a tensor"
            ))),
        }
    }

    pub fn tensor(&self) -> Option<&Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            Value::Sequence(_) => None,
        }
    }

    pub fn is_sequence(&self) -> bool {
        matches!(self, Value::Sequence(_))
    }

    /// Checks the value against `limits`.
    pub fn check(&self, limits: &Limits) -> Result<()> {
        match self {
            Value::Tensor(t) => limits.check_shape(&t.shape, t.dtype().size()).map(|_| ()),
            Value::Sequence(s) => s.check(limits),
        }
    }
}

impl From<Tensor> for Value {
    fn from(t: Tensor) -> Self {
        Value::Tensor(t)
    }
}

impl From<Sequence> for Value {
    fn from(s: Sequence) -> Self {
        Value::Sequence(s)
    }
}

impl<'a> ValueRef<'a> {
    pub fn tensor(self) -> Option<&'a Tensor> {
        match self {
            ValueRef::Tensor(t) => Some(t),
            ValueRef::Sequence(_) => None,
        }
    }

    pub fn sequence(self) -> Option<&'a Sequence> {
        match self {
            ValueRef::Tensor(_) => None,
            ValueRef::Sequence(s) => Some(s),
        }
    }

    pub fn to_owned_value(self) -> Value {
        match self {
            ValueRef::Tensor(t) => Value::Tensor(t.clone()),
            ValueRef::Sequence(s) => Value::Sequence(s.clone()),
        }
    }
}

impl<'a> From<&'a Tensor> for ValueRef<'a> {
    fn from(t: &'a Tensor) -> Self {
        ValueRef::Tensor(t)
    }
}
