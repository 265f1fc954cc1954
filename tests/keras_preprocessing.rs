//! kiln's preprocessing and augmentation layers against Keras 3's on the same images: each layer
//! with its random range collapsed to one value (so both frameworks draw the same transform),
//! in training mode, every fill mode and interpolation; plus the deterministic layers. A Python
//! with Keras (`KILN_KERAS_PYTHON`, from the test script's venv) computes Keras's outputs;
//! KILN_REQUIRE_KERAS=1 makes a missing Keras a failure.

mod common;

use std::process::Command;

use kiln::device::testing::test_device;
use kiln::graph::{FillMode, Interpolation};
use kiln::nn::prelude::*;

const KERAS: &str = r#"
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras
L = keras.layers
x = np.random.RandomState(1).uniform(0, 255, (2, 11, 13, 3)).astype("float32")
out = {"x": x}
def run(name, layer):
    out[name] = np.asarray(layer(x, training=True), dtype=np.float32)
run("resize_bilinear", L.Resizing(7, 9))
run("resize_nearest", L.Resizing(7, 9, interpolation="nearest"))
run("resize_crop", L.Resizing(7, 9, crop_to_aspect_ratio=True))
run("resize_up", L.Resizing(17, 19))
run("center_crop", L.CenterCrop(5, 6))
run("center_up", L.CenterCrop(15, 9))
for fill in ["reflect", "wrap", "constant", "nearest"]:
    run("rotation_" + fill, L.RandomRotation((0.1, 0.1), fill_mode=fill, fill_value=0.5))
run("rotation_nearest_interp", L.RandomRotation((-0.3, -0.3), interpolation="nearest"))
run("translation", L.RandomTranslation((0.2, 0.2), (-0.15, -0.15)))
run("zoom", L.RandomZoom((0.3, 0.3), (-0.2, -0.2)))
run("zoom_same", L.RandomZoom((-0.25, -0.25)))
run("contrast", L.RandomContrast((-0.3, 0.3)))
run("rescaling", L.Rescaling(1 / 127.5, -1))
run("normalization", L.Normalization(mean=[100.0, 120.0, 140.0], variance=[900.0, 1600.0, 2500.0]))
np.savez(sys.argv[1], **out)
"#;

fn cases() -> Vec<(&'static str, Box<dyn Layer>)> {
    let fixed = |v: f32| Factor::Range([v, v]);
    let rotation =
        |fill| Box::new(RandomRotation::new(fixed(0.1)).fill(fill, 0.5)) as Box<dyn Layer>;
    let nearest = RandomRotation::new(fixed(-0.3)).interpolation(Interpolation::Nearest);
    vec![
        ("resize_bilinear", Box::new(Resizing::new(7, 9))),
        (
            "resize_nearest",
            Box::new(Resizing::new(7, 9).interpolation(Interpolation::Nearest)),
        ),
        (
            "resize_crop",
            Box::new(Resizing::new(7, 9).crop_to_aspect_ratio(true)),
        ),
        ("resize_up", Box::new(Resizing::new(17, 19))),
        ("center_crop", Box::new(CenterCrop::new(5, 6))),
        ("center_up", Box::new(CenterCrop::new(15, 9))),
        ("rotation_reflect", rotation(FillMode::Reflect)),
        ("rotation_wrap", rotation(FillMode::Wrap)),
        ("rotation_constant", rotation(FillMode::Constant)),
        ("rotation_nearest", rotation(FillMode::Nearest)),
        ("rotation_nearest_interp", Box::new(nearest)),
        (
            "translation",
            Box::new(RandomTranslation::new(fixed(0.2), fixed(-0.15))),
        ),
        (
            "zoom",
            Box::new(RandomZoom::new(fixed(0.3), Some(fixed(-0.2)))),
        ),
        ("zoom_same", Box::new(RandomZoom::new(fixed(-0.25), None))),
        (
            "contrast",
            Box::new(RandomContrast::new(Factor::Range([-0.3, 0.3]))),
        ),
        ("rescaling", Box::new(Rescaling::new(1.0 / 127.5, -1.0))),
        (
            "normalization",
            Box::new(
                Normalization::with_stats(vec![100.0, 120.0, 140.0], vec![900.0, 1600.0, 2500.0])
                    .unwrap(),
            ),
        ),
    ]
}

#[test]
fn every_layer_matches_keras_on_the_same_transform() {
    let Some(dev) = test_device() else { return };
    let Some(python) = common::keras_python("keras, numpy", "the Keras preprocessing test") else {
        return;
    };
    let path = std::env::temp_dir().join(format!(
        "kiln-keras-preprocessing-{}.npz",
        std::process::id()
    ));
    let out = Command::new(&python)
        .args(["-c", KERAS])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keras side failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keras = Npz::load(&path).unwrap();
    let x = keras.get("x").unwrap().clone();
    let mut report = Vec::new();
    for (name, layer) in cases() {
        let input = Input::new(&[11, 13, 3]);
        let y = Shared::new(BoxedLayer(layer)).apply(&input);
        let model = Model::new(&dev, &[&input], &[&y]).unwrap();
        let got = no_grad(|| model.call(&x.to_tensor(&dev).unwrap(), true))
            .unwrap()
            .to_vec()
            .unwrap();
        let want = keras.get(name).unwrap();
        assert_eq!(
            got.len(),
            want.as_f32().unwrap().len(),
            "{name}: output size"
        );
        let d = got
            .iter()
            .zip(want.as_f32().unwrap())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        report.push(format!("{name} {d:.2e}"));
        assert!(d < 2e-3, "{name}: max |kiln - keras| = {d}");
    }
    eprintln!("max |kiln - keras| per layer: {}", report.join(", "));
    let _ = std::fs::remove_file(&path);
}

/// A boxed layer as a layer (the cases are built as trait objects).
struct BoxedLayer(Box<dyn Layer>);

impl Layer for BoxedLayer {
    fn class_name(&self) -> &'static str {
        self.0.class_name()
    }
    fn build(
        &mut self,
        shape: &[usize],
        ctx: &mut kiln::nn::BuildCtx<'_>,
    ) -> kiln::nn::Result<Vec<usize>> {
        self.0.build(shape, ctx)
    }
    fn call(&self, x: &Tensor, ctx: &kiln::nn::CallCtx) -> kiln::nn::Result<Tensor> {
        self.0.call(x, ctx)
    }
    fn weights(&self) -> Vec<kiln::nn::Weight> {
        self.0.weights()
    }
    fn weights_mut(&mut self) -> Vec<&mut kiln::nn::Weight> {
        self.0.weights_mut()
    }
}
