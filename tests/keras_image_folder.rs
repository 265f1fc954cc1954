//! kiln's `image_dataset_from_directory` against Keras's on the same folder (written by Keras's
//! Python side: three classes of random PNGs of different sizes): the same files in the same
//! training and validation subsets for a seed, and the same pixels after the bilinear resize,
//! with and without `crop_to_aspect_ratio`, in RGB and grayscale. A Python with Keras
//! (`KILN_KERAS_PYTHON`, from the test script's venv) runs the Keras side; KILN_REQUIRE_KERAS=1
//! makes a missing Keras a failure.

mod common;

use std::path::PathBuf;
use std::process::Command;

use kiln::nn::data::{ColorMode, Subset, image_dataset_from_directory};
use kiln::nn::prelude::*;

const KERAS: &str = r#"
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import keras
root = sys.argv[1]
data = os.path.join(root, "images")
rng = np.random.RandomState(0)
for i in range(17):
    h, w = 5 + rng.randint(20), 5 + rng.randint(20)
    pixels = rng.randint(0, 256, size=(h, w, 3)).astype(np.uint8)
    folder = os.path.join(data, ["ant", "bee", "cicada"][i % 3])
    os.makedirs(folder, exist_ok=True)
    tf.io.write_file(os.path.join(folder, f"img_{i:02d}.png"), tf.io.encode_png(pixels))
train, val = keras.utils.image_dataset_from_directory(
    data, validation_split=0.3, subset="both", seed=123, image_size=(12, 10), batch_size=None)
out = {"train": train.file_paths, "val": val.file_paths, "classes": train.class_names}
json.dump(out, open(os.path.join(root, "split.json"), "w"))
def images(**kw):
    ds = keras.utils.image_dataset_from_directory(data, shuffle=False, image_size=(12, 10), batch_size=None, **kw)
    return np.stack([x.numpy() for x, _ in ds]).astype(np.float32)
np.savez(os.path.join(root, "keras.npz"), bilinear=images(), cropped=images(crop_to_aspect_ratio=True),
         gray=images(color_mode="grayscale"))
"#;

/// The images of a pass, stacked.
fn stacked(ds: &Dataset) -> Vec<f32> {
    ds.collect(0)
        .unwrap()
        .iter()
        .flat_map(|e| e.x[0].as_f32().unwrap().to_vec())
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_same_split_and_pixels_as_keras() {
    let Some(python) =
        common::keras_python("keras, tensorflow, numpy", "the Keras image-folder test")
    else {
        return;
    };
    let root = std::env::temp_dir().join(format!("kiln-keras-folder-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let out = Command::new(&python)
        .args(["-c", KERAS])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keras side failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = root.join("images");
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("split.json")).unwrap()).unwrap();
    let paths = |k: &str| -> Vec<PathBuf> {
        split[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PathBuf::from(p.as_str().unwrap()))
            .collect()
    };
    let base = image_dataset_from_directory(&data)
        .image_size(12, 10)
        .batch_size(None);
    let (train, val) = base
        .clone()
        .validation_split(0.3)
        .seed(123)
        .load_both()
        .unwrap();
    assert_eq!(train.class_names(), ["ant", "bee", "cicada"]);
    assert_eq!(train.file_paths(), paths("train"), "training subset");
    assert_eq!(val.file_paths(), paths("val"), "validation subset");
    assert_eq!(
        base.clone()
            .validation_split(0.3)
            .seed(123)
            .load_subset(Subset::Validation)
            .unwrap()
            .file_paths(),
        paths("val")
    );
    let keras = Npz::load(root.join("keras.npz")).unwrap();
    let ours = stacked(&base.clone().shuffle(false).load().unwrap());
    let bilinear = max_diff(&ours, keras.get("bilinear").unwrap().as_f32().unwrap());
    assert!(bilinear < 1e-3, "bilinear: max |kiln - keras| = {bilinear}");
    let mut crop = base.clone().shuffle(false);
    crop.crop_to_aspect_ratio = true;
    let cropped = max_diff(
        &stacked(&crop.load().unwrap()),
        keras.get("cropped").unwrap().as_f32().unwrap(),
    );
    assert!(
        cropped < 1e-3,
        "crop_to_aspect_ratio: max |kiln - keras| = {cropped}"
    );
    let gray = base
        .shuffle(false)
        .color_mode(ColorMode::Grayscale)
        .load()
        .unwrap();
    let d = max_diff(
        &stacked(&gray),
        keras.get("gray").unwrap().as_f32().unwrap(),
    );
    assert!(
        d <= 1.0 + 1e-3,
        "grayscale: max |kiln - keras| = {d} (one grey level allowed)"
    );
    eprintln!(
        "kiln vs keras: same split; max pixel difference bilinear {bilinear}, cropped {cropped}, grayscale {d}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
