//! Models inside models and models as structs: a nested backbone with a shared head round-trips
//! through a file and keeps training identically, a frozen backbone keeps its weights and its
//! BatchNormalization statistics, and a subclassed model (Keras's `class MyModel(keras.Model)`)
//! trains and saves its weights.

mod common;

use common::{array, quiet, tmp};
use kiln_device::rng::Rng;
use kiln_device::testing::test_device;
use kiln_nn::prelude::*;
use kiln_nn::{BuildCtx, CallCtx, Weight};

/// A small backbone: conv, batch norm and a residual add, then average pooling.
fn backbone(dev: &Device) -> Model {
    let x = Input::new(&[6, 6, 2]);
    let c = Conv2D::new(4, 3).padding("same").unwrap().apply(&x);
    let c = BatchNormalization::new().apply(&c);
    let d = Conv2D::new(4, 1).named("proj").apply(&x);
    let sum = Add::new().apply_many(&[&c, &d]);
    let out = GlobalAveragePooling2D::new().apply(&sum);
    let mut m = Model::with_seed(dev, 11, &[&x], &[&out]).unwrap();
    m.set_name("backbone");
    m
}

/// The backbone nested, and a head layer shared by two branches.
fn transfer(dev: &Device) -> Model {
    let x = Input::new(&[6, 6, 2]);
    let f = backbone(dev).apply(&x);
    let head = Shared::named("head", Dense::new(3));
    let relu = ReLU::new().apply(&f);
    let sum = Add::new().apply_many(&[&head.apply(&f), &head.apply(&relu)]);
    let out = Dense::new(2).named("logits").apply(&sum);
    let mut m = Model::with_seed(dev, 13, &[&x], &[&out]).unwrap();
    m.compile(
        Optimizer::adam(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    m
}

fn images(n: usize, seed: u64) -> (Array, Array) {
    let mut rng = Rng::new(seed);
    let x = array(&mut rng, &[n, 6, 6, 2]);
    let y: Vec<u32> = x
        .as_f32()
        .unwrap()
        .chunks(72)
        .map(|r| u32::from(r.iter().sum::<f32>() > 0.0))
        .collect();
    (x, Array::u32(y, &[n]).unwrap())
}

#[test]
fn a_nested_model_with_a_shared_layer_round_trips_through_a_file() {
    let Some(dev) = test_device() else { return };
    let (x, y) = images(64, 2);
    let mut m = transfer(&dev);
    m.fit(&x, &y, quiet(2, 16)).unwrap();
    let names: Vec<String> = m.weights().into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"backbone/proj/kernel".to_string()),
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| n.starts_with("head/")).count(),
        2,
        "one head"
    );
    let path = tmp("nested.safetensors");
    m.save(&path).unwrap();
    let mut back = load_model(&path, &dev).unwrap();
    assert_eq!(back.summary(), m.summary());
    assert_eq!(back.predict(&x, 16).unwrap(), m.predict(&x, 16).unwrap());
    // Training continues identically from the file.
    let (a, b) = (
        m.fit(&x, &y, quiet(1, 16)).unwrap(),
        back.fit(&x, &y, quiet(1, 16)).unwrap(),
    );
    assert_eq!(a.get("loss"), b.get("loss"));
    assert!(back.get_layer("backbone/proj").is_some());
}

#[test]
fn a_frozen_backbone_keeps_its_weights_and_batch_statistics() {
    let Some(dev) = test_device() else { return };
    let (x, y) = images(64, 4);
    let mut m = transfer(&dev);
    m.set_trainable("backbone", false).unwrap();
    let before = m.get_weights().unwrap();
    m.fit(&x, &y, quiet(2, 16)).unwrap();
    let after = m.get_weights().unwrap();
    for ((name, _), (b, a)) in m.weights().iter().zip(before.iter().zip(&after)) {
        if name.starts_with("backbone/") {
            assert_eq!(
                a, b,
                "{name} changed while frozen (moving statistics included)"
            );
        } else {
            assert_ne!(a, b, "{name} should train");
        }
    }
    let (_, trainable, _) = m.count_params();
    m.set_trainable("backbone", true).unwrap();
    m.set_trainable("backbone/proj", false).unwrap();
    assert!(m.count_params().1 > trainable);
    let before = m.get_weights().unwrap();
    m.fit(&x, &y, quiet(1, 16)).unwrap();
    let after = m.get_weights().unwrap();
    for ((name, _), (b, a)) in m.weights().iter().zip(before.iter().zip(&after)) {
        if name.starts_with("backbone/proj/") {
            assert_eq!(a, b, "{name} is frozen inside the unfrozen backbone");
        }
        if name == "backbone/batch_normalization/moving_mean" {
            assert_ne!(
                a, b,
                "an unfrozen BatchNormalization updates its statistics"
            );
        }
    }
}

/// Keras's model subclassing: a struct holding its layers and calling them.
struct TwoLayers {
    hidden: Dense,
    out: Dense,
}

impl Layer for TwoLayers {
    fn class_name(&self) -> &'static str {
        "TwoLayers"
    }

    fn build(
        &mut self,
        input_shape: &[usize],
        ctx: &mut BuildCtx<'_>,
    ) -> kiln_nn::Result<Vec<usize>> {
        let h = self.hidden.build(input_shape, &mut ctx.child("hidden"))?;
        self.out.build(&h, &mut ctx.child("out"))
    }

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> kiln_nn::Result<Tensor> {
        self.out.call(&self.hidden.call(x, ctx)?.tanh()?, ctx)
    }

    fn weights(&self) -> Vec<Weight> {
        let mut w = Weight::prefixed("hidden", self.hidden.weights());
        w.extend(Weight::prefixed("out", self.out.weights()));
        w
    }

    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        let mut w = self.hidden.weights_mut();
        w.extend(self.out.weights_mut());
        w
    }
}

#[test]
fn a_subclassed_model_trains_and_round_trips_its_weights() {
    let Some(dev) = test_device() else { return };
    let make = || TwoLayers {
        hidden: Dense::new(16),
        out: Dense::new(1),
    };
    let mut m = Model::from_layer(&dev, "two_layers", make(), &[2]).unwrap();
    let names: Vec<String> = m.weights().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "two_layers/hidden/kernel",
            "two_layers/hidden/bias",
            "two_layers/out/kernel",
            "two_layers/out/bias"
        ]
    );
    m.compile(Optimizer::adam(0.02), Loss::MeanSquaredError, &[])
        .unwrap();
    let mut rng = Rng::new(9);
    let x = array(&mut rng, &[128, 2]);
    let t: Vec<f32> = x.as_f32().unwrap().chunks(2).map(|r| r[0] * r[1]).collect();
    let y = Array::f32(t, &[128, 1]).unwrap();
    let h = m.fit(&x, &y, quiet(30, 32)).unwrap();
    assert!(
        h.get("loss")[29] < h.get("loss")[0] * 0.5,
        "{:?}",
        h.get("loss")
    );
    let path = tmp("subclassed.weights.safetensors");
    m.save_weights(&path).unwrap();
    let mut fresh = Model::from_layer(&dev, "two_layers", make(), &[2]).unwrap();
    fresh.load_weights(&path).unwrap();
    assert_eq!(fresh.predict(&x, 32).unwrap(), m.predict(&x, 32).unwrap());
}
