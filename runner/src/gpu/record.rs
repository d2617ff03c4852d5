//! Deferred command recording. Kernels and copies are recorded as a run
//! goes and submitted together — once per run, or earlier when the host
//! must read a result (a CPU fallback) — with every dispatch's parameter
//! words packed into one buffer. Recording order is execution order, and
//! wgpu orders each dispatch after the earlier ones touching its buffers,
//! so a pooled buffer can be reused by a later node of the same
//! submission.

use std::num::NonZeroU64;

use wgpu::util::DeviceExt;

use super::GpuBackend;
use crate::error::Result;

enum Cmd {
    Dispatch {
        pipe: wgpu::ComputePipeline,
        /// Byte range of the parameter words in the packed buffer.
        prm: (u64, u64),
        bufs: Vec<wgpu::Buffer>,
        groups: (u32, u32, u32),
    },
    Copy {
        src: wgpu::Buffer,
        dst: wgpu::Buffer,
        dst_offset: u64,
        bytes: u64,
    },
}

/// Work recorded since the last submission.
#[derive(Default)]
pub(super) struct Recorder {
    cmds: Vec<Cmd>,
    params: Vec<u32>,
}

impl GpuBackend {
    /// Records a dispatch binding the parameter words `prm`, then `bufs`
    /// in order.
    pub(crate) fn dispatch(
        &mut self,
        pipe: &wgpu::ComputePipeline,
        prm: &[u32],
        bufs: &[&wgpu::Buffer],
        groups: (u32, u32, u32),
    ) -> Result<()> {
        let prm = if prm.is_empty() { &[0] } else { prm };
        let align = (self.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
        let start = self.rec.params.len().next_multiple_of(align);
        self.rec.params.resize(start, 0);
        self.rec.params.extend_from_slice(prm);
        self.rec.cmds.push(Cmd::Dispatch {
            pipe: pipe.clone(),
            prm: (start as u64 * 4, prm.len() as u64 * 4),
            bufs: bufs.iter().map(|&b| b.clone()).collect(),
            groups,
        });
        self.stats.dispatches += 1;
        Ok(())
    }

    /// Records a copy of the first `bytes` of `src` into `dst` at `dst_offset`.
    pub(crate) fn copy(
        &mut self,
        src: &wgpu::Buffer,
        dst: &wgpu::Buffer,
        dst_offset: u64,
        bytes: u64,
    ) {
        if bytes > 0 {
            self.rec.cmds.push(Cmd::Copy {
                src: src.clone(),
                dst: dst.clone(),
                dst_offset,
                bytes,
            });
        }
    }

    /// Submits everything recorded, in one command buffer.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let rec = std::mem::take(&mut self.rec);
        if rec.cmds.is_empty() {
            return Ok(());
        }
        let params = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::cast_slice(&rec.params),
                usage: wgpu::BufferUsages::STORAGE,
            });
        let mut enc = self.device.create_command_encoder(&Default::default());
        let mut cmds = rec.cmds.iter().peekable();
        while let Some(cmd) = cmds.peek() {
            if let Cmd::Copy {
                src,
                dst,
                dst_offset,
                bytes,
            } = cmd
            {
                enc.copy_buffer_to_buffer(src, 0, dst, *dst_offset, *bytes);
                cmds.next();
                continue;
            }
            // Consecutive dispatches share one compute pass.
            let mut pass = enc.begin_compute_pass(&Default::default());
            while let Some(Cmd::Dispatch {
                pipe,
                prm,
                bufs,
                groups,
            }) = cmds.peek()
            {
                let mut entries = vec![wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &params,
                        offset: prm.0,
                        size: NonZeroU64::new(prm.1),
                    }),
                }];
                for (i, b) in bufs.iter().enumerate() {
                    entries.push(wgpu::BindGroupEntry {
                        binding: i as u32 + 1,
                        resource: b.as_entire_binding(),
                    });
                }
                let bg = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &pipe.get_bind_group_layout(0),
                    entries: &entries,
                });
                pass.set_pipeline(pipe);
                pass.set_bind_group(0, &bg, &[]);
                pass.dispatch_workgroups(groups.0, groups.1, groups.2);
                cmds.next();
            }
        }
        self.queue.submit([enc.finish()]);
        self.stats.submits += 1;
        self.check_errors()
    }
}
