//! The tuner on real kiln models (lavapipe in CI): the example search's logdir opens in the real
//! TensorBoard's HParams tab with one session per trial; the same search killed with SIGKILL
//! mid-trial and started again finishes with exactly the trials of an uninterrupted one; a
//! trial whose loss becomes NaN is recorded as failed and the search goes on; and the
//! AutoKeras-style ImageClassifier fits, predicts probabilities and exports a model that
//! `load_model` reads back with the same predictions.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln::device::testing::test_device;
use kiln::nn::prelude::*;
use kiln::tuner::*;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln_tuner_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The example binary `cargo test` built beside this test.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("examples/tune_fashion_mnist");
    assert!(
        bin.exists(),
        "{} is missing: `cargo test` builds the examples (run the suite with cargo test --workspace)",
        bin.display()
    );
    bin
}

fn search_command(dir: &Path) -> Command {
    let mut c = Command::new(example());
    c.env("KILN_SAMPLES", "2000")
        .env("KILN_EPOCHS", "2")
        .env("KILN_TRIALS", "4")
        .env("KILN_RUN_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn trials(dir: &Path) -> Vec<serde_json::Value> {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(STATE_FILE)).unwrap()).unwrap();
    state["trials"].as_array().unwrap().clone()
}

fn have_data() -> bool {
    match FashionMnist::load() {
        Ok(_) => true,
        Err(e) if std::env::var("KILN_REQUIRE_DATA").as_deref() != Ok("1") => {
            eprintln!("skipping the example search: {e}");
            false
        }
        Err(e) => panic!("KILN_REQUIRE_DATA=1 but {e}"),
    }
}

#[test]
fn a_search_killed_mid_trial_resumes_to_the_same_trials_and_opens_in_tensorboard() {
    if test_device().is_none() || !have_data() {
        return;
    }
    let (full, killed) = (tmp("full"), tmp("killed"));
    let out = search_command(&full).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("Results summary") && printed.contains("Best model's test accuracy"));

    // Kill the second run while a trial after the first is running.
    let mut child = search_command(&killed).spawn().unwrap();
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no trial started"
        );
        if let Ok(bytes) = std::fs::read(killed.join(STATE_FILE))
            && let Ok(state) = serde_json::from_slice::<serde_json::Value>(&bytes)
        {
            let t = state["trials"].as_array().cloned().unwrap_or_default();
            if t.len() >= 2 && t.last().unwrap()["status"] == "Running" {
                break;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the search ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = trials(&killed);
    assert_eq!(before.last().unwrap()["status"], "Running");
    let out = search_command(&killed).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (trials(&full), trials(&killed));
    assert_eq!(a.len(), 4);
    assert_eq!(
        a, b,
        "a resumed search runs the same trials to the same scores"
    );
    for done in before.iter().filter(|t| t["status"] == "Completed") {
        let id = done["id"].as_str().unwrap();
        let ran_again = String::from_utf8_lossy(&out.stdout)
            .contains(&format!("Trial #{} ", id.parse::<usize>().unwrap() + 1));
        assert!(!ran_again, "finished trial {id} ran again");
    }
    let mut expect: Vec<String> = Vec::new();
    for t in &b {
        let run = format!("trial_{}/execution0", t["id"].as_str().unwrap());
        expect.push(format!("hparams:{run}"));
        // Each run holds one attempt only: the killed attempt's records were cleared.
        expect.push(format!("scalar:{run}/validation/epoch_accuracy==2"));
        expect.push(format!("scalar:{run}/train/epoch_loss>=1"));
    }
    let specs: Vec<&str> = expect.iter().map(String::as_str).collect();
    common::tbcheck(&killed, &specs);
    // The exported best model loads.
    let dev = test_device().unwrap();
    let loaded = kiln::nn::load_model(killed.join("best_model.safetensors"), &dev).unwrap();
    assert_eq!(loaded.output_shape(), Some(vec![10]));
    for d in [full, killed] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

fn toy_data(n: usize) -> (Array, Array) {
    let mut rng = kiln::device::rng::Rng::new(4);
    let x: Vec<f32> = (0..n * 8).map(|_| rng.uniform() as f32).collect();
    let y: Vec<u32> = x.chunks(8).map(|r| u32::from(r[0] > r[1])).collect();
    (
        Array::f32(x, &[n, 8]).unwrap(),
        Array::u32(y, &[n]).unwrap(),
    )
}

/// Rescaling(scale) -> Dense(units, relu) -> Dense(2), Adam 0.01, compiled.
fn toy_model(dev: &Device, seed: u64, scale: f32, units: usize) -> kiln::nn::Result<Sequential> {
    let mut m = Sequential::with_seed(dev, seed);
    m.add(Rescaling::new(scale, 0.0))?;
    m.add(Dense::new(units).activation("relu")?)?;
    m.add(Dense::new(2))?;
    m.build(&[8])?;
    m.compile(
        Optimizer::adam(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )?;
    Ok(m)
}

#[test]
fn a_trial_whose_loss_becomes_nan_is_recorded_as_failed_and_the_search_goes_on() {
    let Some(dev) = test_device() else { return };
    let (x, y) = toy_data(256);
    let dir = tmp("nan");
    let mut tuner = Tuner::new(
        &dir,
        Oracle::random(3),
        Objective::max("val_accuracy"),
        |hp| {
            // A scale of 3e38 overflows the first layer's sums to inf, and the loss to NaN.
            let scale = hp.choice("scale", &[1.0f64, 3e38]);
            let units = hp.choice("units", &[8i64, 16]);
            toy_model(&dev, 7, scale as f32, units as usize)
        },
    )
    .seed(2)
    .verbose(false);
    tuner
        .search(&x, &y, || {
            FitConfig::epochs(2).validation_split(0.25).verbose(0)
        })
        .unwrap();
    let failed: Vec<&Trial> = tuner
        .trials()
        .iter()
        .filter(|t| t.status == TrialStatus::Failed)
        .collect();
    let done: Vec<&Trial> = tuner
        .trials()
        .iter()
        .filter(|t| t.status == TrialStatus::Completed)
        .collect();
    assert_eq!(tuner.trials().len(), 3);
    assert!(
        !failed.is_empty() && !done.is_empty(),
        "{:?}",
        tuner.trials()
    );
    for t in &failed {
        assert_eq!(t.get("scale"), Some(&HpValue::Float(3e38)));
        assert!(
            t.message.as_deref().unwrap().contains("NaN"),
            "{:?}",
            t.message
        );
    }
    for t in &done {
        assert_eq!(t.get("scale"), Some(&HpValue::Float(1.0)));
        assert!(
            tuner.checkpoint(t).is_some(),
            "a completed trial keeps its best weights"
        );
    }
    let mut best = tuner.get_best_models(1).unwrap();
    let logs = best[0].evaluate(&x, &y, 32).unwrap();
    assert!(logs.get("accuracy").unwrap() > 0.6, "{logs:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// (step, value) of `tag` in the one event file of `dir`.
fn scalar_series(dir: &Path, tag: &str) -> Vec<(i64, f32)> {
    kiln::summary::scalars(&common::events_in(dir), tag)
}

#[test]
fn a_promoted_hyperband_trial_continues_its_parents_training() {
    let Some(dev) = test_device() else { return };
    let (x, y) = toy_data(256);
    let dir = tmp("hyperband");
    let mut tuner = Tuner::new(
        &dir,
        Oracle::hyperband(3, 3),
        Objective::min("val_loss"),
        |hp| {
            let units = hp.int("units", 4, 64, 4);
            toy_model(&dev, hp.execution_seed(), 1.0, units as usize)
        },
    )
    .seed(4)
    .verbose(false);
    tuner
        .search(&x, &y, || {
            FitConfig::epochs(1).validation_split(0.25).verbose(0)
        })
        .unwrap();
    // max_epochs 3, factor 3: bracket 1 (3 trials of 1 epoch, the best continued to 3), then
    // bracket 0 (2 trials of 3 epochs), as KerasTuner runs it.
    let t = tuner.trials();
    let plans: Vec<(Option<usize>, usize)> = t
        .iter()
        .map(|t| (t.plan.epochs, t.plan.initial_epoch))
        .collect();
    assert_eq!(
        plans,
        [
            (Some(1), 0),
            (Some(1), 0),
            (Some(1), 0),
            (Some(3), 1),
            (Some(3), 0),
            (Some(3), 0)
        ]
    );
    let child = &t[3];
    let parent = t
        .iter()
        .find(|p| Some(&p.id) == child.plan.parent.as_ref())
        .unwrap();
    assert_eq!(child.values, parent.values);
    let best_first = t[..3]
        .iter()
        .map(|t| t.score.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        parent.score.unwrap(),
        best_first,
        "the best of round 0 is promoted"
    );
    let run = |t: &Trial| dir.join(t.dir_name()).join("execution0");
    let steps: Vec<i64> = scalar_series(&run(child).join("train"), "epoch_loss")
        .iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(steps, [1, 2], "the child trains epochs 2 and 3");
    // Starting from the parent's weights, its first epoch beats the parent's (fresh) one.
    let parent_loss = scalar_series(&run(parent).join("train"), "epoch_loss")[0].1;
    let child_loss = scalar_series(&run(child).join("train"), "epoch_loss")[0].1;
    assert!(
        child_loss < parent_loss,
        "child {child_loss} vs parent {parent_loss}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_image_classifier_searches_predicts_and_exports() {
    let Some(dev) = test_device() else { return };
    // 8x8 grey images of two classes: bright top half or bright bottom half, with noise.
    let mut rng = kiln::device::rng::Rng::new(9);
    let n = 160;
    let mut x = Vec::with_capacity(n * 64);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 2) as u32;
        for r in 0..8 {
            let bright = (r < 4) == (class == 0);
            for _ in 0..8 {
                x.push(if bright { 0.8 } else { 0.2 } + 0.2 * rng.uniform() as f32);
            }
        }
        y.push(class);
    }
    let x = Array::f32(x, &[n, 8, 8]).unwrap();
    let y = Array::u32(y, &[n]).unwrap();
    let dir = tmp("image_classifier");
    let mut clf = ImageClassifier::new(&dev, 2)
        .directory(&dir)
        .seed(3)
        .verbose(false);
    clf.fit(&x, &y, || {
        FitConfig::epochs(3)
            .batch_size(16)
            .validation_split(0.25)
            .verbose(0)
    })
    .unwrap();
    let p = clf.predict(&x.slice(0, 10)).unwrap();
    assert_eq!(p.shape, vec![10, 2]);
    for row in p.as_f32().unwrap().chunks(2) {
        assert!((row[0] + row[1] - 1.0).abs() < 1e-5, "{row:?}");
    }
    let acc = clf.evaluate(&x, &y).unwrap().get("accuracy").unwrap();
    assert!(acc > 0.6, "accuracy {acc}");
    let mut model = clf.export_model().unwrap();
    let path = dir.join("exported.safetensors");
    model.save(&path).unwrap();
    let mut again = kiln::nn::load_model(&path, &dev).unwrap();
    let a = model.predict(&x.slice(0, 10), 10).unwrap();
    let b = again.predict(&x.slice(0, 10), 10).unwrap();
    assert_eq!(a.as_f32(), b.as_f32());
    assert!(
        clf.predict(&x)
            .unwrap_err()
            .to_string()
            .contains("call fit first")
    );
    let e = ImageClassifier::new(&dev, 1)
        .directory(tmp("bad_images"))
        .fit(
            &Array::f32(vec![0.0; 16], &[2, 8]).unwrap(),
            &Array::u32(vec![0, 1], &[2]).unwrap(),
            FitConfig::default,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("[n, height, width]"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
