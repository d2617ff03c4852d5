//! Loading and validating ONNX models into Bazaar's graph IR.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prost::Message;

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::onnx::{self, attribute_type as at, type_proto, ModelProto};
use crate::tensor::{DataType, Tensor};

/// Index of a value (tensor edge) in [`Graph::values`].
pub type ValueId = usize;

/// One dimension of a declared shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dim {
    Known(usize),
    Symbolic(String),
    Unknown,
}

/// Declared element type and (possibly partial) shape of a value.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ValueType {
    /// `None` if the type is not a supported tensor type.
    pub dtype: Option<DataType>,
    /// `None` if the rank is unknown.
    pub shape: Option<Vec<Dim>>,
    /// The value is a sequence of tensors; `dtype` and `shape` then
    /// describe its elements.
    pub sequence: bool,
}

impl ValueType {
    /// The shape if every dimension is known.
    pub fn static_shape(&self) -> Option<Vec<usize>> {
        self.shape
            .as_ref()?
            .iter()
            .map(|d| match d {
                Dim::Known(n) => Some(*n),
                _ => None,
            })
            .collect()
    }
}

/// A decoded node attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    Float(f32),
    Int(i64),
    String(String),
    Tensor(Tensor),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Strings(Vec<String>),
    /// Subgraphs (If/Loop/Scan bodies) are recognised but not executed.
    Graph,
    /// A graph the loader derived for a node: for `Gradient`, the forward
    /// computation it differentiates (see [`GRADIENT_FORWARD`]).
    Subgraph(Arc<Graph>),
}

/// Domain of the training operators (`Gradient`).
pub const TRAINING_DOMAIN: &str = "ai.onnx.preview.training";

/// Attribute under which the loader stores a `Gradient` node's forward
/// subgraph. Its inputs are the node's inputs (`xs`, then `zs`, then the
/// initializers and graph inputs the computation also reads, which the
/// loader appends to the node's inputs); its one output is `y`.
pub const GRADIENT_FORWARD: &str = "forward";

/// An operator application.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub op_type: String,
    pub domain: String,
    /// `None` for omitted optional inputs (empty names in ONNX).
    pub inputs: Vec<Option<ValueId>>,
    pub outputs: Vec<Option<ValueId>>,
    pub attrs: Vec<(String, Attr)>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    pub fn attr_i(&self, name: &str, default: i64) -> Result<i64> {
        match self.attr(name) {
            None => Ok(default),
            Some(Attr::Int(i)) => Ok(*i),
            Some(a) => Err(self.bad_attr(name, a)),
        }
    }

    pub fn attr_f(&self, name: &str, default: f32) -> Result<f32> {
        match self.attr(name) {
            None => Ok(default),
            Some(Attr::Float(f)) => Ok(*f),
            Some(Attr::Int(i)) => Ok(*i as f32),
            Some(a) => Err(self.bad_attr(name, a)),
        }
    }

    pub fn attr_s(&self, name: &str, default: &str) -> Result<String> {
        match self.attr(name) {
            None => Ok(default.to_string()),
            Some(Attr::String(s)) => Ok(s.clone()),
            Some(a) => Err(self.bad_attr(name, a)),
        }
    }

    pub fn attr_ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Ints(v)) => Ok(Some(v.clone())),
            Some(Attr::Int(i)) => Ok(Some(vec![*i])),
            Some(a) => Err(self.bad_attr(name, a)),
        }
    }

    pub fn attr_strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Strings(v)) => Ok(Some(v.clone())),
            Some(Attr::String(s)) => Ok(Some(vec![s.clone()])),
            Some(a) => Err(self.bad_attr(name, a)),
        }
    }

    pub fn attr_floats(&self, name: &str) -> Result<Option<Vec<f32>>> {
        match self.attr(name) {
            None => Ok(None),
            Some(Attr::Floats(v)) => Ok(Some(v.clone())),
            Some(a) => Err(self.bad_attr(name, a)),
        }
    }

    fn bad_attr(&self, name: &str, a: &Attr) -> Error {
        Error::op(
            &self.op_type,
            format!("attribute `{name}` has unexpected kind {a:?}"),
        )
    }
}

/// A validated, topologically sorted computation graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// Names of all values, indexed by [`ValueId`].
    pub values: Vec<String>,
    /// Runtime inputs (graph inputs without an initializer).
    pub inputs: Vec<(ValueId, ValueType)>,
    pub outputs: Vec<(ValueId, ValueType)>,
    /// Initializers and folded constants, indexed by [`ValueId`].
    pub consts: Vec<Option<Tensor>>,
    /// Nodes in a valid execution order.
    pub nodes: Vec<Node>,
}

/// A loaded model.
#[derive(Debug)]
pub struct Model {
    pub ir_version: i64,
    /// Version of the default (`ai.onnx`) operator set.
    pub opset: i64,
    pub graph: Graph,
    pub limits: Limits,
    /// See [`Model::id`].
    id: u64,
}

/// A process-wide unique model identity.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A clone is a new identity: it may be edited independently.
impl Clone for Model {
    fn clone(&self) -> Self {
        Model {
            ir_version: self.ir_version,
            opset: self.opset,
            graph: self.graph.clone(),
            limits: self.limits.clone(),
            id: next_id(),
        }
    }
}

impl Model {
    /// Decodes and validates a model with default [`Limits`].
    pub fn load(bytes: &[u8]) -> Result<Model> {
        Model::load_with_limits(bytes, Limits::default())
    }

    /// Decodes and validates a model, enforcing `limits`.
    pub fn load_with_limits(bytes: &[u8], limits: Limits) -> Result<Model> {
        if bytes.len() > limits.max_model_bytes {
            return Err(Error::Limit(format!(
                "model is {} bytes, limit is {}",
                bytes.len(),
                limits.max_model_bytes
            )));
        }
        let proto = ModelProto::decode(bytes)?;
        Model::from_proto(&proto, limits)
    }

    /// Validates an already decoded model.
    pub fn from_proto(proto: &ModelProto, limits: Limits) -> Result<Model> {
        let g = proto
            .graph
            .as_ref()
            .ok_or_else(|| Error::Invalid("model has no graph".into()))?;
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version)
            // Models importing only other domains get opset 0; their
            // default-domain nodes (if any) are then reported unsupported.
            .unwrap_or(if proto.ir_version < 3 { 1 } else { 0 });
        let graph = build_graph(g, &limits)?;
        Ok(Model {
            ir_version: proto.ir_version,
            opset,
            graph,
            limits,
            id: next_id(),
        })
    }

    /// Identity of this model's contents, for backends that keep per-model
    /// state between runs (the wgpu backend keeps constants on the GPU):
    /// fresh on load, on clone and after [`Model::optimize`]. Clone a model
    /// before editing its graph in place if a backend has already run it.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Gives the model a fresh [`Model::id`] after its graph changed.
    pub(crate) fn renew_id(&mut self) {
        self.id = next_id();
    }

    /// Value id of a named value.
    pub fn value_id(&self, name: &str) -> Option<ValueId> {
        self.graph.values.iter().position(|v| v == name)
    }
}

fn value_type(vi: &onnx::ValueInfoProto) -> ValueType {
    match vi.r#type.as_ref() {
        Some(tp) => type_of(tp),
        None => ValueType::default(),
    }
}

fn type_of(tp: &onnx::TypeProto) -> ValueType {
    match &tp.value {
        Some(type_proto::Value::SequenceType(s)) => ValueType {
            sequence: true,
            ..s.elem_type.as_deref().map(type_of).unwrap_or_default()
        },
        Some(type_proto::Value::TensorType(t)) => ValueType {
            dtype: DataType::from_onnx(t.elem_type),
            shape: t.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| {
                        use onnx::tensor_shape_proto::dimension::Value as V;
                        match &d.value {
                            Some(V::DimValue(v)) if *v >= 0 => Dim::Known(*v as usize),
                            Some(V::DimParam(p)) => Dim::Symbolic(p.clone()),
                            _ => Dim::Unknown,
                        }
                    })
                    .collect()
            }),
            sequence: false,
        },
        _ => ValueType::default(),
    }
}

/// Tensors and sequences of tensors are supported graph inputs/outputs.
fn is_supported_type(vi: &onnx::ValueInfoProto) -> bool {
    match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        None | Some(type_proto::Value::TensorType(_)) => true,
        Some(type_proto::Value::SequenceType(s)) => matches!(
            s.elem_type.as_ref().and_then(|t| t.value.as_ref()),
            None | Some(type_proto::Value::TensorType(_))
        ),
        Some(_) => false,
    }
}

fn convert_attr(a: &onnx::AttributeProto, limits: &Limits) -> Result<Attr> {
    let utf8 = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    // Old exporters leave `type` unset; infer it from the populated field.
    let ty = if a.r#type != at::UNDEFINED {
        a.r#type
    } else if a.t.is_some() {
        at::TENSOR
    } else if a.g.is_some() {
        at::GRAPH
    } else if !a.floats.is_empty() {
        at::FLOATS
    } else if !a.ints.is_empty() {
        at::INTS
    } else if !a.strings.is_empty() {
        at::STRINGS
    } else if !a.s.is_empty() {
        at::STRING
    } else if a.f != 0.0 {
        at::FLOAT
    } else {
        at::INT
    };
    Ok(match ty {
        at::FLOAT => Attr::Float(a.f),
        at::INT => Attr::Int(a.i),
        at::STRING => Attr::String(utf8(&a.s)),
        at::TENSOR => Attr::Tensor(Tensor::from_proto(
            a.t.as_ref()
                .ok_or_else(|| Error::Invalid(format!("attribute `{}` has no tensor", a.name)))?,
            limits,
        )?),
        at::FLOATS => Attr::Floats(a.floats.clone()),
        at::INTS => Attr::Ints(a.ints.clone()),
        at::STRINGS => Attr::Strings(a.strings.iter().map(|s| utf8(s)).collect()),
        at::GRAPH | at::GRAPHS => Attr::Graph,
        other => {
            return Err(Error::Unsupported(format!(
                "attribute `{}` of type {other}",
                a.name
            )))
        }
    })
}

fn build_graph(g: &onnx::GraphProto, limits: &Limits) -> Result<Graph> {
    if g.node.len() > limits.max_nodes {
        return Err(Error::Limit(format!(
            "{} nodes, limit is {}",
            g.node.len(),
            limits.max_nodes
        )));
    }
    let mut names = Interner::default();
    // Producers: initializers, graph inputs, node outputs. Each value may be
    // produced once (SSA); initializers may shadow same-named inputs.
    let mut produced: HashMap<ValueId, usize> = HashMap::new(); // value -> producer node or usize::MAX
    let mut consts_map: HashMap<ValueId, Tensor> = HashMap::new();
    for init in &g.initializer {
        if init.name.is_empty() {
            return Err(Error::Invalid("unnamed initializer".into()));
        }
        let id = names.id(&init.name);
        let t = Tensor::from_proto(init, limits)?;
        if consts_map.insert(id, t).is_some() {
            return Err(Error::Invalid(format!(
                "duplicate initializer `{}`",
                init.name
            )));
        }
        produced.insert(id, usize::MAX);
    }
    if !g.sparse_initializer.is_empty() {
        return Err(Error::Unsupported("sparse initializers".into()));
    }
    let mut inputs = Vec::new();
    for vi in &g.input {
        let id = names.id(&vi.name);
        if consts_map.contains_key(&id) {
            continue;
        }
        if !is_supported_type(vi) {
            return Err(Error::Unsupported(format!(
                "graph input `{}` is not a tensor or sequence of tensors",
                vi.name
            )));
        }
        if produced.insert(id, usize::MAX).is_some() {
            return Err(Error::Invalid(format!(
                "duplicate graph input `{}`",
                vi.name
            )));
        }
        let vt = value_type(vi);
        if let Some(s) = &vt.shape {
            if s.len() > limits.max_rank {
                return Err(Error::Limit(format!(
                    "input `{}` has rank {}",
                    vi.name,
                    s.len()
                )));
            }
        }
        inputs.push((id, vt));
    }

    let mut nodes = Vec::with_capacity(g.node.len());
    for (i, n) in g.node.iter().enumerate() {
        let name = if n.name.is_empty() {
            format!("{}#{i}", n.op_type)
        } else {
            n.name.clone()
        };
        let mut opt = |s: &String| (!s.is_empty()).then(|| names.id(s));
        let ins: Vec<_> = n.input.iter().map(&mut opt).collect();
        let outs: Vec<_> = n.output.iter().map(&mut opt).collect();
        for o in outs.iter().flatten() {
            if produced.insert(*o, i).is_some() {
                return Err(Error::Invalid(format!(
                    "value `{}` is produced twice (node `{name}`)",
                    names.values[*o]
                )));
            }
        }
        let attrs = n
            .attribute
            .iter()
            .map(|a| Ok((a.name.clone(), convert_attr(a, limits)?)))
            .collect::<Result<Vec<_>>>()?;
        nodes.push(Node {
            name,
            op_type: n.op_type.clone(),
            domain: n.domain.clone(),
            inputs: ins,
            outputs: outs,
            attrs,
        });
    }
    let mut outputs = Vec::new();
    for vi in &g.output {
        let id = names.id(&vi.name);
        if !produced.contains_key(&id) {
            return Err(Error::MissingValue {
                node: "<graph output>".into(),
                value: vi.name.clone(),
            });
        }
        if !is_supported_type(vi) {
            return Err(Error::Unsupported(format!(
                "graph output `{}` is not a tensor or sequence of tensors",
                vi.name
            )));
        }
        outputs.push((id, value_type(vi)));
    }
    prepare_gradients(&mut nodes, &produced, &names, limits)?;
    let values = names.values;

    let order = topo_order(&nodes, &produced, &values)?;
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    let nodes = order.into_iter().filter_map(|i| slots[i].take()).collect();
    let mut consts = vec![None; values.len()];
    for (id, t) in consts_map {
        consts[id] = Some(t);
    }
    Ok(Graph {
        values,
        inputs,
        outputs,
        consts,
        nodes,
    })
}

#[derive(Default)]
struct Interner {
    ids: HashMap<String, ValueId>,
    values: Vec<String>,
}

impl Interner {
    fn get(&self, name: &str) -> Option<ValueId> {
        self.ids.get(name).copied()
    }

    fn id(&mut self, name: &str) -> ValueId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        self.values.push(name.to_string());
        self.ids.insert(name.to_string(), self.values.len() - 1);
        self.values.len() - 1
    }
}

/// Kahn's algorithm; reports missing producers and cycles as errors.
fn topo_order(
    nodes: &[Node],
    produced: &HashMap<ValueId, usize>,
    values: &[String],
) -> Result<Vec<usize>> {
    let mut indeg = vec![0usize; nodes.len()];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for v in n.inputs.iter().flatten() {
            match produced.get(v) {
                None => {
                    return Err(Error::MissingValue {
                        node: n.name.clone(),
                        value: values[*v].clone(),
                    })
                }
                Some(&usize::MAX) => {}
                Some(&p) => {
                    indeg[i] += 1;
                    users[p].push(i);
                }
            }
        }
    }
    let mut ready: Vec<usize> = (0..nodes.len()).filter(|&i| indeg[i] == 0).rev().collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for &u in users[i].iter().rev() {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.push(u);
            }
        }
    }
    if order.len() != nodes.len() {
        let stuck = (0..nodes.len()).find(|&i| indeg[i] > 0).unwrap_or(0);
        return Err(Error::Cycle(nodes[stuck].name.clone()));
    }
    Ok(order)
}

/// For every `Gradient` node, extracts the forward computation of `y` from
/// `xs`/`zs` into a self-contained subgraph stored on the node (attribute
/// [`GRADIENT_FORWARD`]) and appends the initializers and graph inputs it
/// reads to the node's inputs, so executors hand them over like any input.
/// The subgraph may only contain operators the CPU backend can
/// differentiate.
fn prepare_gradients(
    nodes: &mut [Node],
    produced: &HashMap<ValueId, usize>,
    names: &Interner,
    limits: &Limits,
) -> Result<()> {
    let mut budget = limits.max_nodes;
    for gi in 0..nodes.len() {
        let n = &nodes[gi];
        if n.domain != TRAINING_DOMAIN || n.op_type != "Gradient" {
            continue;
        }
        let lookup = |name: &str| {
            names.get(name).ok_or_else(|| Error::MissingValue {
                node: n.name.clone(),
                value: name.to_string(),
            })
        };
        let xs = n.attr_strings("xs")?.unwrap_or_default();
        let zs = n.attr_strings("zs")?.unwrap_or_default();
        let y = lookup(&n.attr_s("y", "")?)?;
        if xs.is_empty() {
            return Err(Error::op("Gradient", "attribute `xs` is required"));
        }
        if n.inputs.len() != xs.len() + zs.len() {
            return Err(Error::op(
                "Gradient",
                format!(
                    "{} inputs, expected one per name in `xs` and `zs` ({})",
                    n.inputs.len(),
                    xs.len() + zs.len()
                ),
            ));
        }
        if n.outputs.len() > xs.len() {
            return Err(Error::op("Gradient", "more outputs than `xs` names"));
        }
        let fed: Vec<ValueId> = xs
            .iter()
            .chain(&zs)
            .map(|s| lookup(s))
            .collect::<Result<_>>()?;
        let fed_set: HashSet<ValueId> = fed.iter().copied().collect();
        if fed_set.len() != fed.len() {
            return Err(Error::op("Gradient", "a name repeats in `xs`/`zs`"));
        }

        // Post-order walk from `y` back to the fed values: yields the
        // forward nodes in an executable order, plus the other values read.
        let mut order: Vec<usize> = Vec::new();
        let mut extra: Vec<ValueId> = Vec::new();
        let mut state: HashMap<usize, bool> = HashMap::new(); // node -> finished
        let mut seen_extra: HashSet<ValueId> = HashSet::new();
        let mut stack: Vec<(ValueId, bool)> = vec![(y, false)];
        while let Some((v, expanded)) = stack.pop() {
            if fed_set.contains(&v) {
                continue;
            }
            let p = match produced.get(&v) {
                None => {
                    return Err(Error::MissingValue {
                        node: n.name.clone(),
                        value: names.values[v].clone(),
                    })
                }
                Some(&usize::MAX) => {
                    if seen_extra.insert(v) {
                        extra.push(v);
                    }
                    continue;
                }
                Some(&p) => p,
            };
            if expanded {
                if state.insert(p, true) != Some(true) {
                    order.push(p);
                }
                continue;
            }
            match state.get(&p) {
                Some(true) => continue,
                Some(false) => return Err(Error::Cycle(nodes[p].name.clone())),
                None => {}
            }
            state.insert(p, false);
            let fwd = &nodes[p];
            if p == gi || fwd.domain == TRAINING_DOMAIN {
                return Err(Error::Unsupported(format!(
                    "Gradient through {}",
                    fwd.op_type
                )));
            }
            if !matches!(fwd.domain.as_str(), "" | "ai.onnx")
                || !crate::cpu::grad::DIFFERENTIABLE.contains(&fwd.op_type.as_str())
            {
                return Err(Error::Unsupported(format!(
                    "Gradient through operator {}",
                    fwd.op_type
                )));
            }
            if budget == 0 {
                return Err(Error::Limit(
                    "Gradient subgraphs exceed the node limit".into(),
                ));
            }
            budget -= 1;
            stack.push((v, true));
            for i in fwd.inputs.iter().flatten().rev() {
                stack.push((*i, false));
            }
        }

        // The subgraph in its own value namespace.
        let mut sub = Interner::default();
        let mut local = |id: ValueId| sub.id(&names.values[id]);
        let inputs: Vec<(ValueId, ValueType)> = fed
            .iter()
            .chain(&extra)
            .map(|&v| (local(v), ValueType::default()))
            .collect();
        let output = (local(y), ValueType::default());
        let sub_nodes: Vec<Node> = order
            .iter()
            .map(|&p| {
                let f = &nodes[p];
                Node {
                    inputs: f.inputs.iter().map(|v| v.map(&mut local)).collect(),
                    outputs: f.outputs.iter().map(|v| v.map(&mut local)).collect(),
                    ..f.clone()
                }
            })
            .collect();
        let count = sub.values.len();
        let forward = Graph {
            values: sub.values,
            inputs,
            outputs: vec![output],
            consts: vec![None; count],
            nodes: sub_nodes,
        };
        let g = &mut nodes[gi];
        g.inputs.extend(extra.iter().map(|&v| Some(v)));
        g.attrs.retain(|(k, _)| k != GRADIENT_FORWARD);
        g.attrs
            .push((GRADIENT_FORWARD.into(), Attr::Subgraph(Arc::new(forward))));
    }
    Ok(())
}
