//! safetensors: an 8-byte little-endian header length, a JSON header mapping tensor names to
//! dtype, shape and data offsets (plus an optional `__metadata__` string map), then the data.
//! The header (up to `MAX_HEADER` bytes, as the format's own reader allows) is parsed as it
//! streams past, never held whole: one top-level entry (`"name": {dtype, shape, offsets}`, at
//! most [`ENTRY_LIMIT`] bytes) is buffered at a time, and `__metadata__` is read pair by pair.
//! What stays is the summary (bounded by `LISTED_TENSORS`/`LISTED_BYTES`), and per tensor its
//! data span and a 64-bit hash of its name (for the tiling and duplicate checks), for at most
//! [`MAX_TENSORS`] tensors: [`MAX_RETAINED`] bytes in all. Real headers are far below every
//! cap (a large model's shard lists a few thousand tensors in a few hundred kB). The data
//! section is counted and checked against the offsets the header declares.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};

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
/// Tensors a header may declare; real models have at most tens of thousands per file.
pub const MAX_TENSORS: u64 = 1 << 17;
/// The longest top-level entry of the header (one tensor's name, dtype, shape and offsets).
pub const ENTRY_LIMIT: usize = 64 << 10;
/// The longest `__metadata__` key or value, as written in JSON, that can be kept (longer ones
/// are checked and left out, as they would not fit `LISTED_BYTES` anyway).
const META_RAW_LIMIT: usize = LISTED_BYTES + (64 << 10);
/// The most a [`SafetensorsParser`] holds: the listed tensors and metadata, one entry or
/// metadata string being read (its buffer may have doubled past the limit), and per tensor a
/// span (16 bytes) and a name hash (8 bytes, in a hash set at most half full).
pub(crate) const MAX_RETAINED: usize = 2 * LISTED_BYTES
    + LISTED_TENSORS * std::mem::size_of::<TensorSummary>()
    + 2 * ENTRY_LIMIT
    + 2 * META_RAW_LIMIT
    + LISTED_BYTES
    + MAX_TENSORS as usize * (16 + 2 * 9)
    + 4096;

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
    Header(Box<HeaderScan>),
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

    /// Bytes held between chunks (besides the driver's 8-byte length buffer); at most
    /// [`MAX_RETAINED`].
    pub(crate) fn retained_bytes(&self) -> usize {
        match (&self.state, &self.header) {
            (State::Header(scan), _) => scan.retained_bytes(),
            (_, Some(h)) => summary_bytes(&h.metadata),
            _ => 0,
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

fn summary_bytes(m: &SafetensorsMetadata) -> usize {
    m.tensors.capacity() * std::mem::size_of::<TensorSummary>()
        + m.tensors
            .iter()
            .map(|t| t.name.capacity() + t.dtype.capacity() + 8 * t.shape.capacity())
            .sum::<usize>()
        + m.metadata
            .iter()
            .map(|(k, v)| k.len() + v.len() + 48)
            .sum::<usize>()
        + m.dtypes.len() * 64
}

impl Machine for SafetensorsParser {
    fn need(&self) -> Need {
        match &self.state {
            State::Length => Need::Bytes(8),
            State::Header(scan) => Need::Stream(scan.left),
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
                self.state = State::Header(Box::new(HeaderScan::new(len)));
            }
            State::Header(_) | State::Data => unreachable!("only the length is asked for"),
        }
        Ok(())
    }

    fn streamed(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        let State::Header(scan) = &mut self.state else {
            unreachable!("only the header is streamed")
        };
        scan.feed(bytes)?;
        if scan.left == 0 {
            let State::Header(scan) = std::mem::replace(&mut self.state, State::Data) else {
                unreachable!()
            };
            self.header = Some(scan.finish()?);
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

fn name_hash(name: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

/// Collects the header's entries one at a time, so the JSON is never held as a value tree.
#[derive(Default)]
struct Collector {
    tensor_count: u64,
    parameter_count: u64,
    dtypes: BTreeMap<String, DtypeSummary>,
    tensors: Vec<TensorSummary>,
    /// Hashes of the names seen, for the duplicate check.
    names: HashSet<u64>,
    spans: Vec<(u64, u64)>,
    listed_bytes: usize,
    metadata: Metadata,
}

/// `__metadata__` as it streams in: the entries kept are those the old whole-header reader
/// kept (in key order, up to `LISTED_BYTES`), without holding the others.
#[derive(Default)]
struct Metadata {
    seen: bool,
    kept: BTreeMap<String, String>,
    kept_bytes: usize,
    /// The smallest key left out: every larger key is left out too.
    cutoff: Option<String>,
    truncated: bool,
}

impl Metadata {
    fn insert(&mut self, key: String, value: String) {
        if self.cutoff.as_ref().is_some_and(|c| key >= *c) {
            self.truncated = true;
            return;
        }
        if let Some(old) = self.kept.insert(key.clone(), value) {
            self.kept_bytes -= key.len() + old.len();
        }
        self.kept_bytes += key.len() + self.kept[&key].len();
        while self.kept_bytes > LISTED_BYTES {
            let (k, v) = self.kept.pop_last().expect("over budget means not empty");
            self.kept_bytes -= k.len() + v.len();
            self.truncated = true;
            self.cutoff = Some(k);
        }
    }

    /// A pair too long to keep: it and every larger key are left out.
    fn too_long(&mut self, key: Option<String>) {
        self.truncated = true;
        // A key too long to keep leaves out only its own pair.
        if let Some(key) = key {
            if self.cutoff.as_ref().is_none_or(|c| key < *c) {
                while self.kept.last_key_value().is_some_and(|(k, _)| *k >= key) {
                    let (k, v) = self.kept.pop_last().expect("checked");
                    self.kept_bytes -= k.len() + v.len();
                }
                self.cutoff = Some(key);
            }
        }
    }
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
        if !self.names.insert(name_hash(&name)) {
            return Err(format!("tensor {name:?} appears twice"));
        }
        if self.tensor_count >= MAX_TENSORS {
            return Err(format!("the header lists more than {MAX_TENSORS} tensors"));
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
            let tensor: RawTensor = map.next_value()?;
            self.add(key, tensor).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// Where the lexer is inside a JSON string.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Str {
    Out,
    In,
    /// After a backslash.
    Escape,
    /// Hex digits of a `\u` escape still to come.
    Unicode(u8),
}

/// Where `__metadata__` reading stands (a JSON object of string values).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Meta {
    Colon,
    Open,
    BeforeKey {
        first: bool,
    },
    Key,
    AfterKey,
    BeforeValue,
    Value,
    AfterValue,
    /// The map closed; the entry ends at the next `,` or `}`.
    Closed,
}

/// The JSON header as it streams past; see the module documentation.
struct HeaderScan {
    /// Header bytes still to come.
    left: u64,
    started: bool,
    /// The top-level object closed: only whitespace may follow.
    closed: bool,
    /// Nesting depth: 1 inside the top-level object.
    depth: u32,
    string: Str,
    /// The current top-level entry, up to [`ENTRY_LIMIT`] bytes.
    entry: Vec<u8>,
    /// The current entry's key has closed (its bytes are `entry`).
    key_closed: bool,
    meta: Option<Meta>,
    /// The metadata pair being read: its key (decoded) and raw value.
    meta_key: Option<String>,
    meta_raw: Vec<u8>,
    meta_long: bool,
    entries: u64,
    collector: Collector,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl HeaderScan {
    fn new(len: u64) -> Self {
        Self {
            left: len,
            started: false,
            closed: false,
            depth: 0,
            string: Str::Out,
            entry: Vec::new(),
            key_closed: false,
            meta: None,
            meta_key: None,
            meta_raw: Vec::new(),
            meta_long: false,
            entries: 0,
            collector: Collector::default(),
        }
    }

    fn retained_bytes(&self) -> usize {
        let c = &self.collector;
        self.entry.capacity()
            + self.meta_raw.capacity()
            + self.meta_key.as_ref().map_or(0, String::capacity)
            + c.tensors.capacity() * std::mem::size_of::<TensorSummary>()
            + c.listed_bytes
            + c.names.capacity() * 9
            + c.spans.capacity() * 16
            + c.metadata.kept_bytes
            + c.metadata.kept.len() * 48
            + c.metadata.cutoff.as_ref().map_or(0, String::capacity)
            + c.dtypes.len() * 64
    }

    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), FormatError> {
        self.left -= bytes.len() as u64;
        if !self.started && !bytes.is_empty() {
            if bytes[0] != b'{' {
                return Err(err(
                    "header does not start with '{' (not a safetensors file?)",
                ));
            }
            self.started = true;
            self.depth = 1;
            bytes = &bytes[1..];
        }
        for &b in bytes {
            self.byte(b)
                .map_err(|e| err(format!("header is not valid: {e}")))?;
        }
        Ok(())
    }

    /// Advances the string lexer over `b`; true while inside a string (quotes included).
    fn lex_string(&mut self, b: u8) -> Result<bool, String> {
        self.string = match (self.string, b) {
            (Str::Out, b'"') => Str::In,
            (Str::Out, _) => return Ok(false),
            (Str::In, b'"') => Str::Out,
            (Str::In, b'\\') => Str::Escape,
            (Str::In, c) if c < 0x20 => return Err("control character in a string".into()),
            (Str::In, _) => Str::In,
            (Str::Escape, b'u') => Str::Unicode(4),
            (Str::Escape, c) if b"\"\\/bfnrt".contains(&c) => Str::In,
            (Str::Escape, _) => return Err("invalid escape in a string".into()),
            (Str::Unicode(n), c) if c.is_ascii_hexdigit() => {
                if n == 1 {
                    Str::In
                } else {
                    Str::Unicode(n - 1)
                }
            }
            (Str::Unicode(_), _) => return Err("invalid \\u escape in a string".into()),
        };
        Ok(true)
    }

    fn byte(&mut self, b: u8) -> Result<(), String> {
        if self.closed {
            return if is_ws(b) {
                Ok(())
            } else {
                Err("trailing characters after the JSON object".into())
            };
        }
        if let Some(meta) = self.meta {
            if meta != Meta::Closed {
                return self.meta_byte(meta, b);
            }
        }
        let was_in = self.string != Str::Out;
        let in_string = self.lex_string(b)?;
        if !in_string {
            match b {
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 1 => self.depth -= 1,
                b'}' | b',' if self.depth == 1 => return self.entry_end(b == b'}'),
                b']' => return Err("unbalanced ']'".into()),
                _ => {}
            }
        }
        if self.meta == Some(Meta::Closed) {
            return if is_ws(b) {
                Ok(())
            } else {
                Err("__metadata__ must be a map of strings".into())
            };
        }
        if self.entry.len() >= ENTRY_LIMIT {
            return Err(format!(
                "an entry of the header is longer than {ENTRY_LIMIT} bytes"
            ));
        }
        if self.entry.is_empty() && is_ws(b) {
            return Ok(());
        }
        self.entry.push(b);
        // The entry's key just closed: is it `__metadata__`?
        if was_in && self.string == Str::Out && !self.key_closed && self.depth == 1 {
            self.key_closed = true;
            let key: String = serde_json::from_slice(&self.entry).map_err(|e| e.to_string())?;
            if key == "__metadata__" {
                if self.collector.metadata.seen {
                    return Err("__metadata__ appears twice".into());
                }
                self.collector.metadata.seen = true;
                self.meta = Some(Meta::Colon);
                self.entry.clear();
            }
        }
        Ok(())
    }

    /// A top-level entry ended at a `,` or at the closing `}`.
    fn entry_end(&mut self, last: bool) -> Result<(), String> {
        if self.meta.take().is_some() {
            self.entries += 1;
        } else if self.entry.is_empty() {
            if !(last && self.entries == 0) {
                return Err("expected an entry before ',' or '}'".into());
            }
        } else {
            let mut json = Vec::with_capacity(self.entry.len() + 2);
            json.push(b'{');
            json.extend_from_slice(&self.entry);
            json.push(b'}');
            let mut de = serde_json::Deserializer::from_slice(&json);
            (&mut self.collector)
                .deserialize(&mut de)
                .and_then(|()| de.end())
                .map_err(|e| e.to_string())?;
            self.entries += 1;
        }
        self.entry.clear();
        if self.entry.capacity() > 4096 {
            self.entry.shrink_to(4096);
        }
        self.key_closed = false;
        if last {
            self.closed = true;
            self.depth = 0;
        }
        Ok(())
    }

    fn meta_byte(&mut self, meta: Meta, b: u8) -> Result<(), String> {
        let bad = || Err("__metadata__ must be a map of strings".to_owned());
        match meta {
            Meta::Colon
            | Meta::Open
            | Meta::BeforeKey { .. }
            | Meta::AfterKey
            | Meta::BeforeValue
            | Meta::AfterValue
                if is_ws(b) =>
            {
                Ok(())
            }
            Meta::Colon if b == b':' => {
                self.meta = Some(Meta::Open);
                Ok(())
            }
            Meta::Open if b == b'{' => {
                self.meta = Some(Meta::BeforeKey { first: true });
                Ok(())
            }
            Meta::BeforeKey { first: true } if b == b'}' => {
                self.meta = Some(Meta::Closed);
                Ok(())
            }
            Meta::BeforeKey { .. } | Meta::BeforeValue if b == b'"' => {
                self.lex_string(b)?;
                self.meta_raw.clear();
                self.meta_raw.push(b);
                self.meta_long = false;
                self.meta = Some(if meta == Meta::BeforeValue {
                    Meta::Value
                } else {
                    Meta::Key
                });
                Ok(())
            }
            Meta::Key | Meta::Value => {
                self.lex_string(b)?;
                if self.meta_raw.len() < META_RAW_LIMIT {
                    self.meta_raw.push(b);
                } else {
                    self.meta_long = true;
                }
                if self.string != Str::Out {
                    return Ok(());
                }
                let text = if self.meta_long {
                    None
                } else {
                    Some(
                        serde_json::from_slice::<String>(&self.meta_raw)
                            .map_err(|e| e.to_string())?,
                    )
                };
                self.meta_raw.clear();
                if self.meta_raw.capacity() > 4096 {
                    self.meta_raw.shrink_to(4096);
                }
                if meta == Meta::Key {
                    self.meta_key = text;
                    self.meta_long = self.meta_key.is_none();
                    self.meta = Some(Meta::AfterKey);
                } else {
                    let key = self.meta_key.take();
                    match (key, text) {
                        (Some(k), Some(v)) if !self.meta_long => {
                            self.collector.metadata.insert(k, v)
                        }
                        (k, _) => self.collector.metadata.too_long(k),
                    }
                    self.meta = Some(Meta::AfterValue);
                }
                Ok(())
            }
            Meta::AfterKey if b == b':' => {
                // A key too long to keep makes the pair too long to keep.
                let long = self.meta_long;
                self.meta = Some(Meta::BeforeValue);
                self.meta_long = long;
                Ok(())
            }
            Meta::AfterValue if b == b',' => {
                self.meta = Some(Meta::BeforeKey { first: false });
                Ok(())
            }
            Meta::AfterValue if b == b'}' => {
                self.meta = Some(Meta::Closed);
                Ok(())
            }
            _ => bad(),
        }
    }

    fn finish(self) -> Result<Header, FormatError> {
        if !self.closed {
            return Err(err("header is not valid: the JSON object does not close"));
        }
        let mut collector = self.collector;
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
        let metadata = collector.metadata;
        Ok(Header {
            metadata: SafetensorsMetadata {
                metadata_truncated: metadata.truncated,
                tensor_count: collector.tensor_count,
                parameter_count: collector.parameter_count,
                dtypes: collector.dtypes,
                tensors_truncated: (collector.tensors.len() as u64) < collector.tensor_count,
                tensors: collector.tensors,
                metadata: metadata.kept,
            },
            data_len: covered,
        })
    }
}
