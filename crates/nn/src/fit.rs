//! `fit`: Keras's training loop, GPU-resident. On GPUs the training set is uploaded once per fit
//! and each batch gathered on the GPU (`resident.rs`); on CPU adapters, or when it does not fit,
//! each batch is gathered on the host and uploaded. Each step then records forward, backward
//! (gradients written into the packed gradient buffer, `packing.rs`), one optimizer update for
//! all weights and the metric updates, and submits once. Metrics
//! accumulate on the GPU and are read back only at log points: the progress display (a few
//! times a second), callback batch intervals, and epoch ends. One step is `train_step.rs`.

use std::time::Instant;

use crate::array::Array;
use crate::callbacks::TrainInfo;
use crate::dataset::Dataset;
use crate::error::{NnError, Result};
use crate::fit_config::FitConfig;
use crate::fit_data::{IntoArrays, check_data, split};
use crate::fit_feed::{ArrayFeed, Batch, DatasetFeed, Feed, upload};
use crate::logs::{History, Logs};
use crate::model::Model;
use crate::progress::Progress;
use crate::resident::DeviceDataset;

pub(crate) fn not_compiled() -> NnError {
    NnError::Config(
        "the model is not compiled: call compile(optimizer, loss, metrics) first".into(),
    )
}

impl Model {
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
        check_config(&cfg)?;
        let (train_x, train_y, val) = split(&xs, &ys, &mut cfg)?;
        if let Some((vx, vy)) = &val {
            let (vx, vy): (Vec<&Array>, Vec<&Array>) = (vx.iter().collect(), vy.iter().collect());
            check_data(self, &vx, Some(&vy), "fit (validation data)")?;
        }
        let on_gpu = cfg
            .keep_data_on_gpu
            .unwrap_or(!self.device().info().is_cpu());
        let resident = match on_gpu {
            true => DeviceDataset::try_new(self.device(), &train_x, &train_y)?,
            false => None,
        };
        let feed = Feed::Arrays(ArrayFeed {
            x: train_x,
            y: train_y,
            resident,
            batch_size: cfg.batch_size,
            shuffle: cfg.shuffle,
            seed: cfg.seed,
            shard: cfg
                .data_parallel
                .as_ref()
                .map(|d| (d.rank(), d.world_size())),
        });
        let val = match val {
            Some((vx, vy)) => Validation::Arrays(vx, vy),
            None => Validation::None,
        };
        self.run_fit(feed, val, (None, None), cfg)
    }

    /// `fit` on a `Dataset` of (x, y) batches (Keras's `fit(dataset)`): one pass per epoch, or
    /// `steps_per_epoch` batches of a stream that runs on across epochs. Validation comes from
    /// `validation_dataset` (or `validation_data` arrays); `validation_split` is for arrays only,
    /// as in Keras. `batch_size` and `shuffle` belong to the dataset and are ignored here.
    pub fn fit_dataset(&mut self, data: &Dataset, mut cfg: FitConfig) -> Result<History> {
        check_config(&cfg)?;
        if cfg.data_parallel.is_some() {
            return Err(NnError::Input(
                "fit_dataset: data-parallel training takes arrays (fit), which it shards by rank"
                    .into(),
            ));
        }
        if cfg.validation_split > 0.0 {
            return Err(NnError::Input(
                "fit_dataset: validation_split needs arrays; give validation_dataset instead"
                    .into(),
            ));
        }
        // The first batch of the first pass builds the model and is shown by TensorBoard.
        let first =
            data.iter(0)?.next().transpose()?.ok_or_else(|| {
                NnError::Input("fit_dataset: the dataset yields no batches".into())
            })?;
        self.check_batch(&first.x, &first.y, "fit_dataset")?;
        let val = match (cfg.validation_dataset.take(), cfg.validation_data.take()) {
            (Some(v), _) => Validation::Dataset(v, cfg.validation_steps),
            (None, Some((vx, vy))) => Validation::Arrays(vx, vy),
            (None, None) => Validation::None,
        };
        let feed = Feed::Dataset(DatasetFeed {
            data: data.clone(),
            steps_per_epoch: cfg.steps_per_epoch,
            stream: None,
            ran_out: false,
        });
        self.run_fit(feed, val, (first.x.first(), first.y.first()), cfg)
    }

    /// Checks one batch of host arrays (building the model on the first).
    fn check_batch(&mut self, x: &[Array], y: &[Array], what: &str) -> Result<()> {
        if y.is_empty() {
            return Err(NnError::Input(format!(
                "{what}: the batches hold no targets (an unlabelled dataset cannot be trained on)"
            )));
        }
        let (xs, ys): (Vec<&Array>, Vec<&Array>) = (x.iter().collect(), y.iter().collect());
        check_data(self, &xs, Some(&ys), what)
    }

    fn run_fit(
        &mut self,
        mut feed: Feed<'_>,
        val: Validation,
        // A dataset fit's first batch (TensorBoard shows it); an array fit's come from the feed.
        (sample, sample_y): (Option<&Array>, Option<&Array>),
        mut cfg: FitConfig,
    ) -> Result<History> {
        let mut callbacks = std::mem::take(&mut cfg.callbacks);
        let dp = cfg.data_parallel.clone();
        // Log points and the confusion matrix involve collectives in a data-parallel fit, so
        // every rank takes them from all the callbacks, rank 0's writers included.
        let interval = callbacks.iter().filter_map(|c| c.batch_interval()).min();
        let wants_confusion = callbacks.iter().any(|c| c.wants_confusion_matrix());
        if dp.as_ref().is_some_and(|d| !d.is_root()) {
            // Rank 0 writes the logs and prints; the others train and decide alike.
            cfg.verbose = 0;
            callbacks.retain(|c| !c.root_only());
        }
        let steps = feed.steps();
        let mut history = History::default();
        let trackers = self.trackers()?;
        let (train_x, train_y) = match &feed {
            Feed::Arrays(a) => (a.x.first().map(|x| &**x), a.y.first().map(|y| &**y)),
            Feed::Dataset(_) => (sample, sample_y),
        };
        let info = TrainInfo {
            epochs: cfg.epochs,
            steps_per_epoch: steps.unwrap_or(0),
            train_x,
            train_y,
            validation_data: match &val {
                Validation::Arrays(vx, vy) => vx.first().zip(vy.first()),
                _ => None,
            },
            validation: !matches!(val, Validation::None),
            rank: dp.as_ref().map_or(0, |d| d.rank()),
            world_size: dp.as_ref().map_or(1, |d| d.world_size()),
        };
        for cb in &mut callbacks {
            cb.on_train_begin(self, &info)?;
        }
        if let Some(d) = &dp {
            d.broadcast_weights(self)?;
        }
        // BackupAndRestore may have restored a backup and asked to resume after its epoch.
        let first_epoch = cfg.initial_epoch.max(self.resume_epoch.take().unwrap_or(0));
        let mut global_step = (first_epoch * steps.unwrap_or(0)) as u64;
        let mut stop = false;
        // Arrays were checked as a whole; a dataset's batches are checked one by one.
        let check_each = matches!(feed, Feed::Dataset(_));
        for epoch in first_epoch..cfg.epochs {
            for cb in &mut callbacks {
                cb.on_epoch_begin(epoch, self)?;
            }
            trackers.reset()?;
            let mut progress = Progress::new(cfg.verbose, epoch, cfg.epochs, steps);
            let started = Instant::now();
            let mut done = 0;
            let mut samples = 0;
            let globals: Vec<usize> = (0..steps.unwrap_or(0))
                .map(|i| feed.global_samples(i))
                .collect();
            for (i, batch) in feed.epoch(epoch)?.enumerate() {
                let batch = match batch? {
                    Batch::Device(x, y) => Some((x, y)),
                    Batch::Host(x, y) => {
                        if check_each {
                            self.check_batch(&x, &y, "fit")
                                .map_err(|e| at_batch(e, epoch, i))?;
                        }
                        Some((upload(&x, self)?, upload(&y, self)?))
                    }
                    Batch::Empty => None,
                };
                match (&dp, &batch) {
                    (Some(d), _) => {
                        let b = batch.as_ref().map(|(x, y)| (&x[..], &y[..]));
                        samples += b.map_or(0, |(x, _)| x[0].shape()[0]);
                        let global = globals.get(i).copied().unwrap_or(0);
                        self.train_step_all_reduce(b, &trackers, d, global)?;
                    }
                    (None, Some((xb, yb))) => self.train_step(xb, yb, &trackers)?,
                    (None, None) => {}
                }
                done = i + 1;
                progress.tick(done);
                global_step += 1;
                let at_interval = interval.is_some_and(|n| global_step % n as u64 == 0);
                if at_interval || progress.due() {
                    let mut logs = trackers.read("")?;
                    // Callbacks see every rank's samples; the progress bar of rank 0 shows
                    // its own between log points (a collective at a time-based point would
                    // need every rank to reach it at the same step).
                    if let (Some(d), true) = (&dp, at_interval) {
                        logs = d.combine_logs(&logs, samples)?;
                    }
                    progress.update(done, &logs);
                    if at_interval {
                        for cb in &mut callbacks {
                            stop |= cb.on_batch_end(global_step, &logs, self)?;
                        }
                        if let Some(d) = &dp {
                            stop = d.any(stop)?;
                        }
                    }
                    if stop {
                        break;
                    }
                    if dp.is_none() || at_interval {
                        check_nan(&logs, epoch, i)?;
                    }
                }
            }
            if stop {
                break; // a callback stopped training mid-epoch (TerminateOnNaN)
            }
            if feed.ran_out() {
                eprintln!(
                    "kiln: the dataset ran out of batches in epoch {}; interrupting training                      (make sure it yields steps_per_epoch * epochs batches, e.g. with repeat())",
                    epoch + 1
                );
                if done == 0 {
                    break;
                }
            }
            let mut logs = trackers.read("")?;
            if let Some(d) = &dp {
                logs = d.combine_logs(&logs, samples)?;
            }
            check_nan(&logs, epoch, done.saturating_sub(1))?;
            let train_time = started.elapsed();
            if (epoch + 1) % cfg.validation_freq == 0 {
                let v = match &val {
                    Validation::None => None,
                    Validation::Arrays(vx, vy) => Some(match &dp {
                        Some(d) => {
                            d.evaluate_shard(self, vx, vy, cfg.batch_size, wants_confusion)?
                        }
                        None => self.evaluate_impl(vx, vy, cfg.batch_size, wants_confusion)?,
                    }),
                    Validation::Dataset(d, steps) => {
                        Some(self.evaluate_stream(d, *steps, wants_confusion)?)
                    }
                };
                if let Some(v) = v {
                    logs.values
                        .extend(v.values.into_iter().map(|(k, x)| (format!("val_{k}"), x)));
                    logs.confusion = v.confusion;
                }
            }
            // As Keras: the rate is in the logs (and the History) only where a learning-rate
            // callback puts it there.
            if callbacks.iter().any(|c| c.logs_learning_rate()) {
                let lr = self
                    .compiled
                    .as_ref()
                    .map_or(0.0, |c| c.optimizer.current_learning_rate());
                logs.set("learning_rate", lr);
            }
            progress.finish(
                done,
                &logs,
                started.elapsed(),
                train_time / done.max(1) as u32,
            );
            self.epochs_done = epoch + 1;
            for cb in &mut callbacks {
                stop |= cb.on_epoch_end(epoch, &logs, self)?;
            }
            if let Some(d) = &dp {
                stop = d.any(stop)?;
            }
            history.epochs.push(epoch);
            history.logs.push(logs);
            if stop || feed.ran_out() {
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

/// Validation data of a fit.
enum Validation {
    None,
    Arrays(Vec<Array>, Vec<Array>),
    Dataset(Dataset, Option<usize>),
}

fn check_config(cfg: &FitConfig) -> Result<()> {
    if cfg.batch_size == 0 || cfg.validation_freq == 0 || cfg.steps_per_epoch == Some(0) {
        return Err(NnError::Input(
            "fit: batch_size, validation_freq and steps_per_epoch must be at least 1".into(),
        ));
    }
    Ok(())
}

/// An error of one dataset batch, placed.
fn at_batch(e: NnError, epoch: usize, batch: usize) -> NnError {
    NnError::Input(format!("epoch {}, batch {}: {e}", epoch + 1, batch + 1))
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
