//! WGSL sources. Every kernel reads its parameters from a read-only
//! storage array `prm` (u32 words, floats bit-cast) at binding 0; element
//! kernels use 1-D indices spread over a 2-D grid so large tensors stay
//! within the adapter's per-dimension workgroup limit (`prm[0]` is the
//! grid row width in threads).

pub const WG: u32 = 64;

const HEADER: &str = r#"@group(0) @binding(0) var<storage, read> prm: array<u32>;
// WGSL rejects a constant expression that is not a finite f32 (browsers' compilers enforce
// it), so f32's largest value is written exactly, and infinities and NaN come from bits
// through a function call, which is never constant.
const F32_MAX: f32 = 0x1.fffffep+127f;
fn f32_from_bits(bits: u32) -> f32 { return bitcast<f32>(bits); }
"#;

/// Helpers shared by element-wise kernels.
const PRELUDE: &str = r#"
fn pf(i: u32) -> f32 { return bitcast<f32>(prm[i]); }
fn erf_f(x: f32) -> f32 {
    let a = abs(x);
    if (a < 0.5) {
        let x2 = x * x;
        return 1.1283791671 * x * (1.0 + x2 * (-0.3333333333 + x2 * (0.1 + x2 * (-0.0238095238 + x2 * 0.0046296296))));
    }
    // Abramowitz & Stegun 7.1.26.
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
    return select(-y, y, x >= 0.0);
}
fn sigmoid_f(x: f32) -> f32 {
    if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
    let e = exp(x);
    return e / (1.0 + e);
}
// exp(u) - 1 without cancellation for small u (Kahan's trick).
fn expm1_f(u: f32) -> f32 {
    let e = exp(u);
    if (e == 1.0) { return u; }
    let em = e - 1.0;
    if (em == -1.0) { return -1.0; }
    return em * u / log(e);
}
// Builtin tanh may cancel badly near 0; build it on expm1 instead.
fn tanh_f(x: f32) -> f32 {
    let m = expm1_f(2.0 * clamp(x, -15.0, 15.0));
    return m / (m + 2.0);
}
// log(1 + u) without cancellation for tiny u (Kahan's trick).
fn log1p_f(u: f32) -> f32 {
    let w = 1.0 + u;
    if (w == 1.0) { return u; }
    return log(w) * u / (w - 1.0);
}
fn softplus_f(x: f32) -> f32 { return max(x, 0.0) + log1p_f(exp(-abs(x))); }
fn pow_f(x: f32, y: f32) -> f32 {
    if (y == 0.0) { return 1.0; }
    if (x < 0.0 && floor(y) == y) {
        let m = pow(-x, y);
        return select(m, -m, (abs(y) % 2.0) == 1.0);
    }
    return pow(x, y);
}
fn fmod_f(x: f32, y: f32) -> f32 { return x - y * trunc(x / y); }
"#;

const ELEM_MAIN: &str = r#"
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.y * prm[0] + gid.x;
    if (i >= prm[1]) { return; }
"#;

/// Gather along one axis with the indices as a u32 array (already made
/// non-negative). `prm`: [width, n, inner, index count, axis length].
pub fn gather_rows() -> String {
    format!(
        "{HEADER}
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
{ELEM_MAIN}
    let inner = prm[2]; let q = prm[3];
    let r = i % inner; let t = i / inner;
    out[i] = xs[((t / q) * prm[4] + idx[t % q]) * inner + r];
}}
"
    )
}

/// Unary element-wise kernel computing `expr` of `x`.
pub fn unary(expr: &str) -> String {
    format!(
        "{HEADER}{PRELUDE}
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
{ELEM_MAIN}
    let x = xs[i];
    out[i] = {expr};
}}
"
    )
}

/// Broadcasting n-ary element-wise kernel over inputs `v0..v{arity-1}`.
/// `prm`: [width, n, rank, shape[rank], strides_0[rank], ...].
pub fn nary(arity: usize, expr: &str, same_shape: bool) -> String {
    let mut s = format!("{HEADER}{PRELUDE}");
    for k in 0..arity {
        s += &format!(
            "@group(0) @binding({}) var<storage, read> in{k}: array<f32>;\n",
            k + 1
        );
    }
    s += &format!(
        "@group(0) @binding({}) var<storage, read_write> out: array<f32>;\n",
        arity + 1
    );
    s += ELEM_MAIN;
    if same_shape {
        for k in 0..arity {
            s += &format!("    let v{k} = in{k}[i];\n");
        }
    } else {
        s += "    let r = prm[2];\n    var rem = i;\n";
        for k in 0..arity {
            s += &format!("    var o{k} = 0u;\n");
        }
        s += "    for (var q = 0u; q < r; q = q + 1u) {\n        let d = r - 1u - q;\n        let dim = prm[3u + d];\n        let c = rem % dim;\n        rem = rem / dim;\n";
        for k in 0..arity {
            s += &format!("        o{k} = o{k} + c * prm[3u + {}u * r + d];\n", k + 1);
        }
        s += "    }\n";
        for k in 0..arity {
            s += &format!("    let v{k} = in{k}[o{k}];\n");
        }
    }
    s += &format!("    out[i] = {expr};\n}}\n");
    s
}

/// out[i] = idx[i] == 0 ? fill : src[idx[i] - 1]  — every data-movement op
/// (Transpose, Slice, Gather, Pad, Tile, ...) with a host-computed index map.
pub fn gather() -> String {
    format!(
        "{HEADER}{PRELUDE}
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
{ELEM_MAIN}
    let j = idx[i];
    if (j == 0u) {{ out[i] = pf(2u); }} else {{ out[i] = src[j - 1u]; }}
}}
"
    )
}

/// One thread per output element; reduced offsets come from a host-built
/// table: idx = [base[n_out], roff[count]]. `prm`: [width, n_out, count, kind].
pub fn reduce() -> String {
    format!(
        "{HEADER}
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
{ELEM_MAIN}
    let n = prm[1]; let cnt = prm[2]; let kind = prm[3];
    let base = idx[i];
    var mx = -F32_MAX;
    var any_nan = false;
    for (var r = 0u; r < cnt; r = r + 1u) {{
        let v = xs[base + idx[n + r]];
        if (v != v) {{ any_nan = true; }}
        mx = max(mx, v);
    }}
    var acc = 0.0;
    if (kind == 2u) {{ acc = -F32_MAX; if (cnt == 0u) {{ acc = f32_from_bits(0xff800000u); }} }}
    if (kind == 3u) {{ acc = F32_MAX; if (cnt == 0u) {{ acc = f32_from_bits(0x7f800000u); }} }}
    if (kind == 4u) {{ acc = 1.0; }}
    for (var r = 0u; r < cnt; r = r + 1u) {{
        let v = xs[base + idx[n + r]];
        switch kind {{
            case 2u: {{ acc = max(acc, v); }}
            case 3u: {{ acc = min(acc, v); }}
            case 4u: {{ acc = acc * v; }}
            case 5u: {{ acc = acc + abs(v); }}
            case 6u, 9u: {{ acc = acc + v * v; }}
            case 8u: {{ acc = acc + exp(v - mx); }}
            default: {{ acc = acc + v; }}
        }}
    }}
    switch kind {{
        case 1u: {{ acc = acc / f32(cnt); }}
        case 6u: {{ acc = sqrt(acc); }}
        case 7u: {{ acc = log(acc); }}
        case 8u: {{ if (cnt == 0u) {{ acc = f32_from_bits(0xff800000u); }} else {{ acc = log(acc) + mx; }} }}
        default: {{ }}
    }}
    if (any_nan && (kind == 2u || kind == 3u)) {{ acc = f32_from_bits(0x7fc00000u); }}
    out[i] = acc;
}}
"
    )
}

/// Softmax family, one thread per row. `prm`: [width, rows, d, inner, kind]
/// with kind 0 softmax, 1 log-softmax, 2 hardmax.
pub fn softmax() -> String {
    format!(
        "{HEADER}
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
{ELEM_MAIN}
    let d = prm[2]; let inner = prm[3]; let kind = prm[4];
    let base = (i / inner) * d * inner + (i % inner);
    var mx = -F32_MAX;
    var arg = 0u;
    for (var j = 0u; j < d; j = j + 1u) {{
        let v = xs[base + j * inner];
        if (v > mx || j == 0u) {{ mx = v; arg = j; }}
    }}
    var s = 0.0;
    for (var j = 0u; j < d; j = j + 1u) {{ s = s + exp(xs[base + j * inner] - mx); }}
    let ls = log(s);
    for (var j = 0u; j < d; j = j + 1u) {{
        let p = base + j * inner;
        let v = xs[p] - mx;
        if (kind == 0u) {{ out[p] = exp(v) / s; }}
        else if (kind == 1u) {{ out[p] = v - ls; }}
        else {{ out[p] = select(0.0, 1.0, j == arg); }}
    }}
}}
"
    )
}

/// Row normalisation (LayerNorm mode 0, InstanceNorm mode 1), one thread
/// per contiguous row; also writes each row's mean and 1/stddev. `prm`: [width, rows, d, eps, mode, C, slen, blen, has_bias].
pub fn norm() -> String {
    format!(
        "{HEADER}
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> sc: array<f32>;
@group(0) @binding(3) var<storage, read> bs: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> inv_out: array<f32>;
{ELEM_MAIN}
    let d = prm[2]; let eps = bitcast<f32>(prm[3]); let mode = prm[4];
    let base = i * d;
    var mean = 0.0;
    for (var j = 0u; j < d; j = j + 1u) {{ mean = mean + xs[base + j]; }}
    mean = mean / f32(d);
    var var_ = 0.0;
    for (var j = 0u; j < d; j = j + 1u) {{ let t = xs[base + j] - mean; var_ = var_ + t * t; }}
    let inv = 1.0 / sqrt(var_ / f32(d) + eps);
    mean_out[i] = mean;
    inv_out[i] = inv;
    let ch = i % prm[5];
    for (var j = 0u; j < d; j = j + 1u) {{
        var s = 0.0; var b = 0.0;
        if (mode == 0u) {{ s = sc[j % prm[6]]; b = bs[j % prm[7]]; }} else {{ s = sc[ch]; b = bs[ch]; }}
        if (prm[8] == 0u) {{ b = 0.0; }}
        out[base + j] = (xs[base + j] - mean) * inv * s + b;
    }}
}}
"
    )
}

/// y = x * a[c] + b[c] with c = (i / inner) % C. `prm`: [width, n, C, inner].
pub fn channel_affine() -> String {
    format!(
        "{HEADER}
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> ca: array<f32>;
@group(0) @binding(3) var<storage, read> cb: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
{ELEM_MAIN}
    let c = (i / prm[3]) % prm[2];
    out[i] = xs[i] * ca[c] + cb[c];
}}
"
    )
}

/// Geometry words shared by conv/pool kernels (3-D, lower ranks padded):
/// prm[2..] = N, Cin, Cout, G, ID, IH, IW, OD, OH, OW, KD, KH, KW,
///            SD, SH, SW, DD, DH, DW, PD, PH, PW, has_bias / kind, ...
const GEOM: &str = r#"
    let N = prm[2]; let Cin = prm[3]; let Cout = prm[4]; let G = prm[5];
    let ID = prm[6]; let IH = prm[7]; let IW = prm[8];
    let OD = prm[9]; let OH = prm[10]; let OW = prm[11];
    let KD = prm[12]; let KH = prm[13]; let KW = prm[14];
    let SD = prm[15]; let SH = prm[16]; let SW = prm[17];
    let DD = prm[18]; let DH = prm[19]; let DW = prm[20];
    let PD = i32(prm[21]); let PH = i32(prm[22]); let PW = i32(prm[23]);
    var t = i;
    let ow = t % OW; t = t / OW;
    let oh = t % OH; t = t / OH;
    let od = t % OD; t = t / OD;
    let co = t % Cout; let n = t / Cout;
"#;

/// Transposed convolution as a gather over the input, one thread per output.
pub fn conv_transpose() -> String {
    format!(
        "{HEADER}
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
{ELEM_MAIN}{GEOM}
    let cg = Cin / G; let mg = Cout / G; let g = co / mg; let m = co % mg;
    var acc = 0.0;
    for (var ci = 0u; ci < cg; ci = ci + 1u) {{
        let c = g * cg + ci;
        for (var kd = 0u; kd < KD; kd = kd + 1u) {{
            let td = i32(od) + PD - i32(kd * DD);
            if (td < 0 || td % i32(SD) != 0 || td / i32(SD) >= i32(ID)) {{ continue; }}
            for (var kh = 0u; kh < KH; kh = kh + 1u) {{
                let th = i32(oh) + PH - i32(kh * DH);
                if (th < 0 || th % i32(SH) != 0 || th / i32(SH) >= i32(IH)) {{ continue; }}
                for (var kw = 0u; kw < KW; kw = kw + 1u) {{
                    let tw = i32(ow) + PW - i32(kw * DW);
                    if (tw < 0 || tw % i32(SW) != 0 || tw / i32(SW) >= i32(IW)) {{ continue; }}
                    let xi = (((n * Cin + c) * ID + u32(td / i32(SD))) * IH + u32(th / i32(SH))) * IW + u32(tw / i32(SW));
                    let wi = (((c * mg + m) * KD + kd) * KH + kh) * KW + kw;
                    acc = acc + xs[xi] * w[wi];
                }}
            }}
        }}
    }}
    if (prm[24] == 1u) {{ acc = acc + bias[co]; }}
    out[i] = acc;
}}
"
    )
}

/// Max/average/Lp pooling, `kind` 0, 1 or 2 (also in prm[24]). Extra
/// words: prm[25] count_include_pad, prm[26..29] end pads, prm[29] p.
pub fn pool(kind: u32) -> String {
    // One kernel per kind, so a max pool does no sums and an average no
    // powers in its inner loop.
    let step = match kind {
        0 => "if (!seen || v > best) { best = v; seen = true; }",
        2 => "acc = acc + pow(abs(v), p);",
        _ => "acc = acc + v; cnt = cnt + 1u;",
    };
    let count_pad = match kind {
        1 => "if (in_pad) { pcnt = pcnt + 1u; }",
        _ => "",
    };
    let result = match kind {
        0 => "out[i] = best;",
        2 => "out[i] = pow(acc, 1.0 / p);",
        _ => "if (prm[25] == 1u) { out[i] = acc / f32(max(pcnt, 1u)); } else { out[i] = acc / f32(max(cnt, 1u)); }",
    };
    format!(
        "{HEADER}
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
{ELEM_MAIN}{GEOM}
    let p = bitcast<f32>(prm[29]);
    var best = -F32_MAX;
    var seen = false;
    var acc = 0.0;
    var cnt = 0u;
    var pcnt = 0u;
    for (var kd = 0u; kd < KD; kd = kd + 1u) {{
        let id = i32(od * SD + kd * DD) - PD;
        for (var kh = 0u; kh < KH; kh = kh + 1u) {{
            let ih = i32(oh * SH + kh * DH) - PH;
            for (var kw = 0u; kw < KW; kw = kw + 1u) {{
                let iw = i32(ow * SW + kw * DW) - PW;
                let in_pad = id >= -PD && id < i32(ID + prm[26]) && ih >= -PH && ih < i32(IH + prm[27]) && iw >= -PW && iw < i32(IW + prm[28]);
                {count_pad}
                if (id < 0 || id >= i32(ID) || ih < 0 || ih >= i32(IH) || iw < 0 || iw >= i32(IW)) {{ continue; }}
                let v = xs[(((n * Cout + co) * ID + u32(id)) * IH + u32(ih)) * IW + u32(iw)];
                {step}
            }}
        }}
    }}
    {result}
}}
"
    )
}
