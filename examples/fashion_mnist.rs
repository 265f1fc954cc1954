//! The TensorFlow "basic classification" tutorial in kiln: Flatten -> Dense(128, relu) ->
//! Dense(10) on Fashion-MNIST, Adam, sparse categorical cross-entropy from logits, 10 epochs of
//! batch 32, then test accuracy and one prediction. Writes a TensorBoard run under
//! runs/fashion_mnist/<timestamp> (view with `tensorboard --logdir runs`) and the trained model beside
//! it as model.safetensors (open both with kiln-studio: run report and live prediction).
//!
//! Run: `cargo run --release --example fashion_mnist` (needs `apt-get install dataset-fashion-mnist`)
//! Expected: test accuracy about 0.87-0.89 (the tutorial reports 0.8703).
//! Env: KILN_EPOCHS (default 10), KILN_SAMPLES (train on the first n images),
//! KILN_TARGET_ACC (exit non-zero below it), KILN_RUN_DIR (where the run goes).

use kiln::nn::prelude::*;
use kiln::summary::HParam;

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(key) {
        Ok(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{key}={v:?} is not a valid value")),
        Err(_) => Ok(default),
    }
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    let data = FashionMnist::load()?;
    let n = env_or("KILN_SAMPLES", data.train_images.len())?.min(data.train_images.len());
    let (x_train, y_train) = (data.train_images.slice(0, n), data.train_labels.slice(0, n));

    let mut model = Sequential::with_seed(&dev, 42);
    model.add(Flatten::new())?;
    model.add(Dense::new(128).activation("relu")?)?;
    model.add(Dense::new(10))?;
    model.build(&[28, 28])?;
    print!("{}", model.summary());
    model.compile(
        Optimizer::adam(1e-3),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )?;

    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let run = env_or("KILN_RUN_DIR", format!("runs/fashion_mnist/{stamp}"))?;
    let epochs = env_or("KILN_EPOCHS", 10usize)?;
    let tensorboard = TensorBoard::new(&run)
        .histogram_freq(1)
        .write_images(9)
        .confusion_matrix(true)
        // What kiln-studio's report shows: gradient and activation histograms, and 500
        // validation examples behind the confusion matrix's cells.
        .write_grads(true)
        .activation_histograms(&["dense"])
        .eval_examples(500)
        .hparams(&[
            ("optimizer", HParam::Str("adam".into())),
            ("learning_rate", HParam::Num(1e-3)),
            ("units", HParam::Num(128.0)),
            ("batch_size", HParam::Num(32.0)),
        ]);
    let config = FitConfig::epochs(epochs)
        .batch_size(32)
        .seed(1)
        .validation_data(data.test_images.clone(), data.test_labels.clone())
        .callback(tensorboard);
    model.fit(&x_train, &y_train, config)?;

    let test = model.evaluate(&data.test_images, &data.test_labels, 32)?;
    let accuracy = test.get("accuracy").unwrap_or(0.0);
    println!(
        "\nTest accuracy: {accuracy:.4}  (loss {:.4})",
        test.get("loss").unwrap_or(f32::NAN)
    );

    // The trained model beside its run, for kiln-studio's live prediction (saved before the
    // Softmax below: the file's compiled loss says its outputs are logits).
    let model_file = std::path::Path::new(&run).join("model.safetensors");
    model.save(&model_file)?;

    // A probability model: the trained model with a Softmax appended.
    model.add(Softmax::new())?;
    let probs = model.predict(&data.test_images.slice(0, 1), 1)?;
    let p = probs.as_f32().expect("predictions are f32");
    let (class, prob) =
        p.iter().enumerate().fold(
            (0, 0.0f32),
            |best, (i, &v)| if v > best.1 { (i, v) } else { best },
        );
    let truth = data.test_labels.as_u32().expect("labels")[0] as usize;
    println!(
        "First test image: predicted {} with probability {prob:.3} (true: {})",
        FASHION_MNIST_CLASSES[class], FASHION_MNIST_CLASSES[truth]
    );
    println!(
        "TensorBoard run written to {run}; view it with: pip install tensorboard && tensorboard --logdir runs"
    );
    println!(
        "Run report and live prediction: cargo run --release -p kiln-studio -- --logdir runs --model {} --data fashion-mnist",
        model_file.display()
    );

    if let Ok(target) = std::env::var("KILN_TARGET_ACC") {
        let target: f32 = target.parse()?;
        anyhow::ensure!(
            accuracy >= target,
            "test accuracy {accuracy:.4} is below KILN_TARGET_ACC={target}"
        );
    }
    Ok(())
}
