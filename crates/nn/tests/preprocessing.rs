//! Preprocessing and augmentation layers inside models: random layers pass images through at
//! inference and replay with the seed in training, a model holding them round-trips through a
//! file, `Normalization.adapt` learns the statistics (from arrays and datasets alike), the
//! differentiable layers' gradients match central differences, and misuse is an error.

mod common;

use common::{array, quiet, tmp};
use kiln_device::rng::Rng;
use kiln_device::testing::test_device;
use kiln_nn::prelude::*;

fn images(rng: &mut Rng, n: usize) -> Array {
    let a = array(rng, &[n, 8, 10, 3]);
    Array::f32(
        a.as_f32()
            .unwrap()
            .iter()
            .map(|v| (v + 1.0) * 127.5)
            .collect(),
        &a.shape,
    )
    .unwrap()
}

fn augmenting(dev: &Device, seed: u64) -> Model {
    let x = Input::new(&[8, 10, 3]);
    let y = RandomFlip::new(FlipMode::Horizontal, Some(3)).apply(&x);
    let y = RandomRotation::new(Factor::Symmetric(0.1))
        .seed(4)
        .apply(&y);
    let y = RandomZoom::new(Factor::Symmetric(0.2), None)
        .seed(5)
        .apply(&y);
    let y = RandomContrast::new(Factor::Symmetric(0.3))
        .seed(6)
        .apply(&y);
    let y = Rescaling::new(1.0 / 255.0, 0.0).apply(&y);
    Model::with_seed(dev, seed, &[&x], &[&y]).unwrap()
}

fn run(m: &Model, x: &Array, training: bool) -> Vec<f32> {
    let dev = m.device().clone();
    no_grad(|| m.call(&x.to_tensor(&dev).unwrap(), training))
        .unwrap()
        .to_vec()
        .unwrap()
}

#[test]
fn random_layers_pass_through_at_inference_and_replay_in_training() {
    let Some(dev) = test_device() else { return };
    let x = images(&mut Rng::new(1), 4);
    let (a, b) = (augmenting(&dev, 9), augmenting(&dev, 9));
    let plain: Vec<f32> = x.as_f32().unwrap().iter().map(|v| v / 255.0).collect();
    // The first training call of each: the draws depend on the seed and the call count.
    let (first, again) = (run(&a, &x, true), run(&b, &x, true));
    assert_eq!(first, again, "same seeds, same augmentation");
    assert!(
        first.iter().zip(&plain).any(|(p, q)| (p - q).abs() > 1e-3),
        "training changes images"
    );
    assert_ne!(run(&a, &x, true), first, "each call draws anew");
    let at_inference = run(&a, &x, false);
    assert!(
        at_inference
            .iter()
            .zip(&plain)
            .all(|(p, q)| (p - q).abs() < 1e-6)
    );
}

#[test]
fn a_model_with_preprocessing_layers_round_trips_through_a_file() {
    let Some(dev) = test_device() else { return };
    let mut rng = Rng::new(2);
    let x = images(&mut rng, 16);
    let mut norm = Normalization::new();
    norm.adapt(&x).unwrap();
    let input = Input::new(&[8, 10, 3]);
    let y = Resizing::new(6, 6).crop_to_aspect_ratio(true).apply(&input);
    let y = RandomTranslation::new(Factor::Symmetric(0.1), Factor::Range([-0.2, 0.1])).apply(&y);
    let y = norm.apply(&y);
    let y = CenterCrop::new(4, 4).apply(&y);
    let y = Dense::new(2).apply(&Flatten::new().apply(&y));
    let mut m = Model::with_seed(&dev, 3, &[&input], &[&y]).unwrap();
    m.compile(
        Optimizer::adam(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    let labels = Array::u32((0..16).map(|i| i % 2).collect(), &[16]).unwrap();
    m.fit(&x, &labels, quiet(1, 8)).unwrap();
    let path = tmp("preprocessing.safetensors");
    m.save(&path).unwrap();
    let mut back = load_model(&path, &dev).unwrap();
    assert_eq!(back.summary(), m.summary());
    assert_eq!(back.predict(&x, 8).unwrap(), m.predict(&x, 8).unwrap());
    let config = back.get_layer("random_translation").unwrap().get_config();
    let range: Vec<f64> = config["width_factor"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        (range[0] + 0.2).abs() < 1e-6 && (range[1] - 0.1).abs() < 1e-6,
        "{range:?}"
    );
}

#[test]
fn normalization_adapts_from_arrays_and_datasets_alike() {
    let Some(dev) = test_device() else { return };
    let x = Array::f32(vec![1.0, 10.0, 3.0, 20.0, 5.0, 60.0, 7.0, 30.0], &[4, 2]).unwrap();
    let mut from_array = Normalization::new();
    from_array.adapt(&x).unwrap();
    let (mean, var) = from_array.stats().unwrap();
    assert_eq!(mean, [4.0, 30.0]);
    assert_eq!(var, [5.0, 350.0]);
    let ds = Dataset::from_tensor_slices(vec![x.clone()], vec![])
        .unwrap()
        .batch(3, false)
        .unwrap();
    let mut from_data = Normalization::new();
    from_data.adapt_dataset(&ds, None).unwrap();
    let (m2, v2) = from_data.stats().unwrap();
    assert!(
        m2.iter()
            .zip(&mean)
            .chain(v2.iter().zip(&var))
            .all(|(a, b)| (a - b).abs() < 1e-4)
    );
    let input = Input::new(&[2]);
    let out = from_array.apply(&input);
    let model = Model::new(&dev, &[&input], &[&out]).unwrap();
    let y = run(&model, &x, false);
    assert!((y[0] - (1.0 - 4.0) / 5f32.sqrt()).abs() < 1e-5, "{y:?}");
    let bad = Normalization::with_stats(vec![1.0, 2.0, 3.0], vec![1.0; 3]).unwrap();
    let e = Model::new(&dev, &[&input], &[&bad.apply(&input)])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("3 statistics") && e.contains("2 features"),
        "{e}"
    );
}

/// d sum(layer(x) * r) / dx against central differences of the layer's own forward.
fn gradient_check(dev: &Device, layer: impl Layer + 'static, shape: &[usize], seed: u64) {
    let mut rng = Rng::new(seed);
    let x0: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.uniform() as f32 + 0.5)
        .collect();
    let input = Input::new(&shape[1..]);
    let y = layer.apply(&input);
    let model = Model::with_seed(dev, seed, &[&input], &[&y]).unwrap();
    let out: usize = model.output_shape().unwrap().iter().product::<usize>() * shape[0];
    let r: Vec<f32> = (0..out).map(|_| rng.uniform() as f32 - 0.5).collect();
    let objective = |x: &[f32]| -> f64 {
        let y = run(&model, &Array::f32(x.to_vec(), shape).unwrap(), true);
        y.iter().zip(&r).map(|(a, b)| (a * b) as f64).sum()
    };
    let x = Tensor::from_f32(dev, &x0, shape).unwrap().requires_grad();
    let y = model.call(&x, true).unwrap();
    let rt = Tensor::from_f32(dev, &r, y.shape()).unwrap();
    let grads = y.mul(&rt).unwrap().sum_all().unwrap().backward().unwrap();
    let g = grads.get(&x).unwrap().to_vec().unwrap();
    for i in (0..x0.len()).step_by(7) {
        let h = 1e-2;
        let (mut up, mut down) = (x0.clone(), x0.clone());
        up[i] += h;
        down[i] -= h;
        let numeric = (objective(&up) - objective(&down)) / (2.0 * h as f64);
        assert!(
            (g[i] as f64 - numeric).abs() < 2e-3 * numeric.abs().max(1.0),
            "{}: d/dx[{i}] = {} vs {numeric}",
            model.layer_names().last().unwrap(),
            g[i]
        );
    }
}

#[test]
fn differentiable_layers_match_central_differences() {
    let Some(dev) = test_device() else { return };
    gradient_check(&dev, Rescaling::new(2.5, -1.0), &[2, 3, 4, 2], 1);
    gradient_check(
        &dev,
        Normalization::with_stats(vec![1.0, 0.5], vec![4.0, 0.25]).unwrap(),
        &[2, 3, 4, 2],
        2,
    );
    // A fixed factor (1.3) and a range wide enough that nothing clips.
    let contrast = RandomContrast::new(Factor::Range([-0.3, 0.3])).value_range(-100.0, 100.0);
    gradient_check(&dev, contrast, &[2, 3, 4, 2], 3);
    gradient_check(&dev, CenterCrop::new(2, 3), &[2, 4, 5, 2], 4);
}

#[test]
fn misuse_is_an_error_naming_the_layer() {
    let Some(dev) = test_device() else { return };
    // A rotation after a trainable layer would stop its gradient: refused in training.
    let x = Input::new(&[6, 6, 1]);
    let c = Conv2D::new(2, 3).padding("same").unwrap().apply(&x);
    let y = RandomRotation::new(Factor::Symmetric(0.1)).apply(&c);
    let y = Dense::new(2).apply(&Flatten::new().apply(&y));
    let mut m = Model::new(&dev, &[&x], &[&y]).unwrap();
    m.compile(
        Optimizer::adam(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[],
    )
    .unwrap();
    let xs = images(&mut Rng::new(5), 4);
    let xs = Array::f32(xs.as_f32().unwrap()[..4 * 36].to_vec(), &[4, 6, 6, 1]).unwrap();
    let ys = Array::u32(vec![0, 1, 0, 1], &[4]).unwrap();
    let e = m.fit(&xs, &ys, quiet(1, 4)).unwrap_err().to_string();
    assert!(
        e.contains("no gradient") && e.contains("before any trainable layer"),
        "{e}"
    );
    let input = Input::new(&[6, 6, 1]);
    let e = Model::new(
        &dev,
        &[&input],
        &[&RandomZoom::new(Factor::Range([-1.5, 0.2]), None).apply(&input)],
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("RandomZoom"), "{e}");
    let e = Model::new(&dev, &[&input], &[&Resizing::new(0, 4).apply(&input)])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("Resizing") && e.contains("positive"), "{e}");
    let flat = Input::new(&[6]);
    let e = Model::new(
        &dev,
        &[&flat],
        &[&RandomFlip::new(FlipMode::Vertical, None).apply(&flat)],
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("RandomFlip") && e.contains("[height, width, channels]"),
        "{e}"
    );
}
