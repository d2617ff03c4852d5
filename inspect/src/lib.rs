//! Checks on untrusted input that need no database: what an uploaded file is
//! ([`formats`]: ONNX, safetensors, GGUF, and refused pickles), model cards ([`card`]: front
//! matter and safe HTML), and the rules for names in URLs and file paths ([`names`]).
//! `domain` re-exports these modules under the same names; the fuzz targets in `fuzz/` drive
//! them directly.
#[cfg(feature = "files")]
pub mod card;
#[cfg(feature = "files")]
pub mod formats;
pub mod names;
