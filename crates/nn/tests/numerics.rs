//! Losses, metrics, optimizers and schedules against values computed by hand (each derivation
//! is beside its assertion).

use kiln_device::testing::test_device;
use kiln_nn::prelude::*;

fn t(dev: &Device, v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_f32(dev, v, shape).unwrap()
}

fn close(a: f32, b: f64, what: &str) {
    assert!(
        (a as f64 - b).abs() < 1e-5 * (1.0 + b.abs()),
        "{what}: got {a}, expected {b}"
    );
}

#[test]
fn losses_match_hand_computed_values() {
    let Some(dev) = test_device() else { return };
    // Logits [[2, 1, 0], [0, 0, 0]], labels [0, 2]:
    // row 0: lse = ln(e^2 + e + 1) = 2.40760596; loss = 2.40760596 - 2 = 0.40760596
    // row 1: ln 3 = 1.09861229; mean = 0.75310912
    let logits = t(&dev, &[2.0, 1.0, 0.0, 0.0, 0.0, 0.0], &[2, 3]);
    let labels = Tensor::from_u32(&dev, &[0, 2], &[2]).unwrap();
    let scce = Loss::SparseCategoricalCrossentropy { from_logits: true };
    close(
        scce.call(&logits, &labels).unwrap().item().unwrap(),
        0.753_109_12,
        "scce logits",
    );
    // Probabilities [[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]] with labels [0, 2]: -(ln .7 + ln .5)/2 = 0.52491640
    let probs = t(&dev, &[0.7, 0.2, 0.1, 0.25, 0.25, 0.5], &[2, 3]);
    close(
        Loss::SparseCategoricalCrossentropy { from_logits: false }
            .call(&probs, &labels)
            .unwrap()
            .item()
            .unwrap(),
        0.524_916_4,
        "scce probs",
    );
    // A softmax's output is taken back to its logits, as Keras does (`_keras_logits`): logits
    // [30, 0, 0] with label 1 lose lse - 0 = 30 + ln(1 + 2e^-30) = 30.0 (exactly), where the
    // clipped probability e^-30 / (1 + ...) < 1e-7 would cap it at -ln(1e-7) = 16.118.
    let confident = t(&dev, &[30.0, 0.0, 0.0], &[1, 3]);
    let one = Tensor::from_u32(&dev, &[1], &[1]).unwrap();
    let from_probs = Loss::SparseCategoricalCrossentropy { from_logits: false };
    let soft = confident.softmax().unwrap();
    close(
        from_probs.call(&soft, &one).unwrap().item().unwrap(),
        30.0,
        "scce of a softmax output",
    );
    // The same probabilities read back into a fresh tensor have no logits: clipped as Keras
    // clips a plain probability tensor.
    let plain = t(&dev, &soft.to_vec().unwrap(), &[1, 3]);
    close(
        from_probs.call(&plain, &one).unwrap().item().unwrap(),
        -(1e-7f64.ln()),
        "scce of plain probabilities",
    );
    // One-hot of the same labels gives the same values.
    let onehot = t(&dev, &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0], &[2, 3]);
    close(
        Loss::CategoricalCrossentropy { from_logits: true }
            .call(&logits, &onehot)
            .unwrap()
            .item()
            .unwrap(),
        0.753_109_12,
        "cce",
    );
    // BCE from logits z = [0, 2], y = [1, 0]: ln 2 = 0.69314718; ln(1 + e^2) = 2.12692801; mean 1.41003760
    let z = t(&dev, &[0.0, 2.0], &[2, 1]);
    let y = t(&dev, &[1.0, 0.0], &[2, 1]);
    close(
        Loss::BinaryCrossentropy { from_logits: true }
            .call(&z, &y)
            .unwrap()
            .item()
            .unwrap(),
        1.410_037_6,
        "bce logits",
    );
    // BCE from probabilities p = [0.8, 0.4], y = [1, 0]: -(ln .8 + ln .6)/2 = 0.36698530
    let p = t(&dev, &[0.8, 0.4], &[2, 1]);
    close(
        Loss::BinaryCrossentropy { from_logits: false }
            .call(&p, &y)
            .unwrap()
            .item()
            .unwrap(),
        0.366_985_3,
        "bce probs",
    );
    // MSE / MAE of [[1, 2], [3, 5]] vs [[1, 0], [0, 5]]: rows (0 + 4)/2 = 2, (9 + 0)/2 = 4.5 -> 3.25; MAE rows 1, 1.5 -> 1.25
    let a = t(&dev, &[1.0, 2.0, 3.0, 5.0], &[2, 2]);
    let b = t(&dev, &[1.0, 0.0, 0.0, 5.0], &[2, 2]);
    close(
        Loss::MeanSquaredError.call(&a, &b).unwrap().item().unwrap(),
        3.25,
        "mse",
    );
    close(
        Loss::MeanAbsoluteError
            .call(&a, &b)
            .unwrap()
            .item()
            .unwrap(),
        1.25,
        "mae",
    );
}

#[test]
fn metrics_accumulate_reset_and_resolve_like_keras() {
    let Some(dev) = test_device() else { return };
    let preds = t(
        &dev,
        &[0.1, 0.7, 0.2, 0.5, 0.3, 0.2, 0.2, 0.3, 0.5],
        &[3, 3],
    ); // argmax 1, 0, 2
    let labels = Tensor::from_u32(&dev, &[1, 1, 1], &[3]).unwrap();
    let acc = Metric::new(&dev, MetricKind::SparseCategoricalAccuracy, "accuracy").unwrap();
    acc.update_state(&labels, &preds).unwrap();
    close(acc.result().unwrap(), 1.0 / 3.0, "1 of 3 right");
    acc.update_state(&Tensor::from_u32(&dev, &[1, 0, 2], &[3]).unwrap(), &preds)
        .unwrap();
    close(
        acc.result().unwrap(),
        4.0 / 6.0,
        "accumulates across batches",
    );
    acc.reset_state().unwrap();
    acc.update_state(&labels, &preds).unwrap();
    close(acc.result().unwrap(), 1.0 / 3.0, "reset clears");
    // Top-2: label 1 ranks 1st, 2nd (0.3 vs 0.5, 0.2) and 2nd (0.3 vs 0.5): all in the top 2.
    let top2 = Metric::new(
        &dev,
        MetricKind::SparseTopKCategoricalAccuracy { k: 2 },
        "top2",
    )
    .unwrap();
    top2.update_state(&labels, &preds).unwrap();
    close(top2.result().unwrap(), 1.0, "top-2");
    let bin = Metric::new(&dev, MetricKind::BinaryAccuracy { threshold: 0.5 }, "b").unwrap();
    bin.update_state(
        &t(&dev, &[1.0, 0.0, 1.0, 1.0], &[4, 1]),
        &t(&dev, &[0.9, 0.6, 0.2, 0.51], &[4, 1]),
    )
    .unwrap();
    close(bin.result().unwrap(), 0.5, "binary");
    // Past one workgroup's share (2^18 predictions) a batch is scored per row and then summed:
    // 300,000 elements, every third one wrong (p = 0.9 against target 0), on top of the 2 of 4.
    let n = 300_000;
    let p: Vec<f32> = vec![0.9; n];
    let y: Vec<f32> = (0..n).map(|i| if i % 3 == 0 { 0.0 } else { 1.0 }).collect();
    bin.update_state(&t(&dev, &y, &[n, 1]), &t(&dev, &p, &[n, 1]))
        .unwrap();
    close(
        bin.result().unwrap(),
        (2.0 + 200_000.0) / (4.0 + n as f64),
        "binary over a large batch",
    );
    // A prediction without a batch axis is an error naming it, for every loss and metric.
    let scalar = t(&dev, &[0.5], &[]);
    for l in [
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        Loss::CategoricalCrossentropy { from_logits: true },
        Loss::BinaryCrossentropy { from_logits: false },
        Loss::MeanSquaredError,
    ] {
        let e = l.call(&scalar, &scalar).unwrap_err().to_string();
        assert!(e.contains(l.name()) || e.contains("axis"), "{e}");
    }
    let e = bin.update_state(&scalar, &scalar).unwrap_err().to_string();
    assert!(e.contains("batch axis"), "{e}");
    let e = ConfusionMatrix::new(&dev, 3)
        .unwrap()
        .update_state(&scalar, &scalar)
        .unwrap_err()
        .to_string();
    assert!(e.contains("confusion matrix"), "{e}");
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: true };
    assert_eq!(
        MetricKind::Accuracy.resolve(&loss),
        MetricKind::SparseCategoricalAccuracy
    );
    assert_eq!(
        MetricKind::Accuracy.resolve(&Loss::CategoricalCrossentropy { from_logits: false }),
        MetricKind::CategoricalAccuracy
    );
    assert_eq!(
        MetricKind::Accuracy.resolve(&Loss::BinaryCrossentropy { from_logits: false }),
        MetricKind::BinaryAccuracy { threshold: 0.5 }
    );
    let cm = ConfusionMatrix::new(&dev, 3).unwrap();
    cm.update_state(&labels, &preds).unwrap();
    assert_eq!(cm.result().unwrap(), vec![0, 0, 0, 1, 1, 1, 0, 0, 0]);
}

fn one_step(dev: &Device, opt: &mut Optimizer, p0: f32, grads: &[f32]) -> Vec<f32> {
    // L = g * w summed over steps has dL/dw = g: one parameter, driven by chosen gradients.
    let w = t(dev, &[p0], &[1]).requires_grad();
    let params = vec![("w".to_string(), w.clone())];
    let mut out = Vec::new();
    for &g in grads {
        let loss = w.mul_scalar(g).unwrap().sum_all().unwrap();
        let gr = loss.backward().unwrap();
        opt.apply_gradients(dev, &gr, &params).unwrap();
        out.push(w.to_vec().unwrap()[0]);
    }
    out
}

#[test]
fn optimizer_steps_match_hand_computed_updates() {
    let Some(dev) = test_device() else { return };
    // SGD lr 0.1: w = 1 - 0.1 * 2 = 0.8
    close(
        one_step(&dev, &mut Optimizer::sgd(0.1), 1.0, &[2.0])[0],
        0.8,
        "sgd",
    );
    // Momentum 0.9, g = 1 twice: v1 = -0.1, w1 = 0.9; v2 = -0.09 - 0.1 = -0.19, w2 = 0.71
    let w = one_step(
        &dev,
        &mut Optimizer::sgd_momentum(0.1, 0.9, false),
        1.0,
        &[1.0, 1.0],
    );
    close(w[0], 0.9, "momentum 1");
    close(w[1], 0.71, "momentum 2");
    // Nesterov: w1 = 1 + 0.9 * -0.1 - 0.1 = 0.81; v2 = -0.19, w2 = 0.81 - 0.171 - 0.1 = 0.539
    let w = one_step(
        &dev,
        &mut Optimizer::sgd_momentum(0.1, 0.9, true),
        1.0,
        &[1.0, 1.0],
    );
    close(w[0], 0.81, "nesterov 1");
    close(w[1], 0.539, "nesterov 2");
    // Adam lr 0.001, g = 0.5: m1 = 0.05, v1 = 0.00025, lr_t = 0.001 sqrt(0.001) / 0.1 = 3.16227766e-4,
    // step = lr_t * 0.05 / (sqrt(0.00025) + 1e-7) = 3.16227766e-4 * 3.16207763 = 9.99936757e-4
    close(
        one_step(&dev, &mut Optimizer::adam(1e-3), 1.0, &[0.5])[0],
        1.0 - 9.999_367_57e-4,
        "adam bias-corrected first step",
    );
    // AdamW also decays: w -= 0.001 * 0.004 * 1 first.
    close(
        one_step(&dev, &mut Optimizer::adamw(1e-3, 0.004), 1.0, &[0.5])[0],
        1.0 - 4e-6 - 9.999_367_57e-4 * (1.0),
        "adamw",
    );
    // RMSprop lr 0.01, rho 0.9, g = 2: v = 0.4, step = 0.01 * 2 / sqrt(0.4 + 1e-7) = 0.0316227727
    close(
        one_step(&dev, &mut Optimizer::rmsprop(0.01), 1.0, &[2.0])[0],
        1.0 - 0.031_622_772_7,
        "rmsprop",
    );
    // A schedule is read at the iteration count: piecewise 0.1 for step 0, 0.05 after.
    let lr = LearningRate::PiecewiseConstantDecay {
        boundaries: vec![0],
        values: vec![0.1, 0.05],
    };
    let mut opt = Optimizer::sgd(lr);
    let w = one_step(&dev, &mut opt, 1.0, &[1.0, 1.0]);
    close(w[1], 1.0 - 0.1 - 0.05, "scheduled sgd");
    assert_eq!(opt.iterations(), 2);
}
