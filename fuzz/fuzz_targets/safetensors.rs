#![no_main]
//! The safetensors inspector on arbitrary bytes, whole and in arbitrary chunks.
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::check("model.safetensors", data));
