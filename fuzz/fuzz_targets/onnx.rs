#![no_main]
//! The onnx inspector on arbitrary bytes, whole and in arbitrary chunks.
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::check("model.onnx", data));
