//! The `Callback` trait (Keras's `keras.callbacks.Callback`) and the built-in callbacks.
//! Callbacks see host-side `Logs` only, at the points where `fit` reads metrics back; they never
//! touch the GPU directly (the TensorBoard callback reads weights through the model).

mod backup;
mod csv_logger;
mod early_stopping;
mod lr;
mod model_checkpoint;
mod monitor;
mod tensorboard;
mod tensorboard_confusion;
pub mod tensorboard_inspect;
mod terminate_on_nan;

pub use backup::BackupAndRestore;
pub use csv_logger::CsvLogger;
pub use early_stopping::EarlyStopping;
pub use lr::{LearningRateScheduler, ReduceLROnPlateau};
pub use model_checkpoint::ModelCheckpoint;
pub use monitor::Mode;
pub use tensorboard::{TensorBoard, UpdateFreq};
pub use tensorboard_confusion::confusion_image;
pub use terminate_on_nan::TerminateOnNaN;

use crate::array::Array;
use crate::error::Result;
use crate::logs::Logs;
use crate::model::Model;

/// What `fit` tells callbacks when training starts.
pub struct TrainInfo<'a> {
    /// Epochs `fit` will run up to.
    pub epochs: usize,
    /// Steps (batches) per epoch (0 when a dataset's length is unknown).
    pub steps_per_epoch: usize,
    /// Training inputs to show (the first input's array after any validation split, or a
    /// dataset's first batch).
    pub train_x: Option<&'a Array>,
    /// The training targets of `train_x` (first output), when known.
    pub train_y: Option<&'a Array>,
    /// Validation arrays (first input and first output) when the fit validates on arrays.
    pub validation_data: Option<(&'a Array, &'a Array)>,
    /// Whether the fit validates.
    pub validation: bool,
    /// This process's rank in a data-parallel fit (0 otherwise).
    pub rank: usize,
    /// Ranks in a data-parallel fit (1 otherwise).
    pub world_size: usize,
}

/// Hooks into `fit`. Every method has a default that does nothing.
pub trait Callback {
    /// Before the first epoch.
    fn on_train_begin(&mut self, _model: &mut Model, _info: &TrainInfo<'_>) -> Result<()> {
        Ok(())
    }

    /// Before each epoch (0-based).
    fn on_epoch_begin(&mut self, _epoch: usize, _model: &mut Model) -> Result<()> {
        Ok(())
    }

    /// Every `batch_interval()` steps: running epoch means so far; `global_step` counts steps
    /// from the start of training. Return `true` to stop training now.
    fn on_batch_end(&mut self, _global_step: u64, _logs: &Logs, _model: &Model) -> Result<bool> {
        Ok(false)
    }

    /// After each epoch, with training and validation logs. Return `true` to stop training.
    fn on_epoch_end(&mut self, _epoch: usize, _logs: &Logs, _model: &mut Model) -> Result<bool> {
        Ok(false)
    }

    /// After training, with the last epoch's logs.
    fn on_train_end(&mut self, _logs: &Logs, _model: &Model) -> Result<()> {
        Ok(())
    }

    /// Steps between `on_batch_end` calls (None: never). `fit` reads metrics back at these points.
    fn batch_interval(&self) -> Option<usize> {
        None
    }

    /// Whether validation should also compute a confusion matrix (put in `Logs::confusion`).
    fn wants_confusion_matrix(&self) -> bool {
        false
    }

    /// Whether the epoch's logs (and so the `History`) carry "learning_rate", the rate the epoch
    /// trained at: Keras's `ReduceLROnPlateau` and `LearningRateScheduler` put it there; without
    /// such a callback Keras's `History` has no learning rate (its TensorBoard callback reads
    /// the optimizer's for `epoch_learning_rate` itself, as kiln's does).
    fn logs_learning_rate(&self) -> bool {
        false
    }

    /// Whether only rank 0 of a data-parallel fit runs it (callbacks that write files or
    /// print). The others see the same, all-reduced logs, so callbacks that decide (early
    /// stopping, learning-rate changes) run on every rank and decide alike.
    fn root_only(&self) -> bool {
        false
    }
}
