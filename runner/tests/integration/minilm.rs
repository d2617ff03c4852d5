//! all-MiniLM-L6-v2 end to end: the Rust WordPiece tokenizer must match the
//! reference token ids, and embeddings on each backend must match the
//! float64 NumPy reference with cosine >= 0.9999. Needs the files written by
//! `scripts/runner/prepare-minilm.sh DIR` and `RUNNER_MINILM_DIR=DIR`;
//! skipped (with a message) otherwise.

use std::path::PathBuf;

use runner::backend::Backend;
use runner::tokenizer::WordPiece;
use runner::{Model, Tensor};
use serde_json::Value;

struct Fixture {
    model: Model,
    tokenizer: WordPiece,
    sentences: Vec<String>,
    ids: Vec<Vec<i64>>,
    reference: Vec<Vec<f64>>,
}

fn fixture() -> Option<Fixture> {
    let Some(dir) = std::env::var_os("RUNNER_MINILM_DIR").map(PathBuf::from) else {
        eprintln!("RUNNER_MINILM_DIR not set: skipping MiniLM checks");
        return None;
    };
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    let r: Value = serde_json::from_str(&read("reference.json")).unwrap();
    let mut model = Model::load(&std::fs::read(dir.join("model.onnx")).unwrap()).unwrap();
    let report = model.optimize().unwrap();
    eprintln!(
        "optimised MiniLM: {report:?}, {} nodes",
        model.graph.nodes.len()
    );
    let strings = |k: &str| {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let nums = |k: &str| -> Vec<Vec<f64>> {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect()
    };
    Some(Fixture {
        model,
        tokenizer: WordPiece::from_json(&read("tokenizer.json")).unwrap(),
        sentences: strings("sentences"),
        ids: nums("ids")
            .into_iter()
            .map(|r| r.into_iter().map(|x| x as i64).collect())
            .collect(),
        reference: nums("embedding"),
    })
}

fn check(backend: &mut dyn Backend, f: &Fixture, rows: usize) {
    let texts: Vec<&str> = f.sentences.iter().take(rows).map(String::as_str).collect();
    let batch = f.tokenizer.encode_batch(&texts).unwrap();
    let out = backend
        .run(&f.model, &[batch.input_ids, batch.attention_mask])
        .unwrap();
    let emb: &Tensor = &out[0];
    assert_eq!(emb.shape, vec![rows, 384]);
    let v = emb.f32s("embedding").unwrap();
    for (i, want) in f.reference.iter().take(rows).enumerate() {
        let got = &v[i * 384..(i + 1) * 384];
        let dot: f64 = got.iter().zip(want).map(|(&a, &b)| a as f64 * b).sum();
        let na: f64 = got.iter().map(|&a| (a as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
        let cos = dot / (na * nb);
        eprintln!("{} sentence {i}: cosine {cos:.7}", backend.name());
        assert!(
            cos >= 0.9999,
            "{} sentence {i}: cosine {cos}",
            backend.name()
        );
    }
}

/// Sentence embeddings do their job: a paraphrase is nearer than an unrelated sentence.
fn ranks_paraphrase(backend: &mut dyn Backend, f: &Fixture) {
    let texts = [
        "A man is playing a guitar on stage.",
        "Someone performs music with a guitar in front of an audience.",
        "The quarterly tax report is due next Tuesday.",
    ];
    let batch = f.tokenizer.encode_batch(&texts).unwrap();
    let out = backend
        .run(&f.model, &[batch.input_ids, batch.attention_mask])
        .unwrap();
    let v = out[0].f32s("embedding").unwrap();
    let row = |i: usize| &v[i * 384..(i + 1) * 384];
    let cosine = |a: &[f32], b: &[f32]| {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |x: &[f32]| x.iter().map(|v| v * v).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    };
    let (near, far) = (cosine(row(0), row(1)), cosine(row(0), row(2)));
    eprintln!(
        "{}: paraphrase {near:.3}, unrelated {far:.3}",
        backend.name()
    );
    assert!(
        near > far + 0.2,
        "{}: paraphrase {near} vs unrelated {far}",
        backend.name()
    );
}

#[test]
fn tokenizer_matches_reference_ids() {
    let Some(f) = fixture() else { return };
    for (s, want) in f.sentences.iter().zip(&f.ids) {
        assert_eq!(&f.tokenizer.encode(s), want, "{s:?}");
    }
}

#[test]
fn cpu_embeddings_match_numpy() {
    let Some(f) = fixture() else { return };
    let mut cpu = runner::cpu::CpuBackend::new();
    check(&mut cpu, &f, f.sentences.len());
    ranks_paraphrase(&mut cpu, &f);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_embeddings_match_numpy() {
    let Some(f) = fixture() else { return };
    match runner::gpu::GpuBackend::new() {
        Ok(mut gpu) => {
            check(&mut gpu, &f, f.sentences.len());
            ranks_paraphrase(&mut gpu, &f);
            eprintln!("wgpu stats: {:?}", gpu.stats);
        }
        Err(e) => eprintln!("no wgpu adapter ({e}): skipping"),
    }
}
