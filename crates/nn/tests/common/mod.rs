//! Helpers shared by the nn test crates: random arrays, a temporary directory per test process,
//! a quiet, unshuffled fit, and a model file with its architecture edited. Each test crate uses some of them.
#![allow(dead_code)]

use kiln_device::rng::Rng;
use kiln_nn::prelude::*;

/// Uniform values in [-1, 1).
pub fn array(rng: &mut Rng, shape: &[usize]) -> Array {
    let n: usize = shape.iter().product();
    Array::f32(
        (0..n).map(|_| rng.uniform() as f32 * 2.0 - 1.0).collect(),
        shape,
    )
    .unwrap()
}

/// A path in this test process's temporary directory.
pub fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-nn-graphs-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// `epochs` of unshuffled batches, no output.
pub fn quiet(epochs: usize, batch_size: usize) -> FitConfig {
    FitConfig {
        epochs,
        batch_size,
        verbose: 0,
        shuffle: false,
        ..Default::default()
    }
}

/// A copy of the model file at `path` whose architecture `edit` changed (the tensors as saved).
pub fn with_architecture(
    path: &std::path::Path,
    name: &str,
    edit: impl Fn(&mut serde_json::Value),
) -> std::path::PathBuf {
    let bytes = std::fs::read(path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let mut arch: serde_json::Value = serde_json::from_str(&meta["kiln.model"]).unwrap();
    edit(&mut arch);
    meta.insert("kiln.model".into(), arch.to_string());
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let out = tmp(name);
    std::fs::write(
        &out,
        safetensors::serialize(st.tensors(), Some(meta)).unwrap(),
    )
    .unwrap();
    out
}
