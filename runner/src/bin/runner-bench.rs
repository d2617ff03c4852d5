//! Latency benchmark: Bazaar's runner vs onnxruntime on the same inputs.
//!
//! Usage: runner-bench [--backend cpu|wgpu|both] [--iters N] [--warmup N]
//!        [--threads N] [--ort-python PYTHON] DIR...
//!
//! Each DIR is a model in backend-test layout (model.onnx +
//! test_data_set_0/input_K.pb). Prints the median latency per backend and,
//! with --ort-python (an interpreter with onnxruntime), onnxruntime's median
//! with the same thread count (scripts/runner/bench_ort.py) and the ratio.
//! The runner's CPU backend is single-threaded, so compare at --threads 1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use prost::Message;
use runner::backend::Backend;
use runner::{Model, Tensor};

/// Node count, per-backend medians (cpu, wgpu) and onnxruntime's median.
type Measured = (usize, Vec<Option<f64>>, Option<f64>);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn inputs(dir: &Path, model: &Model) -> Result<Vec<Tensor>, String> {
    (0..model.graph.inputs.len())
        .map(|k| {
            let p = dir.join("test_data_set_0").join(format!("input_{k}.pb"));
            let b = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let t = runner::onnx::TensorProto::decode(b.as_slice()).map_err(|e| e.to_string())?;
            Tensor::from_proto(&t, &model.limits).map_err(|e| e.to_string())
        })
        .collect()
}

fn time_backend(
    b: &mut dyn Backend,
    m: &Model,
    ins: &[Tensor],
    warmup: usize,
    iters: usize,
) -> Result<f64, String> {
    for _ in 0..warmup {
        b.run(m, ins).map_err(|e| e.to_string())?;
    }
    let mut t = Vec::with_capacity(iters);
    for _ in 0..iters {
        let s = Instant::now();
        b.run(m, ins).map_err(|e| e.to_string())?;
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median(t))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut iters, mut warmup, mut threads) = (20usize, 3usize, 1usize);
    let mut backends = vec!["cpu"];
    let mut ort_python: Option<String> = None;
    let mut dirs: Vec<PathBuf> = Vec::new();
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_default();
        match a.as_str() {
            "--iters" => iters = val().parse().unwrap_or(iters).max(1),
            "--warmup" => warmup = val().parse().unwrap_or(warmup),
            "--threads" => threads = val().parse().unwrap_or(threads).max(1),
            "--ort-python" => ort_python = Some(val()),
            "--backend" => {
                backends = match val().as_str() {
                    "wgpu" => vec!["wgpu"],
                    "both" => vec!["cpu", "wgpu"],
                    _ => vec!["cpu"],
                }
            }
            d => dirs.push(d.into()),
        }
    }
    if threads != 1 {
        eprintln!("note: the runner's CPU backend uses one thread; onnxruntime gets {threads}");
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/runner/bench_ort.py");
    println!(
        "{:<36} {:>8} {:>12} {:>12} {:>12} {:>8}",
        "model", "nodes", "runner-cpu", "runner-wgpu", "onnxruntime", "cpu/ort"
    );
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = (|| -> Result<Measured, String> {
            let bytes = std::fs::read(dir.join("model.onnx")).map_err(|e| e.to_string())?;
            let mut m = Model::load(&bytes).map_err(|e| e.to_string())?;
            m.optimize().map_err(|e| e.to_string())?;
            let ins = inputs(dir, &m)?;
            let mut times = Vec::new();
            for b in ["cpu", "wgpu"] {
                if !backends.contains(&b) {
                    times.push(None);
                    continue;
                }
                let mut be: Box<dyn Backend> = match b {
                    "cpu" => Box::new(runner::cpu::CpuBackend::new()),
                    #[cfg(feature = "wgpu")]
                    _ => Box::new(runner::gpu::GpuBackend::new().map_err(|e| e.to_string())?),
                    #[cfg(not(feature = "wgpu"))]
                    _ => return Err("built without wgpu".into()),
                };
                times.push(Some(time_backend(be.as_mut(), &m, &ins, warmup, iters)?));
            }
            let ort = match &ort_python {
                None => None,
                Some(py) => {
                    let out = Command::new(py)
                        .arg(&script)
                        .arg(dir)
                        .args([threads.to_string(), warmup.to_string(), iters.to_string()])
                        .output()
                        .map_err(|e| format!("{py}: {e}"))?;
                    if !out.status.success() {
                        return Err(format!(
                            "onnxruntime: {}",
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
                }
            };
            Ok((m.graph.nodes.len(), times, ort))
        })();
        let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3} ms"));
        match result {
            Ok((nodes, t, ort)) => {
                let ratio = match (t[0], ort) {
                    (Some(c), Some(o)) if o > 0.0 => format!("{:.2}x", c / o),
                    _ => "-".into(),
                };
                println!(
                    "{name:<36} {nodes:>8} {:>12} {:>12} {:>12} {ratio:>8}",
                    f(t[0]),
                    f(t[1]),
                    f(ort)
                );
            }
            Err(e) => println!("{name:<36} error: {e}"),
        }
    }
}
