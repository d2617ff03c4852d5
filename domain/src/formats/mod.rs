//! What an uploaded file is, checked while it streams past.
//!
//! An [`Inspector`] rides along the upload stream: `for_file` picks the format from the file
//! name (refusing pickle-based extensions at once), `feed` takes each chunk as it goes to
//! storage, and `finish` returns the [`FileMetadata`] stored with the file, or why the file is
//! refused. Memory stays bounded whatever the file size: each format keeps only its header-sized
//! state, with hard caps on every length and count the file declares, and never sizes an
//! allocation from a declared number.
//!
//! Pickles are refused by name (`.bin .pt .pth .ckpt .pkl .pickle .joblib`) and by content
//! (the pickle protocol marker, or a zip whose first entry is a `.pkl` as in PyTorch's format),
//! whatever the extension. `.onnx`, `.safetensors` and `.gguf` files must parse as what they
//! claim; a file with another name that starts with the GGUF magic is read as GGUF; anything
//! else (README, config.json, tokenizer.json, labels.txt, ...) is a plain file.

mod gguf;
mod onnx;
mod pickle;
mod safetensors;
mod stream;

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

enum State {
    /// Holding the first bytes until the content can be told apart (pickle, zip, GGUF magic).
    Sniffing(Vec<u8>),
    Onnx(Box<onnx::OnnxParser>),
    Safetensors(Box<Driver<safetensors::SafetensorsParser>>),
    Gguf(Box<Driver<gguf::GgufParser>>),
    Plain,
    Failed(FormatError),
}

/// Inspects one file as its bytes stream past; see the module documentation.
pub struct Inspector {
    name: String,
    announced: FileKind,
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
            state: State::Sniffing(Vec::new()),
        })
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

    fn feed_inner(&mut self, chunk: &[u8], complete: bool) -> Result<(), FormatError> {
        match &mut self.state {
            State::Failed(e) => Err(e.clone()),
            State::Plain => Ok(()),
            State::Onnx(p) => p.feed(chunk),
            State::Safetensors(d) => d.feed(chunk),
            State::Gguf(d) => d.feed(chunk),
            State::Sniffing(prefix) => {
                let take = (pickle::SNIFF_LIMIT - prefix.len()).min(chunk.len());
                prefix.extend_from_slice(&chunk[..take]);
                let rest = &chunk[take..];
                let full = prefix.len() == pickle::SNIFF_LIMIT;
                let kind = match pickle::sniff(prefix, complete || full) {
                    pickle::Sniff::NeedMore => return Ok(()),
                    pickle::Sniff::Pickle(reason) => {
                        return Err(FormatError::Pickle {
                            name: self.name.clone(),
                            reason,
                        })
                    }
                    pickle::Sniff::NotPickle if self.announced != FileKind::Plain => self.announced,
                    pickle::Sniff::NotPickle if prefix.starts_with(b"GGUF") => FileKind::Gguf,
                    pickle::Sniff::NotPickle if prefix.len() < 4 && !complete && !full => {
                        // Could still turn out to be GGUF.
                        return Ok(());
                    }
                    pickle::Sniff::NotPickle => FileKind::Plain,
                };
                let prefix = std::mem::take(prefix);
                self.state = match kind {
                    FileKind::Onnx => State::Onnx(Box::new(onnx::OnnxParser::new())),
                    FileKind::Safetensors => State::Safetensors(Box::new(Driver::new(
                        safetensors::SafetensorsParser::new(),
                    ))),
                    FileKind::Gguf => State::Gguf(Box::new(Driver::new(gguf::GgufParser::new()))),
                    FileKind::Plain => State::Plain,
                };
                self.feed_inner(&prefix, complete)?;
                self.feed_inner(rest, complete)
            }
        }
    }

    /// The end of the file: the metadata to store, or why the file is refused.
    pub fn finish(mut self) -> Result<FileMetadata, FormatError> {
        if let State::Sniffing(_) = self.state {
            self.feed_inner(&[], true)?;
        }
        match self.state {
            State::Failed(e) => Err(e),
            State::Sniffing(_) => unreachable!("a complete file is always classified"),
            State::Plain => Ok(FileMetadata::Plain),
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
