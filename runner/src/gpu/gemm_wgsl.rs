//! WGSL generators for matrix multiplication and convolution, both as a
//! GEMM `out[b, m, n] = act(alpha * sum_k A[m, k] * B[k, n] + beta * C[m, n])`
//! (a convolution is the implicit GEMM with M = output channels of a group,
//! N = output pixels, K = input channels of a group × kernel taps, and B read
//! through the im2col index arithmetic instead of materialised).
//!
//! Two families: `tiled` stages 16×16 tiles of A and B in workgroup memory
//! (for hardware GPUs); `blocked` keeps a TM×TN block of outputs per thread
//! in registers with no workgroup memory and no barriers, for CPU-emulated
//! adapters such as llvmpipe, where a barrier costs a coroutine switch per
//! SIMD group and every storage load is a per-lane gather, so the number of
//! loads per multiply-add decides the speed.
//!
//! Parameter words shared by all variants (`prm`, binding 0):
//! [0] M, [1] N, [2] K, [3] alpha, [4] beta, [5] has_c, [6] rsc, [7] csc,
//! [8] activation (0 none, 1 clamp to [p0, p1], 2 LeakyRelu with slope p0),
//! [9] p0, [10] p1; then per source:
//! - matrix: [11] rsa, [12] csa, [13] rsb, [14] csb, then (aoff, boff, coff)
//!   per batch entry;
//! - conv: [11] G, [12] Cin, [13..16] ID IH IW, [16..19] OD OH OW,
//!   [19..22] KD KH KW, [22..25] strides, [25..28] dilations,
//!   [28..31] begin pads; batch entry = image × group.
//!
//! C (bias or Gemm's C) is addressed `coff + row * rsc + col * csc`; the
//! output is contiguous: `out[b * M * N + row * N + col]`.

/// Where B comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A strided matrix with per-batch offsets.
    Matrix,
    /// An NC(D)HW image read through convolution geometry.
    Conv,
}

/// Words before the source-specific ones.
pub const COMMON_WORDS: usize = 11;

const HEADER: &str = r#"@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn pf(i: u32) -> f32 { return bitcast<f32>(prm[i]); }

// alpha * acc + beta * C, then the fused activation.
fn finish(acc: f32, row: u32, col: u32, coff: u32) -> f32 {
    var y = pf(3u) * acc;
    if (prm[5] == 1u) { y = y + pf(4u) * c[coff + row * prm[6] + col * prm[7]]; }
    let act = prm[8];
    if (act == 1u) { y = min(max(y, pf(9u)), pf(10u)); }
    if (act == 2u && y < 0.0) { y = y * pf(9u); }
    return y;
}

// Per-batch offsets of A, B and C.
fn offsets(bi: u32) -> vec3<u32> {
"#;

const MATRIX_OFFSETS: &str = r#"    return vec3<u32>(prm[15u + 3u * bi], prm[16u + 3u * bi], prm[17u + 3u * bi]);
}
"#;

const CONV_OFFSETS: &str = r#"    let G = prm[11]; let n = bi / G; let g = bi % G;
    let cg = prm[12] / G;
    let img = prm[13] * prm[14] * prm[15];
    return vec3<u32>(g * prm[0] * prm[2], (n * prm[12] + g * cg) * img, g * prm[0]);
}
"#;

/// B[k, col] of a convolution: input channel and kernel tap from k, output
/// pixel from col; zero in the padding.
const CONV_LOAD_B: &str = r#"
fn load_b(boff: u32, k: u32, col: u32) -> f32 {
    let KD = prm[19]; let KH = prm[20]; let KW = prm[21];
    let ow = col % prm[18]; let t = col / prm[18];
    let oh = t % prm[17]; let od = t / prm[17];
    let kw = k % KW; let t2 = k / KW;
    let kh = t2 % KH; let t3 = t2 / KH;
    let kd = t3 % KD; let ci = t3 / KD;
    let d = i32(od * prm[22] + kd * prm[25]) - i32(prm[28]);
    let h = i32(oh * prm[23] + kh * prm[26]) - i32(prm[29]);
    let w = i32(ow * prm[24] + kw * prm[27]) - i32(prm[30]);
    if (d < 0 || d >= i32(prm[13]) || h < 0 || h >= i32(prm[14]) || w < 0 || w >= i32(prm[15])) {
        return 0.0;
    }
    return b[boff + ((ci * prm[13] + u32(d)) * prm[14] + u32(h)) * prm[15] + u32(w)];
}
"#;

const MATRIX_LOAD_B: &str = r#"
fn load_b(boff: u32, k: u32, col: u32) -> f32 { return b[boff + k * prm[13] + col * prm[14]]; }
"#;

/// Bindings, epilogue and addressing helpers; `a`/`b` are declared as
/// `array<vec4<f32>>` when read four values at a time.
fn prelude(src: Source, a_vec: bool, b_vec: bool) -> String {
    let ty = |v: bool| if v { "vec4<f32>" } else { "f32" };
    let mut s = format!(
        "@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(1) var<storage, read> a: array<{}>;
@group(0) @binding(2) var<storage, read> b: array<{}>;
",
        ty(a_vec),
        ty(b_vec)
    );
    s += HEADER;
    match src {
        Source::Matrix => {
            s += MATRIX_OFFSETS;
            if !b_vec {
                s += MATRIX_LOAD_B;
            }
            s += "fn a_stride() -> vec2<u32> { return vec2<u32>(prm[11], prm[12]); }\n";
        }
        Source::Conv => {
            s += CONV_OFFSETS;
            s += CONV_LOAD_B;
            s += "fn a_stride() -> vec2<u32> { return vec2<u32>(prm[2], 1u); }\n";
        }
    }
    s
}

/// Materialises a convolution's B operand (im2col) as a row-major
/// `[batch entry, K, N4]` matrix, zero in the padding, so the matrix
/// kernels read it four values at a time; rows are padded with zeros from
/// N to N4, a multiple of 4. Conv parameter words as above, then [31] the
/// grid row width in threads, [32] the element count and [33] N4.
pub fn im2col() -> String {
    let mut s = String::from(
        "@group(0) @binding(0) var<storage, read> prm: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
",
    );
    s += CONV_LOAD_B;
    s += r#"
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * prm[31] + gid.x;
    if (i >= prm[32]) { return; }
    let N4 = prm[33]; let K = prm[2];
    let col = i % N4; let t = i / N4;
    if (col >= prm[1]) { out[i] = 0.0; return; }
    let k = t % K; let bi = t / K;
    let G = prm[11]; let cg = prm[12] / G;
    let img = prm[13] * prm[14] * prm[15];
    out[i] = load_b(((bi / G) * prm[12] + (bi % G) * cg) * img, k, col);
}
"#;
    s
}

/// Side of the square output tile of the workgroup-memory kernel.
pub const TILE: u32 = 16;

/// 16×16 threads, one output each, A and B staged through workgroup memory
/// 16 values of K at a time.
pub fn tiled(src: Source) -> String {
    prelude(src, false, false)
        + r#"
var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let M = prm[0]; let N = prm[1]; let K = prm[2];
    let row = wg.y * 16u + lid.y;
    let col = wg.x * 16u + lid.x;
    let bi = wg.z;
    let off = offsets(bi);
    let sa = a_stride();
    var acc = 0.0;
    let tiles = (K + 15u) / 16u;
    for (var t = 0u; t < tiles; t = t + 1u) {
        let ka = t * 16u + lid.x;
        var va = 0.0;
        if (row < M && ka < K) { va = a[off.x + row * sa.x + ka * sa.y]; }
        ta[lid.y][lid.x] = va;
        let kb = t * 16u + lid.y;
        var vb = 0.0;
        if (kb < K && col < N) { vb = load_b(off.y, kb, col); }
        tb[lid.y][lid.x] = vb;
        workgroupBarrier();
        for (var k = 0u; k < 16u; k = k + 1u) {
            acc = acc + ta[lid.y][k] * tb[k][lid.x];
        }
        workgroupBarrier();
    }
    if (row < M && col < N) {
        out[bi * M * N + row * N + col] = finish(acc, row, col, off.z);
    }
}
"#
}

/// Workgroup shape of the register-blocked kernels: 8×8 threads.
pub const BLOCK_THREADS: u32 = 8;

/// Shape of a register-blocked kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Blocked {
    /// Output rows per thread.
    pub tm: u32,
    /// Output columns per thread (a multiple of 4 when `b_vec`).
    pub tn: u32,
    /// A read as vec4 along K (row-major A, K and row offsets multiples of
    /// 4; K advances 4 at a time). Matrix source only.
    pub a_vec: bool,
    /// B read as vec4 along N (row-major B whose row stride and offsets
    /// are multiples of 4; a row may be padded past N).
    /// Matrix source only.
    pub b_vec: bool,
}

/// Barrier-free kernel: each thread computes `tm` rows × `tn` columns of
/// the output in registers (unrolled). Rows and columns past the edge are
/// clamped for loading and never stored. On llvmpipe every storage load is
/// a loop over SIMD lanes, so loads, not arithmetic, set the speed: a
/// bigger block does more multiply-adds per load, and a vec4 load costs
/// about one scalar load.
pub fn blocked(src: Source, cfg: Blocked) -> String {
    let Blocked {
        tm,
        tn,
        a_vec,
        b_vec,
    } = cfg;
    let mut s = prelude(src, a_vec, b_vec);
    s += r#"
@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let M = prm[0]; let N = prm[1]; let K = prm[2];
"#;
    s += &format!("    let r0 = gid.y * {tm}u; let c0 = gid.x * {tn}u;\n");
    s += "    if (r0 >= M || c0 >= N) { return; }\n    let bi = gid.z;\n    let off = offsets(bi);\n    let sa = a_stride();\n";
    for i in 0..tm {
        s += &format!("    let ra{i} = off.x + min(r0 + {i}u, M - 1u) * sa.x;\n");
        for j in 0..tn {
            s += &format!("    var acc{i}_{j} = 0.0;\n");
        }
    }
    // One k step: multiply-add row values `va{i}` by column values `vb{j}`.
    let fma = |s: &mut String, va: &dyn Fn(u32) -> String| {
        for i in 0..tm {
            for j in 0..tn {
                *s += &format!("        acc{i}_{j} = acc{i}_{j} + {} * vb{j};\n", va(i));
            }
        }
    };
    match src {
        Source::Matrix => {
            s += "    let rsb = prm[13];\n";
            if b_vec {
                // Columns in groups of 4, the group start clamped to the row
                // (rows hold a multiple of 4 values, N or padded past it).
                for q in 0..tn / 4 {
                    s += &format!("    let cb{q} = off.y + min(c0 + {}u, rsb - 4u);\n", 4 * q);
                }
            } else {
                for j in 0..tn {
                    s += &format!("    let cb{j} = off.y + min(c0 + {j}u, N - 1u) * prm[14];\n");
                }
            }
            let load_b = |s: &mut String, k: &str| {
                if b_vec {
                    for q in 0..tn / 4 {
                        *s += &format!("        let vq{q} = b[(cb{q} + ({k}) * rsb) / 4u];\n");
                        for (c, comp) in ["x", "y", "z", "w"].iter().enumerate() {
                            *s += &format!("        let vb{} = vq{q}.{comp};\n", 4 * q + c as u32);
                        }
                    }
                } else {
                    for j in 0..tn {
                        *s += &format!("        let vb{j} = b[cb{j} + ({k}) * rsb];\n");
                    }
                }
            };
            if a_vec {
                s += "    for (var k = 0u; k < K; k = k + 4u) {\n";
                for i in 0..tm {
                    s += &format!("        let va{i} = a[(ra{i} + k) / 4u];\n");
                }
                for (u, comp) in ["x", "y", "z", "w"].iter().enumerate() {
                    s += "        {\n";
                    load_b(&mut s, &format!("k + {u}u"));
                    fma(&mut s, &|i| format!("va{i}.{comp}"));
                    s += "        }\n";
                }
            } else {
                s += "    for (var k = 0u; k < K; k = k + 1u) {\n";
                load_b(&mut s, "k");
                for i in 0..tm {
                    s += &format!("        let va{i} = a[ra{i} + k * sa.y];\n");
                }
                fma(&mut s, &|i| format!("va{i}"));
            }
            s += "    }\n";
        }
        Source::Conv => {
            // Per output pixel: the input window's corner (may be negative).
            s += r#"    let ID = i32(prm[13]); let IH = i32(prm[14]); let IW = i32(prm[15]);
    let OD = prm[16]; let OH = prm[17]; let OW = prm[18];
    let KD = prm[19]; let KH = prm[20]; let KW = prm[21];
    let cg = prm[12] / prm[11];
    let img = prm[13] * prm[14] * prm[15];
"#;
            for j in 0..tn {
                s += &format!(
                    "    let p{j} = min(c0 + {j}u, N - 1u);
    let d{j} = i32((p{j} / (OW * OH)) * prm[22]) - i32(prm[28]);
    let h{j} = i32(((p{j} / OW) % OH) * prm[23]) - i32(prm[29]);
    let w{j} = i32((p{j} % OW) * prm[24]) - i32(prm[30]);
"
                );
            }
            s += "    var kk = 0u;\n    for (var ci = 0u; ci < cg; ci = ci + 1u) {\n        let xc = off.y + ci * img;\n";
            s += "    for (var kd = 0u; kd < KD; kd = kd + 1u) {\n";
            for j in 0..tn {
                s += &format!("        let dd{j} = d{j} + i32(kd * prm[25]);\n");
            }
            s += "    for (var kh = 0u; kh < KH; kh = kh + 1u) {\n";
            for j in 0..tn {
                s += &format!(
                    "        let hh{j} = h{j} + i32(kh * prm[26]);
        let okr{j} = dd{j} >= 0 && dd{j} < ID && hh{j} >= 0 && hh{j} < IH;
        let row{j} = xc + u32((dd{j} * IH + hh{j}) * IW);
"
                );
            }
            s += "    for (var kw = 0u; kw < KW; kw = kw + 1u) {\n";
            for j in 0..tn {
                s += &format!(
                    "        let ww{j} = w{j} + i32(kw * prm[27]);
        let ok{j} = okr{j} && ww{j} >= 0 && ww{j} < IW;
        let vb{j} = select(0.0, b[select(0u, row{j} + u32(ww{j}), ok{j})], ok{j});
"
                );
            }
            for i in 0..tm {
                s += &format!("        let va{i} = a[ra{i} + kk];\n");
            }
            fma(&mut s, &|i| format!("va{i}"));
            s += "        kk = kk + 1u;\n    }\n    }\n    }\n    }\n";
        }
    }
    s += "    let ob = bi * M * N;\n";
    for i in 0..tm {
        for j in 0..tn {
            s += &format!(
                "    if (r0 + {i}u < M && c0 + {j}u < N) {{ out[ob + (r0 + {i}u) * N + c0 + {j}u] = finish(acc{i}_{j}, r0 + {i}u, c0 + {j}u, off.z); }}\n"
            );
        }
    }
    s += "}\n";
    s
}
