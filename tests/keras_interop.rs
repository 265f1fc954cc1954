//! Keras's ResNet50 weights in kiln's ResNet50 give Keras's logits. A Python with Keras
//! (`KILN_KERAS_PYTHON`, which the test script provides from a venv with tensorflow-cpu) runs
//! scripts/keras_resnet50_reference.py: a randomly initialised Keras ResNet50 with calibrated
//! batch statistics, exported by scripts/keras_to_kiln.py, and its logits for two images. kiln
//! loads the file by name and must match within 1e-3. KILN_REQUIRE_KERAS=1 (set by the test
//! script) makes a missing Keras a failure instead of a skip.

mod common;

use std::path::PathBuf;
use std::process::Command;

use kiln::device::testing::test_device;
use kiln::nn::applications::ResNet50;
use kiln::nn::prelude::*;

fn f32s(st: &safetensors::SafeTensors<'_>, name: &str) -> (Vec<f32>, Vec<usize>) {
    let v = st.tensor(name).unwrap();
    let data = v
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (data, v.shape().to_vec())
}

#[test]
fn keras_resnet50_weights_give_keras_logits_in_kiln() {
    let Some(dev) = test_device() else { return };
    let Some(python) =
        common::keras_python("keras, safetensors.numpy, numpy", "the Keras interop test")
    else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("kiln-keras-{}", std::process::id()));
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/keras_resnet50_reference.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut model = ResNet50::new()
        .classifier_activation(Activation::Linear)
        .build(&dev)
        .unwrap();
    // Every kiln weight is in the file under its Keras name and shape (and nothing else is).
    model.load_weights(dir.join("weights.safetensors")).unwrap();
    let bytes = std::fs::read(dir.join("reference.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (images, shape) = f32s(&st, "images");
    let (want, _) = f32s(&st, "logits");
    let x = Array::f32(images, &shape).unwrap();
    let got = model.predict(&x, 2).unwrap();
    let got = got.as_f32().unwrap();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    eprintln!("max |kiln - keras| over 2 x 1000 logits: {worst:e} (logits up to {scale})");
    assert!(
        worst <= 1e-3,
        "kiln's logits differ from Keras's by {worst}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
