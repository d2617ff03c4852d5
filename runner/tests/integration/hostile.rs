//! Hostile and malformed input must produce typed errors, never panics,
//! hangs or unbounded allocations.

use crate::common::*;
use prost::Message;
use runner::backend::Backend;
use runner::cpu::CpuBackend;
use runner::onnx::{AttributeProto, GraphProto};
use runner::{Error, Limits, Model, Tensor};

fn load(m: &runner::onnx::ModelProto) -> runner::Result<Model> {
    Model::load(&m.encode_to_vec())
}

#[test]
fn garbage_bytes_are_a_decode_error() {
    for bytes in [
        &b"\xff\xff\xff\xff\xff"[..],
        b"\x0a\xff\xff\xff\xff\x0f",
        b"hello world",
    ] {
        assert!(matches!(
            Model::load(bytes),
            Err(Error::Decode(_)) | Err(Error::Invalid(_))
        ));
    }
}

#[test]
fn truncated_model_is_an_error() {
    let bytes = sample_model().encode_to_vec();
    for cut in [1, 7, bytes.len() / 3, bytes.len() - 1] {
        assert!(Model::load(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn sample_model_runs_and_matches_between_passes() {
    let mut m = load(&sample_model()).unwrap();
    let x = Tensor::from_f32(
        vec![1, 1, 4, 4],
        (0..16).map(|i| i as f32 / 8.0 - 1.0).collect(),
    )
    .unwrap();
    let plain = CpuBackend::new().run(&m, std::slice::from_ref(&x)).unwrap();
    let report = m.optimize().unwrap();
    assert_eq!(report.conv_bn, 1, "Conv+BatchNorm should fuse");
    assert!(
        report.folded >= 4,
        "shape arithmetic should fold: {report:?}"
    );
    let opt = CpuBackend::new().run(&m, &[x]).unwrap();
    let (a, b) = (plain[0].f32s("t").unwrap(), opt[0].f32s("t").unwrap());
    assert_eq!(plain[0].shape, vec![1, 3]);
    assert!(
        (a.iter().sum::<f32>() - 1.0).abs() < 1e-5,
        "softmax sums to 1"
    );
    for (p, q) in a.iter().zip(b) {
        assert!((p - q).abs() < 1e-5, "{p} vs {q}");
    }
}

#[test]
fn cycle_is_detected() {
    let m = model(
        vec![
            node("Add", &["x", "b"], &["a"], vec![]),
            node("Relu", &["a"], &["b"], vec![]),
        ],
        vec![f32_value("x", &[1])],
        vec![f32_value("b", &[1])],
        vec![],
    );
    assert!(matches!(load(&m), Err(Error::Cycle(_))));
}

#[test]
fn value_nobody_produces_is_reported() {
    let m = model(
        vec![node("Relu", &["ghost"], &["y"], vec![])],
        vec![f32_value("x", &[1])],
        vec![f32_value("y", &[1])],
        vec![],
    );
    match load(&m) {
        Err(Error::MissingValue { value, .. }) => assert_eq!(value, "ghost"),
        other => panic!("expected MissingValue, got {other:?}"),
    }
}

#[test]
fn duplicate_producers_are_invalid() {
    let m = model(
        vec![
            node("Relu", &["x"], &["y"], vec![]),
            node("Neg", &["x"], &["y"], vec![]),
        ],
        vec![f32_value("x", &[1])],
        vec![f32_value("y", &[1])],
        vec![],
    );
    assert!(matches!(load(&m), Err(Error::Invalid(_))));
}

#[test]
fn missing_runtime_input_is_reported() {
    let m = load(&sample_model()).unwrap();
    assert!(
        matches!(CpuBackend::new().run(&m, &[]), Err(Error::MissingInput(name)) if name == "x")
    );
    let wrong = Tensor::from_f32(vec![2, 2], vec![0.0; 4]).unwrap();
    assert!(matches!(
        CpuBackend::new().run(&m, &[wrong]),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn absurd_dimensions_are_rejected_before_allocating() {
    let huge = runner::onnx::TensorProto {
        name: "w".into(),
        dims: vec![1 << 40, 1 << 40],
        data_type: runner::onnx::data_type::FLOAT,
        ..Default::default()
    };
    let m = model(
        vec![node("Relu", &["w"], &["y"], vec![])],
        vec![],
        vec![f32_value("y", &[1])],
        vec![huge],
    );
    assert!(matches!(load(&m), Err(Error::Limit(_))));
    let neg = i64_tensor("w", &[-3], &[]);
    let m = model(
        vec![node("Relu", &["w"], &["y"], vec![])],
        vec![],
        vec![f32_value("y", &[1])],
        vec![neg],
    );
    assert!(matches!(load(&m), Err(Error::Invalid(_))));
}

#[test]
fn rank_limit_is_enforced() {
    let dims = vec![1i64; 40];
    let t = f32_tensor("w", &dims, &[1.0]);
    let m = model(
        vec![node("Relu", &["w"], &["y"], vec![])],
        vec![],
        vec![f32_value("y", &[1])],
        vec![t],
    );
    assert!(matches!(load(&m), Err(Error::Limit(_))));
}

#[test]
fn tensor_budget_applies_to_initializers_and_intermediates() {
    let limits = Limits {
        max_tensor_bytes: 1024,
        ..Limits::default()
    };
    let big = f32_tensor("w", &[512], &vec![0.5; 512]);
    let m = model(
        vec![node("Relu", &["w"], &["y"], vec![])],
        vec![],
        vec![f32_value("y", &[512])],
        vec![big],
    );
    assert!(matches!(
        Model::load_with_limits(&m.encode_to_vec(), limits.clone()),
        Err(Error::Limit(_))
    ));

    // ConstantOfShape asking for 2^60 elements: rejected when inferred...
    let m = model(
        vec![node("ConstantOfShape", &["s"], &["y"], vec![])],
        vec![],
        vec![f32_value("y", &[1])],
        vec![i64_tensor("s", &[2], &[1 << 30, 1 << 30])],
    );
    let mut loaded = load(&m).unwrap();
    assert!(matches!(loaded.clone().optimize(), Err(Error::Limit(_))));
    // ...and at run time when the shape only arrives with the input.
    assert!(matches!(
        CpuBackend::new().run(&loaded, &[]),
        Err(Error::Limit(_))
    ));
    let m = model(
        vec![node("ConstantOfShape", &["s"], &["y"], vec![])],
        vec![value("s", runner::onnx::data_type::INT64, &[2])],
        vec![f32_value("y", &[1])],
        vec![],
    );
    loaded = load(&m).unwrap();
    let s = Tensor::from_i64(vec![2], vec![1 << 31, 1 << 31]).unwrap();
    assert!(matches!(
        CpuBackend::new().run(&loaded, &[s]),
        Err(Error::Limit(_))
    ));
}

#[test]
fn range_expand_tile_cannot_explode() {
    let cases = vec![
        model(
            vec![node("Range", &["a", "b", "c"], &["y"], vec![])],
            vec![],
            vec![f32_value("y", &[1])],
            vec![
                f32_tensor("a", &[], &[0.0]),
                f32_tensor("b", &[], &[1e30]),
                f32_tensor("c", &[], &[1e-30]),
            ],
        ),
        model(
            vec![node("Expand", &["x", "s"], &["y"], vec![])],
            vec![f32_value("x", &[1])],
            vec![f32_value("y", &[1])],
            vec![i64_tensor("s", &[3], &[1 << 20, 1 << 20, 1 << 20])],
        ),
        model(
            vec![node("Tile", &["x", "r"], &["y"], vec![])],
            vec![f32_value("x", &[1])],
            vec![f32_value("y", &[1])],
            vec![i64_tensor("r", &[1], &[i64::MAX])],
        ),
    ];
    for m in cases {
        let loaded = load(&m).unwrap();
        let ins: Vec<Tensor> = loaded
            .graph
            .inputs
            .iter()
            .map(|_| Tensor::from_f32(vec![1], vec![1.0]).unwrap())
            .collect();
        let r = CpuBackend::new().run(&loaded, &ins);
        assert!(
            matches!(r, Err(Error::Limit(_)) | Err(Error::Op { .. })),
            "{r:?}"
        );
    }
}

#[test]
fn bad_raw_data_length_is_invalid() {
    let t = runner::onnx::TensorProto {
        name: "w".into(),
        dims: vec![4],
        data_type: runner::onnx::data_type::FLOAT,
        raw_data: vec![0; 15],
        ..Default::default()
    };
    let m = model(
        vec![node("Relu", &["w"], &["y"], vec![])],
        vec![],
        vec![f32_value("y", &[4])],
        vec![t],
    );
    assert!(matches!(load(&m), Err(Error::Invalid(_))));
}

#[test]
fn deeply_nested_subgraphs_hit_the_decoder_recursion_limit() {
    let mut g = GraphProto::default();
    for _ in 0..200 {
        let n = runner::onnx::NodeProto {
            op_type: "If".into(),
            attribute: vec![AttributeProto {
                name: "then_branch".into(),
                g: Some(g),
                r#type: 5,
                ..Default::default()
            }],
            ..Default::default()
        };
        g = GraphProto {
            node: vec![n],
            ..Default::default()
        };
    }
    let m = runner::onnx::ModelProto {
        graph: Some(g),
        ..Default::default()
    };
    assert!(matches!(
        Model::load(&m.encode_to_vec()),
        Err(Error::Decode(_))
    ));
}

#[test]
fn out_of_range_indices_are_errors() {
    let m = model(
        vec![node("Gather", &["x", "i"], &["y"], vec![])],
        vec![f32_value("x", &[3])],
        vec![f32_value("y", &[1])],
        vec![i64_tensor("i", &[1], &[7])],
    );
    let loaded = load(&m).unwrap();
    let x = Tensor::from_f32(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
    assert!(matches!(
        CpuBackend::new().run(&loaded, &[x]),
        Err(Error::Op { .. })
    ));
}

#[test]
fn unknown_operator_is_unsupported() {
    let m = model(
        vec![node("FrobnicateV9", &["x"], &["y"], vec![])],
        vec![f32_value("x", &[1])],
        vec![f32_value("y", &[1])],
        vec![],
    );
    let loaded = load(&m).unwrap();
    assert_eq!(
        CpuBackend::new().unsupported_ops(&loaded),
        vec!["FrobnicateV9".to_string()]
    );
    let x = Tensor::from_f32(vec![1], vec![1.0]).unwrap();
    assert!(matches!(
        CpuBackend::new().run(&loaded, &[x]),
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn attr_tensor_in_constant_obeys_limits() {
    let t = runner::onnx::TensorProto {
        name: "c".into(),
        dims: vec![1 << 50],
        data_type: 1,
        ..Default::default()
    };
    let m = model(
        vec![node("Constant", &[], &["y"], vec![attr_t("value", t)])],
        vec![],
        vec![f32_value("y", &[1])],
        vec![],
    );
    assert!(matches!(load(&m), Err(Error::Limit(_))));
}

#[test]
fn quantized_tensor_with_zero_scale_is_an_error() {
    use runner::onnx::data_type as dt;
    let zp = runner::onnx::TensorProto {
        name: "zp".into(),
        data_type: dt::UINT8,
        int32_data: vec![128],
        ..Default::default()
    };
    let m = model(
        vec![node("QuantizeLinear", &["x", "s", "zp"], &["y"], vec![])],
        vec![f32_value("x", &[3])],
        vec![value("y", dt::UINT8, &[3])],
        vec![f32_tensor("s", &[], &[0.0]), zp],
    );
    let mut loaded = load(&m).unwrap();
    loaded.optimize().unwrap();
    let x = Tensor::from_f32(vec![3], vec![1.0, 0.0, -1.0]).unwrap();
    let r = CpuBackend::new().run(&loaded, &[x]);
    assert!(matches!(r, Err(Error::Op { .. })), "{r:?}");
    // A per-axis scale whose length does not match the axis.
    let m = model(
        vec![node(
            "DequantizeLinear",
            &["q", "s"],
            &["y"],
            vec![attr_i("axis", 0)],
        )],
        vec![value("q", dt::INT8, &[2, 2])],
        vec![f32_value("y", &[2, 2])],
        vec![f32_tensor("s", &[3], &[0.0, 1.0, 2.0])],
    );
    let loaded = load(&m).unwrap();
    let q = Tensor::new(vec![2, 2], runner::Data::I8(vec![1, 2, 3, 4])).unwrap();
    let r = CpuBackend::new().run(&loaded, &[q]);
    assert!(matches!(r, Err(Error::Op { .. })), "{r:?}");
}

#[test]
fn float16_initializers_load_and_bad_lengths_are_invalid() {
    use runner::onnx::data_type as dt;
    let half = |raw: Vec<u8>, ints: Vec<i32>| runner::onnx::TensorProto {
        name: "w".into(),
        dims: vec![2],
        data_type: dt::FLOAT16,
        raw_data: raw,
        int32_data: ints,
        ..Default::default()
    };
    let m = |t| {
        model(
            vec![node("Relu", &["w"], &["y"], vec![])],
            vec![],
            vec![value("y", dt::FLOAT16, &[2])],
            vec![t],
        )
    };
    // 1.0 and -2.0 as float16, in raw_data (little-endian) and int32_data.
    for t in [
        half(vec![0x00, 0x3c, 0x00, 0xc0], vec![]),
        half(vec![], vec![0x3c00, 0xc000]),
    ] {
        let loaded = load(&m(t)).unwrap();
        let y = CpuBackend::new().run(&loaded, &[]).unwrap();
        assert_eq!(y[0].data, runner::Data::F16(vec![0x3c00, 0]));
    }
    for t in [
        half(vec![0x00, 0x3c, 0x00], vec![]),
        half(vec![0; 5], vec![]),
        half(vec![], vec![0x3c00]),
    ] {
        let r = load(&m(t));
        assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    }
}

#[test]
fn cast_to_float8_is_unsupported() {
    let m = model(
        vec![node("Cast", &["x"], &["y"], vec![attr_i("to", 17)])],
        vec![f32_value("x", &[1])],
        vec![f32_value("y", &[1])],
        vec![],
    );
    let loaded = load(&m).unwrap();
    let x = Tensor::from_f32(vec![1], vec![1.0]).unwrap();
    let r = CpuBackend::new().run(&loaded, &[x]);
    assert!(
        matches!(&r, Err(Error::Unsupported(m)) if m.contains("Cast") && m.contains("FLOAT8E4M3FN")),
        "{r:?}"
    );
}
