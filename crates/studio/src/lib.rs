//! kiln-studio: run reports, run comparison and live prediction in the browser, offline, in one
//! binary (what the Comet report, ClearML's comparison and a Gradio panel give a Keras user).
//!
//! It follows a logdir of TensorBoard runs while training writes them (`runs`, `run_data`),
//! serves the pages and a JSON API (`server`, `pages`), renders a run report that also exports
//! as one self-contained HTML file (`report`, `svg`), and classifies uploaded images on the GPU
//! with a saved model (`predict`). Only files under the logdir are ever served (`safe_path`).

#![warn(missing_docs)]

pub mod pages;
pub mod predict;
pub mod report;
pub mod run_data;
pub mod runs;
pub mod safe_path;
pub mod server;
pub mod svg;

pub use predict::{Predictor, class_names};
pub use runs::RunStore;
pub use server::{AppState, router};

use std::path::{Path, PathBuf};

/// The newest model file (`*.safetensors` saved with `Model::save`) under `dir`, searched a few
/// levels deep without following links: a run's last checkpoint.
pub fn newest_model(dir: &Path) -> Option<PathBuf> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    runs::walk_files(dir, 6, &mut |_, path| {
        if path.extension().is_none_or(|x| x != "safetensors") {
            return;
        }
        let t = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        if let Some(t) = t.filter(|t| best.as_ref().is_none_or(|b| *t > b.0)) {
            best = Some((t, path.to_path_buf()));
        }
    });
    best.map(|b| b.1)
}
