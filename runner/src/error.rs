//! Typed errors: every failure on hostile or unsupported input ends here,
//! never in a panic.

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a valid protobuf message.
    #[error("malformed protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
    /// The model is structurally invalid.
    #[error("invalid model: {0}")]
    Invalid(String),
    /// The node graph is not a DAG.
    #[error("graph contains a cycle involving node `{0}`")]
    Cycle(String),
    /// A node consumes a value no node, input or initializer produces.
    #[error("node `{node}` uses `{value}`, which nothing produces")]
    MissingValue { node: String, value: String },
    /// A graph input was not supplied at run time.
    #[error("graph input `{0}` was not provided")]
    MissingInput(String),
    /// A configured limit (size budget, rank, dimension) was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// Valid ONNX that this engine does not implement.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Shapes or types of an operator's inputs do not fit together.
    #[error("{op}: {msg}")]
    Op { op: String, msg: String },
    /// The GPU backend failed (no adapter, device lost, ...).
    #[error("backend: {0}")]
    Backend(String),
}

impl Error {
    /// A valid input this engine does not handle (e.g. an element type).
    pub(crate) fn unsup(op: &str, msg: impl Into<String>) -> Self {
        Error::Unsupported(format!("{op}: {}", msg.into()))
    }

    pub(crate) fn op(op: &str, msg: impl Into<String>) -> Self {
        Error::Op {
            op: op.to_string(),
            msg: msg.into(),
        }
    }
}
