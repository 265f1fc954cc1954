//! `EarlyStopping`: stop when a monitored value has not improved for `patience` epochs,
//! optionally restoring the best epoch's weights.

use crate::callbacks::Callback;
use crate::callbacks::monitor::{Mode, Monitor};
use crate::error::Result;
use crate::logs::Logs;
use crate::model::Model;

/// Keras's `EarlyStopping`.
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    restore_best_weights: bool,
    wait: usize,
    best_weights: Option<Vec<Vec<f32>>>,
    /// The epoch (0-based) training stopped at, if it did.
    pub stopped_epoch: Option<usize>,
}

impl EarlyStopping {
    /// Watches `monitor` ("val_loss", "accuracy", ...).
    pub fn new(monitor: &str) -> Self {
        Self {
            monitor: Monitor::new(monitor, Mode::Auto, 0.0),
            patience: 0,
            restore_best_weights: false,
            wait: 0,
            best_weights: None,
            stopped_epoch: None,
        }
    }
    /// Epochs without improvement before stopping.
    pub fn patience(mut self, n: usize) -> Self {
        self.patience = n;
        self
    }
    /// Minimum change that counts as an improvement.
    pub fn min_delta(mut self, d: f32) -> Self {
        self.monitor.min_delta = d.abs();
        self
    }
    /// Min, max or auto.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.monitor = Monitor::new(&self.monitor.key, mode, self.monitor.min_delta);
        self
    }
    /// Put the best epoch's weights back when stopping.
    pub fn restore_best_weights(mut self, yes: bool) -> Self {
        self.restore_best_weights = yes;
        self
    }

    /// The decision for one epoch's logs: (stop?, snapshot the weights now?).
    pub(crate) fn step(&mut self, logs: &Logs) -> (bool, bool) {
        let Some(current) = self.monitor.read(logs, "EarlyStopping") else {
            return (false, false);
        };
        if self.monitor.improved(current) {
            self.wait = 0;
            return (false, true);
        }
        self.wait += 1;
        // wait >= 1 here, so patience 0 stops at the first epoch without improvement (Keras).
        (self.wait >= self.patience, false)
    }
}

impl Callback for EarlyStopping {
    fn on_train_begin(
        &mut self,
        _model: &mut Model,
        _info: &crate::callbacks::TrainInfo<'_>,
    ) -> Result<()> {
        self.wait = 0;
        self.monitor.best = None;
        self.best_weights = None;
        self.stopped_epoch = None;
        Ok(())
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, model: &mut Model) -> Result<bool> {
        let (stop, snapshot) = self.step(logs);
        if snapshot && self.restore_best_weights {
            self.best_weights = Some(model.get_weights()?);
        }
        if stop {
            self.stopped_epoch = Some(epoch);
            if let Some(w) = self.best_weights.take() {
                model.set_weights(&w)?;
            }
            eprintln!(
                "Epoch {}: early stopping ({} has not improved for {} epochs)",
                epoch + 1,
                self.monitor.key,
                self.wait
            );
        }
        Ok(stop)
    }
}
