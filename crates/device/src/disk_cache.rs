//! Compiled pipelines kept on disk across processes, where the backend has a pipeline cache
//! (wgpu's `PIPELINE_CACHE`: Vulkan). The file is `<dir>/<wgpu's key for the adapter>`; wgpu
//! checks its header and hash when it is loaded and starts empty (`fallback`) from a file that
//! is damaged or from another driver, so a bad file costs a recompile, never a wrong pipeline.
//! The cache is written back, atomically (temporary file + rename), when the device is dropped
//! after creating pipelines the file did not have.
//!
//! `DeviceOptions::pipeline_cache` names the directory: `KILN_PIPELINE_CACHE=<dir>`, or `off`;
//! by default `$XDG_CACHE_HOME/kiln`, else `$HOME/.cache/kiln` (where Mesa keeps its own).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The default directory, when one can be named.
pub fn default_dir() -> Option<PathBuf> {
    let var = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .map(|d| d.join("kiln"))
}

/// The device's pipeline cache and its file.
pub(crate) struct DiskCache {
    pub cache: wgpu::PipelineCache,
    path: PathBuf,
    /// A pipeline was created since the file was read.
    dirty: AtomicBool,
}

impl DiskCache {
    /// Loads `<dir>/<key>` (if present) into a new pipeline cache.
    pub fn open(device: &wgpu::Device, dir: &Path, key: &str) -> DiskCache {
        let path = dir.join(key);
        let data = match std::fs::read(&path) {
            Ok(d) => Some(d),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                eprintln!(
                    "kiln: cannot read the pipeline cache {}: {e}",
                    path.display()
                );
                None
            }
        };
        // SAFETY: wgpu validates the data's header (magic, adapter, driver, wgpu version) and
        // its hash before handing it to the driver, and with `fallback` an invalid file gives
        // an empty cache instead of an error.
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("kiln pipelines"),
                data: data.as_deref(),
                fallback: true,
            })
        };
        DiskCache {
            cache,
            path,
            dirty: AtomicBool::new(false),
        }
    }

    /// Notes a newly created pipeline.
    pub fn touched(&self) {
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Writes the cache back if pipelines were added (errors are reported, not fatal: the
    /// cache only saves time).
    pub fn save(&self) {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return;
        }
        let Some(data) = self.cache.get_data() else {
            return;
        };
        // Unique per writer: several devices of one process may save at once.
        static WRITER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITER.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .path
            .with_extension(format!("tmp{}-{n}", std::process::id()));
        let written = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&tmp, &data))
            .and_then(|_| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            eprintln!(
                "kiln: cannot write the pipeline cache {}: {e}",
                self.path.display()
            );
        }
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
