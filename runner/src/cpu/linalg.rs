//! MatMul, Gemm and Einsum. Dense products go through a packed SIMD GEMM
//! (AVX2 on x86-64, SIMD128 in wasm), else `matrixmultiply`; arbitrary
//! strides give transposes for free.

use super::broadcast::{broadcast_shapes, broadcast_strides, for_each_index};
use super::{opt, req, Ctx};
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::{numel, Data, Tensor};

/// Work done as the GEMM writes C: a per-row bias added once, then a
/// clamp (Relu is `(0, inf)`, Clip its bounds).
#[derive(Clone, Copy, Default)]
pub(crate) struct Epilogue<'a> {
    /// One value per row of C, added to the product.
    pub row_bias: Option<&'a [f32]>,
    pub clamp: Option<(f32, f32)>,
}

/// C[m,n] = alpha * A[m,k] * B[k,n] + beta * C, with element strides;
/// C is row-major with row stride `n`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    sa: (usize, usize),
    b: &[f32],
    sb: (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    par_sgemm(1, m, k, n, alpha, a, sa, b, sb, beta, c)
}

/// Smallest product (multiply-adds) worth splitting over threads: below
/// it, spawning costs more than it saves.
const PAR_MIN_MACS: usize = 1 << 19;

/// A pointer to C that scoped workers may share: each writes a disjoint
/// set of columns.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: workers write disjoint column ranges of the same matrix and the
// scope joins them before the owning borrow ends.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

/// Packed-panel SGEMM around a register-blocked SIMD micro-kernel: B is
/// packed in strips of `NR` columns, A in strips of `MR` rows (zero-padded;
/// row-major A is read in place), and the kernel computes each `MR x NR`
/// block of C; Goto/BLIS loop order with KC x NC panels of B and MC x KC
/// blocks of A, buffers reused per thread.
#[cfg(any(
    test,
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod packed {
    /// A micro-kernel and the blocking that suits its register tile.
    pub(super) trait Kernel {
        const MR: usize;
        const NR: usize;
        const KC: usize;
        const MC: usize;
        const NC: usize;

        /// C[0..mr, 0..nr] = alpha * A * Bp + bias + beta * C (C untouched
        /// by beta when beta is 0), then clamped, for one `MR`-row strip of
        /// A (element (r, k) at `a + r * ars + k * aks`; rows beyond `mr`
        /// may be read, never used) and one packed `NR`-column strip of B.
        #[allow(clippy::too_many_arguments)]
        unsafe fn tile(
            kc: usize,
            a: *const f32,
            a_strides: (usize, usize),
            b: *const f32,
            c: *mut f32,
            rsc: usize,
            alpha: f32,
            beta: f32,
            size: (usize, usize),
            bias: Option<*const f32>,
            clamp: Option<(f32, f32)>,
        );
    }

    thread_local! {
        static PACK: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
            const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }

    /// Packs rows 0..mc, columns 0..kc of A into `MR`-row strips laid out
    /// k-major (`[strip][k][r]`), zero-padding the last strip.
    unsafe fn pack_a<K: Kernel>(
        mc: usize,
        kc: usize,
        a: *const f32,
        rsa: usize,
        csa: usize,
        dst: &mut [f32],
    ) {
        for (s, strip) in dst
            .chunks_mut(K::MR * kc)
            .take(mc.div_ceil(K::MR))
            .enumerate()
        {
            let r0 = s * K::MR;
            let rows = K::MR.min(mc - r0);
            if rows < K::MR {
                strip.fill(0.0);
            }
            for r in 0..rows {
                let src = a.add((r0 + r) * rsa);
                for kk in 0..kc {
                    *strip.get_unchecked_mut(kk * K::MR + r) = *src.add(kk * csa);
                }
            }
        }
    }

    /// Packs rows 0..kc, columns 0..nc of B into `NR`-column strips laid
    /// out `[strip][k][c]`, zero-padding the last strip. Row-major B is
    /// read row by row (sequential, so the prefetcher streams it from
    /// memory: weights are usually cold) and scattered into the strips.
    unsafe fn pack_b<K: Kernel>(
        kc: usize,
        nc: usize,
        b: *const f32,
        rsb: usize,
        csb: usize,
        dst: &mut [f32],
    ) {
        let nr = K::NR;
        let full = nc / nr;
        let tail = nc % nr;
        if csb == 1 {
            let d = dst.as_mut_ptr();
            for kk in 0..kc {
                let src = b.add(kk * rsb);
                for s in 0..full {
                    std::ptr::copy_nonoverlapping(
                        src.add(s * nr),
                        d.add(s * nr * kc + kk * nr),
                        nr,
                    );
                }
                if tail > 0 {
                    let row = std::slice::from_raw_parts_mut(d.add(full * nr * kc + kk * nr), nr);
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = if j < tail {
                            *src.add(full * nr + j)
                        } else {
                            0.0
                        };
                    }
                }
            }
            return;
        }
        for (s, strip) in dst.chunks_mut(nr * kc).take(nc.div_ceil(nr)).enumerate() {
            let c0 = s * nr;
            let cols = nr.min(nc - c0);
            for kk in 0..kc {
                let row = &mut strip[kk * nr..(kk + 1) * nr];
                for (j, v) in row.iter_mut().enumerate() {
                    *v = if j < cols {
                        *b.add(kk * rsb + (c0 + j) * csb)
                    } else {
                        0.0
                    };
                }
            }
        }
    }

    /// Same contract as `matrixmultiply::sgemm` with a unit column stride
    /// for C; the caller proves every access in bounds and that `K` runs
    /// on this CPU.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn sgemm<K: Kernel>(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        (rsa, csa): (usize, usize),
        b: *const f32,
        (rsb, csb): (usize, usize),
        beta: f32,
        c: *mut f32,
        rsc: usize,
        ep: super::Epilogue,
    ) {
        let (mr_, nr_) = (K::MR, K::NR);
        PACK.with(|p| {
            let mut p = p.borrow_mut();
            let (ap, bp) = &mut *p;
            let need_a = K::MC.min(m.next_multiple_of(mr_)) * K::KC.min(k);
            let need_b = K::KC.min(k) * K::NC.min(n.next_multiple_of(nr_));
            if ap.len() < need_a {
                ap.resize(need_a, 0.0);
            }
            if bp.len() < need_b {
                bp.resize(need_b, 0.0);
            }
            for jc in (0..n).step_by(K::NC) {
                let nc = K::NC.min(n - jc);
                for pc in (0..k).step_by(K::KC) {
                    let kc = K::KC.min(k - pc);
                    pack_b::<K>(kc, nc, b.add(pc * rsb + jc * csb), rsb, csb, bp);
                    let (first, last) = (pc == 0, pc + kc == k);
                    let beta = if first { beta } else { 1.0 };
                    let clamp = if last { ep.clamp } else { None };
                    for ic in (0..m).step_by(K::MC) {
                        let mc = K::MC.min(m - ic);
                        // Row-major A is read in place (`MR` row streams);
                        // only a partial last strip is packed, zero-padded.
                        let a0 = a.add(ic * rsa + pc * csa);
                        if csa != 1 {
                            pack_a::<K>(mc, kc, a0, rsa, csa, ap);
                        } else if !mc.is_multiple_of(mr_) {
                            let r0 = mc - mc % mr_;
                            pack_a::<K>(mc % mr_, kc, a0.add(r0 * rsa), rsa, csa, ap);
                        }
                        for jr in (0..nc).step_by(nr_) {
                            let nr = nr_.min(nc - jr);
                            for ir in (0..mc).step_by(mr_) {
                                let mr = mr_.min(mc - ir);
                                let (ak, astr) = if csa != 1 {
                                    (ap.as_ptr().add(ir * kc), (1, mr_))
                                } else if mr < mr_ {
                                    (ap.as_ptr(), (1, mr_))
                                } else {
                                    (a0.add(ir * rsa), (rsa, 1))
                                };
                                K::tile(
                                    kc,
                                    ak,
                                    astr,
                                    bp.as_ptr().add(jr * kc),
                                    c.add((ic + ir) * rsc + jc + jr),
                                    rsc,
                                    alpha,
                                    beta,
                                    (mr, nr),
                                    ep.row_bias
                                        .filter(|_| first)
                                        .map(|b| b.as_ptr().add(ic + ir)),
                                    clamp,
                                );
                            }
                        }
                    }
                }
            }
        })
    }
}

/// The micro-kernel for x86-64 CPUs with AVX2 and FMA: a 6x16 register
/// tile (12 accumulators, 2 loads and 6 broadcasts per 12 FMAs).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    pub(super) struct Avx2;

    pub(super) fn available() -> bool {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }

    /// Columns per tile: two 8-lane vectors.
    const NR: usize = 16;

    impl super::packed::Kernel for Avx2 {
        const MR: usize = 6;
        const NR: usize = NR;
        const KC: usize = 384;
        const MC: usize = 144;
        const NC: usize = 512;

        unsafe fn tile(
            kc: usize,
            a: *const f32,
            a_strides: (usize, usize),
            b: *const f32,
            c: *mut f32,
            rsc: usize,
            alpha: f32,
            beta: f32,
            size: (usize, usize),
            bias: Option<*const f32>,
            clamp: Option<(f32, f32)>,
        ) {
            kernel(kc, a, a_strides, b, c, rsc, alpha, beta, size, bias, clamp)
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel(
        kc: usize,
        a: *const f32,
        (ars, aks): (usize, usize),
        b: *const f32,
        c: *mut f32,
        rsc: usize,
        alpha: f32,
        beta: f32,
        (mr, nr): (usize, usize),
        bias: Option<*const f32>,
        clamp: Option<(f32, f32)>,
    ) {
        // Twelve named accumulators and six row pointers: with an array
        // indexed in a loop LLVM rotated the accumulators through spare
        // registers every step (a dozen extra moves per 12 FMAs).
        let z = _mm256_setzero_ps();
        let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
        let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
        let (a0, a1, a2) = (a, a.add(ars), a.add(2 * ars));
        let (a3, a4, a5) = (a.add(3 * ars), a.add(4 * ars), a.add(5 * ars));
        let mut b = b;
        let mut off = 0usize;
        for _ in 0..kc {
            let b0 = _mm256_loadu_ps(b);
            let b1 = _mm256_loadu_ps(b.add(8));
            let x = _mm256_broadcast_ss(&*a0.add(off));
            c00 = _mm256_fmadd_ps(x, b0, c00);
            c01 = _mm256_fmadd_ps(x, b1, c01);
            let x = _mm256_broadcast_ss(&*a1.add(off));
            c10 = _mm256_fmadd_ps(x, b0, c10);
            c11 = _mm256_fmadd_ps(x, b1, c11);
            let x = _mm256_broadcast_ss(&*a2.add(off));
            c20 = _mm256_fmadd_ps(x, b0, c20);
            c21 = _mm256_fmadd_ps(x, b1, c21);
            let x = _mm256_broadcast_ss(&*a3.add(off));
            c30 = _mm256_fmadd_ps(x, b0, c30);
            c31 = _mm256_fmadd_ps(x, b1, c31);
            let x = _mm256_broadcast_ss(&*a4.add(off));
            c40 = _mm256_fmadd_ps(x, b0, c40);
            c41 = _mm256_fmadd_ps(x, b1, c41);
            let x = _mm256_broadcast_ss(&*a5.add(off));
            c50 = _mm256_fmadd_ps(x, b0, c50);
            c51 = _mm256_fmadd_ps(x, b1, c51);
            off += aks;
            b = b.add(NR);
        }
        let mut acc = [
            [c00, c01],
            [c10, c11],
            [c20, c21],
            [c30, c31],
            [c40, c41],
            [c50, c51],
        ];
        let va = _mm256_set1_ps(alpha);
        for (r, row) in acc.iter_mut().enumerate().take(mr) {
            for v in row.iter_mut() {
                if alpha != 1.0 {
                    *v = _mm256_mul_ps(*v, va);
                }
                if let Some(b) = bias {
                    *v = _mm256_add_ps(*v, _mm256_set1_ps(*b.add(r)));
                }
            }
        }
        // Partial tiles (the last rows of M, the last columns of N) are
        // written with the same vector code: rows beyond `mr` are skipped
        // and columns beyond `nr` masked off.
        let vb = _mm256_set1_ps(beta);
        let full = nr == NR;
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let masks = [
            _mm256_cmpgt_epi32(_mm256_set1_epi32(nr as i32), lane),
            _mm256_cmpgt_epi32(_mm256_set1_epi32(nr as i32 - 8), lane),
        ];
        for (r, row) in acc.iter().enumerate().take(mr) {
            let cp = c.add(r * rsc);
            for (h, &v) in row.iter().enumerate() {
                let p = cp.add(8 * h);
                let mut v = v;
                if beta != 0.0 {
                    let old = if full {
                        _mm256_loadu_ps(p)
                    } else {
                        _mm256_maskload_ps(p, masks[h])
                    };
                    v = if beta == 1.0 {
                        _mm256_add_ps(v, old)
                    } else {
                        _mm256_fmadd_ps(vb, old, v)
                    };
                }
                if let Some((lo, hi)) = clamp {
                    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
                }
                if full {
                    _mm256_storeu_ps(p, v);
                } else {
                    _mm256_maskstore_ps(p, masks[h], v);
                }
            }
        }
    }
}

/// The micro-kernel for x86-64 CPUs with AVX-512F: the AVX2 kernel's 6-row
/// tile at twice the width (6x32: 12 accumulators in zmm registers, 2 loads
/// and 6 broadcasts per 12 FMAs of 16 lanes), with mask registers for the
/// last columns of N.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    pub(super) struct Avx512;

    pub(super) fn available() -> bool {
        std::is_x86_feature_detected!("avx512f")
    }

    /// Columns per tile: two 16-lane vectors.
    const NR: usize = 32;

    impl super::packed::Kernel for Avx512 {
        const MR: usize = 6;
        const NR: usize = NR;
        const KC: usize = 256;
        const MC: usize = 144;
        const NC: usize = 512;

        unsafe fn tile(
            kc: usize,
            a: *const f32,
            a_strides: (usize, usize),
            b: *const f32,
            c: *mut f32,
            rsc: usize,
            alpha: f32,
            beta: f32,
            size: (usize, usize),
            bias: Option<*const f32>,
            clamp: Option<(f32, f32)>,
        ) {
            kernel(kc, a, a_strides, b, c, rsc, alpha, beta, size, bias, clamp)
        }
    }

    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel(
        kc: usize,
        a: *const f32,
        (ars, aks): (usize, usize),
        b: *const f32,
        c: *mut f32,
        rsc: usize,
        alpha: f32,
        beta: f32,
        (mr, nr): (usize, usize),
        bias: Option<*const f32>,
        clamp: Option<(f32, f32)>,
    ) {
        // Named accumulators, as in the AVX2 kernel, so they stay in registers.
        let z = _mm512_setzero_ps();
        let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
        let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
        let (a0, a1, a2) = (a, a.add(ars), a.add(2 * ars));
        let (a3, a4, a5) = (a.add(3 * ars), a.add(4 * ars), a.add(5 * ars));
        let mut b = b;
        let mut off = 0usize;
        for _ in 0..kc {
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.add(16));
            let x = _mm512_set1_ps(*a0.add(off));
            c00 = _mm512_fmadd_ps(x, b0, c00);
            c01 = _mm512_fmadd_ps(x, b1, c01);
            let x = _mm512_set1_ps(*a1.add(off));
            c10 = _mm512_fmadd_ps(x, b0, c10);
            c11 = _mm512_fmadd_ps(x, b1, c11);
            let x = _mm512_set1_ps(*a2.add(off));
            c20 = _mm512_fmadd_ps(x, b0, c20);
            c21 = _mm512_fmadd_ps(x, b1, c21);
            let x = _mm512_set1_ps(*a3.add(off));
            c30 = _mm512_fmadd_ps(x, b0, c30);
            c31 = _mm512_fmadd_ps(x, b1, c31);
            let x = _mm512_set1_ps(*a4.add(off));
            c40 = _mm512_fmadd_ps(x, b0, c40);
            c41 = _mm512_fmadd_ps(x, b1, c41);
            let x = _mm512_set1_ps(*a5.add(off));
            c50 = _mm512_fmadd_ps(x, b0, c50);
            c51 = _mm512_fmadd_ps(x, b1, c51);
            off += aks;
            b = b.add(NR);
        }
        let mut acc = [
            [c00, c01],
            [c10, c11],
            [c20, c21],
            [c30, c31],
            [c40, c41],
            [c50, c51],
        ];
        let va = _mm512_set1_ps(alpha);
        for (r, row) in acc.iter_mut().enumerate().take(mr) {
            for v in row.iter_mut() {
                if alpha != 1.0 {
                    *v = _mm512_mul_ps(*v, va);
                }
                if let Some(b) = bias {
                    *v = _mm512_add_ps(*v, _mm512_set1_ps(*b.add(r)));
                }
            }
        }
        // Rows beyond `mr` are skipped, columns beyond `nr` masked off.
        let vb = _mm512_set1_ps(beta);
        let masks: [__mmask16; 2] = [0, 1].map(|h| {
            let cols = nr.saturating_sub(16 * h).min(16);
            ((1u32 << cols) - 1) as __mmask16
        });
        for (r, row) in acc.iter().enumerate().take(mr) {
            let cp = c.add(r * rsc);
            for (h, &v) in row.iter().enumerate() {
                let (p, mask) = (cp.add(16 * h), masks[h]);
                if mask == 0 {
                    continue;
                }
                let mut v = v;
                if beta != 0.0 {
                    let old = _mm512_maskz_loadu_ps(mask, p);
                    v = if beta == 1.0 {
                        _mm512_add_ps(v, old)
                    } else {
                        _mm512_fmadd_ps(vb, old, v)
                    };
                }
                if let Some((lo, hi)) = clamp {
                    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
                }
                _mm512_mask_storeu_ps(p, mask, v);
            }
        }
    }
}

/// The micro-kernel for wasm SIMD128 (no FMA there: a multiply and an add
/// per step): a 4x8 register tile, 8 accumulators plus 2 B vectors and a
/// broadcast, which fits the 16 vector registers engines map wasm onto
/// without spilling.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use core::arch::wasm32::*;

    pub(super) struct Simd128;

    impl super::packed::Kernel for Simd128 {
        const MR: usize = 4;
        const NR: usize = 8;
        const KC: usize = 256;
        const MC: usize = 128;
        const NC: usize = 512;

        unsafe fn tile(
            kc: usize,
            a: *const f32,
            (ars, aks): (usize, usize),
            b: *const f32,
            c: *mut f32,
            rsc: usize,
            alpha: f32,
            beta: f32,
            (mr, nr): (usize, usize),
            bias: Option<*const f32>,
            clamp: Option<(f32, f32)>,
        ) {
            // Named accumulators, as in the AVX2 kernel, so they stay in
            // registers.
            let z = f32x4_splat(0.0);
            let (mut c00, mut c01, mut c10, mut c11) = (z, z, z, z);
            let (mut c20, mut c21, mut c30, mut c31) = (z, z, z, z);
            let (a0, a1, a2, a3) = (a, a.add(ars), a.add(2 * ars), a.add(3 * ars));
            let mut b = b;
            let mut off = 0usize;
            for _ in 0..kc {
                let b0 = v128_load(b as *const v128);
                let b1 = v128_load(b.add(4) as *const v128);
                let x = v128_load32_splat(a0.add(off) as *const u32);
                c00 = f32x4_add(c00, f32x4_mul(x, b0));
                c01 = f32x4_add(c01, f32x4_mul(x, b1));
                let x = v128_load32_splat(a1.add(off) as *const u32);
                c10 = f32x4_add(c10, f32x4_mul(x, b0));
                c11 = f32x4_add(c11, f32x4_mul(x, b1));
                let x = v128_load32_splat(a2.add(off) as *const u32);
                c20 = f32x4_add(c20, f32x4_mul(x, b0));
                c21 = f32x4_add(c21, f32x4_mul(x, b1));
                let x = v128_load32_splat(a3.add(off) as *const u32);
                c30 = f32x4_add(c30, f32x4_mul(x, b0));
                c31 = f32x4_add(c31, f32x4_mul(x, b1));
                off += aks;
                b = b.add(8);
            }
            let mut acc = [[c00, c01], [c10, c11], [c20, c21], [c30, c31]];
            let va = f32x4_splat(alpha);
            for (r, row) in acc.iter_mut().enumerate().take(mr) {
                for v in row.iter_mut() {
                    if alpha != 1.0 {
                        *v = f32x4_mul(*v, va);
                    }
                    if let Some(b) = bias {
                        *v = f32x4_add(*v, f32x4_splat(*b.add(r)));
                    }
                }
            }
            if nr < Self::NR {
                // wasm has no masked store: the last columns of N go
                // through scalars.
                for (r, row) in acc.iter().enumerate().take(mr) {
                    let vals: [f32; 8] = core::mem::transmute(*row);
                    for (j, &x) in vals.iter().enumerate().take(nr) {
                        let p = c.add(r * rsc + j);
                        let mut x = x;
                        if beta != 0.0 {
                            x += beta * *p;
                        }
                        if let Some((lo, hi)) = clamp {
                            x = x.max(lo).min(hi);
                        }
                        *p = x;
                    }
                }
                return;
            }
            let vb = f32x4_splat(beta);
            for (r, row) in acc.iter().enumerate().take(mr) {
                let cp = c.add(r * rsc);
                for (h, &v) in row.iter().enumerate() {
                    let p = cp.add(4 * h) as *mut v128;
                    let mut v = v;
                    if beta != 0.0 {
                        let old = v128_load(p);
                        v = if beta == 1.0 {
                            f32x4_add(v, old)
                        } else {
                            f32x4_add(v, f32x4_mul(vb, old))
                        };
                    }
                    // pmax/pmin (plain compare-selects, as x86 max/min) turn
                    // NaN into the bound like the scalar `max`/`min` do.
                    if let Some((lo, hi)) = clamp {
                        v = f32x4_pmin(f32x4_splat(hi), f32x4_pmax(f32x4_splat(lo), v));
                    }
                    v128_store(p, v);
                }
            }
        }
    }
}

/// One GEMM on raw parts: the packed SIMD kernel for the target (AVX2
/// where the CPU has it, SIMD128 in wasm), else `matrixmultiply`; the
/// caller proves bounds.
#[allow(clippy::too_many_arguments)]
unsafe fn raw_sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    sa: (usize, usize),
    b: *const f32,
    sb: (usize, usize),
    beta: f32,
    c: *mut f32,
    rsc: usize,
    ep: Epilogue,
) {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        return packed::sgemm::<avx512::Avx512>(m, k, n, alpha, a, sa, b, sb, beta, c, rsc, ep);
    }
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        return packed::sgemm::<avx2::Avx2>(m, k, n, alpha, a, sa, b, sb, beta, c, rsc, ep);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return packed::sgemm::<simd128::Simd128>(m, k, n, alpha, a, sa, b, sb, beta, c, rsc, ep);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    portable_sgemm(m, k, n, alpha, a, sa, b, sb, beta, c, rsc, ep)
}

/// `matrixmultiply` with the epilogue as separate passes: the bias goes
/// into C first, the clamp after.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[allow(clippy::too_many_arguments)]
unsafe fn portable_sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    (rsa, csa): (usize, usize),
    b: *const f32,
    (rsb, csb): (usize, usize),
    beta: f32,
    c: *mut f32,
    rsc: usize,
    ep: Epilogue,
) {
    let mut beta = beta;
    if let Some(bias) = ep.row_bias {
        for (i, &bv) in bias.iter().enumerate().take(m) {
            let row = std::slice::from_raw_parts_mut(c.add(i * rsc), n);
            row.iter_mut()
                .for_each(|x| *x = if beta == 0.0 { bv } else { beta * *x + bv });
        }
        beta = 1.0;
    }
    matrixmultiply::sgemm(
        m,
        k,
        n,
        alpha,
        a,
        rsa as isize,
        csa as isize,
        b,
        rsb as isize,
        csb as isize,
        beta,
        c,
        rsc as isize,
        1,
    );
    if let Some((lo, hi)) = ep.clamp {
        for i in 0..m {
            let row = std::slice::from_raw_parts_mut(c.add(i * rsc), n);
            row.iter_mut().for_each(|x| *x = x.max(lo).min(hi));
        }
    }
}

/// [`sgemm`] split over up to `threads` scoped threads: by rows of C when
/// M is the larger side (each worker packs all of B), by columns otherwise
/// (each packs all of A), so the duplicated packing stays small relative
/// to the work.
#[allow(clippy::too_many_arguments)]
pub(crate) fn par_sgemm(
    threads: usize,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    sa: (usize, usize),
    b: &[f32],
    sb: (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    par_sgemm_ep(
        threads,
        m,
        k,
        n,
        alpha,
        a,
        sa,
        b,
        sb,
        beta,
        c,
        Epilogue::default(),
    )
}

/// [`par_sgemm`] with an [`Epilogue`] applied as C is written.
#[allow(clippy::too_many_arguments)]
pub(crate) fn par_sgemm_ep(
    threads: usize,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
    ep: Epilogue,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(ep.row_bias.is_none_or(|b| b.len() >= m));
    if k == 0 {
        for (i, row) in c[..m * n].chunks_mut(n).enumerate() {
            let bv = ep.row_bias.map_or(0.0, |b| b[i]);
            for x in row.iter_mut() {
                let v = if beta == 0.0 { bv } else { beta * *x + bv };
                *x = ep.clamp.map_or(v, |(lo, hi)| v.max(lo).min(hi));
            }
        }
        return;
    }
    let last = |r: usize, rs: usize, cols: usize, cs: usize| (r - 1) * rs + (cols - 1) * cs;
    assert!(last(m, rsa, k, csa) < a.len() && last(k, rsb, n, csb) < b.len() && m * n <= c.len());
    let work = m.saturating_mul(k).saturating_mul(n);
    let threads = if cfg!(target_arch = "wasm32") || work < PAR_MIN_MACS {
        1
    } else {
        threads.min(m.max(n).div_ceil(16)).max(1)
    };
    let (ap, bp) = (a.as_ptr() as usize, b.as_ptr() as usize);
    if threads == 1 {
        // SAFETY: the assert above proves every strided access is in bounds.
        unsafe {
            raw_sgemm(
                m,
                k,
                n,
                alpha,
                a.as_ptr(),
                (rsa, csa),
                b.as_ptr(),
                (rsb, csb),
                beta,
                c.as_mut_ptr(),
                n,
                ep,
            )
        };
        return;
    }
    if m >= n {
        // Row blocks of C are contiguous: safe disjoint chunks.
        let rows = m.div_ceil(threads).next_multiple_of(8);
        std::thread::scope(|s| {
            let mut chunks = c[..m * n].chunks_mut(rows * n).enumerate();
            let first = chunks.next();
            for (t, cc) in chunks {
                s.spawn(move || {
                    let r0 = t * rows;
                    let mr = cc.len() / n;
                    // SAFETY: rows r0..r0+mr of A are in bounds (assert above).
                    unsafe {
                        raw_sgemm(
                            mr,
                            k,
                            n,
                            alpha,
                            (ap as *const f32).add(r0 * rsa),
                            (rsa, csa),
                            bp as *const f32,
                            (rsb, csb),
                            beta,
                            cc.as_mut_ptr(),
                            n,
                            Epilogue {
                                row_bias: ep.row_bias.map(|b| &b[r0..r0 + mr]),
                                ..ep
                            },
                        )
                    };
                });
            }
            if let Some((_, cc)) = first {
                let mr = cc.len() / n;
                // SAFETY: as above, for rows 0..mr.
                unsafe {
                    raw_sgemm(
                        mr,
                        k,
                        n,
                        alpha,
                        ap as *const f32,
                        (rsa, csa),
                        bp as *const f32,
                        (rsb, csb),
                        beta,
                        cc.as_mut_ptr(),
                        n,
                        ep,
                    )
                };
            }
        });
    } else {
        let cols = n.div_ceil(threads).next_multiple_of(16);
        let out = SharedOut(c.as_mut_ptr());
        std::thread::scope(|s| {
            let work = move |c0: usize| {
                let nc = cols.min(n - c0);
                let out = out;
                // SAFETY: columns c0..c0+nc of B and C are in bounds; each
                // worker owns a disjoint column range of C.
                unsafe {
                    raw_sgemm(
                        m,
                        k,
                        nc,
                        alpha,
                        ap as *const f32,
                        (rsa, csa),
                        (bp as *const f32).add(c0 * csb),
                        (rsb, csb),
                        beta,
                        out.0.add(c0),
                        n,
                        ep,
                    )
                };
            };
            for c0 in (cols..n).step_by(cols) {
                s.spawn(move || work(c0));
            }
            work(0);
        });
    }
}

pub fn matmul(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    matmul_bias(ctx, node, ins, None)
}

/// MatMul whose output rows start as `bias` (length N) when given, so the
/// GEMM accumulates onto it instead of a second pass adding it.
fn matmul_bias(
    ctx: &Ctx,
    node: &Node,
    ins: &[Option<&Tensor>],
    bias: Option<&[f32]>,
) -> Result<Vec<Tensor>> {
    let a = req(node, ins, 0)?;
    let b = req(node, ins, 1)?;
    let (av, bv) = (a.f32s("MatMul")?, b.f32s("MatMul")?);
    if a.rank() == 0 || b.rank() == 0 {
        return Err(Error::op("MatMul", "scalar operand"));
    }
    let mut ash = a.shape.clone();
    let mut bsh = b.shape.clone();
    let a1 = ash.len() == 1;
    let b1 = bsh.len() == 1;
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
    let abatch = &ash[..ash.len() - 2];
    let bbatch = &bsh[..bsh.len() - 2];
    let batch = broadcast_shapes("MatMul", &[abatch, bbatch])?;
    let mut out = batch.clone();
    out.extend([m, n]);
    ctx.limits.check_shape(&out, 4)?;
    let (mut c, beta) = match bias {
        Some(b) if b.len() == n => {
            let mut c = Vec::with_capacity(numel(&out));
            for _ in 0..numel(&out) / n.max(1) {
                c.extend_from_slice(b);
            }
            (c, 1.0)
        }
        Some(_) => {
            return Err(Error::op(
                "MatMulAdd",
                "bias length differs from output columns",
            ))
        }
        None => (vec![0.0f32; numel(&out)], 0.0),
    };
    if numel(bbatch) == 1 && numel(abatch) == numel(&batch) {
        // One B for every batch (weights): the batches are the rows of a
        // single product, so B is packed once rather than per batch.
        let rows = numel(&batch) * m;
        par_sgemm(
            ctx.threads,
            rows,
            k,
            n,
            1.0,
            &av[..rows * k],
            (k, 1),
            &bv[..k * n],
            (n, 1),
            beta,
            &mut c,
        );
        return matmul_output(out, a1, b1, c);
    }
    let sa = broadcast_strides(abatch, &batch);
    let sb = broadcast_strides(bbatch, &batch);
    let mut bi = 0;
    for_each_index(&batch, [&sa, &sb], |[i, j]| {
        let (ao, bo) = (i * m * k, j * k * n);
        par_sgemm(
            ctx.threads,
            m,
            k,
            n,
            1.0,
            &av[ao..ao + m * k],
            (k, 1),
            &bv[bo..bo + k * n],
            (n, 1),
            beta,
            &mut c[bi * m * n..(bi + 1) * m * n],
        );
        bi += 1;
    });
    matmul_output(out, a1, b1, c)
}

/// The MatMul result, without the unit dimensions that 1-D operands got.
fn matmul_output(mut out: Vec<usize>, a1: bool, b1: bool, c: Vec<f32>) -> Result<Vec<Tensor>> {
    if a1 {
        out.remove(out.len() - 2);
    }
    if b1 {
        out.pop();
    }
    Ok(vec![Tensor::new(out, Data::F32(c))?])
}

/// `bazaar::MatMulAdd(A, W, b)` = MatMul(A, W) + b, bias added in place.
pub fn matmul_add(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let b = req(node, ins, 2)?.f32s("MatMulAdd")?;
    matmul_bias(ctx, node, ins, Some(b))
}

/// A Gemm node's attributes and the product's dimensions, for both backends.
pub(crate) struct GemmShape {
    pub ta: bool,
    pub tb: bool,
    pub alpha: f32,
    pub beta: f32,
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// Reads Gemm's attributes and checks the operand shapes `a` and `b`.
pub(crate) fn gemm_shape(ctx: &Ctx, node: &Node, a: &[usize], b: &[usize]) -> Result<GemmShape> {
    if a.len() != 2 || b.len() != 2 {
        return Err(Error::op("Gemm", "A and B must be 2-D"));
    }
    let ta = node.attr_i("transA", 0)? != 0;
    let tb = node.attr_i("transB", 0)? != 0;
    let (m, k) = if ta { (a[1], a[0]) } else { (a[0], a[1]) };
    let (k2, n) = if tb { (b[1], b[0]) } else { (b[0], b[1]) };
    if k != k2 {
        return Err(Error::op("Gemm", "inner dimensions differ"));
    }
    ctx.limits.check_shape(&[m, n], 4)?;
    Ok(GemmShape {
        ta,
        tb,
        alpha: node.attr_f("alpha", 1.0)?,
        beta: node.attr_f("beta", 1.0)?,
        m,
        k,
        n,
    })
}

pub fn gemm(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let a = req(node, ins, 0)?;
    let b = req(node, ins, 1)?;
    let GemmShape {
        ta,
        tb,
        alpha,
        beta,
        m,
        k,
        n,
    } = gemm_shape(ctx, node, &a.shape, &b.shape)?;
    let mut c = match opt(ins, 2) {
        Some(ct) if beta != 0.0 => {
            let sh = broadcast_shapes("Gemm", &[&ct.shape, &[m, n]])?;
            if sh != [m, n] {
                return Err(Error::op("Gemm", "C does not broadcast to [M, N]"));
            }
            super::broadcast::broadcast_to(ct.f32s("Gemm")?, &ct.shape, &[m, n])
        }
        _ => vec![0.0; m * n],
    };
    let sa = if ta { (1, m) } else { (k, 1) };
    let sb = if tb { (1, k) } else { (n, 1) };
    par_sgemm(
        ctx.threads,
        m,
        k,
        n,
        alpha,
        a.f32s("Gemm")?,
        sa,
        b.f32s("Gemm")?,
        sb,
        beta,
        &mut c,
    );
    Ok(vec![Tensor::new(vec![m, n], Data::F32(c))?])
}

/// General Einsum by explicit index enumeration (fine for the operand
/// sizes Einsum sees in practice; bounded by the tensor budget).
pub fn einsum(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let eq: String = node
        .attr_s("equation", "")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let ts: Vec<&Tensor> = ins.iter().flatten().copied().collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l.to_string(), Some(r.to_string())),
        None => (eq.clone(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != ts.len() || eq.contains("...") {
        return Err(Error::Unsupported(
            "Einsum with ellipsis or operand mismatch".into(),
        ));
    }
    let mut dims: Vec<(char, usize)> = Vec::new();
    for (t, x) in terms.iter().zip(&ts) {
        if t.chars().count() != x.rank() {
            return Err(Error::op("Einsum", "term rank mismatch"));
        }
        for (c, &d) in t.chars().zip(&x.shape) {
            match dims.iter().find(|(l, _)| *l == c) {
                Some(&(_, e)) if e != d => return Err(Error::op("Einsum", "dimension mismatch")),
                Some(_) => {}
                None => dims.push((c, d)),
            }
        }
    }
    let out_labels: Vec<char> = match rhs {
        Some(r) => r.chars().collect(),
        None => {
            // Implicit mode: labels appearing once, alphabetically.
            let mut v: Vec<char> = dims
                .iter()
                .map(|d| d.0)
                .filter(|c| lhs.matches(*c).count() == 1)
                .collect();
            v.sort_unstable();
            v
        }
    };
    let pos = |c: char| dims.iter().position(|d| d.0 == c);
    let out_shape: Vec<usize> = out_labels
        .iter()
        .map(|&c| {
            pos(c)
                .map(|p| dims[p].1)
                .ok_or_else(|| Error::op("Einsum", "unknown output label"))
        })
        .collect::<Result<_>>()?;
    ctx.limits.check_shape(&out_shape, 4)?;
    let all: Vec<usize> = dims.iter().map(|d| d.1).collect();
    if all
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none_or(|n| n > ctx.limits.max_tensor_bytes)
    {
        return Err(Error::Limit("Einsum iteration space too large".into()));
    }
    let vals: Vec<Vec<f64>> = ts.iter().map(|t| t.to_f64s()).collect();
    let strides: Vec<Vec<usize>> = terms
        .iter()
        .zip(&ts)
        .map(|(t, x)| {
            let st = super::shape::strides(&x.shape);
            let mut s = vec![0usize; dims.len()];
            for (c, &v) in t.chars().zip(&st) {
                if let Some(p) = pos(c) {
                    s[p] += v;
                }
            }
            s
        })
        .collect();
    let ost = super::shape::strides(&out_shape);
    let mut os = vec![0usize; dims.len()];
    for (&c, &v) in out_labels.iter().zip(&ost) {
        if let Some(p) = pos(c) {
            os[p] = v;
        }
    }
    let mut out = vec![0.0f64; numel(&out_shape)];
    super::shape::for_each_multi(&all, |m| {
        let mut prod = 1.0;
        for (v, s) in vals.iter().zip(&strides) {
            prod *= v[m.iter().zip(s).map(|(i, s)| i * s).sum::<usize>()];
        }
        out[m.iter().zip(&os).map(|(i, s)| i * s).sum::<usize>()] += prod;
    });
    let t = Tensor::new(out_shape, Data::F64(out))?;
    Ok(vec![super::misc::cast_tensor(
        &t,
        ts.first()
            .map_or(crate::tensor::DataType::F32, |t| t.dtype()),
    )])
}

#[cfg(test)]
mod tests {
    use super::packed::{self, Kernel};
    #[cfg(target_arch = "x86_64")]
    use super::{avx2, avx512};
    use super::{par_sgemm, par_sgemm_ep, Epilogue};

    /// The packed driver instantiated for one kernel.
    #[cfg(target_arch = "x86_64")]
    type SgemmFn = unsafe fn(
        usize,
        usize,
        usize,
        f32,
        *const f32,
        (usize, usize),
        *const f32,
        (usize, usize),
        f32,
        *mut f32,
        usize,
        Epilogue,
    );

    /// Uniform values in [-1, 1] from a fixed xorshift seed.
    fn rng() -> impl FnMut() -> f32 {
        let mut seed = 0x2545_f491_u32;
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % 2001) as f32 / 1000.0 - 1.0
        }
    }

    /// Checks `got` (row-major m x n) against alpha * A * B + bias + beta *
    /// C0, clamped, computed naively in f64; C0 is ignored when beta is 0.
    #[allow(clippy::too_many_arguments)]
    fn check(
        what: &str,
        (m, k, n): (usize, usize, usize),
        alpha: f32,
        (a, sa): (&[f32], (usize, usize)),
        (b, sb): (&[f32], (usize, usize)),
        beta: f32,
        c0: &[f32],
        ep: Epilogue,
        got: &[f32],
    ) {
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|p| a[i * sa.0 + p * sa.1] as f64 * b[p * sb.0 + j * sb.1] as f64)
                    .sum();
                let mut want = alpha as f64 * dot + ep.row_bias.map_or(0.0, |b| b[i] as f64);
                if beta != 0.0 {
                    want += beta as f64 * c0[i * n + j] as f64;
                }
                if let Some((lo, hi)) = ep.clamp {
                    want = want.max(lo as f64).min(hi as f64);
                }
                let got = got[i * n + j] as f64;
                assert!(
                    (got - want).abs() <= 1e-4 * (1.0 + want.abs()) * (k as f64).sqrt(),
                    "{what} {m}x{k}x{n} sa={sa:?} sb={sb:?} at ({i},{j}): {got} vs {want}"
                );
            }
        }
    }

    /// The packed kernel against a naive product, over edge sizes (partial
    /// tiles, several K and N blocks), transposed operands, alpha and beta.
    #[test]
    fn sgemm_matches_naive() {
        let mut rnd = rng();
        let sizes = [
            (1, 1, 1),
            (1, 64, 10),
            (5, 3, 17),
            (6, 16, 16),
            (7, 300, 33),
            (13, 520, 4100),
            (150, 20, 31),
        ];
        for &(m, k, n) in &sizes {
            for &(ta, tb, alpha, beta) in &[
                (false, false, 1.0, 0.0),
                (true, false, 0.5, 1.0),
                (false, true, 1.0, 0.25),
                (true, true, -2.0, 1.0),
            ] {
                let a: Vec<f32> = (0..m * k).map(|_| rnd()).collect();
                let b: Vec<f32> = (0..k * n).map(|_| rnd()).collect();
                let c0: Vec<f32> = (0..m * n).map(|_| rnd()).collect();
                let sa = if ta { (1, m) } else { (k, 1) };
                let sb = if tb { (1, k) } else { (n, 1) };
                for threads in [1, 2] {
                    let mut c = c0.clone();
                    par_sgemm(threads, m, k, n, alpha, &a, sa, &b, sb, beta, &mut c);
                    let ep = Epilogue::default();
                    check(
                        "sgemm",
                        (m, k, n),
                        alpha,
                        (&a, sa),
                        (&b, sb),
                        beta,
                        &c0,
                        ep,
                        &c,
                    );
                }
            }
        }
    }

    /// A scalar kernel with tiny blocking, so that small products cross
    /// every tile and block edge of the packed driver.
    struct Reference;

    impl Kernel for Reference {
        const MR: usize = 3;
        const NR: usize = 4;
        const KC: usize = 5;
        const MC: usize = 6;
        const NC: usize = 8;

        unsafe fn tile(
            kc: usize,
            a: *const f32,
            (ars, aks): (usize, usize),
            b: *const f32,
            c: *mut f32,
            rsc: usize,
            alpha: f32,
            beta: f32,
            (mr, nr): (usize, usize),
            bias: Option<*const f32>,
            clamp: Option<(f32, f32)>,
        ) {
            for r in 0..mr {
                for j in 0..nr {
                    let dot: f32 = (0..kc)
                        .map(|kk| *a.add(r * ars + kk * aks) * *b.add(kk * Self::NR + j))
                        .sum();
                    let p = c.add(r * rsc + j);
                    let mut v = alpha * dot + bias.map_or(0.0, |b| *b.add(r));
                    if beta != 0.0 {
                        v += beta * *p;
                    }
                    if let Some((lo, hi)) = clamp {
                        v = v.max(lo).min(hi);
                    }
                    *p = v;
                }
            }
        }
    }

    /// The packed driver (with the reference kernel) and the target's
    /// kernel at sizes that are not multiples of any block, with padded
    /// and transposed operands, alpha, beta (C is not read when it is 0),
    /// a row bias and a clamp.
    #[test]
    fn packed_driver_edges() {
        let mut rnd = rng();
        let sizes = [
            (1, 1, 1),
            (2, 4, 3),
            (3, 5, 4),
            (7, 11, 9),
            (10, 384, 30),
            (13, 6, 17),
            (19, 23, 33),
        ];
        let cases = [
            (false, false, 1.0, 0.0, false, None),
            (true, false, 0.5, 1.0, true, None),
            (false, true, 1.0, 0.25, false, Some((0.0, f32::INFINITY))),
            (true, true, -2.0, 0.0, true, Some((-0.5, 0.5))),
        ];
        for &(m, k, n) in &sizes {
            for &(ta, tb, alpha, beta, with_bias, clamp) in &cases {
                // Row strides one longer than the rows: views into larger
                // matrices.
                let sa = if ta { (1, m + 1) } else { (k + 1, 1) };
                let sb = if tb { (1, k + 1) } else { (n + 1, 1) };
                let a: Vec<f32> = (0..(m + 1) * (k + 1)).map(|_| rnd()).collect();
                let b: Vec<f32> = (0..(k + 1) * (n + 1)).map(|_| rnd()).collect();
                let bias: Vec<f32> = (0..m).map(|_| rnd()).collect();
                let c0: Vec<f32> = if beta == 0.0 {
                    vec![f32::NAN; m * n]
                } else {
                    (0..m * n).map(|_| rnd()).collect()
                };
                let ep = Epilogue {
                    row_bias: with_bias.then_some(&bias[..]),
                    clamp,
                };
                let mut c = c0.clone();
                // SAFETY: the operands hold every strided element.
                unsafe {
                    packed::sgemm::<Reference>(
                        m,
                        k,
                        n,
                        alpha,
                        a.as_ptr(),
                        sa,
                        b.as_ptr(),
                        sb,
                        beta,
                        c.as_mut_ptr(),
                        n,
                        ep,
                    )
                };
                let dims = (m, k, n);
                check("packed", dims, alpha, (&a, sa), (&b, sb), beta, &c0, ep, &c);
                let mut c = c0.clone();
                par_sgemm_ep(1, m, k, n, alpha, &a, sa, &b, sb, beta, &mut c, ep);
                check("target", dims, alpha, (&a, sa), (&b, sb), beta, &c0, ep, &c);
                // Every x86 kernel this CPU can run, not only the one chosen.
                #[cfg(target_arch = "x86_64")]
                for (name, available, run) in [
                    (
                        "avx2",
                        avx2::available(),
                        packed::sgemm::<avx2::Avx2> as SgemmFn,
                    ),
                    (
                        "avx512",
                        avx512::available(),
                        packed::sgemm::<avx512::Avx512>,
                    ),
                ] {
                    if !available {
                        continue;
                    }
                    let mut c = c0.clone();
                    // SAFETY: as above, and the CPU has the kernel's features.
                    unsafe {
                        run(
                            m,
                            k,
                            n,
                            alpha,
                            a.as_ptr(),
                            sa,
                            b.as_ptr(),
                            sb,
                            beta,
                            c.as_mut_ptr(),
                            n,
                            ep,
                        )
                    };
                    check(name, dims, alpha, (&a, sa), (&b, sb), beta, &c0, ep, &c);
                }
            }
        }
    }
}
