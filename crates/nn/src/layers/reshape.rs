//! `Flatten` and `Reshape`: layout changes that keep the batch dimension (no data movement).

use kiln_graph::Tensor;

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};

/// [n, d1, d2, ...] -> [n, d1 * d2 * ...].
#[derive(Default)]
pub struct Flatten;

impl Flatten {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl Layer for Flatten {
    fn class_name(&self) -> &'static str {
        "Flatten"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        Ok(vec![input_shape.iter().product()])
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let n = x.shape().first().copied().unwrap_or(1);
        Ok(x.reshape(&[n, x.numel() / n.max(1)])?)
    }
}

/// [n, ...] -> [n, target_shape...] with the same number of values per sample.
pub struct Reshape {
    target: Vec<usize>,
}

impl Reshape {
    /// Reshape each sample to `target_shape`.
    pub fn new(target_shape: &[usize]) -> Self {
        Self {
            target: target_shape.to_vec(),
        }
    }
}

impl Layer for Reshape {
    fn class_name(&self) -> &'static str {
        "Reshape"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let (a, b) = (
            input_shape.iter().product::<usize>(),
            self.target.iter().product::<usize>(),
        );
        if a != b {
            return Err(NnError::Config(format!(
                "Reshape: input {input_shape:?} has {a} values per sample, target {:?} has {b}",
                self.target
            )));
        }
        Ok(self.target.clone())
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let mut shape = vec![x.shape()[0]];
        shape.extend(&self.target);
        Ok(x.reshape(&shape)?)
    }

    fn config(&self) -> Vec<(String, String)> {
        vec![("target_shape".into(), format!("{:?}", self.target))]
    }
}
