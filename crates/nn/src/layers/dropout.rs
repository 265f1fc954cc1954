//! `Dropout`: inverted dropout, active only in training (Keras semantics).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::Tensor;

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::registry::{config_of, typed_config};

/// `Dropout`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DropoutConfig {
    /// Fraction of inputs zeroed in training, in [0, 1).
    pub rate: f32,
}

/// Zeroes each input with probability `rate` during training and scales the rest by
/// 1 / (1 - rate); the identity at inference.
pub struct Dropout {
    config: DropoutConfig,
}

impl Dropout {
    /// Dropout with `rate` in [0, 1).
    pub fn new(rate: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(NnError::Config(format!(
                "Dropout rate must be in [0, 1), got {rate}"
            )));
        }
        Ok(Self {
            config: DropoutConfig { rate },
        })
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        let c: DropoutConfig = typed_config("Dropout", config)?;
        Self::new(c.rate)
    }
}

impl Layer for Dropout {
    fn class_name(&self) -> &'static str {
        "Dropout"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        Ok(input_shape.to_vec())
    }

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        let rate = self.config.rate;
        if !ctx.training || rate == 0.0 {
            return Ok(x.clone());
        }
        Ok(x.dropout(rate, ctx.seed)?)
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
