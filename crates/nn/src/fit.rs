//! `fit`: Keras's training loop, GPU-resident. On GPUs the training set is uploaded once per fit
//! and each batch gathered on the GPU (`resident.rs`); on CPU adapters, or when it does not fit,
//! each batch is gathered on the host and uploaded. Each step then records forward, backward
//! (gradients written into the packed gradient buffer, `packing.rs`), one optimizer update for
//! all weights and the metric updates, and submits once. Metrics
//! accumulate on the GPU and are read back only at log points: the progress display (a few
//! times a second), callback batch intervals, and epoch ends.

use std::time::Instant;

use kiln_graph::Rng;
use kiln_graph::Tensor;

use crate::array::Array;
use crate::callbacks::TrainInfo;
use crate::data::epoch_batches;
use crate::error::{NnError, Result};
use crate::fit_config::FitConfig;
use crate::logs::{History, Logs};
use crate::metrics::{Metric, MetricKind};
use crate::progress::Progress;
use crate::resident::DeviceDataset;
use crate::sequential::Sequential;

/// Fresh GPU trackers for the loss and each compiled metric.
pub(crate) fn trackers(model: &Sequential) -> Result<(Metric, Vec<Metric>)> {
    let c = model.compiled.as_ref().ok_or_else(not_compiled)?;
    let loss = Metric::new(model.device(), MetricKind::Mean, "loss")?;
    let metrics = c
        .metrics
        .iter()
        .map(|k| Metric::new(model.device(), *k, &metric_key(k)))
        .collect::<Result<_>>()?;
    Ok((loss, metrics))
}

/// Log key of a metric: Keras logs sparse/categorical/binary accuracy requested as "accuracy"
/// under "accuracy"; kiln does the same for every accuracy kind.
fn metric_key(k: &MetricKind) -> String {
    match k {
        MetricKind::SparseCategoricalAccuracy
        | MetricKind::CategoricalAccuracy
        | MetricKind::BinaryAccuracy { .. } => "accuracy".into(),
        other => other.name(),
    }
}

pub(crate) fn not_compiled() -> NnError {
    NnError::Config(
        "the model is not compiled: call compile(optimizer, loss, metrics) first".into(),
    )
}

/// Reads the trackers in one wait, as logs ("loss" first).
pub(crate) fn read_logs(loss: &Metric, metrics: &[Metric], prefix: &str) -> Result<Logs> {
    let all: Vec<&Metric> = std::iter::once(loss).chain(metrics).collect();
    let values = Metric::results(&all)?;
    Ok(Logs {
        values: all
            .iter()
            .zip(values)
            .map(|(m, v)| (format!("{prefix}{}", m.name()), v))
            .collect(),
        confusion: None,
    })
}

/// Checks x / y against each other, the model and the loss before anything touches the GPU.
pub(crate) fn check_data(model: &mut Sequential, x: &Array, y: &Array, what: &str) -> Result<()> {
    if x.is_empty() {
        return Err(NnError::Input(format!("{what}: x holds no samples")));
    }
    if x.len() != y.len() {
        return Err(NnError::Input(format!(
            "{what}: x has {} samples but y has {}",
            x.len(),
            y.len()
        )));
    }
    if x.as_f32().is_none() {
        return Err(NnError::Input(format!("{what}: x must hold f32 values")));
    }
    if let Some(v) = x
        .as_f32()
        .and_then(|v| v.iter().position(|f| !f.is_finite()))
    {
        return Err(NnError::Input(format!(
            "{what}: x holds a non-finite value at flat index {v}"
        )));
    }
    model.build(&x.shape[1..]).map_err(|e| {
        NnError::Input(format!(
            "{what}: x samples have shape {:?}, which the model cannot take: {e}",
            &x.shape[1..]
        ))
    })?;
    let loss = model.compiled.as_ref().ok_or_else(not_compiled)?.loss;
    let out = model.output_shape().unwrap_or_default();
    let classes = out.last().copied().unwrap_or(1);
    match (&y.data, loss.sparse_targets()) {
        (crate::array::Data::U32(labels), true) => {
            if y.row_size() != 1 {
                return Err(NnError::Input(format!(
                    "{what}: {} needs one integer label per sample, y has shape {:?}",
                    loss.name(),
                    y.shape
                )));
            }
            if let Some((i, l)) = labels
                .iter()
                .enumerate()
                .find(|(_, l)| **l as usize >= classes)
            {
                return Err(NnError::Input(format!(
                    "{what}: label {l} (sample {i}) is out of range for a model with {classes} outputs"
                )));
            }
        }
        (crate::array::Data::F32(_), false) => {
            if y.row_size() != out.iter().product::<usize>() {
                return Err(NnError::Input(format!(
                    "{what}: targets have {} values per sample but the model outputs {out:?}",
                    y.row_size()
                )));
            }
        }
        (_, true) => {
            return Err(NnError::Input(format!(
                "{what}: {} needs u32 labels, y holds f32",
                loss.name()
            )));
        }
        (_, false) => {
            return Err(NnError::Input(format!(
                "{what}: {} needs f32 targets, y holds u32 labels",
                loss.name()
            )));
        }
    }
    Ok(())
}

impl Sequential {
    /// One training step on a batch: forward, loss, backward, optimizer, metric updates, one
    /// submit. Nothing is read back.
    pub fn train_step(
        &mut self,
        x: &Tensor,
        y: &Tensor,
        loss_tracker: &Metric,
        metrics: &[Metric],
    ) -> Result<()> {
        let mut compiled = self.compiled.take().ok_or_else(not_compiled)?;
        let result = (|| -> Result<()> {
            // Packed weights take one optimizer dispatch (`packing.rs`); models that cannot be
            // packed (a custom layer hiding its weights, too large for one binding) take one
            // per weight.
            let packed = self.try_packed_weights()?;
            let pred = self.call(x, true)?;
            let loss = compiled.loss.call(&pred, y)?;
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
            loss_tracker.update_mean(&loss, x.shape()[0] as f32)?;
            for m in metrics {
                m.update_state(y, &pred)?;
            }
            Ok(())
        })();
        self.compiled = Some(compiled);
        // The step's graph is dropped above, so its buffers rejoin the pool at this submit.
        self.device().submit();
        result
    }

    /// Keras's `fit`: trains on `x` / `y` and returns the per-epoch history.
    pub fn fit(&mut self, x: &Array, y: &Array, mut cfg: FitConfig) -> Result<History> {
        check_data(self, x, y, "fit")?;
        if cfg.batch_size == 0 || cfg.validation_freq == 0 {
            return Err(NnError::Input(
                "fit: batch_size and validation_freq must be at least 1".into(),
            ));
        }
        let (train_x, train_y, val) = split(x, y, &mut cfg)?;
        if let Some((vx, vy)) = &val {
            check_data(self, vx, vy, "fit (validation data)")?;
        }
        let mut callbacks = std::mem::take(&mut cfg.callbacks);
        let steps = train_x.len().div_ceil(cfg.batch_size);
        let interval = callbacks.iter().filter_map(|c| c.batch_interval()).min();
        let wants_confusion = callbacks.iter().any(|c| c.wants_confusion_matrix());
        let mut history = History::default();
        let (loss_t, metrics) = trackers(self)?;
        let info = TrainInfo {
            epochs: cfg.epochs,
            steps_per_epoch: steps,
            train_x: &train_x,
            validation: val.as_ref().map(|(a, b)| (a, b)),
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
            loss_t.reset_state()?;
            for m in &metrics {
                m.reset_state()?;
            }
            let mut progress = Progress::new(cfg.verbose, epoch, cfg.epochs, steps);
            let started = Instant::now();
            let batches = epoch_batches(
                train_x.len(),
                cfg.batch_size,
                cfg.shuffle.then_some(&mut epoch_rng(cfg.seed, epoch)),
            );
            if let Some(r) = &mut resident {
                r.set_epoch(&batches)?;
            }
            let mut start = 0;
            for (i, idx) in batches.iter().enumerate() {
                let (xb, yb) = match &resident {
                    Some(r) => r.batch(start, idx.len())?,
                    None => (
                        train_x.gather(idx).to_tensor(self.device())?,
                        train_y.gather(idx).to_tensor(self.device())?,
                    ),
                };
                start += idx.len();
                self.train_step(&xb, &yb, &loss_t, &metrics)?;
                progress.tick(i + 1);
                global_step += 1;
                let at_interval = interval.is_some_and(|n| global_step % n as u64 == 0);
                if at_interval || progress.due() {
                    let logs = read_logs(&loss_t, &metrics, "")?;
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
            let mut logs = read_logs(&loss_t, &metrics, "")?;
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

type Split = (Array, Array, Option<(Array, Array)>);

/// Training arrays and validation arrays: explicit data, or the last `validation_split` of the
/// samples (taken before shuffling, as Keras does).
fn split(x: &Array, y: &Array, cfg: &mut FitConfig) -> Result<Split> {
    if let Some(v) = cfg.validation_data.take() {
        return Ok((x.clone(), y.clone(), Some(v)));
    }
    if cfg.validation_split <= 0.0 {
        return Ok((x.clone(), y.clone(), None));
    }
    if cfg.validation_split >= 1.0 {
        return Err(NnError::Input(format!(
            "fit: validation_split must be in [0, 1), got {}",
            cfg.validation_split
        )));
    }
    let n = x.len();
    let cut = n - ((n as f64 * cfg.validation_split as f64) as usize).min(n - 1);
    Ok((
        x.slice(0, cut),
        y.slice(0, cut),
        Some((x.slice(cut, n), y.slice(cut, n))),
    ))
}
