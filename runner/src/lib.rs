//! Bazaar's ONNX inference engine.
//!
//! Load a model with [`Model::load`], then run it on a [`Backend`]: the
//! [`cpu::CpuBackend`] (reference implementation, also the browser
//! fallback) or, with the `wgpu` feature, the GPU backend.

pub mod backend;
#[cfg(not(target_arch = "wasm32"))]
pub mod conformance;
pub mod cpu;
pub mod error;
#[cfg(feature = "wgpu")]
pub mod gpu;
pub mod half;
pub mod infer;
pub mod limits;
pub mod model;
pub mod onnx;
pub mod optimize;
pub mod tensor;
pub mod tokenizer;
pub mod value;

pub use backend::Backend;
pub use error::{Error, Result};
pub use limits::Limits;
pub use model::{Model, Node};
pub use tensor::{Data, DataType, Tensor};
pub use value::{Sequence, Value, ValueRef};
