//! A one-output classifier's loss dispatch also updates the loss tracker and its accuracy
//! (`Trackers::xent_track`): the logs of `fit` and `evaluate` against the host's cross-entropy
//! and accuracy of `predict`'s outputs, for labels and one-hot targets, logits and softmax
//! heads, top-k, a last batch shorter than the others; what that saves per step; and the keys
//! the metrics are logged under (Keras's: the requested name).

use kiln_device::testing::test_device;
use kiln_nn::prelude::*;

/// Three overlapping classes in 4-D (so neither loss nor accuracy is trivial).
fn data(n: usize) -> (Array, Vec<u32>) {
    let mut rng = kiln_device::rng::Rng::new(7);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let c = i % 3;
        for d in 0..4 {
            let centre = if d % 3 == c { 1.0 } else { -0.5 };
            x.push((centre + rng.normal()) as f32);
        }
        y.push(c as u32);
    }
    (Array::f32(x, &[n, 4]).unwrap(), y)
}

fn one_hot(labels: &[u32]) -> Array {
    let v = labels
        .iter()
        .flat_map(|&l| (0..3).map(move |j| f32::from(u8::from(j == l))))
        .collect();
    Array::f32(v, &[labels.len(), 3]).unwrap()
}

fn model(dev: &Device, softmax: bool, loss: Loss, metrics: &[MetricKind]) -> Sequential {
    let mut m = Sequential::with_seed(dev, 3);
    m.add(Dense::new(8).activation("tanh").unwrap()).unwrap();
    let head = Dense::new(3);
    m.add(if softmax {
        head.activation("softmax").unwrap()
    } else {
        head
    })
    .unwrap();
    m.build(&[4]).unwrap();
    // A zero learning rate: the weights `predict` sees are the ones every step saw.
    m.compile(Optimizer::sgd(0.0), loss, metrics).unwrap();
    m
}

/// (mean cross-entropy, top-k accuracy) of the model's outputs, in f64 on the host.
fn host_logs(out: &[f32], labels: &[u32], softmax: bool, k: usize) -> (f64, f64) {
    let (mut loss, mut hits) = (0.0, 0.0);
    for (row, &l) in out.chunks(3).zip(labels) {
        let z: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        let logp = |j: usize| {
            if softmax {
                z[j].ln()
            } else {
                let m = z.iter().cloned().fold(f64::MIN, f64::max);
                z[j] - m - z.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
            }
        };
        loss -= logp(l as usize);
        let v = row[l as usize];
        let above = (0..3)
            .filter(|&j| row[j] > v || (row[j] == v && j < l as usize))
            .count();
        hits += f64::from(u8::from(above < k));
    }
    let n = labels.len() as f64;
    (loss / n, hits / n)
}

#[test]
fn fit_and_evaluate_log_the_hosts_loss_and_accuracy() {
    let Some(dev) = test_device() else { return };
    // 50 samples in batches of 16: the last batch has 2, so each batch's weight counts.
    let (x, labels) = data(50);
    let sparse = Array::u32(labels.clone(), &[50]).unwrap();
    let dense = one_hot(&labels);
    let top2 = MetricKind::SparseTopKCategoricalAccuracy { k: 2 };
    let cases = [
        // (softmax head, one-hot targets, metrics, the metric checked, its k)
        (false, false, vec![MetricKind::Accuracy], "accuracy", 1),
        (true, false, vec![top2, MetricKind::Accuracy], "accuracy", 1),
        (
            true,
            false,
            vec![top2],
            "sparse_top_k_categorical_accuracy",
            2,
        ),
        (
            false,
            true,
            vec![MetricKind::CategoricalAccuracy],
            "categorical_accuracy",
            1,
        ),
    ];
    for (softmax, one_hot_targets, metrics, key, k) in cases {
        let what = format!("softmax {softmax}, one-hot {one_hot_targets}, {key}");
        let loss = if one_hot_targets {
            Loss::CategoricalCrossentropy {
                from_logits: !softmax,
            }
        } else {
            Loss::SparseCategoricalCrossentropy {
                from_logits: !softmax,
            }
        };
        let y = if one_hot_targets { &dense } else { &sparse };
        let mut m = model(&dev, softmax, loss, &metrics);
        let cfg = FitConfig {
            epochs: 2,
            batch_size: 16,
            verbose: 0,
            ..Default::default()
        };
        let h = m.fit(&x, y, cfg).unwrap();
        let out = m.predict(&x, 16).unwrap();
        let (want_loss, want_acc) = host_logs(out.as_f32().unwrap(), &labels, softmax, k);
        let eval = m.evaluate(&x, y, 16).unwrap();
        let logs = [
            ("fit epoch 1", h.get("loss")[0], h.get(key)[0]),
            ("fit epoch 2", h.get("loss")[1], h.get(key)[1]),
            (
                "evaluate",
                eval.get("loss").unwrap(),
                eval.get(key).unwrap(),
            ),
        ];
        for (when, loss, acc) in logs {
            let err = (f64::from(loss) - want_loss).abs();
            assert!(
                err < 1e-5 * want_loss.max(1.0),
                "{what} {when}: loss {loss} vs {want_loss}"
            );
            assert_eq!(acc, want_acc as f32, "{what} {when}: {key}");
        }
        assert!(
            want_acc > 0.2 && want_acc < 1.0,
            "{what}: {want_acc} is a real score"
        );
    }
}

/// A `fit` step of a classifier spends no dispatch on its loss tracker and on its first
/// accuracy; a second accuracy costs its own dispatch.
#[test]
fn the_loss_tracker_and_first_accuracy_cost_no_dispatch() {
    let Some(dev) = test_device() else { return };
    let (x, labels) = data(48);
    let y = Array::u32(labels, &[48]).unwrap();
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: true };
    let dispatches = |metrics: &[MetricKind]| {
        let mut m = model(&dev, false, loss, metrics);
        let cfg = FitConfig {
            epochs: 1,
            batch_size: 16,
            verbose: 0,
            ..Default::default()
        };
        let before = dev.counters();
        m.fit(&x, &y, cfg).unwrap();
        dev.counters().since(&before).dispatches
    };
    let none = dispatches(&[]);
    let one = dispatches(&[MetricKind::Accuracy]);
    let two = dispatches(&[
        MetricKind::Accuracy,
        MetricKind::SparseTopKCategoricalAccuracy { k: 2 },
    ]);
    assert_eq!(
        one, none,
        "the first accuracy is scored in the loss dispatch"
    );
    // 3 steps: one scoring dispatch each for the second accuracy.
    assert_eq!(two, one + 3, "a second accuracy");
}

/// Keras logs a metric under the name it was requested by: "accuracy" for the loss-implied
/// accuracy, the kind's own name for an explicit one (checked against Keras 3.15:
/// `metrics=["accuracy", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"]`
/// logs all three, and their `val_` twins). Both accuracies score alike, and a saved model
/// keeps the requested names.
#[test]
fn metrics_are_logged_under_the_names_they_were_requested_by() {
    let Some(dev) = test_device() else { return };
    let (x, labels) = data(48);
    let sparse = Array::u32(labels.clone(), &[48]).unwrap();
    let top2 = MetricKind::SparseTopKCategoricalAccuracy { k: 2 };
    let cases = [
        (
            Loss::SparseCategoricalCrossentropy { from_logits: true },
            sparse,
            vec![
                MetricKind::Accuracy,
                MetricKind::SparseCategoricalAccuracy,
                top2,
            ],
            vec![
                "accuracy",
                "loss",
                "sparse_categorical_accuracy",
                "sparse_top_k_categorical_accuracy",
            ],
        ),
        (
            Loss::CategoricalCrossentropy { from_logits: true },
            one_hot(&labels),
            vec![MetricKind::Accuracy, MetricKind::CategoricalAccuracy],
            vec!["accuracy", "categorical_accuracy", "loss"],
        ),
    ];
    for (loss, y, metrics, expected) in cases {
        let mut m = model(&dev, false, loss, &metrics);
        let cfg = FitConfig::epochs(1).batch_size(16).validation_split(0.25);
        let h = m.fit(&x, &y, cfg.verbose(0)).unwrap();
        let mut keys: Vec<String> = h.keys();
        keys.sort();
        let val = expected.iter().map(|k| format!("val_{k}"));
        let mut want: Vec<String> = expected.iter().map(|k| k.to_string()).chain(val).collect();
        want.sort();
        assert_eq!(keys, want, "{loss:?}");
        let explicit = metrics[1].name();
        for prefix in ["", "val_"] {
            assert_eq!(
                h.get(&format!("{prefix}accuracy")),
                h.get(&format!("{prefix}{explicit}")),
                "{loss:?}: \"accuracy\" and {explicit:?} score alike"
            );
        }
        let dir = std::env::temp_dir().join(format!("kiln_metric_names_{}", std::process::id()));
        let path = dir.join("model.safetensors");
        m.save(&path).unwrap();
        let loaded = load_model(&path, &dev).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let spec = &loaded.compiled().unwrap().outputs[0];
        assert_eq!(
            spec.metrics, metrics,
            "a saved model keeps the requested metrics"
        );
    }
}
