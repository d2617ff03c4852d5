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
    // Under another name the entry is still read (its local header says 0 bytes, as the
    // central directory is what a zip reader trusts).
    let mut renamed = zip.clone();
    renamed[30..46].copy_from_slice(b"archive/data.npy");
    let text = err_text(inspect("bundle.zip", &renamed));
    assert!(
        text.contains("archive/data.npy") && text.contains("protocol 2"),
        "{text}"
    );
    // A zip of something else is a plain file.
    let mut other = renamed.clone();
    other[46..50].copy_from_slice(b"abc\n");
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

// ---------- memory held between chunks ----------

/// Feeds `head`, then `filler` repeated until `total` bytes, then `tail`, in 64 KiB chunks;
/// returns the most the inspector held between chunks and the result.
fn trickle(
    name: &str,
    head: &[u8],
    filler: u8,
    total: usize,
    tail: &[u8],
) -> (usize, Result<FileMetadata, FormatError>) {
    let mut inspector = Inspector::for_file(name).unwrap();
    let mut most = 0;
    let mut fed = 0;
    let chunk = vec![filler; 64 << 10];
    let mut step = |inspector: &mut Inspector, bytes: &[u8]| {
        let r = inspector.feed(bytes);
        most = most.max(inspector.retained_bytes());
        r
    };
    let run = (|| {
        step(&mut inspector, head)?;
        fed += head.len();
        while fed < total - tail.len() {
            let n = chunk.len().min(total - tail.len() - fed);
            step(&mut inspector, &chunk[..n])?;
            fed += n;
        }
        step(&mut inspector, tail)
    })();
    let result = run.and_then(|()| inspector.finish());
    (most, result)
}

#[test]
fn a_hostile_safetensors_header_trickled_in_keeps_the_state_small() {
    const DECLARED: usize = safetensors::MAX_HEADER as usize;
    let start = |json: &str| {
        let mut v = (DECLARED as u64).to_le_bytes().to_vec();
        v.extend_from_slice(json.as_bytes());
        v
    };
    // 100 MB of whitespace inside the object, then a valid end.
    let (most, result) = trickle("m.safetensors", &start("{"), b' ', 8 + DECLARED, b"}");
    assert!(most < 64 << 10, "whitespace: held {most} bytes");
    assert_eq!(safetensors_meta(result).tensor_count, 0);
    // One __metadata__ value of 100 MB: checked as it streams, left out.
    let (most, result) = trickle(
        "m.safetensors",
        &start(r#"{"__metadata__":{"a":"small","k":""#),
        b'v',
        8 + DECLARED,
        br#""}}"#,
    );
    assert!(most < 3 << 20, "metadata: held {most} bytes");
    let m = safetensors_meta(result);
    assert_eq!(m.metadata.keys().collect::<Vec<_>>(), vec!["a"]);
    assert!(m.metadata_truncated);
    // One tensor entry of 100 MB: refused once it passes the entry limit.
    let (most, result) = trickle(
        "m.safetensors",
        &start(r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":""#),
        b'v',
        8 + DECLARED,
        br#""}}"#,
    );
    assert!(most < 256 << 10, "entry: held {most} bytes");
    assert!(err_text(result).contains("longer than 65536 bytes"));
    // Ever more tensors: refused past the tensor limit, with the state bounded until then.
    let mut inspector = Inspector::for_file("m.safetensors").unwrap();
    inspector.feed(&start("{")).unwrap();
    let mut most = 0;
    let mut error = None;
    for i in 0..=safetensors::MAX_TENSORS {
        let entry = format!(
            r#""t{i}":{{"dtype":"U8","shape":[1],"data_offsets":[{i},{}]}},"#,
            i + 1
        );
        if let Err(e) = inspector.feed(entry.as_bytes()) {
            error = Some(e.to_string());
            break;
        }
        if i % 4096 == 0 {
            most = most.max(inspector.retained_bytes());
        }
    }
    let error = error.expect("refused past the limit");
    assert!(error.contains("more than 131072 tensors"), "{error}");
    assert!(most <= safetensors::MAX_RETAINED, "{most}");
    assert!(most < 8 << 20, "{most}");
}

#[test]
fn a_real_shape_safetensors_header_parses_and_keeps_only_its_summary() {
    // A 7B-style shard: 32 layers of 9 tensors with long names, metadata, bf16.
    let mut entries = vec![r#""__metadata__":{"format":"pt","total_size":"123"}"#.to_owned()];
    let mut offset = 0u64;
    for layer in 0..32 {
        for part in [
            "self_attn.q_proj.weight",
            "self_attn.k_proj.weight",
            "self_attn.v_proj.weight",
            "self_attn.o_proj.weight",
            "mlp.gate_proj.weight",
            "mlp.up_proj.weight",
            "mlp.down_proj.weight",
            "input_layernorm.weight",
            "post_attention_layernorm.weight",
        ] {
            entries.push(format!(
                r#""model.layers.{layer}.{part}":{{"dtype":"BF16","shape":[2,2],"data_offsets":[{offset},{}]}}"#,
                offset + 8
            ));
            offset += 8;
        }
    }
    let header = format!("{{{}}}", entries.join(", "));
    let file = safetensors_file(&header, &vec![0; offset as usize]);
    let mut inspector = Inspector::for_file("model-00001-of-00002.safetensors").unwrap();
    for c in file.chunks(333) {
        inspector.feed(c).unwrap();
    }
    let held = inspector.retained_bytes();
    assert!(held < 64 << 10, "held {held} bytes");
    let m = safetensors_meta(inspector.finish());
    assert_eq!(m.tensor_count, 32 * 9);
    assert_eq!(m.parameter_count, 32 * 9 * 4);
    assert_eq!(m.metadata["format"], "pt");
    assert_eq!(m.tensors[0].name, "model.layers.0.self_attn.q_proj.weight");
}

#[test]
fn every_inspector_stays_under_the_documented_bound() {
    const { assert!(MAX_RETAINED_BYTES <= 12 << 20) };
    for (name, bytes) in [
        ("m.onnx", hand_made_onnx()),
        ("m.gguf", hand_made_gguf(3).bytes()),
        ("m.safetensors", hand_made_safetensors()),
        ("README.md", b"# hi\n".repeat(10_000)),
    ] {
        let mut inspector = Inspector::for_file(name).unwrap();
        for c in bytes.chunks(7) {
            inspector.feed(c).unwrap();
            assert!(inspector.retained_bytes() <= MAX_RETAINED_BYTES);
        }
        assert!(
            inspector.retained_bytes() < 64 << 10,
            "{name}: {}",
            inspector.retained_bytes()
        );
        inspector.finish().unwrap();
    }
}

#[test]
fn a_compressed_stream_holds_at_most_its_codec_s_buffer() {
    // bzip2 buffers the most: up to its first block.
    let mut inspector = Inspector::for_file("data.bz2").unwrap();
    inspector.feed(b"BZh91AY&SY").unwrap();
    let junk = vec![0x55u8; 4096];
    let mut most = 0;
    for _ in 0..400 {
        let _ = inspector.feed(&junk);
        most = most.max(inspector.retained_bytes());
    }
    assert!(most <= MAX_RETAINED_BYTES, "{most}");
    assert!(most < (1 << 20) + (64 << 10), "{most}");
    // Once checked, the buffer is gone.
    assert!(
        inspector.retained_bytes() < 4096,
        "{}",
        inspector.retained_bytes()
    );
}

// ---------- zip entries whose local header lies, NumPy headers that hide their dtype,
// ---------- safetensors header lengths that read like opcodes

/// How [`zip_archive`] writes its local headers.
#[derive(Clone, Copy, PartialEq)]
enum LocalSizes {
    /// The real sizes, as zip writers do.
    True,
    /// 0 in the local header; the central directory has the real sizes.
    Zero,
    /// Flag bit 3: sizes 0 in the local header, a data descriptor after the data.
    Descriptor,
}

/// A stored zip with a central directory, as Python's `zipfile` reads it.
fn zip_archive(entries: &[(&str, &[u8])], sizes: LocalSizes) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = 0u32.to_le_bytes(); // not checked by the inspector
        let len = (data.len() as u32).to_le_bytes();
        let flags: u16 = if sizes == LocalSizes::Descriptor {
            8
        } else {
            0
        };
        let local_len = if sizes == LocalSizes::True {
            len
        } else {
            [0; 4]
        };
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&[0; 6]); // method (stored), time, date
        out.extend_from_slice(if sizes == LocalSizes::True {
            &crc
        } else {
            &[0; 4]
        });
        out.extend_from_slice(&local_len);
        out.extend_from_slice(&local_len);
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        if sizes == LocalSizes::Descriptor {
            out.extend_from_slice(b"PK\x07\x08");
            out.extend_from_slice(&crc);
            out.extend_from_slice(&len);
            out.extend_from_slice(&len);
        }
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&flags.to_le_bytes());
        central.extend_from_slice(&[0; 6]);
        central.extend_from_slice(&crc);
        central.extend_from_slice(&len);
        central.extend_from_slice(&len);
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let directory_at = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&directory_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// `pickle.dumps({"w": [1.5, 2.0]}, protocol=2)`.
const PROTOCOL_2_PICKLE: &[u8] =
    b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01]q\x02(G?\xf8\x00\x00\x00\x00\x00\x00G@\x00\x00\x00\x00\x00\x00\x00es.";

fn assert_pickle_in_entry(bytes: &[u8], entry: &str) {
    for name in ["archive.zip", "weights.npz", "upload.dat"] {
        for chunk in [0, 1, 3, 7, 64, 4096] {
            let text = err_text(inspect_in_chunks(name, bytes, chunk));
            assert_pickle_refusal(&text);
            assert!(text.contains(&format!("`{entry}`")), "{text}");
        }
    }
}

#[test]
fn a_zip_entry_whose_local_header_says_zero_bytes_is_checked_all_the_same() {
    let text = b"just a text file\n";
    let zip = zip_archive(
        &[
            ("a.txt", text),
            ("weights.bin", PROTOCOL_2_PICKLE),
            ("b.txt", text),
        ],
        LocalSizes::Zero,
    );
    assert_pickle_in_entry(&zip, "weights.bin");
    // As the only entry too (its window then runs into the central directory).
    let zip = zip_archive(&[("weights.bin", PROTOCOL_2_PICKLE)], LocalSizes::Zero);
    assert_pickle_in_entry(&zip, "weights.bin");
}

#[test]
fn a_data_descriptor_signature_inside_an_entry_does_not_end_its_window() {
    // Protocol 0: `(S'PK\x07\x08...'` opens with a fake data descriptor signature.
    let pickle = b"(S'PK\x07\x08 not the end'\np0\ncos\nsystem\np1\ntp2\n.";
    let zip = zip_archive(
        &[("a.txt", b"hello\n"), ("weights.bin", pickle)],
        LocalSizes::Descriptor,
    );
    assert_pickle_in_entry(&zip, "weights.bin");
}

#[test]
fn ordinary_zips_still_pass_however_their_headers_give_sizes() {
    let safetensors = hand_made_safetensors();
    let npy = b"\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }                                                                      \n\x00\x00\x80\x3f\x00\x00\x00\x40";
    let many: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("texts/{i}.txt"), format!("line {i}\n").into_bytes()))
        .collect();
    let many: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    for sizes in [LocalSizes::True, LocalSizes::Zero, LocalSizes::Descriptor] {
        for entries in [
            &[
                ("README.md", &b"# Model\n"[..]),
                ("model.safetensors", &safetensors),
            ][..],
            &[("a.npy", &npy[..]), ("b.npy", &npy[..])],
            &many,
            &[("empty/", &b""[..]), ("config.json", b"{\"a\": 1}")],
        ] {
            let zip = zip_archive(entries, sizes);
            for name in ["bundle.zip", "arrays.npz"] {
                assert_eq!(
                    inspect_all_ways(name, &zip),
                    Ok(FileMetadata::Plain),
                    "{:?}",
                    entries.iter().map(|e| e.0).collect::<Vec<_>>()
                );
            }
        }
    }
}

/// A `.npy` file with this header dict (padded as NumPy pads it) and some data.
fn npy_file(header: &str) -> Vec<u8> {
    let mut header = header.as_bytes().to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(b"\x80\x02]q\x00.");
    out
}

#[test]
fn a_numpy_header_that_spells_its_dtype_with_escapes_or_joined_strings_is_refused() {
    // `ast.literal_eval`, which NumPy reads the header with, turns each of these into 'O'.
    for descr in [
        r"'|\x4f'",
        r"'\117'",
        r"'\u004f'",
        r"'\U0000004f'",
        r"'\N{LATIN CAPITAL LETTER O}'",
        "'ob' 'ject'",
        "'ob''ject'",
        "\"|\" 'O'",
        "'ob' u'ject'",
        "'ob' \\\n 'ject'",
        "'ob' # a comment\n 'ject'",
        "'''|O'''",
        "[('a', '<f4'), ('b', '|' 'O')]",
    ] {
        let header = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (3,), }}");
        let npy = npy_file(&header);
        for name in ["arr.npy", "upload.dat"] {
            let text = err_text(inspect_all_ways(name, &npy));
            assert_pickle_refusal(&text);
            assert!(text.contains("NumPy"), "{descr}: {text}");
        }
        let npz = zip_archive(
            &[
                (
                    "a.npy",
                    &npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"),
                ),
                ("b.npy", &npy),
            ],
            LocalSizes::True,
        );
        let text = err_text(inspect_all_ways("arrays.npz", &npz));
        assert!(
            text.contains("`b.npy`") && text.contains("NumPy"),
            "{descr}: {text}"
        );
    }
    // What NumPy writes itself still passes: plain dtypes, escaped quotes in field names.
    for descr in [
        "'<f4'",
        "'|u1'",
        "'<i8'",
        r#"[("it's", '<f4'), ('a\'"b', '<i2')]"#,
    ] {
        let header = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (3,), }}");
        let npy = npy_file(&header);
        assert_eq!(
            inspect_all_ways("arr.npy", &npy),
            Ok(FileMetadata::Plain),
            "{descr}"
        );
        let npz = zip_archive(&[("a.npy", &npy), ("b.npy", &npy)], LocalSizes::True);
        assert_eq!(
            inspect_all_ways("arrays.npz", &npz),
            Ok(FileMetadata::Plain),
            "{descr}"
        );
    }
}

/// A valid safetensors file whose header is exactly `len` bytes (the JSON padded with spaces).
fn safetensors_with_header_len(len: usize) -> Vec<u8> {
    let json =
        r#"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut header = json.as_bytes().to_vec();
    header.resize(len, b' ');
    let mut out = (len as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(&[0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
    out
}

#[test]
fn safetensors_whose_header_length_reads_like_pickle_opcodes_pass() {
    for (len, start) in [
        (640, &[0x80, 0x02, 0][..]),
        (896, &[0x80, 0x03, 0]),
        (1152, &[0x80, 0x04, 0]),
        (1408, &[0x80, 0x05, 0]),
        (11912, &[0x88, 0x2e, 0]),
        (65536 + 640, &[0x80, 0x02, 1]),
    ] {
        let file = safetensors_with_header_len(len);
        assert!(file.starts_with(start), "{len}");
        let m = safetensors_meta(inspect_all_ways("model.safetensors", &file));
        assert_eq!(m.parameter_count, 2, "{len}");
        // Under a plain name it is no pickle either.
        assert_eq!(
            inspect_all_ways("upload.dat", &file),
            Ok(FileMetadata::Plain),
            "{len}"
        );
    }
}

#[test]
fn pickles_that_open_like_a_header_length_are_still_refused() {
    let refused = |bytes: &[u8], what: &str| {
        for name in [
            "model.safetensors",
            "model.onnx",
            "model.gguf",
            "upload.dat",
        ] {
            let text = err_text(inspect_all_ways(name, bytes));
            assert_pickle_refusal(&text);
            assert!(text.contains(what), "{name}: {text}");
        }
    };
    // A whole file that is a short pickle, however harmless.
    refused(b"\x88.", "protocol 0");
    refused(b"\x80\x02N.", "protocol 2");
    // PyTorch's legacy format: short pickles (magic number, protocol version) before the one
    // that matters, each read by its own `pickle.load`.
    let mut legacy = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03.".to_vec();
    legacy.extend_from_slice(b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.");
    refused(&legacy, "protocol 2");
    // Streams that break off after Python already imported or called something.
    refused(b"\x80\x02cos\nsystem\n\x00\x00\x00\x00", "protocol 2");
    refused(b"cos\nabort\n)R\x00\x00\x00\x00", "protocol 1");
    // After a short harmless pickle, bytes that are no pickle: a plain file.
    assert_eq!(
        inspect_all_ways("notes.txt", b"N.B. read the card\n"),
        Ok(FileMetadata::Plain)
    );
}
