//! Convolution, pooling and normalisation operators (NC + spatial layout).

use super::linalg::{par_sgemm_ep, sgemm, Epilogue};
use super::shape::{for_each_multi, norm_axis, strides};
use super::{opt, req, Ctx};
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::{numel, Data, DataType, Tensor};

/// Resolved spatial geometry of a convolution or pooling window.
pub(crate) struct Geometry {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub pad_begin: Vec<usize>,
    pub out: Vec<usize>,
}

/// Window attributes (kernel, strides, dilations, pads) are capped so
/// geometry arithmetic cannot overflow, even with 32-bit `usize`.
const MAX_WINDOW_ATTR: i64 = 1 << 12;

fn positive(op: &str, v: Vec<i64>, what: &str) -> Result<Vec<usize>> {
    v.into_iter()
        .map(|x| {
            if (1..=MAX_WINDOW_ATTR).contains(&x) {
                Ok(x as usize)
            } else {
                Err(Error::op(
                    op,
                    format!("{what} must be in 1..={MAX_WINDOW_ATTR}"),
                ))
            }
        })
        .collect()
}

pub(crate) fn geometry(
    node: &Node,
    input: &[usize],
    kernel: Vec<usize>,
    ceil_mode: bool,
) -> Result<Geometry> {
    let op = node.op_type.as_str();
    let k = input.len();
    if kernel.len() != k {
        return Err(Error::op(op, "kernel rank does not match input"));
    }
    if kernel.iter().any(|&d| d as i64 > MAX_WINDOW_ATTR)
        || input.iter().any(|&d| d as i64 > 1 << 30)
    {
        return Err(Error::op(op, "window or input too large"));
    }
    let strides = positive(
        op,
        node.attr_ints("strides")?.unwrap_or_else(|| vec![1; k]),
        "strides",
    )?;
    let dilations = positive(
        op,
        node.attr_ints("dilations")?.unwrap_or_else(|| vec![1; k]),
        "dilations",
    )?;
    if strides.len() != k || dilations.len() != k {
        return Err(Error::op(op, "strides/dilations rank mismatch"));
    }
    let auto_pad = node.attr_s("auto_pad", "NOTSET")?;
    let mut pb = vec![0usize; k];
    let mut pe = vec![0usize; k];
    let mut out = vec![0usize; k];
    for i in 0..k {
        let span = dilations[i] * (kernel[i].max(1) - 1) + 1;
        match auto_pad.as_str() {
            "SAME_UPPER" | "SAME_LOWER" => {
                let o = input[i].div_ceil(strides[i]);
                let total = ((o.max(1) - 1) * strides[i] + span).saturating_sub(input[i]);
                let small = total / 2;
                (pb[i], pe[i]) = if auto_pad == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
                out[i] = o;
                continue;
            }
            "VALID" => {}
            _ => {
                if let Some(p) = node.attr_ints("pads")? {
                    if p.len() != 2 * k || p.iter().any(|&x| !(0..=MAX_WINDOW_ATTR).contains(&x)) {
                        return Err(Error::op(op, "pads must be 2*rank non-negative values"));
                    }
                    pb[i] = p[i] as usize;
                    pe[i] = p[i + k] as usize;
                }
            }
        }
        let padded = input[i] + pb[i] + pe[i];
        if padded < span {
            return Err(Error::op(op, "kernel larger than padded input"));
        }
        let num = padded - span;
        out[i] = if ceil_mode {
            let mut o = num.div_ceil(strides[i]) + 1;
            // The last window must start inside the input or left padding.
            if (o - 1) * strides[i] >= input[i] + pb[i] {
                o -= 1;
            }
            o
        } else {
            num / strides[i] + 1
        };
    }
    Ok(Geometry {
        kernel,
        strides,
        dilations,
        pad_begin: pb,
        out,
    })
}

/// Input coordinate along one axis for output `o`, kernel tap `k`.
#[inline]
fn src(g: &Geometry, d: usize, o: usize, k: usize) -> isize {
    (o * g.strides[d] + k * g.dilations[d]) as isize - g.pad_begin[d] as isize
}

/// Activation fused into a `bazaar::Conv` by the optimiser.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Activation {
    None,
    Relu,
    /// Clip(min, max), e.g. ReLU6.
    Clip(f32, f32),
    LeakyRelu(f32),
}

impl Activation {
    fn of(node: &Node) -> Result<Self> {
        if node.domain != crate::optimize::FUSED_DOMAIN {
            return Ok(Activation::None);
        }
        Ok(match node.attr_s("activation", "")?.as_str() {
            "" => Activation::None,
            "Relu" => Activation::Relu,
            "Clip" => Activation::Clip(
                node.attr_f("activation_min", f32::NEG_INFINITY)?,
                node.attr_f("activation_max", f32::INFINITY)?,
            ),
            "LeakyRelu" => Activation::LeakyRelu(node.attr_f("activation_alpha", 0.01)?),
            a => return Err(Error::Unsupported(format!("fused activation {a}"))),
        })
    }

    fn apply(self, v: &mut [f32]) {
        match self {
            Activation::None => {}
            Activation::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
            Activation::Clip(lo, hi) => v.iter_mut().for_each(|x| *x = x.max(lo).min(hi)),
            Activation::LeakyRelu(a) => v
                .iter_mut()
                .for_each(|x| *x = if *x < 0.0 { *x * a } else { *x }),
        }
    }
}

thread_local! {
    /// im2col scratch, reused across calls so large column matrices are
    /// not freshly mapped (and page-faulted) on every convolution.
    static COLS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `items` split into up to `threads` contiguous parts, each
/// of whole `chunk`-sized pieces, on scoped threads.
fn par_chunks<F>(threads: usize, items: &mut [f32], chunk: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    let count = items.len() / chunk.max(1);
    let threads = if cfg!(target_arch = "wasm32") {
        1
    } else {
        threads.min(count).max(1)
    };
    if threads <= 1 || items.len() < 1 << 15 {
        for (i, c) in items.chunks_mut(chunk.max(1)).enumerate() {
            f(i, c);
        }
        return;
    }
    let per = count.div_ceil(threads);
    std::thread::scope(|s| {
        let f = &f;
        let mut parts = items.chunks_mut(per * chunk).enumerate();
        let first = parts.next();
        for (p, part) in parts {
            s.spawn(move || {
                for (i, c) in part.chunks_mut(chunk).enumerate() {
                    f(p * per + i, c);
                }
            });
        }
        if let Some((_, part)) = first {
            for (i, c) in part.chunks_mut(chunk).enumerate() {
                f(i, c);
            }
        }
    });
}

/// im2col of one 2-D input plane into `ksz` rows of `oh*ow` columns.
fn im2col_2d(plane: &[f32], (ih, iw): (usize, usize), g: &Geometry, dst: &mut [f32]) {
    let (kh, kw) = (g.kernel[0], g.kernel[1]);
    let (oh, ow) = (g.out[0], g.out[1]);
    let (sh, sw) = (g.strides[0], g.strides[1]);
    let (dh, dw) = (g.dilations[0], g.dilations[1]);
    let (ph, pw) = (g.pad_begin[0] as isize, g.pad_begin[1] as isize);
    let osz = oh * ow;
    for a in 0..kh {
        for b in 0..kw {
            let row = &mut dst[(a * kw + b) * osz..(a * kw + b + 1) * osz];
            let off_w = (b * dw) as isize - pw;
            // Output columns whose input column lies inside [0, iw).
            let lo = if off_w >= 0 {
                0
            } else {
                ((-off_w) as usize).div_ceil(sw)
            };
            let hi = if (iw as isize) <= off_w {
                0
            } else {
                ((iw as isize - off_w) as usize).div_ceil(sw).min(ow)
            };
            let lo = lo.min(hi);
            for y in 0..oh {
                let r = &mut row[y * ow..(y + 1) * ow];
                let yy = (y * sh + a * dh) as isize - ph;
                if yy < 0 || yy >= ih as isize {
                    r.fill(0.0);
                    continue;
                }
                let src = &plane[yy as usize * iw..(yy as usize + 1) * iw];
                r[..lo].fill(0.0);
                r[hi..].fill(0.0);
                if sw == 1 {
                    let s0 = (lo as isize + off_w) as usize;
                    r[lo..hi].copy_from_slice(&src[s0..s0 + (hi - lo)]);
                } else {
                    for (x, v) in r[lo..hi].iter_mut().enumerate() {
                        *v = src[(((lo + x) * sw) as isize + off_w) as usize];
                    }
                }
            }
        }
    }
}

pub fn conv(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let w = req(node, ins, 1)?;
    let b = opt(ins, 2);
    let act = Activation::of(node)?;
    if x.rank() < 3 || w.rank() != x.rank() {
        return Err(Error::op(
            "Conv",
            "expects N,C,spatial input and matching weight rank",
        ));
    }
    let (n, c) = (x.shape[0], x.shape[1]);
    let m = w.shape[0];
    let group = node.attr_i("group", 1)?;
    if group < 1 || c % group as usize != 0 || m % group as usize != 0 {
        return Err(Error::op("Conv", "invalid group"));
    }
    let group = group as usize;
    let cg = c / group;
    if w.shape[1] != cg {
        return Err(Error::op(
            "Conv",
            "weight channels do not match input/group",
        ));
    }
    let sp = &x.shape[2..];
    let g = geometry(node, sp, w.shape[2..].to_vec(), false)?;
    let mut oshape = vec![n, m];
    oshape.extend(&g.out);
    ctx.limits.check_shape(&oshape, 4)?;
    let (xv, wv) = (x.f32s("Conv")?, w.f32s("Conv")?);
    let ksz = numel(&g.kernel);
    // Bounds the tap table and the work below, not just the output.
    ctx.limits.check_shape(&[ksz, numel(&g.out), 16], 1)?;
    let osz = numel(&g.out);
    let isz = numel(sp);
    let rows = cg * ksz;
    ctx.limits.check_shape(&[rows, osz], 4)?;
    let mg = m / group;
    let bias = match b {
        Some(b) => {
            let bv = b.f32s("Conv")?;
            if bv.len() != m {
                return Err(Error::op(
                    "Conv",
                    "bias length differs from output channels",
                ));
            }
            Some(bv)
        }
        None => None,
    };
    // The GEMM adds the bias and applies Relu/Clip as it writes the output.
    let mut out = vec![0.0f32; numel(&oshape)];
    let (clamp, post) = match act {
        Activation::Relu => (Some((0.0, f32::INFINITY)), Activation::None),
        Activation::Clip(lo, hi) => (Some((lo, hi)), Activation::None),
        a => (None, a),
    };
    // A 1x1 kernel with unit strides and no padding reads the input as is.
    let direct = g.kernel.iter().all(|&k| k == 1)
        && g.strides.iter().all(|&s| s == 1)
        && g.pad_begin.iter().all(|&p| p == 0)
        && g.out.as_slice() == sp;
    let two_d = sp.len() == 2;
    // Generic N-d path: for every (kernel tap, output position), the input offset.
    let mut taps: Vec<Option<usize>> = Vec::new();
    if !direct && !two_d {
        let ist = strides(sp);
        taps.reserve(ksz * osz);
        for_each_multi(&g.kernel, |kk| {
            for_each_multi(&g.out, |oo| {
                let mut off = 0usize;
                let mut inside = true;
                for d in 0..sp.len() {
                    let s = src(&g, d, oo[d], kk[d]);
                    if s < 0 || s as usize >= sp[d] {
                        inside = false;
                        break;
                    }
                    off += s as usize * ist[d];
                }
                taps.push(inside.then_some(off));
            });
        });
    }
    COLS.with(|cols| -> Result<()> {
        let mut cols = cols.borrow_mut();
        if !direct && cols.len() < rows * osz {
            cols.resize(rows * osz, 0.0);
        }
        for bn in 0..n {
            for gi in 0..group {
                let base = (bn * c + gi * cg) * isz;
                let input = &xv[base..base + cg * isz];
                let bmat: &[f32] = if direct {
                    input
                } else {
                    let dst = &mut cols[..rows * osz];
                    par_chunks(ctx.threads, dst, ksz * osz, |ci, d| {
                        let plane = &input[ci * isz..(ci + 1) * isz];
                        if two_d {
                            im2col_2d(plane, (sp[0], sp[1]), &g, d);
                        } else {
                            for (v, tap) in d.iter_mut().zip(&taps) {
                                *v = tap.map_or(0.0, |o| plane[o]);
                            }
                        }
                    });
                    &cols[..rows * osz]
                };
                let wo = gi * mg * rows;
                let oo = (bn * m + gi * mg) * osz;
                par_sgemm_ep(
                    ctx.threads,
                    mg,
                    rows,
                    osz,
                    1.0,
                    &wv[wo..wo + mg * rows],
                    (rows, 1),
                    bmat,
                    (osz, 1),
                    0.0,
                    &mut out[oo..oo + mg * osz],
                    Epilogue {
                        row_bias: bias.map(|bv| &bv[gi * mg..(gi + 1) * mg]),
                        clamp,
                    },
                );
            }
        }
        Ok(())
    })?;
    post.apply(&mut out);
    Ok(vec![Tensor::new(oshape, Data::F32(out))?])
}

/// Strides, dilations, leading pads and output spatial size of a
/// ConvTranspose (explicit pads, auto_pad or output_shape).
#[allow(clippy::type_complexity)]
pub(crate) fn conv_transpose_geometry(
    node: &Node,
    sp: &[usize],
    kernel: &[usize],
) -> Result<(Vec<usize>, Vec<usize>, Vec<i64>, Vec<usize>)> {
    let k = sp.len();
    let st = positive(
        "ConvTranspose",
        node.attr_ints("strides")?.unwrap_or_else(|| vec![1; k]),
        "strides",
    )?;
    let dil = positive(
        "ConvTranspose",
        node.attr_ints("dilations")?.unwrap_or_else(|| vec![1; k]),
        "dilations",
    )?;
    let opad = node
        .attr_ints("output_padding")?
        .unwrap_or_else(|| vec![0; k]);
    let auto_pad = node.attr_s("auto_pad", "NOTSET")?;
    let out_shape_attr = node.attr_ints("output_shape")?;
    if st.len() != k || dil.len() != k || opad.len() != k {
        return Err(Error::op("ConvTranspose", "attribute rank mismatch"));
    }
    let bounded = |v: &[i64]| v.iter().all(|x| (0..=MAX_WINDOW_ATTR).contains(x));
    let pads_ok = node.attr_ints("pads")?.is_none_or(|p| bounded(&p));
    let shape_ok = out_shape_attr
        .as_ref()
        .is_none_or(|o| o.iter().all(|x| (0..=1 << 30).contains(x)));
    if !bounded(&opad)
        || !pads_ok
        || !shape_ok
        || kernel.iter().any(|&d| d as i64 > MAX_WINDOW_ATTR)
        || sp.iter().any(|&d| d > 1 << 30)
    {
        return Err(Error::op("ConvTranspose", "attribute out of range"));
    }
    let mut pb = vec![0i64; k];
    let mut out = vec![0usize; k];
    for i in 0..k {
        let full = (st[i] * (sp[i].max(1) - 1)) as i64
            + opad[i]
            + ((kernel[i].max(1) - 1) * dil[i] + 1) as i64;
        let target = match (&out_shape_attr, auto_pad.as_str()) {
            (Some(os), _) => Some(*os.get(os.len().saturating_sub(k) + i).unwrap_or(&0)),
            (None, "SAME_UPPER" | "SAME_LOWER") => Some((sp[i] * st[i]) as i64),
            _ => None,
        };
        match target {
            Some(t) => {
                if t < 0 {
                    return Err(Error::op("ConvTranspose", "negative output_shape"));
                }
                let total = (full - t).max(0);
                pb[i] = if auto_pad == "SAME_LOWER" {
                    total - total / 2
                } else {
                    total / 2
                };
                out[i] = t as usize;
            }
            None => {
                let p = node.attr_ints("pads")?.unwrap_or_else(|| vec![0; 2 * k]);
                if p.len() != 2 * k {
                    return Err(Error::op("ConvTranspose", "pads length"));
                }
                pb[i] = p[i];
                let o = full - p[i] - p[i + k];
                if o < 0 {
                    return Err(Error::op("ConvTranspose", "negative output size"));
                }
                out[i] = o as usize;
            }
        }
    }
    Ok((st, dil, pb, out))
}

pub fn conv_transpose(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let w = req(node, ins, 1)?;
    if x.rank() < 3 || w.rank() != x.rank() {
        return Err(Error::op("ConvTranspose", "expects N,C,spatial input"));
    }
    let (n, c) = (x.shape[0], x.shape[1]);
    let group = node.attr_i("group", 1)?.max(1) as usize;
    if c % group != 0 || w.shape[0] != c {
        return Err(Error::op("ConvTranspose", "weight/input channel mismatch"));
    }
    let cg = c / group;
    let mg = w.shape[1];
    let m = mg * group;
    let sp = &x.shape[2..];
    let k = sp.len();
    let kernel = w.shape[2..].to_vec();
    let (st, dil, pb, out) = conv_transpose_geometry(node, sp, &kernel)?;
    let mut oshape = vec![n, m];
    oshape.extend(&out);
    ctx.limits.check_shape(&oshape, 4)?;
    let (xv, wv) = (x.f32s("ConvTranspose")?, w.f32s("ConvTranspose")?);
    let isz = numel(sp);
    let ksz = numel(&kernel);
    let osz = numel(&out);
    let ost = strides(&out);
    let rows = mg * ksz;
    ctx.limits.check_shape(&[rows, isz], 4)?;
    let mut cols = vec![0.0f32; rows * isz];
    let mut res = vec![0.0f32; numel(&oshape)];
    for bn in 0..n {
        for gi in 0..group {
            // cols[mg*ksz, isz] = W_g^T [mg*ksz, cg] x X_g [cg, isz]
            let xo = (bn * c + gi * cg) * isz;
            let wo = gi * cg * rows;
            sgemm(
                rows,
                cg,
                isz,
                1.0,
                &wv[wo..wo + cg * rows],
                (1, rows),
                &xv[xo..xo + cg * isz],
                (isz, 1),
                0.0,
                &mut cols,
            );
            // col2im: scatter-add every tap into the output plane.
            let mut row = 0;
            for mi in 0..mg {
                let ob = (bn * m + gi * mg + mi) * osz;
                for_each_multi(&kernel, |kk| {
                    let mut p = 0;
                    for_each_multi(sp, |ii| {
                        let mut off = 0usize;
                        let mut inside = true;
                        for d in 0..k {
                            let o = (ii[d] * st[d] + kk[d] * dil[d]) as i64 - pb[d];
                            if o < 0 || o as usize >= out[d] {
                                inside = false;
                                break;
                            }
                            off += o as usize * ost[d];
                        }
                        if inside {
                            res[ob + off] += cols[row * isz + p];
                        }
                        p += 1;
                    });
                    row += 1;
                });
            }
        }
    }
    if let Some(b) = opt(ins, 2) {
        let bv = b.f32s("ConvTranspose")?;
        if bv.len() != m {
            return Err(Error::op("ConvTranspose", "bias length"));
        }
        for (i, chunk) in res.chunks_mut(osz.max(1)).enumerate() {
            chunk.iter_mut().for_each(|v| *v += bv[i % m]);
        }
    }
    Ok(vec![Tensor::new(oshape, Data::F32(res))?])
}

pub fn pool(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = node.op_type.as_str();
    // MaxPool (opset 12+) also takes 8-bit integers: float32 holds them
    // exactly and a maximum creates no new values, so compute there.
    if op == "MaxPool" && matches!(x.dtype(), DataType::I8 | DataType::U8) {
        let wide = super::misc::cast_tensor(x, DataType::F32);
        let mut outs = pool(ctx, node, &[Some(&wide)])?;
        outs[0] = super::misc::cast_tensor(&outs[0], x.dtype());
        return Ok(outs);
    }
    if x.rank() < 3 {
        return Err(Error::op(op, "expects N,C,spatial input"));
    }
    let kernel = positive(
        op,
        node.attr_ints("kernel_shape")?
            .ok_or_else(|| Error::op(op, "missing kernel_shape"))?,
        "kernel_shape",
    )?;
    let sp = &x.shape[2..];
    let ceil_mode = node.attr_i("ceil_mode", 0)? != 0;
    let g = geometry(node, sp, kernel, ceil_mode)?;
    ctx.limits
        .check_shape(&[numel(&g.kernel), numel(&g.out)], 1)?;
    let (n, c) = (x.shape[0], x.shape[1]);
    let mut oshape = vec![n, c];
    oshape.extend(&g.out);
    ctx.limits.check_shape(&oshape, 8)?;
    let xv = x.f32s(op)?;
    let isz = numel(sp);
    let ist = strides(sp);
    let include_pad = node.attr_i("count_include_pad", 0)? != 0;
    let p = node.attr_i("p", 2)? as f32;
    let col_major = node.attr_i("storage_order", 0)? != 0;
    // Column-major index strides for MaxPool's Indices output.
    let mut cst = vec![1usize; sp.len()];
    for d in 1..sp.len() {
        cst[d] = cst[d - 1] * sp[d - 1];
    }
    let pads = node.attr_ints("pads")?.unwrap_or_default();
    let mut out = Vec::with_capacity(numel(&oshape));
    let mut idx = Vec::with_capacity(numel(&oshape));
    let want_idx = op == "MaxPool" && node.outputs.len() > 1;
    if sp.len() == 2 && op != "LpPool" && !want_idx {
        pool_2d(
            xv,
            n * c,
            sp,
            &g,
            &pads,
            op == "MaxPool",
            include_pad,
            &mut out,
        );
        return Ok(vec![Tensor::new(oshape, Data::F32(out))?]);
    }
    for plane in 0..n * c {
        let xp = &xv[plane * isz..(plane + 1) * isz];
        for_each_multi(&g.out, |oo| {
            let (mut best, mut best_i) = (f32::NEG_INFINITY, 0usize);
            let (mut sum, mut cnt, mut padded_cnt) = (0.0f32, 0usize, 0usize);
            for_each_multi(&g.kernel, |kk| {
                let mut off = 0;
                let mut coff = 0;
                let mut inside = true;
                let mut in_pad_region = true;
                for d in 0..sp.len() {
                    let s = src(&g, d, oo[d], kk[d]);
                    let pe = pads.get(d + sp.len()).copied().unwrap_or(0) as isize;
                    if s < -(g.pad_begin[d] as isize) || s >= sp[d] as isize + pe {
                        in_pad_region = false;
                    }
                    if s < 0 || s as usize >= sp[d] {
                        inside = false;
                        continue;
                    }
                    off += s as usize * ist[d];
                    coff += s as usize * cst[d];
                }
                if in_pad_region {
                    padded_cnt += 1;
                }
                if inside {
                    let v = xp[off];
                    if v > best {
                        best = v;
                        best_i = if col_major { coff } else { off };
                    }
                    sum += if op == "LpPool" { v.abs().powf(p) } else { v };
                    cnt += 1;
                }
            });
            out.push(match op {
                "MaxPool" => best,
                "LpPool" => sum.powf(1.0 / p),
                _ => {
                    sum / if include_pad {
                        padded_cnt.max(1)
                    } else {
                        cnt.max(1)
                    } as f32
                }
            });
            idx.push((plane * isz + best_i) as i64);
        });
    }
    let mut res = vec![Tensor::new(oshape.clone(), Data::F32(out))?];
    if op == "MaxPool" && node.outputs.len() > 1 {
        res.push(Tensor::new(oshape, Data::I64(idx))?);
    }
    Ok(res)
}

/// 2-D MaxPool / AveragePool without an Indices output: plain loops with
/// the valid kernel window clipped per output position.
#[allow(clippy::too_many_arguments)]
fn pool_2d(
    xv: &[f32],
    planes: usize,
    sp: &[usize],
    g: &Geometry,
    pads: &[i64],
    max: bool,
    include_pad: bool,
    out: &mut Vec<f32>,
) {
    let (ih, iw) = (sp[0] as isize, sp[1] as isize);
    let (oh, ow) = (g.out[0], g.out[1]);
    let (kh, kw) = (g.kernel[0] as isize, g.kernel[1] as isize);
    let (sh, sw) = (g.strides[0] as isize, g.strides[1] as isize);
    let (dh, dw) = (g.dilations[0] as isize, g.dilations[1] as isize);
    let (ph, pw) = (g.pad_begin[0] as isize, g.pad_begin[1] as isize);
    let pe = |d: usize| pads.get(d + 2).copied().unwrap_or(0) as isize;
    let (peh, pew) = (pe(0), pe(1));
    // Taps along one axis: (first valid input index, valid taps, taps
    // inside the padded extent); valid taps are consecutive, `d` apart.
    let axis = |o: usize, s: isize, d: isize, k: isize, p: isize, len: isize, pend: isize| {
        let (mut first, mut valid, mut padded) = (0usize, 0usize, 0usize);
        for t in 0..k {
            let x = o as isize * s + t * d - p;
            if x >= -p && x < len + pend {
                padded += 1;
            }
            if x >= 0 && x < len {
                if valid == 0 {
                    first = x as usize;
                }
                valid += 1;
            }
        }
        (first, valid, padded)
    };
    let rows: Vec<(usize, usize, usize)> =
        (0..oh).map(|y| axis(y, sh, dh, kh, ph, ih, peh)).collect();
    let cols: Vec<(usize, usize, usize)> =
        (0..ow).map(|x| axis(x, sw, dw, kw, pw, iw, pew)).collect();
    // For each kernel column tap, the output columns whose input column is
    // inside the image: [lo, hi), reading from input column `s0` on.
    let taps: Vec<(usize, usize, usize)> = (0..kw)
        .map(|t| {
            let off = t * dw - pw;
            let lo = if off >= 0 {
                0
            } else {
                (-off as usize).div_ceil(sw as usize)
            };
            let hi = if iw <= off {
                0
            } else {
                ((iw - off) as usize).div_ceil(sw as usize).min(ow)
            };
            let lo = lo.min(hi);
            (lo, hi, (lo as isize * sw + off).max(0) as usize)
        })
        .collect();
    let (iw, dh, sw) = (iw as usize, dh as usize, sw as usize);
    let isz = ih as usize * iw;
    let mut acc = vec![0.0f32; ow];
    if max {
        // Separable: the column maxima over the window's rows first
        // (contiguous, vectorised), then the kw taps along each row.
        let mut vm = vec![0.0f32; iw];
        let dwu = dw as usize;
        let fold = |a: &mut [f32], r: &[f32]| {
            a.iter_mut()
                .zip(r)
                .for_each(|(a, &v)| *a = if v > *a { v } else { *a })
        };
        for plane in xv.chunks(isz.max(1)).take(planes) {
            for &(y0, ny, _) in &rows {
                vm.fill(f32::NEG_INFINITY);
                for j in 0..ny {
                    fold(&mut vm, &plane[(y0 + j * dh) * iw..(y0 + j * dh + 1) * iw]);
                }
                if ny == 0 {
                    acc.fill(f32::NEG_INFINITY);
                    out.extend_from_slice(&acc);
                    continue;
                }
                // One pass per output column over its valid taps. `f32::max`
                // ignores NaN like the fold above and compiles branch-free
                // (a compare-and-select became unpredictable jumps).
                let mx = f32::max;
                for (a, &(x0, nx, _)) in acc.iter_mut().zip(&cols) {
                    *a = if nx == 3 && dwu == 1 {
                        let w = &vm[x0..x0 + 3];
                        mx(mx(mx(f32::NEG_INFINITY, w[0]), w[1]), w[2])
                    } else {
                        (0..nx).fold(f32::NEG_INFINITY, |m, j| mx(m, vm[x0 + j * dwu]))
                    };
                }
                out.extend_from_slice(&acc);
            }
        }
        return;
    }
    for plane in xv.chunks(isz.max(1)).take(planes) {
        for &(y0, ny, py) in &rows {
            acc.fill(0.0);
            for j in 0..ny {
                let r = &plane[(y0 + j * dh) * iw..(y0 + j * dh + 1) * iw];
                for &(lo, hi, s0) in &taps {
                    if hi == lo {
                        continue;
                    }
                    let a = &mut acc[lo..hi];
                    let src = &r[s0..=s0 + (hi - lo - 1) * sw];
                    for (i, a) in a.iter_mut().enumerate() {
                        *a += src[i * sw];
                    }
                }
            }
            out.extend(acc.iter().zip(&cols).map(|(&a, &(_, nx, px))| {
                let cnt = if include_pad { py * px } else { ny * nx };
                a / cnt.max(1) as f32
            }));
        }
    }
}

pub fn global_pool(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = node.op_type.as_str();
    if x.rank() < 2 {
        return Err(Error::op(op, "expects N,C,... input"));
    }
    let xv = x.f32s(op)?;
    let isz = numel(&x.shape[2..]);
    let p = node.attr_i("p", 2)? as f32;
    let out: Vec<f32> = xv
        .chunks(isz.max(1))
        .take(x.shape[0] * x.shape[1])
        .map(|ch| match op {
            "GlobalMaxPool" => ch.iter().cloned().fold(f32::NEG_INFINITY, f32::max),
            "GlobalLpPool" => ch
                .iter()
                .map(|v| v.abs().powf(p))
                .sum::<f32>()
                .powf(1.0 / p),
            _ => ch.iter().sum::<f32>() / ch.len().max(1) as f32,
        })
        .collect();
    let mut shape = x.shape.clone();
    shape[2..].iter_mut().for_each(|d| *d = 1);
    Ok(vec![Tensor::new(shape, Data::F32(out))?])
}

fn channel_param<'a>(op: &str, t: &'a Tensor, c: usize) -> Result<&'a [f32]> {
    let v = t.f32s(op)?;
    if v.len() != c {
        return Err(Error::op(
            op,
            format!("per-channel parameter has {} values, expected {c}", v.len()),
        ));
    }
    Ok(v)
}

pub fn batch_norm(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    if node.attr_i("training_mode", 0)? != 0 {
        return Err(Error::Unsupported(
            "BatchNormalization training mode".into(),
        ));
    }
    if x.rank() < 2 {
        return Err(Error::op("BatchNormalization", "rank < 2"));
    }
    let c = x.shape[1];
    let op = "BatchNormalization";
    let scale = channel_param(op, req(node, ins, 1)?, c)?;
    let bias = channel_param(op, req(node, ins, 2)?, c)?;
    let mean = channel_param(op, req(node, ins, 3)?, c)?;
    let var = channel_param(op, req(node, ins, 4)?, c)?;
    let eps = node.attr_f("epsilon", 1e-5)?;
    let isz = numel(&x.shape[2..]);
    let mut out = x.f32s(op)?.to_vec();
    for (i, ch) in out.chunks_mut(isz.max(1)).enumerate() {
        let k = i % c;
        let a = scale[k] / (var[k] + eps).sqrt();
        let b = bias[k] - mean[k] * a;
        ch.iter_mut().for_each(|v| *v = *v * a + b);
    }
    Ok(vec![Tensor::new(x.shape.clone(), Data::F32(out))?])
}

/// Normalises each contiguous group of `d` values; returns (mean, inv_std).
fn normalize_groups(v: &mut [f32], d: usize, eps: f64) -> (Vec<f32>, Vec<f32>) {
    let mut means = Vec::new();
    let mut invs = Vec::new();
    for g in v.chunks_mut(d.max(1)) {
        let mean = g.iter().map(|&x| x as f64).sum::<f64>() / d as f64;
        let var = g.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (var + eps).sqrt();
        g.iter_mut()
            .for_each(|x| *x = ((*x as f64 - mean) * inv) as f32);
        means.push(mean as f32);
        invs.push(inv as f32);
    }
    (means, invs)
}

pub fn instance_norm(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = "InstanceNormalization";
    if x.rank() < 3 {
        return Err(Error::op(op, "rank < 3"));
    }
    let c = x.shape[1];
    let scale = channel_param(op, req(node, ins, 1)?, c)?;
    let bias = channel_param(op, req(node, ins, 2)?, c)?;
    let eps = node.attr_f("epsilon", 1e-5)? as f64;
    let isz = numel(&x.shape[2..]);
    let mut out = x.f32s(op)?.to_vec();
    normalize_groups(&mut out, isz, eps);
    for (i, ch) in out.chunks_mut(isz.max(1)).enumerate() {
        let k = i % c;
        ch.iter_mut().for_each(|v| *v = *v * scale[k] + bias[k]);
    }
    Ok(vec![Tensor::new(x.shape.clone(), Data::F32(out))?])
}

pub fn layer_norm(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = "LayerNormalization";
    let axis = norm_axis(op, node.attr_i("axis", -1)?, x.rank())?;
    let eps = node.attr_f("epsilon", 1e-5)? as f64;
    let d = numel(&x.shape[axis..]);
    let mut out = x.f32s(op)?.to_vec();
    let (mean, inv) = normalize_groups(&mut out, d, eps);
    let norm_shape = &x.shape[axis..];
    let apply = |v: Vec<f32>, t: &Tensor, f: fn(f32, f32) -> f32| -> Result<Vec<f32>> {
        let (r, _) =
            super::broadcast::binary(op, ctx.limits, &v, &x.shape, t.f32s(op)?, &t.shape, f)?;
        Ok(r)
    };
    let scale = req(node, ins, 1)?;
    if numel(&scale.shape) != d && scale.len() != 1 {
        return Err(Error::op(
            op,
            format!("scale {:?} does not fit {norm_shape:?}", scale.shape),
        ));
    }
    let bias = opt(ins, 2);
    let sv = scale.f32s(op)?;
    // Shapes equal up to leading 1s map element for element onto a row.
    let strip = |s: &[usize]| s[s.iter().take_while(|&&d| d == 1).count()..].to_vec();
    let per_row = |t: &Tensor| strip(&t.shape) == strip(norm_shape);
    match bias.map(|b| b.f32s(op)).transpose()? {
        // The usual case: scale and bias hold one value per normalised element.
        Some(bv) if per_row(scale) && bias.is_some_and(per_row) && x.rank() >= scale.rank() => {
            for row in out.chunks_mut(d.max(1)) {
                for ((x, &s), &b) in row.iter_mut().zip(sv).zip(bv) {
                    *x = *x * s + b;
                }
            }
        }
        None if per_row(scale) && x.rank() >= scale.rank() => {
            for row in out.chunks_mut(d.max(1)) {
                row.iter_mut().zip(sv).for_each(|(x, &s)| *x *= s);
            }
        }
        _ => {
            out = apply(out, scale, |a, b| a * b)?;
            if let Some(b) = bias {
                out = apply(out, b, |a, b| a + b)?;
            }
        }
    }
    let mut stat_shape = x.shape[..axis].to_vec();
    stat_shape.extend(std::iter::repeat_n(1, x.rank() - axis));
    Ok(vec![
        Tensor::new(x.shape.clone(), Data::F32(out))?,
        Tensor::new(stat_shape.clone(), Data::F32(mean))?,
        Tensor::new(stat_shape, Data::F32(inv))?,
    ])
}

pub fn mvn(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = "MeanVarianceNormalization";
    let axes: Vec<usize> = node
        .attr_ints("axes")?
        .unwrap_or_else(|| vec![0, 2, 3])
        .iter()
        .map(|&a| norm_axis(op, a, x.rank()))
        .collect::<Result<_>>()?;
    let xv = x.f32s(op)?;
    let red: Vec<bool> = (0..x.rank()).map(|d| axes.contains(&d)).collect();
    let kept: Vec<usize> = x
        .shape
        .iter()
        .zip(&red)
        .map(|(&d, &r)| if r { 1 } else { d })
        .collect();
    let kst = strides(&kept);
    let cnt = (x.len() / numel(&kept).max(1)) as f64;
    let oi = |m: &[usize]| -> usize {
        m.iter()
            .zip(&red)
            .zip(&kst)
            .map(|((&i, &r), &s)| if r { 0 } else { i * s })
            .sum()
    };
    let mut sum = vec![0.0f64; numel(&kept)];
    let mut sq = vec![0.0f64; numel(&kept)];
    let mut k = 0;
    for_each_multi(&x.shape, |m| {
        let o = oi(m);
        sum[o] += xv[k] as f64;
        sq[o] += (xv[k] as f64).powi(2);
        k += 1;
    });
    let mut out = Vec::with_capacity(x.len());
    let mut k = 0;
    for_each_multi(&x.shape, |m| {
        let o = oi(m);
        let mean = sum[o] / cnt;
        let var = (sq[o] / cnt - mean * mean).max(0.0);
        out.push(((xv[k] as f64 - mean) / (var.sqrt() + 1e-9)) as f32);
        k += 1;
    });
    Ok(vec![Tensor::new(x.shape.clone(), Data::F32(out))?])
}

pub fn lrn(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    if x.rank() < 3 {
        return Err(Error::op("LRN", "rank < 3"));
    }
    let size = node.attr_i("size", 1)?.max(1) as usize;
    let alpha = node.attr_f("alpha", 1e-4)?;
    let beta = node.attr_f("beta", 0.75)?;
    let bias = node.attr_f("bias", 1.0)?;
    let (n, c) = (x.shape[0], x.shape[1]);
    let isz = numel(&x.shape[2..]);
    let xv = x.f32s("LRN")?;
    let lo = (size - 1) / 2;
    let hi = size - 1 - lo;
    let mut out = vec![0.0f32; xv.len()];
    for b in 0..n {
        for ch in 0..c {
            let (s, e) = (ch.saturating_sub(lo), (ch + hi).min(c - 1));
            for p in 0..isz {
                let sq: f32 = (s..=e).map(|j| xv[(b * c + j) * isz + p].powi(2)).sum();
                let i = (b * c + ch) * isz + p;
                out[i] = xv[i] / (bias + alpha / size as f32 * sq).powf(beta);
            }
        }
    }
    Ok(vec![Tensor::new(x.shape.clone(), Data::F32(out))?])
}

/// LpNormalization: x / ||x||_p along one axis (p = 1 or 2).
pub fn lp_norm(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let axis = norm_axis("LpNormalization", node.attr_i("axis", -1)?, x.rank())?;
    let p = node.attr_i("p", 2)?;
    if p != 1 && p != 2 {
        return Err(Error::op("LpNormalization", "p must be 1 or 2"));
    }
    let v = x.f32s("LpNormalization")?;
    let (dim, inner) = (x.shape[axis], numel(&x.shape[axis + 1..]));
    let outer = numel(&x.shape[..axis]);
    let mut out = v.to_vec();
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| (o * dim + j) * inner + i;
            let n: f32 = if p == 1 {
                (0..dim).map(|j| v[at(j)].abs()).sum()
            } else {
                (0..dim).map(|j| v[at(j)].powi(2)).sum::<f32>().sqrt()
            };
            for j in 0..dim {
                out[at(j)] = if n == 0.0 { 0.0 } else { v[at(j)] / n };
            }
        }
    }
    Ok(vec![Tensor::new(x.shape.clone(), Data::F32(out))?])
}

/// RMSNormalization: x / sqrt(mean(x^2 over axes [axis, rank)) + eps) * scale.
pub fn rms_norm(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = "RMSNormalization";
    let axis = norm_axis(op, node.attr_i("axis", -1)?, x.rank())?;
    let eps = node.attr_f("epsilon", 1e-5)? as f64;
    let d = numel(&x.shape[axis..]);
    let mut out = x.f32s(op)?.to_vec();
    for g in out.chunks_mut(d.max(1)) {
        let ms = g.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (ms + eps).sqrt();
        g.iter_mut().for_each(|v| *v = (*v as f64 * inv) as f32);
    }
    let scale = req(node, ins, 1)?;
    let (r, _) = super::broadcast::binary(
        op,
        ctx.limits,
        &out,
        &x.shape,
        scale.f32s(op)?,
        &scale.shape,
        |a, b| a * b,
    )?;
    Ok(vec![Tensor::new(x.shape.clone(), Data::F32(r))?])
}

/// GroupNormalization: statistics per (batch, group); scale and bias per
/// channel (opset 21) or per group (opset 18).
pub fn group_norm(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let x = req(node, ins, 0)?;
    let op = "GroupNormalization";
    if x.rank() < 2 {
        return Err(Error::op(op, "rank < 2"));
    }
    let (n, c) = (x.shape[0], x.shape[1]);
    let groups = node.attr_i("num_groups", 0)?;
    if groups < 1 || c % groups as usize != 0 {
        return Err(Error::op(op, "num_groups must divide the channels"));
    }
    let groups = groups as usize;
    let sp = numel(&x.shape[2..]);
    let eps = node.attr_f("epsilon", 1e-5)? as f64;
    let mut out = x.f32s(op)?.to_vec();
    normalize_groups(&mut out, (c / groups) * sp, eps);
    let (scale, bias) = (req(node, ins, 1)?.f32s(op)?, req(node, ins, 2)?.f32s(op)?);
    let per_group = scale.len() == groups && groups != c;
    if (!per_group && scale.len() != c) || bias.len() != scale.len() {
        return Err(Error::op(op, "scale/bias length"));
    }
    for (i, ch) in out.chunks_mut(sp.max(1)).enumerate().take(n * c) {
        let k = if per_group {
            (i % c) / (c / groups)
        } else {
            i % c
        };
        ch.iter_mut().for_each(|v| *v = *v * scale[k] + bias[k]);
    }
    Ok(vec![Tensor::new(x.shape.clone(), Data::F32(out))?])
}
