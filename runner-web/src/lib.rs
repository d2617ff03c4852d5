//! The runner in the browser. The model page's "Try it" worker (`public/try-worker.js`) opens a
//! [`Session`] on the demo file's bytes and runs it; nothing here reaches the page itself.
//!
//! The backend is WebGPU through wgpu when the browser offers an adapter whose buffers fit the
//! model, otherwise the CPU backend (built with wasm SIMD128). The session says which it chose
//! and why.
use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Float32Array, Object, Reflect};
use runner::backend::Backend;
use runner::cpu::CpuBackend;
use runner::gpu::GpuBackend;
use runner::tokenizer::WordPiece;
use runner::{Data, DataType, Model, Tensor};
use wasm_bindgen::prelude::*;

enum Engine {
    Cpu(CpuBackend),
    Gpu(Box<GpuBackend>),
}

struct Inner {
    model: Model,
    engine: Engine,
}

/// A loaded, optimised model on its chosen backend.
#[wasm_bindgen]
pub struct Session {
    inner: Rc<RefCell<Inner>>,
    backend: &'static str,
    adapter: String,
    reason: String,
}

/// The largest tensor a model holds, in bytes: its biggest weight must fit one GPU buffer.
fn largest_weight_bytes(model: &Model) -> u64 {
    model
        .graph
        .consts
        .iter()
        .flatten()
        .map(|t| (t.len() * t.dtype().size()) as u64)
        .max()
        .unwrap_or(0)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

/// Opens WebGPU when it fits `model`; otherwise says why not.
async fn open_gpu(model: &Model) -> Result<GpuBackend, String> {
    let gpu = GpuBackend::new_async()
        .await
        .map_err(|_| "WebGPU unavailable".to_owned())?;
    let needed = largest_weight_bytes(model);
    if needed > gpu.max_tensor_bytes() {
        return Err(format!(
            "the model needs {} buffers; this adapter allows {}",
            megabytes(needed),
            megabytes(gpu.max_tensor_bytes())
        ));
    }
    Ok(gpu)
}

fn js_error(err: impl std::fmt::Display) -> JsError {
    JsError::new(&err.to_string())
}

#[wasm_bindgen]
impl Session {
    /// Loads and optimises an ONNX model. `backend` is `"auto"` (WebGPU when it fits, else
    /// CPU), `"webgpu"` or `"cpu"`.
    pub async fn open(bytes: Vec<u8>, backend: String) -> Result<Session, JsError> {
        let mut model = Model::load(&bytes).map_err(js_error)?;
        model.optimize().map_err(js_error)?;
        let missing = CpuBackend::new().unsupported_ops(&model);
        if !missing.is_empty() {
            return Err(JsError::new(&format!(
                "the runner cannot run this model yet: it has no {} operator",
                missing.join(", ")
            )));
        }
        let (engine, name, adapter, reason) = match backend.as_str() {
            "cpu" => (
                Engine::Cpu(CpuBackend::new()),
                "cpu",
                String::new(),
                "CPU chosen".to_owned(),
            ),
            "webgpu" | "auto" => match open_gpu(&model).await {
                Ok(gpu) => {
                    let adapter = gpu.adapter_name().to_owned();
                    (Engine::Gpu(Box::new(gpu)), "webgpu", adapter, String::new())
                }
                Err(reason) if backend == "auto" => {
                    (Engine::Cpu(CpuBackend::new()), "cpu", String::new(), reason)
                }
                Err(reason) => return Err(JsError::new(&reason)),
            },
            other => {
                return Err(JsError::new(&format!(
                    "unknown backend '{other}': choose auto, webgpu or cpu"
                )))
            }
        };
        Ok(Session {
            inner: Rc::new(RefCell::new(Inner { model, engine })),
            backend: name,
            adapter,
            reason,
        })
    }

    /// `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.to_owned()
    }

    /// The WebGPU adapter's name, empty on the CPU.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        self.adapter.clone()
    }

    /// Why the CPU runs the model when WebGPU was asked for or preferred; empty otherwise.
    #[wasm_bindgen(getter)]
    pub fn reason(&self) -> String {
        self.reason.clone()
    }

    /// The model's inputs: `[{ name, shape }]`, unknown dimensions as -1.
    pub fn inputs(&self) -> Array {
        let inner = self.inner.borrow();
        let graph = &inner.model.graph;
        graph
            .inputs
            .iter()
            .map(|(id, ty)| {
                let shape: Array = ty
                    .shape
                    .iter()
                    .flatten()
                    .map(|d| match d {
                        runner::model::Dim::Known(n) => JsValue::from(*n as f64),
                        _ => JsValue::from(-1),
                    })
                    .collect();
                entry(&graph.values[*id], shape.into())
            })
            .collect()
    }

    /// Runs the model on one float32 input per graph input, in order (`shapes[k]` is the
    /// shape of `inputs[k]`). Resolves to `[{ name, shape, data: Float32Array }]`.
    // The session stays borrowed while the GPU works; a second run meanwhile is refused by
    // `try_borrow_mut` rather than interleaved.
    #[allow(clippy::await_holding_refcell_ref)]
    pub fn run(
        &self,
        inputs: Vec<Float32Array>,
        shapes: Vec<js_sys::Uint32Array>,
    ) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            // The worker awaits each run before the next; a second one at once is refused.
            let mut inner = inner
                .try_borrow_mut()
                .map_err(|_| JsValue::from(JsError::new("a run is already in progress")))?;
            let tensors = inputs
                .iter()
                .zip(&shapes)
                .zip(&inner.model.graph.inputs)
                .map(|((data, shape), (_, ty))| {
                    let shape: Vec<usize> =
                        shape.to_vec().into_iter().map(|d| d as usize).collect();
                    input_tensor(shape, data.to_vec(), ty.dtype)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| JsValue::from(js_error(e)))?;
            let Inner { model, engine } = &mut *inner;
            let outputs = match engine {
                Engine::Cpu(cpu) => cpu.run(model, &tensors),
                Engine::Gpu(gpu) => gpu.run_async(model, &tensors).await,
            }
            .map_err(|e| JsValue::from(js_error(e)))?;
            let names = model
                .graph
                .outputs
                .iter()
                .map(|(id, _)| model.graph.values[*id].clone());
            let result: Array = names
                .zip(outputs)
                .map(|(name, tensor)| {
                    let shape: Array = tensor
                        .shape
                        .iter()
                        .map(|d| JsValue::from(*d as f64))
                        .collect();
                    let out = entry(&name, shape.into());
                    let data = Float32Array::from(as_f32(&tensor).as_slice());
                    let _ = Reflect::set(&out, &"data".into(), &data);
                    JsValue::from(out)
                })
                .collect();
            Ok(result.into())
        })
    }
}

/// A graph input from the page's numbers, in the element type the model declares: token ids
/// and masks are int64 (exact as float32 up to 2^24, far beyond any vocabulary).
fn input_tensor(
    shape: Vec<usize>,
    values: Vec<f32>,
    dtype: Option<DataType>,
) -> runner::Result<Tensor> {
    let data = match dtype {
        Some(DataType::I64) => Data::I64(values.iter().map(|&x| x as i64).collect()),
        Some(DataType::I32) => Data::I32(values.iter().map(|&x| x as i32).collect()),
        Some(DataType::Bool) => Data::Bool(values.iter().map(|&x| x != 0.0).collect()),
        _ => Data::F32(values),
    };
    Tensor::new(shape, data)
}

/// A WordPiece tokenizer (BERT family) from a Hugging Face `tokenizer.json`, for text
/// embedding demos.
#[wasm_bindgen]
pub struct Tokenizer(WordPiece);

#[wasm_bindgen]
impl Tokenizer {
    #[wasm_bindgen(constructor)]
    pub fn new(json: &str) -> Result<Tokenizer, JsError> {
        WordPiece::from_json(json).map(Tokenizer).map_err(js_error)
    }

    /// The longest encoding the model takes, [CLS] and [SEP] included.
    #[wasm_bindgen(getter, js_name = maxLength)]
    pub fn max_length(&self) -> usize {
        self.0.max_len
    }

    /// How many tokens `text` has before truncation, [CLS] and [SEP] included.
    #[wasm_bindgen(js_name = countTokens)]
    pub fn count_tokens(&self, text: &str) -> usize {
        self.0.token_count(text)
    }

    /// Encodes `texts` padded to the longest: `{ shape, input_ids, attention_mask }` with the
    /// ids and mask as Float32Array, ready for `Session.run`.
    pub fn encode(&self, texts: Vec<String>) -> Result<Object, JsError> {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let batch = self.0.encode_batch(&texts).map_err(js_error)?;
        let shape: Array = batch
            .input_ids
            .shape
            .iter()
            .map(|&d| JsValue::from(d as f64))
            .collect();
        let out = Object::new();
        let _ = Reflect::set(&out, &"shape".into(), &shape);
        for (name, tensor) in [
            ("input_ids", &batch.input_ids),
            ("attention_mask", &batch.attention_mask),
        ] {
            let data = Float32Array::from(as_f32(tensor).as_slice());
            let _ = Reflect::set(&out, &name.into(), &data);
        }
        Ok(out)
    }
}

/// An output's values as numbers: integer outputs (class indices) and booleans included.
fn as_f32(tensor: &Tensor) -> Vec<f32> {
    match &tensor.data {
        Data::F32(v) => v.clone(),
        Data::F64(v) => v.iter().map(|&x| x as f32).collect(),
        Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
        Data::I32(v) => v.iter().map(|&x| x as f32).collect(),
        Data::I16(v) => v.iter().map(|&x| f32::from(x)).collect(),
        Data::U16(v) => v.iter().map(|&x| f32::from(x)).collect(),
        Data::I8(v) => v.iter().map(|&x| f32::from(x)).collect(),
        Data::U8(v) => v.iter().map(|&x| f32::from(x)).collect(),
        Data::Bool(v) => v.iter().map(|&x| if x { 1.0 } else { 0.0 }).collect(),
        Data::F16(v) => v.iter().map(|&x| runner::half::f16_to_f32(x)).collect(),
        Data::BF16(v) => v.iter().map(|&x| runner::half::bf16_to_f32(x)).collect(),
        Data::String(_) => Vec::new(),
    }
}

fn entry(name: &str, shape: JsValue) -> Object {
    let object = Object::new();
    let _ = Reflect::set(&object, &"name".into(), &name.into());
    let _ = Reflect::set(&object, &"shape".into(), &shape);
    object
}
