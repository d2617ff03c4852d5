//! Optimisation passes must preserve results exactly enough and fire on
//! the exporter patterns they target.

use crate::common::*;
use prost::Message;
use runner::backend::Backend;
use runner::cpu::CpuBackend;
use runner::{Model, Tensor};

/// x -> MatMul+Add -> decomposed LayerNorm -> erf GELU.
fn transformer_block() -> runner::onnx::ModelProto {
    let w: Vec<f32> = (0..8 * 8)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 10.0)
        .collect();
    model(
        vec![
            node("MatMul", &["x", "w"], &["mm"], vec![]),
            node("Add", &["mm", "b"], &["h"], vec![]),
            node(
                "ReduceMean",
                &["h"],
                &["mu"],
                vec![attr_ints("axes", &[-1])],
            ),
            node("Sub", &["h", "mu"], &["d"], vec![]),
            node("Pow", &["d", "two"], &["d2"], vec![]),
            node(
                "ReduceMean",
                &["d2"],
                &["var"],
                vec![attr_ints("axes", &[-1])],
            ),
            node("Add", &["var", "eps"], &["ve"], vec![]),
            node("Sqrt", &["ve"], &["sd"], vec![]),
            node("Div", &["d", "sd"], &["n"], vec![]),
            node("Mul", &["n", "gamma"], &["ng"], vec![]),
            node("Add", &["ng", "beta"], &["ln"], vec![]),
            node("Div", &["ln", "sqrt2"], &["s"], vec![]),
            node("Erf", &["s"], &["e"], vec![]),
            node("Add", &["e", "one"], &["e1"], vec![]),
            node("Mul", &["ln", "e1"], &["g1"], vec![]),
            node("Mul", &["g1", "half"], &["y"], vec![]),
        ],
        vec![f32_value("x", &[2, 3, 8])],
        vec![f32_value("y", &[2, 3, 8])],
        vec![
            f32_tensor("w", &[8, 8], &w),
            f32_tensor("b", &[8], &[0.1, -0.1, 0.2, 0.0, 0.3, -0.2, 0.05, 0.0]),
            f32_tensor("two", &[], &[2.0]),
            f32_tensor("eps", &[], &[1e-5]),
            f32_tensor("gamma", &[8], &[1.0, 0.9, 1.1, 1.0, 0.8, 1.2, 1.0, 1.0]),
            f32_tensor("beta", &[8], &[0.0, 0.1, 0.0, -0.1, 0.0, 0.2, 0.0, 0.0]),
            f32_tensor("sqrt2", &[], &[std::f32::consts::SQRT_2]),
            f32_tensor("one", &[], &[1.0]),
            f32_tensor("half", &[], &[0.5]),
        ],
    )
}

#[test]
fn fusions_fire_and_preserve_results() {
    let bytes = transformer_block().encode_to_vec();
    let plain = Model::load(&bytes).unwrap();
    let mut fused = plain.clone();
    let report = fused.optimize().unwrap();
    assert_eq!(report.patterns, 3, "{report:?}");
    let ops: Vec<&str> = fused
        .graph
        .nodes
        .iter()
        .map(|n| n.op_type.as_str())
        .collect();
    assert_eq!(ops, ["MatMulAdd", "LayerNormalization", "Gelu"]);
    let x = Tensor::from_f32(
        vec![2, 3, 8],
        (0..48).map(|i| (i as f32 * 0.37).sin() * 2.0).collect(),
    )
    .unwrap();
    let a = CpuBackend::new()
        .run(&plain, std::slice::from_ref(&x))
        .unwrap();
    let b = CpuBackend::new()
        .run(&fused, std::slice::from_ref(&x))
        .unwrap();
    for (p, q) in a[0].f32s("y").unwrap().iter().zip(b[0].f32s("y").unwrap()) {
        assert!((p - q).abs() <= 1e-5 + 1e-4 * p.abs(), "{p} vs {q}");
    }
    #[cfg(feature = "wgpu")]
    if let Ok(mut gpu) = runner::gpu::GpuBackend::new() {
        let g = gpu.run(&fused, &[x]).unwrap();
        for (p, q) in a[0].f32s("y").unwrap().iter().zip(g[0].f32s("y").unwrap()) {
            assert!((p - q).abs() <= 1e-5 + 1e-3 * p.abs(), "gpu {p} vs {q}");
        }
        assert_eq!(gpu.stats.downloads, 0, "fused block stays on the GPU");
    }
}

#[test]
fn patterns_with_extra_readers_are_left_alone() {
    let mut m = transformer_block();
    let g = m.graph.as_mut().unwrap();
    // `sd` now also feeds a graph output, so the LayerNorm must not fuse.
    g.output.push(f32_value("sd", &[2, 3, 1]));
    let mut loaded = Model::load(&m.encode_to_vec()).unwrap();
    let report = loaded.optimize().unwrap();
    assert_eq!(report.patterns, 2, "{report:?}");
    assert!(loaded.graph.nodes.iter().any(|n| n.op_type == "Sqrt"));
}
