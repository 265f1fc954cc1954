//! `fit`, `evaluate` and `predict` on a `Dataset`: the same numbers as on the arrays it was
//! made from, Keras's `steps_per_epoch` semantics (a stream that runs on across epochs and
//! stops the fit when it runs out), exact resume with such a stream, validation datasets, and
//! errors for data a fit cannot use.

mod common;

use common::{array, tmp};
use kiln_device::rng::Rng;
use kiln_device::testing::test_device;
use kiln_nn::prelude::*;

fn data(n: usize, seed: u64) -> (Array, Array) {
    let mut rng = Rng::new(seed);
    let x = array(&mut rng, &[n, 6]);
    let y: Vec<u32> = x
        .as_f32()
        .unwrap()
        .chunks(6)
        .map(|r| u32::from(r[0] + r[1] > r[2]))
        .collect();
    (x, Array::u32(y, &[n]).unwrap())
}

fn model(dev: &Device) -> Model {
    let x = Input::new(&[6]);
    let h = Dense::new(16).activation("relu").unwrap().apply(&x);
    let h = Dropout::new(0.2).unwrap().apply(&h);
    let out = Dense::new(2).apply(&h);
    let mut m = Model::with_seed(dev, 5, &[&x], &[&out]).unwrap();
    m.compile(
        Optimizer::adam(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    m
}

fn quiet(epochs: usize) -> FitConfig {
    FitConfig {
        epochs,
        verbose: 0,
        shuffle: false,
        ..Default::default()
    }
}

#[test]
fn a_dataset_of_the_arrays_trains_evaluates_and_predicts_identically() {
    let Some(dev) = test_device() else { return };
    let (x, y) = data(100, 1);
    let ds = Dataset::from_tensor_slices(vec![x.clone()], vec![y.clone()])
        .unwrap()
        .batch(32, false)
        .unwrap();
    let (mut a, mut b) = (model(&dev), model(&dev));
    let ha = a.fit(&x, &y, quiet(3).batch_size(32)).unwrap();
    let hb = b.fit_dataset(&ds, quiet(3)).unwrap();
    assert_eq!(ha.get("loss"), hb.get("loss"));
    assert_eq!(ha.get("accuracy"), hb.get("accuracy"));
    assert_eq!(
        a.evaluate(&x, &y, 32).unwrap(),
        b.evaluate_dataset(&ds, None).unwrap()
    );
    assert_eq!(
        vec![a.predict(&x, 32).unwrap()],
        b.predict_dataset(&ds, None).unwrap()
    );
    // A validation dataset gives what evaluate_dataset gives after the epoch.
    let (vx, vy) = data(40, 2);
    let val = Dataset::from_tensor_slices(vec![vx], vec![vy])
        .unwrap()
        .batch(16, false)
        .unwrap();
    let h = b
        .fit_dataset(&ds, quiet(1).validation_dataset(val.clone(), None))
        .unwrap();
    let logs = b.evaluate_dataset(&val, None).unwrap();
    assert_eq!(h.get("val_loss")[0], logs.get("loss").unwrap());
}

#[test]
fn steps_per_epoch_runs_one_stream_across_epochs_and_stops_when_it_runs_out() {
    let Some(dev) = test_device() else { return };
    let (x, y) = data(80, 3);
    let five = Dataset::from_tensor_slices(vec![x], vec![y])
        .unwrap()
        .batch(16, false)
        .unwrap();
    let mut m = model(&dev);
    let h = m.fit_dataset(&five, quiet(4).steps_per_epoch(2)).unwrap();
    assert_eq!(
        h.epochs,
        [0, 1, 2],
        "5 batches give 2 + 2 + 1 steps, then the fit stops"
    );
    // Forever, reshuffled per repetition: 4 epochs of 3 steps, and a resumed fit continues the
    // stream where the uninterrupted one was.
    let forever = five.shuffle(5, 9).repeat(None);
    let mut full = model(&dev);
    let all = full
        .fit_dataset(&forever, quiet(4).steps_per_epoch(3))
        .unwrap()
        .get("loss");
    assert_eq!(all.len(), 4);
    let mut first = model(&dev);
    let head = first
        .fit_dataset(&forever, quiet(2).steps_per_epoch(3))
        .unwrap()
        .get("loss");
    let path = tmp("dataset-resume.safetensors");
    first.save(&path).unwrap();
    let mut resumed = load_model(&path, &dev).unwrap();
    let cfg = FitConfig {
        initial_epoch: resumed.epochs_done(),
        ..quiet(4).steps_per_epoch(3)
    };
    let tail = resumed.fit_dataset(&forever, cfg).unwrap().get("loss");
    assert_eq!(
        [head, tail].concat(),
        all,
        "resumed losses equal the uninterrupted run's"
    );
    let e = m.fit_dataset(&forever, quiet(1)).unwrap_err().to_string();
    assert!(e.contains("steps_per_epoch"), "{e}");
}

#[test]
fn unusable_batches_are_errors_naming_where() {
    let Some(dev) = test_device() else { return };
    let (x, y) = data(40, 4);
    let mut m = model(&dev);
    let unlabelled = Dataset::from_tensor_slices(vec![x.clone()], vec![])
        .unwrap()
        .batch(8, false)
        .unwrap();
    let e = m
        .fit_dataset(&unlabelled, quiet(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no targets"), "{e}");
    // The third batch has 5 features instead of 6.
    let good = Dataset::from_tensor_slices(vec![x], vec![y])
        .unwrap()
        .batch(8, false)
        .unwrap();
    let odd = Dataset::from_tensor_slices(
        vec![Array::f32(vec![0.0; 15], &[3, 5]).unwrap()],
        vec![Array::u32(vec![0; 3], &[3]).unwrap()],
    )
    .unwrap()
    .batch(3, false)
    .unwrap();
    let mixed = Dataset::from_fn(Cardinality::Known(3), move |pass| {
        let mut v = good.collect(pass)?;
        v.insert(2, odd.collect(pass)?.remove(0));
        v.truncate(3);
        Ok(Box::new(v.into_iter().map(Ok)))
    });
    let e = m.fit_dataset(&mixed, quiet(1)).unwrap_err().to_string();
    assert!(e.contains("epoch 1, batch 3") && e.contains("[5]"), "{e}");
}
