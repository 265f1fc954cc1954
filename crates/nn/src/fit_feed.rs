//! Where `fit`'s batches come from, epoch by epoch: arrays (shuffled per epoch with a seed
//! derived from (seed, epoch), gathered on the host or on the GPU) or a `Dataset` (one pass per
//! epoch, or, with `steps_per_epoch`, one stream that runs on across epochs as Keras's does,
//! stopping the fit with a warning when it runs out). A resumed fit starts where an
//! uninterrupted one would be: the array order depends on the epoch alone, and a persistent
//! stream skips the batches the finished epochs used.

use std::borrow::Cow;

use kiln_graph::{Rng, Tensor};

use crate::array::Array;
use crate::data::epoch_batches;
use crate::dataset::{Cardinality, Dataset, Stream};
use crate::error::{NnError, Result};
use crate::model::Model;
use crate::resident::DeviceDataset;

/// Host arrays on the device (a `Batch::Host`'s, or the arrays `evaluate` and the inspection
/// calls are given).
pub(crate) fn upload<A: std::borrow::Borrow<Array>>(
    arrays: &[A],
    model: &Model,
) -> Result<Vec<Tensor>> {
    arrays
        .iter()
        .map(|a| a.borrow().to_tensor(model.device()))
        .collect()
}

/// One step's data: host arrays (checked and uploaded by `fit`) or tensors already on the GPU.
pub(crate) enum Batch {
    Host(Vec<Array>, Vec<Array>),
    Device(Vec<Tensor>, Vec<Tensor>),
    /// A data-parallel rank's empty share of a short last global batch.
    Empty,
}

/// Training data from arrays: the caller's (borrowed), or the training part of a
/// `validation_split`.
pub(crate) struct ArrayFeed<'a> {
    pub x: Vec<Cow<'a, Array>>,
    pub y: Vec<Cow<'a, Array>>,
    pub resident: Option<DeviceDataset>,
    pub batch_size: usize,
    pub shuffle: bool,
    pub seed: u64,
    /// (rank, world size) of a data-parallel fit: each global batch of `batch_size x world`
    /// is split into per-rank slices of `batch_size`.
    pub shard: Option<(usize, usize)>,
}

/// Training data from a dataset.
pub(crate) struct DatasetFeed {
    pub data: Dataset,
    pub steps_per_epoch: Option<usize>,
    /// The stream that runs across epochs when `steps_per_epoch` is set.
    pub stream: Option<Stream>,
    /// The stream ended before an epoch's `steps_per_epoch` batches.
    pub ran_out: bool,
}

pub(crate) enum Feed<'a> {
    Arrays(ArrayFeed<'a>),
    Dataset(DatasetFeed),
}

/// The shuffle generator of one epoch: a function of (seed, epoch) only, so a run resumed at
/// epoch k sees exactly the batches an uninterrupted run would.
pub(crate) fn epoch_rng(seed: u64, epoch: usize) -> Rng {
    Rng::new(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl ArrayFeed<'_> {
    /// Samples per step over all ranks.
    pub fn global_batch(&self) -> usize {
        self.batch_size * self.shard.map_or(1, |(_, w)| w)
    }
}

impl Feed<'_> {
    /// Samples of step `i` of an epoch over all ranks (data-parallel array fits).
    pub fn global_samples(&self, i: usize) -> usize {
        match self {
            Feed::Arrays(a) => {
                let n = a.x[0].len();
                a.global_batch().min(n.saturating_sub(i * a.global_batch()))
            }
            Feed::Dataset(_) => 0,
        }
    }

    /// Steps per epoch, when known before the epoch runs.
    pub fn steps(&self) -> Option<usize> {
        match self {
            Feed::Arrays(a) => Some(a.x[0].len().div_ceil(a.global_batch())),
            Feed::Dataset(d) => d.steps_per_epoch.or(match d.data.cardinality() {
                Cardinality::Known(n) => Some(n),
                _ => None,
            }),
        }
    }

    /// The epoch's batches, in order.
    pub fn epoch(&mut self, epoch: usize) -> Result<Box<dyn Iterator<Item = Result<Batch>> + '_>> {
        match self {
            Feed::Arrays(a) => {
                let mut batches = epoch_batches(
                    a.x[0].len(),
                    a.global_batch(),
                    a.shuffle.then_some(&mut epoch_rng(a.seed, epoch)),
                );
                if let Some((rank, _)) = a.shard {
                    batches = crate::distributed::shard(batches, a.batch_size, rank)
                        .into_iter()
                        .map(|(idx, _)| idx)
                        .collect();
                }
                if let Some(r) = &mut a.resident {
                    r.set_epoch(&batches)?;
                }
                let a = &*a;
                let mut start = 0;
                Ok(Box::new(batches.into_iter().map(move |idx| {
                    if idx.is_empty() {
                        return Ok(Batch::Empty);
                    }
                    let batch = match &a.resident {
                        Some(r) => {
                            let (x, y) = r.batch_all(start, idx.len())?;
                            Batch::Device(x, y)
                        }
                        None => Batch::Host(
                            a.x.iter().map(|v| v.gather(&idx)).collect(),
                            a.y.iter().map(|v| v.gather(&idx)).collect(),
                        ),
                    };
                    start += idx.len();
                    Ok(batch)
                })))
            }
            Feed::Dataset(d) => {
                let Some(steps) = d.steps_per_epoch else {
                    if d.data.cardinality() == Cardinality::Infinite {
                        return Err(NnError::Input(
                            "fit: the dataset repeats forever: give steps_per_epoch".into(),
                        ));
                    }
                    let stream = d.data.iter(epoch as u64)?;
                    return Ok(Box::new(stream.map(|e| e.map(|e| Batch::Host(e.x, e.y)))));
                };
                if d.stream.is_none() {
                    let mut s = d.data.iter(0)?;
                    // Resuming at epoch k: the finished epochs took k * steps batches.
                    for skipped in s.by_ref().take(epoch * steps) {
                        skipped?;
                    }
                    d.stream = Some(s);
                }
                let ran_out = &mut d.ran_out;
                let stream = d.stream.as_mut().expect("set above");
                let mut taken = 0;
                Ok(Box::new(std::iter::from_fn(move || {
                    if taken == steps {
                        return None;
                    }
                    match stream.next() {
                        Some(e) => {
                            taken += 1;
                            Some(e.map(|e| Batch::Host(e.x, e.y)))
                        }
                        None => {
                            *ran_out = true;
                            None
                        }
                    }
                })))
            }
        }
    }

    /// Whether a dataset ran out of batches (fit stops, as Keras does).
    pub fn ran_out(&self) -> bool {
        matches!(self, Feed::Dataset(d) if d.ran_out)
    }
}
