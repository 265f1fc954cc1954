//! `RandomContrast`: in training, each image's channels are pushed away from (or towards) their
//! mean over the image by a random factor in [1 - lower, 1 + upper], then clipped to the value
//! range, as Keras 3 does: y = clip((x - mean) * f + mean). The factor's bounds follow Keras
//! 3.15's code rather than its docstring: a single f gives lower = 0, upper = f (factors in
//! [1, 1 + f]); a pair is sorted into (lower, upper). Differentiable: a mean, three
//! elementwise ops and a clamp.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::Tensor;

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::preprocessing::{Factor, call_rng, image_shape, uniform};
use crate::layers::registry::{config_of, typed_config};

/// `RandomContrast`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomContrastConfig {
    /// f: factors in [1, 1 + f] (Keras 3's behaviour); [a, b]: sorted into (lower, upper),
    /// factors in [1 - lower, 1 + upper].
    pub factor: Factor,
    /// Outputs are clipped to it (Keras's default [0, 255]).
    #[serde(default = "pixel_range")]
    pub value_range: [f32; 2],
    /// Seed of the draws.
    #[serde(default)]
    pub seed: Option<u64>,
}

fn pixel_range() -> [f32; 2] {
    [0.0, 255.0]
}

/// Random contrast per image in training.
pub struct RandomContrast {
    config: RandomContrastConfig,
}

impl RandomContrast {
    /// `RandomContrast(factor)` for pixels in [0, 255].
    pub fn new(factor: Factor) -> Self {
        RandomContrast {
            config: RandomContrastConfig {
                factor,
                value_range: pixel_range(),
                seed: None,
            },
        }
    }

    /// The clipping range (e.g. [0, 1] after a `Rescaling`).
    pub fn value_range(mut self, lo: f32, hi: f32) -> Self {
        self.config.value_range = [lo, hi];
        self
    }

    /// The seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(RandomContrast {
            config: typed_config("RandomContrast", config)?,
        })
    }

    /// The factor range [1 - lower, 1 + upper].
    fn range(&self) -> Result<(f32, f32)> {
        // Keras's `_set_factor` with bounds (0, 1).
        let (lower, upper, ok) = match self.config.factor {
            Factor::Symmetric(f) => (0.0, f.abs(), (0.0..=1.0).contains(&f)),
            Factor::Range([a, b]) => (a.min(b), a.max(b), a <= 1.0 && b >= 0.0),
        };
        let [lo, hi] = self.config.value_range;
        if !(ok && lower.is_finite() && upper.is_finite() && lo < hi) {
            return Err(NnError::Config(format!(
                "RandomContrast: factor must be a number in [0, 1] or [a, b] with a <= 1 and \
                 b >= 0, and value_range increasing, got {:?}",
                self.config
            )));
        }
        Ok((1.0 - lower, 1.0 + upper))
    }
}

impl Layer for RandomContrast {
    fn class_name(&self) -> &'static str {
        "RandomContrast"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        image_shape("RandomContrast", input_shape)?;
        self.range()?;
        Ok(input_shape.to_vec())
    }

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        if !ctx.training {
            return Ok(x.clone());
        }
        let (lo, hi) = self.range()?;
        let &[n, h, w, c] = x.shape() else {
            return Err(NnError::Config(format!(
                "RandomContrast: images expected, got {:?}",
                x.shape()
            )));
        };
        let mut rng = call_rng(self.config.seed, ctx.seed, 0xC047);
        let f: Vec<f32> = (0..n).map(|_| uniform(&mut rng, lo, hi)).collect();
        let f = Tensor::from_f32(x.device(), &f, &[n, 1, 1])?;
        let flat = x.reshape(&[n, h * w, c])?;
        let mean = flat.mean(1, true)?;
        let y = flat.sub(&mean)?.mul(&f)?.add(&mean)?;
        let [vlo, vhi] = self.config.value_range;
        Ok(y.clamp(vlo, vhi)?.reshape(x.shape())?)
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
