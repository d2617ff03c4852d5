//! GPU memory: the size-class buffer pool, uploads, model constants kept
//! resident between runs, and read-back.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use wgpu::util::DeviceExt;

use super::{GpuBackend, GpuTensor};
use crate::error::{Error, Result};
use crate::model::ValueId;
use crate::tensor::{Data, Tensor};

/// The constants of the model run last, uploaded on first use and kept
/// until a different model (by [`crate::Model::id`]) runs.
#[derive(Default)]
pub(super) struct Constants {
    model: u64,
    resident: HashMap<ValueId, GpuTensor>,
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

fn f32_data(t: &Tensor) -> Result<&[f32]> {
    match &t.data {
        Data::F32(v) => Ok(v),
        d => Err(Error::Backend(format!(
            "cannot upload {:?} tensors",
            d.dtype()
        ))),
    }
}

impl GpuBackend {
    pub(super) fn check_size(&self, bytes: u64) -> Result<()> {
        let max = self.max_tensor_bytes();
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
        self.stats.allocations += 1;
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

    /// Uploads a host tensor into a pooled buffer. The data goes through a
    /// staging buffer and a recorded copy, so it lands in recording order
    /// (`queue.write_buffer` would land before all recorded work, clobbering
    /// a pooled buffer that work still reads).
    pub(crate) fn upload(&mut self, t: &Tensor) -> Result<GpuTensor> {
        let v = f32_data(t)?;
        let buf = self.alloc(v.len())?;
        if !v.is_empty() {
            let staging = self
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: None,
                    contents: bytemuck::cast_slice(v),
                    usage: wgpu::BufferUsages::COPY_SRC,
                });
            self.copy(&staging, &buf, 0, (v.len() * 4) as u64);
        }
        self.stats.uploads += 1;
        Ok(GpuTensor {
            buf,
            shape: t.shape.clone(),
        })
    }

    /// Forgets the resident constants unless they belong to `model`.
    pub(super) fn use_constants_of(&mut self, model: u64) {
        if self.constants.model != model {
            self.constants = Constants {
                model,
                resident: HashMap::new(),
            };
        }
    }

    /// The GPU copy of model constant `id`, uploaded on first use.
    pub(crate) fn constant(&mut self, id: ValueId, t: &Tensor) -> Result<GpuTensor> {
        if let Some(g) = self.constants.resident.get(&id) {
            return Ok(g.clone());
        }
        let v = f32_data(t)?;
        self.check_size((v.len().max(1) * 4) as u64)?;
        let data: &[f32] = if v.is_empty() { &[0.0] } else { v };
        let buf = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("constant"),
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            });
        self.stats.uploads += 1;
        let g = GpuTensor {
            buf: Arc::new(buf),
            shape: t.shape.clone(),
        };
        self.constants.resident.insert(id, g.clone());
        Ok(g)
    }

    /// Copies whole buffers back to back into a new buffer (for Concat).
    pub(crate) fn concat_buffers(&mut self, parts: &[&GpuTensor]) -> Result<Arc<wgpu::Buffer>> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let dst = self.alloc(total)?;
        let mut off = 0u64;
        for p in parts {
            let bytes = (p.len() * 4) as u64;
            self.copy(&p.buf, &dst, off, bytes);
            off += bytes;
        }
        Ok(dst)
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

    /// Reads GPU tensors back to the host: the copies go out with all
    /// recorded work in one submission, then one wait.
    pub(crate) async fn download(&mut self, ts: &[&GpuTensor]) -> Result<Vec<Tensor>> {
        if ts.is_empty() {
            // Nothing to read: recorded work keeps waiting for the run's end.
            return Ok(vec![]);
        }
        let mut staging = Vec::with_capacity(ts.len());
        for t in ts {
            let bytes = (t.len() * 4) as u64;
            let s = (bytes > 0).then(|| {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: bytes,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            });
            if let Some(s) = &s {
                self.copy(&t.buf, s, 0, bytes);
            }
            staging.push(s);
        }
        self.flush()?;
        let mut pending = Vec::new();
        for s in staging.iter().flatten() {
            let (send, recv) = oneshot();
            s.slice(..).map_async(wgpu::MapMode::Read, send);
            pending.push(recv);
        }
        // Natively this blocks until the copies are done; in the browser it
        // returns at once and the futures resolve from the event loop.
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        for recv in pending {
            recv.await
                .map_err(|e| Error::Backend(format!("buffer mapping failed: {e}")))?;
        }
        let mut out = Vec::with_capacity(ts.len());
        for (t, s) in ts.iter().zip(&staging) {
            let v: Vec<f32> = match s {
                None => vec![],
                Some(s) => {
                    let v = {
                        let view = s
                            .slice(..)
                            .get_mapped_range()
                            .map_err(|e| Error::Backend(format!("buffer mapping failed: {e}")))?;
                        bytemuck::cast_slice::<u8, f32>(&view).to_vec()
                    };
                    s.unmap();
                    v
                }
            };
            out.push(Tensor::new(t.shape.clone(), Data::F32(v))?);
        }
        self.check_errors()?;
        Ok(out)
    }
}
