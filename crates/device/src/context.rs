//! `Device`: one opened adapter and the subsystems built on its raw wgpu device and queue, each
//! owning its state and its lock: the buffer pool (`pool.rs`), the pending batch (`batch.rs`),
//! the encoder with its params uniform (`encode.rs`), the pipeline cache (`pipelines.rs`), the
//! staging textures and readback buffer (`staging.rs`) and the tuner (`tuner.rs`). This file
//! only assembles them; what a `Device` does lives in `memory.rs`, `launch.rs`, `submit.rs`,
//! `readback.rs` and `choose.rs`. Cheap to clone (`Arc` inside); pass it explicitly.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::adapter::{Opened, open};
use crate::batch::Batch;
use crate::counters::{AtomicCounters, Counters};
use crate::disk_cache::DiskCache;
use crate::encode::{Command, Encoder};
use crate::error::Result;
use crate::info::DeviceInfo;
use crate::options::{DeviceOptions, TextureInputs};
use crate::pipelines::PipelineCache;
use crate::pool::Pool;
use crate::staging::Staging;
use crate::tuner::Tuner;

pub(crate) struct Inner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: DeviceInfo,
    pub counters: Arc<AtomicCounters>,
    pub pool: Arc<Pool<wgpu::Buffer>>,
    pub batch: Batch<Command>,
    pub encoder: Encoder,
    pub pipelines: PipelineCache,
    pub staging: Staging,
    pub tuner: Tuner,
    pub texture_inputs: TextureInputs,
    /// Errors wgpu reported outside an error scope; surfaced by the next readback.
    pub gpu_error: Arc<Mutex<Option<String>>>,
}

/// A GPU to run kernels on. Cheap to clone; pass it explicitly (there is no global device).
#[derive(Clone)]
pub struct Device {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({})", self.inner.info)
    }
}

impl Device {
    /// Opens the best adapter, honouring the `KILN_*` variables (`DeviceOptions::from_env`).
    pub fn new() -> Result<Device> {
        Self::with_options(&DeviceOptions::from_env()?)
    }

    /// Opens an adapter chosen by `options`.
    pub fn with_options(options: &DeviceOptions) -> Result<Device> {
        let Opened {
            device,
            queue,
            info,
            gpu_error,
            cache_key,
        } = open(options)?;
        let counters = Arc::new(AtomicCounters::default());
        // llvmpipe drops out-of-range storage accesses itself (LAVAPIPE_PERF.md), and naga's
        // bounds-check clamping costs 10-40% there; everywhere else keep checked modules.
        let unchecked = info.is_cpu() && info.name.contains("llvmpipe");
        let scope = format!(
            "{} | {} | kiln {}",
            info.name,
            info.driver,
            env!("CARGO_PKG_VERSION")
        );
        let inner = Inner {
            pipelines: PipelineCache::new(
                device.clone(),
                counters.clone(),
                unchecked,
                cache_key
                    .zip(options.pipeline_cache.as_deref())
                    .map(|(key, dir)| DiskCache::open(&device, dir, &key)),
            ),
            staging: Staging::new(
                device.clone(),
                counters.clone(),
                info.max_texture_dimension_2d,
            ),
            encoder: Encoder::new(
                device.clone(),
                queue.clone(),
                counters.clone(),
                info.timestamp_queries.then(|| queue.get_timestamp_period()),
            ),
            tuner: Tuner::open(options.autotune, scope, options.autotune_cache.as_deref()),
            pool: Arc::new(Pool::default()),
            batch: Batch::default(),
            texture_inputs: options.texture_inputs,
            counters,
            gpu_error,
            device,
            queue,
            info,
        };
        Ok(Device {
            inner: Arc::new(inner),
        })
    }

    /// The file compiled pipelines are kept in across processes (see `DeviceOptions::
    /// pipeline_cache`); None where the backend has no pipeline cache or it is off.
    pub fn pipeline_cache_file(&self) -> Option<&std::path::Path> {
        self.inner.pipelines.disk.as_ref().map(|d| d.path())
    }

    /// Adapter name, backend, type, limits and features.
    pub fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    /// Starts (or restarts) profiling: see `profile.rs` (slower; per-kernel GPU times).
    pub fn start_profile(&self) {
        self.inner.encoder.profiler.set(true);
    }

    /// Stops profiling.
    pub fn stop_profile(&self) {
        self.inner.encoder.profiler.set(false);
    }

    /// What the profile measured since it started or was last taken with `reset`.
    pub fn profile(&self, reset: bool) -> crate::profile::Profile {
        self.inner.encoder.profiler.take(reset)
    }

    /// Snapshot of the dispatch / submit / wait / allocation / pipeline counters.
    pub fn counters(&self) -> Counters {
        self.inner.counters.snapshot()
    }
}
