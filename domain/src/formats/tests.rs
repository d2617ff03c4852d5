//! Fixtures are built here byte by byte (protobuf, safetensors, GGUF), plus the seed ONNX
//! models whose expected metadata was read with the reference `onnx` Python package.

use super::*;

// ---------- helpers ----------

/// Feeds `bytes` in chunks of the given size (0 = all at once).
fn inspect_in_chunks(path: &str, bytes: &[u8], chunk: usize) -> Result<FileMetadata, FormatError> {
    let mut inspector = Inspector::for_file(path)?;
    if chunk == 0 {
        inspector.feed(bytes)?;
    } else {
        for c in bytes.chunks(chunk) {
            inspector.feed(c)?;
        }
    }
    inspector.finish()
}

/// Feeds `bytes` in pseudo-random chunk sizes from 1 to 300.
fn inspect_randomly(path: &str, bytes: &[u8], seed: u64) -> Result<FileMetadata, FormatError> {
    let mut inspector = Inspector::for_file(path)?;
    let mut state = seed;
    let mut rest = bytes;
    while !rest.is_empty() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = ((state >> 33) % 300 + 1) as usize;
        let (now, later) = rest.split_at(n.min(rest.len()));
        inspector.feed(now)?;
        rest = later;
    }
    inspector.finish()
}

/// The metadata, asserting every way of chunking the file gives the same answer.
fn inspect_all_ways(path: &str, bytes: &[u8]) -> Result<FileMetadata, FormatError> {
    let whole = inspect_in_chunks(path, bytes, 0);
    for chunk in [1, 2, 7, 64, 4096] {
        assert_eq!(
            inspect_in_chunks(path, bytes, chunk),
            whole,
            "chunks of {chunk}"
        );
    }
    for seed in 0..4 {
        assert_eq!(
            inspect_randomly(path, bytes, seed),
            whole,
            "random chunks, seed {seed}"
        );
    }
    whole
}

/// Every proper prefix of the file is refused (and none panics).
fn assert_every_truncation_fails(path: &str, bytes: &[u8]) {
    for cut in 0..bytes.len() {
        let result = inspect(path, &bytes[..cut]);
        assert!(
            result.is_err(),
            "{path} cut at {cut} of {} was accepted: {result:?}",
            bytes.len()
        );
    }
}

fn err_text(result: Result<FileMetadata, FormatError>) -> String {
    match result {
        Err(e) => e.to_string(),
        Ok(m) => panic!("expected an error, got {m:?}"),
    }
}

// ---------- protobuf encoding for ONNX fixtures ----------

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn int_field(field: u64, v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(field << 3, &mut out);
    varint(v as u64, &mut out);
    out
}

fn bytes_field(field: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(field << 3 | 2, &mut out);
    varint(bytes.len() as u64, &mut out);
    out.extend_from_slice(bytes);
    out
}

fn str_field(field: u64, s: &str) -> Vec<u8> {
    bytes_field(field, s.as_bytes())
}

fn msg(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn node(op: &str, domain: &str, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut parts = vec![str_field(1, "in"), str_field(2, "out"), str_field(4, op)];
    if !domain.is_empty() {
        parts.push(str_field(7, domain));
    }
    parts.extend_from_slice(extra);
    msg(&parts)
}

/// A ValueInfoProto of a float tensor; dims: Some(n) value, None param "N", or unknown.
fn value_info(name: &str, dims: &[Dim]) -> Vec<u8> {
    let dims: Vec<Vec<u8>> = dims
        .iter()
        .map(|d| {
            let dim = match d {
                Dim::Value(v) => int_field(1, *v),
                Dim::Param(p) => str_field(2, p),
                Dim::Unknown => str_field(3, "denotation only"),
            };
            bytes_field(1, &dim)
        })
        .collect();
    let tensor_type = msg(&[int_field(1, 1), bytes_field(2, &msg(&dims))]);
    msg(&[
        str_field(1, name),
        bytes_field(2, &bytes_field(1, &tensor_type)),
        str_field(3, "a doc string, skipped"),
    ])
}

fn hand_made_onnx() -> Vec<u8> {
    // W: dims [4, 3] packed, with 48 bytes of raw_data; B: dims [3] unpacked, float_data.
    let mut packed = Vec::new();
    varint(4, &mut packed);
    varint(3, &mut packed);
    let w = msg(&[
        bytes_field(1, &packed),
        int_field(2, 1),
        str_field(8, "W"),
        bytes_field(9, &[7u8; 48]),
    ]);
    let b = msg(&[
        int_field(1, 3),
        int_field(2, 1),
        str_field(8, "B"),
        bytes_field(4, &[0; 12]),
    ]);
    let then_branch = msg(&[bytes_field(1, &node("Identity", "", &[]))]);
    let attribute = msg(&[str_field(1, "then_branch"), bytes_field(6, &then_branch)]);
    // An unknown fixed64 and fixed32 field in the graph, to be skipped.
    let mut fixed64 = Vec::new();
    varint(99 << 3 | 1, &mut fixed64);
    fixed64.extend_from_slice(&[1; 8]);
    let mut fixed32 = Vec::new();
    varint(98 << 3 | 5, &mut fixed32);
    fixed32.extend_from_slice(&[2; 4]);
    let graph = msg(&[
        bytes_field(1, &node("Gemm", "", &[])),
        bytes_field(1, &node("Relu", "ai.onnx", &[])),
        bytes_field(1, &node("FusedMatMul", "com.microsoft", &[])),
        bytes_field(1, &node("If", "", &[bytes_field(5, &attribute)])),
        bytes_field(1, &node("Gemm", "", &[])),
        str_field(2, "main"),
        bytes_field(5, &w),
        bytes_field(5, &b),
        fixed64,
        fixed32,
        bytes_field(
            11,
            &value_info("x", &[Dim::Param("N".into()), Dim::Value(4)]),
        ),
        bytes_field(11, &value_info("W", &[Dim::Value(4), Dim::Value(3)])),
        bytes_field(12, &value_info("y", &[Dim::Unknown, Dim::Value(3)])),
    ]);
    msg(&[
        int_field(1, 8),
        str_field(2, "hand"),
        str_field(3, "1.0"),
        bytes_field(7, &graph),
        bytes_field(8, &msg(&[str_field(1, ""), int_field(2, 17)])),
        bytes_field(8, &msg(&[str_field(1, "com.microsoft"), int_field(2, 1)])),
    ])
}

fn op(op_type: &str, domain: Option<&str>) -> Operator {
    Operator {
        op_type: op_type.into(),
        domain: domain.map(str::to_owned),
    }
}

fn float_io(name: &str, shape: Vec<Dim>) -> ValueInfo {
    ValueInfo {
        name: name.into(),
        elem_type: Some("float32".into()),
        shape: Some(shape),
    }
}

fn onnx_meta(result: Result<FileMetadata, FormatError>) -> OnnxMetadata {
    match result {
        Ok(FileMetadata::Onnx(m)) => m,
        other => panic!("expected ONNX metadata, got {other:?}"),
    }
}

// ---------- ONNX ----------

#[test]
fn hand_made_onnx_yields_its_metadata_whatever_the_chunking() {
    let bytes = hand_made_onnx();
    let m = onnx_meta(inspect_all_ways("nested/dir/model.onnx", &bytes));
    assert_eq!(m.ir_version, 8);
    assert_eq!(m.producer_name.as_deref(), Some("hand"));
    assert_eq!(
        m.opset_imports,
        vec![
            OpsetImport {
                domain: "".into(),
                version: 17
            },
            OpsetImport {
                domain: "com.microsoft".into(),
                version: 1
            },
        ]
    );
    // W is an initializer, so it is not an input a caller feeds.
    assert_eq!(
        m.inputs,
        vec![float_io("x", vec![Dim::Param("N".into()), Dim::Value(4)])]
    );
    assert_eq!(
        m.outputs,
        vec![float_io("y", vec![Dim::Unknown, Dim::Value(3)])]
    );
    assert_eq!(
        m.operators,
        vec![
            op("FusedMatMul", Some("com.microsoft")),
            op("Gemm", None),
            op("Identity", None),
            op("If", None),
            op("Relu", None),
        ]
    );
    assert_eq!(
        m.node_count, 6,
        "five nodes in the graph and one in the If branch"
    );
    assert_eq!(m.initializer_count, 2);
    assert_eq!(m.parameter_count, 4 * 3 + 3);
    assert!(!m.external_data);
}

#[test]
fn onnx_metadata_is_json_with_a_format_tag_and_round_trips() {
    let meta = inspect("model.onnx", &hand_made_onnx()).unwrap();
    let json = serde_json::to_value(&meta).unwrap();
    assert_eq!(json["format"], "onnx");
    assert_eq!(json["inputs"][0]["shape"], serde_json::json!(["N", 4]));
    assert_eq!(json["outputs"][0]["shape"], serde_json::json!([null, 3]));
    assert_eq!(
        json["operators"][0],
        serde_json::json!({"op_type": "FusedMatMul", "domain": "com.microsoft"})
    );
    assert_eq!(json["operators"][1], serde_json::json!({"op_type": "Gemm"}));
    let back: FileMetadata = serde_json::from_value(json).unwrap();
    assert_eq!(back, meta);
    assert_eq!(meta.kind(), FileKind::Onnx);
    assert_eq!(meta.parameter_count(), Some(15));
}

fn seed_model(name: &str) -> Vec<u8> {
    let path = format!("{}/../seed/{name}/model.onnx", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn seed_onnx_models_match_what_the_onnx_package_reports() {
    // (model, input, output, operators, parameters), as read with `onnx.load` in Python.
    type Io<'a> = (&'a str, i64);
    let cases: [(&str, Io, Io, &[&str], u64); 4] = [
        (
            "digit-classifier",
            ("pixels", 64),
            ("probabilities", 10),
            &["Gemm", "Identity", "Mul", "Relu", "Softmax"],
            2411,
        ),
        (
            "iris-species",
            ("features", 4),
            ("probabilities", 3),
            &["Div", "Gemm", "Identity", "Softmax", "Sub"],
            23,
        ),
        (
            "diabetes-progression",
            ("features", 10),
            ("progression", 1),
            &["Div", "Gemm", "Identity", "Sub"],
            31,
        ),
        (
            "sentiment-mini",
            ("token_counts", 62),
            ("probabilities", 2),
            &["Gemm", "Identity", "Softmax"],
            126,
        ),
    ];
    for (name, (input, in_width), (output, out_width), ops, params) in cases {
        let m = onnx_meta(inspect_all_ways("model.onnx", &seed_model(name)));
        assert_eq!(m.ir_version, 8, "{name}");
        assert_eq!(
            m.producer_name.as_deref(),
            Some("bazaar-seed-models"),
            "{name}"
        );
        assert_eq!(
            m.opset_imports,
            vec![OpsetImport {
                domain: "".into(),
                version: 17
            }],
            "{name}"
        );
        assert_eq!(
            m.inputs,
            vec![float_io(
                input,
                vec![Dim::Param("N".into()), Dim::Value(in_width)]
            )],
            "{name}"
        );
        assert_eq!(
            m.outputs,
            vec![float_io(
                output,
                vec![Dim::Param("N".into()), Dim::Value(out_width)]
            )],
            "{name}"
        );
        let got: Vec<&str> = m.operators.iter().map(|o| o.op_type.as_str()).collect();
        assert_eq!(got, ops, "{name}");
        assert!(m.operators.iter().all(|o| o.domain.is_none()), "{name}");
        assert_eq!(m.parameter_count, params, "{name}");
        assert!(!m.external_data, "{name}");
    }
}

/// Offsets where top-level protobuf fields end (test-side walker over varint and
/// length-delimited fields, which is all the fixtures use at the top level).
fn top_level_field_ends(bytes: &[u8]) -> Vec<usize> {
    fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = bytes[*at];
            *at += 1;
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return v;
            }
        }
    }
    let mut ends = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let tag = read_varint(bytes, &mut at);
        match tag & 7 {
            0 => {
                read_varint(bytes, &mut at);
            }
            2 => at += read_varint(bytes, &mut at) as usize,
            w => panic!("fixture uses wire type {w} at the top level"),
        }
        ends.push(at);
    }
    ends
}

#[test]
fn every_truncation_of_an_onnx_model_is_refused_unless_it_ends_between_top_level_fields() {
    // Protobuf has no end marker: a file cut exactly between two top-level fields, after the
    // required ones (ir_version, graph, an opset import), is itself a well-formed model. Every
    // other cut must be refused.
    for bytes in [
        hand_made_onnx(),
        seed_model("iris-species"),
        seed_model("digit-classifier"),
    ] {
        let ends = top_level_field_ends(&bytes);
        let full = inspect("model.onnx", &bytes).unwrap();
        for cut in 0..bytes.len() {
            if let Ok(m) = inspect("model.onnx", &bytes[..cut]) {
                assert!(
                    ends.contains(&cut),
                    "cut at {cut} inside a field was accepted: {m:?}"
                );
                // The seed models end with metadata_props, which the metadata does not report.
                if bytes != hand_made_onnx() {
                    assert_eq!(m, full);
                }
            }
        }
    }
    // The hand-made model ends with two opset imports; only the cut between them is a model.
    let bytes = hand_made_onnx();
    let ends = top_level_field_ends(&bytes);
    let between = ends[ends.len() - 2];
    let m = onnx_meta(inspect("model.onnx", &bytes[..between]));
    assert_eq!(
        m.opset_imports,
        vec![OpsetImport {
            domain: "".into(),
            version: 17
        }]
    );
    assert_eq!(
        inspect("model.onnx", &bytes[..between - 1]).map(|_| ()),
        Err(FormatError::Onnx(format!(
            "truncated: the file ends at byte {} inside a OperatorSetIdProto",
            between - 1
        )))
    );
    let before_opsets = ends[ends.len() - 3];
    assert_eq!(
        err_text(inspect("model.onnx", &bytes[..before_opsets])),
        "ONNX: not an ONNX model: no opset_import"
    );
}

#[test]
fn onnx_external_data_is_flagged() {
    let tensor = msg(&[
        int_field(1, 1000),
        int_field(1, 1000),
        str_field(8, "big"),
        bytes_field(
            13,
            &msg(&[str_field(1, "location"), str_field(2, "weights.bin")]),
        ),
        int_field(14, 1),
    ]);
    let graph = msg(&[
        bytes_field(1, &node("MatMul", "", &[])),
        bytes_field(5, &tensor),
    ]);
    let model = msg(&[
        int_field(1, 9),
        bytes_field(7, &graph),
        bytes_field(8, &int_field(2, 19)),
    ]);
    let m = onnx_meta(inspect_all_ways("m.onnx", &model));
    assert!(m.external_data);
    assert_eq!(m.parameter_count, 1_000_000);
    assert_eq!(m.producer_name, None);
}

#[test]
fn onnx_large_raw_data_streams_through_without_being_kept() {
    let raw = vec![0u8; 3 << 20];
    let tensor = msg(&[
        int_field(1, 3 << 18),
        int_field(1, 4),
        str_field(8, "w"),
        bytes_field(9, &raw),
    ]);
    let graph = msg(&[
        bytes_field(1, &node("Add", "", &[])),
        bytes_field(5, &tensor),
    ]);
    let model = msg(&[
        int_field(1, 8),
        bytes_field(7, &graph),
        bytes_field(8, &int_field(2, 17)),
    ]);
    let m = onnx_meta(inspect_in_chunks("m.onnx", &model, 65536));
    assert_eq!(m.parameter_count, 3 << 20);
}

#[test]
fn hostile_onnx_is_refused_with_a_reason() {
    // Field 1 with wire type 7 right at the start.
    let text = err_text(inspect("m.onnx", &[0x0f, 1, 2]));
    assert_eq!(
        text,
        "ONNX: not a protobuf ModelProto (bad wire type 7 at byte 0)"
    );
    // A text file that claims to be ONNX.
    assert!(err_text(inspect("m.onnx", b"hello, this is not a model\n")).starts_with("ONNX: "));
    assert!(inspect("m.onnx", b"").is_err());
    // Dims whose product overflows u64.
    let tensor = msg(&[
        int_field(1, 1 << 40),
        int_field(1, 1 << 40),
        str_field(8, "w"),
    ]);
    let model = msg(&[int_field(1, 8), bytes_field(7, &bytes_field(5, &tensor))]);
    assert!(err_text(inspect("m.onnx", &model)).contains("overflow"));
    // A negative dim.
    let tensor = msg(&[int_field(1, -5), str_field(8, "w")]);
    let model = msg(&[int_field(1, 8), bytes_field(7, &bytes_field(5, &tensor))]);
    assert!(err_text(inspect("m.onnx", &model)).contains("negative dimension"));
    // A length far past the end of its message.
    let mut model = int_field(1, 8);
    model.extend_from_slice(&[7 << 3 | 2, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(err_text(inspect("m.onnx", &model)).starts_with("ONNX: truncated"));
    let inner_overrun = msg(&[int_field(1, 8), bytes_field(7, &[1 << 3 | 2, 50, 0])]);
    assert!(err_text(inspect("m.onnx", &inner_overrun)).contains("runs past the end"));
    // A varint that never ends.
    assert!(err_text(inspect(
        "m.onnx",
        &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
    ))
    .contains("varint longer than 64 bits"));
    // A name longer than the cap.
    let model = msg(&[int_field(1, 8), str_field(2, &"x".repeat(5000))]);
    assert!(err_text(inspect("m.onnx", &model)).contains("longer than the limit"));
}

#[test]
fn deeply_nested_onnx_subgraphs_are_refused_not_recursed() {
    // graph { node { attribute { g: graph { node { ... } } } } }, 10 000 levels deep.
    let mut inner = node("Relu", "", &[]);
    for _ in 0..10_000 {
        let graph = bytes_field(1, &inner);
        let attribute = msg(&[str_field(1, "body"), bytes_field(6, &graph)]);
        inner = node("Loop", "", &[bytes_field(5, &attribute)]);
    }
    let model = msg(&[
        int_field(1, 8),
        bytes_field(7, &bytes_field(1, &inner)),
        bytes_field(8, &int_field(2, 17)),
    ]);
    let text = err_text(inspect_in_chunks("m.onnx", &model, 4096));
    assert!(text.contains("nested deeper than 64"), "{text}");
    // Deep nesting in fields the parser does not enter is skipped as bytes.
    let mut unknown = Vec::new();
    for _ in 0..10_000 {
        unknown = bytes_field(77, &unknown);
    }
    let model = msg(&[
        int_field(1, 8),
        unknown,
        bytes_field(7, &[]),
        bytes_field(8, &int_field(2, 17)),
    ]);
    assert_eq!(onnx_meta(inspect("m.onnx", &model)).operators, vec![]);
}

// ---------- safetensors ----------

fn safetensors_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut header = header.as_bytes().to_vec();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

fn hand_made_safetensors() -> Vec<u8> {
    safetensors_file(
        r#"{"__metadata__":{"format":"pt","source":"hand"},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},"a.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"scalar":{"dtype":"I64","shape":[],"data_offsets":[32,40]}}"#,
        &[1u8; 40],
    )
}

fn safetensors_meta(result: Result<FileMetadata, FormatError>) -> SafetensorsMetadata {
    match result {
        Ok(FileMetadata::Safetensors(m)) => m,
        other => panic!("expected safetensors metadata, got {other:?}"),
    }
}

#[test]
fn hand_made_safetensors_yields_its_metadata_whatever_the_chunking() {
    let m = safetensors_meta(inspect_all_ways(
        "model.safetensors",
        &hand_made_safetensors(),
    ));
    assert_eq!(m.tensor_count, 3);
    assert_eq!(m.parameter_count, 6 + 4 + 1);
    assert_eq!(
        m.tensors,
        vec![
            TensorSummary {
                name: "b".into(),
                dtype: "BF16".into(),
                shape: vec![4]
            },
            TensorSummary {
                name: "a.weight".into(),
                dtype: "F32".into(),
                shape: vec![2, 3]
            },
            TensorSummary {
                name: "scalar".into(),
                dtype: "I64".into(),
                shape: vec![]
            },
        ]
    );
    assert!(!m.tensors_truncated);
    assert_eq!(
        m.dtypes["F32"],
        DtypeSummary {
            tensors: 1,
            parameters: 6
        }
    );
    assert_eq!(
        m.dtypes["BF16"],
        DtypeSummary {
            tensors: 1,
            parameters: 4
        }
    );
    assert_eq!(m.dtypes.len(), 3);
    assert_eq!(m.metadata["format"], "pt");
    assert_eq!(m.metadata["source"], "hand");
    let json = serde_json::to_value(FileMetadata::Safetensors(m)).unwrap();
    assert_eq!(json["format"], "safetensors");
}

#[test]
fn safetensors_lists_the_first_thousand_tensors_but_counts_all() {
    let entries: Vec<String> = (0..1500)
        .map(|i| {
            format!(
                r#""t{i}":{{"dtype":"U8","shape":[2],"data_offsets":[{},{}]}}"#,
                2 * i,
                2 * i + 2
            )
        })
        .collect();
    let file = safetensors_file(&format!("{{{}}}", entries.join(",")), &[0; 3000]);
    let m = safetensors_meta(inspect_in_chunks("x.safetensors", &file, 1000));
    assert_eq!(m.tensor_count, 1500);
    assert_eq!(m.parameter_count, 3000);
    assert_eq!(m.tensors.len(), 1000);
    assert!(m.tensors_truncated);
}

#[test]
fn every_truncation_of_a_safetensors_file_is_refused() {
    assert_every_truncation_fails("model.safetensors", &hand_made_safetensors());
}

#[test]
fn hostile_safetensors_are_refused_with_a_reason() {
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    assert_eq!(
        err_text(inspect("m.safetensors", &huge)),
        "safetensors: header declares 18446744073709551615 bytes, more than the 100 MB limit"
    );
    let mut big = (i64::MAX as u64).to_le_bytes().to_vec();
    big.extend_from_slice(b"{}");
    assert!(err_text(inspect("m.safetensors", &big))
        .contains("9223372036854775807 bytes, more than the 100 MB limit"));

    let cases: &[(&str, usize, &str)] = &[
        (
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,4]}}"#,
            4,
            "overflows",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
            4,
            "needs 8 bytes",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#,
            8,
            "run backwards",
        ),
        (
            r#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#,
            4,
            "unknown dtype",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
            4,
            "not valid",
        ),
        (
            r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#,
            6,
            "overlaps",
        ),
        (
            r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#,
            8,
            "leaves a hole",
        ),
        (
            r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#,
            8,
            "appears twice",
        ),
        (
            r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#,
            5,
            "cover 4 bytes of data but the file has 5",
        ),
        (
            r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#,
            3,
            "(truncated)",
        ),
        (r#"[1,2,3]"#, 0, "does not start with '{'"),
        (
            r#"{"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
            0,
            "not valid",
        ),
    ];
    for (header, data, expected) in cases {
        let text = err_text(inspect(
            "m.safetensors",
            &safetensors_file(header, &vec![0; *data]),
        ));
        assert!(
            text.starts_with("safetensors: ") && text.contains(expected),
            "{header}: {text}"
        );
    }
}

// ---------- GGUF ----------

fn gguf_string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out
}

struct Gguf {
    version: u32,
    kvs: Vec<Vec<u8>>,
    tensors: Vec<Vec<u8>>,
    data: usize,
}

impl Gguf {
    fn bytes(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.kvs.len() as u64).to_le_bytes());
        for kv in &self.kvs {
            out.extend_from_slice(kv);
        }
        for t in &self.tensors {
            out.extend_from_slice(t);
        }
        while !out.len().is_multiple_of(32) {
            out.push(0);
        }
        out.extend(std::iter::repeat_n(0xAB, self.data));
        out
    }
}

fn kv(key: &str, ty: u32, value: &[u8]) -> Vec<u8> {
    let mut out = gguf_string(key);
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn kv_str(key: &str, value: &str) -> Vec<u8> {
    kv(key, 8, &gguf_string(value))
}

fn kv_u32(key: &str, value: u32) -> Vec<u8> {
    kv(key, 4, &value.to_le_bytes())
}

fn array(elem: u32, count: u64, items: &[u8]) -> Vec<u8> {
    let mut out = elem.to_le_bytes().to_vec();
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(items);
    out
}

fn tensor_info(name: &str, dims: &[u64], ty: u32, offset: u64) -> Vec<u8> {
    let mut out = gguf_string(name);
    out.extend_from_slice(&(dims.len() as u32).to_le_bytes());
    for d in dims {
        out.extend_from_slice(&d.to_le_bytes());
    }
    out.extend_from_slice(&ty.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    out
}

fn hand_made_gguf(version: u32) -> Gguf {
    let tokens = [gguf_string("a"), gguf_string("bb"), gguf_string("ccc")].concat();
    let nested = [
        array(4, 2, &[1, 0, 0, 0, 2, 0, 0, 0]),
        array(8, 1, &gguf_string("x")),
    ]
    .concat();
    Gguf {
        version,
        kvs: vec![
            kv_str("general.architecture", "llama"),
            kv_str("general.name", "Tiny Llama"),
            kv_u32("general.file_type", 15),
            kv("llama.context_length", 10, &4096u64.to_le_bytes()),
            kv("llama.rope.freq_base", 6, &10000f32.to_le_bytes()),
            kv("tokenizer.ggml.tokens", 9, &array(8, 3, &tokens)),
            kv("tokenizer.ggml.scores", 9, &array(6, 3, &[0; 12])),
            kv("nested", 9, &array(9, 2, &nested)),
            kv("general.alignment", 4, &32u32.to_le_bytes()),
            kv("flag", 7, &[1]),
        ],
        tensors: vec![
            // 256 x 2 Q4_K: 2 blocks of 144 bytes; then 8 F32 at the next aligned offset.
            tensor_info("token_embd.weight", &[256, 2], 12, 0),
            tensor_info("output_norm.weight", &[8], 0, 288),
        ],
        data: 288 + 32,
    }
}

fn gguf_meta(result: Result<FileMetadata, FormatError>) -> GgufMetadata {
    match result {
        Ok(FileMetadata::Gguf(m)) => m,
        other => panic!("expected GGUF metadata, got {other:?}"),
    }
}

#[test]
fn hand_made_gguf_yields_its_metadata_whatever_the_chunking() {
    let m = gguf_meta(inspect_all_ways(
        "tiny.Q4_K_M.gguf",
        &hand_made_gguf(3).bytes(),
    ));
    assert_eq!(m.version, 3);
    assert_eq!(m.architecture.as_deref(), Some("llama"));
    assert_eq!(m.name.as_deref(), Some("Tiny Llama"));
    assert_eq!(m.file_type, Some(15));
    assert_eq!(m.quantization.as_deref(), Some("Q4_K_M"));
    assert_eq!(m.tensor_count, 2);
    assert_eq!(m.parameter_count, 512 + 8);
    assert_eq!(m.context_length, Some(4096));
    assert_eq!(m.metadata_count, 10);
    assert_eq!(
        m.tensor_types.into_iter().collect::<Vec<_>>(),
        vec![("F32".to_owned(), 1), ("Q4_K".to_owned(), 1)]
    );
    let v2 = gguf_meta(inspect("tiny.gguf", &hand_made_gguf(2).bytes()));
    assert_eq!(v2.version, 2);
    assert_eq!(v2.parameter_count, 520);
}

#[test]
fn gguf_magic_makes_an_unnamed_file_gguf() {
    let m = gguf_meta(inspect_all_ways("model", &hand_made_gguf(3).bytes()));
    assert_eq!(m.architecture.as_deref(), Some("llama"));
}

#[test]
fn every_truncation_of_a_gguf_file_is_refused() {
    let bytes = hand_made_gguf(3).bytes();
    assert_every_truncation_fails("m.gguf", &bytes);
    assert_eq!(
        err_text(inspect("m.gguf", &bytes[..10])),
        "GGUF: truncated header"
    );
    let info_start = bytes
        .windows(17)
        .position(|w| w == b"token_embd.weight")
        .unwrap();
    assert_eq!(
        err_text(inspect("m.gguf", &bytes[..info_start + 3])),
        "GGUF: truncated tensor info"
    );
}

#[test]
fn hostile_gguf_is_refused_with_a_reason() {
    let mut wrong = hand_made_gguf(3).bytes();
    wrong[3] = b'X';
    assert!(err_text(inspect("m.gguf", &wrong)).contains("wrong magic"));
    assert!(err_text(inspect("m.gguf", &hand_made_gguf(1).bytes())).contains("version 1"));
    assert!(err_text(inspect(
        "m.gguf",
        &hand_made_gguf(3u32.swap_bytes()).bytes()
    ))
    .contains("big-endian"));

    // A tensor count of 2^60 in the header.
    let mut header = b"GGUF".to_vec();
    header.extend_from_slice(&3u32.to_le_bytes());
    header.extend_from_slice(&(1u64 << 60).to_le_bytes());
    header.extend_from_slice(&0u64.to_le_bytes());
    assert!(err_text(inspect("m.gguf", &header))
        .contains("1152921504606846976 tensors, more than the limit"));

    let with = |kvs: Vec<Vec<u8>>, tensors: Vec<Vec<u8>>| {
        Gguf {
            version: 3,
            kvs,
            tensors,
            data: 64,
        }
        .bytes()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // A string value of length u64::MAX.
        (
            with(vec![kv("general.name", 8, &u64::MAX.to_le_bytes())], vec![]),
            "string of 18446744073709551615 bytes",
        ),
        (
            with(
                vec![kv("general.architecture", 8, &u64::MAX.to_le_bytes())],
                vec![],
            ),
            "over the limit",
        ),
        // A key of length u64::MAX.
        (
            [
                &b"GGUF"[..],
                &3u32.to_le_bytes(),
                &0u64.to_le_bytes(),
                &1u64.to_le_bytes(),
                &u64::MAX.to_le_bytes(),
            ]
            .concat(),
            "key length",
        ),
        (
            with(vec![kv("k", 13, &[0; 8])], vec![]),
            "unknown value type 13",
        ),
        (with(vec![kv("k", 7, &[2])], vec![]), "bool"),
        (
            with(vec![kv("k", 9, &array(10, u64::MAX, &[]))], vec![]),
            "overflows",
        ),
        (
            with(
                vec![kv(
                    "k",
                    9,
                    &array(
                        9,
                        1,
                        &array(9, 1, &array(9, 1, &array(9, 1, &array(9, 1, &[])))),
                    ),
                )],
                vec![],
            ),
            "deeper than",
        ),
        (
            with(
                vec![kv("general.alignment", 4, &24u32.to_le_bytes())],
                vec![],
            ),
            "power of two",
        ),
        (
            with(
                vec![],
                vec![tensor_info("t", &[1 << 32, 1 << 32, 1 << 32], 0, 0)],
            ),
            "overflow",
        ),
        (
            with(vec![], vec![tensor_info("t", &[1, 2, 3, 4, 5], 0, 0)]),
            "5 dimensions",
        ),
        (
            with(vec![], vec![tensor_info("t", &[4], 99, 0)]),
            "unknown ggml type 99",
        ),
        (
            with(vec![], vec![tensor_info("t", &[4], 0, 3)]),
            "not aligned",
        ),
        (
            with(vec![], vec![tensor_info("t", &[100], 12, 0)]),
            "not a multiple",
        ),
        (
            with(vec![], vec![tensor_info("t", &[64], 0, 0)]),
            "truncated tensor data",
        ),
    ];
    for (bytes, expected) in cases {
        let text = err_text(inspect("m.gguf", &bytes));
        assert!(
            text.starts_with("GGUF: ") && text.contains(expected),
            "expected {expected:?}: {text}"
        );
    }
}

// ---------- pickles ----------

fn assert_pickle_refusal(text: &str) {
    assert!(text.contains("execute arbitrary code"), "{text}");
    assert!(text.contains("safetensors.torch.save_file"), "{text}");
    assert!(text.contains("ONNX"), "{text}");
}

#[test]
fn pickle_extensions_are_refused_before_any_byte() {
    for name in [
        "model.pt",
        "ckpt/model.PTH",
        "pytorch_model.bin",
        "sd.ckpt",
        "x.pkl",
        "x.pickle",
        "dir\\w.Pt",
    ] {
        let e = Inspector::for_file(name)
            .err()
            .unwrap_or_else(|| panic!("{name} accepted"));
        let text = e.to_string();
        assert_pickle_refusal(&text);
        assert!(text.contains("files are Python pickles"), "{text}");
    }
    let text = Inspector::for_file("weights/model.pt")
        .err()
        .unwrap()
        .to_string();
    assert!(
        text.starts_with("model.pt is refused because `.pt` files are Python pickles"),
        "{text}"
    );
}

#[test]
fn pickle_content_is_refused_whatever_the_name() {
    // torch.save's legacy format and plain pickles start with PROTO 2..5.
    let pickled = [0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, b'}', b'.'];
    for name in [
        "model.safetensors",
        "model.onnx",
        "model.gguf",
        "README.md",
        "weights",
    ] {
        for chunk in [0, 1] {
            let text = err_text(inspect_in_chunks(name, &pickled, chunk));
            assert_pickle_refusal(&text);
            assert!(text.contains("protocol 4"), "{text}");
        }
    }
    // PyTorch's zip format: the first entry is archive/data.pkl.
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&[0; 22]);
    zip.extend_from_slice(&16u16.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip.extend_from_slice(b"archive/data.pkl");
    zip.extend_from_slice(&[0x80, 0x02, b'}', b'.']);
    for chunk in [0, 1, 5] {
        let text = err_text(inspect_in_chunks("model.safetensors", &zip, chunk));
        assert_pickle_refusal(&text);
        assert!(text.contains("archive/data.pkl"), "{text}");
    }
    // A zip of something else is a plain file.
    let mut other = zip.clone();
    other[30..46].copy_from_slice(b"archive/data.npy");
    assert_eq!(inspect("bundle.zip", &other), Ok(FileMetadata::Plain));
}

// ---------- plain files and the inspector itself ----------

#[test]
fn other_files_are_plain() {
    for (name, bytes) in [
        ("README.md", &b"# Model\n"[..]),
        ("config.json", b"{\"hidden\": 32}"),
        ("tokenizer.json", b"{}"),
        ("labels.txt", b"cat\ndog\n"),
        ("LICENSE", b""),
        ("x", b"G"),
        ("notes.GGUF.txt", b"GGU"),
    ] {
        assert_eq!(
            inspect_all_ways(name, bytes),
            Ok(FileMetadata::Plain),
            "{name}"
        );
    }
    assert_eq!(FileKind::from_name("a/b/model.ONNX"), FileKind::Onnx);
    assert_eq!(
        FileKind::from_name("model.safetensors"),
        FileKind::Safetensors
    );
    assert_eq!(FileKind::from_name("onnx"), FileKind::Plain);
    assert_eq!(
        serde_json::to_value(FileMetadata::Plain).unwrap(),
        serde_json::json!({"format": "plain"})
    );
}

#[test]
fn an_inspector_keeps_failing_after_an_error() {
    let mut inspector = Inspector::for_file("m.onnx").unwrap();
    let first = inspector.feed(&[0x0f]).unwrap_err();
    assert_eq!(inspector.feed(&hand_made_onnx()), Err(first.clone()));
    assert_eq!(inspector.finish(), Err(first));
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 42u64;
    for round in 0..300 {
        let len = (round * 7) % 600;
        let mut bytes = Vec::with_capacity(len);
        for _ in 0..len {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            bytes.push((state >> 56) as u8);
        }
        // Random bytes after a valid start reach deeper states.
        let mut gguf = hand_made_gguf(3).bytes();
        gguf.truncate(round % 300);
        gguf.extend_from_slice(&bytes);
        let mut onnx = hand_made_onnx();
        onnx.truncate(round % 400);
        onnx.extend_from_slice(&bytes);
        for name in ["m.onnx", "m.safetensors", "m.gguf", "m"] {
            let _ = inspect_in_chunks(name, &bytes, 3);
        }
        let _ = inspect_in_chunks("m.gguf", &gguf, 5);
        let _ = inspect_in_chunks("m.onnx", &onnx, 5);
    }
}

#[test]
fn onnx_non_tensor_values_are_named_by_kind() {
    let seq_type = bytes_field(4, &bytes_field(1, &bytes_field(1, &int_field(1, 1))));
    let input = msg(&[str_field(1, "items"), bytes_field(2, &seq_type)]);
    let graph = msg(&[
        bytes_field(1, &node("SequenceLength", "", &[])),
        bytes_field(11, &input),
    ]);
    let model = msg(&[
        int_field(1, 8),
        bytes_field(7, &graph),
        bytes_field(8, &int_field(2, 17)),
    ]);
    let m = onnx_meta(inspect_all_ways("m.onnx", &model));
    assert_eq!(
        m.inputs,
        vec![ValueInfo {
            name: "items".into(),
            elem_type: Some("sequence".into()),
            shape: None
        }]
    );
}

#[test]
fn onnx_operator_list_is_capped() {
    let nodes: Vec<Vec<u8>> = (0..=onnx::MAX_OPERATORS)
        .map(|i| bytes_field(1, &node(&format!("Op{i}"), "x", &[])))
        .collect();
    let model = msg(&[
        int_field(1, 8),
        bytes_field(7, &nodes.concat()),
        bytes_field(8, &int_field(2, 17)),
    ]);
    assert!(err_text(inspect("m.onnx", &model)).contains("more than 1000 distinct operators"));
}

#[test]
fn safetensors_metadata_beyond_the_budget_is_left_out() {
    let big = "v".repeat(safetensors::LISTED_BYTES / 2);
    let header = format!(r#"{{"__metadata__":{{"a":"{big}","b":"{big}","c":"small"}}}}"#);
    let m = safetensors_meta(inspect("m.safetensors", &safetensors_file(&header, &[])));
    assert_eq!(m.metadata.keys().collect::<Vec<_>>(), vec!["a"]);
    assert!(m.metadata_truncated);
    assert_eq!(m.tensor_count, 0);
}

#[test]
fn an_inspector_can_cross_await_points() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Inspector>();
    assert_send::<FormatError>();
}
