//! Looking inside a model between steps: the gradients of the compiled loss on one batch, the
//! activations of chosen layers, and class probabilities. They feed the TensorBoard callback's
//! gradient and activation histograms and evaluation examples, and kiln-studio's predictions.
//!
//! All of them run the forward pass in inference mode with a fixed seed and leave the model's
//! call counter alone, so a fit that inspects its model trains bit for bit as one that does
//! not (exact resume holds with or without them). Each reads back once.

use kiln_graph::{Tensor, no_grad};

use crate::array::Array;
use crate::error::{NnError, Result};
use crate::fit::not_compiled;
use crate::fit_data::{IntoArrays, check_data};
use crate::fit_feed::upload;
use crate::losses::Loss;
use crate::losses::compiled_loss;
use crate::model::Model;

/// The seed of inspection passes (inference mode draws nothing, but layers get a seed).
const INSPECT_SEED: u32 = 0x5EED_1DEA;

impl Model {
    /// The gradient of the compiled loss on `x` / `y` (inference mode: no dropout, BatchNorm's
    /// moving statistics) for every trainable weight the loss reaches, as ("layer/weight",
    /// values). Nothing is applied; one readback.
    pub fn gradients<'a>(
        &mut self,
        x: impl IntoArrays<'a>,
        y: impl IntoArrays<'a>,
    ) -> Result<Vec<(String, Vec<f32>)>> {
        let (xs, ys) = (x.into_arrays(), y.into_arrays());
        check_data(self, &xs, Some(&ys), "gradients")?;
        let compiled = self.compiled().ok_or_else(not_compiled)?;
        let xt = upload(&xs, self)?;
        let yt = upload(&ys, self)?;
        let preds = self.forward(&xt, false, true, INSPECT_SEED)?;
        let (loss, _, _) = compiled_loss(&compiled.outputs, &preds, &yt, None)?;
        let grads = loss.backward()?;
        let mut names = Vec::new();
        let mut tensors = Vec::new();
        for (name, w) in self.trainable_weights() {
            if let Some(g) = grads.get(&w) {
                names.push(name);
                tensors.push(g.clone());
            }
        }
        self.device().submit();
        let refs: Vec<&Tensor> = tensors.iter().collect();
        Ok(names.into_iter().zip(Tensor::read_many(&refs)?).collect())
    }

    /// The outputs of the layers named in `layers` (their first call) on the batch `x`, in
    /// inference mode, as (layer, values of the whole batch). One readback.
    pub fn activations<'a>(
        &mut self,
        x: impl IntoArrays<'a>,
        layers: &[&str],
    ) -> Result<Vec<(String, Vec<f32>)>> {
        let xs = x.into_arrays();
        check_data(self, &xs, None, "activations")?;
        let mut taps = Vec::with_capacity(layers.len());
        for name in layers {
            let slot = self.slots.iter().position(|s| s.name == *name);
            let node = slot.and_then(|l| self.nodes.iter().position(|n| n.layer == Some(l)));
            taps.push(node.ok_or_else(|| {
                NnError::Config(format!(
                    "activations: the model has no layer {name:?} (its layers: {})",
                    self.layer_names().join(", ")
                ))
            })?);
        }
        let xt = upload(&xs, self)?;
        let (_, values) = no_grad(|| self.forward_tapped(&xt, false, true, INSPECT_SEED, &taps))?;
        self.device().submit();
        let refs: Vec<&Tensor> = values.iter().collect();
        let read = Tensor::read_many(&refs)?;
        Ok(layers.iter().map(|l| l.to_string()).zip(read).collect())
    }

    /// Whether the first output is logits: its compiled loss says `from_logits: true`. An
    /// uncompiled model answers from its values (see `probabilities`).
    pub fn output_is_logits(&self) -> Option<bool> {
        let spec = self.compiled()?.outputs.first()?;
        Some(match spec.loss {
            Loss::SparseCategoricalCrossentropy { from_logits }
            | Loss::CategoricalCrossentropy { from_logits }
            | Loss::BinaryCrossentropy { from_logits } => from_logits,
            Loss::MeanSquaredError | Loss::MeanAbsoluteError => false,
        })
    }

    /// Class probabilities of a one-output classifier for every sample of `x`, `[n, classes]`:
    /// the model's outputs, passed through a softmax when they are logits (per
    /// `output_is_logits`, or for an uncompiled model when a row is not already a probability
    /// vector). Inference mode with the inspection seed; one readback.
    pub fn probabilities(&mut self, x: &Array) -> Result<Array> {
        check_data(self, &[x], None, "probabilities")?;
        let xt = upload(&[x], self)?;
        let out = no_grad(|| self.forward(&xt, false, true, INSPECT_SEED))?;
        let [out] = out.as_slice() else {
            return Err(NnError::Config(format!(
                "probabilities: the model has {} outputs, not 1",
                out.len()
            )));
        };
        self.device().submit();
        let classes = out.shape().last().copied().unwrap_or(1).max(1);
        let mut values = out.to_vec()?;
        let logits = self.output_is_logits();
        for row in values.chunks_mut(classes) {
            if logits.unwrap_or_else(|| !is_distribution(row)) {
                softmax(row);
            }
        }
        Array::f32(values, &[x.len(), classes])
    }
}

/// Non-negative entries summing to 1 (within f32 rounding of a softmax).
fn is_distribution(row: &[f32]) -> bool {
    row.iter().all(|&v| (0.0..=1.0).contains(&v))
        && (row.iter().sum::<f32>() - 1.0).abs() < 1e-3 * row.len().max(1) as f32
}

/// In-place softmax, max-shifted so large logits do not overflow.
fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_a_distribution_and_shift_invariant() {
        let mut a = [1.0f32, 2.0, 3.0];
        let mut b = [1001.0f32, 1002.0, 1003.0];
        softmax(&mut a);
        softmax(&mut b);
        assert!(is_distribution(&a));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6);
        }
        assert!((a[2] - 0.665_240_9).abs() < 1e-6);
        assert!(!is_distribution(&[2.0, -1.0]));
    }
}
