//! The data-parallel training step: this rank's forward and backward into the packed gradient
//! buffer, one readback of that buffer, one all-reduce of it, the upload, and the optimizer
//! update every rank takes alike (Horovod's `DistributedOptimizer` in one function); and the
//! sharded validation.

use std::time::Instant;

use kiln_graph::Tensor;

use crate::array::Array;
use crate::distributed::DataParallel;
use crate::error::{NnError, Result};
use crate::fit::not_compiled;
use crate::logs::Logs;
use crate::losses::compiled_loss;
use crate::model::Model;
use crate::trackers::Trackers;
use crate::train_step::undoable;

impl Model {
    /// One data-parallel training step (`all_reduce_gradients` and apply): `batch` is this
    /// rank's `local` samples of the step's `global` (None when its share is empty); the
    /// gradients of all ranks are averaged over the global batch, so every rank's weights take
    /// the step one process would take on the whole batch. Waits once, for the gradients to
    /// reach the host.
    pub fn train_step_all_reduce(
        &mut self,
        batch: Option<(&[Tensor], &[Tensor])>,
        trackers: &Trackers,
        strategy: &DataParallel,
        global: usize,
    ) -> Result<()> {
        let weights = self.try_packed_weights()?.ok_or_else(|| {
            NnError::Config(
                "data-parallel training needs the trainable weights packed into one buffer \
                 (a custom layer that hides its weights, or weights larger than one buffer \
                 binding, prevent it)"
                    .into(),
            )
        })?;
        let mut compiled = self.compiled.take().ok_or_else(not_compiled)?;
        // As `train_step`: first-use state first, then a step dropped whole if it fails (up to
        // the readback, which runs the forward and backward; after it only the update is left).
        let prepared = compiled
            .optimizer
            .prepare(self.device(), Some(&weights), &[]);
        let result = prepared.and_then(|()| {
            undoable(self.device(), &mut compiled, |compiled| {
                let mut local = 0;
                if let Some((xs, ys)) = batch {
                    local = xs[0].shape()[0];
                    let preds = self.call_many(xs, true)?;
                    let track = Some((trackers, local as f32));
                    let (loss, losses, fused) =
                        compiled_loss(&compiled.outputs, &preds, ys, track)?;
                    let grads = loss.backward_into(weights.grad_targets())?;
                    if !weights.complete(&grads) {
                        return Err(NnError::Config(
                            "data-parallel training needs a gradient for every trainable weight \
                             (freeze the weights the loss does not use)"
                                .into(),
                        ));
                    }
                    trackers.update(&loss, &losses, ys, &preds, local as f32, fused)?;
                }
                // The one wait of the step: MPI reduces host memory.
                let t = Instant::now();
                let mut g = if batch.is_some() {
                    self.device().read_f32(weights.grads().whole())?
                } else {
                    vec![0.0; weights.grads().whole().words()]
                };
                strategy.add_readback(t.elapsed());
                strategy.reduce_gradients(&mut g, local, global)?;
                self.device().write(weights.grads().whole(), &g)?;
                compiled.optimizer.step_packed(self.device(), &weights, &[])
            })
        });
        self.compiled = Some(compiled);
        self.device().submit();
        result
    }
}

impl DataParallel {
    /// Validation of a data-parallel fit: each rank evaluates its contiguous shard of the
    /// validation arrays, and the means (weighted by samples) and the confusion counts are
    /// summed over the ranks, so every rank logs what one process evaluating all of them logs.
    /// Fewer samples than ranks: every rank evaluates all.
    pub(crate) fn evaluate_shard(
        &self,
        model: &Model,
        xs: &[Array],
        ys: &[Array],
        batch_size: usize,
        confusion: bool,
    ) -> Result<Logs> {
        let (n, w, r) = (xs[0].len(), self.world_size(), self.rank());
        if n < w {
            return model.evaluate_impl(xs, ys, batch_size, confusion);
        }
        let (a, b) = (n * r / w, n * (r + 1) / w);
        let part = |v: &[Array]| v.iter().map(|x| x.slice(a, b)).collect::<Vec<_>>();
        let logs = model.evaluate_impl(&part(xs), &part(ys), batch_size, confusion)?;
        let mut merged = self.combine_logs(&logs, b - a)?;
        if let Some((classes, counts)) = &logs.confusion {
            let mut c: Vec<f64> = counts.iter().map(|&k| k as f64).collect();
            self.collective().all_reduce_sum_f64(&mut c)?;
            merged.confusion = Some((*classes, c.iter().map(|&k| k as u32).collect()));
        }
        Ok(merged)
    }
}
