//! Runs the allow-listed ONNX backend-test cases and fails on any
//! regression. Needs the data prepared by
//! `scripts/runner/prepare-conformance-data.sh DIR` and
//! `RUNNER_CONFORMANCE_DIR=DIR`; without it the test is skipped (it says so).
//! The wgpu half runs when an adapter exists, or is required with
//! `RUNNER_REQUIRE_WGPU=1`.

use std::collections::HashMap;
use std::path::PathBuf;

use runner::backend::Backend;
use runner::conformance::{discover, read_allow_list, run_case, Case, Status};

fn allow_list() -> Vec<(String, Vec<String>)> {
    read_allow_list(include_str!("../conformance-allowlist.txt"))
        .into_iter()
        .map(|l| {
            let mut w = l.split_whitespace().map(str::to_string);
            (w.next().unwrap_or_default(), w.collect())
        })
        .collect()
}

fn cases() -> Option<HashMap<String, Case>> {
    let Some(dir) = std::env::var_os("RUNNER_CONFORMANCE_DIR") else {
        eprintln!("RUNNER_CONFORMANCE_DIR not set: skipping conformance allow-list");
        return None;
    };
    let found = discover(&PathBuf::from(dir));
    assert!(
        !found.is_empty(),
        "no test cases under RUNNER_CONFORMANCE_DIR"
    );
    Some(found.into_iter().map(|c| (c.name.clone(), c)).collect())
}

fn check(backend: &mut dyn Backend, cases: &HashMap<String, Case>) {
    check_some(backend, cases, |_| true);
}

/// Runs the allow-listed cases of `backend` whose names `select` keeps.
fn check_some(
    backend: &mut dyn Backend,
    cases: &HashMap<String, Case>,
    select: impl Fn(&str) -> bool,
) {
    let name = backend.name();
    let mut failures = Vec::new();
    let mut ran = 0;
    for (case, backends) in allow_list() {
        if !backends.iter().any(|b| b == name) || !select(&case) {
            continue;
        }
        let Some(c) = cases.get(&case) else {
            failures.push(format!("{case}: not found in the data directory"));
            continue;
        };
        ran += 1;
        match run_case(backend, c) {
            Status::Pass => {}
            s => failures.push(format!("{case}: {} {}", s.label(), s.detail())),
        }
    }
    eprintln!(
        "{name}: {ran} allow-listed cases run, {} regressions",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{name} regressions:\n{}",
        failures.join("\n")
    );
}

#[test]
fn cpu_allow_list() {
    if let Some(cases) = cases() {
        check(&mut runner::cpu::CpuBackend::new(), &cases);
    }
}

#[cfg(feature = "wgpu")]
fn gpu() -> Option<runner::gpu::GpuBackend> {
    match runner::gpu::GpuBackend::new() {
        Ok(gpu) => {
            eprintln!("wgpu adapter: {}", gpu.adapter_name());
            Some(gpu)
        }
        Err(e) => {
            assert!(
                std::env::var("RUNNER_REQUIRE_WGPU").as_deref() != Ok("1"),
                "RUNNER_REQUIRE_WGPU=1 but no adapter: {e}"
            );
            eprintln!("no wgpu adapter ({e}): skipping the wgpu allow-list");
            None
        }
    }
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_allow_list() {
    let Some(cases) = cases() else { return };
    if let Some(mut gpu) = gpu() {
        check(&mut gpu, &cases);
    }
}

/// The adapter picks one GEMM kernel family; the cases that reach GEMM run
/// on the other one too, so both stay correct whatever adapter runs here.
#[cfg(feature = "wgpu")]
#[test]
fn wgpu_allow_list_other_gemm_kernels() {
    use runner::gpu::GemmKernels;
    let Some(cases) = cases() else { return };
    let Some(mut gpu) = gpu() else { return };
    let other = match gpu.gemm_kernels() {
        GemmKernels::Tiled => GemmKernels::Blocked,
        GemmKernels::Blocked => GemmKernels::Tiled,
    };
    eprintln!("GEMM cases on the {other:?} kernels");
    gpu.set_gemm_kernels(other);
    check_some(&mut gpu, &cases, |case| {
        ["gemm", "matmul", "conv", "attention", "zoo-light"]
            .iter()
            .any(|k| case.contains(k))
    });
}
