//! Helpers shared by the functional and nested-model tests: random arrays, a temporary
//! directory per test process, and a quiet, unshuffled fit. Each test crate uses some of them.
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
