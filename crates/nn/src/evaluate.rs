//! `evaluate` and `predict`: the forward pass in batches with nothing recorded, metrics
//! accumulated on the GPU, and one readback at the end.

use kiln_graph::no_grad;

use crate::array::Array;
use crate::error::{NnError, Result};
use crate::fit::{check_data, read_logs, trackers};
use crate::logs::Logs;
use crate::metrics::ConfusionMatrix;
use crate::sequential::Sequential;

impl Sequential {
    /// Keras's `evaluate`: loss and metrics over `x` / `y` (one readback).
    pub fn evaluate(&mut self, x: &Array, y: &Array, batch_size: usize) -> Result<Logs> {
        check_data(self, x, y, "evaluate")?;
        self.evaluate_impl(x, y, batch_size, false)
    }

    pub(crate) fn evaluate_impl(
        &self,
        x: &Array,
        y: &Array,
        batch_size: usize,
        confusion: bool,
    ) -> Result<Logs> {
        let batch_size = batch_size.max(1);
        let (loss_t, metrics) = trackers(self)?;
        let loss_fn = self
            .compiled
            .as_ref()
            .map(|c| c.loss)
            .ok_or_else(crate::fit::not_compiled)?;
        let classes = self
            .output_shape()
            .and_then(|s| s.last().copied())
            .unwrap_or(1);
        let cm = if confusion && y.as_u32().is_some() {
            Some(ConfusionMatrix::new(self.device(), classes)?)
        } else {
            None
        };
        no_grad(|| -> Result<()> {
            for start in (0..x.len()).step_by(batch_size) {
                let end = (start + batch_size).min(x.len());
                let xb = x.slice(start, end).to_tensor(self.device())?;
                let yb = y.slice(start, end).to_tensor(self.device())?;
                let pred = self.call(&xb, false)?;
                loss_t.update_mean(&loss_fn.call(&pred, &yb)?, (end - start) as f32)?;
                for m in &metrics {
                    m.update_state(&yb, &pred)?;
                }
                if let Some(cm) = &cm {
                    cm.update_state(&yb, &pred)?;
                }
                self.device().submit();
            }
            Ok(())
        })?;
        let mut logs = read_logs(&loss_t, &metrics, "")?;
        if let Some(cm) = cm {
            logs.confusion = Some((classes, cm.result()?));
        }
        Ok(logs)
    }

    /// Keras's `predict`: model outputs for every sample of `x`, computed in batches on the GPU
    /// and read back once.
    pub fn predict(&mut self, x: &Array, batch_size: usize) -> Result<Array> {
        if x.is_empty() {
            return Err(NnError::Input("predict: x holds no samples".into()));
        }
        self.build(&x.shape[1..]).map_err(|e| {
            NnError::Input(format!(
                "predict: x samples have shape {:?}: {e}",
                &x.shape[1..]
            ))
        })?;
        let out_shape = self.output_shape().unwrap_or_default();
        let per: usize = out_shape.iter().product();
        let dev = self.device().clone();
        let all = dev.alloc((x.len() * per * 4) as u64)?;
        no_grad(|| -> Result<()> {
            for start in (0..x.len()).step_by(batch_size.max(1)) {
                let end = (start + batch_size.max(1)).min(x.len());
                let pred = self.call(&x.slice(start, end).to_tensor(&dev)?, false)?;
                dev.copy(
                    pred.buffer(),
                    0,
                    &all,
                    (start * per * 4) as u64,
                    ((end - start) * per * 4) as u64,
                )?;
                dev.submit();
            }
            Ok(())
        })?;
        let mut shape = vec![x.len()];
        shape.extend(out_shape);
        Array::f32(dev.read_f32(&all)?, &shape)
    }
}
