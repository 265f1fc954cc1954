//! Checkpoints: round trips predict identically, resumed training equals uninterrupted training,
//! bad files give errors naming the tensor and leave the model unchanged, and the checkpoint
//! callbacks behave as Keras's on scripted logs.

mod common;

use common::with_architecture;
use kiln_device::testing::test_device;
use kiln_nn::callbacks::{
    CsvLogger, EarlyStopping, LearningRateScheduler, Mode, ModelCheckpoint, ReduceLROnPlateau,
    TerminateOnNaN,
};
use kiln_nn::prelude::*;

fn data(n: usize, seed: u64) -> (Array, Array) {
    let mut rng = kiln_device::rng::Rng::new(seed);
    let x: Vec<f32> = (0..n * 16).map(|_| rng.uniform() as f32).collect();
    let y: Vec<u32> = x
        .chunks(16)
        .map(|r| {
            if r[..8].iter().sum::<f32>() > r[8..].iter().sum::<f32>() {
                1
            } else {
                0
            }
        })
        .collect();
    (
        Array::f32(x, &[n, 4, 4]).unwrap(),
        Array::u32(y, &[n]).unwrap(),
    )
}

fn model(dev: &Device, seed: u64) -> Sequential {
    let mut m = Sequential::with_seed(dev, seed);
    m.add(Reshape::new(&[4, 4, 1])).unwrap();
    m.add(Conv2D::new(3, 2).activation("relu").unwrap())
        .unwrap();
    m.add(BatchNormalization::new()).unwrap();
    m.add(Flatten::new()).unwrap();
    m.add(Dropout::new(0.25).unwrap()).unwrap();
    m.add(Dense::new(2)).unwrap();
    m.build(&[4, 4]).unwrap();
    let lr = LearningRate::ExponentialDecay {
        initial: 0.01,
        decay_steps: 5,
        decay_rate: 0.9,
        staircase: false,
    };
    m.compile(
        Optimizer::adam(lr),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    m
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn quiet(epochs: usize) -> FitConfig {
    FitConfig {
        epochs,
        batch_size: 16,
        verbose: 0,
        seed: 5,
        ..Default::default()
    }
}

#[test]
fn weights_and_whole_models_round_trip_and_predict_identically() {
    let Some(dev) = test_device() else { return };
    let (x, y) = data(64, 1);
    let mut m = model(&dev, 1);
    m.fit(&x, &y, quiet(2)).unwrap();
    let want = m.predict(&x, 32).unwrap();
    let (wpath, mpath) = (tmp("w.safetensors"), tmp("m.safetensors"));
    m.save_weights(&wpath).unwrap();
    m.save(&mpath).unwrap();
    let mut fresh = model(&dev, 99);
    assert_ne!(fresh.predict(&x, 32).unwrap(), want);
    fresh.load_weights(&wpath).unwrap();
    assert_eq!(
        fresh.predict(&x, 32).unwrap(),
        want,
        "load_weights restores predictions exactly"
    );
    let mut loaded = load_model(&mpath, &dev).unwrap();
    assert_eq!(
        loaded.predict(&x, 32).unwrap(),
        want,
        "load_model restores predictions exactly"
    );
    assert_eq!(loaded.layer_names(), m.layer_names());
    assert_eq!(loaded.epochs_done(), 2);
    assert_eq!(loaded.compiled().unwrap().optimizer.iterations(), 8);
    // f16 weights: half the tensor bytes, predictions close.
    let h = tmp("w16.safetensors");
    m.save_weights_as(&h, WeightDtype::F16).unwrap();
    fresh.load_weights(&h).unwrap();
    let p16 = fresh.predict(&x, 32).unwrap();
    for (a, b) in p16.as_f32().unwrap().iter().zip(want.as_f32().unwrap()) {
        assert!((a - b).abs() < 2e-2, "{a} vs {b}");
    }
}

#[test]
fn resumed_training_equals_uninterrupted_training() {
    let Some(dev) = test_device() else { return };
    let (x, y) = data(80, 2);
    let mut full = model(&dev, 3);
    let all = full.fit(&x, &y, quiet(4)).unwrap().get("loss");
    let mut first = model(&dev, 3);
    let head = first.fit(&x, &y, quiet(2)).unwrap().get("loss");
    let path = tmp("resume.safetensors");
    first.save(&path).unwrap();
    drop(first);
    let mut resumed = load_model(&path, &dev).unwrap();
    let cfg = FitConfig {
        initial_epoch: resumed.epochs_done(),
        ..quiet(4)
    };
    let tail = resumed.fit(&x, &y, cfg).unwrap().get("loss");
    assert_eq!(
        [head, tail].concat(),
        all,
        "same seed, same losses, with dropout, batchnorm, Adam and a schedule"
    );
    assert_eq!(
        resumed.predict(&x, 32).unwrap(),
        full.predict(&x, 32).unwrap()
    );
}

#[test]
fn bad_files_give_errors_naming_the_problem_and_change_nothing() {
    let Some(dev) = test_device() else { return };
    let (x, _) = data(8, 3);
    let mut m = model(&dev, 4);
    let before = m.predict(&x, 8).unwrap();
    let good = tmp("good.safetensors");
    m.save_weights(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let truncated = tmp("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let e = m.load_weights(&truncated).unwrap_err().to_string();
    assert!(
        e.contains("truncated.safetensors") && e.contains("safetensors"),
        "{e}"
    );

    let garbage = tmp("garbage.safetensors");
    std::fs::write(&garbage, b"\xff\xff\xff\xff\xff\xff\xff\x7fnot json").unwrap();
    assert!(m.load_weights(&garbage).is_err());
    assert!(
        m.load_weights(tmp("missing.safetensors"))
            .unwrap_err()
            .to_string()
            .contains("cannot read")
    );

    // Another architecture: Dense(3) instead of Dense(2).
    let mut other = Sequential::with_seed(&dev, 1);
    other.add(Reshape::new(&[4, 4, 1])).unwrap();
    other
        .add(Conv2D::new(3, 2).activation("relu").unwrap())
        .unwrap();
    other.add(BatchNormalization::new()).unwrap();
    other.add(Flatten::new()).unwrap();
    other.add(Dropout::new(0.25).unwrap()).unwrap();
    other.add(Dense::new(3)).unwrap();
    other.build(&[4, 4]).unwrap();
    let wrong = tmp("wrong.safetensors");
    other.save_weights(&wrong).unwrap();
    let e = m.load_weights(&wrong).unwrap_err().to_string();
    assert!(
        e.contains("dense/kernel") && e.contains("[27, 2]") && e.contains("[27, 3]"),
        "{e}"
    );

    // A tensor with an unsupported dtype.
    let ints = tmp("ints.safetensors");
    let mut tensors = std::collections::HashMap::new();
    let raw = vec![0u8; 27 * 2 * 4];
    for (name, w) in m.weights() {
        let view = if name == "dense/kernel" {
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::I32,
                w.value.shape().to_vec(),
                &raw,
            )
            .unwrap()
        } else {
            continue;
        };
        tensors.insert(name, view);
    }
    std::fs::write(&ints, safetensors::serialize(tensors, None).unwrap()).unwrap();
    let e = m.load_weights(&ints).unwrap_err().to_string();
    assert!(e.contains("missing") || e.contains("I32"), "{e}");

    assert_eq!(
        m.predict(&x, 8).unwrap(),
        before,
        "failed loads must leave the model unchanged"
    );
    let e = load_model(&good, &dev).err().unwrap().to_string();
    assert!(e.contains("not a kiln model file"), "{e}");
}

#[test]
fn a_crafted_architecture_is_refused_before_anything_is_allocated() {
    let Some(dev) = test_device() else { return };
    let good = tmp("arch.safetensors");
    model(&dev, 4).save(&good).unwrap();
    assert!(load_model(&good, &dev).is_ok(), "the unedited file loads");
    let set = |arch: &mut serde_json::Value, class: &str, key: &str, v: serde_json::Value| {
        for l in arch["layers"].as_array_mut().unwrap() {
            if l["class_name"] == class {
                l["config"][key] = v.clone();
            }
        }
    };
    // Two billion units: a 216 GB kernel if it were allocated. It is not in the file.
    let huge = with_architecture(&good, "huge.safetensors", |a| {
        set(a, "Dense", "units", serde_json::json!(2_000_000_000u64))
    });
    let e = load_model(&huge, &dev).err().unwrap().to_string();
    assert!(
        e.contains("huge.safetensors") && e.contains("dense/kernel") && e.contains("[27, 2]"),
        "{e}"
    );
    // Samples so large their value count overflows: an error, not an abort.
    let overflow = with_architecture(&good, "overflow.safetensors", |a| {
        a["input_shape"] = serde_json::json!([1u64 << 40, 1u64 << 40]);
        set(
            a,
            "Reshape",
            "target_shape",
            serde_json::json!([1u64 << 40, 1u64 << 40, 1]),
        );
    });
    let e = load_model(&overflow, &dev).err().unwrap().to_string();
    assert!(e.contains("overflow.safetensors"), "{e}");
    // A setting of the wrong type names the layer class and the value.
    let typo = with_architecture(&good, "typo.safetensors", |a| {
        set(a, "Conv2D", "filters", serde_json::json!("three"))
    });
    let e = load_model(&typo, &dev).err().unwrap().to_string();
    assert!(e.contains("Conv2D") && e.contains("three"), "{e}");
}

fn logs(pairs: &[(&str, f32)]) -> Logs {
    Logs {
        values: pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        confusion: None,
    }
}

#[test]
fn early_stopping_and_reduce_lr_on_scripted_logs() {
    let Some(dev) = test_device() else { return };
    let mut m = model(&dev, 5);
    let mut es = EarlyStopping::new("val_loss").patience(2).min_delta(0.01);
    let script = [1.0, 0.8, 0.795, 0.81, 0.7];
    let stops: Vec<bool> = script
        .iter()
        .enumerate()
        .map(|(e, v)| {
            es.on_epoch_end(e, &logs(&[("val_loss", *v)]), &mut m)
                .unwrap()
        })
        .collect();
    // 0.795 is within min_delta of 0.8 (no improvement, wait 1); 0.81 is worse (wait 2): stop.
    assert_eq!(stops, vec![false, false, false, true, false]);
    assert_eq!(es.stopped_epoch, Some(3));

    let mut es = EarlyStopping::new("val_accuracy")
        .mode(Mode::Max)
        .patience(1)
        .restore_best_weights(true);
    let w0 = m.get_weights().unwrap();
    assert!(
        !es.on_epoch_end(0, &logs(&[("val_accuracy", 0.9)]), &mut m)
            .unwrap()
    );
    m.set_weights(&w0.iter().map(|w| vec![0.0; w.len()]).collect::<Vec<_>>())
        .unwrap();
    assert!(
        es.on_epoch_end(1, &logs(&[("val_accuracy", 0.8)]), &mut m)
            .unwrap()
    );
    assert_eq!(
        m.get_weights().unwrap(),
        w0,
        "best weights restored on stop"
    );

    let mut r = ReduceLROnPlateau::new("val_loss")
        .patience(2)
        .factor(0.5)
        .cooldown(1)
        .min_lr(0.002);
    let lrs: Vec<f32> = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
        .iter()
        .enumerate()
        .map(|(e, v)| {
            r.on_epoch_end(e, &logs(&[("val_loss", *v)]), &mut m)
                .unwrap();
            m.compiled().unwrap().optimizer.current_learning_rate()
        })
        .collect();
    let lr0 = 0.01f32; // the model's schedule starts at 0.01 with 0 iterations
    // Keras's ReduceLROnPlateau.on_epoch_end, traced: e0 first value is the best; e1 wait 1;
    // e2 wait 2 -> 0.005, cooldown 1; e3 cooldown ends (wait 0), then wait 1; e4 wait 2 -> 0.0025;
    // e5 wait 1; e6 wait 2 -> max(0.00125, min_lr 0.002) = 0.002.
    assert_eq!(
        lrs,
        vec![lr0, lr0, 0.005, 0.005, 0.0025, 0.0025, 0.002],
        "cut after 2 stalls, cooldown 1, floor 0.002"
    );
}

/// Keras's History carries "learning_rate" only when a learning-rate callback puts it in the
/// logs, with the rate the epoch trained at (before that callback's own cut); checked against
/// Keras 3.15: `['accuracy', 'loss']` for a plain fit, `['accuracy', 'learning_rate', 'loss']`
/// with `ReduceLROnPlateau`.
#[test]
fn the_history_has_a_learning_rate_only_with_a_learning_rate_callback() {
    let Some(dev) = test_device() else { return };
    let (x, y) = data(64, 6);
    let mut m = model(&dev, 6);
    let h = m.fit(&x, &y, quiet(2)).unwrap();
    assert!(
        !h.keys().contains(&"learning_rate".to_string()),
        "{:?}",
        h.keys()
    );
    // A constant rate (the model's own decays with the steps).
    let lr0 = 0.01;
    let constant = |m: &mut Sequential| m.optimizer_mut().unwrap().set_learning_rate(lr0);
    let mut m = model(&dev, 6);
    constant(&mut m);
    // No epoch improves on the first by 1e9: the rate is cut at the end of epochs 2 and 3, and
    // the History shows each epoch's rate before its cut.
    let cut = ReduceLROnPlateau::new("loss")
        .patience(1)
        .factor(0.5)
        .min_delta(1e9);
    let h = m.fit(&x, &y, quiet(3).callback(cut)).unwrap();
    assert_eq!(h.get("learning_rate"), vec![lr0, lr0, lr0 / 2.0]);
    let now = m.compiled().unwrap().optimizer.current_learning_rate();
    assert_eq!(now, lr0 / 4.0);
    let mut m = model(&dev, 6);
    constant(&mut m);
    let halve = LearningRateScheduler::new(|epoch, lr| if epoch == 0 { lr } else { lr / 2.0 });
    let h = m.fit(&x, &y, quiet(2).callback(halve)).unwrap();
    assert_eq!(h.get("learning_rate"), vec![lr0, lr0 / 2.0]);
}

#[test]
fn model_checkpoint_csv_logger_and_terminate_on_nan_in_a_fit() {
    let Some(dev) = test_device() else { return };
    let (x, y) = data(64, 6);
    let (vx, vy) = data(32, 7);
    let dir = tmp("ckpts");
    let _ = std::fs::remove_dir_all(&dir);
    let template = format!(
        "{}/m-{{epoch:02d}}-{{val_loss:.3f}}.safetensors",
        dir.display()
    );
    let csv = dir.join("log.csv");
    let mut m = model(&dev, 6);
    let cfg = FitConfig {
        validation_data: Some((vec![vx], vec![vy])),
        ..quiet(3)
    }
    .callback(ModelCheckpoint::new(&template).save_weights_only(true))
    .callback(CsvLogger::new(&csv));
    let h = m.fit(&x, &y, cfg).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|f| f.ends_with(".safetensors"))
        .collect();
    files.sort();
    let want: Vec<String> = h
        .get("val_loss")
        .iter()
        .enumerate()
        .map(|(e, v)| format!("m-{:02}-{v:.3}.safetensors", e + 1))
        .collect();
    assert_eq!(files, want);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "epoch,accuracy,loss,val_accuracy,val_loss");
    assert_eq!(lines.len(), 4);
    assert!(lines[3].starts_with("2,"));

    // TerminateOnNaN stops at the first bad batch, naming it.
    let (x, _) = data(64, 8);
    let yb = Array::f32(vec![1e30; 64], &[64, 1]).unwrap();
    let mut r = Sequential::new(&dev);
    r.add(Flatten::new()).unwrap();
    r.add(Dense::new(1)).unwrap();
    r.compile(Optimizer::sgd(10.0), Loss::MeanSquaredError, &[])
        .unwrap();
    let h = r
        .fit(&x, &yb, quiet(5).callback(TerminateOnNaN::new()))
        .unwrap();
    assert!(
        h.epochs.is_empty(),
        "stopped inside the first epoch: {:?}",
        h.epochs
    );
}
