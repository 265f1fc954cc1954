//! Device counters: how many dispatches, submits, host waits, buffer allocations, pipeline
//! creations and host-to-GPU uploads happened. Tests use them to pin the steady state of a training step (one submit,
//! no wait, no new buffer, no new pipeline); benchmarks print them.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the device counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Compute dispatches recorded.
    pub dispatches: u64,
    /// `queue.submit` calls.
    pub submits: u64,
    /// Host waits on the GPU (each one is a readback).
    pub waits: u64,
    /// New `wgpu::Buffer`s created (pool misses).
    pub buffer_allocations: u64,
    /// Compute pipelines created.
    pub pipelines: u64,
    /// Host-to-GPU uploads (`Device::upload` and `Device::write`).
    pub uploads: u64,
    /// Bytes those uploads carried.
    pub upload_bytes: u64,
    /// Copies of kernel inputs into staging textures (CPU adapters; an input already staged
    /// and unchanged is not copied again).
    pub staging_copies: u64,
}

impl Counters {
    /// Counts accumulated since `earlier`.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            dispatches: self.dispatches - earlier.dispatches,
            submits: self.submits - earlier.submits,
            waits: self.waits - earlier.waits,
            buffer_allocations: self.buffer_allocations - earlier.buffer_allocations,
            pipelines: self.pipelines - earlier.pipelines,
            uploads: self.uploads - earlier.uploads,
            upload_bytes: self.upload_bytes - earlier.upload_bytes,
            staging_copies: self.staging_copies - earlier.staging_copies,
        }
    }
}

#[derive(Default)]
pub(crate) struct AtomicCounters {
    pub dispatches: AtomicU64,
    pub submits: AtomicU64,
    pub waits: AtomicU64,
    pub buffer_allocations: AtomicU64,
    pub pipelines: AtomicU64,
    pub uploads: AtomicU64,
    pub upload_bytes: AtomicU64,
    pub staging_copies: AtomicU64,
}

impl AtomicCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Counters {
        Counters {
            dispatches: self.dispatches.load(Ordering::Relaxed),
            submits: self.submits.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            buffer_allocations: self.buffer_allocations.load(Ordering::Relaxed),
            pipelines: self.pipelines.load(Ordering::Relaxed),
            uploads: self.uploads.load(Ordering::Relaxed),
            upload_bytes: self.upload_bytes.load(Ordering::Relaxed),
            staging_copies: self.staging_copies.load(Ordering::Relaxed),
        }
    }
}
