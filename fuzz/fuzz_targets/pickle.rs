#![no_main]
//! Pickle sniffing (opcode streams, compressed streams, NumPy headers, zip entries) on a plain
//! file, whole and in arbitrary chunks; and the same bytes under an unnamed GGUF-capable name.
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::check("upload.dat", data);
});
