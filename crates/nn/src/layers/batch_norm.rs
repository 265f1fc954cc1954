//! `BatchNormalization` over the last (channel) axis, with Keras's defaults (momentum 0.99,
//! epsilon 1e-3) and its moving mean and variance as non-trainable weights. In training it
//! normalises with the batch statistics and updates the moving ones, unless it is frozen.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::Tensor;

use crate::error::{NnError, Result};
use crate::init::Initializer;
use crate::layer::{BuildCtx, CallCtx, Layer, Weight};
use crate::layers::not_built;
use crate::layers::registry::{config_of, typed_config};

/// `BatchNormalization`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNormalizationConfig {
    /// Moving-average momentum.
    #[serde(default = "momentum")]
    pub momentum: f32,
    /// Added to the variance before the square root.
    #[serde(default = "epsilon")]
    pub epsilon: f32,
}

fn momentum() -> f32 {
    0.99
}

fn epsilon() -> f32 {
    1e-3
}

/// Normalises each channel: in training with the batch statistics (and updates the moving
/// averages), at inference with the moving averages.
pub struct BatchNormalization {
    config: BatchNormalizationConfig,
    w: Option<[Weight; 4]>, // gamma, beta, moving_mean, moving_variance
}

impl Default for BatchNormalization {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchNormalization {
    /// Keras defaults.
    pub fn new() -> Self {
        Self {
            config: BatchNormalizationConfig {
                momentum: momentum(),
                epsilon: epsilon(),
            },
            w: None,
        }
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(Self {
            config: typed_config("BatchNormalization", config)?,
            w: None,
        })
    }

    /// Moving-average momentum.
    pub fn momentum(mut self, m: f32) -> Self {
        self.config.momentum = m;
        self
    }

    /// Added to the variance before the square root (ResNet's layers use 1.001e-5).
    pub fn epsilon(mut self, e: f32) -> Self {
        self.config.epsilon = e;
        self
    }
}

impl Layer for BatchNormalization {
    fn class_name(&self) -> &'static str {
        "BatchNormalization"
    }

    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let &c = input_shape.last().ok_or_else(|| {
            NnError::Config("BatchNormalization needs an input with a channel axis".into())
        })?;
        self.w = Some([
            ctx.add_weight("gamma", &[c], Initializer::Ones, true)?,
            ctx.add_weight("beta", &[c], Initializer::Zeros, true)?,
            ctx.add_weight("moving_mean", &[c], Initializer::Zeros, false)?,
            ctx.add_weight("moving_variance", &[c], Initializer::Ones, false)?,
        ]);
        Ok(input_shape.to_vec())
    }

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        let [gamma, beta, mm, mv] = self
            .w
            .as_ref()
            .ok_or_else(|| not_built("BatchNormalization"))?;
        // A built model checks shapes first; a direct call on another shape is an error here.
        let c = gamma.value.numel();
        if c == 0 || x.shape().last() != Some(&c) || x.shape().len() < 2 {
            return Err(NnError::Input(format!(
                "BatchNormalization: built for {c} channels on the last axis of [batch, ..., \
                 channels], got shape {:?}",
                x.shape()
            )));
        }
        let flat = x.reshape(&[x.numel() / c, c])?;
        let eps = self.config.epsilon;
        // A frozen layer (or one in a frozen model) runs in inference mode even in training,
        // as Keras's does: its moving statistics stay as they are.
        let y = if ctx.training && ctx.trainable {
            // The batch statistics over every axis but the channel one (biased variance, as
            // Keras), in one fused op whose gradient flows through them.
            let (y, batch) = flat.batch_norm(&gamma.value, &beta.value, eps)?;
            // moving = momentum * moving + (1 - momentum) * batch, written in place in command
            // order, so this step's forward still read the old values.
            batch.update_moving(&mm.value, &mv.value, self.config.momentum)?;
            y
        } else {
            // y = x * scale + shift with scale = gamma / sqrt(moving_var + eps) and
            // shift = beta - moving_mean * scale: two full-size ops, the rest on [channels].
            let scale = gamma.value.div(&mv.value.add_scalar(eps)?.sqrt()?)?;
            let shift = beta.value.sub(&mm.value.mul(&scale)?)?;
            flat.mul(&scale)?.add(&shift)?
        };
        Ok(y.reshape(x.shape())?)
    }

    fn weights(&self) -> Vec<Weight> {
        self.w.iter().flatten().cloned().collect()
    }

    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        self.w.iter_mut().flatten().collect()
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
