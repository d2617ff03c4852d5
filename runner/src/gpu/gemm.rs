//! GEMM-shaped nodes on the GPU: MatMul, fused MatMul+bias, Gemm and Conv,
//! all on the kernels of [`gemm_wgsl`], with alpha, C (Gemm's C or a bias)
//! and a fused activation applied as the output is written.

use std::sync::Arc;

use super::gemm_wgsl::{self, Blocked, Source, BLOCK_THREADS, TILE};
use super::{GVal, GemmKernels, GpuBackend, GpuTensor};
use crate::cpu::broadcast::{broadcast_shapes, broadcast_strides};
use crate::cpu::{self, Ctx};
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::numel;

/// Outputs per thread (rows × columns) of the register-blocked kernels.
/// A bigger block loads less per multiply-add, but CPU-emulated adapters
/// compile the unrolled kernel at their first dispatch, in time that grows
/// steeply with the block: the digit model's two GEMM kernels take llvmpipe
/// 0.7 s at 4×4 and 29 s at 16×8, SwiftShader (Chromium's adapter) 0.3 s
/// and 5 s. Steady state barely
/// gains (llvmpipe SqueezeNet 31 ms at 4×4, 25 ms at 8×4, 36 ms at 16×8;
/// MiniLM-128 508 ms and 451 ms at 4×4 and 8×4), so the small block wins:
/// a page's first run and a test suite pay the compile every time.
const BLOCK: (u32, u32) = (4, 4);

/// What the kernel does to `alpha * A·B` before storing it.
pub(super) struct Epilogue<'a> {
    pub alpha: f32,
    pub beta: f32,
    /// C (or a bias) with its row and column strides.
    pub c: Option<(&'a GpuTensor, u32, u32)>,
    /// Activation kind and parameters, see `gemm_wgsl`.
    pub act: (u32, f32, f32),
}

impl Epilogue<'_> {
    fn plain() -> Self {
        Epilogue {
            alpha: 1.0,
            beta: 0.0,
            c: None,
            act: (0, 0.0, 0.0),
        }
    }
}

/// The `activation` attribute of a fused Conv (see `optimize`).
fn fused_activation(node: &Node) -> Result<(u32, f32, f32)> {
    Ok(match node.attr_s("activation", "")?.as_str() {
        "" => (0, 0.0, 0.0),
        "Relu" => (1, 0.0, f32::INFINITY),
        "Clip" => (
            1,
            node.attr_f("activation_min", f32::NEG_INFINITY)?,
            node.attr_f("activation_max", f32::INFINITY)?,
        ),
        "LeakyRelu" => (2, node.attr_f("activation_alpha", 0.01)?, 0.0),
        a => return Err(Error::Unsupported(format!("fused activation {a}"))),
    })
}

impl GpuBackend {
    /// Records one GEMM of `batch` entries into a new `batch * m * n` buffer;
    /// `words` are the source-specific parameter words.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        &mut self,
        src: Source,
        a: &GpuTensor,
        b: &GpuTensor,
        (m, n, k): (usize, usize, usize),
        batch: usize,
        ep: &Epilogue,
        words: &[u32],
        (a_vec, b_vec): (bool, bool),
    ) -> Result<Arc<wgpu::Buffer>> {
        let out = self.alloc(batch * m * n)?;
        if batch * m * n == 0 {
            return Ok(out);
        }
        let ((pipe, rows, cols), key);
        if self.gemm_kernels == GemmKernels::Blocked {
            let (tm, tn) = BLOCK;
            let cfg = Blocked {
                tm,
                tn,
                a_vec,
                b_vec: b_vec && tn % 4 == 0,
            };
            key = format!("gemm-blocked-{src:?}-{cfg:?}");
            pipe = self.pipeline(&key, || gemm_wgsl::blocked(src, cfg))?;
            (rows, cols) = (tm * BLOCK_THREADS, tn * BLOCK_THREADS);
        } else {
            key = format!("gemm-tiled-{src:?}");
            pipe = self.pipeline(&key, || gemm_wgsl::tiled(src))?;
            (rows, cols) = (TILE, TILE);
        }
        let maxd = self.limits.max_compute_workgroups_per_dimension as usize;
        let (gx, gy) = (n.div_ceil(cols as usize), m.div_ceil(rows as usize));
        if gx > maxd || gy > maxd || batch > maxd {
            return Err(Error::Limit(
                "GEMM exceeds the adapter's dispatch limits".into(),
            ));
        }
        let (cbuf, rsc, csc) = match ep.c {
            Some((t, r, s)) => (t.buf.clone(), r, s),
            None => (a.buf.clone(), 0, 0),
        };
        let mut prm = vec![
            m as u32,
            n as u32,
            k as u32,
            ep.alpha.to_bits(),
            ep.beta.to_bits(),
            ep.c.is_some() as u32,
            rsc,
            csc,
            ep.act.0,
            ep.act.1.to_bits(),
            ep.act.2.to_bits(),
        ];
        debug_assert_eq!(prm.len(), gemm_wgsl::COMMON_WORDS);
        prm.extend_from_slice(words);
        self.dispatch(
            &pipe,
            &prm,
            &[&a.buf, &b.buf, &cbuf, &out],
            (gx as u32, gy as u32, batch as u32),
        )?;
        Ok(out)
    }

    /// A strided-matrix GEMM; `offsets` holds (A, B, C) offsets per batch.
    #[allow(clippy::too_many_arguments)]
    fn gemm_matrix(
        &mut self,
        a: &GpuTensor,
        b: &GpuTensor,
        mnk: (usize, usize, usize),
        (rsa, csa, rsb, csb): (usize, usize, usize, usize),
        ep: &Epilogue,
        offsets: &[(usize, usize, usize)],
        shape: Vec<usize>,
    ) -> Result<GpuTensor> {
        let mut words = vec![rsa as u32, csa as u32, rsb as u32, csb as u32];
        for &(ao, bo, co) in offsets {
            words.extend([ao as u32, bo as u32, co as u32]);
        }
        // Four consecutive values at 16-byte aligned positions can be read
        // as one vec4: A along K, B along N.
        let (_, n, k) = mnk;
        let a_vec = csa == 1 && rsa % 4 == 0 && k % 4 == 0 && offsets.iter().all(|o| o.0 % 4 == 0);
        let b_vec = csb == 1 && rsb % 4 == 0 && rsb >= n && offsets.iter().all(|o| o.1 % 4 == 0);
        let buf = self.gemm(
            Source::Matrix,
            a,
            b,
            mnk,
            offsets.len(),
            ep,
            &words,
            (a_vec, b_vec),
        )?;
        Ok(GpuTensor { buf, shape })
    }

    /// Batched MatMul; `bias` (length N) is added by the GEMM epilogue.
    pub(super) fn matmul(
        &mut self,
        ctx: &Ctx,
        a: &GpuTensor,
        b: &GpuTensor,
        bias: Option<&GpuTensor>,
    ) -> Result<GpuTensor> {
        if a.shape.is_empty() || b.shape.is_empty() {
            return Err(Error::op("MatMul", "scalar operand"));
        }
        let mut ash = a.shape.clone();
        let mut bsh = b.shape.clone();
        let (a1, b1) = (ash.len() == 1, bsh.len() == 1);
        if a1 {
            ash.insert(0, 1);
        }
        if b1 {
            bsh.push(1);
        }
        let (m, k) = (ash[ash.len() - 2], ash[ash.len() - 1]);
        let (k2, n) = (bsh[bsh.len() - 2], bsh[bsh.len() - 1]);
        if k != k2 {
            return Err(Error::op(
                "MatMul",
                format!("inner dims differ: {:?} x {:?}", a.shape, b.shape),
            ));
        }
        let (ab, bb) = (&ash[..ash.len() - 2], &bsh[..bsh.len() - 2]);
        let batch = broadcast_shapes("MatMul", &[ab, bb])?;
        let mut out = batch.clone();
        out.extend([m, n]);
        ctx.limits.check_shape(&out, 4)?;
        let (sa, sb) = (broadcast_strides(ab, &batch), broadcast_strides(bb, &batch));
        let mut offsets = Vec::new();
        cpu::broadcast::for_each_index(&batch, [&sa, &sb], |[i, j]| {
            offsets.push((i * m * k, j * k * n, 0))
        });
        if a1 {
            out.remove(out.len() - 2);
        }
        if b1 {
            out.pop();
        }
        let mut ep = Epilogue::plain();
        if let Some(t) = bias {
            if t.len() != n {
                return Err(Error::op(
                    "MatMulAdd",
                    "bias length differs from output columns",
                ));
            }
            (ep.beta, ep.c) = (1.0, Some((t, 0, 1)));
        }
        self.gemm_matrix(a, b, (m, n, k), (k, 1, n, 1), &ep, &offsets, out)
    }

    /// ONNX Gemm: optional transposes, alpha, and beta * C broadcast to [M, N].
    pub(super) fn gemm_node(
        &mut self,
        ctx: &Ctx,
        node: &Node,
        a: &GpuTensor,
        b: &GpuTensor,
        c: Option<&GVal>,
    ) -> Result<GpuTensor> {
        let cpu::linalg::GemmShape {
            ta,
            tb,
            alpha,
            beta,
            m,
            k,
            n,
        } = cpu::linalg::gemm_shape(ctx, node, &a.shape, &b.shape)?;
        let ct = match c {
            Some(cv) if beta != 0.0 => {
                let ct = self.on_gpu(cv)?;
                if broadcast_shapes("Gemm", &[&ct.shape, &[m, n]])? != [m, n] {
                    return Err(Error::op("Gemm", "C does not broadcast to [M, N]"));
                }
                let s = broadcast_strides(&ct.shape, &[m, n]);
                Some((ct, s[0] as u32, s[1] as u32))
            }
            _ => None,
        };
        let ep = Epilogue {
            alpha,
            beta,
            c: ct.as_ref().map(|(t, r, s)| (t, *r, *s)),
            act: (0, 0.0, 0.0),
        };
        let (rsa, csa) = if ta { (1, m) } else { (k, 1) };
        let (rsb, csb) = if tb { (1, k) } else { (n, 1) };
        self.gemm_matrix(
            a,
            b,
            (m, n, k),
            (rsa, csa, rsb, csb),
            &ep,
            &[(0, 0, 0)],
            vec![m, n],
        )
    }

    /// A convolution's B operand as `[batch, K, N4]` matrices, rows padded
    /// with zeros from N to a multiple of 4 (see `gemm_wgsl::im2col`);
    /// `words` are the conv parameter words.
    fn im2col(
        &mut self,
        x: &GpuTensor,
        (m, n, k): (usize, usize, usize),
        batch: usize,
        words: &[u32],
    ) -> Result<GpuTensor> {
        let n4 = n.next_multiple_of(4);
        let total = batch * k * n4;
        if total > u32::MAX as usize {
            return Err(Error::Limit("im2col matrix exceeds 2^32 elements".into()));
        }
        let buf = self.alloc(total)?;
        let (gx, gy, width) = self.grid(total)?;
        let mut prm = vec![0u32; gemm_wgsl::COMMON_WORDS];
        prm[..3].copy_from_slice(&[m as u32, n as u32, k as u32]);
        prm.extend_from_slice(words);
        prm.extend([width, total as u32, n4 as u32]);
        let pipe = self.pipeline("im2col", gemm_wgsl::im2col)?;
        self.dispatch(&pipe, &prm, &[&x.buf, &buf], (gx, gy, 1))?;
        Ok(GpuTensor {
            buf,
            shape: vec![batch, k, n4],
        })
    }

    /// Conv (1-3 spatial dims, groups, bias, fused activation) as an
    /// implicit GEMM; a 1×1, stride-1, unpadded, ungrouped one is a plain
    /// GEMM of the weights with each image. The other ones, on the blocked
    /// kernels, read a materialised im2col matrix whose rows are padded
    /// for vec4 reads.
    pub(super) fn conv(
        &mut self,
        ctx: &Ctx,
        node: &Node,
        x: &GpuTensor,
        w: &GpuTensor,
        bias: Option<&GpuTensor>,
        fused: bool,
    ) -> Result<Option<GpuTensor>> {
        let op = "Conv";
        let r = x.shape.len();
        if !(3..=5).contains(&r) || w.shape.len() != r {
            return Ok(None);
        }
        let (nb, cin, cout) = (x.shape[0], x.shape[1], w.shape[0]);
        let g = node.attr_i("group", 1)?;
        if g < 1 || cin % g as usize != 0 {
            return Err(Error::op(op, "invalid group"));
        }
        let g = g as usize;
        if w.shape[1] * g != cin || cout % g != 0 {
            return Err(Error::op(op, "weight channels do not match input/group"));
        }
        let sp = &x.shape[2..];
        let geo = cpu::nn::geometry(node, sp, w.shape[2..].to_vec(), false)?;
        let mut oshape = vec![nb, cout];
        oshape.extend(&geo.out);
        ctx.limits.check_shape(&oshape, 4)?;
        if bias.is_some_and(|b| b.len() != cout) {
            return Err(Error::op(op, "bias length differs from output channels"));
        }
        let ep = Epilogue {
            alpha: 1.0,
            beta: 1.0,
            c: bias.map(|b| (b, 1, 0)),
            act: if fused {
                fused_activation(node)?
            } else {
                (0, 0.0, 0.0)
            },
        };
        let (m, n) = (cout / g, numel(&geo.out));
        let taps = numel(&geo.kernel);
        let k = cin / g * taps;
        let pointwise = g == 1 && taps == 1 && geo.strides.iter().all(|&s| s == 1) && geo.out == sp;
        if pointwise {
            let offsets: Vec<_> = (0..nb).map(|i| (0, i * cin * n, 0)).collect();
            return Ok(Some(self.gemm_matrix(
                w,
                x,
                (m, n, k),
                (k, 1, n, 1),
                &ep,
                &offsets,
                oshape,
            )?));
        }
        let pad3 = |v: &[usize], fill: usize| -> Option<Vec<u32>> {
            let lead = 3usize.checked_sub(v.len())?;
            let mut r = vec![fill as u32; lead];
            r.extend(v.iter().map(|&x| x as u32));
            Some(r)
        };
        let mut words = vec![g as u32, cin as u32];
        for (v, fill) in [
            (sp, 1),
            (&geo.out[..], 1),
            (&geo.kernel[..], 1),
            (&geo.strides[..], 1),
            (&geo.dilations[..], 1),
            (&geo.pad_begin[..], 0),
        ] {
            match pad3(v, fill) {
                Some(p) => words.extend(p),
                None => return Ok(None),
            }
        }
        let batch = nb * g;
        if self.gemm_kernels == GemmKernels::Blocked {
            match self.im2col(x, (m, n, k), batch, &words) {
                Ok(col) => {
                    let n4 = col.shape[2];
                    let offsets: Vec<_> = (0..batch)
                        .map(|bi| ((bi % g) * m * k, bi * k * n4, (bi % g) * m))
                        .collect();
                    let out =
                        self.gemm_matrix(w, &col, (m, n, k), (k, 1, n4, 1), &ep, &offsets, oshape);
                    self.release(col);
                    return out.map(Some);
                }
                // Too large to materialise: read B through the index arithmetic.
                Err(Error::Limit(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let buf = self.gemm(
            Source::Conv,
            w,
            x,
            (m, n, k),
            batch,
            &ep,
            &words,
            (false, false),
        )?;
        Ok(Some(GpuTensor { buf, shape: oshape }))
    }
}
