//! What an uploaded file is, checked while it streams past.
//!
//! An [`Inspector`] rides along the upload stream: `for_file` picks the format from the file
//! name (refusing pickle-based extensions at once), `feed` takes each chunk as it goes to
//! storage, and `finish` returns the [`FileMetadata`] stored with the file, or why the file is
//! refused. Memory stays bounded whatever the file size: each format keeps only its header-sized
//! state, with hard caps on every length and count the file declares, and never sizes an
//! allocation from a declared number. [`Inspector::retained_bytes`] says how much one holds
//! between chunks; it never exceeds [`MAX_RETAINED_BYTES`].
//!
//! Pickles are refused by name (`.bin .pt .pth .ckpt .pkl .pickle .joblib`) and by content,
//! whatever the extension: a pickle of any protocol (0 to 5), compressed with gzip, zlib, bzip2,
//! xz, lzma or zstd (joblib dumps), a NumPy array of Python objects, or a zip holding any of
//! these or an entry named `*.pkl`/`*.pickle` at any position (PyTorch checkpoints, `.npz`);
//! see the `pickle` module. `.onnx`, `.safetensors` and `.gguf` files must parse as what they
//! claim; a file with another name that starts with the GGUF magic is read as GGUF; anything
//! else (README, config.json, tokenizer.json, labels.txt, ...) is a plain file.

mod compressed;
mod gguf;
mod npy;
mod onnx;
mod opcodes;
mod pickle;
mod safetensors;
mod stream;
mod zip;

use serde::{Deserialize, Serialize};

pub use gguf::{file_type_name, GgufMetadata};
pub use onnx::{elem_type_name, Dim, OnnxMetadata, Operator, OpsetImport, ValueInfo};
pub use safetensors::{DtypeSummary, SafetensorsMetadata, TensorSummary};

use stream::Driver;

/// Why an uploaded file is refused. The message names the format and what is wrong with it,
/// and is meant for the uploader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error(
        "{name} is refused because {reason}: pickle files can execute arbitrary code when they \
         are loaded, so Bazaar does not accept them. Convert the weights to safetensors \
         (`safetensors.torch.save_file(model.state_dict(), \"model.safetensors\")`) or export \
         the model to ONNX (`torch.onnx.export`), and upload that instead"
    )]
    Pickle { name: String, reason: String },
    #[error("ONNX: {0}")]
    Onnx(String),
    #[error("safetensors: {0}")]
    Safetensors(String),
    #[error("GGUF: {0}")]
    Gguf(String),
}

/// How a file is inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Onnx,
    Safetensors,
    Gguf,
    /// Anything else: accepted as it is, with no metadata.
    Plain,
}

impl FileKind {
    /// The kind a file name's extension announces (content may still turn a plain name into
    /// GGUF, or refuse it as a pickle).
    pub fn from_name(path: &str) -> FileKind {
        match extension(path).as_deref() {
            Some("onnx") => FileKind::Onnx,
            Some("safetensors") => FileKind::Safetensors,
            Some("gguf") => FileKind::Gguf,
            _ => FileKind::Plain,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Onnx => "onnx",
            FileKind::Safetensors => "safetensors",
            FileKind::Gguf => "gguf",
            FileKind::Plain => "plain",
        }
    }
}

/// What was learnt from a file's header; stored as JSON with the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum FileMetadata {
    Onnx(OnnxMetadata),
    Safetensors(SafetensorsMetadata),
    Gguf(GgufMetadata),
    Plain,
}

impl FileMetadata {
    pub fn kind(&self) -> FileKind {
        match self {
            FileMetadata::Onnx(_) => FileKind::Onnx,
            FileMetadata::Safetensors(_) => FileKind::Safetensors,
            FileMetadata::Gguf(_) => FileKind::Gguf,
            FileMetadata::Plain => FileKind::Plain,
        }
    }

    /// The parameter count, for the formats that have one.
    pub fn parameter_count(&self) -> Option<u64> {
        match self {
            FileMetadata::Onnx(m) => Some(m.parameter_count),
            FileMetadata::Safetensors(m) => Some(m.parameter_count),
            FileMetadata::Gguf(m) => Some(m.parameter_count),
            FileMetadata::Plain => None,
        }
    }
}

/// The lower-cased extension of the last path component, if any.
fn extension(path: &str) -> Option<String> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() || !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_owned()
}

/// The most an [`Inspector`] holds between chunks, whatever it is fed: the pickle checks'
/// buffers (a compressed stream's first block, two zip entries' first bytes) plus the largest
/// format state (a safetensors header's summary, tensor spans and name hashes; see
/// [`safetensors::MAX_RETAINED`]).
pub const MAX_RETAINED_BYTES: usize = pickle::Guard::MAX_RETAINED + FORMAT_MAX_RETAINED;

const FORMAT_MAX_RETAINED: usize = {
    let (a, b, c) = (
        safetensors::MAX_RETAINED,
        onnx::MAX_RETAINED,
        gguf::MAX_RETAINED,
    );
    let ab = if a > b { a } else { b };
    if ab > c {
        ab
    } else {
        c
    }
};

/// Bytes held to tell the format from the content (the GGUF magic).
const KIND_SNIFF: usize = 4;

enum State {
    /// Holding the first bytes until the format can be told (the GGUF magic).
    Sniffing(Vec<u8>),
    Onnx(Box<onnx::OnnxParser>),
    Safetensors(Box<Driver<safetensors::SafetensorsParser>>),
    Gguf(Box<Driver<gguf::GgufParser>>),
    Plain,
    /// Read as a plain file for the pickle checks, refused at the end with this error.
    Mismatch(FormatError),
    /// The format's parser refused the file while its bytes may still be a pickle opcode
    /// stream: the pickle verdict comes first, and this error as soon as the stream is none.
    Pending(FormatError),
    Failed(FormatError),
}

/// Inspects one file as its bytes stream past; see the module documentation.
pub struct Inspector {
    name: String,
    announced: FileKind,
    guard: pickle::Guard,
    state: State,
}

impl Inspector {
    /// Starts inspecting a file called `path`; refuses pickle-based extensions at once.
    pub fn for_file(path: &str) -> Result<Inspector, FormatError> {
        let name = file_name(path);
        if let Some(ext) = extension(path) {
            if pickle::PICKLE_EXTENSIONS.contains(&ext.as_str()) {
                return Err(FormatError::Pickle {
                    name,
                    reason: format!("`.{ext}` files are Python pickles"),
                });
            }
        }
        Ok(Inspector {
            name,
            announced: FileKind::from_name(path),
            guard: pickle::Guard::new(),
            state: State::Sniffing(Vec::new()),
        })
    }

    /// Bytes this inspector holds between chunks (buffers and kept metadata), at most
    /// [`MAX_RETAINED_BYTES`]. Meant for callers that keep many inspectors alive at once.
    pub fn retained_bytes(&self) -> usize {
        let state = match &self.state {
            State::Sniffing(prefix) => prefix.capacity(),
            State::Onnx(p) => p.retained_bytes(),
            State::Safetensors(d) => d.buffered() + d.machine.retained_bytes(),
            State::Gguf(d) => d.buffered() + d.machine.retained_bytes(),
            State::Plain | State::Mismatch(_) | State::Pending(_) | State::Failed(_) => 0,
        };
        self.guard.retained_bytes() + state
    }

    /// The next chunk of the file, in order; chunks may be any size, down to one byte.
    /// After an error every later call returns the same error.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), FormatError> {
        let result = self.feed_inner(chunk, false);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
        }
        result
    }

    fn pickle(&self, what: String) -> FormatError {
        FormatError::Pickle {
            name: self.name.clone(),
            reason: format!("its content is {what}"),
        }
    }

    fn feed_inner(&mut self, chunk: &[u8], complete: bool) -> Result<(), FormatError> {
        if let State::Sniffing(prefix) = &mut self.state {
            let take = (KIND_SNIFF - prefix.len()).min(chunk.len());
            prefix.extend_from_slice(&chunk[..take]);
            // A named format is known at once, unless the file may open with a pickle's
            // `PROTO` (whose verdict should come before the format's own complaint); content
            // makes a plain name GGUF only with the magic.
            let ready = complete
                || prefix.len() >= KIND_SNIFF
                || self.announced != FileKind::Plain
                    && !matches!(prefix[..], [0x80] | [b'P'] | [b'P', b'K', ..]);
            if !ready {
                return Ok(());
            }
            let kind = match self.announced {
                FileKind::Plain if prefix.starts_with(b"GGUF") => FileKind::Gguf,
                announced => announced,
            };
            let prefix = std::mem::take(prefix);
            if kind != FileKind::Plain && prefix.starts_with(b"PK\x03\x04") {
                // A zip archive is none of the formats; it is refused as what it holds, or at
                // the end as not what its name says.
                let error = match kind {
                    FileKind::Onnx => {
                        FormatError::Onnx("the file is a zip archive, not an ONNX model".into())
                    }
                    FileKind::Safetensors => FormatError::Safetensors(
                        "the file is a zip archive, not a safetensors file".into(),
                    ),
                    _ => FormatError::Gguf("the file is a zip archive, not a GGUF file".into()),
                };
                self.state = State::Mismatch(error);
                self.feed_inner(&prefix, complete)?;
                return self.feed_inner(&chunk[take..], complete);
            }
            self.state = match kind {
                FileKind::Onnx => State::Onnx(Box::new(onnx::OnnxParser::new())),
                FileKind::Safetensors => {
                    State::Safetensors(Box::new(Driver::new(safetensors::SafetensorsParser::new())))
                }
                FileKind::Gguf => State::Gguf(Box::new(Driver::new(gguf::GgufParser::new()))),
                FileKind::Plain => State::Plain,
            };
            if kind != FileKind::Plain {
                // The data of a file that parses as ONNX, safetensors or GGUF is no zip
                // archive anyone opens.
                self.guard.skip_zip();
            }
            self.feed_inner(&prefix, complete)?;
            return self.feed_inner(&chunk[take..], complete);
        }
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        if let Err(what) = self.guard.feed(chunk) {
            return Err(self.pickle(what));
        }
        let result = match &mut self.state {
            State::Onnx(p) => p.feed(chunk),
            State::Safetensors(d) => d.feed(chunk),
            State::Gguf(d) => d.feed(chunk),
            State::Plain | State::Mismatch(_) => Ok(()),
            State::Pending(e) if !self.guard.opcodes_running() => Err(e.clone()),
            State::Pending(_) => Ok(()),
            State::Sniffing(_) | State::Failed(_) => unreachable!("handled above"),
        };
        match result {
            Err(e) if self.guard.opcodes_running() => {
                self.state = State::Pending(e);
                Ok(())
            }
            other => other,
        }
    }

    /// The end of the file: the metadata to store, or why the file is refused.
    pub fn finish(mut self) -> Result<FileMetadata, FormatError> {
        if let State::Sniffing(_) = self.state {
            self.feed_inner(&[], true)?;
        }
        if let State::Failed(e) = self.state {
            return Err(e);
        }
        if let Err(what) = self.guard.finish() {
            return Err(self.pickle(what));
        }
        match self.state {
            State::Failed(_) | State::Sniffing(_) => unreachable!("handled above"),
            State::Plain => Ok(FileMetadata::Plain),
            State::Mismatch(e) | State::Pending(e) => Err(e),
            State::Onnx(p) => p.finish().map(FileMetadata::Onnx),
            State::Safetensors(mut d) => {
                d.feed(&[])?;
                d.machine.finish().map(FileMetadata::Safetensors)
            }
            State::Gguf(mut d) => {
                d.feed(&[])?;
                d.machine.finish().map(FileMetadata::Gguf)
            }
        }
    }
}

/// Inspects a file held in memory (small files, tests).
pub fn inspect(path: &str, bytes: &[u8]) -> Result<FileMetadata, FormatError> {
    let mut inspector = Inspector::for_file(path)?;
    inspector.feed(bytes)?;
    inspector.finish()
}

#[cfg(test)]
mod tests;
