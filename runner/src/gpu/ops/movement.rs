//! Data movement: metadata-only ops (Reshape & co., Shape, Dropout, a Cast
//! to float), Concat by copies, Gather by host indices, and every other
//! layout op as one gather over an index map computed by the CPU kernel.

use super::{host, one, only_first_output, Outs};
use crate::cpu::{self, Ctx};
use crate::error::Result;
use crate::gpu::{wgsl, GVal, GpuBackend, GpuTensor};
use crate::model::Node;
use crate::tensor::{numel, Data, DataType, Tensor};

impl GpuBackend {
    /// Concat whose inputs are whole blocks of the output (every dimension
    /// before the axis is 1, as for channels of one image): buffer copies
    /// instead of an index map. `None` leaves other cases, and the errors of
    /// mismatched shapes, to the general path.
    pub(super) fn concat_contiguous(
        &mut self,
        node: &Node,
        ins: &[Option<GVal>],
    ) -> Result<Option<GpuTensor>> {
        let vals: Vec<&GVal> = ins.iter().flatten().collect();
        let Some(first) = vals.first() else {
            return Ok(None);
        };
        if vals.len() != ins.len() || !vals.iter().all(|v| v.is_f32()) {
            return Ok(None);
        }
        let rank = first.shape().len() as i64;
        let axis = node.attr_i("axis", 0)?;
        if rank == 0 || !(-rank..rank).contains(&axis) {
            return Ok(None);
        }
        let axis = axis.rem_euclid(rank) as usize;
        let mut shape = first.shape().to_vec();
        shape[axis] = 0;
        for v in &vals {
            let s = v.shape();
            let others_match = s.len() == shape.len()
                && s.iter()
                    .zip(&shape)
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b);
            if !others_match {
                return Ok(None);
            }
            shape[axis] += s[axis];
        }
        if shape[..axis].iter().product::<usize>() != 1 {
            return Ok(None);
        }
        let parts: Vec<GpuTensor> = vals.iter().map(|v| self.on_gpu(v)).collect::<Result<_>>()?;
        let refs: Vec<&GpuTensor> = parts.iter().collect();
        Ok(Some(GpuTensor {
            buf: self.concat_buffers(&refs)?,
            shape,
        }))
    }

    /// Gather of float data with indices known on the host (an embedding
    /// lookup): the kernel reads the indices directly, where an index map
    /// would be as large as the table. `None` leaves out-of-range indices,
    /// and their error, to the general path.
    fn gather_host_indices(
        &mut self,
        node: &Node,
        ins: &[Option<GVal>],
    ) -> Result<Option<GpuTensor>> {
        let (Some(Some(data)), Some(Some(indices))) = (ins.first(), ins.get(1)) else {
            return Ok(None);
        };
        let (true, Some(indices)) = (data.is_f32(), indices.host()) else {
            return Ok(None);
        };
        let shape = data.shape();
        let rank = shape.len() as i64;
        let axis = node.attr_i("axis", 0)?;
        if rank == 0 || !(-rank..rank).contains(&axis) {
            return Ok(None);
        }
        let axis = axis.rem_euclid(rank) as usize;
        let d = shape[axis];
        let mut idx = Vec::with_capacity(indices.len());
        for i in indices.to_i64s("Gather")? {
            let i = if i < 0 { i + d as i64 } else { i };
            if !(0..d as i64).contains(&i) {
                return Ok(None);
            }
            idx.push(i as u32);
        }
        let inner: usize = shape[axis + 1..].iter().product();
        let mut out_shape = shape[..axis].to_vec();
        out_shape.extend(&indices.shape);
        out_shape.extend(&shape[axis + 1..]);
        let n = numel(&out_shape);
        let x = self.on_gpu(data)?;
        let out = self.alloc(n)?;
        if n > 0 {
            let idx = self.words(&idx)?;
            let (gx, gy, w) = self.grid(n)?;
            let prm = [w, n as u32, inner as u32, indices.len() as u32, d as u32];
            let pipe = self.pipeline("gather-rows", wgsl::gather_rows)?;
            self.dispatch(&pipe, &prm, &[&x.buf, &idx, &out], (gx, gy, 1))?;
        }
        Ok(Some(GpuTensor {
            buf: out,
            shape: out_shape,
        }))
    }

    /// Runs a data-movement op by evaluating the CPU kernel on tensors of
    /// element indices, then gathering on the GPU with that index map.
    fn index_mapped(
        &mut self,
        ctx: &Ctx,
        node: &Node,
        ins: &[Option<GVal>],
        data_inputs: &[usize],
        fill: f32,
    ) -> Result<Outs<'static>> {
        let mut idx_ins: Vec<Option<Tensor>> = Vec::with_capacity(ins.len());
        let mut parts: Vec<GpuTensor> = Vec::new();
        let mut base = 1i64;
        for (k, v) in ins.iter().enumerate() {
            idx_ins.push(match v {
                None => None,
                Some(v) if data_inputs.contains(&k) => {
                    if !v.is_f32() {
                        return Ok(None);
                    }
                    let n = numel(v.shape());
                    let t = Tensor::new(
                        v.shape().to_vec(),
                        Data::I64((base..base + n as i64).collect()),
                    )?;
                    base += n as i64;
                    parts.push(self.on_gpu(v)?);
                    Some(t)
                }
                Some(v) => match v.host() {
                    Some(t) => Some(t.clone()),
                    None => return Ok(None),
                },
            });
        }
        if base > u32::MAX as i64 {
            return Ok(None);
        }
        let mut node = node.clone();
        if node.op_type == "Pad" {
            // The pad value becomes index 0, which the kernel maps to `fill`.
            node.attrs.retain(|(k, _)| k != "value");
            if idx_ins.len() > 2 && idx_ins[2].is_some() {
                idx_ins[2] = Some(Tensor::from_i64(vec![], vec![0])?);
            }
        }
        let refs: Vec<Option<&Tensor>> = idx_ins.iter().map(|t| t.as_ref()).collect();
        let maps = cpu::run_node(ctx, &node, &refs)?;
        let src = if parts.len() == 1 {
            parts[0].buf.clone()
        } else {
            let p: Vec<&GpuTensor> = parts.iter().collect();
            self.concat_buffers(&p)?
        };
        let pipe = self.pipeline("gather", wgsl::gather)?;
        let mut outs = Vec::with_capacity(maps.len());
        for m in maps {
            let ids = m.to_i64s(&node.op_type)?;
            let n = ids.len();
            let out = self.alloc(n)?;
            if n > 0 {
                let words: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
                let idx = self.words(&words)?;
                let (gx, gy, w) = self.grid(n)?;
                let prm = [w, n as u32, fill.to_bits()];
                self.dispatch(&pipe, &prm, &[&src, &idx, &out], (gx, gy, 1))?;
            }
            outs.push(GVal::Gpu(GpuTensor {
                buf: out,
                shape: m.shape,
            }));
        }
        Ok(Some(outs))
    }

    /// Output shape of a metadata-only op (Reshape & co.), from the CPU
    /// kernel applied to a byte-sized stand-in of the input.
    fn reshaped<'m>(
        &mut self,
        ctx: &Ctx,
        node: &Node,
        ins: &[Option<GVal<'m>>],
    ) -> Result<Outs<'m>> {
        let Some(Some(GVal::Gpu(x))) = ins.first() else {
            return Ok(None);
        };
        let mut host: Vec<Option<Tensor>> = vec![Some(Tensor::new(
            x.shape.clone(),
            Data::U8(vec![0; x.len()]),
        )?)];
        for v in &ins[1..] {
            host.push(match v {
                None => None,
                Some(v) => match v.host() {
                    Some(t) => Some(t.clone()),
                    None => return Ok(None),
                },
            });
        }
        let refs: Vec<Option<&Tensor>> = host.iter().map(|t| t.as_ref()).collect();
        let outs = cpu::run_node(ctx, node, &refs)?;
        let Some(first) = outs.first() else {
            return Ok(None);
        };
        if outs.len() > 1 && node.outputs.iter().skip(1).any(Option::is_some) {
            return Ok(None);
        }
        Ok(Some(vec![GVal::Gpu(GpuTensor {
            buf: x.buf.clone(),
            shape: first.shape.clone(),
        })]))
    }
}

/// An op that only relabels a GPU tensor's shape or answers from it (Reshape
/// & co., Shape, Dropout, a Cast to float): no kernel.
pub(super) fn metadata<'m>(
    gpu: &mut GpuBackend,
    ctx: &Ctx,
    node: &Node,
    ins: &[Option<GVal<'m>>],
) -> Result<Outs<'m>> {
    let op = node.op_type.as_str();
    let x = some!(ins.first().and_then(|v| v.as_ref()));
    let f32_data = ins.iter().flatten().next().is_some_and(GVal::is_f32);
    match op {
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Identity"
            if matches!(x, GVal::Gpu(_)) =>
        {
            gpu.reshaped(ctx, node, ins)
        }
        "Shape" | "Size" if matches!(x, GVal::Gpu(_)) => {
            // Only the shape is read: answer from metadata, no download.
            let stand_in = Tensor::new(x.shape().to_vec(), Data::U8(vec![0; numel(x.shape())]))?;
            Ok(Some(
                cpu::run_node(ctx, node, &[Some(&stand_in)])?
                    .into_iter()
                    .map(GVal::Host)
                    .collect(),
            ))
        }
        "Dropout" if matches!(x, GVal::Gpu(_)) && only_first_output(node) => {
            gpu.reshaped(ctx, node, ins)
        }
        "Cast" | "CastLike" if f32_data => {
            let target = if op == "CastLike" {
                some!(ins.get(1).and_then(|v| v.as_ref())).is_f32()
            } else {
                // (Cast-1's string `to` takes the CPU kernel.)
                DataType::from_onnx(node.attr_i("to", 0).unwrap_or(0) as i32) == Some(DataType::F32)
            };
            if target {
                Ok(Some(vec![x.clone()]))
            } else {
                Ok(None)
            }
        }
        _ => Ok(None),
    }
}

pub(super) fn run<'m>(
    gpu: &mut GpuBackend,
    ctx: &Ctx,
    node: &Node,
    ins: &[Option<GVal<'m>>],
) -> Result<Outs<'m>> {
    let op = node.op_type.as_str();
    match op {
        "Concat" => {
            if let Some(t) = gpu.concat_contiguous(node, ins)? {
                return one(t);
            }
            let data: Vec<usize> = (0..ins.len()).collect();
            gpu.index_mapped(ctx, node, ins, &data, 0.0)
        }
        "Pad" => {
            let fill = if ctx.opset < 11 {
                node.attr_f("value", 0.0)?
            } else {
                match some!(host(ins.get(2))) {
                    Some(t) => t.to_f64s().first().copied().unwrap_or(0.0) as f32,
                    None => 0.0,
                }
            };
            gpu.index_mapped(ctx, node, ins, &[0], fill)
        }
        "Resize" if node.attr_s("mode", "nearest")? == "nearest" => {
            gpu.index_mapped(ctx, node, ins, &[0], 0.0)
        }
        "Gather" => {
            if let Some(t) = gpu.gather_host_indices(node, ins)? {
                return one(t);
            }
            gpu.index_mapped(ctx, node, ins, &[0], 0.0)
        }
        "Transpose" | "Slice" | "GatherElements" | "GatherND" | "Expand" | "Tile" | "Split"
        | "DepthToSpace" | "SpaceToDepth" | "Trilu" => gpu.index_mapped(ctx, node, ins, &[0], 0.0),
        _ => Ok(None),
    }
}
