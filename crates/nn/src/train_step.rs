//! One training step (`Model::train_step`): forward, loss, backward, optimizer and tracker
//! updates recorded, then one submit. A step that fails partway is dropped whole
//! (`undoable`): its recorded commands through `Device::rollback`, the optimizer's step count
//! restored, so the model stays as it was. The data-parallel step uses the same guard.

use kiln_graph::{Device, Tensor};

use crate::error::{NnError, Result};
use crate::fit::not_compiled;
use crate::losses::compiled_loss;
use crate::model::{Compiled, Model};
use crate::trackers::Trackers;

/// Runs `step`, which records one training step; on an error drops what it recorded (and the
/// optimizer's step count it took). What a step makes on first use and initialises by recorded
/// commands (packed weights, optimizer slots) must be made before: the rollback would drop its
/// initialisation. When part of the step was submitted already (a readback in it, or a batch
/// past the device's command limit), nothing can be dropped and the error says so.
pub(crate) fn undoable(
    device: &Device,
    compiled: &mut Compiled,
    step: impl FnOnce(&mut Compiled) -> Result<()>,
) -> Result<()> {
    let mark = device.mark();
    let iterations = compiled.optimizer.iterations;
    step(compiled).map_err(|e| {
        compiled.optimizer.iterations = iterations;
        if device.rollback(mark) {
            return e;
        }
        NnError::Config(format!(
            "{e} (the failed training step could not be undone: part of it had already run, \
             so the weights and optimizer state may hold part of its update; reload the last \
             checkpoint before training on)"
        ))
    })
}

impl Model {
    /// One training step on a batch (one tensor per input and per output): forward, loss,
    /// backward, optimizer, tracker updates, one submit. Nothing is read back. A step that
    /// fails partway (a launch refused after others were recorded: a Dense kernel may already
    /// have taken its Adam update in its gradient's dispatch) is dropped whole
    /// (`Device::rollback`), with the optimizer's step count, so the model stays as it was.
    pub fn train_step(&mut self, xs: &[Tensor], ys: &[Tensor], trackers: &Trackers) -> Result<()> {
        let mut compiled = self.compiled.take().ok_or_else(not_compiled)?;
        // What a step makes on first use (the packed weights, the optimizer's slots) is made
        // before `undoable` and kept: recorded commands initialise those buffers. Packed
        // weights take one optimizer dispatch (`packing.rs`); models that cannot be packed (a
        // custom layer hiding its weights, too large for one binding) take one per weight.
        let prepared = self.try_packed_weights().and_then(|packed| {
            let params = match packed {
                Some(_) => Vec::new(),
                None => self.trainable_weights(),
            };
            let opt = &mut compiled.optimizer;
            opt.prepare(self.device(), packed.as_deref(), &params)?;
            Ok((packed, params))
        });
        let result = prepared.and_then(|(packed, params)| {
            undoable(self.device(), &mut compiled, |compiled| {
                let preds = self.call_many(xs, true)?;
                let n = xs[0].shape()[0] as f32;
                let track = Some((trackers, n));
                let (loss, losses, fused) = compiled_loss(&compiled.outputs, &preds, ys, track)?;
                let opt = &mut compiled.optimizer;
                match packed {
                    Some(w) => {
                        // With Adam, a Dense kernel may take its update in its gradient's
                        // dispatch.
                        let grads = loss.backward_into(opt.step_targets(self.device(), &w)?)?;
                        opt.apply_packed(self.device(), &grads, &w)?
                    }
                    None => opt.apply_gradients(self.device(), &loss.backward()?, &params)?,
                }
                trackers.update(&loss, &losses, ys, &preds, n, fused)
            })
        });
        self.compiled = Some(compiled);
        // The step's graph is dropped above, so its buffers rejoin the pool at this submit.
        self.device().submit();
        result
    }
}
