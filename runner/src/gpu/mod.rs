//! wgpu backend: WGSL compute kernels, tensors resident on the GPU between
//! nodes.
//!
//! float32 tensors live in GPU storage buffers. Integer and bool tensors
//! (shape arithmetic, indices, masks) stay on the host: WGSL has no 64-bit
//! integers and those subgraphs are tiny. A node without a GPU kernel runs
//! on the CPU reference kernel; that costs a download, counted in
//! [`GpuStats::downloads`] so callers can assert a model stays on the GPU.

mod gemm;
mod gemm_wgsl;
mod memory;
mod ops;
mod record;
mod wgsl;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::backend::{check_values, last_uses, tensors_only, Backend};
use crate::cpu;
use crate::error::{Error, Result};
use crate::model::{Model, ValueId};
use crate::tensor::{Data, Tensor};
use crate::value::{Sequence, Value, ValueRef};

/// Ops that only relabel data (no arithmetic): running them on host-side
/// tensors is not a missed GPU kernel.
const METADATA_OPS: &[&str] = &[
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Identity",
    "Shape",
    "Size",
    "Constant",
];

/// A float32 tensor in a GPU storage buffer.
#[derive(Clone, Debug)]
pub struct GpuTensor {
    pub(crate) buf: Arc<wgpu::Buffer>,
    pub shape: Vec<usize>,
}

impl GpuTensor {
    pub fn len(&self) -> usize {
        crate::tensor::numel(&self.shape)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A value during GPU execution.
#[derive(Clone, Debug)]
pub(crate) enum GVal<'m> {
    Gpu(GpuTensor),
    Host(Tensor),
    /// A model constant: read on the host, or from its resident GPU copy.
    Const(ValueId, &'m Tensor),
    /// Sequences live on the host; their operators run on the CPU.
    Seq(Sequence),
}

impl GVal<'_> {
    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            GVal::Gpu(g) => &g.shape,
            GVal::Host(t) => &t.shape,
            GVal::Const(_, t) => &t.shape,
            GVal::Seq(_) => &[],
        }
    }

    /// float32 data, wherever it lives.
    pub(crate) fn is_f32(&self) -> bool {
        match self {
            GVal::Gpu(_) => true,
            GVal::Host(_) | GVal::Const(..) => {
                matches!(self.host().map(|t| &t.data), Some(Data::F32(_)))
            }
            GVal::Seq(_) => false,
        }
    }

    /// The host tensor, when the value is on the host.
    pub(crate) fn host(&self) -> Option<&Tensor> {
        match self {
            GVal::Host(t) => Some(t),
            GVal::Const(_, t) => Some(t),
            GVal::Gpu(_) | GVal::Seq(_) => None,
        }
    }
}

/// Counters of one run, for tests and profiling.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    pub dispatches: usize,
    /// Command buffers submitted (one per run unless the host must read a
    /// result midway, or the run is observed node by node).
    pub submits: usize,
    /// Host-to-GPU copies (graph inputs, host-computed operands, and model
    /// constants on the first run of a model).
    pub uploads: usize,
    /// Buffers created because the pool had none of the size class.
    pub allocations: usize,
    /// GPU-to-host copies made for CPU fallbacks (graph outputs excluded).
    pub downloads: usize,
    /// Nodes executed by the CPU fallback.
    pub cpu_nodes: usize,
    /// Of those, nodes touching float32 data (the ones a GPU kernel could
    /// have run); integer shape arithmetic is host-side by design.
    pub cpu_float_nodes: usize,
}

/// The two families of matrix multiplication and convolution kernels (see
/// `gemm_wgsl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmKernels {
    /// Tiles staged in workgroup memory: for hardware GPUs.
    Tiled,
    /// Register blocks without barriers: for CPU-emulated adapters, where a
    /// barrier costs a coroutine switch and every load is a per-lane gather.
    Blocked,
}

/// The wgpu executor.
pub struct GpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    limits: wgpu::Limits,
    adapter: String,
    /// Compiled kernels by source key, kept for the backend's lifetime.
    pipelines: HashMap<String, wgpu::ComputePipeline>,
    /// Free buffers by size class, reused across nodes and runs.
    pool: HashMap<u64, Vec<wgpu::Buffer>>,
    constants: memory::Constants,
    rec: record::Recorder,
    errors: Arc<Mutex<Vec<String>>>,
    gemm_kernels: GemmKernels,
    /// Counters of the most recent run.
    pub stats: GpuStats,
}

impl std::fmt::Debug for GpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuBackend")
            .field("adapter", &self.adapter)
            .finish()
    }
}

impl GpuBackend {
    /// Opens the first available adapter (any backend, software adapters
    /// such as llvmpipe included). Blocks; natively only.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Self> {
        pollster::block_on(Self::new_async())
    }

    /// Opens an adapter and device; errors when none is available.
    pub async fn new_async() -> Result<Self> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Backend(format!("no GPU adapter: {e}")))?;
        let info = adapter.get_info();
        // Ask for what the adapter offers so large models can use it, but
        // every kernel still checks sizes against these limits.
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("bazaar-runner"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Backend(format!("cannot open device: {e}")))?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        // wgpu's default handler panics; record errors and report them.
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(e.to_string());
        }));
        Ok(GpuBackend {
            device,
            queue,
            limits,
            adapter: format!("{} ({:?})", info.name, info.backend),
            pipelines: HashMap::new(),
            pool: HashMap::new(),
            constants: Default::default(),
            rec: Default::default(),
            errors,
            // Browsers report their CPU fallback adapters (SwiftShader) as Cpu too.
            gemm_kernels: match info.device_type {
                wgpu::DeviceType::Cpu => GemmKernels::Blocked,
                _ => GemmKernels::Tiled,
            },
            stats: GpuStats::default(),
        })
    }

    /// Which matrix multiplication and convolution kernels this backend runs.
    pub fn gemm_kernels(&self) -> GemmKernels {
        self.gemm_kernels
    }

    /// Chooses the GEMM kernels, overriding the adapter's default (tests run
    /// the GPU family on a CPU adapter this way).
    pub fn set_gemm_kernels(&mut self, kernels: GemmKernels) {
        self.gemm_kernels = kernels;
    }

    /// Adapter name and API, e.g. `llvmpipe (Vulkan)`.
    pub fn adapter_name(&self) -> &str {
        &self.adapter
    }

    /// The largest tensor, in bytes, one storage buffer of this adapter can hold.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.limits
            .max_buffer_size
            .min(self.limits.max_storage_buffer_binding_size)
    }

    fn check_errors(&self) -> Result<()> {
        let mut e = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if e.is_empty() {
            Ok(())
        } else {
            let msg = e.join("; ");
            e.clear();
            Err(Error::Backend(msg))
        }
    }

    fn pipeline(
        &mut self,
        key: &str,
        src: impl FnOnce() -> String,
    ) -> Result<wgpu::ComputePipeline> {
        if let Some(p) = self.pipelines.get(key) {
            return Ok(p.clone());
        }
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(key),
                source: wgpu::ShaderSource::Wgsl(src().into()),
            });
        let p = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(key),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        self.check_errors()?;
        self.pipelines.insert(key.to_string(), p.clone());
        Ok(p)
    }

    /// Grid for `n` threads of a 64-wide 1-D kernel; returns (x, y, width).
    pub(crate) fn grid(&self, n: usize) -> Result<(u32, u32, u32)> {
        let groups = n.div_ceil(wgsl::WG as usize).max(1);
        let maxd = self.limits.max_compute_workgroups_per_dimension as usize;
        let x = groups.min(maxd);
        let y = groups.div_ceil(x);
        if y > maxd {
            return Err(Error::Limit(format!(
                "{n} threads exceed the adapter's dispatch limits"
            )));
        }
        Ok((x as u32, y as u32, x as u32 * wgsl::WG))
    }

    /// Runs `model`; the browser entry point (the blocking [`Backend::run`]
    /// wraps it natively).
    pub async fn run_async(&mut self, model: &Model, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let refs: Vec<ValueRef> = inputs.iter().map(ValueRef::Tensor).collect();
        tensors_only(model, self.run_values_async(model, &refs).await?)
    }

    /// Like [`GpuBackend::run_async`] for graphs whose inputs or outputs
    /// may be sequences.
    pub async fn run_values_async(
        &mut self,
        model: &Model,
        inputs: &[ValueRef<'_>],
    ) -> Result<Vec<Value>> {
        self.execute(model, inputs, None).await
    }

    /// Runs `model` calling `observe(node, false)` before and
    /// `observe(node, true)` after each node, having waited for the GPU to
    /// finish that node's work, so a caller can time nodes (profiling; it
    /// serialises the GPU and host). Native only.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_observed(
        &mut self,
        model: &Model,
        inputs: &[Tensor],
        observe: &mut dyn FnMut(usize, bool),
    ) -> Result<Vec<Tensor>> {
        let refs: Vec<ValueRef> = inputs.iter().map(ValueRef::Tensor).collect();
        let outs = pollster::block_on(self.execute(model, &refs, Some(observe)))?;
        tensors_only(model, outs)
    }

    async fn execute(
        &mut self,
        model: &Model,
        inputs: &[ValueRef<'_>],
        mut observe: Option<&mut dyn FnMut(usize, bool)>,
    ) -> Result<Vec<Value>> {
        check_values(model, inputs)?;
        self.stats = GpuStats::default();
        // Work left over from a failed run is dropped, not submitted.
        self.rec = Default::default();
        self.use_constants_of(model.id());
        let g = &model.graph;
        let ctx = cpu::Ctx::new(&model.limits, model.opset);
        let last = last_uses(model);
        let mut vals: Vec<Option<GVal>> = vec![None; g.values.len()];
        for ((id, _), v) in g.inputs.iter().zip(inputs) {
            vals[*id] = Some(match v {
                ValueRef::Tensor(t) => GVal::Host((*t).clone()),
                ValueRef::Sequence(s) => GVal::Seq((*s).clone()),
            });
        }
        for (i, node) in g.nodes.iter().enumerate() {
            if let Some(f) = observe.as_mut() {
                f(i, false);
            }
            let ins: Vec<Option<GVal>> = node
                .inputs
                .iter()
                .map(|v| {
                    v.map(|id| match (&vals[id], &g.consts[id]) {
                        (Some(x), _) => Ok(x.clone()),
                        (None, Some(t)) => Ok(GVal::Const(id, t)),
                        (None, None) => Err(Error::MissingValue {
                            node: node.name.clone(),
                            value: g.values[id].clone(),
                        }),
                    })
                    .transpose()
                })
                .collect::<Result<_>>()?;
            // A node whose buffers would exceed the adapter's limits (e.g.
            // AlexNet's 150 MB fully connected weights on a 128 MiB binding
            // limit) runs on the CPU instead; a genuine budget violation
            // fails there too.
            let host_only = cpu::value_kernel(node).is_some()
                || ins.iter().flatten().any(|v| matches!(v, GVal::Seq(_)));
            let on_gpu = match host_only {
                true => None,
                false => match ops::run(self, &ctx, node, &ins) {
                    Err(Error::Limit(_)) => None,
                    r => r?,
                },
            };
            let outs = match on_gpu {
                Some(o) => o,
                None => self.run_on_cpu(&ctx, node, &ins).await?,
            };
            drop(ins);
            let mut outs = outs.into_iter();
            for o in &node.outputs {
                let t = outs.next();
                if let (Some(id), Some(t)) = (o, t) {
                    vals[*id] = Some(t);
                }
            }
            for v in node.inputs.iter().flatten() {
                if last[*v] == i {
                    if let Some(GVal::Gpu(t)) = vals[*v].take() {
                        self.release(t);
                    }
                }
            }
            if let Some(f) = observe.as_mut() {
                self.flush()?;
                let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
                f(i, true);
            }
        }
        // One submission for the run's work and the outputs' read-back.
        let outputs: Vec<Option<&GVal>> =
            g.outputs.iter().map(|(id, _)| vals[*id].as_ref()).collect();
        let on_gpu: Vec<&GpuTensor> = outputs
            .iter()
            .filter_map(|v| match v {
                Some(GVal::Gpu(t)) => Some(t),
                _ => None,
            })
            .collect();
        let mut read = self.download(&on_gpu).await?.into_iter();
        // Work no output depends on still runs (and reports its errors).
        self.flush()?;
        let mut res = Vec::with_capacity(g.outputs.len());
        for (v, (id, _)) in outputs.into_iter().zip(&g.outputs) {
            res.push(match v {
                Some(GVal::Gpu(_)) => Value::Tensor(
                    read.next()
                        .ok_or_else(|| Error::Backend("missing read-back".into()))?,
                ),
                Some(GVal::Host(t)) => Value::Tensor(t.clone()),
                Some(GVal::Const(_, t)) => Value::Tensor((*t).clone()),
                Some(GVal::Seq(s)) => Value::Sequence(s.clone()),
                None => {
                    Value::Tensor(g.consts[*id].clone().ok_or_else(|| Error::MissingValue {
                        node: "<graph output>".into(),
                        value: g.values[*id].clone(),
                    })?)
                }
            });
        }
        // Outputs and values nothing read go back to the pool too.
        for v in vals.into_iter().flatten() {
            if let GVal::Gpu(t) = v {
                self.release(t);
            }
        }
        Ok(res)
    }

    /// Runs `node` on its CPU kernel, reading GPU inputs back first.
    async fn run_on_cpu<'m>(
        &mut self,
        ctx: &cpu::Ctx<'_>,
        node: &crate::model::Node,
        ins: &[Option<GVal<'m>>],
    ) -> Result<Vec<GVal<'m>>> {
        let gpu: Vec<&GpuTensor> = ins
            .iter()
            .flatten()
            .filter_map(|v| match v {
                GVal::Gpu(t) => Some(t),
                _ => None,
            })
            .collect();
        self.stats.downloads += gpu.len();
        let mut read = self.download(&gpu).await?.into_iter();
        let host: Vec<Option<Tensor>> = ins
            .iter()
            .map(|v| match v {
                Some(GVal::Gpu(_)) => read.next(),
                _ => None,
            })
            .collect();
        let refs: Vec<Option<ValueRef>> = ins
            .iter()
            .zip(&host)
            .map(|(v, h)| match (v, h) {
                (_, Some(t)) => Some(ValueRef::Tensor(t)),
                (Some(GVal::Host(t)), _) => Some(ValueRef::Tensor(t)),
                (Some(GVal::Const(_, t)), _) => Some(ValueRef::Tensor(t)),
                (Some(GVal::Seq(s)), _) => Some(ValueRef::Sequence(s)),
                _ => None,
            })
            .collect();
        self.stats.cpu_nodes += 1;
        let outs = cpu::run_node_values(ctx, node, &refs)?;
        let is_f32 = |v: &Value| {
            v.tensor()
                .is_some_and(|t| t.dtype() == crate::tensor::DataType::F32)
        };
        let f32_in = ins.iter().flatten().any(|v| v.is_f32());
        if (f32_in || outs.iter().any(is_f32)) && !METADATA_OPS.contains(&node.op_type.as_str()) {
            self.stats.cpu_float_nodes += 1;
        }
        Ok(outs
            .into_iter()
            .map(|v| match v {
                Value::Tensor(t) => GVal::Host(t),
                Value::Sequence(s) => GVal::Seq(s),
            })
            .collect())
    }
}

impl Backend for GpuBackend {
    fn name(&self) -> &'static str {
        "wgpu"
    }

    fn unsupported_ops(&self, model: &Model) -> Vec<String> {
        // Anything without a GPU kernel runs on the CPU reference kernel,
        // so support is the CPU backend's.
        cpu::CpuBackend::new().unsupported_ops(model)
    }

    fn fallback_nodes(&self) -> usize {
        self.stats.cpu_float_nodes
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn run(&mut self, model: &Model, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        pollster::block_on(self.run_async(model, inputs))
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn run_values(&mut self, model: &Model, inputs: &[Value]) -> Result<Vec<Value>> {
        let refs: Vec<ValueRef> = inputs.iter().map(Value::as_ref).collect();
        pollster::block_on(self.run_values_async(model, &refs))
    }

    #[cfg(target_arch = "wasm32")]
    fn run(&mut self, _model: &Model, _inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        Err(Error::Backend(
            "blocking run is unavailable in the browser; use GpuBackend::run_async".into(),
        ))
    }
}
