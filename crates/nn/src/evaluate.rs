//! `evaluate` and `predict`, on arrays or on a `Dataset`: the forward pass in batches with
//! nothing recorded, metrics accumulated on the GPU, and one readback at the end.

use kiln_graph::{DType, Tensor, no_grad};

use crate::array::Array;
use crate::dataset::{Cardinality, Dataset};
use crate::error::{NnError, Result};
use crate::fit::not_compiled;
use crate::fit_data::{IntoArrays, check_data};
use crate::fit_feed::upload;
use crate::logs::Logs;
use crate::losses::compiled_loss;
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
        let n = xs[0].len();
        let int_labels = ys.len() == 1 && ys[0].as_u32().is_some();
        let batches = (0..n).step_by(batch_size).map(|start| {
            let end = (start + batch_size).min(n);
            Ok((batch(xs, start, end, self)?, batch(ys, start, end, self)?))
        });
        self.evaluate_batches(batches, confusion && int_labels)
    }

    /// Keras's `evaluate(dataset, steps=...)`: loss and metrics over a pass of `data` (at
    /// most `steps` batches).
    pub fn evaluate_dataset(&mut self, data: &Dataset, steps: Option<usize>) -> Result<Logs> {
        let first = data.iter(0)?.next().transpose()?;
        let first = first.ok_or_else(|| NnError::Input("evaluate_dataset: no batches".into()))?;
        let (xs, ys): (Vec<&Array>, Vec<&Array>) =
            (first.x.iter().collect(), first.y.iter().collect());
        check_data(self, &xs, Some(&ys), "evaluate_dataset")?;
        self.evaluate_stream(data, steps, false)
    }

    /// Evaluation over a dataset pass (pass 0: the same batches every time).
    pub(crate) fn evaluate_stream(
        &self,
        data: &Dataset,
        steps: Option<usize>,
        confusion: bool,
    ) -> Result<Logs> {
        let stream = data.iter(0)?.take(steps.unwrap_or(usize::MAX));
        if steps.is_none() && data.cardinality() == Cardinality::Infinite {
            return Err(NnError::Input(
                "evaluate: the dataset repeats forever: give steps".into(),
            ));
        }
        let int_labels = self.compiled.as_ref().is_some_and(|c| c.outputs.len() == 1);
        let batches = stream.map(|e| {
            let e = e?;
            if e.y.is_empty() {
                return Err(NnError::Input(
                    "evaluate: the batches hold no targets".into(),
                ));
            }
            Ok((upload(&e.x, self)?, upload(&e.y, self)?))
        });
        self.evaluate_batches(batches, confusion && int_labels)
    }

    /// Loss and metrics over `batches`; a confusion matrix when asked and the labels are
    /// integers (checked on the first batch).
    fn evaluate_batches(
        &self,
        batches: impl Iterator<Item = Result<(Vec<Tensor>, Vec<Tensor>)>>,
        confusion: bool,
    ) -> Result<Logs> {
        let trackers = self.trackers()?;
        let specs = &self.compiled.as_ref().ok_or_else(not_compiled)?.outputs;
        // The confusion matrix is of a one-output classifier with integer labels.
        let classes = self
            .output_shape()
            .and_then(|s| s.last().copied())
            .unwrap_or(1);
        let mut cm: Option<ConfusionMatrix> = None;
        let mut any = false;
        no_grad(|| -> Result<()> {
            for b in batches {
                let (xb, yb) = b?;
                if !any && confusion && yb[0].dtype() == DType::U32 {
                    cm = Some(ConfusionMatrix::new(self.device(), classes)?);
                }
                any = true;
                let n = xb[0].shape()[0] as f32;
                let preds = self.call_many(&xb, false)?;
                let track = Some((&trackers, n));
                let (total, losses, fused) = compiled_loss(specs, &preds, &yb, track)?;
                trackers.update(&total, &losses, &yb, &preds, n, fused)?;
                if let Some(cm) = &cm {
                    cm.update_state(&yb[0], &preds[0])?;
                }
                self.device().submit();
            }
            Ok(())
        })?;
        if !any {
            return Err(NnError::Input("evaluate: no batches".into()));
        }
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
        collect_outputs(&kept, shapes, n)
    }

    /// Keras's `predict(dataset)`: one array per output over a pass of `data` (at most
    /// `steps` batches), read back once; the batches' targets, if any, are ignored.
    pub fn predict_dataset(&mut self, data: &Dataset, steps: Option<usize>) -> Result<Vec<Array>> {
        if steps.is_none() && data.cardinality() == Cardinality::Infinite {
            return Err(NnError::Input(
                "predict: the dataset repeats forever: give steps".into(),
            ));
        }
        let mut built = false;
        let shapes = |m: &Model| m.output_shapes().unwrap_or_default();
        let mut kept: Vec<Vec<Tensor>> = Vec::new();
        let mut n = 0;
        for e in data.iter(0)?.take(steps.unwrap_or(usize::MAX)) {
            let e = e?;
            if !built {
                let xs: Vec<&Array> = e.x.iter().collect();
                check_data(self, &xs, None, "predict_dataset")?;
                kept = vec![Vec::new(); shapes(self).len()];
                built = true;
            }
            n += e.len();
            let xb = upload(&e.x, self)?;
            let preds = no_grad(|| self.call_many(&xb, false))?;
            for (k, p) in kept.iter_mut().zip(preds) {
                k.push(p);
            }
            self.device().submit();
        }
        if !built {
            return Err(NnError::Input("predict_dataset: no batches".into()));
        }
        collect_outputs(&kept, shapes(self), n)
    }
}

/// Every batch's outputs, read back at once, as one array per output of `n` samples.
fn collect_outputs(kept: &[Vec<Tensor>], shapes: Vec<Vec<usize>>, n: usize) -> Result<Vec<Array>> {
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
