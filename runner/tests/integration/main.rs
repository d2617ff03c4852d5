//! Integration tests, in one binary so the wgpu stack links once.

mod common;
mod conformance;
mod fuzz;
mod hostile;
mod minilm;
mod optimize;
mod values;
