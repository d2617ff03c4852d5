//! wgpu backend: WGSL compute kernels, tensors resident on the GPU between
//! nodes.
//!
//! float32 tensors live in GPU storage buffers. Integer and bool tensors
//! (shape arithmetic, indices, masks) stay on the host: WGSL has no 64-bit
//! integers and those subgraphs are tiny. A node without a GPU kernel runs
//! on the CPU reference kernel; that costs a download, counted in
//! [`GpuStats::downloads`] so callers can assert a model stays on the GPU.

mod ops;
mod wgsl;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use wgpu::util::DeviceExt;

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
pub(crate) enum GVal {
    Gpu(GpuTensor),
    Host(Tensor),
    /// Sequences live on the host; their operators run on the CPU.
    Seq(Sequence),
}

impl GVal {
    pub(crate) fn shape(&self) -> &[usize] {
        match self {
            GVal::Gpu(g) => &g.shape,
            GVal::Host(t) => &t.shape,
            GVal::Seq(_) => &[],
        }
    }

    /// float32 data, wherever it lives.
    pub(crate) fn is_f32(&self) -> bool {
        match self {
            GVal::Gpu(_) => true,
            GVal::Host(t) => matches!(t.data, Data::F32(_)),
            GVal::Seq(_) => false,
        }
    }
}

/// Counters of one run, for tests and profiling.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuStats {
    pub dispatches: usize,
    pub uploads: usize,
    /// GPU-to-host copies made for CPU fallbacks (graph outputs excluded).
    pub downloads: usize,
    /// Nodes executed by the CPU fallback.
    pub cpu_nodes: usize,
    /// Of those, nodes touching float32 data (the ones a GPU kernel could
    /// have run); integer shape arithmetic is host-side by design.
    pub cpu_float_nodes: usize,
}

/// The wgpu executor.
pub struct GpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    limits: wgpu::Limits,
    adapter: String,
    pipelines: HashMap<String, wgpu::ComputePipeline>,
    pool: HashMap<u64, Vec<wgpu::Buffer>>,
    errors: Arc<Mutex<Vec<String>>>,
    /// CPU-emulated adapter (llvmpipe & co.): prefer barrier-free kernels.
    software: bool,
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

/// Minimal one-shot channel so buffer mapping works both natively (after a
/// blocking poll) and in the browser (resolved by the event loop).
struct Shared<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

struct Receiver<T>(Arc<Mutex<Shared<T>>>);

impl<T> Future for Receiver<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match s.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn oneshot<T>() -> (impl FnOnce(T), Receiver<T>) {
    let shared = Arc::new(Mutex::new(Shared {
        value: None,
        waker: None,
    }));
    let tx = shared.clone();
    let send = move |v: T| {
        let mut s = tx.lock().unwrap_or_else(|e| e.into_inner());
        s.value = Some(v);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    };
    (send, Receiver(shared))
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
            errors,
            // RUNNER_WGPU_MATMUL=tiled|blocked overrides the choice (tests).
            software: match std::env::var("RUNNER_WGPU_MATMUL").as_deref() {
                Ok("tiled") => false,
                Ok("blocked") => true,
                _ => info.device_type == wgpu::DeviceType::Cpu,
            },
            stats: GpuStats::default(),
        })
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

    fn check_size(&self, bytes: u64) -> Result<()> {
        let max = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        if bytes > max {
            return Err(Error::Limit(format!(
                "{bytes}-byte GPU buffer exceeds the adapter limit {max}"
            )));
        }
        Ok(())
    }

    /// A storage buffer for `n` f32 values, reused from the pool when a
    /// freed buffer of the same size class exists.
    pub(crate) fn alloc(&mut self, n: usize) -> Result<Arc<wgpu::Buffer>> {
        let bytes = ((n.max(1) * 4) as u64).next_power_of_two().max(256);
        self.check_size((n.max(1) * 4) as u64)?;
        let bytes = bytes.min(self.limits.max_buffer_size);
        if let Some(b) = self.pool.get_mut(&bytes).and_then(|v| v.pop()) {
            return Ok(Arc::new(b));
        }
        Ok(Arc::new(self.device.create_buffer(
            &wgpu::BufferDescriptor {
                label: None,
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            },
        )))
    }

    /// Returns a buffer to the pool once nothing else references it.
    pub(crate) fn release(&mut self, t: GpuTensor) {
        if let Ok(b) = Arc::try_unwrap(t.buf) {
            self.pool.entry(b.size()).or_default().push(b);
        }
    }

    pub(crate) fn upload(&mut self, t: &Tensor) -> Result<GpuTensor> {
        let v = match &t.data {
            Data::F32(v) => v,
            d => {
                return Err(Error::Backend(format!(
                    "cannot upload {:?} tensors",
                    d.dtype()
                )))
            }
        };
        let buf = self.alloc(v.len())?;
        if !v.is_empty() {
            self.queue.write_buffer(&buf, 0, bytemuck::cast_slice(v));
        }
        self.stats.uploads += 1;
        Ok(GpuTensor {
            buf,
            shape: t.shape.clone(),
        })
    }

    /// A read-only parameter or index buffer.
    pub(crate) fn words(&mut self, w: &[u32]) -> Result<wgpu::Buffer> {
        self.check_size((w.len() * 4) as u64)?;
        let data: &[u32] = if w.is_empty() { &[0] } else { w };
        Ok(self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE,
            }))
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

    /// Records and submits one dispatch binding `prm`, then `bufs` in order.
    pub(crate) fn dispatch(
        &mut self,
        pipe: &wgpu::ComputePipeline,
        prm: &wgpu::Buffer,
        bufs: &[&wgpu::Buffer],
        groups: (u32, u32, u32),
    ) -> Result<()> {
        let layout = pipe.get_bind_group_layout(0);
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: prm.as_entire_binding(),
        }];
        for (i, b) in bufs.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.as_entire_binding(),
            });
        }
        let bg = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &entries,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipe);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(groups.0, groups.1, groups.2);
        }
        self.queue.submit([enc.finish()]);
        self.stats.dispatches += 1;
        self.check_errors()
    }

    /// Copies whole buffers back to back into a new buffer (for Concat).
    pub(crate) fn concat_buffers(&mut self, parts: &[&GpuTensor]) -> Result<Arc<wgpu::Buffer>> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let dst = self.alloc(total)?;
        let mut enc = self.device.create_command_encoder(&Default::default());
        let mut off = 0u64;
        for p in parts {
            let bytes = (p.len() * 4) as u64;
            if bytes > 0 {
                enc.copy_buffer_to_buffer(&p.buf, 0, &dst, off, bytes);
            }
            off += bytes;
        }
        self.queue.submit([enc.finish()]);
        self.check_errors()?;
        Ok(dst)
    }

    /// Reads a GPU tensor back to the host.
    pub async fn download(&mut self, t: &GpuTensor) -> Result<Tensor> {
        let n = t.len();
        if n == 0 {
            return Tensor::new(t.shape.clone(), Data::F32(vec![]));
        }
        let bytes = (n * 4) as u64;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&t.buf, 0, &staging, 0, bytes);
        self.queue.submit([enc.finish()]);
        let (send, recv) = oneshot();
        staging.slice(..).map_async(wgpu::MapMode::Read, send);
        // Natively this blocks until the copy is done; in the browser it
        // returns at once and the future resolves from the event loop.
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        recv.await
            .map_err(|e| Error::Backend(format!("buffer mapping failed: {e}")))?;
        let v: Vec<f32> = {
            let view = staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| Error::Backend(format!("buffer mapping failed: {e}")))?;
            bytemuck::cast_slice::<u8, f32>(&view).to_vec()
        };
        staging.unmap();
        self.check_errors()?;
        Tensor::new(t.shape.clone(), Data::F32(v))
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
        check_values(model, inputs)?;
        self.stats = GpuStats::default();
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
        // Constants are uploaded once per run, on first GPU use.
        let mut uploaded: HashMap<ValueId, GpuTensor> = HashMap::new();
        for (i, node) in g.nodes.iter().enumerate() {
            let ins: Vec<Option<GVal>> = node
                .inputs
                .iter()
                .map(|v| {
                    v.map(|id| match (&vals[id], uploaded.get(&id)) {
                        (_, Some(u)) => Ok(GVal::Gpu(u.clone())),
                        (Some(x), _) => Ok(x.clone()),
                        (None, _) => g.consts[id].clone().map(GVal::Host).ok_or_else(|| {
                            Error::MissingValue {
                                node: node.name.clone(),
                                value: g.values[id].clone(),
                            }
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
                None => {
                    // CPU fallback: bring inputs to the host.
                    let mut host = Vec::with_capacity(ins.len());
                    for v in &ins {
                        host.push(match v {
                            None => None,
                            Some(GVal::Host(t)) => Some(Value::Tensor(t.clone())),
                            Some(GVal::Seq(s)) => Some(Value::Sequence(s.clone())),
                            Some(GVal::Gpu(t)) => {
                                self.stats.downloads += 1;
                                Some(Value::Tensor(self.download(t).await?))
                            }
                        });
                    }
                    let refs: Vec<Option<ValueRef>> =
                        host.iter().map(|v| v.as_ref().map(Value::as_ref)).collect();
                    self.stats.cpu_nodes += 1;
                    let outs = cpu::run_node_values(&ctx, node, &refs)?;
                    let is_f32 = |v: &Value| {
                        v.tensor()
                            .is_some_and(|t| t.dtype() == crate::tensor::DataType::F32)
                    };
                    let touches_f32 = host.iter().flatten().any(is_f32) || outs.iter().any(is_f32);
                    if touches_f32 && !METADATA_OPS.contains(&node.op_type.as_str()) {
                        self.stats.cpu_float_nodes += 1;
                    }
                    outs.into_iter()
                        .map(|v| match v {
                            Value::Tensor(t) => GVal::Host(t),
                            Value::Sequence(s) => GVal::Seq(s),
                        })
                        .collect()
                }
            };
            // Remember uploads of constants so later nodes reuse them.
            for (v, gv) in node.inputs.iter().zip(&ins) {
                if let (Some(id), Some(GVal::Gpu(t))) = (v, gv) {
                    if g.consts[*id].is_some() && vals[*id].is_none() {
                        uploaded.entry(*id).or_insert_with(|| t.clone());
                    }
                }
            }
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
                    if let Some(t) = uploaded.remove(v) {
                        self.release(t);
                    }
                }
            }
        }
        let mut res = Vec::with_capacity(g.outputs.len());
        for (id, _) in &g.outputs {
            res.push(match vals[*id].clone() {
                Some(GVal::Gpu(t)) => Value::Tensor(self.download(&t).await?),
                Some(GVal::Host(t)) => Value::Tensor(t),
                Some(GVal::Seq(s)) => Value::Sequence(s),
                None => {
                    Value::Tensor(g.consts[*id].clone().ok_or_else(|| Error::MissingValue {
                        node: "<graph output>".into(),
                        value: g.values[*id].clone(),
                    })?)
                }
            });
        }
        Ok(res)
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
