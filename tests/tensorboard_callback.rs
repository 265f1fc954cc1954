//! The TensorBoard callback end to end: a fit with every option on writes train / validation /
//! hparams runs whose epoch scalars equal the History (read back with kiln's reader), and the
//! real TensorBoard (../shared/tbcheck) loads every tab's data. The test script installs
//! TensorBoard and sets KILN_REQUIRE_TBCHECK=1; elsewhere that half is skipped with the reason.

mod common;

use kiln::device::testing::test_device;
use kiln::nn::prelude::*;
use kiln::summary::{HParam, scalars};

/// 8x8 images of a horizontal (class 0) or vertical (class 1) bar at a random position.
fn bars(n: usize, seed: u64) -> (Array, Array) {
    let mut rng = kiln::device::rng::Rng::new(seed);
    let (mut x, mut y) = (vec![0.0f32; n * 64], Vec::new());
    for i in 0..n {
        let class = (i % 2) as u32;
        let at = rng.below(8) as usize;
        for k in 0..8 {
            let (r, c) = if class == 0 { (at, k) } else { (k, at) };
            x[i * 64 + r * 8 + c] = 1.0;
        }
        y.push(class);
    }
    (
        Array::f32(x, &[n, 8, 8]).unwrap(),
        Array::u32(y, &[n]).unwrap(),
    )
}

/// Reshape -> Conv2D(4, 3, relu) -> Flatten -> Dense(2), compiled with `opt`.
fn bar_classifier(dev: &Device, seed: u64, opt: Optimizer) -> Sequential {
    let mut m = Sequential::with_seed(dev, seed);
    m.add(Reshape::new(&[8, 8, 1])).unwrap();
    m.add(Conv2D::new(4, 3).activation("relu").unwrap())
        .unwrap();
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(2)).unwrap();
    m.compile(
        opt,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    m
}

#[test]
fn tensorboard_callback_writes_what_keras_writes_and_more() {
    let Some(dev) = test_device() else { return };
    let logdir = std::env::temp_dir().join(format!("kiln-tb-callback-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logdir);
    let (x, y) = bars(128, 1);
    let (vx, vy) = bars(32, 2);
    let mut m = bar_classifier(&dev, 3, Optimizer::adam(0.01));
    let tb = TensorBoard::new(&logdir)
        .histogram_freq(1)
        .write_images(4)
        .update_freq(UpdateFreq::Batches(2))
        .confusion_matrix(true)
        .hparams(&[
            ("lr", HParam::Num(0.01)),
            ("opt", HParam::Str("adam".into())),
        ]);
    let cfg = FitConfig::epochs(3)
        .batch_size(16)
        .verbose(0)
        .validation_data(vx, vy)
        .callback(tb);
    let h = m.fit(&x, &y, cfg).unwrap();

    let train = common::events_in(&logdir.join("train"));
    let val = common::events_in(&logdir.join("validation"));
    let as_steps = |v: Vec<f32>| {
        v.into_iter()
            .enumerate()
            .map(|(i, x)| (i as i64, x))
            .collect::<Vec<_>>()
    };
    assert_eq!(scalars(&train, "epoch_loss"), as_steps(h.get("loss")));
    assert_eq!(
        scalars(&train, "epoch_accuracy"),
        as_steps(h.get("accuracy"))
    );
    assert_eq!(
        scalars(&val, "epoch_loss"),
        as_steps(h.get("val_loss")),
        "val_ prefix stripped in validation/"
    );
    assert_eq!(scalars(&train, "epoch_learning_rate").len(), 3);
    let batch = scalars(&train, "batch_loss");
    assert_eq!(
        batch.iter().map(|b| b.0).collect::<Vec<_>>(),
        vec![2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24],
        "every 2 of 24 global steps"
    );
    common::tbcheck(
        &logdir,
        &[
            "scalar:train/epoch_loss==3",
            "scalar:train/epoch_accuracy==3",
            "scalar:train/epoch_learning_rate==3",
            "scalar:train/epoch_time==3",
            "scalar:train/batch_loss==12",
            "scalar:validation/epoch_loss==3",
            "scalar:validation/epoch_accuracy==3",
            "histogram:train/sequential/conv2d/kernel/histogram==3",
            "histogram:train/sequential/dense/bias/histogram==3",
            "image:train/input_samples>=1",
            "image:validation/confusion_matrix==3",
            "text:validation/confusion_matrix_table==3",
            "text:train/model_summary>=1",
            "graph:train",
            "hparams:.",
        ],
    );
    let _ = std::fs::remove_dir_all(&logdir);
}

/// A functional model's run: the Graphs tab gets the DAG itself, so the skip connection is an
/// `Add` node reading both the stem and the branch, and TensorBoard loads it.
#[test]
fn a_functional_models_graph_shows_its_skip_connection() {
    let Some(dev) = test_device() else { return };
    let logdir = std::env::temp_dir().join(format!("kiln-tb-functional-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logdir);
    let (x, y) = bars(64, 4);
    let input = Input::named("bars", &[8, 8]);
    let image = Reshape::new(&[8, 8, 1]).apply(&input);
    let conv = |name: &str, x: &SymbolicTensor| {
        Conv2D::new(4, 3)
            .padding("same")
            .unwrap()
            .named(name)
            .apply(x)
    };
    let stem = conv("stem", &image);
    let branch = conv("branch", &stem);
    let joined = Add::new().named("skip").apply_many(&[&stem, &branch]);
    let logits = Dense::new(2).apply(&Flatten::new().apply(&joined));
    let mut m = Model::with_seed(&dev, 5, &[&input], &[&logits]).unwrap();
    m.compile(
        Optimizer::adam(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    let cfg = FitConfig::epochs(2)
        .batch_size(16)
        .verbose(0)
        .callback(TensorBoard::new(&logdir).histogram_freq(1));
    m.fit(&x, &y, cfg).unwrap();
    let graph = common::events_in(&logdir.join("train"))
        .into_iter()
        .find_map(|e| match e.what {
            Some(kiln::summary::proto::event::What::GraphDef(bytes)) => Some(bytes),
            _ => None,
        })
        .expect("a graph event");
    let graph =
        <kiln::summary::graph::GraphDef as prost::Message>::decode(graph.as_slice()).unwrap();
    let skip = graph
        .node
        .iter()
        .find(|n| n.op == "Add")
        .expect("an Add node");
    assert_eq!(
        skip.input,
        ["functional/stem", "functional/branch"],
        "{graph:?}"
    );
    let stem_readers = graph
        .node
        .iter()
        .filter(|n| n.input.iter().any(|i| i == "functional/stem"))
        .count();
    assert_eq!(stem_readers, 2, "the stem feeds the branch and the skip");
    common::tbcheck(
        &logdir,
        &[
            "scalar:train/epoch_loss==2",
            "histogram:train/functional/stem/kernel/histogram==2",
            "histogram:train/functional/branch/kernel/histogram==2",
            "text:train/model_summary>=1",
            "graph:train",
        ],
    );
    let _ = std::fs::remove_dir_all(&logdir);
}

#[test]
fn a_profiled_fit_writes_where_each_epochs_gpu_time_went() {
    let Some(dev) = test_device() else { return };
    let logdir = std::env::temp_dir().join(format!("kiln-tb-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logdir);
    let (x, y) = bars(64, 5);
    let mut m = Sequential::with_seed(&dev, 3);
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(8).activation("relu").unwrap()).unwrap();
    m.add(Dense::new(2)).unwrap();
    m.compile(
        Optimizer::adam(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    let cfg = FitConfig::epochs(2)
        .batch_size(16)
        .verbose(0)
        .callback(TensorBoard::new(&logdir).profile(true));
    let unprofiled = m
        .fit(&x, &y, FitConfig::epochs(1).batch_size(16).verbose(0))
        .unwrap();
    let h = m.fit(&x, &y, cfg).unwrap();
    assert_eq!(h.logs.len(), 2);
    assert!(unprofiled.logs[0].get("loss").is_some());
    let train = common::events_in(&logdir.join("train"));
    assert_eq!(
        scalars(&train, "profile/host_between_submits_ms_per_submit").len(),
        2
    );
    if dev.info().timestamp_queries {
        let gpu = scalars(&train, "profile/gpu_ms_per_submit");
        assert!(
            gpu.len() == 2 && gpu.iter().all(|(_, ms)| *ms > 0.0),
            "{gpu:?}"
        );
        // The GPU time between dispatches, per epoch (the Dense layers' staging copies and
        // pass changes on CPU adapters).
        let between = scalars(&train, "profile/between_passes_ms_per_submit");
        assert!(
            between.len() == 2 && between.iter().all(|(_, ms)| *ms >= 0.0),
            "{between:?}"
        );
        // The Adam update runs once per step: 4 steps per epoch.
        let adam: Vec<String> = train
            .iter()
            .filter_map(|e| match &e.what {
                Some(kiln::summary::proto::event::What::Summary(s)) => Some(s),
                _ => None,
            })
            .flat_map(|s| s.value.iter().map(|v| v.tag.clone()))
            .filter(|t| t.starts_with("profile/adam"))
            .collect();
        assert!(!adam.is_empty(), "an Adam kernel is profiled");
    }
    // Profiling ends with the fit.
    assert_eq!(dev.profile(false).submits, 0);
    common::tbcheck(&logdir, &["scalar:train/profile/gpu_ms_per_submit==2"]);
    let _ = std::fs::remove_dir_all(&logdir);
}

/// What kiln-studio's report reads: gradient and activation histograms and the evaluation
/// examples. `Model::gradients` must equal the step plain SGD (lr 1) takes on the same batch,
/// the activations of the last layer must be `predict`'s outputs, and each epoch's examples
/// must hold the labels, `predict`'s argmax and probabilities summing to 1.
#[test]
fn gradients_activations_and_eval_examples_are_the_models_own() {
    let Some(dev) = test_device() else { return };
    let logdir = std::env::temp_dir().join(format!("kiln-tb-inspect-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logdir);
    let (x, y) = bars(32, 4);
    let (vx, vy) = bars(24, 5);
    let build = || bar_classifier(&dev, 9, Optimizer::sgd(1.0));
    // One full-batch SGD step: w1 = w0 - grad.
    let mut m = build();
    m.build(&[8, 8]).unwrap();
    let grads = m.gradients(&x, &y).unwrap();
    let w0 = m.get_weights().unwrap();
    let cfg = FitConfig::epochs(1).batch_size(32).verbose(0);
    m.fit(&x, &y, cfg).unwrap();
    let w1 = m.get_weights().unwrap();
    assert_eq!(grads.len(), w0.len(), "a gradient for every weight");
    for (((name, g), a), b) in grads.iter().zip(&w0).zip(&w1) {
        for ((g, a), b) in g.iter().zip(a).zip(b) {
            assert!(
                (a - b - g).abs() <= 1e-5 + 1e-4 * g.abs(),
                "{name}: {g} vs {}",
                a - b
            );
        }
    }
    let acts = m.activations(&vx, &["conv2d", "dense"]).unwrap();
    assert_eq!(acts[0].1.len(), 24 * 6 * 6 * 4);
    assert!(acts[0].1.iter().all(|&v| v >= 0.0), "relu outputs");
    let logits = m.predict(&vx, 8).unwrap();
    assert_eq!(acts[1].1, logits.as_f32().unwrap());
    assert!(m.activations(&vx, &["nope"]).is_err());

    let mut m = build();
    let tb = TensorBoard::new(&logdir)
        .histogram_freq(1)
        .write_grads(true)
        .activation_histograms(&["conv2d"])
        .eval_examples(10);
    let cfg = FitConfig::epochs(2)
        .batch_size(8)
        .verbose(0)
        .validation_data(vx.clone(), vy.clone())
        .callback(tb);
    m.fit(&x, &y, cfg).unwrap();
    let val = common::events_in(&logdir.join("validation"));
    let last = val
        .iter()
        .rev()
        .find_map(|e| match &e.what {
            Some(kiln::summary::proto::event::What::Summary(s)) => s
                .value
                .iter()
                .find(|v| v.tag == "evaluation/examples")
                .cloned(),
            _ => None,
        })
        .expect("evaluation examples");
    let epochs = val
        .iter()
        .filter(|e| {
            matches!(&e.what, Some(kiln::summary::proto::event::What::Summary(s))
            if s.value.iter().any(|v| v.tag == "evaluation/examples"))
        })
        .count();
    assert_eq!(epochs, 2, "one record per epoch");
    let t = last.tensor.unwrap();
    let rows: Vec<f32> = t
        .tensor_content
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(
        rows.len(),
        10 * 4,
        "10 rows of label, prediction, 2 probabilities"
    );
    let probs = m.predict(&vx.slice(0, 10), 10).unwrap();
    let labels = vy.as_u32().unwrap();
    for (i, r) in rows.chunks(4).enumerate() {
        assert_eq!(r[0], labels[i] as f32);
        let p = &probs.as_f32().unwrap()[i * 2..i * 2 + 2];
        assert_eq!(r[1], if p[1] > p[0] { 1.0 } else { 0.0 });
        assert!((r[2] + r[3] - 1.0).abs() < 1e-5);
    }
    let images = Array::load_npy(logdir.join("validation/eval_examples.npy")).unwrap();
    assert_eq!(images, vx.slice(0, 10));
    common::tbcheck(
        &logdir,
        &[
            "histogram:train/sequential/conv2d/kernel/gradient==2",
            "histogram:train/sequential/dense/bias/gradient==2",
            "histogram:train/conv2d/activation==2",
            "tensor:validation/evaluation/examples>=1",
        ],
    );
    let _ = std::fs::remove_dir_all(&logdir);
}
