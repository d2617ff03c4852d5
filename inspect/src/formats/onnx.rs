//! ONNX: a protobuf `ModelProto`, walked as a streaming state machine over the wire format.
//! Only the messages the metadata needs are entered (model, opset imports, the graph and the
//! subgraphs of node attributes, nodes, initializers' headers, graph inputs and outputs with
//! their types and shapes); every other field, `TensorProto.raw_data` included, is skipped by
//! counting bytes. Strings kept are capped, nesting is capped, and a field that runs past its
//! enclosing message is an error.

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use super::FormatError;

/// Deepest message nesting entered (graphs nest through If/Loop/Scan attributes).
pub const MAX_DEPTH: usize = 64;
/// Longest name or string kept.
pub const MAX_NAME: u64 = 4096;
/// Graph inputs/outputs and opset imports listed; more are counted but not listed.
pub const LISTED: usize = 1000;
pub const MAX_OPERATORS: usize = 1000;
pub const MAX_RANK: usize = 64;
/// Initializer names remembered (as 64-bit hashes, to drop them from the graph inputs).
const INITIALIZER_NAMES: usize = 1 << 17;
/// Bytes of names kept for the metadata itself (inputs, outputs, operators, opsets).
pub const METADATA_BUDGET: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnnxMetadata {
    pub ir_version: i64,
    pub opset_imports: Vec<OpsetImport>,
    pub producer_name: Option<String>,
    /// Graph inputs that are not initializers, i.e. what a caller feeds.
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    /// Distinct operators of the graph and its subgraphs, sorted by op_type then domain.
    pub operators: Vec<Operator>,
    pub node_count: u64,
    pub initializer_count: u64,
    /// Elements in the main graph's initializers (the product of each one's dims).
    pub parameter_count: u64,
    /// True when initializers keep their data in external files.
    pub external_data: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpsetImport {
    /// "" is the default ONNX domain.
    pub domain: String,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Operator {
    pub op_type: String,
    /// None for the default ONNX domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueInfo {
    pub name: String,
    /// For tensors the element type ("float32", "int64", ...); otherwise the kind of value
    /// ("sequence", "map", "optional"); None when the model does not say.
    pub elem_type: Option<String>,
    /// Dimensions, None when the shape is unknown.
    pub shape: Option<Vec<Dim>>,
}

/// A dimension: a number, a symbolic name such as "N", or unknown (null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    Value(i64),
    Param(String),
    Unknown,
}

/// `TensorProto.DataType` names.
pub fn elem_type_name(t: i64) -> String {
    match t {
        0 => "undefined",
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        17 => "float8e4m3fn",
        18 => "float8e4m3fnuz",
        19 => "float8e5m2",
        20 => "float8e5m2fnuz",
        21 => "uint4",
        22 => "int4",
        23 => "float4e2m1",
        24 => "float8e8m0",
        t => return format!("unknown({t})"),
    }
    .to_owned()
}

fn err(message: impl Into<String>) -> FormatError {
    FormatError::Onnx(message.into())
}

/// The messages entered, with what is being gathered from each.
enum Kind {
    Model,
    OpsetId {
        domain: String,
        version: i64,
    },
    Graph {
        top: bool,
    },
    Node {
        op_type: String,
        domain: String,
    },
    Attribute,
    Initializer {
        elements: u64,
        external: bool,
        name: Option<String>,
    },
    /// A packed `TensorProto.dims`: varints with no tags.
    PackedDims,
    ValueInfo {
        output: bool,
        info: ValueInfo,
    },
    Type,
    TensorType,
    Shape,
    Dim(Dim),
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Model => "ModelProto",
            Kind::OpsetId { .. } => "OperatorSetIdProto",
            Kind::Graph { .. } => "GraphProto",
            Kind::Node { .. } => "NodeProto",
            Kind::Attribute => "AttributeProto",
            Kind::Initializer { .. } | Kind::PackedDims => "TensorProto",
            Kind::ValueInfo { .. } => "ValueInfoProto",
            Kind::Type => "TypeProto",
            Kind::TensorType => "TypeProto.Tensor",
            Kind::Shape => "TensorShapeProto",
            Kind::Dim(_) => "TensorShapeProto.Dimension",
        }
    }
}

struct Frame {
    kind: Kind,
    /// Absolute offset where the message ends; None for the top-level message (ends at EOF).
    end: Option<u64>,
}

/// What to do with a field's value.
#[derive(Clone, Copy)]
enum Action {
    Skip,
    Enter(fn(&Frame) -> Kind),
    Varint(VarTarget),
    Text(TextTarget),
    /// `TensorProto.external_data`: note it and skip it.
    MarkExternal,
    /// A non-tensor `TypeProto` (sequence, map, optional): name it and skip it.
    ValueKind(&'static str),
}

#[derive(Clone, Copy)]
enum VarTarget {
    Ignore,
    IrVersion,
    OpsetVersion,
    ElemType,
    DimValue,
    TensorDim,
    DataLocation,
}

#[derive(Clone, Copy)]
enum TextTarget {
    Producer,
    OpsetDomain,
    OpType,
    NodeDomain,
    InitializerName,
    ValueName,
    DimParam,
}

#[derive(Default, Clone, Copy)]
struct Varint {
    value: u64,
    shift: u32,
}

impl Varint {
    /// Adds a byte; Some(value) when the varint is complete.
    fn push(&mut self, byte: u8, at: u64) -> Result<Option<u64>, FormatError> {
        if self.shift == 63 && byte > 1 || self.shift > 63 {
            return Err(err(format!("varint longer than 64 bits at byte {at}")));
        }
        self.value |= u64::from(byte & 0x7f) << self.shift;
        self.shift += 7;
        Ok((byte & 0x80 == 0).then_some(self.value))
    }
}

enum Step {
    Tag {
        acc: Varint,
        start: u64,
    },
    Varint {
        acc: Varint,
        target: VarTarget,
    },
    Length {
        acc: Varint,
        action: Action,
    },
    Skip(u64),
    Text {
        target: TextTarget,
        len: usize,
        buf: Vec<u8>,
    },
}

pub(crate) struct OnnxParser {
    stack: Vec<Frame>,
    step: Step,
    pos: u64,
    ir_version: Option<i64>,
    producer_name: Option<String>,
    opset_imports: Vec<OpsetImport>,
    graph_seen: bool,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
    operators: BTreeSet<Operator>,
    node_count: u64,
    initializer_count: u64,
    parameter_count: u64,
    external_data: bool,
    initializer_names: HashSet<u64>,
    kept_bytes: usize,
}

/// The most an [`OnnxParser`] holds: the kept metadata, the initializer name hashes, the
/// message stack and one name being read.
pub(crate) const MAX_RETAINED: usize = METADATA_BUDGET
    + INITIALIZER_NAMES * 2 * std::mem::size_of::<u64>()
    + MAX_DEPTH * 256
    + MAX_NAME as usize
    + 4096;

fn name_hash(name: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

impl OnnxParser {
    pub(crate) fn new() -> Self {
        Self {
            stack: vec![Frame {
                kind: Kind::Model,
                end: None,
            }],
            step: Step::Tag {
                acc: Varint::default(),
                start: 0,
            },
            pos: 0,
            ir_version: None,
            producer_name: None,
            opset_imports: Vec::new(),
            graph_seen: false,
            inputs: Vec::new(),
            outputs: Vec::new(),
            operators: BTreeSet::new(),
            node_count: 0,
            initializer_count: 0,
            parameter_count: 0,
            external_data: false,
            initializer_names: HashSet::new(),
            kept_bytes: 0,
        }
    }

    /// Bytes held between chunks (kept metadata, name hashes, the message stack, a name
    /// being read); at most [`MAX_RETAINED`].
    pub(crate) fn retained_bytes(&self) -> usize {
        let text = match &self.step {
            Step::Text { buf, .. } => buf.capacity(),
            _ => 0,
        };
        self.kept_bytes
            + self.initializer_names.capacity() * std::mem::size_of::<u64>()
            + self.stack.capacity() * std::mem::size_of::<Frame>()
            + text
    }

    fn top(&self) -> &Frame {
        self.stack.last().expect("the model frame is never popped")
    }

    fn top_mut(&mut self) -> &mut Frame {
        self.stack
            .last_mut()
            .expect("the model frame is never popped")
    }

    fn fresh_step(&self) -> Step {
        match self.top().kind {
            Kind::PackedDims => Step::Varint {
                acc: Varint::default(),
                target: VarTarget::TensorDim,
            },
            _ => Step::Tag {
                acc: Varint::default(),
                start: self.pos,
            },
        }
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), FormatError> {
        let mut i = 0;
        while i < chunk.len() {
            match &mut self.step {
                Step::Skip(left) => {
                    let take = (*left).min((chunk.len() - i) as u64);
                    *left -= take;
                    i += take as usize;
                    self.pos += take;
                    if *left == 0 {
                        self.item_done()?;
                    }
                }
                Step::Text { len, buf, .. } => {
                    let take = (*len - buf.len()).min(chunk.len() - i);
                    buf.extend_from_slice(&chunk[i..i + take]);
                    i += take;
                    self.pos += take as u64;
                    if buf.len() == *len {
                        self.text_done()?;
                    }
                }
                Step::Tag { acc, start } => {
                    let start = *start;
                    let byte = chunk[i];
                    i += 1;
                    self.pos += 1;
                    if let Some(tag) = acc.push(byte, self.pos - 1)? {
                        self.on_tag(tag, start)?;
                    }
                }
                Step::Varint { acc, target } => {
                    let target = *target;
                    let byte = chunk[i];
                    i += 1;
                    self.pos += 1;
                    if let Some(value) = acc.push(byte, self.pos - 1)? {
                        self.on_varint(target, value)?;
                        self.item_done()?;
                    }
                }
                Step::Length { acc, action } => {
                    let action = *action;
                    let byte = chunk[i];
                    i += 1;
                    self.pos += 1;
                    if let Some(len) = acc.push(byte, self.pos - 1)? {
                        self.on_length(action, len)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn bad_wire(&self, wire: u64, start: u64) -> FormatError {
        err(format!(
            "not a protobuf ModelProto (bad wire type {wire} at byte {start})"
        ))
    }

    fn on_tag(&mut self, tag: u64, start: u64) -> Result<(), FormatError> {
        let field = tag >> 3;
        let wire = tag & 7;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(err(format!(
                "not a protobuf ModelProto (field number {field} at byte {start})"
            )));
        }
        if !matches!(wire, 0 | 1 | 2 | 5) {
            return Err(self.bad_wire(wire, start));
        }
        let (expected, action) = self.action(field, wire);
        if let Some(expected) = expected {
            if expected != wire {
                return Err(err(format!(
                    "{}.{field} has wire type {wire}, expected {expected} (at byte {start})",
                    self.top().kind.name()
                )));
            }
        }
        match wire {
            0 => {
                let target = match action {
                    Action::Varint(t) => t,
                    _ => VarTarget::Ignore,
                };
                self.step = Step::Varint {
                    acc: Varint::default(),
                    target,
                };
                Ok(())
            }
            1 => self.start_bounded(8, Action::Skip),
            5 => self.start_bounded(4, Action::Skip),
            2 => {
                self.step = Step::Length {
                    acc: Varint::default(),
                    action,
                };
                Ok(())
            }
            _ => unreachable!("wire types checked above"),
        }
    }

    /// The expected wire type (for fields this parser knows) and what to do with the field.
    fn action(&self, field: u64, wire: u64) -> (Option<u64>, Action) {
        use Action::*;
        let frame = self.top();
        let top_graph = matches!(frame.kind, Kind::Graph { top: true });
        match (&frame.kind, field) {
            (Kind::Model, 1) => (Some(0), Varint(VarTarget::IrVersion)),
            (Kind::Model, 2) => (Some(2), Text(TextTarget::Producer)),
            (Kind::Model, 7) => (Some(2), Enter(|_| Kind::Graph { top: true })),
            (Kind::Model, 8) => (
                Some(2),
                Enter(|_| Kind::OpsetId {
                    domain: String::new(),
                    version: 0,
                }),
            ),
            (Kind::OpsetId { .. }, 1) => (Some(2), Text(TextTarget::OpsetDomain)),
            (Kind::OpsetId { .. }, 2) => (Some(0), Varint(VarTarget::OpsetVersion)),
            (Kind::Graph { .. }, 1) => (
                Some(2),
                Enter(|_| Kind::Node {
                    op_type: String::new(),
                    domain: String::new(),
                }),
            ),
            (Kind::Graph { .. }, 5) if top_graph => (
                Some(2),
                Enter(|_| Kind::Initializer {
                    elements: 1,
                    external: false,
                    name: None,
                }),
            ),
            (Kind::Graph { .. }, 11 | 12) if top_graph => (
                Some(2),
                if field == 11 {
                    Enter(|_| value_info(false))
                } else {
                    Enter(|_| value_info(true))
                },
            ),
            (Kind::Node { .. }, 4) => (Some(2), Text(TextTarget::OpType)),
            (Kind::Node { .. }, 7) => (Some(2), Text(TextTarget::NodeDomain)),
            (Kind::Node { .. }, 5) => (Some(2), Enter(|_| Kind::Attribute)),
            (Kind::Attribute, 6 | 11) => (Some(2), Enter(|_| Kind::Graph { top: false })),
            (Kind::Initializer { .. }, 1) => match wire {
                2 => (None, Enter(|_| Kind::PackedDims)),
                _ => (Some(0), Varint(VarTarget::TensorDim)),
            },
            (Kind::Initializer { .. }, 8) => (Some(2), Text(TextTarget::InitializerName)),
            (Kind::Initializer { .. }, 13) => (Some(2), MarkExternal),
            (Kind::Initializer { .. }, 14) => (Some(0), Varint(VarTarget::DataLocation)),
            (Kind::ValueInfo { .. }, 1) => (Some(2), Text(TextTarget::ValueName)),
            (Kind::ValueInfo { .. }, 2) => (Some(2), Enter(|_| Kind::Type)),
            (Kind::Type, 1 | 8) => (Some(2), Enter(|_| Kind::TensorType)),
            (Kind::Type, 4) => (Some(2), ValueKind("sequence")),
            (Kind::Type, 5) => (Some(2), ValueKind("map")),
            (Kind::Type, 9) => (Some(2), ValueKind("optional")),
            (Kind::TensorType, 1) => (Some(0), Varint(VarTarget::ElemType)),
            (Kind::TensorType, 2) => (Some(2), Enter(|_| Kind::Shape)),
            (Kind::Shape, 1) => (Some(2), Enter(|_| Kind::Dim(Dim::Unknown))),
            (Kind::Dim(_), 1) => (Some(0), Varint(VarTarget::DimValue)),
            (Kind::Dim(_), 2) => (Some(2), Text(TextTarget::DimParam)),
            _ => (None, Skip),
        }
    }

    /// Starts reading a field of `len` bytes, checking it fits its enclosing message.
    fn start_bounded(&mut self, len: u64, action: Action) -> Result<(), FormatError> {
        let end = self
            .pos
            .checked_add(len)
            .ok_or_else(|| err(format!("field length {len} at byte {} overflows", self.pos)))?;
        if let Some(limit) = self.top().end {
            if end > limit {
                return Err(err(format!(
                    "a field of {len} bytes at byte {} runs past the end of its {} (not a \
                     protobuf ModelProto?)",
                    self.pos,
                    self.top().kind.name()
                )));
            }
        }
        match action {
            Action::Enter(make) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(err(format!(
                        "messages nested deeper than {MAX_DEPTH} levels at byte {}",
                        self.pos
                    )));
                }
                let kind = make(self.top());
                self.stack.push(Frame {
                    kind,
                    end: Some(end),
                });
                self.item_done()
            }
            Action::Text(target) => {
                if len > MAX_NAME {
                    return Err(err(format!(
                        "a {} string of {len} bytes at byte {} is longer than the limit of \
                         {MAX_NAME}",
                        self.top().kind.name(),
                        self.pos
                    )));
                }
                self.step = Step::Text {
                    target,
                    len: len as usize,
                    buf: Vec::new(),
                };
                if len == 0 {
                    self.text_done()?;
                }
                Ok(())
            }
            Action::MarkExternal | Action::ValueKind(_) | Action::Skip | Action::Varint(_) => {
                if let (Action::MarkExternal, Kind::Initializer { external, .. }) =
                    (action, &mut self.top_mut().kind)
                {
                    *external = true;
                }
                if let Action::ValueKind(kind) = action {
                    if let Some(info) = self.value_info_mut() {
                        info.elem_type = Some(kind.to_owned());
                    }
                }
                self.step = Step::Skip(len);
                if len == 0 {
                    self.item_done()?;
                }
                Ok(())
            }
        }
    }

    fn on_length(&mut self, action: Action, len: u64) -> Result<(), FormatError> {
        self.start_bounded(len, action)
    }

    fn on_varint(&mut self, target: VarTarget, value: u64) -> Result<(), FormatError> {
        let signed = value as i64;
        match target {
            VarTarget::Ignore => {}
            VarTarget::IrVersion => self.ir_version = Some(signed),
            VarTarget::TensorDim => self.initializer_dim(signed)?,
            VarTarget::ElemType => {
                if let Some(info) = self.value_info_mut() {
                    info.elem_type = Some(elem_type_name(signed));
                }
            }
            VarTarget::OpsetVersion | VarTarget::DataLocation | VarTarget::DimValue => {
                match (target, &mut self.top_mut().kind) {
                    (VarTarget::OpsetVersion, Kind::OpsetId { version, .. }) => *version = signed,
                    (VarTarget::DataLocation, Kind::Initializer { external, .. }) => {
                        *external |= value == 1;
                    }
                    (VarTarget::DimValue, Kind::Dim(dim)) => *dim = Dim::Value(signed),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// A dim of the initializer on (or just under, for packed dims) the top of the stack.
    fn initializer_dim(&mut self, dim: i64) -> Result<(), FormatError> {
        let at = self.pos;
        let frame = self
            .stack
            .iter_mut()
            .rev()
            .find(|f| matches!(f.kind, Kind::Initializer { .. }))
            .ok_or_else(|| err("dims outside an initializer"))?;
        if let Kind::Initializer { elements, .. } = &mut frame.kind {
            let dim = u64::try_from(dim).map_err(|_| {
                err(format!(
                    "an initializer has a negative dimension {dim} (byte {at})"
                ))
            })?;
            *elements = elements.checked_mul(dim).ok_or_else(|| {
                err(format!(
                    "an initializer's dimensions overflow the element count (byte {at})"
                ))
            })?;
        }
        Ok(())
    }

    fn value_info_mut(&mut self) -> Option<&mut ValueInfo> {
        self.stack.iter_mut().rev().find_map(|f| match &mut f.kind {
            Kind::ValueInfo { info, .. } => Some(info),
            _ => None,
        })
    }

    fn text_done(&mut self) -> Result<(), FormatError> {
        let Step::Text { target, buf, .. } = std::mem::replace(&mut self.step, Step::Skip(0))
        else {
            unreachable!("text_done only after Step::Text")
        };
        let text = String::from_utf8(buf).map_err(|_| {
            err(format!(
                "a {} string ending at byte {} is not UTF-8",
                self.top().kind.name(),
                self.pos
            ))
        })?;
        match (target, &mut self.top_mut().kind) {
            (TextTarget::Producer, _) => self.producer_name = Some(text),
            (TextTarget::OpsetDomain, Kind::OpsetId { domain, .. }) => *domain = text,
            (TextTarget::OpType, Kind::Node { op_type, .. }) => *op_type = text,
            (TextTarget::NodeDomain, Kind::Node { domain, .. }) => *domain = text,
            (TextTarget::InitializerName, Kind::Initializer { name, .. }) => *name = Some(text),
            (TextTarget::ValueName, Kind::ValueInfo { info, .. }) => info.name = text,
            (TextTarget::DimParam, Kind::Dim(dim)) => *dim = Dim::Param(text),
            _ => {}
        }
        self.item_done()
    }

    /// A field is complete: close the messages that end here and start the next field.
    fn item_done(&mut self) -> Result<(), FormatError> {
        if let Some(end) = self.top().end {
            if self.pos > end {
                return Err(err(format!(
                    "a field runs past the end of its {} at byte {end}",
                    self.top().kind.name()
                )));
            }
        }
        while self.top().end == Some(self.pos) {
            let frame = self.stack.pop().expect("ended frames are never the model");
            self.close(frame.kind)?;
        }
        self.step = self.fresh_step();
        Ok(())
    }

    /// Accounts for `bytes` more of names kept in the metadata.
    fn keep(&mut self, bytes: usize) -> Result<(), FormatError> {
        self.kept_bytes += bytes;
        if self.kept_bytes > METADATA_BUDGET {
            return Err(err(format!(
                "the names of the model's inputs, outputs and operators exceed {METADATA_BUDGET} \
                 bytes"
            )));
        }
        Ok(())
    }

    fn close(&mut self, kind: Kind) -> Result<(), FormatError> {
        match kind {
            Kind::OpsetId { domain, version } => {
                if self.opset_imports.len() < LISTED {
                    self.keep(domain.len() + 16)?;
                    self.opset_imports.push(OpsetImport { domain, version });
                }
            }
            Kind::Graph { top } => self.graph_seen |= top,
            Kind::Node { op_type, domain } => {
                self.node_count += 1;
                if !op_type.is_empty() {
                    let domain = match domain.as_str() {
                        "" | "ai.onnx" => None,
                        _ => Some(domain),
                    };
                    let op = Operator { op_type, domain };
                    if !self.operators.contains(&op) {
                        self.keep(op.op_type.len() + op.domain.as_ref().map_or(0, String::len))?;
                        if self.operators.len() >= MAX_OPERATORS {
                            return Err(err(format!(
                                "more than {MAX_OPERATORS} distinct operators"
                            )));
                        }
                        self.operators.insert(op);
                    }
                }
            }
            Kind::Initializer {
                elements,
                external,
                name,
            } => {
                self.initializer_count += 1;
                self.external_data |= external;
                self.parameter_count = self
                    .parameter_count
                    .checked_add(elements)
                    .ok_or_else(|| err("the parameter count overflows"))?;
                if let Some(name) = name {
                    if self.initializer_names.len() < INITIALIZER_NAMES {
                        self.initializer_names.insert(name_hash(&name));
                    }
                }
            }
            Kind::ValueInfo { output, info } => {
                let list = if output {
                    &mut self.outputs
                } else {
                    &mut self.inputs
                };
                if list.len() < LISTED {
                    list.push(info);
                    let size = info_size(list.last().expect("just pushed"));
                    self.keep(size)?;
                }
            }
            Kind::Shape => {
                if let Some(info) = self.value_info_mut() {
                    info.shape.get_or_insert_with(Vec::new);
                }
            }
            Kind::Dim(dim) => {
                if let Some(info) = self.value_info_mut() {
                    let shape = info.shape.get_or_insert_with(Vec::new);
                    if shape.len() >= MAX_RANK {
                        return Err(err(format!(
                            "the shape of {:?} has more than {MAX_RANK} dimensions",
                            info.name
                        )));
                    }
                    shape.push(dim);
                }
            }
            Kind::Model | Kind::Attribute | Kind::PackedDims | Kind::Type | Kind::TensorType => {}
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<OnnxMetadata, FormatError> {
        let clean = matches!(self.step, Step::Tag { acc, .. } if acc.shift == 0);
        if !clean || self.stack.len() > 1 {
            return Err(err(format!(
                "truncated: the file ends at byte {} inside a {}",
                self.pos,
                self.top().kind.name()
            )));
        }
        let Some(ir_version) = self.ir_version else {
            return Err(err("not an ONNX model: no ir_version"));
        };
        if ir_version >= 3 && self.opset_imports.is_empty() {
            return Err(err("not an ONNX model: no opset_import"));
        }
        if !self.graph_seen {
            return Err(err("not an ONNX model: no graph"));
        }
        let names = self.initializer_names;
        let mut inputs = self.inputs;
        inputs.retain(|i| !names.contains(&name_hash(&i.name)));
        Ok(OnnxMetadata {
            ir_version,
            opset_imports: self.opset_imports,
            producer_name: self.producer_name.filter(|p| !p.is_empty()),
            inputs,
            outputs: self.outputs,
            operators: self.operators.into_iter().collect(),
            node_count: self.node_count,
            initializer_count: self.initializer_count,
            parameter_count: self.parameter_count,
            external_data: self.external_data,
        })
    }
}

fn value_info(output: bool) -> Kind {
    Kind::ValueInfo {
        output,
        info: ValueInfo {
            name: String::new(),
            elem_type: None,
            shape: None,
        },
    }
}

/// Roughly how many bytes a listed input or output takes.
fn info_size(info: &ValueInfo) -> usize {
    let dims = info.shape.iter().flatten().map(|d| match d {
        Dim::Param(p) => p.len() + 8,
        _ => 8,
    });
    info.name.len() + info.elem_type.as_ref().map_or(0, String::len) + dims.sum::<usize>()
}
