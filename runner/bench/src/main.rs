//! Latency benchmark: Bazaar's runner against onnxruntime and tract, on the
//! same inputs, in one run.
//!
//! Usage: runner-bench [--backend cpu|wgpu|both] [--iters N] [--warmup N] [--rounds N]
//!        [--threads N] [--ort-python PYTHON] [--no-tract] [--profile] DIR...
//!
//! Each DIR is a model in backend-test layout (model.onnx +
//! test_data_set_0/input_K.pb). Prints, per model, the median latency of
//! the runner's CPU backend (with N threads) and its wgpu backend
//! (`--backend both`, the default; the column stays empty without an
//! adapter); tract's (the `tract-onnx` crate, optimised plan, single
//! thread); onnxruntime's with N intra-op threads (through
//! scripts/runner/bench_ort.py and an interpreter with `onnxruntime`); and
//! the ratios runner-cpu / onnxruntime, runner-cpu / tract and
//! runner-wgpu / runner-cpu. The runner's
//! CPU backend and onnxruntime alternate for `--rounds` rounds (default 3)
//! and each reports the median of its round medians.
//! `--profile` also prints each backend's time per operator type (on wgpu
//! waiting for the GPU after every node) and the wgpu run's counters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use prost::Message;
use runner::backend::Backend;
use runner::cpu::CpuBackend;
use runner::{Model, Tensor};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn inputs(dir: &Path, count: usize) -> Result<Vec<Tensor>, String> {
    (0..count)
        .map(|k| {
            let p = dir.join("test_data_set_0").join(format!("input_{k}.pb"));
            let b = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let t = runner::onnx::TensorProto::decode(b.as_slice()).map_err(|e| e.to_string())?;
            Tensor::from_proto(&t, &runner::Limits::default()).map_err(|e| e.to_string())
        })
        .collect()
}

/// Median wall time in milliseconds of `f` after `warmup` untimed calls.
fn time<F: FnMut() -> Result<(), String>>(
    warmup: usize,
    iters: usize,
    mut f: F,
) -> Result<f64, String> {
    for _ in 0..warmup {
        f()?;
    }
    let mut t = Vec::with_capacity(iters);
    for _ in 0..iters {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median(t))
}

mod tract {
    use tract_onnx::prelude::*;

    pub type Plan = std::sync::Arc<TypedRunnableModel>;

    /// Loads, fixes the input shapes to the benchmark inputs and optimises.
    pub fn load(path: &std::path::Path, ins: &[runner::Tensor]) -> TractResult<Plan> {
        let mut model = tract_onnx::onnx().model_for_path(path)?;
        for (i, t) in ins.iter().enumerate() {
            let dt = match t.data {
                runner::Data::F32(_) => f32::datum_type(),
                runner::Data::I64(_) => i64::datum_type(),
                runner::Data::I32(_) => i32::datum_type(),
                _ => return Err(TractError::msg("unsupported input type")),
            };
            model = model.with_input_fact(i, InferenceFact::dt_shape(dt, t.shape.clone()))?;
        }
        model.into_optimized()?.into_runnable()
    }

    pub fn inputs(ins: &[runner::Tensor]) -> TractResult<TVec<TValue>> {
        ins.iter()
            .map(|t| {
                let tensor = match &t.data {
                    runner::Data::F32(v) => {
                        tract_ndarray::ArrayD::from_shape_vec(t.shape.clone(), v.clone())?
                            .into_tensor()
                    }
                    runner::Data::I64(v) => {
                        tract_ndarray::ArrayD::from_shape_vec(t.shape.clone(), v.clone())?
                            .into_tensor()
                    }
                    runner::Data::I32(v) => {
                        tract_ndarray::ArrayD::from_shape_vec(t.shape.clone(), v.clone())?
                            .into_tensor()
                    }
                    _ => return Err(TractError::msg("unsupported input type")),
                };
                Ok(tensor.into_tvalue())
            })
            .collect()
    }

    pub fn run(plan: &Plan, ins: &TVec<TValue>) -> TractResult<()> {
        plan.run(ins.clone())?;
        Ok(())
    }
}

struct Row {
    nodes: usize,
    cpu: Option<f64>,
    wgpu: Option<f64>,
    tract: Result<f64, String>,
    ort: Option<f64>,
}

struct Opts {
    iters: usize,
    warmup: usize,
    rounds: usize,
    threads: usize,
    backends: Vec<&'static str>,
    ort_python: Option<String>,
    tract: bool,
    profile: bool,
}

/// Accumulates per-operator-type wall time from `run_observed` callbacks.
struct OpTimes<'m> {
    model: &'m Model,
    per_op: BTreeMap<String, (f64, usize)>,
    start: Instant,
}

impl<'m> OpTimes<'m> {
    fn new(model: &'m Model) -> Self {
        OpTimes {
            model,
            per_op: BTreeMap::new(),
            start: Instant::now(),
        }
    }

    fn observe(&mut self, i: usize, done: bool) {
        if !done {
            self.start = Instant::now();
            return;
        }
        let n = &self.model.graph.nodes[i];
        let key = if n.domain.is_empty() {
            n.op_type.clone()
        } else {
            format!("{}::{}", n.domain, n.op_type)
        };
        let e = self.per_op.entry(key).or_default();
        e.0 += self.start.elapsed().as_secs_f64() * 1e3;
        e.1 += 1;
    }

    fn print(self, backend: &str, iters: usize) {
        let total: f64 = self.per_op.values().map(|v| v.0).sum::<f64>() / iters as f64;
        println!("  {backend} profile ({total:.3} ms per run):");
        let mut v: Vec<_> = self.per_op.into_iter().collect();
        v.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
        for (op, (ms, n)) in v {
            let ms = ms / iters as f64;
            println!(
                "    {op:<28} {ms:>9.3} ms {:>5.1}%  ({} nodes)",
                100.0 * ms / total.max(1e-9),
                n / iters
            );
        }
    }
}

/// Time per operator type on the CPU backend (and on wgpu, where each node
/// waits for the GPU before the next starts).
fn profile(o: &Opts, model: &Model, ins: &[Tensor]) -> Result<(), String> {
    if o.backends.contains(&"cpu") {
        let mut be = CpuBackend::with_threads(o.threads);
        let mut t = OpTimes::new(model);
        for _ in 0..o.iters {
            be.run_observed(model, ins, &mut |i, done| t.observe(i, done))
                .map_err(|e| e.to_string())?;
        }
        t.print("cpu", o.iters);
    }
    #[cfg(feature = "wgpu")]
    if let (true, Ok(mut be)) = (o.backends.contains(&"wgpu"), runner::gpu::GpuBackend::new()) {
        // The first run compiles pipelines and uploads constants.
        be.run(model, ins).map_err(|e| e.to_string())?;
        let mut t = OpTimes::new(model);
        for _ in 0..o.iters {
            be.run_observed(model, ins, &mut |i, done| t.observe(i, done))
                .map_err(|e| e.to_string())?;
        }
        t.print("wgpu", o.iters);
        println!("    {:?}", be.stats);
    }
    Ok(())
}

/// onnxruntime's median latency (ms) through bench_ort.py, one session.
fn ort_time(py: &str, dir: &Path, o: &Opts) -> Result<Option<f64>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/runner/bench_ort.py");
    let out = Command::new(py)
        .arg(&script)
        .arg(dir)
        .args([
            o.threads.to_string(),
            o.warmup.to_string(),
            o.iters.to_string(),
        ])
        .output()
        .map_err(|e| format!("{py}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "onnxruntime: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse().ok())
}

fn measure(dir: &Path, o: &Opts) -> Result<Row, String> {
    let path = dir.join("model.onnx");
    let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
    let mut m = Model::load(&bytes).map_err(|e| e.to_string())?;
    m.optimize().map_err(|e| e.to_string())?;
    let ins = inputs(dir, m.graph.inputs.len())?;
    let mut row = Row {
        nodes: m.graph.nodes.len(),
        cpu: None,
        wgpu: None,
        tract: Err("-".into()),
        ort: None,
    };
    // The runner and onnxruntime take turns for `rounds` rounds and each
    // reports the median of its round medians, so a burst of load on a
    // shared machine does not land on one side only.
    let (mut cpu, mut ort) = (Vec::new(), Vec::new());
    for _ in 0..o.rounds {
        if o.backends.contains(&"cpu") {
            let mut be = CpuBackend::with_threads(o.threads);
            cpu.push(time(o.warmup, o.iters, || {
                be.run(&m, &ins).map(|_| ()).map_err(|e| e.to_string())
            })?);
        }
        if let Some(py) = &o.ort_python {
            ort.extend(ort_time(py, dir, o)?);
        }
    }
    row.cpu = (!cpu.is_empty()).then(|| median(cpu));
    row.ort = (!ort.is_empty()).then(|| median(ort));
    if o.backends.contains(&"wgpu") {
        #[cfg(feature = "wgpu")]
        {
            // No adapter leaves the column empty rather than failing the row.
            if let Ok(mut be) = runner::gpu::GpuBackend::new() {
                row.wgpu = Some(time(o.warmup, o.iters, || {
                    be.run(&m, &ins).map(|_| ()).map_err(|e| e.to_string())
                })?);
            }
        }
    }
    if o.tract {
        row.tract = tract::load(&path, &ins)
            .and_then(|plan| Ok((plan, tract::inputs(&ins)?)))
            .map_err(|e| format!("tract: {e}"))
            .and_then(|(plan, tins)| {
                time(o.warmup, o.iters, || {
                    tract::run(&plan, &tins).map_err(|e| e.to_string())
                })
            });
    }
    if o.profile {
        profile(o, &m, &ins)?;
    }
    Ok(row)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut o = Opts {
        iters: 20,
        warmup: 3,
        rounds: 3,
        threads: 1,
        backends: vec!["cpu", "wgpu"],
        ort_python: None,
        tract: true,
        profile: false,
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_default();
        match a.as_str() {
            "--iters" => o.iters = val().parse().unwrap_or(o.iters).max(1),
            "--warmup" => o.warmup = val().parse().unwrap_or(o.warmup),
            "--rounds" => o.rounds = val().parse().unwrap_or(o.rounds).max(1),
            "--threads" => o.threads = val().parse().unwrap_or(o.threads).max(1),
            "--ort-python" => o.ort_python = Some(val()),
            "--no-tract" => o.tract = false,
            "--profile" => o.profile = true,
            "--backend" => {
                o.backends = match val().as_str() {
                    "wgpu" => vec!["wgpu"],
                    "both" => vec!["cpu", "wgpu"],
                    _ => vec!["cpu"],
                }
            }
            d => dirs.push(d.into()),
        }
    }
    println!(
        "threads: {} (runner cpu, onnxruntime); tract: 1; median of {} runs after {} warm-up \
         ({} alternating rounds of runner cpu and onnxruntime: median of round medians)",
        o.threads, o.iters, o.warmup, o.rounds
    );
    println!(
        "{:<16} {:>6} {:>12} {:>12} {:>12} {:>12} {:>8} {:>8} {:>9}",
        "model",
        "nodes",
        "runner-cpu",
        "runner-wgpu",
        "onnxruntime",
        "tract",
        "cpu/ort",
        "cpu/tract",
        "wgpu/cpu"
    );
    let f = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3} ms"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    };
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match measure(dir, &o) {
            Ok(r) => {
                let tract = r.tract.as_ref().ok().copied();
                println!(
                    "{name:<16} {:>6} {:>12} {:>12} {:>12} {:>12} {:>8} {:>8} {:>9}",
                    r.nodes,
                    f(r.cpu),
                    f(r.wgpu),
                    f(r.ort),
                    f(tract),
                    ratio(r.cpu, r.ort),
                    ratio(r.cpu, tract),
                    ratio(r.wgpu, r.cpu)
                );
                if let Err(e) = &r.tract {
                    if e != "-" {
                        println!("  {name}: {e}");
                    }
                }
            }
            Err(e) => println!("{name:<16} error: {e}"),
        }
    }
}
