//! `TerminateOnNaN`: stop training at the first batch whose loss is NaN or infinite, naming the
//! epoch and batch. It asks `fit` to read the loss after every batch, which costs one GPU wait
//! per step: use it when diagnosing, not for speed.

use crate::callbacks::{Callback, TrainInfo};
use crate::error::Result;
use crate::logs::Logs;
use crate::model::Model;

/// Keras's `TerminateOnNaN`.
#[derive(Default)]
pub struct TerminateOnNaN {
    steps_per_epoch: u64,
    /// (1-based epoch, 1-based batch) where training was terminated, if it was.
    pub terminated_at: Option<(usize, usize)>,
}

impl TerminateOnNaN {
    /// The callback.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Callback for TerminateOnNaN {
    fn on_train_begin(&mut self, _model: &mut Model, info: &TrainInfo<'_>) -> Result<()> {
        self.steps_per_epoch = info.steps_per_epoch.max(1) as u64;
        Ok(())
    }

    fn on_batch_end(&mut self, global_step: u64, logs: &Logs, _model: &Model) -> Result<bool> {
        match logs.get("loss") {
            Some(l) if !l.is_finite() => {
                let epoch = ((global_step - 1) / self.steps_per_epoch) as usize + 1;
                let batch = ((global_step - 1) % self.steps_per_epoch) as usize + 1;
                eprintln!("Epoch {epoch}, batch {batch}: invalid loss {l}, terminating training");
                self.terminated_at = Some((epoch, batch));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn batch_interval(&self) -> Option<usize> {
        Some(1)
    }
}
