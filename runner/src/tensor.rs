//! Host tensors: a shape plus typed, contiguous row-major data.

use crate::error::{Error, Result};
use crate::half;
use crate::limits::Limits;
use crate::onnx::{data_type as dt, TensorProto};

/// Element types the engine computes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    F32,
    F64,
    I64,
    I32,
    I8,
    U8,
    I16,
    U16,
    /// IEEE binary16, stored as its bit pattern; computed as float32.
    F16,
    /// bfloat16, stored as its bit pattern; computed as float32.
    BF16,
    Bool,
    /// UTF-8 strings (ONNX stores bytes; invalid UTF-8 is replaced).
    String,
}

impl DataType {
    /// Maps an ONNX `TensorProto.DataType` code; `None` if unsupported.
    pub fn from_onnx(code: i32) -> Option<Self> {
        Some(match code {
            dt::FLOAT => DataType::F32,
            dt::DOUBLE => DataType::F64,
            dt::INT64 => DataType::I64,
            dt::INT32 => DataType::I32,
            dt::INT8 => DataType::I8,
            dt::UINT8 => DataType::U8,
            dt::INT16 => DataType::I16,
            dt::UINT16 => DataType::U16,
            dt::FLOAT16 => DataType::F16,
            dt::BFLOAT16 => DataType::BF16,
            dt::BOOL => DataType::Bool,
            dt::STRING => DataType::String,
            _ => return None,
        })
    }

    /// The ONNX `TensorProto.DataType` code.
    pub fn onnx_code(self) -> i32 {
        match self {
            DataType::F32 => dt::FLOAT,
            DataType::F64 => dt::DOUBLE,
            DataType::I64 => dt::INT64,
            DataType::I32 => dt::INT32,
            DataType::I8 => dt::INT8,
            DataType::U8 => dt::UINT8,
            DataType::I16 => dt::INT16,
            DataType::U16 => dt::UINT16,
            DataType::F16 => dt::FLOAT16,
            DataType::BF16 => dt::BFLOAT16,
            DataType::Bool => dt::BOOL,
            DataType::String => dt::STRING,
        }
    }

    /// Bytes per element (for strings, the per-element header; the text
    /// itself comes from the model or the inputs and is bounded by them).
    pub fn size(self) -> usize {
        match self {
            DataType::String => std::mem::size_of::<String>(),
            DataType::F64 | DataType::I64 => 8,
            DataType::F32 | DataType::I32 => 4,
            DataType::I16 | DataType::U16 | DataType::F16 | DataType::BF16 => 2,
            DataType::I8 | DataType::U8 | DataType::Bool => 1,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(
            self,
            DataType::F32 | DataType::F64 | DataType::F16 | DataType::BF16
        )
    }

    /// float16 or bfloat16: stored in 16 bits, computed as float32.
    pub fn is_half(self) -> bool {
        matches!(self, DataType::F16 | DataType::BF16)
    }
}

/// The onnx.proto name of an element type code (for error messages).
pub fn type_name(code: i32) -> String {
    const NAMES: [&str; 27] = [
        "UNDEFINED",
        "FLOAT",
        "UINT8",
        "INT8",
        "UINT16",
        "INT16",
        "INT32",
        "INT64",
        "STRING",
        "BOOL",
        "FLOAT16",
        "DOUBLE",
        "UINT32",
        "UINT64",
        "COMPLEX64",
        "COMPLEX128",
        "BFLOAT16",
        "FLOAT8E4M3FN",
        "FLOAT8E4M3FNUZ",
        "FLOAT8E5M2",
        "FLOAT8E5M2FNUZ",
        "UINT4",
        "INT4",
        "FLOAT4E2M1",
        "FLOAT8E8M0",
        "UINT2",
        "INT2",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("type {code}"), |n| n.to_string())
}

/// Typed element storage.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    /// float16 bit patterns.
    F16(Vec<u16>),
    /// bfloat16 bit patterns.
    BF16(Vec<u16>),
    Bool(Vec<bool>),
    String(Vec<String>),
}

/// Applies `$body` to the vector inside any `Data` variant, rewrapping the
/// result in the same variant. `$body` is instantiated once per type.
#[macro_export]
#[doc(hidden)]
macro_rules! map_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::tensor::Data::F32($v) => $crate::tensor::Data::F32($body),
            $crate::tensor::Data::F64($v) => $crate::tensor::Data::F64($body),
            $crate::tensor::Data::I64($v) => $crate::tensor::Data::I64($body),
            $crate::tensor::Data::I32($v) => $crate::tensor::Data::I32($body),
            $crate::tensor::Data::I8($v) => $crate::tensor::Data::I8($body),
            $crate::tensor::Data::U8($v) => $crate::tensor::Data::U8($body),
            $crate::tensor::Data::I16($v) => $crate::tensor::Data::I16($body),
            $crate::tensor::Data::U16($v) => $crate::tensor::Data::U16($body),
            $crate::tensor::Data::F16($v) => $crate::tensor::Data::F16($body),
            $crate::tensor::Data::BF16($v) => $crate::tensor::Data::BF16($body),
            $crate::tensor::Data::Bool($v) => $crate::tensor::Data::Bool($body),
            $crate::tensor::Data::String($v) => $crate::tensor::Data::String($body),
        }
    };
}

/// Like `map_data!` but `$body` returns `Result<Vec<_>>`.
#[macro_export]
#[doc(hidden)]
macro_rules! try_map_data {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            $crate::tensor::Data::F32($v) => $crate::tensor::Data::F32($body?),
            $crate::tensor::Data::F64($v) => $crate::tensor::Data::F64($body?),
            $crate::tensor::Data::I64($v) => $crate::tensor::Data::I64($body?),
            $crate::tensor::Data::I32($v) => $crate::tensor::Data::I32($body?),
            $crate::tensor::Data::I8($v) => $crate::tensor::Data::I8($body?),
            $crate::tensor::Data::U8($v) => $crate::tensor::Data::U8($body?),
            $crate::tensor::Data::I16($v) => $crate::tensor::Data::I16($body?),
            $crate::tensor::Data::U16($v) => $crate::tensor::Data::U16($body?),
            $crate::tensor::Data::F16($v) => $crate::tensor::Data::F16($body?),
            $crate::tensor::Data::BF16($v) => $crate::tensor::Data::BF16($body?),
            $crate::tensor::Data::Bool($v) => $crate::tensor::Data::Bool($body?),
            $crate::tensor::Data::String($v) => $crate::tensor::Data::String($body?),
        }
    };
}

impl Data {
    pub fn dtype(&self) -> DataType {
        match self {
            Data::F32(_) => DataType::F32,
            Data::F64(_) => DataType::F64,
            Data::I64(_) => DataType::I64,
            Data::I32(_) => DataType::I32,
            Data::I8(_) => DataType::I8,
            Data::U8(_) => DataType::U8,
            Data::I16(_) => DataType::I16,
            Data::U16(_) => DataType::U16,
            Data::F16(_) => DataType::F16,
            Data::BF16(_) => DataType::BF16,
            Data::Bool(_) => DataType::Bool,
            Data::String(_) => DataType::String,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::I8(v) => v.len(),
            Data::U8(v) => v.len(),
            Data::I16(v) => v.len(),
            Data::U16(v) | Data::F16(v) | Data::BF16(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::String(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `n` copies of the default (zero/false) value of `dtype`.
    pub fn zeros(dtype: DataType, n: usize) -> Data {
        match dtype {
            DataType::F32 => Data::F32(vec![0.0; n]),
            DataType::F64 => Data::F64(vec![0.0; n]),
            DataType::I64 => Data::I64(vec![0; n]),
            DataType::I32 => Data::I32(vec![0; n]),
            DataType::I8 => Data::I8(vec![0; n]),
            DataType::U8 => Data::U8(vec![0; n]),
            DataType::I16 => Data::I16(vec![0; n]),
            DataType::U16 => Data::U16(vec![0; n]),
            DataType::F16 => Data::F16(vec![0; n]),
            DataType::BF16 => Data::BF16(vec![0; n]),
            DataType::Bool => Data::Bool(vec![false; n]),
            DataType::String => Data::String(vec![String::new(); n]),
        }
    }
}

/// A dense host tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Data,
}

/// Number of elements of a shape (1 for scalars). Saturates instead of
/// overflowing, so a hostile shape compares unequal to any real length and
/// fails the size checks rather than panicking.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |a, &d| a.saturating_mul(d))
}

impl Tensor {
    /// Builds a tensor, checking that data length matches the shape.
    pub fn new(shape: Vec<usize>, data: Data) -> Result<Self> {
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::Limit(format!("element count of {shape:?} overflows")))?;
        if n != data.len() {
            return Err(Error::Invalid(format!(
                "shape {shape:?} needs {n} elements, got {}",
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }

    pub fn from_f32(shape: Vec<usize>, v: Vec<f32>) -> Result<Self> {
        Tensor::new(shape, Data::F32(v))
    }

    pub fn from_i64(shape: Vec<usize>, v: Vec<i64>) -> Result<Self> {
        Tensor::new(shape, Data::I64(v))
    }

    pub fn scalar_f32(v: f32) -> Self {
        Tensor {
            shape: vec![],
            data: Data::F32(vec![v]),
        }
    }

    pub fn dtype(&self) -> DataType {
        self.data.dtype()
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Borrows f32 data or fails with a type error naming `op`.
    pub fn f32s(&self, op: &str) -> Result<&[f32]> {
        match &self.data {
            Data::F32(v) => Ok(v),
            d => Err(Error::unsup(
                op,
                format!("expected float32, got {:?}", d.dtype()),
            )),
        }
    }

    /// Integer contents widened to i64 (for shape-like inputs).
    pub fn to_i64s(&self, op: &str) -> Result<Vec<i64>> {
        Ok(match &self.data {
            Data::I64(v) => v.clone(),
            Data::I32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I8(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U8(v) => v.iter().map(|&x| x as i64).collect(),
            Data::I16(v) => v.iter().map(|&x| x as i64).collect(),
            Data::U16(v) => v.iter().map(|&x| x as i64).collect(),
            d => {
                return Err(Error::op(
                    op,
                    format!("expected an integer tensor, got {:?}", d.dtype()),
                ))
            }
        })
    }

    /// Contents converted to f64 (for scalar parameters of any numeric type).
    pub fn to_f64s(&self) -> Vec<f64> {
        match &self.data {
            Data::F32(v) => v.iter().map(|&x| x as f64).collect(),
            Data::F64(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f64).collect(),
            Data::I32(v) => v.iter().map(|&x| x as f64).collect(),
            Data::I8(v) => v.iter().map(|&x| x as f64).collect(),
            Data::U8(v) => v.iter().map(|&x| x as f64).collect(),
            Data::I16(v) => v.iter().map(|&x| x as f64).collect(),
            Data::U16(v) => v.iter().map(|&x| x as f64).collect(),
            Data::F16(v) => v.iter().map(|&x| half::f16_to_f32(x) as f64).collect(),
            Data::BF16(v) => v.iter().map(|&x| half::bf16_to_f32(x) as f64).collect(),
            Data::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
            Data::String(v) => v
                .iter()
                .map(|x| x.trim().parse().unwrap_or(f64::NAN))
                .collect(),
        }
    }

    /// float16/bfloat16 data widened to float32 (exact); `None` for other
    /// types.
    pub fn widen_half(&self) -> Option<Tensor> {
        let v: Vec<f32> = match &self.data {
            Data::F16(v) => v.iter().map(|&h| half::f16_to_f32(h)).collect(),
            Data::BF16(v) => v.iter().map(|&h| half::bf16_to_f32(h)).collect(),
            _ => return None,
        };
        Some(Tensor {
            shape: self.shape.clone(),
            data: Data::F32(v),
        })
    }

    /// float32 data rounded (to nearest even) to `half` (`F16` or `BF16`);
    /// other tensors are returned unchanged.
    pub fn narrow_to_half(self, half_type: DataType) -> Tensor {
        let data = match (&self.data, half_type) {
            (Data::F32(v), DataType::F16) => {
                Data::F16(v.iter().map(|&x| half::f32_to_f16(x)).collect())
            }
            (Data::F32(v), DataType::BF16) => {
                Data::BF16(v.iter().map(|&x| half::f32_to_bf16(x)).collect())
            }
            _ => return self,
        };
        Tensor {
            shape: self.shape,
            data,
        }
    }

    /// Decodes a `TensorProto`, enforcing `limits` before allocating.
    pub fn from_proto(p: &TensorProto, limits: &Limits) -> Result<Self> {
        let dtype = DataType::from_onnx(p.data_type).ok_or_else(|| {
            Error::Unsupported(format!(
                "tensor `{}` has data type {}",
                p.name,
                type_name(p.data_type)
            ))
        })?;
        if p.data_location == 1 || !p.external_data.is_empty() {
            return Err(Error::Unsupported(format!(
                "tensor `{}` uses external data",
                p.name
            )));
        }
        let shape = limits.check_dims(&p.dims, dtype.size())?;
        let n = numel(&shape);
        let data = if dtype == DataType::String {
            if !p.raw_data.is_empty() {
                return Err(Error::Invalid(format!(
                    "string tensor `{}` has raw_data",
                    p.name
                )));
            }
            if p.string_data.len() != n {
                return Err(Error::Invalid(format!(
                    "tensor `{}`: {} strings stored, shape needs {n}",
                    p.name,
                    p.string_data.len()
                )));
            }
            Data::String(
                p.string_data
                    .iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect(),
            )
        } else if !p.raw_data.is_empty() {
            let raw = &p.raw_data;
            if raw.len() != n * dtype.size() {
                return Err(Error::Invalid(format!(
                    "tensor `{}`: raw_data has {} bytes, expected {}",
                    p.name,
                    raw.len(),
                    n * dtype.size()
                )));
            }
            decode_raw(dtype, raw)
        } else {
            let d = match dtype {
                DataType::F32 => Data::F32(p.float_data.clone()),
                DataType::F64 => Data::F64(p.double_data.clone()),
                DataType::I64 => Data::I64(p.int64_data.clone()),
                DataType::I32 => Data::I32(p.int32_data.clone()),
                DataType::I8 => Data::I8(p.int32_data.iter().map(|&x| x as i8).collect()),
                DataType::U8 => Data::U8(p.int32_data.iter().map(|&x| x as u8).collect()),
                DataType::I16 => Data::I16(p.int32_data.iter().map(|&x| x as i16).collect()),
                // onnx.proto: 16-bit types keep their bit pattern in the low
                // 16 bits of each int32_data entry.
                DataType::U16 => Data::U16(p.int32_data.iter().map(|&x| x as u16).collect()),
                DataType::F16 => Data::F16(p.int32_data.iter().map(|&x| x as u16).collect()),
                DataType::BF16 => Data::BF16(p.int32_data.iter().map(|&x| x as u16).collect()),
                DataType::Bool => Data::Bool(p.int32_data.iter().map(|&x| x != 0).collect()),
                DataType::String => unreachable!("strings are decoded above"),
            };
            if d.len() != n {
                return Err(Error::Invalid(format!(
                    "tensor `{}`: {} elements stored, shape needs {n}",
                    p.name,
                    d.len()
                )));
            }
            d
        };
        Tensor::new(shape, data)
    }

    /// Encodes as a `TensorProto` with little-endian `raw_data`.
    pub fn to_proto(&self, name: &str) -> TensorProto {
        if let Data::String(v) = &self.data {
            return TensorProto {
                dims: self.shape.iter().map(|&d| d as i64).collect(),
                data_type: dt::STRING,
                name: name.to_string(),
                string_data: v.iter().map(|s| s.as_bytes().to_vec()).collect(),
                ..Default::default()
            };
        }
        let raw: Vec<u8> = match &self.data {
            Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I8(v) => v.iter().map(|&x| x as u8).collect(),
            Data::U8(v) => v.clone(),
            Data::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::U16(v) | Data::F16(v) | Data::BF16(v) => {
                v.iter().flat_map(|x| x.to_le_bytes()).collect()
            }
            Data::Bool(v) => v.iter().map(|&x| x as u8).collect(),
            Data::String(_) => unreachable!("strings are encoded above"),
        };
        TensorProto {
            dims: self.shape.iter().map(|&d| d as i64).collect(),
            data_type: self.dtype().onnx_code(),
            name: name.to_string(),
            raw_data: raw,
            ..Default::default()
        }
    }
}

fn decode_raw(dtype: DataType, raw: &[u8]) -> Data {
    fn chunks<const N: usize, T>(raw: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        raw.chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    match dtype {
        DataType::F32 => Data::F32(chunks(raw, f32::from_le_bytes)),
        DataType::F64 => Data::F64(chunks(raw, f64::from_le_bytes)),
        DataType::I64 => Data::I64(chunks(raw, i64::from_le_bytes)),
        DataType::I32 => Data::I32(chunks(raw, i32::from_le_bytes)),
        DataType::I8 => Data::I8(raw.iter().map(|&b| b as i8).collect()),
        DataType::U8 => Data::U8(raw.to_vec()),
        DataType::I16 => Data::I16(chunks(raw, i16::from_le_bytes)),
        DataType::U16 => Data::U16(chunks(raw, u16::from_le_bytes)),
        DataType::F16 => Data::F16(chunks(raw, u16::from_le_bytes)),
        DataType::BF16 => Data::BF16(chunks(raw, u16::from_le_bytes)),
        DataType::Bool => Data::Bool(raw.iter().map(|&b| b != 0).collect()),
        DataType::String => unreachable!("strings never use raw_data"),
    }
}
