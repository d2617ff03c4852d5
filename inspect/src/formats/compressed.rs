//! Compressed streams that may hold a pickle (joblib dumps, `pickle.dump` into `gzip.open`,
//! PyTorch checkpoints someone zstd'ed): recognised by their magic bytes, and only a bounded
//! prefix is ever decompressed, so neither a slow nor a bomb-like stream can cost more than
//! [`OUTPUT_LIMIT`] bytes of output from at most [`input_limit`] bytes of input.
//!
//! All decoders are pure Rust: flate2 on miniz_oxide (gzip, zlib, raw deflate), libbz2-rs-sys
//! through `bzip2`, `lzma-rust2` (xz and legacy .lzma), `ruzstd`.

use std::io::Read;

/// At most this many decompressed bytes are looked at.
pub(crate) const OUTPUT_LIMIT: usize = 256 << 10;
/// Input buffered for most formats: their decoders produce output as input arrives.
pub(crate) const INPUT_LIMIT: usize = 64 << 10;
/// bzip2 decodes a whole block at once; a block holds up to 900 kB before compression and
/// barely more after it.
pub(crate) const BZIP2_INPUT_LIMIT: usize = 1 << 20;
/// A zstd block is at most 128 KiB compressed.
pub(crate) const ZSTD_INPUT_LIMIT: usize = 160 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Gzip,
    Zlib,
    /// Raw deflate, as in zip entries (never sniffed: it has no magic).
    Deflate,
    Bzip2,
    Xz,
    /// The legacy `.lzma` format (joblib's `lzma` compressor).
    Lzma,
    /// Raw LZMA as zip entries hold it: a 4-byte zip header, 5 property bytes, the data.
    ZipLzma,
    Zstd,
}

impl Codec {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zlib => "zlib",
            Codec::Deflate => "deflate",
            Codec::Bzip2 => "bzip2",
            Codec::Xz => "xz",
            Codec::Lzma | Codec::ZipLzma => "lzma",
            Codec::Zstd => "zstd",
        }
    }

    /// The codec whose magic `prefix` starts with; `None` when it is none of them, or when the
    /// prefix is too short to tell (see [`MAGIC_LEN`]).
    pub(crate) fn sniff(prefix: &[u8]) -> Option<Codec> {
        match prefix {
            [0x1f, 0x8b, 8, ..] => Some(Codec::Gzip),
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Some(Codec::Bzip2),
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some(Codec::Xz),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Codec::Zstd),
            // zlib: deflate with a window of at most 32 KiB, and the header checksum.
            [cmf, flg, ..]
                if cmf & 0x0f == 8
                    && cmf >> 4 <= 7
                    && (*cmf as u16 * 256 + *flg as u16).is_multiple_of(31) =>
            {
                Some(Codec::Zlib)
            }
            // .lzma: properties lc/lp/pb (below 225), a dictionary size, the unpacked size
            // (all ones when unknown). Checked loosely: decoding decides.
            [props, _, _, _, _, ..] if *props < 225 && prefix.len() >= 13 => {
                let size = u64::from_le_bytes(prefix[5..13].try_into().expect("8 bytes"));
                let dict = u32::from_le_bytes(prefix[1..5].try_into().expect("4 bytes"));
                (*props == 0x5d && dict >= 1 << 12 && (size == u64::MAX || size < 1 << 48))
                    .then_some(Codec::Lzma)
            }
            _ => None,
        }
    }

    /// How much input is buffered before decoding.
    pub(crate) fn input_limit(self) -> usize {
        match self {
            Codec::Bzip2 => BZIP2_INPUT_LIMIT,
            Codec::Zstd => ZSTD_INPUT_LIMIT,
            _ => INPUT_LIMIT,
        }
    }
}

/// Bytes a prefix must have before [`Codec::sniff`] can tell.
pub(crate) const MAGIC_LEN: usize = 13;

/// Decompresses at most [`OUTPUT_LIMIT`] bytes from `input` (a prefix of the stream, or all
/// of it). Returns the output and whether the stream ended cleanly within it (so the output is
/// everything the stream holds). A decoding error ends the output where it happened.
pub(crate) fn decompress(codec: Codec, input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let ended = match codec {
        Codec::Gzip => drain(flate2::read::GzDecoder::new(input), &mut out),
        Codec::Zlib => drain(flate2::read::ZlibDecoder::new(input), &mut out),
        Codec::Deflate => drain(flate2::read::DeflateDecoder::new(input), &mut out),
        Codec::Bzip2 => drain(bzip2::read::BzDecoder::new(input), &mut out),
        Codec::Xz => drain(lzma_rust2::XzReader::new(input, false), &mut out),
        Codec::Lzma => match lzma_rust2::LzmaReader::new_mem_limit(input, u32::MAX, None) {
            Ok(r) => drain(r, &mut out),
            Err(_) => false,
        },
        Codec::ZipLzma => zip_lzma(input, &mut out),
        Codec::Zstd => match ruzstd::decoding::StreamingDecoder::new(input) {
            Ok(r) => drain(r, &mut out),
            Err(_) => false,
        },
    };
    (out, ended)
}

/// Zip's LZMA entries: version (2 bytes), properties size (2), properties (5), raw data
/// ending with an end marker.
fn zip_lzma(input: &[u8], out: &mut Vec<u8>) -> bool {
    if input.len() < 9 || input[2..4] != [5, 0] {
        return false;
    }
    let props = input[4];
    let dict = u32::from_le_bytes(input[5..9].try_into().expect("4 bytes"));
    match lzma_rust2::LzmaReader::new_with_props(&input[9..], u64::MAX, props, dict, None) {
        Ok(r) => drain(r, out),
        Err(_) => false,
    }
}

/// Reads until the end, an error, or [`OUTPUT_LIMIT`]; true when the end came first.
fn drain(mut reader: impl Read, out: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 8192];
    loop {
        let room = OUTPUT_LIMIT - out.len();
        if room == 0 {
            return false;
        }
        let want = room.min(buf.len());
        match reader.read(&mut buf[..want]) {
            Ok(0) => return true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}
