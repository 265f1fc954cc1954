//! `fit`: Keras's training loop, GPU-resident. On GPUs the training set is uploaded once per fit
//! and each batch gathered on the GPU (`resident.rs`); on CPU adapters, or when it does not fit,
//! each batch is gathered on the host and uploaded. Each step then records forward, backward
//! (gradients written into the packed gradient buffer, `packing.rs`), one optimizer update for
//! all weights and the metric updates, and submits once. Metrics
//! accumulate on the GPU and are read back only at log points: the progress display (a few
//! times a second), callback batch intervals, and epoch ends.

use std::time::Instant;

use kiln_graph::{Rng, Tensor};

use crate::array::Array;
use crate::callbacks::TrainInfo;
use crate::data::epoch_batches;
use crate::error::{NnError, Result};
use crate::fit_config::FitConfig;
use crate::fit_data::{IntoArrays, check_data, split};
use crate::logs::{History, Logs};
use crate::model::{Model, OutputSpec};
use crate::progress::Progress;
use crate::resident::DeviceDataset;
use crate::trackers::Trackers;

pub(crate) fn not_compiled() -> NnError {
    NnError::Config(
        "the model is not compiled: call compile(optimizer, loss, metrics) first".into(),
    )
}

/// Each output's mean loss and their weighted sum (Keras's `loss_weights`); one output of
/// weight 1 is its own total, with no extra kernel.
pub(crate) fn compiled_loss(
    specs: &[OutputSpec],
    preds: &[Tensor],
    ys: &[Tensor],
) -> Result<(Tensor, Vec<Tensor>)> {
    let losses = specs
        .iter()
        .zip(preds)
        .zip(ys)
        .map(|((s, p), y)| s.loss.call(p, y))
        .collect::<Result<Vec<_>>>()?;
    let mut total: Option<Tensor> = None;
    for (l, s) in losses.iter().zip(specs) {
        let term = if s.weight == 1.0 {
            l.clone()
        } else {
            l.mul_scalar(s.weight)?
        };
        total = Some(match total {
            None => term,
            Some(t) => t.add(&term)?,
        });
    }
    let total = total.ok_or_else(|| NnError::Config("the model has no outputs".into()))?;
    Ok((total, losses))
}

/// The batch of each array at `idx`, on the device (gathered on the host).
fn host_batch(arrays: &[Array], idx: &[usize], model: &Model) -> Result<Vec<Tensor>> {
    arrays
        .iter()
        .map(|a| a.gather(idx).to_tensor(model.device()))
        .collect()
}

impl Model {
    /// One training step on a batch (one tensor per input and per output): forward, loss,
    /// backward, optimizer, tracker updates, one submit. Nothing is read back.
    pub fn train_step(&mut self, xs: &[Tensor], ys: &[Tensor], trackers: &Trackers) -> Result<()> {
        let mut compiled = self.compiled.take().ok_or_else(not_compiled)?;
        let result = (|| -> Result<()> {
            // Packed weights take one optimizer dispatch (`packing.rs`); models that cannot be
            // packed (a custom layer hiding its weights, too large for one binding) take one
            // per weight.
            let packed = self.try_packed_weights()?;
            let preds = self.call_many(xs, true)?;
            let (loss, losses) = compiled_loss(&compiled.outputs, &preds, ys)?;
            let opt = &mut compiled.optimizer;
            match packed {
                Some(w) => {
                    let grads = loss.backward_into(w.grad_targets())?;
                    opt.apply_packed(self.device(), &grads, &w)?
                }
                None => {
                    let params = self.trainable_weights();
                    opt.apply_gradients(self.device(), &loss.backward()?, &params)?
                }
            }
            let n = xs[0].shape()[0] as f32;
            trackers.update(&loss, &losses, ys, &preds, n)
        })();
        self.compiled = Some(compiled);
        // The step's graph is dropped above, so its buffers rejoin the pool at this submit.
        self.device().submit();
        result
    }

    /// Keras's `fit`: trains on `x` / `y` (an `&Array` each, or one per input and output) and
    /// returns the per-epoch history.
    pub fn fit<'a>(
        &mut self,
        x: impl IntoArrays<'a>,
        y: impl IntoArrays<'a>,
        mut cfg: FitConfig,
    ) -> Result<History> {
        let (xs, ys) = (x.into_arrays(), y.into_arrays());
        check_data(self, &xs, Some(&ys), "fit")?;
        if cfg.batch_size == 0 || cfg.validation_freq == 0 {
            return Err(NnError::Input(
                "fit: batch_size and validation_freq must be at least 1".into(),
            ));
        }
        let (train_x, train_y, val) = split(&xs, &ys, &mut cfg)?;
        if let Some((vx, vy)) = &val {
            let (vx, vy): (Vec<&Array>, Vec<&Array>) = (vx.iter().collect(), vy.iter().collect());
            check_data(self, &vx, Some(&vy), "fit (validation data)")?;
        }
        let mut callbacks = std::mem::take(&mut cfg.callbacks);
        let samples = train_x[0].len();
        let steps = samples.div_ceil(cfg.batch_size);
        let interval = callbacks.iter().filter_map(|c| c.batch_interval()).min();
        let wants_confusion = callbacks.iter().any(|c| c.wants_confusion_matrix());
        let mut history = History::default();
        let trackers = self.trackers()?;
        let info = TrainInfo {
            epochs: cfg.epochs,
            steps_per_epoch: steps,
            train_x: &train_x[0],
            validation: val.as_ref().map(|(a, b)| (&a[0], &b[0])),
        };
        for cb in &mut callbacks {
            cb.on_train_begin(self, &info)?;
        }
        // BackupAndRestore may have restored a backup and asked to resume after its epoch.
        let first_epoch = cfg.initial_epoch.max(self.resume_epoch.take().unwrap_or(0));
        let on_gpu = cfg
            .keep_data_on_gpu
            .unwrap_or(!self.device().info().is_cpu());
        let mut resident = match on_gpu {
            true => DeviceDataset::try_new(self.device(), &train_x, &train_y)?,
            false => None,
        };
        let mut global_step = (first_epoch * steps) as u64;
        let mut stop = false;
        for epoch in first_epoch..cfg.epochs {
            for cb in &mut callbacks {
                cb.on_epoch_begin(epoch, self)?;
            }
            trackers.reset()?;
            let mut progress = Progress::new(cfg.verbose, epoch, cfg.epochs, steps);
            let started = Instant::now();
            let batches = epoch_batches(
                samples,
                cfg.batch_size,
                cfg.shuffle.then_some(&mut epoch_rng(cfg.seed, epoch)),
            );
            if let Some(r) = &mut resident {
                r.set_epoch(&batches)?;
            }
            let mut start = 0;
            for (i, idx) in batches.iter().enumerate() {
                let (xb, yb) = match &resident {
                    Some(r) => r.batch_all(start, idx.len())?,
                    None => (
                        host_batch(&train_x, idx, self)?,
                        host_batch(&train_y, idx, self)?,
                    ),
                };
                start += idx.len();
                self.train_step(&xb, &yb, &trackers)?;
                progress.tick(i + 1);
                global_step += 1;
                let at_interval = interval.is_some_and(|n| global_step % n as u64 == 0);
                if at_interval || progress.due() {
                    let logs = trackers.read("")?;
                    progress.update(i + 1, &logs);
                    if at_interval {
                        for cb in &mut callbacks {
                            stop |= cb.on_batch_end(global_step, &logs, self)?;
                        }
                    }
                    if stop {
                        break;
                    }
                    check_nan(&logs, epoch, i)?;
                }
            }
            if stop {
                break; // a callback stopped training mid-epoch (TerminateOnNaN)
            }
            let mut logs = trackers.read("")?;
            check_nan(&logs, epoch, steps.saturating_sub(1))?;
            let train_time = started.elapsed();
            if let Some((vx, vy)) = &val
                && (epoch + 1) % cfg.validation_freq == 0
            {
                let v = self.evaluate_impl(vx, vy, cfg.batch_size, wants_confusion)?;
                logs.values
                    .extend(v.values.into_iter().map(|(k, x)| (format!("val_{k}"), x)));
                logs.confusion = v.confusion;
            }
            let lr = self
                .compiled
                .as_ref()
                .map_or(0.0, |c| c.optimizer.current_learning_rate());
            logs.set("learning_rate", lr);
            progress.finish(&logs, started.elapsed(), train_time / steps.max(1) as u32);
            self.epochs_done = epoch + 1;
            for cb in &mut callbacks {
                stop |= cb.on_epoch_end(epoch, &logs, self)?;
            }
            history.epochs.push(epoch);
            history.logs.push(logs);
            if stop {
                break;
            }
        }
        let last = history.logs.last().cloned().unwrap_or_default();
        for cb in &mut callbacks {
            cb.on_train_end(&last, self)?;
        }
        Ok(history)
    }
}

/// The shuffle generator of one epoch: a function of (seed, epoch) only, so a run resumed at
/// epoch k sees exactly the batches an uninterrupted run would.
fn epoch_rng(seed: u64, epoch: usize) -> Rng {
    Rng::new(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn check_nan(logs: &Logs, epoch: usize, batch: usize) -> Result<()> {
    match logs.get("loss") {
        Some(l) if !l.is_finite() => Err(NnError::NanLoss {
            epoch: epoch + 1,
            batch: batch + 1,
        }),
        _ => Ok(()),
    }
}
