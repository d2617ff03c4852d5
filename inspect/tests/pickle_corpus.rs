//! The pickle corpus made by Python itself (scripts/pickle-corpus.py, run by
//! scripts/pickle-corpus.sh and scripts/test.sh): every file under `refuse/` is refused as a
//! pickle whatever it is called and however it is chunked; every file under `accept/` passes.

use std::path::{Path, PathBuf};

use inspect::formats::{FileMetadata, FormatError, Inspector, MAX_RETAINED_BYTES};

fn corpus() -> PathBuf {
    let dir = std::env::var_os("BAZAAR_PICKLE_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pickle-corpus"),
        PathBuf::from,
    );
    assert!(
        dir.join("refuse").is_dir() && dir.join("accept").is_dir(),
        "no pickle corpus at {}: run scripts/pickle-corpus.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    assert!(out.len() > 10, "too few files in {}", dir.display());
    out
}

/// Inspects `bytes` as `name` in chunks of `chunk` bytes (0: at once), checking the memory
/// bound after every chunk.
fn inspect(name: &str, bytes: &[u8], chunk: usize) -> Result<FileMetadata, FormatError> {
    let mut inspector = Inspector::for_file(name)?;
    let size = if chunk == 0 {
        bytes.len().max(1)
    } else {
        chunk
    };
    for c in bytes.chunks(size) {
        inspector.feed(c)?;
        assert!(inspector.retained_bytes() <= MAX_RETAINED_BYTES);
    }
    inspector.finish()
}

#[test]
fn every_shape_of_pickle_is_refused_whatever_its_name_and_chunking() {
    for (file, bytes) in files(&corpus().join("refuse")) {
        let chunkings: &[usize] = if bytes.len() < 100_000 {
            &[0, 1, 7, 4093]
        } else {
            &[0, 4093, 65_536]
        };
        for name in [file.as_str(), "upload.dat", "data/blob"] {
            for &chunk in chunkings {
                match inspect(name, &bytes, chunk) {
                    Err(FormatError::Pickle { reason, .. }) => {
                        assert!(reason.starts_with("its content is "), "{file}: {reason}")
                    }
                    other => panic!("{file} as {name} in chunks of {chunk}: {other:?}"),
                }
            }
        }
        // Under a model format's name it is refused too (as a pickle, or as not that format).
        for name in ["model.safetensors", "model.onnx", "model.gguf"] {
            assert!(
                inspect(name, &bytes, 0).is_err(),
                "{file} as {name} accepted"
            );
        }
    }
}

#[test]
fn the_reasons_name_the_shape() {
    let dir = corpus().join("refuse");
    let reason = |file: &str| match inspect("x", &std::fs::read(dir.join(file)).unwrap(), 0) {
        Err(FormatError::Pickle { reason, .. }) => reason,
        other => panic!("{file}: {other:?}"),
    };
    assert!(reason("protocol-0.dat").contains("protocol 0"));
    assert!(reason("protocol-1.dat").contains("protocol 1"));
    assert!(reason("protocol-5.dat").contains("protocol 5"));
    assert!(reason("torch-style.zip").contains("archive/data.pkl"));
    assert!(reason("zip-middle.zip").contains("`weights.bin`"));
    assert!(reason("gzip-protocol-4.gz.dat").contains("gzip stream holding a pickle (protocol 4)"));
    assert!(reason("bz2-protocol-0.bz2.dat").contains("bzip2"));
    assert!(reason("xz-protocol-2.xz.dat").contains("xz"));
    assert!(reason("zstd-protocol-4.zst.dat").contains("zstd"));
    assert!(reason("lzma-alone-protocol-2.dat").contains("lzma"));
    assert!(reason("npy-object.npy.dat").contains("NumPy array of Python objects"));
    assert!(reason("npz-object.npz.dat").contains("NumPy array of Python objects"));
    assert!(reason("joblib-level-3.dat").contains("zlib stream holding a pickle"));
}

#[test]
fn text_archives_arrays_and_model_formats_pass() {
    for (file, bytes) in files(&corpus().join("accept")) {
        let chunkings: &[usize] = if bytes.len() < 30_000 {
            &[0, 1, 4093]
        } else {
            &[0, 4093]
        };
        for &chunk in chunkings {
            let result = inspect(&file, &bytes, chunk);
            assert!(result.is_ok(), "{file} in chunks of {chunk}: {result:?}");
        }
    }
}

#[test]
fn the_seed_onnx_models_pass() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seed");
    let mut seen = 0;
    for entry in std::fs::read_dir(seed).unwrap() {
        let model = entry.unwrap().path().join("model.onnx");
        if let Ok(bytes) = std::fs::read(&model) {
            assert!(
                matches!(
                    inspect("model.onnx", &bytes, 4093),
                    Ok(FileMetadata::Onnx(_))
                ),
                "{}",
                model.display()
            );
            // Named as a plain file it is still no pickle.
            assert_eq!(inspect("weights.data", &bytes, 0), Ok(FileMetadata::Plain));
            seen += 1;
        }
    }
    assert!(seen >= 3);
}
