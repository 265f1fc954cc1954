//! The Keras-style API contracts: summary counts, compile/fit/evaluate/predict behaviour,
//! History keys, validation_freq, reproducibility, freezing, and errors for bad input.

use kiln_device::testing::test_device;
use kiln_nn::prelude::*;

/// Two Gaussian blobs per class in 4-D: easy, so a few epochs separate them.
fn blobs(n: usize, classes: usize, seed: u64) -> (Array, Array) {
    let mut rng = kiln_device::rng::Rng::new(seed);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let c = i % classes;
        for d in 0..4 {
            let centre = if d % classes == c { 2.0 } else { -1.0 };
            x.push((centre + rng.normal() * 0.5) as f32);
        }
        y.push(c as u32);
    }
    (
        Array::f32(x, &[n, 4]).unwrap(),
        Array::u32(y, &[n]).unwrap(),
    )
}

fn mlp(dev: &Device, seed: u64) -> Sequential {
    let mut m = Sequential::with_seed(dev, seed);
    m.add(Dense::new(16).activation("relu").unwrap()).unwrap();
    m.add(Dense::new(3)).unwrap();
    m.build(&[4]).unwrap();
    m.compile(
        Optimizer::adam(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    m
}

#[test]
fn summary_shows_keras_param_counts() {
    let Some(dev) = test_device() else { return };
    let mut m = Sequential::new(&dev);
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(32).activation("relu").unwrap()).unwrap();
    m.add(Dense::new(10)).unwrap();
    m.build(&[28, 28]).unwrap();
    let s = m.summary();
    for needle in [
        "flatten (Flatten)",
        "(None, 784)",
        "dense (Dense)",
        "(None, 32)",
        "25,120",
        "dense_1 (Dense)",
        "330",
        "Total params: 25,450",
        "Trainable params: 25,450",
        "Non-trainable params: 0",
    ] {
        assert!(s.contains(needle), "summary lacks {needle:?}:\n{s}");
    }
    assert_eq!(m.count_params(), (25_450, 25_450, 0));
}

#[test]
fn conv_and_batchnorm_shapes_and_non_trainable_counts() {
    let Some(dev) = test_device() else { return };
    let mut m = Sequential::new(&dev);
    m.add(Reshape::new(&[28, 28, 1])).unwrap();
    m.add(
        Conv2D::new(32, 3)
            .padding("same")
            .unwrap()
            .activation("relu")
            .unwrap(),
    )
    .unwrap();
    m.add(MaxPooling2D::new(2).padding("same").unwrap())
        .unwrap();
    m.add(BatchNormalization::new()).unwrap();
    m.add(GlobalAveragePooling2D::new()).unwrap();
    m.add(Dense::new(10)).unwrap();
    m.build(&[28, 28]).unwrap();
    assert_eq!(m.output_shape(), Some(vec![10]));
    // conv 3*3*1*32 + 32 = 320; batchnorm 4 * 32 (64 trainable, 64 moving stats); dense 330.
    assert_eq!(m.count_params(), (320 + 128 + 330, 320 + 64 + 330, 64));
    assert!(m.summary().contains("(None, 14, 14, 32)"));
}

#[test]
fn fit_learns_and_history_has_keras_keys_and_validation_freq() {
    let Some(dev) = test_device() else { return };
    let (x, y) = blobs(300, 3, 1);
    let (vx, vy) = blobs(90, 3, 2);
    let mut m = mlp(&dev, 3);
    let cfg = FitConfig {
        epochs: 6,
        batch_size: 16,
        verbose: 0,
        validation_freq: 2,
        validation_data: Some((vec![vx.clone()], vec![vy.clone()])),
        ..Default::default()
    };
    let h = m.fit(&x, &y, cfg).unwrap();
    assert_eq!(h.epochs, (0..6).collect::<Vec<_>>());
    assert_eq!(
        h.keys(),
        vec!["loss", "accuracy", "val_loss", "val_accuracy"],
        "Keras's History: no learning rate without a learning-rate callback"
    );
    assert_eq!(
        h.get("val_loss").len(),
        3,
        "validation every 2 epochs: epochs 2, 4, 6"
    );
    assert!(h.logs[0].get("val_loss").is_none() && h.logs[1].get("val_loss").is_some());
    let loss = h.get("loss");
    assert!(loss[5] < loss[0] * 0.5, "loss should fall: {loss:?}");
    let test = m.evaluate(&vx, &vy, 32).unwrap();
    assert!(test.get("accuracy").unwrap() > 0.9, "{test:?}");
    assert!(
        (test.get("loss").unwrap() - h.get("val_loss")[2]).abs() < 1e-4,
        "evaluate matches the last validation"
    );
    let p = m.predict(&vx, 7).unwrap();
    assert_eq!(p.shape, vec![90, 3]);
}

#[test]
fn initial_epoch_resumes_the_epoch_count() {
    let Some(dev) = test_device() else { return };
    let (x, y) = blobs(64, 3, 9);
    let mut m = mlp(&dev, 2);
    let h = m
        .fit(
            &x,
            &y,
            FitConfig {
                epochs: 4,
                initial_epoch: 2,
                verbose: 2,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        h.epochs,
        vec![2, 3],
        "epochs 3 and 4 of 4 run, as Keras counts them"
    );
}

#[test]
fn the_same_seeds_reproduce_the_same_losses() {
    let Some(dev) = test_device() else { return };
    let (x, y) = blobs(200, 3, 4);
    let run = |seed| {
        let mut m = mlp(&dev, 7);
        m.fit(
            &x,
            &y,
            FitConfig {
                epochs: 3,
                verbose: 0,
                seed,
                ..Default::default()
            },
        )
        .unwrap()
        .get("loss")
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b);
    assert_ne!(a, c, "a different shuffle seed gives different batches");
}

#[test]
fn batches_gathered_on_the_gpu_train_exactly_as_host_batches() {
    let Some(dev) = test_device() else { return };
    // 203 samples with batch 32: six full batches and a partial one, shuffled each epoch.
    let (x, y) = blobs(203, 3, 6);
    let run = |on_gpu| {
        let mut m = mlp(&dev, 3);
        let cfg = FitConfig {
            epochs: 3,
            verbose: 0,
            seed: 5,
            ..Default::default()
        };
        let h = m.fit(&x, &y, cfg.keep_data_on_gpu(on_gpu)).unwrap();
        (h.get("loss"), m.weights()[0].1.value.to_vec().unwrap())
    };
    let (gpu, host) = (run(true), run(false));
    assert_eq!(
        gpu, host,
        "the same batches in the same order give the same training"
    );
    // The resident path uploads per fit and per epoch, never per step: 4x the steps (batch 8
    // instead of 32) make the same uploads; the host path uploads every batch.
    let uploaded = |batch_size, on_gpu| {
        let mut m = mlp(&dev, 3);
        let before = dev.counters();
        let cfg = FitConfig {
            epochs: 2,
            verbose: 0,
            batch_size,
            ..Default::default()
        };
        m.fit(&x, &y, cfg.keep_data_on_gpu(on_gpu)).unwrap();
        let c = dev.counters().since(&before);
        (c.uploads, c.upload_bytes)
    };
    assert_eq!(uploaded(8, true), uploaded(32, true));
    assert!(uploaded(8, false).0 > uploaded(32, false).0);
    // The public type for custom loops: the last batch is partial, and bad input is an error.
    let mut data = DeviceDataset::new(&dev, &x, &y).unwrap();
    let sizes: Vec<usize> = data
        .epoch(64, None)
        .unwrap()
        .map(|b| b.unwrap().0.shape()[0])
        .collect();
    assert_eq!(sizes, vec![64, 64, 64, 11]);
    let err = DeviceDataset::new(&dev, &x, &y.slice(0, 10)).err().unwrap();
    assert!(
        err.to_string().contains("203 samples but y has 10"),
        "{err}"
    );
}

#[test]
fn a_frozen_layer_keeps_its_weights_and_still_counts() {
    let Some(dev) = test_device() else { return };
    let (x, y) = blobs(64, 3, 5);
    let mut m = mlp(&dev, 1);
    m.set_trainable("dense", false).unwrap();
    let before = m.weights()[0].1.value.to_vec().unwrap();
    let out_before = m.weights()[2].1.value.to_vec().unwrap();
    m.fit(
        &x,
        &y,
        FitConfig {
            epochs: 2,
            verbose: 0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        m.weights()[0].1.value.to_vec().unwrap(),
        before,
        "frozen kernel unchanged"
    );
    assert_ne!(
        m.weights()[2].1.value.to_vec().unwrap(),
        out_before,
        "the other layer trains"
    );
    assert_eq!(
        m.count_params(),
        (16 * 4 + 16 + 16 * 3 + 3, 16 * 3 + 3, 16 * 4 + 16)
    );
    m.set_trainable("dense", true).unwrap();
    m.fit(
        &x,
        &y,
        FitConfig {
            epochs: 1,
            verbose: 0,
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(
        m.weights()[0].1.value.to_vec().unwrap(),
        before,
        "unfrozen, it trains again"
    );
}

fn err_of(r: kiln_nn::Result<impl std::fmt::Debug>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn bad_input_is_an_error_naming_the_problem() {
    let Some(dev) = test_device() else { return };
    let (x, y) = blobs(30, 3, 6);
    let quiet = || FitConfig {
        epochs: 1,
        verbose: 0,
        ..Default::default()
    };
    let mut m = mlp(&dev, 1);
    assert!(err_of(m.fit(&x, &y.slice(0, 20), quiet())).contains("30 samples but y has 20"));
    let wide = Array::f32(vec![0.0; 30 * 5], &[30, 5]).unwrap();
    assert!(err_of(m.fit(&wide, &y, quiet())).contains("[5]"));
    let bad_labels = Array::u32(vec![7; 30], &[30]).unwrap();
    assert!(err_of(m.fit(&x, &bad_labels, quiet())).contains("label 7"));
    let empty = Array::f32(vec![], &[0, 4]).unwrap();
    assert!(
        err_of(m.fit(&empty, &Array::u32(vec![], &[0]).unwrap(), quiet())).contains("no samples")
    );
    let float_y = Array::f32(vec![0.0; 30], &[30]).unwrap();
    assert!(err_of(m.fit(&x, &float_y, quiet())).contains("u32 labels"));
    let mut uncompiled = Sequential::new(&dev);
    uncompiled.add(Dense::new(3)).unwrap();
    assert!(err_of(uncompiled.fit(&x, &y, quiet())).contains("not compiled"));
    assert!(Dense::new(3).activation("relu6").is_err());
    assert!(Array::f32(vec![0.0; 5], &[2, 3]).is_err());
}

#[test]
fn a_diverging_run_stops_with_a_nan_loss_error() {
    let Some(dev) = test_device() else { return };
    let (x, _) = blobs(64, 3, 8);
    let y = Array::f32(vec![1e30; 64], &[64, 1]).unwrap();
    let mut m = Sequential::new(&dev);
    m.add(Dense::new(1)).unwrap();
    m.compile(Optimizer::sgd(10.0), Loss::MeanSquaredError, &[])
        .unwrap();
    let err = m
        .fit(
            &x,
            &y,
            FitConfig {
                epochs: 3,
                verbose: 0,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, NnError::NanLoss { epoch: 1, .. }), "{err}");
    assert!(err.to_string().contains("learning rate"));
}

/// A softmax head with `from_logits: false` trains from the softmax's logits, as Keras's losses
/// do (`_keras_logits`): the same losses and weights as the logits head with `from_logits:
/// true`, and a step that only adds the softmax's forward (no clip, log or their gradients).
#[test]
fn a_softmax_head_trains_from_its_logits_as_keras_does() {
    let Some(dev) = test_device() else { return };
    let (x, y) = blobs(96, 3, 8);
    let build = |softmax: bool| {
        let mut m = Sequential::with_seed(&dev, 4);
        m.add(Dense::new(16).activation("relu").unwrap()).unwrap();
        let head = Dense::new(3);
        m.add(if softmax {
            head.activation("softmax").unwrap()
        } else {
            head
        })
        .unwrap();
        m.build(&[4]).unwrap();
        let loss = Loss::SparseCategoricalCrossentropy {
            from_logits: !softmax,
        };
        m.compile(Optimizer::adam(0.01), loss, &[]).unwrap();
        m
    };
    let run = |softmax: bool| {
        let mut m = build(softmax);
        let before = dev.counters();
        let cfg = FitConfig {
            epochs: 2,
            verbose: 0,
            seed: 2,
            ..Default::default()
        };
        let h = m.fit(&x, &y, cfg).unwrap();
        let dispatches = dev.counters().since(&before).dispatches;
        let w: Vec<Vec<f32>> = m
            .weights()
            .iter()
            .map(|(_, v)| v.value.to_vec().unwrap())
            .collect();
        (h.get("loss"), w, dispatches)
    };
    let (probs, logits) = (run(true), run(false));
    assert_eq!(probs.0, logits.0, "losses");
    assert_eq!(probs.1, logits.1, "weights");
    // 2 epochs of 3 steps: one softmax forward more per step, nothing else.
    assert_eq!(probs.2, logits.2 + 6, "dispatches");
}
