//! A training step that fails partway leaves the model as it was (`Model::train_step` and
//! `Device::rollback`): here the step's last part, a tracker update, is refused after the
//! forward, the backward (which on a CPU adapter applies a Dense kernel's Adam update in its
//! gradient's dispatch) and the optimizer were recorded. The weights, the optimizer's slots and
//! its step count are unchanged, and the next steps give the same bits as a twin model that
//! never saw the failed one. Also on the model's first step, when the packed weights and the
//! optimizer's slots are made inside it.

use kiln_device::testing::test_device;
use kiln_nn::prelude::*;
use kiln_nn::{OutputTrackers, Trackers};

fn model(dev: &Device) -> Sequential {
    let mut m = Sequential::with_seed(dev, 5);
    // 40 units: the first kernel takes the fused gradient + Adam dispatch on CPU adapters.
    m.add(Dense::new(40).activation("relu").unwrap()).unwrap();
    m.add(Dense::new(3)).unwrap();
    m.build(&[12]).unwrap();
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: true };
    m.compile(
        Optimizer::adam(0.01),
        loss,
        &[MetricKind::SparseCategoricalAccuracy],
    )
    .unwrap();
    m
}

fn batch(dev: &Device, step: u64) -> (Tensor, Tensor) {
    let mut rng = kiln_device::rng::Rng::new(40 + step);
    let x: Vec<f32> = (0..16 * 12).map(|_| rng.normal() as f32).collect();
    let y: Vec<u32> = (0..16).map(|i| (i * 7 + step as u32) % 3).collect();
    (
        Tensor::from_f32(dev, &x, &[16, 12]).unwrap(),
        Tensor::from_u32(dev, &y, &[16]).unwrap(),
    )
}

/// Every weight's bits and the optimizer's step count.
fn state(m: &mut Sequential) -> (Vec<Vec<u32>>, u64) {
    let dev = m.device().clone();
    let bits = m
        .weights()
        .iter()
        .map(|(_, w)| {
            let v = dev.read_f32(w.value.buffer()).unwrap();
            v.iter().map(|x| x.to_bits()).collect()
        })
        .collect();
    (bits, m.optimizer_mut().unwrap().iterations())
}

/// Trackers whose accuracy wants one-hot targets: its update is refused for labels, after the
/// whole step before it was recorded.
fn refusing(dev: &Device) -> Trackers {
    Trackers {
        loss: Metric::new(dev, MetricKind::Mean, "loss").unwrap(),
        outputs: vec![OutputTrackers {
            loss: None,
            metrics: vec![Metric::new(dev, MetricKind::CategoricalAccuracy, "acc").unwrap()],
        }],
    }
}

#[test]
fn a_step_refused_partway_changes_nothing() {
    let Some(dev) = test_device() else { return };
    let (mut a, mut b) = (model(&dev), model(&dev));
    let (ta, tb) = (a.trackers().unwrap(), b.trackers().unwrap());
    for first in [true, false] {
        let before = state(&mut a);
        let (x, y) = batch(&dev, 0);
        let err = a
            .train_step(
                std::slice::from_ref(&x),
                std::slice::from_ref(&y),
                &refusing(&dev),
            )
            .unwrap_err();
        assert!(!err.to_string().contains("could not be undone"), "{err}");
        // (Not assert_eq: the weights' bits would fill the screen.)
        let after = state(&mut a);
        assert!(
            after.1 == before.1,
            "step count {} -> {}",
            before.1,
            after.1
        );
        assert!(
            after == before,
            "weights changed by a failed step (first: {first})"
        );
        for step in 1..=2 {
            let (x, y) = batch(&dev, step);
            let (x, y) = (std::slice::from_ref(&x), std::slice::from_ref(&y));
            a.train_step(x, y, &ta).unwrap();
            b.train_step(x, y, &tb).unwrap();
        }
        let (sa, sb) = (state(&mut a), state(&mut b));
        assert!(
            sa == sb,
            "after a failed step (first: {first}) and two good ones"
        );
        assert!(sa != before, "the good steps train");
    }
}
