//! Helpers to build small ONNX models in tests.
#![allow(dead_code)]

use runner::onnx::{
    self, tensor_shape_proto::dimension, type_proto, AttributeProto, GraphProto, ModelProto,
    NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

pub fn value(name: &str, elem: i32, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: elem,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| onnx::tensor_shape_proto::Dimension {
                            value: Some(dimension::Value::DimValue(d)),
                            denotation: String::new(),
                        })
                        .collect(),
                }),
            })),
            denotation: String::new(),
        }),
        doc_string: String::new(),
    }
}

pub fn f32_value(name: &str, dims: &[i64]) -> ValueInfoProto {
    value(name, onnx::data_type::FLOAT, dims)
}

pub fn node(op: &str, ins: &[&str], outs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: ins.iter().map(|s| s.to_string()).collect(),
        output: outs.iter().map(|s| s.to_string()).collect(),
        op_type: op.into(),
        attribute: attrs,
        ..Default::default()
    }
}

pub fn attr_i(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: onnx::attribute_type::INT,
        i: v,
        ..Default::default()
    }
}

pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: onnx::attribute_type::INTS,
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn attr_t(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: onnx::attribute_type::TENSOR,
        t: Some(t),
        ..Default::default()
    }
}

pub fn f32_tensor(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: onnx::data_type::FLOAT,
        float_data: v.to_vec(),
        ..Default::default()
    }
}

pub fn i64_tensor(name: &str, dims: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: onnx::data_type::INT64,
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

pub fn model(
    nodes: Vec<NodeProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    inits: Vec<TensorProto>,
) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(GraphProto {
            node: nodes,
            name: "g".into(),
            initializer: inits,
            input: inputs,
            output: outputs,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A small but varied model: Conv -> BatchNorm -> Relu -> Reshape ->
/// MatMul -> Add -> Softmax, plus shape arithmetic feeding the Reshape.
pub fn sample_model() -> ModelProto {
    let w: Vec<f32> = (0..18).map(|i| (i as f32 * 0.37).sin()).collect();
    let fc: Vec<f32> = (0..2 * 4 * 4 * 3)
        .map(|i| (i as f32 * 0.11).cos())
        .collect();
    model(
        vec![
            node(
                "Conv",
                &["x", "w"],
                &["c"],
                vec![attr_ints("pads", &[1, 1, 1, 1])],
            ),
            node(
                "BatchNormalization",
                &["c", "s", "b", "m", "v"],
                &["bn"],
                vec![],
            ),
            node("Relu", &["bn"], &["r"], vec![]),
            node("Shape", &["r"], &["sh"], vec![]),
            node("Gather", &["sh", "zero"], &["n"], vec![attr_i("axis", 0)]),
            node("Unsqueeze", &["n", "zero1"], &["n1"], vec![]),
            node(
                "Concat",
                &["n1", "minus1"],
                &["newshape"],
                vec![attr_i("axis", 0)],
            ),
            node("Reshape", &["r", "newshape"], &["flat"], vec![]),
            node("MatMul", &["flat", "fc"], &["mm"], vec![]),
            node("Add", &["mm", "fcb"], &["logits"], vec![]),
            node("Softmax", &["logits"], &["y"], vec![attr_i("axis", -1)]),
        ],
        vec![f32_value("x", &[1, 1, 4, 4])],
        vec![f32_value("y", &[1, 3])],
        vec![
            f32_tensor("w", &[2, 1, 3, 3], &w),
            f32_tensor("s", &[2], &[1.0, 0.5]),
            f32_tensor("b", &[2], &[0.1, -0.2]),
            f32_tensor("m", &[2], &[0.05, 0.1]),
            f32_tensor("v", &[2], &[1.0, 2.0]),
            i64_tensor("zero", &[], &[0]),
            i64_tensor("zero1", &[1], &[0]),
            i64_tensor("minus1", &[1], &[-1]),
            f32_tensor("fc", &[32, 3], &fc),
            f32_tensor("fcb", &[3], &[0.0, 0.1, 0.2]),
        ],
    )
}
