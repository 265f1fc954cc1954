//! `Array`: host-side data for fit / evaluate / predict (Keras takes NumPy arrays): f32 values
//! or u32 labels, with a shape whose first dimension is the sample count.

use kiln_graph::{Device, Tensor};

use crate::error::{NnError, Result};

/// Element storage.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// Inputs, targets, predictions.
    F32(Vec<f32>),
    /// Integer class labels.
    U32(Vec<u32>),
}

/// A host array; `shape[0]` is the number of samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Values, row-major.
    pub data: Data,
    /// Shape, samples first.
    pub shape: Vec<usize>,
}

impl Array {
    /// An f32 array; errors when the shape does not hold `data.len()` values.
    pub fn f32(data: Vec<f32>, shape: &[usize]) -> Result<Self> {
        Self::from_data(Data::F32(data), shape)
    }

    /// A u32 array (labels).
    pub fn u32(data: Vec<u32>, shape: &[usize]) -> Result<Self> {
        Self::from_data(Data::U32(data), shape)
    }

    pub(crate) fn from_data(data: Data, shape: &[usize]) -> Result<Self> {
        let len = match &data {
            Data::F32(v) => v.len(),
            Data::U32(v) => v.len(),
        };
        if shape.is_empty() || shape.iter().product::<usize>() != len {
            return Err(NnError::Input(format!(
                "{len} values do not fill an array of shape {shape:?} (the first dimension counts samples)"
            )));
        }
        Ok(Self {
            data,
            shape: shape.to_vec(),
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }

    /// Values per sample.
    pub fn row_size(&self) -> usize {
        self.shape[1..].iter().product()
    }

    /// The f32 values, if this is an f32 array.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            Data::F32(v) => Some(v),
            Data::U32(_) => None,
        }
    }

    /// The u32 values, if this is a label array.
    pub fn as_u32(&self) -> Option<&[u32]> {
        match &self.data {
            Data::U32(v) => Some(v),
            Data::F32(_) => None,
        }
    }

    /// The same values as f32 (labels or uint8 pixels as numbers; f32 arrays are copied).
    pub fn to_f32(&self) -> Array {
        let data = match &self.data {
            Data::F32(v) => v.clone(),
            Data::U32(v) => v.iter().map(|&x| x as f32).collect(),
        };
        Array {
            data: Data::F32(data),
            shape: self.shape.clone(),
        }
    }

    /// The samples at `indices`, in that order.
    pub fn gather(&self, indices: &[usize]) -> Array {
        let r = self.row_size();
        let mut shape = self.shape.clone();
        shape[0] = indices.len();
        let data = match &self.data {
            Data::F32(v) => Data::F32(gather_rows(v, r, indices)),
            Data::U32(v) => Data::U32(gather_rows(v, r, indices)),
        };
        Array { data, shape }
    }

    /// The samples of `parts` one after another; every part must have the same sample shape and
    /// element type.
    pub fn concat(parts: &[&Array]) -> Result<Array> {
        let Some(first) = parts.first() else {
            return Err(NnError::Input("Array::concat of no arrays".into()));
        };
        let mut shape = first.shape.clone();
        shape[0] = 0;
        for p in parts {
            let same_kind = matches!(
                (&p.data, &first.data),
                (Data::F32(_), Data::F32(_)) | (Data::U32(_), Data::U32(_))
            );
            if p.shape[1..] != first.shape[1..] || !same_kind {
                return Err(NnError::Input(format!(
                    "cannot put samples of shape {:?} ({}) with samples of shape {:?} ({}) in one \
                     batch: resize them to one shape first",
                    p.shape[1..].to_vec(),
                    p.kind(),
                    first.shape[1..].to_vec(),
                    first.kind()
                )));
            }
            shape[0] += p.len();
        }
        let data = match &first.data {
            Data::F32(_) => Data::F32(
                parts
                    .iter()
                    .flat_map(|p| p.as_f32().unwrap_or_default().iter().copied())
                    .collect(),
            ),
            Data::U32(_) => Data::U32(
                parts
                    .iter()
                    .flat_map(|p| p.as_u32().unwrap_or_default().iter().copied())
                    .collect(),
            ),
        };
        Ok(Array { data, shape })
    }

    /// "f32" or "u32".
    pub fn kind(&self) -> &'static str {
        match self.data {
            Data::F32(_) => "f32",
            Data::U32(_) => "u32",
        }
    }

    /// Samples `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Array {
        self.gather(&(start..end).collect::<Vec<_>>())
    }

    /// Uploads to the GPU (never waits).
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        Ok(match &self.data {
            Data::F32(v) => Tensor::from_f32(device, v, &self.shape)?,
            Data::U32(v) => Tensor::from_u32(device, v, &self.shape)?,
        })
    }
}

/// Rows `indices` of `v` (rows of `r` values), one after another: one allocation of the
/// exact size and a copy per row. `fit` gathers every host batch with it, on the thread that
/// competes with a CPU adapter's workers for the cores: the element-wise `flat_map` before it
/// took 436 of the main thread's 5,546 perf samples over a 60,000-image MLP epoch (about
/// 0.11 s), the row copies take about 160 (lavapipe, 2026-12-07).
fn gather_rows<T: Copy>(v: &[T], r: usize, indices: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(indices.len() * r);
    for &i in indices {
        out.extend_from_slice(&v[i * r..(i + 1) * r]);
    }
    out
}
