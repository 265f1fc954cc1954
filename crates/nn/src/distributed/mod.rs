//! Data-parallel training, Horovod's recipe: one process per GPU; the initial weights broadcast
//! from rank 0; every step each rank computes the gradient of its shard of the global batch,
//! the packed gradients are read back as one buffer, summed over ranks with one all-reduce
//! (each rank's mean gradient weighted by its share of the global batch, so the sum is the
//! global batch's mean gradient exactly as one process would compute it), uploaded, and every
//! rank's optimizer takes the same step; logged losses and metrics are all-reduced the same
//! way, so every rank logs what a single process would. Rank 0 alone runs the callbacks that
//! write files (TensorBoard, CSV, checkpoints) and the progress bar.
//!
//! The transport is a `Collective`: `Mpi` (feature `mpi`, the `mpi` crate over the system's
//! MPI) in real jobs, or any other implementation (a test can use threads). A data-parallel
//! step waits once for the gradient readback: the gradients must reach the host for MPI, so
//! "no per-step wait" holds for single-process training only.

#[cfg(feature = "mpi")]
mod mpi_collective;
mod step;

#[cfg(feature = "mpi")]
pub use mpi_collective::Mpi;

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::logs::Logs;
use crate::model::Model;

/// The collective operations data-parallel training needs. Every rank must make the same calls
/// in the same order.
pub trait Collective {
    /// This process's rank, 0-based.
    fn rank(&self) -> usize;
    /// How many ranks.
    fn world_size(&self) -> usize;
    /// Rank among the processes on this machine (picks the adapter).
    fn local_rank(&self) -> usize {
        self.rank()
    }
    /// Element-wise sum over ranks, in place, on every rank.
    fn all_reduce_sum_f32(&self, values: &mut [f32]) -> Result<()>;
    /// Element-wise sum over ranks, in place, on every rank (metrics, in double precision).
    fn all_reduce_sum_f64(&self, values: &mut [f64]) -> Result<()>;
    /// Rank `root`'s values on every rank.
    fn broadcast_f32(&self, values: &mut [f32], root: usize) -> Result<()>;
}

/// What the all-reduces of a fit cost, measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CommStats {
    /// Data-parallel steps taken.
    pub steps: u64,
    /// Gradient bytes each rank sent into all-reduces.
    pub gradient_bytes: u64,
    /// Time waiting for the gradient readback (the step's GPU work).
    pub readback: Duration,
    /// Time in gradient all-reduces.
    pub all_reduce: Duration,
}

/// A data-parallel strategy over a `Collective` (pass it to `FitConfig::data_parallel`).
pub struct DataParallel {
    comm: Box<dyn Collective>,
    stats: Cell<CommStats>,
}

impl DataParallel {
    /// A strategy over `comm`.
    pub fn new(comm: impl Collective + 'static) -> Self {
        DataParallel {
            comm: Box::new(comm),
            stats: Cell::new(CommStats::default()),
        }
    }

    /// Over MPI's world (one process per GPU, started by `mpirun`).
    #[cfg(feature = "mpi")]
    pub fn mpi() -> Result<Self> {
        Ok(Self::new(Mpi::init()?))
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }
    /// How many ranks.
    pub fn world_size(&self) -> usize {
        self.comm.world_size()
    }
    /// Whether this is rank 0 (the one that writes logs and checkpoints).
    pub fn is_root(&self) -> bool {
        self.comm.rank() == 0
    }
    /// The transport.
    pub fn collective(&self) -> &dyn Collective {
        &*self.comm
    }
    /// What communication cost so far.
    pub fn stats(&self) -> CommStats {
        self.stats.get()
    }

    /// The device options for this rank: `KILN_ADAPTER_INDEX` when set, else the local rank
    /// (one process per adapter; ranks share when there are fewer adapters than ranks).
    pub fn device_options(&self) -> Result<kiln_graph::DeviceOptions> {
        let mut o = kiln_graph::DeviceOptions::from_env()?;
        o.adapter_index = o.adapter_index.or(Some(self.comm.local_rank()));
        Ok(o)
    }

    /// Sums `grads` (this rank's mean gradient over `local` of the step's `global` samples)
    /// into the global mean gradient, on every rank.
    pub(crate) fn reduce_gradients(
        &self,
        grads: &mut [f32],
        local: usize,
        global: usize,
    ) -> Result<()> {
        let share = if global == 0 {
            0.0
        } else {
            local as f32 / global as f32
        };
        for g in grads.iter_mut() {
            *g *= share;
        }
        let t = Instant::now();
        self.comm.all_reduce_sum_f32(grads)?;
        let mut s = self.stats.get();
        s.steps += 1;
        s.gradient_bytes += std::mem::size_of_val(grads) as u64;
        s.all_reduce += t.elapsed();
        self.stats.set(s);
        Ok(())
    }

    pub(crate) fn add_readback(&self, d: Duration) {
        let mut s = self.stats.get();
        s.readback += d;
        self.stats.set(s);
    }

    /// Every rank's `logs` (means over its `samples`) combined into the means over all ranks'
    /// samples, on every rank (the custom-loop form of what `fit` logs).
    pub fn combine_logs(&self, logs: &Logs, samples: usize) -> Result<Logs> {
        // A rank that saw no samples has no means (NaN): it adds nothing.
        let mut v: Vec<f64> = logs
            .values
            .iter()
            .map(|(_, x)| {
                if samples == 0 {
                    0.0
                } else {
                    *x as f64 * samples as f64
                }
            })
            .collect();
        v.push(samples as f64);
        self.comm.all_reduce_sum_f64(&mut v)?;
        let total = v.pop().unwrap_or(0.0).max(1.0);
        let mut out = logs.clone();
        for ((_, x), sum) in out.values.iter_mut().zip(v) {
            *x = (sum / total) as f32;
        }
        Ok(out)
    }

    /// Whether any rank wants to stop (so all stop together).
    pub(crate) fn any(&self, flag: bool) -> Result<bool> {
        let mut v = [f64::from(u8::from(flag))];
        self.comm.all_reduce_sum_f64(&mut v)?;
        Ok(v[0] > 0.0)
    }

    /// Rank 0's weights on every rank.
    pub fn broadcast_weights(&self, model: &mut Model) -> Result<()> {
        if self.world_size() == 1 {
            return Ok(());
        }
        let weights = model.get_weights()?;
        let mut flat: Vec<f32> = weights.iter().flatten().copied().collect();
        self.comm.broadcast_f32(&mut flat, 0)?;
        let mut at = 0;
        let values: Vec<Vec<f32>> = weights
            .iter()
            .map(|w| {
                let part = flat[at..at + w.len()].to_vec();
                at += w.len();
                part
            })
            .collect();
        model.set_weights(&values)
    }
}

/// The rank's part of each global batch: global batch g holds `batches[g]` (indices into the
/// epoch's order, `world * per_rank` of them but the last); rank r takes its r-th slice of
/// `per_rank`, which is empty when the last global batch is short of it.
pub(crate) fn shard(
    batches: Vec<Vec<usize>>,
    per_rank: usize,
    rank: usize,
) -> Vec<(Vec<usize>, usize)> {
    batches
        .into_iter()
        .map(|b| {
            let global = b.len();
            let start = (rank * per_rank).min(global);
            let end = ((rank + 1) * per_rank).min(global);
            (b[start..end].to_vec(), global)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover_each_global_batch() {
        let order: Vec<usize> = (0..70).rev().collect();
        let batches: Vec<Vec<usize>> = order.chunks(32).map(<[usize]>::to_vec).collect();
        let parts: Vec<Vec<(Vec<usize>, usize)>> =
            (0..2).map(|r| shard(batches.clone(), 16, r)).collect();
        for g in 0..batches.len() {
            let mut joined = parts[0][g].0.clone();
            joined.extend(&parts[1][g].0);
            assert_eq!(joined, batches[g]);
            assert_eq!(parts[0][g].1, batches[g].len());
        }
        // 70 = 32 + 32 + 6: rank 1 has nothing in the last step.
        assert_eq!(parts[0][2].0.len(), 6);
        assert!(parts[1][2].0.is_empty());
    }
}
