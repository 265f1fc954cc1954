//! Checkpoints: weights as safetensors with Keras's names and layouts (`save_weights` /
//! `load_weights`), whole models with architecture, optimizer state and training position
//! (`save` / `load_model`), all written atomically.

pub(crate) mod architecture;
mod config;
mod model;
mod weights;

pub use architecture::LayerFactory;
pub use model::{load_model, load_model_with};
pub use weights::WeightDtype;

use std::io::Write;
use std::path::Path;

use crate::error::{NnError, Result};

/// Writes `bytes` to `path` so that a crash or kill at any moment leaves either the old file or
/// the complete new one: write a temporary file beside it, fsync it, rename it over `path`, fsync
/// the directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |what: &str, e: std::io::Error| NnError::Data {
        path: path.display().to_string(),
        message: format!("{what}: {e}"),
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| err("creating the directory", e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| err("writing", e))
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| NnError::Data {
        path: path.display().to_string(),
        message: format!("cannot read: {e}"),
    })
}

pub(crate) fn bad_file(path: &Path, message: impl Into<String>) -> NnError {
    NnError::Data {
        path: path.display().to_string(),
        message: message.into(),
    }
}
