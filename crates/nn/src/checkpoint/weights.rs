//! `save_weights` / `load_weights`: one safetensors file, tensors named `<layer>/<weight>`
//! (`dense/kernel`, `dense/bias`, `batch_normalization/moving_mean`, ...) with Keras's shapes
//! (dense kernel [in, out], conv kernel [kh, kw, in, out]), f32 or f16. Python reads it with
//! `safetensors.numpy.load_file`. A load checks every tensor's presence, shape and dtype before
//! it changes anything, so a failed load leaves the model as it was.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::checkpoint::{atomic_write, bad_file, read_file};
use crate::error::{NnError, Result};
use crate::model::Model;
use kiln_graph::Tensor;

/// Element type of saved weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WeightDtype {
    /// 32-bit float (exact).
    #[default]
    F32,
    /// 16-bit float (half the size; values rounded).
    F16,
}

/// Named tensors to serialize: (name, dtype, shape, little-endian bytes).
pub(crate) type NamedBytes = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

/// Serializes named tensors plus metadata as safetensors bytes.
pub(crate) fn to_safetensors(
    tensors: &NamedBytes,
    metadata: HashMap<String, String>,
    path: &Path,
) -> Result<Vec<u8>> {
    let views = tensors
        .iter()
        .map(|(n, d, s, b)| TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad_file(path, format!("building tensor views: {e}")))?;
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| bad_file(path, format!("serializing: {e}")))
}

/// The model's weights as f32 or f16 bytes (one readback for all of them).
pub(crate) fn weight_bytes(model: &Model, dtype: WeightDtype) -> Result<NamedBytes> {
    let weights = model.weights();
    let raw = model.get_weights()?;
    Ok(weights
        .iter()
        .zip(raw)
        .map(|((name, w), values)| {
            let shape = w.value.shape().to_vec();
            match dtype {
                WeightDtype::F32 => {
                    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                    (name.clone(), Dtype::F32, shape, bytes)
                }
                WeightDtype::F16 => {
                    let bytes = values
                        .iter()
                        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                        .collect();
                    (name.clone(), Dtype::F16, shape, bytes)
                }
            }
        })
        .collect())
}

/// f32 values of a stored tensor (f32 or f16), or an error naming it.
pub(crate) fn tensor_f32(path: &Path, name: &str, view: &TensorView<'_>) -> Result<Vec<f32>> {
    match view.dtype() {
        Dtype::F32 => Ok(view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect()),
        Dtype::F16 => Ok(view
            .data()
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32())
            .collect()),
        other => Err(bad_file(
            path,
            format!("tensor {name} has dtype {other:?}; kiln reads F32 or F16"),
        )),
    }
}

/// Checks every expected (name, shape) in `st` and returns their values; nothing is applied.
pub(crate) fn read_expected(
    path: &Path,
    st: &SafeTensors<'_>,
    expected: &[(String, Vec<usize>)],
    allow_extra_prefix: &str,
) -> Result<Vec<Vec<f32>>> {
    let out = read_only(path, st, expected)?;
    let known: std::collections::HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(extra) = st.names().into_iter().find(|n| {
        !known.contains(n) && (allow_extra_prefix.is_empty() || !n.starts_with(allow_extra_prefix))
    }) {
        return Err(bad_file(
            path,
            format!(
                "tensor {extra} has no weight in this model: the file is for a different architecture"
            ),
        ));
    }
    Ok(out)
}

/// The values of `expected` (name, shape) from `st`, each checked; other tensors are ignored.
fn read_only(
    path: &Path,
    st: &SafeTensors<'_>,
    expected: &[(String, Vec<usize>)],
) -> Result<Vec<Vec<f32>>> {
    expected
        .iter()
        .map(|(name, shape)| {
            let view = st.tensor(name).map_err(|_| {
                let mut have: Vec<&str> = st.names();
                have.sort();
                bad_file(path, format!("tensor {name} (shape {shape:?}) is missing; the file holds {have:?}. Was it saved from a different architecture?"))
            })?;
            if view.shape() != shape.as_slice() {
                return Err(bad_file(
                    path,
                    format!("tensor {name}: expected shape {shape:?}, found {:?}", view.shape()),
                ));
            }
            tensor_f32(path, name, &view)
        })
        .collect()
}

pub(crate) fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| {
        bad_file(
            path,
            format!("not a valid safetensors file (truncated or corrupt?): {e}"),
        )
    })
}

impl Model {
    /// Saves every weight (trainable or not) as f32 safetensors, atomically.
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_weights_as(path, WeightDtype::F32)
    }

    /// Saves every weight in `dtype`, atomically.
    pub fn save_weights_as(&self, path: impl AsRef<Path>, dtype: WeightDtype) -> Result<()> {
        let path = path.as_ref();
        self.require_built("save_weights")?;
        let tensors = weight_bytes(self, dtype)?;
        let meta = HashMap::from([("format".to_string(), "kiln-weights".to_string())]);
        atomic_write(path, &to_safetensors(&tensors, meta, path)?)
    }

    /// Loads weights saved by `save_weights` (or any safetensors file with the same names and
    /// shapes). On any mismatch nothing changes and the error names the tensor.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.require_built("load_weights")?;
        let bytes = read_file(path)?;
        let st = parse(path, &bytes)?;
        let expected: Vec<(String, Vec<usize>)> = self
            .weights()
            .iter()
            .map(|(n, w)| (n.clone(), w.value.shape().to_vec()))
            .collect();
        let values = read_expected(path, &st, &expected, "optimizer/")?;
        self.assign_weights(&values)
    }

    /// Keras 2's `load_weights(by_name=True)`: each of this model's weights from the file's
    /// tensor of the same name, ignoring tensors of layers this model does not have (a
    /// classifier's top when loading its backbone). A weight the file lacks, or holds with
    /// another shape, is an error naming it, and then nothing changes.
    pub fn load_weights_by_name(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.require_built("load_weights_by_name")?;
        let bytes = read_file(path)?;
        let st = parse(path, &bytes)?;
        let expected: Vec<(String, Vec<usize>)> = self
            .weights()
            .iter()
            .map(|(n, w)| (n.clone(), w.value.shape().to_vec()))
            .collect();
        let values = read_only(path, &st, &expected)?;
        self.assign_weights(&values)
    }

    /// Writes `values` (in `weights()` order, already validated) into the weights, in command
    /// order, so earlier recorded work still sees the old values.
    pub(crate) fn assign_weights(&mut self, values: &[Vec<f32>]) -> Result<()> {
        for ((_, w), v) in self.weights().iter().zip(values) {
            self.device().write(w.value.buffer(), v)?;
        }
        self.device().submit();
        Ok(())
    }

    /// Every weight's values, in `weights()` order (one readback), as Keras's `get_weights`.
    pub fn get_weights(&self) -> Result<Vec<Vec<f32>>> {
        let weights = self.weights();
        let tensors: Vec<&Tensor> = weights.iter().map(|(_, w)| &w.value).collect();
        Ok(Tensor::read_many(&tensors)?)
    }

    /// Sets every weight from `values` (in `weights()` order); checks all sizes first.
    pub fn set_weights(&mut self, values: &[Vec<f32>]) -> Result<()> {
        let weights = self.weights();
        if values.len() != weights.len() {
            return Err(NnError::Input(format!(
                "set_weights: the model has {} weights, got {} arrays",
                weights.len(),
                values.len()
            )));
        }
        for ((name, w), v) in weights.iter().zip(values) {
            if v.len() != w.value.numel() {
                return Err(NnError::Input(format!(
                    "set_weights: {name} has {} values ({:?}), got {}",
                    w.value.numel(),
                    w.value.shape(),
                    v.len()
                )));
            }
        }
        self.assign_weights(values)
    }

    pub(crate) fn require_built(&self, op: &str) -> Result<()> {
        if !self.is_built() {
            return Err(NnError::Config(format!(
                "{op}: the model is not built; call build(input_shape) first"
            )));
        }
        Ok(())
    }
}
