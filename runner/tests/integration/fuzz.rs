//! Bounded mutation fuzzing of the loader and CPU executor: real models
//! (a built-in sample, plus conformance models when RUNNER_CONFORMANCE_DIR
//! is set) are byte-mutated and must load/run to `Ok` or a typed `Err`,
//! never panic. Limits are tight so every case is cheap and bounded.

use std::sync::OnceLock;

use proptest::prelude::*;
use prost::Message;
use runner::backend::Backend;
use runner::cpu::CpuBackend;
use runner::{Data, DataType, Limits, Model, Sequence, Tensor, Value};

fn corpus() -> &'static Vec<Vec<u8>> {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut v = vec![crate::common::sample_model().encode_to_vec()];
        if let Some(dir) = std::env::var_os("RUNNER_CONFORMANCE_DIR") {
            let node = std::path::Path::new(&dir).join("node");
            let mut names: Vec<_> = std::fs::read_dir(node)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect();
            names.sort();
            // An even spread of the suite, enough to cover many operators.
            for p in names.iter().step_by(25) {
                if let Ok(b) = std::fs::read(p.join("model.onnx")) {
                    v.push(b);
                }
            }
            // All of `simple`: sequences, strings and Gradient among them.
            let simple = std::path::Path::new(&dir).join("simple");
            let mut names: Vec<_> = std::fs::read_dir(simple)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect();
            names.sort();
            for p in names {
                if let Ok(b) = std::fs::read(p.join("model.onnx")) {
                    v.push(b);
                }
            }
        }
        v
    })
}

fn limits() -> Limits {
    Limits {
        max_model_bytes: 1 << 22,
        max_tensor_bytes: 1 << 20,
        max_rank: 8,
        max_dim: 1 << 16,
        max_nodes: 4096,
    }
}

/// Deterministic inputs matching the declared (static or defaulted) shapes;
/// a declared sequence gets two such tensors.
fn inputs_for(m: &Model) -> Option<Vec<Value>> {
    m.graph
        .inputs
        .iter()
        .map(|(_, vt)| {
            let shape: Vec<usize> = vt
                .shape
                .as_ref()?
                .iter()
                .map(|d| match d {
                    runner::model::Dim::Known(n) => (*n).min(64),
                    _ => 2,
                })
                .collect();
            let n: usize = shape.iter().product();
            if n > 1 << 16 {
                return None;
            }
            let data = match vt.dtype? {
                DataType::F32 => Data::F32((0..n).map(|i| (i as f32 * 0.3).sin()).collect()),
                DataType::I64 => Data::I64((0..n).map(|i| (i % 3) as i64).collect()),
                DataType::I32 => Data::I32((0..n).map(|i| (i % 3) as i32).collect()),
                DataType::Bool => Data::Bool((0..n).map(|i| i % 2 == 0).collect()),
                DataType::String => Data::String(
                    (0..n)
                        .map(|i| ["a b", "", "Monday"][i % 3].into())
                        .collect(),
                ),
                _ => return None,
            };
            let t = Tensor::new(shape, data).ok()?;
            Some(if vt.sequence {
                Value::Sequence(Sequence::new(t.dtype(), vec![t.clone(), t]).ok()?)
            } else {
                Value::Tensor(t)
            })
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    Splice(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>(), 1usize..16)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match *m {
        Mutation::Flip(i, b) => bytes[i % len] ^= b.max(1),
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::Remove(i) => {
            bytes.remove(i % len);
        }
        Mutation::Truncate(i) => bytes.truncate(i % len),
        Mutation::Splice(a, b, n) => {
            let (a, b) = (a % len, b % len);
            let n = n.min(len - a).min(len - b);
            let chunk = bytes[a..a + n].to_vec();
            bytes[b..b + n].copy_from_slice(&chunk);
        }
    }
}

proptest! {
    // RUNNER_FUZZ_CASES raises the bound for longer local runs.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("RUNNER_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_models_never_panic(pick in any::<usize>(), muts in proptest::collection::vec(mutation(), 1..6)) {
        byte_case(pick, &muts, 1);
    }
}

/// Loads, optimises and runs `bytes` if it decodes; any outcome but a
/// panic is fine.
fn load_and_run(bytes: &[u8], threads: usize) {
    if let Ok(mut model) = Model::load_with_limits(bytes, limits()) {
        let _ = model.optimize();
        if let Some(ins) = inputs_for(&model) {
            let r = CpuBackend::with_threads(threads).run_values(&model, &ins);
            if std::env::var_os("RUNNER_FUZZ_VERBOSE").is_some() {
                eprintln!(
                    "ran: {}",
                    r.as_ref()
                        .map(|_| "ok".to_string())
                        .unwrap_or_else(|e| e.to_string())
                );
            }
        }
    }
}

fn byte_case(pick: usize, muts: &[Mutation], threads: usize) {
    let corpus = corpus();
    let mut bytes = corpus[pick % corpus.len()].clone();
    for m in muts {
        apply(&mut bytes, m);
    }
    load_and_run(&bytes, threads);
}

fn structure_case(pick: usize, ops: &[(usize, usize, usize)], threads: usize) {
    let corpus = corpus();
    let Ok(mut proto) = runner::onnx::ModelProto::decode(corpus[pick % corpus.len()].as_slice())
    else {
        return;
    };
    mutate_structure(&mut proto, ops);
    load_and_run(&proto.encode_to_vec(), threads);
}

const INTERESTING: [i64; 10] = [-2, -1, 0, 1, 2, 3, 7, 1 << 20, i64::MAX, i64::MIN];

/// Structure-aware mutation: tweak attributes, declared shapes,
/// initializer dims and wiring, then re-encode.
fn mutate_structure(m: &mut runner::onnx::ModelProto, ops: &[(usize, usize, usize)]) {
    let Some(g) = m.graph.as_mut() else { return };
    for &(kind, a, b) in ops {
        let v = INTERESTING[b % INTERESTING.len()];
        match kind % 6 {
            0 if !g.node.is_empty() => {
                let n = a % g.node.len();
                if let Some(attr) = g.node[n].attribute.get_mut(b % 3) {
                    attr.i = v;
                    if let Some(x) = attr.ints.get_mut(a % 4) {
                        *x = v;
                    }
                    attr.f = v as f32;
                }
            }
            1 if !g.input.is_empty() => {
                let k = a % g.input.len();
                if let Some(runner::onnx::type_proto::Value::TensorType(t)) =
                    g.input[k].r#type.as_mut().and_then(|t| t.value.as_mut())
                {
                    if let Some(s) = t.shape.as_mut() {
                        if let Some(d) = s.dim.get_mut(b % 4) {
                            d.value = Some(
                                runner::onnx::tensor_shape_proto::dimension::Value::DimValue(
                                    v.clamp(0, 9),
                                ),
                            );
                        } else {
                            s.dim.pop();
                        }
                    }
                }
            }
            2 if !g.initializer.is_empty() => {
                let k = a % g.initializer.len();
                let t = &mut g.initializer[k];
                if let Some(x) = t.int64_data.get_mut(b % 4) {
                    *x = v;
                } else if let Some(d) = t.dims.get_mut(b % 4) {
                    *d = v;
                }
            }
            3 if g.node.len() > 1 => {
                let (i, j) = (a % g.node.len(), b % g.node.len());
                if let (Some(x), Some(y)) = (
                    g.node[i].input.first().cloned(),
                    g.node[j].input.first().cloned(),
                ) {
                    g.node[i].input[0] = y;
                    g.node[j].input[0] = x;
                }
            }
            4 if !g.node.is_empty() => {
                let n = a % g.node.len();
                if !g.node[n].input.is_empty() {
                    let k = b % g.node[n].input.len();
                    g.node[n].input[k] = String::new();
                }
            }
            _ => {
                if let Some(op) = m.opset_import.first_mut() {
                    op.version = [1, 6, 9, 11, 13, 18, 21][a % 7];
                }
                return;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("RUNNER_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn structurally_mutated_models_never_panic(
        pick in any::<usize>(),
        ops in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<usize>()), 1..4),
    ) {
        structure_case(pick, &ops, 1);
    }
}

/// Time-bounded fuzzing for CI: with `RUNNER_FUZZ_SECONDS=N` it keeps
/// generating byte-level and structure-aware cases (alternately, on one and
/// two CPU threads) until N seconds have passed, and fails on the first
/// panic. The seed is printed; `RUNNER_FUZZ_SEED` replays a run.
#[test]
fn fuzz_until_deadline() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    use std::time::{Duration, Instant};

    let Some(secs) = std::env::var("RUNNER_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let seed: u64 = std::env::var("RUNNER_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (seed >> ((i % 8) * 8)) as u8 ^ i as u8;
    }
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let byte_cases = (any::<usize>(), proptest::collection::vec(mutation(), 1..6));
    let struct_cases = (
        any::<usize>(),
        proptest::collection::vec((any::<usize>(), any::<usize>(), any::<usize>()), 1..4),
    );
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut count = 0u64;
    while Instant::now() < deadline {
        let threads = 1 + (count as usize / 2) % 2;
        let (pick, muts) = byte_cases.new_tree(&mut runner).unwrap().current();
        let r = std::panic::catch_unwind(|| byte_case(pick, &muts, threads));
        assert!(
            r.is_ok(),
            "panic (seed {seed}, case {count}): byte mutation {pick} {muts:?}"
        );
        let (pick, ops) = struct_cases.new_tree(&mut runner).unwrap().current();
        let r = std::panic::catch_unwind(|| structure_case(pick, &ops, threads));
        assert!(
            r.is_ok(),
            "panic (seed {seed}, case {}): structure mutation {pick} {ops:?}",
            count + 1
        );
        count += 2;
    }
    eprintln!("fuzz: {count} cases in {secs} s without a panic (seed {seed})");
    assert!(count > 0);
}
