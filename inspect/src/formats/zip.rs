//! Zip archives holding a pickle anywhere: PyTorch checkpoints (`archive/data.pkl`), NumPy
//! `.npz` files of object arrays, or any zip with a pickle among its entries.
//!
//! A zip reader trusts the central directory at the end of the file, but the upload streams
//! past once and the inspector sees each byte only then. So this scans the whole stream for
//! both kinds of entry header as they go by: every local file header (`PK\3\4`, name and
//! the start of its data) and every central directory header (`PK\1\2`, name). It looks for
//! signatures at every offset, inside other entries too, so an archive whose directory points
//! at headers hidden in another entry's data is still seen. For each entry:
//!
//! * a name ending in `.pkl` or `.pickle` is a pickle;
//! * the [`WINDOW`] bytes of the stream that follow a local header (decompressed if the entry
//!   is deflated, bzip2, LZMA or zstd) are checked like the start of a file of their own:
//!   pickle opcodes, NumPy object arrays, compressed pickles. The window ignores the sizes the
//!   local header gives and any signature inside it: a zip reader (Python's `zipfile`,
//!   `numpy.load`) takes the size from the central directory, which may disagree, and a data
//!   descriptor's signature may just as well be part of the entry. The entry's data is a
//!   prefix of the window, so the window is checked as a stream that goes on (a pickle cut
//!   short counts as one, see `pickle::check_bytes`) unless it reaches the end of the file.
//!
//! Memory is bounded: at most [`MAX_HEADERS`] headers are parsed at once (each keeps its fixed
//! part and at most 216 bytes of its name), and at most [`MAX_WINDOWS`] data windows of
//! [`WINDOW`] bytes are filled at once. When another entry starts, the oldest window is
//! checked with what it holds (as a stream that goes on); real entries start at least a
//! header's 30 bytes apart, so one holding fewer than [`MIN_EVICTED`] bytes by then means
//! headers that overlap, which is refused rather than left unchecked. Events (a signature, a
//! header or window completing) are handled in stream order, holding back the last 3 bytes of
//! each chunk so no signature is split, so the verdict never depends on how the stream was cut
//! into chunks.

use super::compressed::Codec;
use super::opcodes::Scan;

/// Bytes of an entry's data that are checked.
pub(crate) const WINDOW: usize = 64 << 10;
pub(crate) const MAX_HEADERS: usize = 16;
pub(crate) const MAX_WINDOWS: usize = 4;
/// The fewest bytes a window may hold when a newer entry pushes it out.
const MIN_EVICTED: usize = 64;
/// Bytes of an entry's name kept for the message.
const SHOWN_NAME: usize = 200;
const LOCAL: &[u8; 4] = b"PK\x03\x04";
const CENTRAL: &[u8; 4] = b"PK\x01\x02";

struct HeaderParse {
    central: bool,
    fixed: [u8; 46],
    got: usize,
    name_len: usize,
    name_seen: usize,
    shown: Vec<u8>,
    tail: [u8; 16],
    extra_left: usize,
}

impl HeaderParse {
    fn new(central: bool) -> Self {
        Self {
            central,
            fixed: [0; 46],
            got: 0,
            name_len: 0,
            name_seen: 0,
            shown: Vec::new(),
            tail: [0; 16],
            extra_left: 0,
        }
    }

    fn fixed_len(&self) -> usize {
        if self.central {
            46
        } else {
            30
        }
    }

    /// Bytes until the next step of the parse (the fixed part, or the name and extra field).
    fn until_event(&self) -> usize {
        let fixed = self.fixed_len();
        if self.got < fixed {
            fixed - self.got
        } else {
            (self.name_len - self.name_seen) + self.extra_left
        }
    }

    fn u16_at(&self, at: usize) -> usize {
        u16::from_le_bytes([self.fixed[at], self.fixed[at + 1]]) as usize
    }

    /// Feeds bytes; returns how many it used once the header (fixed part, name, and for a
    /// local header the extra field) is complete.
    fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut used = 0;
        let fixed = self.fixed_len();
        if self.got < fixed {
            let take = (fixed - self.got).min(bytes.len());
            self.fixed[self.got..self.got + take].copy_from_slice(&bytes[..take]);
            self.got += take;
            used += take;
            if self.got < fixed {
                return None;
            }
            self.name_len = self.u16_at(if self.central { 28 } else { 26 });
            self.extra_left = if self.central { 0 } else { self.u16_at(28) };
        }
        if self.name_seen < self.name_len {
            let take = (self.name_len - self.name_seen).min(bytes.len() - used);
            let part = &bytes[used..used + take];
            let room = SHOWN_NAME.saturating_sub(self.shown.len());
            self.shown.extend_from_slice(&part[..room.min(part.len())]);
            for &b in part {
                self.tail.copy_within(1.., 0);
                self.tail[15] = b;
            }
            self.name_seen += take;
            used += take;
            if self.name_seen < self.name_len {
                return None;
            }
        }
        let take = self.extra_left.min(bytes.len() - used);
        self.extra_left -= take;
        used += take;
        (self.extra_left == 0).then_some(used)
    }

    fn name_is_pickle(&self) -> bool {
        let kept = self.name_len.min(16);
        let tail = self.tail[16 - kept..].to_ascii_lowercase();
        tail.ends_with(b".pkl") || tail.ends_with(b".pickle")
    }

    fn shown_name(&self) -> String {
        let name = String::from_utf8_lossy(&self.shown);
        let mut shown: String = name.chars().filter(|c| !c.is_control()).collect();
        if self.name_len > self.shown.len() {
            shown.push('…');
        }
        shown
    }
}

struct Window {
    name: String,
    method: u16,
    encrypted: bool,
    data: Vec<u8>,
}

impl Window {
    /// Bytes until the window is full.
    fn room(&self) -> usize {
        WINDOW - self.data.len()
    }

    /// What the window holds, all of the rest of the file when `complete`.
    fn check(&self, depth: u8, complete: bool) -> Option<String> {
        if self.encrypted {
            return None;
        }
        let what = match self.method {
            0 => super::pickle::check_bytes(&self.data, complete, depth),
            _ => {
                let codec = match self.method {
                    8 => Codec::Deflate,
                    12 => Codec::Bzip2,
                    14 => Codec::ZipLzma,
                    93 => Codec::Zstd,
                    _ => return None,
                };
                let (out, ended) = super::compressed::decompress(codec, &self.data);
                super::pickle::check_bytes(&out, ended, depth)
            }
        }?;
        Some(format!(
            "a zip archive whose entry `{}` is {what}",
            self.name
        ))
    }
}

pub(crate) struct ZipScan {
    depth: u8,
    /// Where `held` starts in the stream.
    pos: u64,
    /// The last bytes of the stream so far, not yet scanned (a signature may start there).
    held: [u8; 3],
    held_len: usize,
    headers: Vec<HeaderParse>,
    windows: Vec<Window>,
    verdict: Scan,
}

/// Bytes held back at the end of each chunk.
const LOOKAHEAD: usize = 3;

impl ZipScan {
    /// `depth`: how deep inside other containers this stream is (bounds recursion).
    pub(crate) fn new(depth: u8) -> Self {
        Self {
            depth,
            pos: 0,
            held: [0; 3],
            held_len: 0,
            headers: Vec::new(),
            windows: Vec::new(),
            verdict: Scan::Running,
        }
    }

    /// Bytes held between calls.
    pub(crate) fn retained_bytes(&self) -> usize {
        self.headers.capacity() * std::mem::size_of::<HeaderParse>()
            + self
                .headers
                .iter()
                .map(|h| h.shown.capacity())
                .sum::<usize>()
            + self.windows.capacity() * std::mem::size_of::<Window>()
            + self
                .windows
                .iter()
                .map(|w| w.data.capacity() + w.name.capacity())
                .sum::<usize>()
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) -> &Scan {
        if self.verdict != Scan::Running || chunk.is_empty() {
            return &self.verdict;
        }
        let mut joined = [0u8; 2 * LOOKAHEAD];
        joined[..self.held_len].copy_from_slice(&self.held[..self.held_len]);
        if self.held_len + chunk.len() <= 2 * LOOKAHEAD {
            let total = self.held_len + chunk.len();
            joined[self.held_len..total].copy_from_slice(chunk);
            let upto = total.saturating_sub(LOOKAHEAD);
            self.run(&joined[..total], upto);
            self.hold(&joined[upto..total]);
            return &self.verdict;
        }
        // The held bytes, with the chunk's first bytes to look ahead into; then the chunk but
        // its last bytes.
        let held = self.held_len;
        joined[held..held + LOOKAHEAD].copy_from_slice(&chunk[..LOOKAHEAD]);
        self.run(&joined[..held + LOOKAHEAD], held);
        let upto = chunk.len() - LOOKAHEAD;
        self.run(chunk, upto);
        self.hold(&chunk[upto..]);
        &self.verdict
    }

    fn hold(&mut self, bytes: &[u8]) {
        self.held[..bytes.len()].copy_from_slice(bytes);
        self.held_len = bytes.len();
    }

    /// The end of the stream: the held bytes, then windows still filling are checked with
    /// what they have, which is all of their entry when `complete` (the end of the file; a
    /// zip inside another entry's window may be cut short).
    pub(crate) fn finish(&mut self, complete: bool) -> Scan {
        if self.verdict == Scan::Running {
            let held = self.held;
            let n = self.held_len;
            self.held_len = 0;
            self.run(&held[..n], n);
        }
        if self.verdict == Scan::Running {
            for w in std::mem::take(&mut self.windows) {
                if self.checked(&w, complete) {
                    return self.verdict.clone();
                }
            }
            self.verdict = Scan::NotPickle;
        }
        self.verdict.clone()
    }

    /// Scans positions `0..upto` of `buf` (which starts at `self.pos`); bytes past `upto`
    /// are only looked at to recognise a signature.
    fn run(&mut self, buf: &[u8], upto: usize) {
        let mut c = 0;
        let mut search = 0;
        while c < upto && self.verdict == Scan::Running {
            let sig = next_signature(buf, search, upto);
            let mut e = sig.map_or(upto, |(at, _)| at);
            for h in &self.headers {
                e = e.min(c + h.until_event());
            }
            for w in &self.windows {
                e = e.min(c + w.room());
            }
            let segment = &buf[c..e];
            // Headers and windows take the segment; completions happen at its end, in the
            // order their entries started.
            let mut done = Vec::new();
            let mut i = 0;
            while i < self.headers.len() {
                if self.headers[i].feed(segment).is_some() {
                    done.push(self.headers.remove(i));
                } else {
                    i += 1;
                }
            }
            let mut full = Vec::new();
            let mut i = 0;
            while i < self.windows.len() {
                let w = &mut self.windows[i];
                w.data.extend_from_slice(segment);
                if w.room() == 0 {
                    full.push(self.windows.remove(i));
                } else {
                    i += 1;
                }
            }
            c = e;
            self.pos += segment.len() as u64;
            for w in full {
                if self.checked(&w, false) {
                    return;
                }
            }
            for h in done {
                if self.header_done(h) {
                    return;
                }
            }
            if let Some((at, kind)) = sig {
                if at == c {
                    search = at + 1;
                    if self.signature(kind) {
                        return;
                    }
                }
            }
        }
    }

    fn refuse_overlap(&mut self, what: &str) -> bool {
        self.verdict = Scan::Pickle(format!(
            "a zip archive whose {what} overlap too deeply to be checked for pickles"
        ));
        true
    }

    /// A signature starts at the current position. True once the verdict is in.
    fn signature(&mut self, kind: Sig) -> bool {
        let central = match kind {
            Sig::Local => false,
            Sig::Central => true,
        };
        if self.headers.len() >= MAX_HEADERS {
            return self.refuse_overlap("headers");
        }
        self.headers.push(HeaderParse::new(central));
        false
    }

    /// A header is complete at the current position. True once the verdict is in.
    fn header_done(&mut self, h: HeaderParse) -> bool {
        if h.name_is_pickle() {
            let name = h.shown_name();
            let torch = if name.ends_with("data.pkl") {
                " (PyTorch's checkpoint format)"
            } else {
                ""
            };
            self.verdict =
                Scan::Pickle(format!("a zip archive holding the pickle `{name}`{torch}"));
            return true;
        }
        if h.central {
            return false;
        }
        if self.windows.len() >= MAX_WINDOWS {
            let oldest = self.windows.remove(0);
            if oldest.data.len() < MIN_EVICTED {
                return self.refuse_overlap("entries");
            }
            if self.checked(&oldest, false) {
                return true;
            }
        }
        let flags = h.u16_at(6);
        self.windows.push(Window {
            name: h.shown_name(),
            method: h.u16_at(8) as u16,
            encrypted: flags & 1 != 0,
            data: Vec::new(),
        });
        false
    }

    fn checked(&mut self, w: &Window, complete: bool) -> bool {
        match w.check(self.depth + 1, complete) {
            Some(what) => {
                self.verdict = Scan::Pickle(what);
                true
            }
            None => false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Sig {
    Local,
    Central,
}

/// The first signature starting in `buf[from..upto]` (it may run past `upto`).
fn next_signature(buf: &[u8], from: usize, upto: usize) -> Option<(usize, Sig)> {
    let mut at = from;
    while at < upto {
        let end = (upto + LOOKAHEAD).min(buf.len());
        let i = at + memchr::memchr(b'P', &buf[at..end])?;
        if i >= upto {
            return None;
        }
        let rest = &buf[i..];
        if rest.starts_with(LOCAL) {
            return Some((i, Sig::Local));
        }
        if rest.starts_with(CENTRAL) {
            return Some((i, Sig::Central));
        }
        at = i + 1;
    }
    None
}
