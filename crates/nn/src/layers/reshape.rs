//! `Flatten` and `Reshape`: layout changes that keep the batch dimension (no data movement).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::Tensor;

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::registry::{config_of, typed_config};

/// [n, d1, d2, ...] -> [n, d1 * d2 * ...].
#[derive(Default)]
pub struct Flatten;

impl Flatten {
    /// The layer.
    pub fn new() -> Self {
        Self
    }

    /// From a `get_config()` object (it has no settings kiln reads).
    pub fn from_config(_config: &Value) -> Result<Self> {
        Ok(Self)
    }
}

impl Layer for Flatten {
    fn class_name(&self) -> &'static str {
        "Flatten"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let n = input_shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d));
        let n = n.ok_or_else(|| {
            NnError::Config(format!(
                "Flatten: input {input_shape:?} has too many values per sample"
            ))
        })?;
        Ok(vec![n])
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let n = x.shape().first().copied().unwrap_or(1);
        Ok(x.reshape(&[n, x.numel() / n.max(1)])?)
    }
}

/// `Reshape`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReshapeConfig {
    /// Shape of each sample after the layer.
    pub target_shape: Vec<usize>,
}

/// [n, ...] -> [n, target_shape...] with the same number of values per sample.
pub struct Reshape {
    config: ReshapeConfig,
}

impl Reshape {
    /// Reshape each sample to `target_shape`.
    pub fn new(target_shape: &[usize]) -> Self {
        Self {
            config: ReshapeConfig {
                target_shape: target_shape.to_vec(),
            },
        }
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(Self {
            config: typed_config("Reshape", config)?,
        })
    }
}

impl Layer for Reshape {
    fn class_name(&self) -> &'static str {
        "Reshape"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let target = &self.config.target_shape;
        let count = |s: &[usize]| s.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        let (a, b) = (count(input_shape), count(target));
        if a.is_none() || a != b {
            return Err(NnError::Config(format!(
                "Reshape: input {input_shape:?} has {a:?} values per sample, target {target:?} has {b:?}"
            )));
        }
        Ok(target.clone())
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let batch =
            x.shape().first().copied().ok_or_else(|| {
                NnError::Input("Reshape expects a batch axis, got a scalar".into())
            })?;
        let mut shape = vec![batch];
        shape.extend(&self.config.target_shape);
        Ok(x.reshape(&shape)?)
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
