//! Runner for suites in the ONNX backend-test layout: a directory with
//! `model.onnx` and `test_data_set_N/{input,output}_K.pb`.
//!
//! Outputs are compared like onnx's backend tests:
//! `|actual - expected| <= atol + rtol * |expected|` with NaN matching NaN,
//! exact equality for integer and bool tensors.

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::backend::Backend;
use crate::error::Error;
use crate::model::Model;
use crate::model::ValueType;
use crate::onnx::{data_type as dt, ModelProto, SequenceProto, TensorProto};
use crate::tensor::{Data, Tensor};
use crate::value::{Sequence, Value};

/// Default relative tolerance (onnx backend test default).
pub const RTOL: f64 = 1e-3;
/// Default absolute tolerance (onnx backend test default).
pub const ATOL: f64 = 1e-7;

/// One discovered test case.
#[derive(Clone, Debug)]
pub struct Case {
    /// `suite/test_name`, e.g. `node/test_abs` — stable across roots.
    pub name: String,
    pub dir: PathBuf,
    /// Operator the case exercises: the op type when the graph has one
    /// distinct operator, otherwise `(composite)`.
    pub op: String,
    /// True when every input and output tensor is float32, int32, int64
    /// or bool — the cases that count toward an operator being green.
    pub in_scope: bool,
}

/// Outcome of a case on one backend.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Pass,
    Fail(String),
    Unsupported(String),
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail(_) => "fail",
            Status::Unsupported(_) => "unsupported",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Status::Pass => "",
            Status::Fail(s) | Status::Unsupported(s) => s,
        }
    }
}

/// Recursively finds case directories under `root`, sorted by name.
pub fn discover(root: &Path) -> Vec<Case> {
    let mut dirs = Vec::new();
    collect(root, &mut dirs, 0);
    dirs.sort();
    dirs.into_iter().map(describe).collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return;
    }
    if dir.join("model.onnx").is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                collect(&e.path(), out, depth + 1);
            }
        }
    }
}

fn describe(dir: PathBuf) -> Case {
    let name = {
        let leaf = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match dir.parent().and_then(|p| p.file_name()) {
            Some(p) => format!("{}/{leaf}", p.to_string_lossy()),
            None => leaf,
        }
    };
    let proto = fs::read(dir.join("model.onnx"))
        .ok()
        .and_then(|b| ModelProto::decode(b.as_slice()).ok());
    let op = proto
        .as_ref()
        .and_then(|m| m.graph.as_ref())
        .map(|g| {
            let mut ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
            ops.sort_unstable();
            ops.dedup();
            match ops.as_slice() {
                [one] => one.to_string(),
                [] => "(empty)".to_string(),
                _ => "(composite)".to_string(),
            }
        })
        .unwrap_or_else(|| "(unreadable)".to_string());
    // Which runtime inputs and outputs the graph declares as sequences:
    // their files hold `SequenceProto`s, in scope when every element is.
    let sequences = |kind: &str| -> Vec<bool> {
        let Some(g) = proto.as_ref().and_then(|m| m.graph.as_ref()) else {
            return vec![];
        };
        let is_seq = |vi: &crate::onnx::ValueInfoProto| {
            matches!(
                vi.r#type.as_ref().and_then(|t| t.value.as_ref()),
                Some(crate::onnx::type_proto::Value::SequenceType(_))
            )
        };
        if kind == "input" {
            g.input
                .iter()
                .filter(|vi| !g.initializer.iter().any(|t| t.name == vi.name))
                .map(is_seq)
                .collect()
        } else {
            g.output.iter().map(is_seq).collect()
        }
    };
    let plain =
        |t: &TensorProto| matches!(t.data_type, dt::FLOAT | dt::INT32 | dt::INT64 | dt::BOOL);
    let in_scope = data_sets(&dir).first().is_some_and(|set| {
        ["input", "output"].iter().all(|kind| {
            let seq = sequences(kind);
            pb_files(set, kind).iter().enumerate().all(|(k, f)| {
                let Ok(b) = fs::read(f) else { return false };
                if seq.get(k).copied().unwrap_or(false) {
                    SequenceProto::decode(b.as_slice())
                        .is_ok_and(|s| s.tensor_values.iter().all(plain))
                } else {
                    TensorProto::decode(b.as_slice()).is_ok_and(|t| plain(&t))
                }
            })
        })
    });
    Case {
        name,
        dir,
        op,
        in_scope,
    }
}

fn data_sets(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("test_data_set_"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn pb_files(set: &Path, kind: &str) -> Vec<PathBuf> {
    (0..)
        .map(|k| set.join(format!("{kind}_{k}.pb")))
        .take_while(|p| p.is_file())
        .collect()
}

/// Reads `{kind}_K.pb` files, decoding each as a tensor or a sequence as
/// the graph declares the K-th input or output (`types`).
fn read_values(
    set: &Path,
    kind: &str,
    types: &[(usize, ValueType)],
    model: &Model,
) -> Result<Vec<Value>, Status> {
    let err = |e: Error| match e {
        Error::Unsupported(m) => Status::Unsupported(m),
        e => Status::Fail(e.to_string()),
    };
    pb_files(set, kind)
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let bytes = fs::read(f).map_err(|e| Status::Fail(format!("{}: {e}", f.display())))?;
            let vt = types.get(k).map(|(_, vt)| vt);
            if vt.is_some_and(|vt| vt.sequence) {
                let p = SequenceProto::decode(bytes.as_slice())
                    .map_err(|_| Status::Fail(format!("{} is not a sequence", f.display())))?;
                return Sequence::from_proto(&p, vt.and_then(|vt| vt.dtype), &model.limits)
                    .map(Value::Sequence)
                    .map_err(err);
            }
            let p = TensorProto::decode(bytes.as_slice()).map_err(|_| {
                Status::Unsupported(format!("{} is not a plain tensor", f.display()))
            })?;
            Tensor::from_proto(&p, &model.limits)
                .map(Value::Tensor)
                .map_err(err)
        })
        .collect()
}

/// Compares one output value (tensor or sequence) against its reference.
pub fn compare_values(
    actual: &Value,
    expected: &Value,
    rtol: f64,
    atol: f64,
) -> Result<(), String> {
    match (actual, expected) {
        (Value::Tensor(a), Value::Tensor(e)) => compare(a, e, rtol, atol),
        (Value::Sequence(a), Value::Sequence(e)) => {
            if a.len() != e.len() {
                return Err(format!("sequence of {}, expected {}", a.len(), e.len()));
            }
            if a.is_empty() && a.elem_type != e.elem_type {
                return Err(format!(
                    "sequence of {:?}, expected {:?}",
                    a.elem_type, e.elem_type
                ));
            }
            for (i, (x, y)) in a.tensors.iter().zip(&e.tensors).enumerate() {
                compare(x, y, rtol, atol).map_err(|m| format!("element {i}: {m}"))?;
            }
            Ok(())
        }
        (Value::Sequence(_), _) => Err("a sequence, expected a tensor".into()),
        (Value::Tensor(_), _) => Err("a tensor, expected a sequence".into()),
    }
}

/// Compares one output against its reference.
pub fn compare(actual: &Tensor, expected: &Tensor, rtol: f64, atol: f64) -> Result<(), String> {
    if actual.shape != expected.shape {
        return Err(format!(
            "shape {:?}, expected {:?}",
            actual.shape, expected.shape
        ));
    }
    if actual.dtype() != expected.dtype() {
        return Err(format!(
            "type {:?}, expected {:?}",
            actual.dtype(),
            expected.dtype()
        ));
    }
    match (&actual.data, &expected.data) {
        (Data::F32(_) | Data::F64(_) | Data::F16(_) | Data::BF16(_), _) => {
            let (a, e) = (actual.to_f64s(), expected.to_f64s());
            for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
                let ok =
                    (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= atol + rtol * y.abs();
                if !ok {
                    return Err(format!("element {i}: {x}, expected {y}"));
                }
            }
            Ok(())
        }
        _ if actual.data == expected.data => Ok(()),
        _ => Err("integer/bool values differ".to_string()),
    }
}

/// Runs every data set of `case` on `backend`.
pub fn run_case(backend: &mut dyn Backend, case: &Case) -> Status {
    run_case_counting(backend, case).0
}

/// Like [`run_case`], also returning the most float32 nodes any data set
/// handed to the CPU fallback (see [`Backend::fallback_nodes`]).
pub fn run_case_counting(backend: &mut dyn Backend, case: &Case) -> (Status, usize) {
    let mut fallback = 0;
    let s = run_sets(backend, case, &mut fallback);
    (s, fallback)
}

fn run_sets(backend: &mut dyn Backend, case: &Case, fallback: &mut usize) -> Status {
    let bytes = match fs::read(case.dir.join("model.onnx")) {
        Ok(b) => b,
        Err(e) => return Status::Fail(e.to_string()),
    };
    // Cases run optimised, so folding and fusion are held to the suite too.
    let model = match Model::load(&bytes).and_then(|mut m| m.optimize().map(|_| m)) {
        Ok(m) => m,
        Err(Error::Unsupported(m)) => return Status::Unsupported(m),
        Err(e) => return Status::Fail(format!("load: {e}")),
    };
    let missing = backend.unsupported_ops(&model);
    if !missing.is_empty() {
        return Status::Unsupported(format!("operators {}", missing.join(", ")));
    }
    let sets = data_sets(&case.dir);
    if sets.is_empty() {
        return Status::Fail("no test_data_set_* directories".into());
    }
    for set in sets {
        let inputs = match read_values(&set, "input", &model.graph.inputs, &model) {
            Ok(t) => t,
            Err(s) => return s,
        };
        let expected = match read_values(&set, "output", &model.graph.outputs, &model) {
            Ok(t) => t,
            Err(s) => return s,
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            backend.run_values(&model, &inputs)
        }));
        let outputs = match result {
            Err(_) => return Status::Fail("panicked".into()),
            Ok(Err(Error::Unsupported(m))) => return Status::Unsupported(m),
            Ok(Err(e)) => return Status::Fail(e.to_string()),
            Ok(Ok(o)) => o,
        };
        *fallback = (*fallback).max(backend.fallback_nodes());
        if outputs.len() < expected.len() {
            return Status::Fail(format!(
                "{} outputs, expected {}",
                outputs.len(),
                expected.len()
            ));
        }
        for (k, (a, e)) in outputs.iter().zip(&expected).enumerate() {
            if let Err(m) = compare_values(a, e, RTOL, ATOL) {
                return Status::Fail(format!("output {k}: {m}"));
            }
        }
    }
    Status::Pass
}

/// Reads an allow-list: one case name per line, `#` comments.
pub fn read_allow_list(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
