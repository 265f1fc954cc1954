//! `Dropout`: inverted dropout, active only in training (Keras semantics).

use kiln_graph::Tensor;

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};

/// Zeroes each input with probability `rate` during training and scales the rest by
/// 1 / (1 - rate); the identity at inference.
pub struct Dropout {
    rate: f32,
}

impl Dropout {
    /// Dropout with `rate` in [0, 1).
    pub fn new(rate: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            return Err(NnError::Config(format!(
                "Dropout rate must be in [0, 1), got {rate}"
            )));
        }
        Ok(Self { rate })
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
        if !ctx.training || self.rate == 0.0 {
            return Ok(x.clone());
        }
        Ok(x.dropout(self.rate, ctx.seed)?)
    }

    fn config(&self) -> Vec<(String, String)> {
        vec![("rate".into(), self.rate.to_string())]
    }
}
