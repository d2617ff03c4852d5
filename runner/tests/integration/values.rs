//! Sequences, string tensors and `Gradient`: behaviour and hostile input.

use crate::common::*;
use prost::Message;
use runner::backend::Backend;
use runner::cpu::CpuBackend;
use runner::onnx::{
    self, type_proto, AttributeProto, OperatorSetIdProto, TypeProto, ValueInfoProto,
};
use runner::{Data, Error, Limits, Model, Sequence, Tensor, Value};

fn load(m: &onnx::ModelProto) -> runner::Result<Model> {
    Model::load(&m.encode_to_vec())
}

fn seq_value(name: &str, elem: i32) -> ValueInfoProto {
    let tensor = value(name, elem, &[]).r#type.map(Box::new);
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::SequenceType(type_proto::Sequence {
                elem_type: tensor.map(|t| {
                    Box::new(TypeProto {
                        value: match t.value {
                            Some(type_proto::Value::TensorType(mut tt)) => {
                                tt.shape = None;
                                Some(type_proto::Value::TensorType(tt))
                            }
                            v => v,
                        },
                        denotation: String::new(),
                    })
                }),
            })),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    }
}

fn attr_s(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: onnx::attribute_type::STRING,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn attr_strings(name: &str, v: &[&str]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: onnx::attribute_type::STRINGS,
        strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..Default::default()
    }
}

fn f32s(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_f32(shape.to_vec(), v.to_vec()).unwrap()
}

#[test]
fn sequences_flow_through_graph_inputs_and_outputs() {
    // seq -> insert x at front -> (output sequence, concat of it, length)
    let m = model(
        vec![
            node("SequenceInsert", &["s", "x", "zero"], &["s2"], vec![]),
            node(
                "ConcatFromSequence",
                &["s2"],
                &["cat"],
                vec![attr_i("axis", 0)],
            ),
            node("SequenceLength", &["s2"], &["len"], vec![]),
            node("Identity", &["s2"], &["out"], vec![]),
        ],
        vec![
            seq_value("s", onnx::data_type::FLOAT),
            f32_value("x", &[1, 2]),
        ],
        vec![
            f32_value("cat", &[3, 2]),
            value("len", onnx::data_type::INT64, &[]),
            seq_value("out", onnx::data_type::FLOAT),
        ],
        vec![i64_tensor("zero", &[], &[0])],
    );
    let mut model = load(&m).unwrap();
    model.optimize().unwrap();
    let s = Sequence::new(
        runner::DataType::F32,
        vec![f32s(&[1, 2], &[1.0, 2.0]), f32s(&[1, 2], &[3.0, 4.0])],
    )
    .unwrap();
    let x = f32s(&[1, 2], &[-1.0, -2.0]);
    let out = CpuBackend::new()
        .run_values(
            &model,
            &[Value::Sequence(s.clone()), Value::Tensor(x.clone())],
        )
        .unwrap();
    assert_eq!(
        out[0],
        Value::Tensor(f32s(&[3, 2], &[-1.0, -2.0, 1.0, 2.0, 3.0, 4.0]))
    );
    assert_eq!(
        out[1],
        Value::Tensor(Tensor::from_i64(vec![], vec![3]).unwrap())
    );
    match &out[2] {
        Value::Sequence(q) => assert_eq!(q.tensors[0], x),
        v => panic!("expected a sequence, got {v:?}"),
    }
    // The tensor-only entry point refuses sequence outputs and inputs.
    assert!(CpuBackend::new()
        .run(&model, &[x.clone(), x.clone()])
        .is_err());
    assert!(CpuBackend::new()
        .run_values(&model, &[Value::Tensor(x.clone()), Value::Tensor(x)])
        .is_err());
}

#[test]
fn sequence_positions_and_types_are_checked() {
    let m = model(
        vec![
            node("SequenceConstruct", &["x", "x"], &["s"], vec![]),
            node("SequenceAt", &["s", "pos"], &["y"], vec![]),
        ],
        vec![
            f32_value("x", &[2]),
            value("pos", onnx::data_type::INT64, &[]),
        ],
        vec![f32_value("y", &[2])],
        vec![],
    );
    let model = load(&m).unwrap();
    let x = f32s(&[2], &[1.0, 2.0]);
    for (pos, ok) in [
        (0, true),
        (-2, true),
        (1, true),
        (2, false),
        (-3, false),
        (i64::MIN, false),
    ] {
        let p = Tensor::from_i64(vec![], vec![pos]).unwrap();
        let r = CpuBackend::new().run(&model, &[x.clone(), p]);
        assert_eq!(r.is_ok(), ok, "position {pos}: {r:?}");
    }
    // A sequence passed where a tensor kernel expects a tensor.
    let bad = model_with(vec![
        node("SequenceConstruct", &["x"], &["s"], vec![]),
        node("Relu", &["s"], &["y"], vec![]),
    ]);
    let r = CpuBackend::new().run(&load(&bad).unwrap(), &[f32s(&[2], &[1.0, 2.0])]);
    assert!(matches!(r, Err(Error::Op { .. })), "{r:?}");
}

fn model_with(nodes: Vec<onnx::NodeProto>) -> onnx::ModelProto {
    model(
        nodes,
        vec![f32_value("x", &[2])],
        vec![f32_value("y", &[2])],
        vec![],
    )
}

#[test]
fn split_to_sequence_respects_the_budget() {
    // 4096 one-element pieces cost more than the data: the per-element
    // overhead is charged before anything is allocated.
    let m = model(
        vec![
            node("SplitToSequence", &["x"], &["s"], vec![attr_i("axis", 0)]),
            node("SequenceLength", &["s"], &["n"], vec![]),
        ],
        vec![f32_value("x", &[4096])],
        vec![value("n", onnx::data_type::INT64, &[])],
        vec![],
    );
    let limits = Limits {
        max_tensor_bytes: 64 * 1024,
        ..Limits::default()
    };
    let model = Model::load_with_limits(&m.encode_to_vec(), limits).unwrap();
    let x = f32s(&[4096], &vec![0.5; 4096]);
    let r = CpuBackend::new().run(&model, &[x]);
    assert!(matches!(r, Err(Error::Limit(_))), "{r:?}");
    // Within budget it counts the pieces; uneven chunks keep the remainder.
    let m = model_split(&[7], 3);
    let out = CpuBackend::new()
        .run(&load(&m).unwrap(), &[f32s(&[7], &[0.0; 7])])
        .unwrap();
    assert_eq!(out[0].to_i64s("t").unwrap(), vec![3]);
}

fn model_split(dims: &[i64], chunk: i64) -> onnx::ModelProto {
    model(
        vec![
            node("SplitToSequence", &["x", "c"], &["s"], vec![]),
            node("SequenceLength", &["s"], &["n"], vec![]),
        ],
        vec![f32_value("x", dims)],
        vec![value("n", onnx::data_type::INT64, &[])],
        vec![i64_tensor("c", &[], &[chunk])],
    )
}

#[test]
fn bad_split_lengths_are_errors() {
    for chunk in [0, -1] {
        let r = CpuBackend::new().run(
            &load(&model_split(&[7], chunk)).unwrap(),
            &[f32s(&[7], &[0.0; 7])],
        );
        assert!(r.is_err(), "chunk {chunk}");
    }
}

#[test]
fn string_tensors_decode_strictly() {
    let mut t = onnx::TensorProto {
        name: "s".into(),
        dims: vec![2],
        data_type: onnx::data_type::STRING,
        string_data: vec![b"a".to_vec()],
        ..Default::default()
    };
    let limits = Limits::default();
    assert!(matches!(
        Tensor::from_proto(&t, &limits),
        Err(Error::Invalid(_))
    ));
    t.string_data.push(b"\xffb".to_vec());
    let ok = Tensor::from_proto(&t, &limits).unwrap();
    assert_eq!(ok.data, Data::String(vec!["a".into(), "\u{fffd}b".into()]));
    assert_eq!(Tensor::from_proto(&ok.to_proto("s"), &limits).unwrap(), ok);
    t.raw_data = vec![0; 16];
    assert!(matches!(
        Tensor::from_proto(&t, &limits),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn string_normalizer_and_equal() {
    let m = model(
        vec![
            node(
                "StringNormalizer",
                &["x"],
                &["n"],
                vec![
                    attr_s("case_change_action", "UPPER"),
                    attr_strings("stopwords", &["the"]),
                ],
            ),
            node("Equal", &["n", "ref"], &["y"], vec![]),
        ],
        vec![value("x", onnx::data_type::STRING, &[3])],
        vec![value("y", onnx::data_type::BOOL, &[2])],
        vec![onnx::TensorProto {
            name: "ref".into(),
            dims: vec![1],
            data_type: onnx::data_type::STRING,
            string_data: vec![b"CAT".to_vec()],
            ..Default::default()
        }],
    );
    let mut model = load(&m).unwrap();
    model.optimize().unwrap();
    let x = Tensor::new(
        vec![3],
        Data::String(vec!["The".into(), "cat".into(), "dog".into()]),
    )
    .unwrap();
    let out = CpuBackend::new().run(&model, &[x]).unwrap();
    assert_eq!(out[0].data, Data::Bool(vec![true, false]));
}

fn gradient_model(
    nodes: Vec<onnx::NodeProto>,
    grad_attrs: Vec<AttributeProto>,
    outs: &[&str],
) -> onnx::ModelProto {
    let mut nodes = nodes;
    let mut g = node("Gradient", &["a", "b"], outs, grad_attrs);
    g.domain = "ai.onnx.preview.training".into();
    nodes.push(g);
    let mut m = model(
        nodes,
        vec![f32_value("a", &[2, 3]), f32_value("b", &[3])],
        outs.iter()
            .map(|o| ValueInfoProto {
                name: o.to_string(),
                ..Default::default()
            })
            .collect(),
        vec![f32_tensor("k", &[], &[2.0])],
    );
    m.opset_import.push(OperatorSetIdProto {
        domain: "ai.onnx.preview.training".into(),
        version: 1,
    });
    m
}

#[test]
fn gradient_broadcasts_and_chains() {
    // y = exp(a * b) * k  (b broadcast over a's rows, k an initializer)
    let m = gradient_model(
        vec![
            node("Mul", &["a", "b"], &["p"], vec![]),
            node("Exp", &["p"], &["e"], vec![]),
            node("Mul", &["e", "k"], &["y"], vec![]),
        ],
        vec![attr_strings("xs", &["a", "b"]), attr_s("y", "y")],
        &["da", "db"],
    );
    let mut model = load(&m).unwrap();
    model.optimize().unwrap();
    let a: Vec<f32> = (0..6).map(|i| i as f32 * 0.1 - 0.2).collect();
    let b = [0.5f32, -1.0, 0.25];
    let out = CpuBackend::new()
        .run(&model, &[f32s(&[2, 3], &a), f32s(&[3], &b)])
        .unwrap();
    assert_eq!(out[0].shape, vec![2, 3]);
    assert_eq!(out[1].shape, vec![3]);
    let (da, db) = (out[0].f32s("t").unwrap(), out[1].f32s("t").unwrap());
    for i in 0..6 {
        let want = 2.0 * (a[i] * b[i % 3]).exp() * b[i % 3];
        assert!(
            (da[i] - want).abs() < 1e-5,
            "da[{i}] = {}, want {want}",
            da[i]
        );
    }
    for j in 0..3 {
        let want: f32 = (0..2)
            .map(|r| 2.0 * (a[r * 3 + j] * b[j]).exp() * a[r * 3 + j])
            .sum();
        assert!(
            (db[j] - want).abs() < 1e-5,
            "db[{j}] = {}, want {want}",
            db[j]
        );
    }
}

#[test]
fn gradient_rejects_what_it_cannot_differentiate() {
    // MatMul is not differentiable here: refused at load time.
    let m = gradient_model(
        vec![node("MatMul", &["a", "b"], &["y"], vec![])],
        vec![attr_strings("xs", &["a", "b"]), attr_s("y", "y")],
        &["da", "db"],
    );
    assert!(matches!(load(&m), Err(Error::Unsupported(_))));
    // `y` naming nothing, `xs` missing, too many outputs.
    let add = || vec![node("Add", &["a", "b"], &["y"], vec![])];
    for (attrs, outs) in [
        (
            vec![attr_strings("xs", &["a", "b"]), attr_s("y", "nope")],
            &["da", "db"][..],
        ),
        (vec![attr_s("y", "y")], &["da", "db"][..]),
        (
            vec![attr_strings("xs", &["a", "b"]), attr_s("y", "y")],
            &["da", "db", "dc"][..],
        ),
        (
            vec![attr_strings("xs", &["a", "a"]), attr_s("y", "y")],
            &["da", "db"][..],
        ),
    ] {
        assert!(load(&gradient_model(add(), attrs, outs)).is_err());
    }
    // y independent of b: zero gradient.
    let m = gradient_model(
        vec![node("Neg", &["a"], &["y"], vec![])],
        vec![attr_strings("xs", &["a", "b"]), attr_s("y", "y")],
        &["da", "db"],
    );
    let out = CpuBackend::new()
        .run(
            &load(&m).unwrap(),
            &[f32s(&[2, 3], &[1.0; 6]), f32s(&[3], &[1.0; 3])],
        )
        .unwrap();
    assert_eq!(out[0].f32s("t").unwrap(), &[-1.0; 6]);
    assert_eq!(out[1].f32s("t").unwrap(), &[0.0; 3]);
}

#[test]
fn cast_to_and_from_strings() {
    let to_s = model(
        vec![node(
            "Cast",
            &["x"],
            &["y"],
            vec![attr_i("to", onnx::data_type::STRING as i64)],
        )],
        vec![f32_value("x", &[5])],
        vec![value("y", onnx::data_type::STRING, &[5])],
        vec![],
    );
    let x = f32s(&[5], &[0.5, 1.0, 1e-5, f32::NAN, -3.25e20]);
    let out = CpuBackend::new().run(&load(&to_s).unwrap(), &[x]).unwrap();
    let want = ["0.5", "1.0", "1e-05", "nan", "-3.25e+20"];
    assert_eq!(
        out[0].data,
        Data::String(want.iter().map(|s| s.to_string()).collect())
    );
    let from_s = model(
        vec![node(
            "Cast",
            &["x"],
            &["y"],
            vec![attr_i("to", onnx::data_type::FLOAT as i64)],
        )],
        vec![value("x", onnx::data_type::STRING, &[3])],
        vec![f32_value("y", &[3])],
        vec![],
    );
    let x = Tensor::new(
        vec![3],
        Data::String(vec![" 2.5".into(), "-inf".into(), "abc".into()]),
    )
    .unwrap();
    let out = CpuBackend::new()
        .run(&load(&from_s).unwrap(), &[x])
        .unwrap();
    let v = out[0].f32s("t").unwrap();
    assert_eq!(&v[..2], &[2.5, f32::NEG_INFINITY]);
    assert!(v[2].is_nan());
}
