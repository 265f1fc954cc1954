//! `Normalization`: (x - mean) / sqrt(variance) per feature of the last axis, with the mean and
//! variance given or learned by `adapt` from an array or a dataset (as Keras's
//! `layer.adapt(data)`), kept as non-trainable weights `mean` and `variance` so a saved model
//! carries them. Keras divides by max(sqrt(variance), 1e-7); so does this. Differentiable.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::Tensor;

use crate::array::Array;
use crate::dataset::Dataset;
use crate::error::{NnError, Result};
use crate::init::Initializer;
use crate::layer::{BuildCtx, CallCtx, Layer, Weight};
use crate::layers::not_built;
use crate::layers::registry::{config_of, typed_config};

/// `Normalization`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NormalizationConfig {
    /// The feature axis (only the last, -1, is supported).
    #[serde(default = "last_axis")]
    pub axis: i64,
    /// Given means (else adapted or loaded).
    #[serde(default)]
    pub mean: Option<Vec<f32>>,
    /// Given variances.
    #[serde(default)]
    pub variance: Option<Vec<f32>>,
    /// Undo the normalisation instead: mean + x * sqrt(variance).
    #[serde(default)]
    pub invert: bool,
}

fn last_axis() -> i64 {
    -1
}

/// Per-feature standardisation.
pub struct Normalization {
    config: NormalizationConfig,
    /// Statistics from `adapt`, written into the weights at build.
    adapted: Option<(Vec<f32>, Vec<f32>)>,
    w: Option<[Weight; 2]>,
}

impl Default for Normalization {
    fn default() -> Self {
        Self::new()
    }
}

impl Normalization {
    /// Statistics to be adapted (or loaded with the model's weights).
    pub fn new() -> Self {
        Normalization {
            config: NormalizationConfig {
                axis: -1,
                mean: None,
                variance: None,
                invert: false,
            },
            adapted: None,
            w: None,
        }
    }

    /// With given statistics (Keras's `Normalization(mean=..., variance=...)`).
    pub fn with_stats(mean: Vec<f32>, variance: Vec<f32>) -> Result<Self> {
        if mean.len() != variance.len() || mean.is_empty() {
            return Err(NnError::Config(format!(
                "Normalization: mean and variance need one value per feature, got {} and {}",
                mean.len(),
                variance.len()
            )));
        }
        let mut n = Self::new();
        n.config.mean = Some(mean);
        n.config.variance = Some(variance);
        Ok(n)
    }

    /// The inverse transform (`invert=True`).
    pub fn invert(mut self, yes: bool) -> Self {
        self.config.invert = yes;
        self
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        let config: NormalizationConfig = typed_config("Normalization", config)?;
        Ok(Normalization {
            config,
            adapted: None,
            w: None,
        })
    }

    /// Learns the mean and (biased) variance of each feature of the last axis from `data`.
    pub fn adapt(&mut self, data: &Array) -> Result<()> {
        let mut s = Stats::default();
        s.add(data)?;
        self.adapted = Some(s.finish()?);
        Ok(())
    }

    /// `adapt` over a pass of a dataset's first input (at most `steps` elements).
    pub fn adapt_dataset(&mut self, data: &Dataset, steps: Option<usize>) -> Result<()> {
        let mut s = Stats::default();
        for e in data.iter(0)?.take(steps.unwrap_or(usize::MAX)) {
            let e = e?;
            let x = e.x.first().ok_or_else(|| {
                NnError::Input("Normalization.adapt: elements without inputs".into())
            })?;
            s.add(x)?;
        }
        self.adapted = Some(s.finish()?);
        Ok(())
    }

    /// The (mean, variance) the layer will use, if known before build.
    pub fn stats(&self) -> Option<(Vec<f32>, Vec<f32>)> {
        match (&self.config.mean, &self.config.variance) {
            (Some(m), Some(v)) => Some((m.clone(), v.clone())),
            _ => self.adapted.clone(),
        }
    }
}

/// Running per-feature sums in f64 (Chan et al.'s merge of batch means and variances).
#[derive(Default)]
struct Stats {
    count: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Stats {
    fn add(&mut self, x: &Array) -> Result<()> {
        let values = x.as_f32().ok_or_else(|| {
            NnError::Input("Normalization.adapt needs f32 data (convert with to_f32())".into())
        })?;
        let c = *x.shape.last().unwrap_or(&0);
        if c == 0 || (!self.mean.is_empty() && self.mean.len() != c) {
            return Err(NnError::Input(format!(
                "Normalization.adapt: samples of shape {:?} do not match the {} features seen before",
                x.shape,
                self.mean.len()
            )));
        }
        let rows = values.len() / c;
        let mut mean = vec![0.0f64; c];
        for r in values.chunks_exact(c) {
            for (m, &v) in mean.iter_mut().zip(r) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= rows as f64);
        let mut m2 = vec![0.0f64; c];
        for r in values.chunks_exact(c) {
            for ((s, &v), m) in m2.iter_mut().zip(r).zip(&mean) {
                *s += (v as f64 - m).powi(2);
            }
        }
        if self.mean.is_empty() {
            (self.count, self.mean, self.m2) = (rows as f64, mean, m2);
            return Ok(());
        }
        let (na, nb) = (self.count, rows as f64);
        let n = na + nb;
        for j in 0..c {
            let delta = mean[j] - self.mean[j];
            self.mean[j] += delta * nb / n;
            self.m2[j] += m2[j] + delta * delta * na * nb / n;
        }
        self.count = n;
        Ok(())
    }

    fn finish(self) -> Result<(Vec<f32>, Vec<f32>)> {
        if self.count == 0.0 {
            return Err(NnError::Input("Normalization.adapt: no data".into()));
        }
        let var = self.m2.iter().map(|s| (s / self.count) as f32).collect();
        Ok((self.mean.iter().map(|&m| m as f32).collect(), var))
    }
}

impl Layer for Normalization {
    fn class_name(&self) -> &'static str {
        "Normalization"
    }

    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        if self.config.axis != -1 && self.config.axis != input_shape.len() as i64 {
            return Err(NnError::Config(format!(
                "Normalization: only the last axis (-1) is supported, got axis {}",
                self.config.axis
            )));
        }
        let &c = input_shape
            .last()
            .ok_or_else(|| NnError::Config("Normalization needs a feature axis".into()))?;
        let mut mean = ctx.add_weight("mean", &[c], Initializer::Zeros, false)?;
        let mut var = ctx.add_weight("variance", &[c], Initializer::Ones, false)?;
        if let Some((m, v)) = self.stats() {
            if m.len() != c {
                return Err(NnError::Config(format!(
                    "Normalization: {} statistics for inputs with {c} features",
                    m.len()
                )));
            }
            mean.value = Tensor::from_f32(ctx.device(), &m, &[c])?;
            var.value = Tensor::from_f32(ctx.device(), &v, &[c])?;
        }
        self.w = Some([mean, var]);
        Ok(input_shape.to_vec())
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let [mean, var] = self.w.as_ref().ok_or_else(|| not_built("Normalization"))?;
        // Keras: max(sqrt(variance), epsilon) with epsilon 1e-7.
        let std = var.value.sqrt()?.clamp(1e-7, f32::MAX)?;
        Ok(match self.config.invert {
            false => x.sub(&mean.value)?.div(&std)?,
            true => x.mul(&std)?.add(&mean.value)?,
        })
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
