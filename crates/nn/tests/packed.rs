//! Packed weights (`Sequential::packed_weights`, `Optimizer::apply_packed`): one optimizer
//! dispatch over the packed buffer trains exactly as one dispatch per weight does, for every
//! rule; so does Adam applied in the Dense kernels' gradient dispatches (`step_targets`) with
//! the rest updated in runs; freezing repacks; optimizer state carries over between the two
//! paths; a layer that hides its weights from `weights_mut` falls back to per-weight updates.

use kiln_device::testing::test_device;
use kiln_nn::prelude::*;
use kiln_nn::{BuildCtx, CallCtx, Weight};

fn model(dev: &Device) -> Sequential {
    // Odd widths: every bias leaves padding in its packed view.
    let mut m = Sequential::with_seed(dev, 3);
    m.add(Dense::new(7).activation("relu").unwrap()).unwrap();
    m.add(Dense::new(5).activation("tanh").unwrap()).unwrap();
    m.add(Dense::new(3)).unwrap();
    m.build(&[4]).unwrap();
    m
}

fn batch(dev: &Device, step: u64) -> (Tensor, Tensor) {
    batch_of(dev, step, 4)
}

fn batch_of(dev: &Device, step: u64, inputs: usize) -> (Tensor, Tensor) {
    let mut rng = kiln_device::rng::Rng::new(100 + step);
    let x: Vec<f32> = (0..8 * inputs).map(|_| rng.normal() as f32).collect();
    let y: Vec<u32> = (0..8).map(|i| (i + step as u32) % 3).collect();
    (
        Tensor::from_f32(dev, &x, &[8, inputs]).unwrap(),
        Tensor::from_u32(dev, &y, &[8]).unwrap(),
    )
}

const LOSS: Loss = Loss::SparseCategoricalCrossentropy { from_logits: true };

/// One step through the per-weight path.
fn step_each(m: &Sequential, opt: &mut Optimizer, step: u64) {
    let (x, y) = batch(m.device(), step);
    let w = m.trainable_weights();
    let g = LOSS
        .call(&m.call(&x, true).unwrap(), &y)
        .unwrap()
        .backward()
        .unwrap();
    opt.apply_gradients(m.device(), &g, &w).unwrap();
    m.device().submit();
}

/// One step through the packed path; returns the dispatches its optimizer update recorded.
fn step_packed(m: &mut Sequential, opt: &mut Optimizer, step: u64) -> u64 {
    let (x, y) = batch(m.device(), step);
    let w = m.packed_weights().unwrap();
    let loss = LOSS.call(&m.call(&x, true).unwrap(), &y).unwrap();
    let g = loss.backward_into(w.grad_targets()).unwrap();
    let before = m.device().counters().dispatches;
    opt.apply_packed(m.device(), &g, &w).unwrap();
    let used = m.device().counters().dispatches - before;
    m.device().submit();
    used
}

fn slots(m: &Sequential, opt: &Optimizer) -> Vec<Vec<f32>> {
    let names: Vec<String> = m.trainable_weights().into_iter().map(|(n, _)| n).collect();
    names
        .iter()
        .flat_map(|n| {
            opt.slots(n)
                .unwrap()
                .iter()
                .map(|b| m.device().read_f32(b).unwrap())
        })
        .collect()
}

type MakeOptimizer = fn() -> Optimizer;

#[test]
fn one_packed_update_trains_exactly_as_one_update_per_weight() {
    let Some(dev) = test_device() else { return };
    let rules: [(&str, MakeOptimizer); 5] = [
        ("sgd", || Optimizer::sgd(0.1)),
        ("nesterov", || Optimizer::sgd_momentum(0.05, 0.9, true)),
        ("adam", || Optimizer::adam(0.01)),
        ("adamw", || Optimizer::adamw(0.01, 0.05)),
        ("rmsprop", || {
            Optimizer::rmsprop(0.01).rule(kiln_nn::optimizers::Rule::Rmsprop {
                rho: 0.8,
                momentum: 0.5,
                epsilon: 1e-7,
                centered: true,
            })
        }),
    ];
    for (name, make) in rules {
        let (a, mut b) = (model(&dev), model(&dev));
        let (mut oa, mut ob) = (make(), make());
        for step in 0..4 {
            step_each(&a, &mut oa, step);
            assert_eq!(
                step_packed(&mut b, &mut ob, step),
                1,
                "{name}: one dispatch"
            );
        }
        assert_eq!(
            a.get_weights().unwrap(),
            b.get_weights().unwrap(),
            "{name}: weights"
        );
        assert_eq!(slots(&a, &oa), slots(&b, &ob), "{name}: optimizer slots");
        assert_ne!(a.get_weights().unwrap(), model(&dev).get_weights().unwrap());
    }
}

#[test]
fn freezing_repacks_and_state_carries_over_between_paths() {
    let Some(dev) = test_device() else { return };
    let (mut a, mut b) = (model(&dev), model(&dev));
    let (mut oa, mut ob) = (Optimizer::adam(0.01), Optimizer::adam(0.01));
    // Per weight first (slots made one by one), then packed (slots copied into packs).
    step_each(&a, &mut oa, 0);
    step_each(&b, &mut ob, 0);
    step_each(&a, &mut oa, 1);
    step_packed(&mut b, &mut ob, 1);
    let first = b.packed_weights().unwrap();
    assert_eq!(first.names().len(), 6);
    for m in [&mut a, &mut b] {
        m.set_trainable("dense_1", false).unwrap();
    }
    let frozen = b.weights()[2].1.value.to_vec().unwrap();
    for step in 2..5 {
        step_each(&a, &mut oa, step);
        step_packed(&mut b, &mut ob, step);
    }
    let second = b.packed_weights().unwrap();
    assert_eq!(
        second.names(),
        [
            "dense/kernel",
            "dense/bias",
            "dense_2/kernel",
            "dense_2/bias"
        ]
    );
    assert_eq!(
        b.weights()[2].1.value.to_vec().unwrap(),
        frozen,
        "frozen kernel kept"
    );
    assert_eq!(a.get_weights().unwrap(), b.get_weights().unwrap());
    assert_eq!(slots(&a, &oa), slots(&b, &ob));
    // Back to per-weight steps on the packed model: the slots are views of the packs.
    step_each(&a, &mut oa, 5);
    step_each(&b, &mut ob, 5);
    assert_eq!(a.get_weights().unwrap(), b.get_weights().unwrap());
}

#[test]
fn adam_in_the_gradient_dispatches_trains_exactly_as_one_update_per_weight() {
    let Some(dev) = test_device() else { return };
    // Both hidden kernels (36x20, 20x24) suit the fused gradient product on CPU adapters; the
    // head's backward is one dispatch that folds the second layer's activation and bias.
    let wide = |seed| {
        let mut m = Sequential::with_seed(&dev, seed);
        m.add(Dense::new(20).activation("relu").unwrap()).unwrap();
        m.add(Dense::new(24).activation("tanh").unwrap()).unwrap();
        m.add(Dense::new(3)).unwrap();
        m.build(&[36]).unwrap();
        m
    };
    let fused_on = dev.info().is_cpu() && dev.info().subgroups;
    let makes: [MakeOptimizer; 3] = [
        || Optimizer::adam(0.01),
        || Optimizer::adamw(0.01, 0.05),
        || Optimizer::sgd_momentum(0.05, 0.9, false),
    ];
    for (i, make) in makes.into_iter().enumerate() {
        let (a, mut b) = (wide(4), wide(4));
        let (mut oa, mut ob) = (make(), make());
        for step in 0..4 {
            let (x, y) = batch_of(&dev, step, 36);
            let g = LOSS.call(&a.call(&x, true).unwrap(), &y).unwrap();
            oa.apply_gradients(&dev, &g.backward().unwrap(), &a.trainable_weights())
                .unwrap();
            let w = b.packed_weights().unwrap();
            let loss = LOSS.call(&b.call(&x, true).unwrap(), &y).unwrap();
            let g = loss
                .backward_into(ob.step_targets(&dev, &w).unwrap())
                .unwrap();
            let applied: Vec<bool> = w.pairs().iter().map(|(_, t)| g.applied(t)).collect();
            let adam = i < 2 && fused_on;
            // Both kernels in their gradient products; the head's weights and the bias it folds
            // in its backward dispatch: the first bias is left, one dispatch.
            assert_eq!(applied, [adam, false, adam, adam, adam, adam], "rule {i}");
            let before = dev.counters().dispatches;
            ob.apply_packed(&dev, &g, &w).unwrap();
            assert_eq!(dev.counters().dispatches - before, 1, "rule {i}");
            dev.submit();
        }
        assert_eq!(
            a.get_weights().unwrap(),
            b.get_weights().unwrap(),
            "rule {i}"
        );
        assert_eq!(slots(&a, &oa), slots(&b, &ob), "rule {i}: optimizer slots");
        assert_eq!(oa.iterations(), ob.iterations());
    }
}

/// A layer whose `weights_mut` hides its weights (allowed, but it cannot be packed).
struct Hidden(Option<Weight>);

impl Layer for Hidden {
    fn class_name(&self) -> &'static str {
        "Hidden"
    }
    fn build(&mut self, s: &[usize], ctx: &mut BuildCtx<'_>) -> kiln_nn::Result<Vec<usize>> {
        let init = kiln_nn::init::Initializer::GlorotUniform;
        self.0 = Some(ctx.add_weight("kernel", &[s[0], 3], init, true)?);
        Ok(vec![3])
    }
    fn call(&self, x: &Tensor, _: &CallCtx) -> kiln_nn::Result<Tensor> {
        Ok(x.matmul(&self.0.as_ref().unwrap().value)?)
    }
    fn weights(&self) -> Vec<Weight> {
        self.0.iter().cloned().collect()
    }
}

#[test]
fn a_layer_hiding_its_weights_trains_one_update_per_weight() {
    let Some(dev) = test_device() else { return };
    let mut m = Sequential::with_seed(&dev, 1);
    m.add(Dense::new(5)).unwrap();
    m.add(Hidden(None)).unwrap();
    m.build(&[4]).unwrap();
    let err = m.packed_weights().unwrap_err().to_string();
    assert!(
        err.contains("weights_mut()") && err.contains("apply_gradients"),
        "{err}"
    );
    m.compile(Optimizer::adam(0.05), LOSS, &[]).unwrap();
    let before = m.get_weights().unwrap();
    let (x, y) = batch(&dev, 0);
    let (x, y) = (
        Array::f32(x.to_vec().unwrap(), &[8, 4]).unwrap(),
        Array::u32(y.to_vec_u32().unwrap(), &[8]).unwrap(),
    );
    let cfg = FitConfig {
        epochs: 2,
        verbose: 0,
        ..Default::default()
    };
    m.fit(&x, &y, cfg).unwrap();
    let after = m.get_weights().unwrap();
    assert!(
        before.iter().zip(&after).all(|(b, a)| b != a),
        "every weight trained"
    );
}
