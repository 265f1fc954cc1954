//! `evaluate` and `predict`: the forward pass in batches with nothing recorded, metrics
//! accumulated on the GPU, and one readback at the end.

use kiln_graph::{Tensor, no_grad};

use crate::array::Array;
use crate::error::{NnError, Result};
use crate::fit::{compiled_loss, not_compiled};
use crate::fit_data::{IntoArrays, check_data};
use crate::logs::Logs;
use crate::metrics::ConfusionMatrix;
use crate::model::Model;

/// Rows `start..end` of each array, on the device.
fn batch(arrays: &[Array], start: usize, end: usize, model: &Model) -> Result<Vec<Tensor>> {
    arrays
        .iter()
        .map(|a| a.slice(start, end).to_tensor(model.device()))
        .collect()
}

impl Model {
    /// Keras's `evaluate`: loss and metrics over `x` / `y` (one readback).
    pub fn evaluate<'a>(
        &mut self,
        x: impl IntoArrays<'a>,
        y: impl IntoArrays<'a>,
        batch_size: usize,
    ) -> Result<Logs> {
        let (xs, ys) = (x.into_arrays(), y.into_arrays());
        check_data(self, &xs, Some(&ys), "evaluate")?;
        let owned = |v: &[&Array]| v.iter().map(|&a| a.clone()).collect::<Vec<_>>();
        self.evaluate_impl(&owned(&xs), &owned(&ys), batch_size, false)
    }

    pub(crate) fn evaluate_impl(
        &self,
        xs: &[Array],
        ys: &[Array],
        batch_size: usize,
        confusion: bool,
    ) -> Result<Logs> {
        let batch_size = batch_size.max(1);
        let trackers = self.trackers()?;
        let specs = &self.compiled.as_ref().ok_or_else(not_compiled)?.outputs;
        // The confusion matrix is of a one-output classifier with integer labels.
        let classes = self
            .output_shape()
            .and_then(|s| s.last().copied())
            .unwrap_or(1);
        let cm = if confusion && ys.len() == 1 && ys[0].as_u32().is_some() {
            Some(ConfusionMatrix::new(self.device(), classes)?)
        } else {
            None
        };
        let n = xs[0].len();
        no_grad(|| -> Result<()> {
            for start in (0..n).step_by(batch_size) {
                let end = (start + batch_size).min(n);
                let xb = batch(xs, start, end, self)?;
                let yb = batch(ys, start, end, self)?;
                let preds = self.call_many(&xb, false)?;
                let (total, losses) = compiled_loss(specs, &preds, &yb)?;
                trackers.update(&total, &losses, &yb, &preds, (end - start) as f32)?;
                if let Some(cm) = &cm {
                    cm.update_state(&yb[0], &preds[0])?;
                }
                self.device().submit();
            }
            Ok(())
        })?;
        let mut logs = trackers.read("")?;
        if let Some(cm) = cm {
            logs.confusion = Some((classes, cm.result()?));
        }
        Ok(logs)
    }

    /// Keras's `predict` for a one-output model: its outputs for every sample of `x`, computed
    /// in batches on the GPU and read back once.
    pub fn predict<'a>(&mut self, x: impl IntoArrays<'a>, batch_size: usize) -> Result<Array> {
        let mut out = self.predict_outputs(x, batch_size)?;
        match out.len() {
            1 => Ok(out.remove(0)),
            n => Err(NnError::Input(format!(
                "predict: the model has {n} outputs; use predict_outputs"
            ))),
        }
    }

    /// `predict` for any number of outputs: one array per output, in output order.
    pub fn predict_outputs<'a>(
        &mut self,
        x: impl IntoArrays<'a>,
        batch_size: usize,
    ) -> Result<Vec<Array>> {
        let xs = x.into_arrays();
        if xs.first().is_none_or(|a| a.is_empty()) {
            return Err(NnError::Input("predict: x holds no samples".into()));
        }
        check_data(self, &xs, None, "predict")?;
        let shapes = self.output_shapes().unwrap_or_default();
        let n = xs[0].len();
        let owned: Vec<Array> = xs.iter().map(|&a| a.clone()).collect();
        // Every batch's outputs stay on the GPU until one readback takes them all.
        let mut kept: Vec<Vec<Tensor>> = vec![Vec::new(); shapes.len()];
        no_grad(|| -> Result<()> {
            for start in (0..n).step_by(batch_size.max(1)) {
                let end = (start + batch_size.max(1)).min(n);
                let preds = self.call_many(&batch(&owned, start, end, self)?, false)?;
                for (k, p) in kept.iter_mut().zip(preds) {
                    k.push(p);
                }
                self.device().submit();
            }
            Ok(())
        })?;
        let flat: Vec<&Tensor> = kept.iter().flatten().collect();
        let mut values = Tensor::read_many(&flat)?.into_iter();
        kept.iter()
            .zip(shapes)
            .map(|(batches, s)| {
                let v: Vec<f32> = values.by_ref().take(batches.len()).flatten().collect();
                let mut shape = vec![n];
                shape.extend(s);
                Array::f32(v, &shape)
            })
            .collect()
    }
}
