//! GGUF (versions 2 and 3): a header, typed metadata key/values, tensor infos, then aligned
//! tensor data. Keys are read (capped at `MAX_KEY`), values are kept only for the few keys the
//! metadata reports and skipped otherwise (arrays of tokens included), tensor infos are folded
//! into counts as they pass, and the data section is counted and checked against the offsets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stream::{Machine, Need};
use super::FormatError;

pub const MAX_TENSORS: u64 = 1 << 20;
pub const MAX_METADATA_ENTRIES: u64 = 1 << 20;
pub const MAX_KEY: u64 = 1 << 16;
pub const MAX_STRING: u64 = 1 << 26;
/// Arrays may hold arrays, but not deeper than this.
const MAX_ARRAY_DEPTH: usize = 4;
/// llama.cpp's GGML_MAX_DIMS.
const MAX_DIMS: u32 = 4;
/// String values kept for the metadata are at most this long; longer ones are skipped.
const KEPT_STRING: u64 = 1 << 12;
const DEFAULT_ALIGNMENT: u64 = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GgufMetadata {
    pub version: u32,
    /// `general.architecture`, e.g. "llama".
    pub architecture: Option<String>,
    /// `general.name`.
    pub name: Option<String>,
    /// `general.file_type`, as stored.
    pub file_type: Option<u64>,
    /// The name of `file_type` as llama.cpp's quantiser calls it, e.g. "Q4_K_M".
    pub quantization: Option<String>,
    /// How many tensors use each ggml type, e.g. {"Q4_K": 193, "F32": 65}.
    pub tensor_types: BTreeMap<String, u64>,
    pub tensor_count: u64,
    pub parameter_count: u64,
    /// `<architecture>.context_length`.
    pub context_length: Option<u64>,
    pub metadata_count: u64,
}

fn err(message: impl Into<String>) -> FormatError {
    FormatError::Gguf(message.into())
}

/// llama.cpp's `llama_ftype` names.
pub fn file_type_name(file_type: u64) -> Option<&'static str> {
    Some(match file_type {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        4 => "Q4_1_SOME_F16",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}

/// ggml tensor types: name and, where the block layout is well established, (elements per
/// block, bytes per block).
fn ggml_type(t: u32) -> Option<(&'static str, Option<(u64, u64)>)> {
    Some(match t {
        0 => ("F32", Some((1, 4))),
        1 => ("F16", Some((1, 2))),
        2 => ("Q4_0", Some((32, 18))),
        3 => ("Q4_1", Some((32, 20))),
        6 => ("Q5_0", Some((32, 22))),
        7 => ("Q5_1", Some((32, 24))),
        8 => ("Q8_0", Some((32, 34))),
        9 => ("Q8_1", Some((32, 40))),
        10 => ("Q2_K", Some((256, 84))),
        11 => ("Q3_K", Some((256, 110))),
        12 => ("Q4_K", Some((256, 144))),
        13 => ("Q5_K", Some((256, 176))),
        14 => ("Q6_K", Some((256, 210))),
        15 => ("Q8_K", Some((256, 292))),
        16 => ("IQ2_XXS", None),
        17 => ("IQ2_XS", None),
        18 => ("IQ3_XXS", None),
        19 => ("IQ1_S", None),
        20 => ("IQ4_NL", None),
        21 => ("IQ3_S", None),
        22 => ("IQ2_S", None),
        23 => ("IQ4_XS", None),
        24 => ("I8", Some((1, 1))),
        25 => ("I16", Some((1, 2))),
        26 => ("I32", Some((1, 4))),
        27 => ("I64", Some((1, 8))),
        28 => ("F64", Some((1, 8))),
        29 => ("IQ1_M", None),
        30 => ("BF16", Some((1, 2))),
        34 => ("TQ1_0", None),
        35 => ("TQ2_0", None),
        39 => ("MXFP4", None),
        40 => ("NVFP4", None),
        _ => return None,
    })
}

const STRING: u32 = 8;
const ARRAY: u32 = 9;

/// Size of a fixed-size metadata value type; None for strings, arrays and unknown types.
fn scalar_size(t: u32) -> Option<u64> {
    Some(match t {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        _ => return None,
    })
}

/// Keys whose values the metadata reports.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Architecture,
    Name,
    FileType,
    Alignment,
    ContextLength,
}

#[derive(Clone, Copy)]
enum State {
    Header,
    KeyLen,
    Key,
    ValueType,
    Scalar(u32),
    StringLen,
    StringBody,
    StringSkip,
    ArrayHead,
    ArraySkip,
    TensorNameLen,
    TensorNameSkip,
    TensorDimCount,
    TensorDims,
    TensorTypeOffset,
    Padding,
    Data,
}

pub(crate) struct GgufParser {
    state: State,
    /// Bytes consumed so far (for the alignment of the data section).
    pos: u64,
    /// Length of the pending `Bytes`/`Skip` request.
    pending: u64,
    version: u32,
    tensor_count: u64,
    kv_count: u64,
    kv_done: u64,
    wanted: Option<Wanted>,
    key: String,
    /// (element type, elements left) for each array being walked.
    arrays: Vec<(u32, u64)>,
    architecture: Option<String>,
    name: Option<String>,
    file_type: Option<u64>,
    alignment: u64,
    /// Every `*.context_length` value, to pick the architecture's at the end (few in practice).
    context_lengths: Vec<(String, u64)>,
    tensors_done: u64,
    dims: Vec<u64>,
    tensor_types: BTreeMap<String, u64>,
    parameter_count: u64,
    data_needed: u64,
    data_len: u64,
}

/// The most a [`GgufParser`] holds (besides the driver's buffer, at most [`MAX_KEY`]): the key
/// being read, up to 64 short context-length keys, the kept strings, a tensor's dims.
pub(crate) const MAX_RETAINED: usize =
    2 * MAX_KEY as usize + 64 * 300 + 4 * KEPT_STRING as usize + 64 * 1024;

impl GgufParser {
    /// Bytes held between chunks besides the driver's buffer; see [`MAX_RETAINED`].
    pub(crate) fn retained_bytes(&self) -> usize {
        self.key.capacity()
            + self
                .context_lengths
                .iter()
                .map(|(k, _)| k.capacity() + 8)
                .sum::<usize>()
            + self.architecture.as_ref().map_or(0, String::capacity)
            + self.name.as_ref().map_or(0, String::capacity)
            + self.dims.capacity() * 8
            + self.arrays.capacity() * 16
            + self
                .tensor_types
                .keys()
                .map(|k| k.len() + 32)
                .sum::<usize>()
    }

    pub(crate) fn new() -> Self {
        Self {
            state: State::Header,
            pos: 0,
            pending: 24,
            version: 0,
            tensor_count: 0,
            kv_count: 0,
            kv_done: 0,
            wanted: None,
            key: String::new(),
            arrays: Vec::new(),
            architecture: None,
            name: None,
            file_type: None,
            alignment: DEFAULT_ALIGNMENT,
            context_lengths: Vec::new(),
            tensors_done: 0,
            dims: Vec::new(),
            tensor_types: BTreeMap::new(),
            parameter_count: 0,
            data_needed: 0,
            data_len: 0,
        }
    }

    fn go(&mut self, state: State, len: u64) {
        self.state = state;
        self.pending = len;
    }

    /// One metadata value has been read; go on with the enclosing array, the next key, or the
    /// tensor infos.
    fn value_done(&mut self) -> Result<(), FormatError> {
        if let Some(&(elem, left)) = self.arrays.last() {
            if left == 0 {
                self.arrays.pop();
                return self.value_done();
            }
            self.arrays.last_mut().expect("checked").1 = left - 1;
            return self.start_value(elem);
        }
        self.kv_done += 1;
        self.wanted = None;
        if self.kv_done < self.kv_count {
            self.go(State::KeyLen, 8);
            Ok(())
        } else {
            self.tensor_info_or_data()
        }
    }

    fn start_value(&mut self, t: u32) -> Result<(), FormatError> {
        match t {
            STRING => self.go(State::StringLen, 8),
            ARRAY => {
                if self.arrays.len() >= MAX_ARRAY_DEPTH {
                    return Err(err(format!(
                        "metadata {:?} nests arrays deeper than {MAX_ARRAY_DEPTH}",
                        self.key
                    )));
                }
                self.go(State::ArrayHead, 12)
            }
            t => match scalar_size(t) {
                Some(size) => self.go(State::Scalar(t), size),
                None => {
                    return Err(err(format!(
                        "metadata {:?} has unknown value type {t}",
                        self.key
                    )))
                }
            },
        }
        Ok(())
    }

    fn tensor_info_or_data(&mut self) -> Result<(), FormatError> {
        if self.tensors_done < self.tensor_count {
            self.go(State::TensorNameLen, 8);
        } else {
            let padding = (self.alignment - self.pos % self.alignment) % self.alignment;
            self.go(State::Padding, padding);
        }
        Ok(())
    }

    fn in_array(&self) -> bool {
        !self.arrays.is_empty()
    }

    pub(crate) fn finish(self) -> Result<GgufMetadata, FormatError> {
        let truncated = |what: &str| Err(err(format!("truncated {what}")));
        match self.state {
            State::Header => return truncated("header"),
            State::KeyLen
            | State::Key
            | State::ValueType
            | State::Scalar(_)
            | State::StringLen
            | State::StringBody
            | State::StringSkip
            | State::ArrayHead
            | State::ArraySkip => return truncated("metadata"),
            State::TensorNameLen
            | State::TensorNameSkip
            | State::TensorDimCount
            | State::TensorDims
            | State::TensorTypeOffset => return truncated("tensor info"),
            State::Padding if self.data_needed > 0 => return truncated("tensor data"),
            State::Padding | State::Data => {}
        }
        if self.data_len < self.data_needed {
            return Err(err(format!(
                "truncated tensor data: the tensors need {} bytes, the file has {}",
                self.data_needed, self.data_len
            )));
        }
        let context_length = self.architecture.as_ref().and_then(|arch| {
            let key = format!("{arch}.context_length");
            self.context_lengths
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v)
        });
        Ok(GgufMetadata {
            version: self.version,
            quantization: self
                .file_type
                .map(|t| file_type_name(t).map_or_else(|| format!("unknown ({t})"), str::to_owned)),
            architecture: self.architecture,
            name: self.name,
            file_type: self.file_type,
            tensor_types: self.tensor_types,
            tensor_count: self.tensor_count,
            parameter_count: self.parameter_count,
            context_length,
            metadata_count: self.kv_count,
        })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// A metadata integer of any width, as u64 (negative values are refused by the caller's use).
fn integer(t: u32, b: &[u8]) -> Option<u64> {
    Some(match t {
        0 => b[0] as u64,
        1 => u64::try_from(b[0] as i8).ok()?,
        2 => u16::from_le_bytes([b[0], b[1]]) as u64,
        3 => u64::try_from(i16::from_le_bytes([b[0], b[1]])).ok()?,
        4 => u32_at(b, 0) as u64,
        5 => u64::try_from(u32_at(b, 0) as i32).ok()?,
        10 => u64_at(b, 0),
        11 => u64::try_from(u64_at(b, 0) as i64).ok()?,
        _ => return None,
    })
}

impl Machine for GgufParser {
    fn need(&self) -> Need {
        match self.state {
            State::StringSkip | State::ArraySkip | State::TensorNameSkip | State::Padding => {
                Need::Skip(self.pending)
            }
            State::Data => Need::Rest,
            // Every `Bytes` request is capped before it is made (MAX_KEY, KEPT_STRING, 32).
            _ => Need::Bytes(self.pending as usize),
        }
    }

    fn got(&mut self, b: &[u8]) -> Result<(), FormatError> {
        self.pos += b.len() as u64;
        match self.state {
            State::Header => {
                if &b[0..4] != b"GGUF" {
                    return Err(err(format!(
                        "wrong magic: expected \"GGUF\", found {:?}",
                        String::from_utf8_lossy(&b[0..4])
                    )));
                }
                self.version = u32_at(b, 4);
                match self.version {
                    2 | 3 => {}
                    1 => return Err(err("version 1 files are not supported (convert to v3)")),
                    v if v != 0 && v & 0xFFFF == 0 && v.swap_bytes() <= 3 => {
                        return Err(err("big-endian files are not supported"));
                    }
                    v => return Err(err(format!("unknown version {v}"))),
                }
                self.tensor_count = u64_at(b, 8);
                self.kv_count = u64_at(b, 16);
                if self.tensor_count > MAX_TENSORS {
                    return Err(err(format!(
                        "header declares {} tensors, more than the limit of {MAX_TENSORS}",
                        self.tensor_count
                    )));
                }
                if self.kv_count > MAX_METADATA_ENTRIES {
                    return Err(err(format!(
                        "header declares {} metadata entries, more than the limit of \
                         {MAX_METADATA_ENTRIES}",
                        self.kv_count
                    )));
                }
                if self.kv_count > 0 {
                    self.go(State::KeyLen, 8);
                } else {
                    self.tensor_info_or_data()?;
                }
            }
            State::KeyLen => {
                let len = u64_at(b, 0);
                if len > MAX_KEY {
                    return Err(err(format!(
                        "metadata key length {len} is over the limit of {MAX_KEY} bytes"
                    )));
                }
                self.go(State::Key, len);
            }
            State::Key => {
                self.key = String::from_utf8(b.to_vec())
                    .map_err(|_| err("metadata key is not valid UTF-8"))?;
                self.wanted = match self.key.as_str() {
                    "general.architecture" => Some(Wanted::Architecture),
                    "general.name" => Some(Wanted::Name),
                    "general.file_type" => Some(Wanted::FileType),
                    "general.alignment" => Some(Wanted::Alignment),
                    k if k.ends_with(".context_length")
                        && k.len() <= 256
                        && self.context_lengths.len() < 64 =>
                    {
                        Some(Wanted::ContextLength)
                    }
                    _ => None,
                };
                self.go(State::ValueType, 4);
            }
            State::ValueType => {
                let t = u32_at(b, 0);
                self.start_value(t)?;
            }
            State::Scalar(t) => {
                if t == 7 && b[0] > 1 {
                    return Err(err(format!(
                        "metadata {:?} has a bool of {}",
                        self.key, b[0]
                    )));
                }
                if !self.in_array() {
                    let value = integer(t, b);
                    match self.wanted {
                        Some(Wanted::FileType) => self.file_type = value,
                        Some(Wanted::ContextLength) => {
                            if let Some(v) = value {
                                self.context_lengths.push((self.key.clone(), v));
                            }
                        }
                        Some(Wanted::Alignment) => match value {
                            Some(a) if a.is_power_of_two() && a <= 1 << 30 => self.alignment = a,
                            _ => {
                                return Err(err(format!(
                                    "general.alignment must be a power of two, got {value:?}"
                                )))
                            }
                        },
                        _ => {}
                    }
                }
                self.value_done()?;
            }
            State::StringLen => {
                let len = u64_at(b, 0);
                if len > MAX_STRING {
                    return Err(err(format!(
                        "metadata {:?} holds a string of {len} bytes, over the limit of \
                         {MAX_STRING}",
                        self.key
                    )));
                }
                let keep = !self.in_array()
                    && matches!(self.wanted, Some(Wanted::Architecture | Wanted::Name))
                    && len <= KEPT_STRING;
                if keep {
                    self.go(State::StringBody, len);
                } else {
                    self.go(State::StringSkip, len);
                }
            }
            State::StringBody => {
                let text = String::from_utf8_lossy(b).into_owned();
                match self.wanted {
                    Some(Wanted::Architecture) => self.architecture = Some(text),
                    Some(Wanted::Name) => self.name = Some(text),
                    _ => {}
                }
                self.value_done()?;
            }
            State::ArrayHead => {
                let elem = u32_at(b, 0);
                let count = u64_at(b, 4);
                match (elem, scalar_size(elem)) {
                    (_, Some(size)) => {
                        let bytes = count.checked_mul(size).ok_or_else(|| {
                            err(format!(
                                "metadata {:?} declares an array of {count} elements, which \
                                 overflows",
                                self.key
                            ))
                        })?;
                        self.go(State::ArraySkip, bytes);
                    }
                    (STRING | ARRAY, None) => {
                        self.arrays.push((elem, count));
                        self.value_done()?;
                    }
                    _ => {
                        return Err(err(format!(
                            "metadata {:?} is an array of unknown type {elem}",
                            self.key
                        )))
                    }
                }
            }
            State::TensorNameLen => {
                let len = u64_at(b, 0);
                if len > MAX_KEY {
                    return Err(err(format!(
                        "tensor name length {len} is over the limit of {MAX_KEY} bytes"
                    )));
                }
                self.go(State::TensorNameSkip, len);
            }
            State::TensorDimCount => {
                let n = u32_at(b, 0);
                if n > MAX_DIMS {
                    return Err(err(format!(
                        "a tensor has {n} dimensions, more than {MAX_DIMS}"
                    )));
                }
                self.go(State::TensorDims, 8 * n as u64);
            }
            State::TensorDims => {
                self.dims.clear();
                self.dims.extend(b.chunks_exact(8).map(|d| u64_at(d, 0)));
                self.go(State::TensorTypeOffset, 12);
            }
            State::TensorTypeOffset => {
                let t = u32_at(b, 0);
                let offset = u64_at(b, 4);
                let (type_name, layout) = ggml_type(t)
                    .ok_or_else(|| err(format!("a tensor has unknown ggml type {t}")))?;
                let elements = self
                    .dims
                    .iter()
                    .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                    .ok_or_else(|| err("tensor dimensions overflow the element count"))?;
                self.parameter_count = self
                    .parameter_count
                    .checked_add(elements)
                    .ok_or_else(|| err("the parameter count overflows"))?;
                if !offset.is_multiple_of(self.alignment) {
                    return Err(err(format!(
                        "tensor data offset {offset} is not aligned to {}",
                        self.alignment
                    )));
                }
                let size = match layout {
                    Some((block, bytes)) => {
                        let row = self.dims.first().copied().unwrap_or(1);
                        if row % block != 0 {
                            return Err(err(format!(
                                "a {type_name} tensor's rows of {row} are not a multiple of its \
                                 block of {block}"
                            )));
                        }
                        (elements / block).checked_mul(bytes)
                    }
                    None => Some(0),
                };
                let end = size
                    .and_then(|s| offset.checked_add(s))
                    .ok_or_else(|| err("tensor data extent overflows"))?;
                self.data_needed = self.data_needed.max(end);
                *self.tensor_types.entry(type_name.to_owned()).or_default() += 1;
                self.tensors_done += 1;
                self.tensor_info_or_data()?;
            }
            State::TensorNameSkip
            | State::StringSkip
            | State::ArraySkip
            | State::Padding
            | State::Data => unreachable!("skipped, not requested"),
        }
        Ok(())
    }

    fn skipped(&mut self) -> Result<(), FormatError> {
        self.pos += self.pending;
        match self.state {
            State::StringSkip | State::ArraySkip => self.value_done(),
            State::TensorNameSkip => {
                self.go(State::TensorDimCount, 4);
                Ok(())
            }
            State::Padding => {
                self.go(State::Data, 0);
                Ok(())
            }
            _ => unreachable!("only skip states skip"),
        }
    }

    fn rest(&mut self, len: u64) {
        self.data_len = self.data_len.saturating_add(len);
    }
}
