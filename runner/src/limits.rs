//! Resource limits applied while loading and running models.

use crate::error::{Error, Result};

/// Bounds that protect the host from hostile or absurd models.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted model file, in bytes.
    pub max_model_bytes: usize,
    /// Largest single tensor (initializer or intermediate), in bytes.
    pub max_tensor_bytes: usize,
    /// Highest accepted tensor rank.
    pub max_rank: usize,
    /// Largest accepted single dimension.
    pub max_dim: usize,
    /// Most nodes in a graph.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_model_bytes: 2 << 30,
            max_tensor_bytes: 1 << 30,
            max_rank: 12,
            max_dim: 1 << 31,
            max_nodes: 1 << 20,
        }
    }
}

impl Limits {
    /// Checks a shape against rank/dim limits and the byte budget for an
    /// element of `elem_size` bytes; returns the element count.
    pub fn check_shape(&self, shape: &[usize], elem_size: usize) -> Result<usize> {
        if shape.len() > self.max_rank {
            return Err(Error::Limit(format!(
                "rank {} exceeds {}",
                shape.len(),
                self.max_rank
            )));
        }
        let mut n: usize = 1;
        for &d in shape {
            if d > self.max_dim {
                return Err(Error::Limit(format!(
                    "dimension {d} exceeds {}",
                    self.max_dim
                )));
            }
            n = n
                .checked_mul(d)
                .ok_or_else(|| Error::Limit(format!("element count of {shape:?} overflows")))?;
        }
        let bytes = n
            .checked_mul(elem_size.max(1))
            .ok_or_else(|| Error::Limit(format!("byte size of {shape:?} overflows")))?;
        if bytes > self.max_tensor_bytes {
            return Err(Error::Limit(format!(
                "tensor {shape:?} needs {bytes} bytes, budget is {}",
                self.max_tensor_bytes
            )));
        }
        Ok(n)
    }

    /// Converts ONNX (i64) dims to usize, rejecting negatives, then checks.
    pub fn check_dims(&self, dims: &[i64], elem_size: usize) -> Result<Vec<usize>> {
        if dims.len() > self.max_rank {
            return Err(Error::Limit(format!(
                "rank {} exceeds {}",
                dims.len(),
                self.max_rank
            )));
        }
        let shape = dims
            .iter()
            .map(|&d| {
                usize::try_from(d).map_err(|_| Error::Invalid(format!("negative dimension {d}")))
            })
            .collect::<Result<Vec<_>>>()?;
        self.check_shape(&shape, elem_size)?;
        Ok(shape)
    }
}
