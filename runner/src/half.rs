//! IEEE 754 binary16 (`float16`) and bfloat16 conversions.
//!
//! Tensors of both types are stored as their 16-bit patterns (`u16`); the
//! CPU kernels compute in float32. Conversions to the 16-bit forms round to
//! nearest, ties to even, as ONNX `Cast` specifies: values beyond the
//! largest finite half become infinities, NaN stays NaN (quiet, sign kept).

/// float16 bits → float32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: man · 2^-24, exact in float32.
            let v = man as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        0x1f => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Rounds `m · 2^(e2)` (`m` a non-zero integer below 2^63) to float16
/// bits, ties to even; `sign` is 0 or 0x8000.
fn round_f16(sign: u16, m: u64, e2: i32) -> u16 {
    // Normalise so that the leading bit of m is bit 63.
    let lz = m.leading_zeros() as i32;
    let m = m << lz;
    let e2 = e2 - lz;
    // Value = 1.f · 2^(e2 + 63). The float16 exponent (unbiased):
    let e = e2 + 63;
    if e > 15 {
        return sign | 0x7c00;
    }
    // Bits kept: 11 for normals; fewer for subnormals (unit 2^-24).
    let keep = if e >= -14 { 11 } else { 11 - (-14 - e) };
    if keep <= 0 {
        // Below half the smallest subnormal; exactly half rounds to 0 (even).
        if keep == 0 && m > (1u64 << 63) {
            return sign | 1;
        }
        return sign;
    }
    let shift = (64 - keep) as u32;
    let mut q = m >> shift;
    let rem = m & ((1u64 << shift) - 1);
    let half = 1u64 << (shift - 1);
    if rem > half || (rem == half && q & 1 == 1) {
        q += 1;
    }
    if e >= -14 {
        // q in [2^10, 2^11]; a carry to 2^11 bumps the exponent.
        let (q, e) = if q == 1 << 11 {
            (q >> 1, e + 1)
        } else {
            (q, e)
        };
        if e > 15 {
            return sign | 0x7c00;
        }
        sign | (((e + 15) as u16) << 10) | (q as u16 & 0x3ff)
    } else {
        // Subnormal; a carry to 0x400 is the smallest normal, encoded alike.
        sign | q as u16
    }
}

/// float32 → float16 bits, round to nearest even.
pub fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = (b & 0x7f_ffff) as u64;
    match exp {
        0xff if man != 0 => sign | 0x7e00 | (man >> 13) as u16,
        0xff => sign | 0x7c00,
        0 if man == 0 => sign,
        0 => round_f16(sign, man, -149),
        _ => round_f16(sign, man | 0x80_0000, exp - 150),
    }
}

/// float64 → float16 bits, rounded once (no double rounding via float32).
pub fn f64_to_f16(x: f64) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 48) & 0x8000) as u16;
    let exp = ((b >> 52) & 0x7ff) as i32;
    let man = b & 0xf_ffff_ffff_ffff;
    match exp {
        0x7ff if man != 0 => sign | 0x7e00 | (man >> 42) as u16,
        0x7ff => sign | 0x7c00,
        0 if man == 0 => sign,
        0 => round_f16(sign, man, -1074),
        _ => round_f16(sign, man | (1 << 52), exp - 1075),
    }
}

/// bfloat16 bits → float32 (exact).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// float32 → bfloat16 bits, round to nearest even; NaN stays a quiet NaN.
pub fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((b >> 16) & 1);
    (b.wrapping_add(round) >> 16) as u16
}

/// float64 → bfloat16 bits. Goes through float32 with round-to-odd so the
/// final rounding to nearest even is not a double rounding.
pub fn f64_to_bf16(x: f64) -> u16 {
    if x.is_nan() || x.is_infinite() {
        return f32_to_bf16(x as f32);
    }
    let f = x as f32; // nearest
    let mut b = f.to_bits();
    // Round to odd: if the conversion was inexact and landed on an even
    // mantissa, step towards x to the odd neighbour (only matters when
    // the float32 is finite).
    if f.is_finite() && (f as f64) != x && b & 1 == 0 {
        let toward_up = (x > f as f64) != f.is_sign_negative();
        b = if toward_up { b + 1 } else { b - 1 };
    }
    f32_to_bf16(f32::from_bits(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trips_every_pattern() {
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            if f.is_nan() {
                assert!(f16_to_f32(f32_to_f16(f)).is_nan());
                continue;
            }
            assert_eq!(f32_to_f16(f), h, "{h:#x}");
            assert_eq!(f64_to_f16(f as f64), h, "{h:#x}");
        }
    }

    #[test]
    fn f16_rounds_to_nearest_even() {
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1).
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        // 1 + 3·2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9: up.
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        // Halfway to 65536 rounds to even: infinity.
        assert_eq!(f32_to_f16(65520.0), 0x7c00);
        assert_eq!(f32_to_f16(65519.99), 0x7bff);
        assert_eq!(f32_to_f16(-1e10), 0xfc00);
        assert_eq!(f32_to_f16(f32::INFINITY), 0x7c00);
        assert_eq!(f32_to_f16(-0.0), 0x8000);
        // Smallest subnormal 2^-24; half of it rounds to zero (even).
        assert_eq!(f32_to_f16(2f32.powi(-24)), 1);
        assert_eq!(f32_to_f16(2f32.powi(-25)), 0);
        assert_eq!(f32_to_f16(1.5 * 2f32.powi(-25)), 1);
        assert_eq!(f32_to_f16(3.0 * 2f32.powi(-25)), 2);
        assert_eq!(f32_to_f16(f32::NAN) & 0x7e00, 0x7e00);
        // float64 rounds once: this value is just above a tie in float64
        // but a tie (rounded down) after a float32 step.
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(f64_to_f16(x), 0x3c01);
    }

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 is a tie between 0x3f80 and 0x3f81: even.
        assert_eq!(f32_to_bf16(1.0 + 2f32.powi(-8)), 0x3f80);
        assert_eq!(f32_to_bf16(1.0 + 3.0 * 2f32.powi(-8)), 0x3f82);
        assert_eq!(f32_to_bf16(f32::MAX), 0x7f80);
        assert!(bf16_to_f32(f32_to_bf16(f32::NAN)).is_nan());
        assert_eq!(bf16_to_f32(0xc000), -2.0);
        let x = 1.0 + 2f64.powi(-8) + 2f64.powi(-40);
        assert_eq!(f64_to_bf16(x), 0x3f81);
    }
}
