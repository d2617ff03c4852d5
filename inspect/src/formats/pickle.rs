//! Recognising Python pickles, by name and by content, in every shape they travel in. Pickles
//! run arbitrary code when loaded, so Bazaar refuses them whatever the file is called:
//!
//! * a pickle of any protocol, recognised by following the opcode stream to its `STOP`, or
//!   to where it breaks off after running something ([`super::opcodes`]): 2 to 5 open with
//!   `PROTO`, but so do other files (a safetensors header length of 640 reads `80 02 00`), so
//!   the opcodes after it decide;
//! * a pickle compressed with gzip, zlib, bzip2, xz, lzma or zstd (joblib's compressed dumps,
//!   `gzip.open` + `pickle.dump`): a bounded prefix is decompressed and checked
//!   ([`super::compressed`]);
//! * a NumPy `.npy` array of Python objects, which NumPy stores as a pickle ([`super::npy`]);
//! * a zip holding any of these, or an entry named `*.pkl`/`*.pickle`, at any position:
//!   PyTorch's checkpoints, `.npz` files ([`super::zip`]).
//!
//! [`Guard`] does this while the upload streams past; [`check_bytes`] does it for a bounded
//! buffer (a decompressed prefix, a zip entry's first bytes), where a stream still valid as a
//! pickle when the buffer runs out counts as one.

use super::compressed::{self, Codec};
use super::npy::NpyScan;
use super::opcodes::{OpcodeScan, Scan};
use super::zip::ZipScan;

/// Extensions that name pickle-based formats (PyTorch checkpoints, Hugging Face
/// `pytorch_model.bin`, plain pickles, joblib dumps).
pub(crate) const PICKLE_EXTENSIONS: &[&str] =
    &["bin", "pt", "pth", "ckpt", "pkl", "pickle", "joblib"];

/// How many containers deep (zip in gzip, gzip in zip, ...) content is still looked into.
const MAX_DEPTH: u8 = 3;
/// A buffer still valid as a pickle when it runs out counts as one only past this many bytes.
const AMBIGUOUS_MIN: usize = 16;

/// Checks `data`, the first bytes of some stream (all of it when `complete`). Returns what the
/// pickle is ("a pickle (protocol 4)"), or `None`.
pub(crate) fn check_bytes(data: &[u8], complete: bool, depth: u8) -> Option<String> {
    // The opcode stream decides, `PROTO` included: a file's first bytes can read `PROTO 2`
    // (a safetensors header length of 640) and then no opcode Python would run.
    let mut ops = OpcodeScan::new();
    ops.feed(data);
    let verdict = if complete {
        ops.finish()
    } else {
        ops.verdict().clone()
    };
    match verdict {
        Scan::Pickle(what) => return Some(what),
        Scan::Running if data.len() >= AMBIGUOUS_MIN => {
            return Some(format!(
                "a stream whose first {} bytes are a valid pickle opcode stream",
                data.len()
            ));
        }
        _ => {}
    }
    let mut npy = NpyScan::new();
    if let Scan::Pickle(what) = npy.feed(data) {
        return Some(what.clone());
    }
    if depth >= MAX_DEPTH {
        return None;
    }
    if let Some(what) = check_compressed(data, depth) {
        return Some(what);
    }
    if data.starts_with(b"PK") {
        let mut zip = ZipScan::new(depth + 1);
        zip.feed(data);
        if let Scan::Pickle(what) = zip.finish(complete) {
            return Some(what);
        }
    }
    None
}

/// A compressed stream at the start of `data`: decompress its prefix and check that.
fn check_compressed(data: &[u8], depth: u8) -> Option<String> {
    let (codec, input) = compressed_start(data)?;
    let (out, ended) = compressed::decompress(codec, input);
    let what = check_bytes(&out, ended, depth + 1)?;
    Some(format!("a {} stream holding {what}", codec.name()))
}

/// The codec a stream starts with, and where its compressed data starts: joblib's old
/// compressed format puts `ZF` and a 19-byte length before a zlib stream.
fn compressed_start(data: &[u8]) -> Option<(Codec, &[u8])> {
    if data.starts_with(b"ZF") && data.len() > 21 {
        if let Some(Codec::Zlib) = Codec::sniff(&data[21..]) {
            return Some((Codec::Zlib, &data[21..]));
        }
    }
    Codec::sniff(data).map(|c| (c, data))
}

/// The prefix of the file kept when it starts like a compressed stream.
enum Start {
    /// Fewer than [`compressed::MAGIC_LEN`] bytes seen (joblib's `ZF` needs 23).
    Sniffing(Vec<u8>),
    /// Buffering this codec's input up to its limit.
    Buffering(Vec<u8>),
    Done,
}

/// Bytes of the file's start needed to recognise a compressed stream.
const START_SNIFF: usize = 21 + compressed::MAGIC_LEN;

/// Looks for pickles in a file as it streams past; see the module documentation.
pub(crate) struct Guard {
    opcodes: Option<OpcodeScan>,
    npy: Option<NpyScan>,
    start: Start,
    zip: Option<ZipScan>,
}

impl Guard {
    pub(crate) fn new() -> Self {
        Self {
            opcodes: Some(OpcodeScan::for_file()),
            npy: Some(NpyScan::new()),
            start: Start::Sniffing(Vec::new()),
            zip: Some(ZipScan::new(0)),
        }
    }

    /// Whether the opcode stream may still turn out a pickle (a format's own complaint about
    /// the file waits for it).
    pub(crate) fn opcodes_running(&self) -> bool {
        self.opcodes.is_some()
    }

    /// Stops scanning for zip entries (the file parsed as ONNX, safetensors or GGUF, whose data
    /// no zip reader opens).
    pub(crate) fn skip_zip(&mut self) {
        self.zip = None;
    }

    /// Bytes held between calls.
    pub(crate) fn retained_bytes(&self) -> usize {
        let start = match &self.start {
            Start::Sniffing(b) | Start::Buffering(b) => b.capacity(),
            Start::Done => 0,
        };
        start
            + self.opcodes.as_ref().map_or(0, OpcodeScan::retained_bytes)
            + self.zip.as_ref().map_or(0, ZipScan::retained_bytes)
    }

    /// The largest [`Guard::retained_bytes`] can get.
    pub(crate) const MAX_RETAINED: usize = compressed::BZIP2_INPUT_LIMIT
        + START_SNIFF
        + super::opcodes::MAX_MARKS * 8
        + super::zip::MAX_WINDOWS * (super::zip::WINDOW + 512)
        + super::zip::MAX_HEADERS * 512;

    /// The next chunk; `Err` says what pickle the file is.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        if let Some(ops) = &mut self.opcodes {
            match ops.feed(chunk) {
                Scan::Pickle(what) => return Err(what.clone()),
                Scan::NotPickle => self.opcodes = None,
                Scan::Running => {}
            }
        }
        if let Some(npy) = &mut self.npy {
            match npy.feed(chunk) {
                Scan::Pickle(what) => return Err(what.clone()),
                Scan::NotPickle => self.npy = None,
                Scan::Running => {}
            }
        }
        self.feed_start(chunk, false)?;
        if let Some(zip) = &mut self.zip {
            if let Scan::Pickle(what) = zip.feed(chunk) {
                return Err(what.clone());
            }
        }
        Ok(())
    }

    /// The end of the file.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        if let Some(ops) = &mut self.opcodes {
            if let Scan::Pickle(what) = ops.finish() {
                return Err(what);
            }
        }
        self.feed_start(&[], true)?;
        if let Some(zip) = &mut self.zip {
            if let Scan::Pickle(what) = zip.finish(true) {
                return Err(what);
            }
        }
        Ok(())
    }

    fn feed_start(&mut self, chunk: &[u8], complete: bool) -> Result<(), String> {
        let rest = match &mut self.start {
            Start::Done => return Ok(()),
            Start::Sniffing(prefix) => {
                let take = (START_SNIFF - prefix.len()).min(chunk.len());
                prefix.extend_from_slice(&chunk[..take]);
                if prefix.len() < START_SNIFF && !complete {
                    return Ok(());
                }
                if compressed_start(prefix).is_none() {
                    self.start = Start::Done;
                    return Ok(());
                }
                let mut buf = std::mem::take(prefix);
                let (codec, _) = compressed_start(&buf).expect("just checked");
                buf.reserve_exact(codec.input_limit() + 21 - buf.len());
                self.start = Start::Buffering(buf);
                &chunk[take..]
            }
            Start::Buffering(_) => chunk,
        };
        let Start::Buffering(buf) = &mut self.start else {
            unreachable!("set above")
        };
        let (codec, _) = compressed_start(buf).expect("checked when buffering began");
        let limit = codec.input_limit() + 21;
        let take = limit.saturating_sub(buf.len()).min(rest.len());
        buf.extend_from_slice(&rest[..take]);
        if buf.len() < limit && !complete {
            return Ok(());
        }
        let buf = std::mem::take(buf);
        self.start = Start::Done;
        let (codec, input) = compressed_start(&buf).expect("checked when buffering began");
        let (out, ended) = compressed::decompress(codec, input);
        match check_bytes(&out, ended, 1) {
            Some(what) => Err(format!("a {} stream holding {what}", codec.name())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_marker_is_a_pickle_for_protocols_two_to_five() {
        let mut g = Guard::new();
        assert_eq!(g.feed(&[0x80]), Ok(()));
        assert_eq!(g.feed(&[4, 0x95]), Ok(()));
        assert_eq!(g.feed(&[9, 0, 0, 0, 0, 0, 0, 0, b'}']), Ok(()));
        assert_eq!(g.feed(b"\x8c\x01a\x88s"), Ok(()));
        assert_eq!(g.feed(b"."), Err("a pickle (protocol 4)".into()));
        for p in 2..=5u8 {
            let what = check_bytes(&[0x80, p, b'N', b'.'], true, 0).unwrap();
            assert!(what.contains(&format!("protocol {p}")), "{what}");
        }
        assert_eq!(check_bytes(&[0x80, 6, b'N', b'.'], true, 0), None);
        assert_eq!(check_bytes(b"# README", true, 0), None);
    }

    fn zip_with_entry(name: &str, content: &[u8]) -> Vec<u8> {
        let mut z = b"PK\x03\x04".to_vec();
        z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
        z.extend_from_slice(&[0; 4]); // crc
        z.extend_from_slice(&(content.len() as u32).to_le_bytes());
        z.extend_from_slice(&(content.len() as u32).to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(name.as_bytes());
        z.extend_from_slice(content);
        z
    }

    fn guard_verdict(bytes: &[u8], chunk: usize) -> Result<(), String> {
        let mut g = Guard::new();
        for c in bytes.chunks(chunk.max(1)) {
            g.feed(c)?;
        }
        g.finish()
    }

    #[test]
    fn zip_entries_are_checked_by_name_and_content_in_any_chunking() {
        let pkl = zip_with_entry("archive/data.pkl", b"\x80\x02}q\x00.");
        let hidden = [
            zip_with_entry("a.txt", b"hello"),
            zip_with_entry("weights.bin", b"(lp0\nI1\na."),
            zip_with_entry("b.txt", b"bye"),
        ]
        .concat();
        let fine = [
            zip_with_entry("a.txt", b"hello"),
            zip_with_entry("w.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'}"),
        ]
        .concat();
        for chunk in [1, 2, 3, 5, 7, 64, 100_000] {
            let e = guard_verdict(&pkl, chunk).unwrap_err();
            assert!(
                e.contains("archive/data.pkl") && e.contains("PyTorch"),
                "{e}"
            );
            let e = guard_verdict(&hidden, chunk).unwrap_err();
            assert!(e.contains("weights.bin") && e.contains("protocol 0"), "{e}");
            assert_eq!(guard_verdict(&fine, chunk), Ok(()), "chunk {chunk}");
        }
    }
}
