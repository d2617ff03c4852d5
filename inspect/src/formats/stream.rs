//! A small driver for push parsers that want "exactly n bytes", "skip n bytes" or "everything
//! that is left": it buffers only the bytes of the current request, so memory stays bounded by
//! the largest request a parser makes (which each parser caps), never by the file size.

use super::FormatError;

/// What a parser wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Exactly this many bytes, handed over in one slice.
    Bytes(usize),
    /// Pass over this many bytes without looking at them.
    Skip(u64),
    /// Hand over this many bytes (more than zero) as they arrive, in pieces of any size; the
    /// machine counts them down in `streamed` and changes its need when done.
    Stream(u64),
    /// Count every remaining byte of the file (the data section).
    Rest,
}

pub(crate) trait Machine {
    fn need(&self) -> Need;
    /// The bytes asked for with `Need::Bytes`.
    fn got(&mut self, bytes: &[u8]) -> Result<(), FormatError>;
    /// The bytes asked to skip with `Need::Skip` have gone by.
    fn skipped(&mut self) -> Result<(), FormatError>;
    /// Bytes of the data section went by.
    fn rest(&mut self, len: u64);
    /// Bytes asked for with `Need::Stream`, in order.
    fn streamed(&mut self, _bytes: &[u8]) -> Result<(), FormatError> {
        unreachable!("this machine never asks for Need::Stream")
    }
}

pub(crate) struct Driver<M> {
    pub(crate) machine: M,
    buf: Vec<u8>,
    skipped: u64,
}

impl<M: Machine> Driver<M> {
    pub(crate) fn new(machine: M) -> Self {
        Self {
            machine,
            buf: Vec::new(),
            skipped: 0,
        }
    }

    /// Bytes buffered for the current request.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.capacity()
    }

    /// Feeds a chunk; an empty chunk settles requests for zero bytes (used before finishing).
    pub(crate) fn feed(&mut self, mut chunk: &[u8]) -> Result<(), FormatError> {
        loop {
            match self.machine.need() {
                Need::Bytes(n) => {
                    let missing = n - self.buf.len();
                    if missing > 0 {
                        if chunk.is_empty() {
                            return Ok(());
                        }
                        let take = missing.min(chunk.len());
                        self.buf.extend_from_slice(&chunk[..take]);
                        chunk = &chunk[take..];
                    }
                    if self.buf.len() == n {
                        let bytes = std::mem::take(&mut self.buf);
                        self.machine.got(&bytes)?;
                        // Reuse the allocation unless it was a large one-off (a big header).
                        if bytes.capacity() <= 1 << 16 {
                            self.buf = bytes;
                            self.buf.clear();
                        }
                    }
                }
                Need::Skip(n) => {
                    let missing = n - self.skipped;
                    if missing > 0 {
                        if chunk.is_empty() {
                            return Ok(());
                        }
                        let take = missing.min(chunk.len() as u64);
                        self.skipped += take;
                        chunk = &chunk[take as usize..];
                    }
                    if self.skipped == n {
                        self.skipped = 0;
                        self.machine.skipped()?;
                    }
                }
                Need::Stream(n) => {
                    if chunk.is_empty() {
                        return Ok(());
                    }
                    let take = n.min(chunk.len() as u64) as usize;
                    self.machine.streamed(&chunk[..take])?;
                    chunk = &chunk[take..];
                }
                Need::Rest => {
                    self.machine.rest(chunk.len() as u64);
                    return Ok(());
                }
            }
        }
    }
}
