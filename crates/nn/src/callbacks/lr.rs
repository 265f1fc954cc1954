//! Learning-rate callbacks: `ReduceLROnPlateau` (cut the rate when a metric stalls) and
//! `LearningRateScheduler` (set it from a function of the epoch).

use crate::callbacks::Callback;
use crate::callbacks::monitor::{Mode, Monitor};
use crate::error::Result;
use crate::logs::Logs;
use crate::model::Model;

/// Keras's `ReduceLROnPlateau`: lr = max(lr * factor, min_lr) after `patience` epochs without
/// improvement, then `cooldown` epochs of rest.
pub struct ReduceLROnPlateau {
    monitor: Monitor,
    factor: f32,
    patience: usize,
    cooldown: usize,
    min_lr: f32,
    wait: usize,
    cooldown_left: usize,
}

impl ReduceLROnPlateau {
    /// Keras's defaults: factor 0.1, patience 10, min_delta 1e-4, cooldown 0, min_lr 0.
    pub fn new(monitor: &str) -> Self {
        Self {
            monitor: Monitor::new(monitor, Mode::Auto, 1e-4),
            factor: 0.1,
            patience: 10,
            cooldown: 0,
            min_lr: 0.0,
            wait: 0,
            cooldown_left: 0,
        }
    }
    /// Multiplier (< 1).
    pub fn factor(mut self, f: f32) -> Self {
        self.factor = f;
        self
    }
    /// Epochs without improvement before a cut.
    pub fn patience(mut self, n: usize) -> Self {
        self.patience = n;
        self
    }
    /// Epochs to wait after a cut.
    pub fn cooldown(mut self, n: usize) -> Self {
        self.cooldown = n;
        self
    }
    /// Floor.
    pub fn min_lr(mut self, lr: f32) -> Self {
        self.min_lr = lr;
        self
    }
    /// Minimum change that counts.
    pub fn min_delta(mut self, d: f32) -> Self {
        self.monitor.min_delta = d.abs();
        self
    }

    /// The new rate for one epoch's logs at rate `lr`, if it should change.
    pub(crate) fn step(&mut self, logs: &Logs, lr: f32) -> Option<f32> {
        let current = self.monitor.read(logs, "ReduceLROnPlateau")?;
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.wait = 0;
        }
        if self.monitor.improved(current) {
            self.wait = 0;
            return None;
        }
        if self.cooldown_left > 0 {
            return None;
        }
        self.wait += 1;
        if self.wait < self.patience {
            return None;
        }
        self.wait = 0;
        self.cooldown_left = self.cooldown;
        let new = (lr * self.factor).max(self.min_lr);
        (new < lr).then_some(new)
    }
}

impl Callback for ReduceLROnPlateau {
    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, model: &mut Model) -> Result<bool> {
        if let Some(opt) = model.optimizer_mut()
            && let Some(new) = self.step(logs, opt.current_learning_rate())
        {
            eprintln!(
                "Epoch {}: ReduceLROnPlateau reducing learning rate to {new}",
                epoch + 1
            );
            opt.set_learning_rate(new);
        }
        Ok(false)
    }

    fn logs_learning_rate(&self) -> bool {
        true
    }
}

/// Keras's `LearningRateScheduler`: before each epoch, lr = schedule(epoch, current lr).
pub struct LearningRateScheduler {
    schedule: Box<dyn FnMut(usize, f32) -> f32>,
}

impl LearningRateScheduler {
    /// `schedule(epoch (0-based), lr) -> new lr`.
    pub fn new(schedule: impl FnMut(usize, f32) -> f32 + 'static) -> Self {
        Self {
            schedule: Box::new(schedule),
        }
    }
}

impl Callback for LearningRateScheduler {
    fn on_epoch_begin(&mut self, epoch: usize, model: &mut Model) -> Result<()> {
        if let Some(opt) = model.optimizer_mut() {
            let lr = (self.schedule)(epoch, opt.current_learning_rate());
            opt.set_learning_rate(lr);
        }
        Ok(())
    }

    fn logs_learning_rate(&self) -> bool {
        true
    }
}
