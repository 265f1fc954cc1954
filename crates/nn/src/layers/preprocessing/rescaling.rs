//! `Rescaling(scale, offset)`: x * scale + offset (Keras's way to map pixels from [0, 255] to
//! [0, 1] inside the model). Differentiable: two elementwise ops.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::Tensor;

use crate::error::Result;
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::registry::{config_of, typed_config};

/// `Rescaling`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RescalingConfig {
    /// Multiplier.
    pub scale: f32,
    /// Added after scaling.
    #[serde(default)]
    pub offset: f32,
}

/// x * scale + offset.
pub struct Rescaling {
    config: RescalingConfig,
}

impl Rescaling {
    /// `Rescaling(scale, offset)`; `Rescaling::new(1.0 / 255.0, 0.0)` maps pixels to [0, 1].
    pub fn new(scale: f32, offset: f32) -> Self {
        Rescaling {
            config: RescalingConfig { scale, offset },
        }
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(Rescaling {
            config: typed_config("Rescaling", config)?,
        })
    }
}

impl Layer for Rescaling {
    fn class_name(&self) -> &'static str {
        "Rescaling"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        Ok(input_shape.to_vec())
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let scaled = x.mul_scalar(self.config.scale)?;
        Ok(match self.config.offset {
            0.0 => scaled,
            o => scaled.add_scalar(o)?,
        })
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
