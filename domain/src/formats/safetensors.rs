//! safetensors: an 8-byte little-endian header length, a JSON header mapping tensor names to
//! dtype, shape and data offsets (plus an optional `__metadata__` string map), then the data.
//! Only the header is buffered (at most `MAX_HEADER` bytes, as the format's own reader allows);
//! the data section is counted and checked against the offsets the header declares.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::stream::{Machine, Need};
use super::FormatError;

/// The largest header the format allows.
pub const MAX_HEADER: u64 = 100_000_000;
/// How many tensors are listed one by one in the metadata; all of them are counted.
pub const LISTED_TENSORS: usize = 1000;
/// Bytes of tensor names listed, and bytes of `__metadata__` kept; beyond them the listing
/// stops (`tensors_truncated`) and further metadata entries are left out (`metadata_truncated`).
pub const LISTED_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetensorsMetadata {
    pub tensor_count: u64,
    pub parameter_count: u64,
    /// Per dtype: how many tensors and parameters use it.
    pub dtypes: BTreeMap<String, DtypeSummary>,
    /// The first `LISTED_TENSORS` tensors in header order.
    pub tensors: Vec<TensorSummary>,
    /// True when `tensors` lists fewer than `tensor_count`.
    pub tensors_truncated: bool,
    /// The header's `__metadata__` map (entries in key order up to `LISTED_BYTES`).
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub metadata_truncated: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DtypeSummary {
    pub tensors: u64,
    pub parameters: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSummary {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
}

fn err(message: impl Into<String>) -> FormatError {
    FormatError::Safetensors(message.into())
}

/// Bits per element of each dtype the format defines.
fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

enum State {
    Length,
    Header(usize),
    Data,
}

pub(crate) struct SafetensorsParser {
    state: State,
    header: Option<Header>,
    data_len: u64,
}

impl SafetensorsParser {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Length,
            header: None,
            data_len: 0,
        }
    }

    pub(crate) fn finish(self) -> Result<SafetensorsMetadata, FormatError> {
        let header = match (self.state, self.header) {
            (State::Data, Some(header)) => header,
            (State::Length, _) => return Err(err("file ends before the 8-byte header length")),
            _ => return Err(err("file ends inside the JSON header")),
        };
        if self.data_len != header.data_len {
            return Err(err(format!(
                "the header's tensors cover {} bytes of data but the file has {} after the header{}",
                header.data_len,
                self.data_len,
                if self.data_len < header.data_len { " (truncated)" } else { "" }
            )));
        }
        Ok(header.metadata)
    }
}

impl Machine for SafetensorsParser {
    fn need(&self) -> Need {
        match self.state {
            State::Length => Need::Bytes(8),
            State::Header(n) => Need::Bytes(n),
            State::Data => Need::Rest,
        }
    }

    fn got(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        match self.state {
            State::Length => {
                let len = u64::from_le_bytes(bytes.try_into().expect("asked for 8 bytes"));
                if len > MAX_HEADER {
                    return Err(err(format!(
                        "header declares {len} bytes, more than the 100 MB limit"
                    )));
                }
                if len < 2 {
                    return Err(err(format!(
                        "header declares {len} bytes, too short for JSON"
                    )));
                }
                self.state = State::Header(len as usize);
            }
            State::Header(_) => {
                self.header = Some(parse_header(bytes)?);
                self.state = State::Data;
            }
            State::Data => unreachable!("the data section is counted, not requested"),
        }
        Ok(())
    }

    fn skipped(&mut self) -> Result<(), FormatError> {
        Ok(())
    }

    fn rest(&mut self, len: u64) {
        self.data_len = self.data_len.saturating_add(len);
    }
}

struct Header {
    metadata: SafetensorsMetadata,
    data_len: u64,
}

#[derive(Deserialize)]
struct RawTensor {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// Collects the header's entries one at a time, so the JSON is never held as a value tree.
#[derive(Default)]
struct Collector {
    tensor_count: u64,
    parameter_count: u64,
    dtypes: BTreeMap<String, DtypeSummary>,
    tensors: Vec<TensorSummary>,
    names: HashSet<String>,
    spans: Vec<(u64, u64)>,
    listed_bytes: usize,
    metadata: Option<BTreeMap<String, String>>,
}

impl Collector {
    fn add(&mut self, name: String, t: RawTensor) -> Result<(), String> {
        let bits = dtype_bits(&t.dtype)
            .ok_or_else(|| format!("tensor {name:?} has unknown dtype {:?}", t.dtype))?;
        let elements = t
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("shape of tensor {name:?} overflows the element count"))?;
        let size_bits = elements
            .checked_mul(bits)
            .ok_or_else(|| format!("tensor {name:?} is too large"))?;
        if size_bits % 8 != 0 {
            return Err(format!("tensor {name:?} does not fill whole bytes"));
        }
        let (start, end) = t.data_offsets;
        if end < start {
            return Err(format!(
                "tensor {name:?} has data_offsets [{start}, {end}] that run backwards"
            ));
        }
        if end - start != size_bits / 8 {
            return Err(format!(
                "tensor {name:?} of dtype {} and shape {:?} needs {} bytes but its data_offsets \
                 [{start}, {end}] span {}",
                t.dtype,
                t.shape,
                size_bits / 8,
                end - start
            ));
        }
        if !self.names.insert(name.clone()) {
            return Err(format!("tensor {name:?} appears twice"));
        }
        self.tensor_count += 1;
        self.parameter_count = self
            .parameter_count
            .checked_add(elements)
            .ok_or("the parameter count overflows")?;
        let summary = self.dtypes.entry(t.dtype.clone()).or_default();
        summary.tensors += 1;
        summary.parameters = summary.parameters.saturating_add(elements);
        self.spans.push((start, end));
        let size = name.len() + t.dtype.len() + 8 * t.shape.len();
        if self.tensors.len() < LISTED_TENSORS && self.listed_bytes + size <= LISTED_BYTES {
            self.listed_bytes += size;
            self.tensors.push(TensorSummary {
                name,
                dtype: t.dtype,
                shape: t.shape,
            });
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut Collector {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut Collector {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of tensors")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "__metadata__" {
                if self.metadata.is_some() {
                    return Err(de::Error::custom("__metadata__ appears twice"));
                }
                self.metadata = Some(map.next_value()?);
            } else {
                let tensor: RawTensor = map.next_value()?;
                self.add(key, tensor).map_err(de::Error::custom)?;
            }
        }
        Ok(())
    }
}

fn parse_header(bytes: &[u8]) -> Result<Header, FormatError> {
    if bytes.first() != Some(&b'{') {
        return Err(err(
            "header does not start with '{' (not a safetensors file?)",
        ));
    }
    let mut collector = Collector::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    (&mut collector)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| err(format!("header is not valid: {e}")))?;
    // The tensors must tile the data section exactly: no overlaps, no holes.
    let mut spans = std::mem::take(&mut collector.spans);
    spans.sort_unstable();
    let mut covered = 0u64;
    for (start, end) in spans {
        if start != covered {
            return Err(err(format!(
                "tensor data {} at byte {covered} of the data section (tensors must tile it exactly)",
                if start < covered { "overlaps" } else { "leaves a hole" }
            )));
        }
        covered = end;
    }
    let mut metadata = collector.metadata.unwrap_or_default();
    let mut kept = 0;
    let all = metadata.len();
    metadata.retain(|k, v| {
        kept += k.len() + v.len();
        kept <= LISTED_BYTES
    });
    Ok(Header {
        metadata: SafetensorsMetadata {
            metadata_truncated: metadata.len() < all,
            tensor_count: collector.tensor_count,
            parameter_count: collector.parameter_count,
            dtypes: collector.dtypes,
            tensors_truncated: (collector.tensors.len() as u64) < collector.tensor_count,
            tensors: collector.tensors,
            metadata,
        },
        data_len: covered,
    })
}
