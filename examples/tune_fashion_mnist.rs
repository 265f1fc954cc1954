//! A KerasTuner-style search on Fashion-MNIST: an MLP whose width, depth, dropout (a
//! conditional rate), optimizer and learning rate are hyperparameters, searched with random
//! search (default) or Hyperband, each trial a TensorBoard run with an HParams session. Prints
//! the results summary, then rebuilds the best model with its best weights, reports its test
//! accuracy and saves it (`load_model` reads it back).
//!
//! Run: `cargo run --release --example tune_fashion_mnist`, then
//! `tensorboard --logdir runs/tune_fashion_mnist` (HParams tab: one session per trial).
//! Killed and started again, it resumes after the last finished trial.
//! Env: KILN_TUNER (random | hyperband | bayesian), KILN_TRIALS (trials, default 6; Hyperband
//! runs its own schedule), KILN_EPOCHS (epochs per trial, Hyperband's max_epochs; default 3),
//! KILN_SAMPLES (training images, default 10,000), KILN_SEED, KILN_TARGET_ACC (exit non-zero
//! below it), KILN_RUN_DIR (the search's directory).

use kiln::nn::callbacks::EarlyStopping;
use kiln::nn::prelude::*;
use kiln::tuner::{HyperParameters, Objective, Oracle, Sampling, Tuner};

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(key) {
        Ok(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{key}={v:?} is not a valid value")),
        Err(_) => Ok(default),
    }
}

/// The search space, declared while building (KerasTuner's `build_model(hp)`).
fn build_model(dev: &Device, hp: &mut HyperParameters) -> kiln::nn::Result<Sequential> {
    let mut model = Sequential::with_seed(dev, hp.execution_seed());
    model.add(Flatten::new())?;
    for i in 0..hp.int("layers", 1, 2, 1) {
        let units = hp.int(&format!("units_{i}"), 32, 256, 32) as usize;
        model.add(Dense::new(units).activation("relu")?)?;
    }
    if hp.boolean("dropout") {
        let rate = hp
            .conditional_scope("dropout", &[true], |hp| {
                hp.float("rate", 0.1, 0.5, Sampling::Linear)
            })
            .unwrap_or(0.0);
        model.add(Dropout::new(rate as f32)?)?;
    }
    model.add(Dense::new(10))?;
    model.build(&[28, 28])?;
    let lr = hp.float("learning_rate", 1e-4, 1e-2, Sampling::Log) as f32;
    let optimizer = match hp.choice("optimizer", &["adam", "sgd"]) {
        "sgd" => {
            let momentum = hp
                .conditional_scope("optimizer", &["sgd"], |hp| {
                    hp.float("momentum", 0.0, 0.9, Sampling::Linear)
                })
                .unwrap_or(0.0);
            Optimizer::sgd_momentum(lr, momentum as f32, false)
        }
        _ => Optimizer::adam(lr),
    };
    model.compile(
        optimizer,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )?;
    Ok(model)
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    let data = FashionMnist::load()?;
    let n = env_or("KILN_SAMPLES", 10_000usize)?.min(data.train_images.len());
    let (x, y) = (data.train_images.slice(0, n), data.train_labels.slice(0, n));
    let epochs = env_or("KILN_EPOCHS", 3usize)?;
    let trials = env_or("KILN_TRIALS", 6usize)?;
    let oracle = match env_or("KILN_TUNER", "random".to_string())?.as_str() {
        "random" => Oracle::random(trials),
        "bayesian" => Oracle::bayesian(trials),
        "hyperband" => Oracle::hyperband(epochs, 3),
        other => anyhow::bail!("KILN_TUNER={other:?}: use random, hyperband or bayesian"),
    };
    let dir = env_or("KILN_RUN_DIR", "runs/tune_fashion_mnist".to_string())?;
    let seed = env_or("KILN_SEED", 1u64)?;

    let mut tuner = Tuner::new(&dir, oracle, Objective::max("val_accuracy"), |hp| {
        build_model(&dev, hp)
    })
    .seed(seed);
    tuner.search(&x, &y, || {
        FitConfig::epochs(epochs)
            .batch_size(32)
            .seed(seed)
            .validation_split(0.2)
            .verbose(0)
            .callback(EarlyStopping::new("val_loss").patience(2))
    })?;
    println!("\n{}", tuner.results_summary(3));

    let mut best = tuner
        .get_best_models(1)?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no trial completed: see the summary above"))?;
    let test = best.evaluate(&data.test_images, &data.test_labels, 32)?;
    let accuracy = test.get("accuracy").unwrap_or(0.0);
    println!("Best model's test accuracy: {accuracy:.4}");
    let path = std::path::Path::new(&dir).join("best_model.safetensors");
    best.save(&path)?;
    println!(
        "Best model saved to {} (kiln::nn::load_model reads it); view the trials with: \
         tensorboard --logdir {dir}",
        path.display()
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
