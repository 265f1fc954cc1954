//! Transfer learning as the Keras guide does it: pretrain a small ResNet on Fashion-MNIST
//! classes 0-4 and save its weights; rebuild it without its top (global average pooling
//! instead), load the pretrained weights by name, freeze it, put a new Dense head on it for
//! classes 5-9 and train the head; then unfreeze the last stage and fine-tune with a 10x lower
//! learning rate. A frozen BatchNormalization runs in inference mode, as in Keras. One block
//! per stage and BatchNormalization momentum 0.9 keep it to a few minutes on a CPU adapter.
//!
//! Run: `cargo run --release --example transfer_learning`
//! Expected: three test accuracies, the last (classes 5-9 after fine-tuning) about 0.83;
//! `scripts/keras_transfer_reference.py` is the same script in Keras (README has both).
//! Env: KILN_EPOCHS (per phase, default 2), KILN_SAMPLES (training images per task, default
//! 3000), KILN_SEED (default 1), KILN_TARGET_ACC (applies to the final accuracy).

use kiln::nn::applications::{Pooling, SmallResNet};
use kiln::nn::prelude::*;

/// The images of classes `lo..lo + 5` as [n, 28, 28, 1], labels shifted to 0..5, at most `n`.
fn task(images: &Array, labels: &Array, lo: u32, n: usize) -> anyhow::Result<(Array, Array)> {
    let all = labels
        .as_u32()
        .ok_or_else(|| anyhow::anyhow!("Fashion-MNIST labels should be integers"))?;
    let keep: Vec<usize> = (0..all.len())
        .filter(|&i| (lo..lo + 5).contains(&all[i]))
        .take(n)
        .collect();
    let y: Vec<u32> = keep.iter().map(|&i| all[i] - lo).collect();
    let x = images.gather(&keep);
    let pixels = x
        .as_f32()
        .ok_or_else(|| anyhow::anyhow!("Fashion-MNIST images should be f32"))?;
    let len = keep.len();
    Ok((
        Array::f32(pixels.to_vec(), &[len, 28, 28, 1])?,
        Array::u32(y, &[len])?,
    ))
}

fn env(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is not a whole number: {e}")),
        Err(_) => Ok(default),
    }
}

fn compile(model: &mut Model, lr: f32) -> anyhow::Result<()> {
    let loss = Loss::SparseCategoricalCrossentropy { from_logits: true };
    Ok(model.compile(Optimizer::adam(lr), loss, &[MetricKind::Accuracy])?)
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    let data = FashionMnist::load()?;
    let (epochs, n, seed) = (
        env("KILN_EPOCHS", 2)?,
        env("KILN_SAMPLES", 3000)?,
        env("KILN_SEED", 1)? as u64,
    );
    let (xa, ya) = task(&data.train_images, &data.train_labels, 0, n)?;
    let (ta, tya) = task(&data.test_images, &data.test_labels, 0, 10_000)?;
    let (xb, yb) = task(&data.train_images, &data.train_labels, 5, n)?;
    let (tb, tyb) = task(&data.test_images, &data.test_labels, 5, 10_000)?;
    let net = SmallResNet::new()
        .blocks(1)
        .bn_momentum(0.9)
        .classes(5)
        .classifier_activation(Activation::Linear)
        .seed(seed);
    let fit = |e| FitConfig::epochs(e).batch_size(32).seed(seed).verbose(2);

    println!("\n1. pretrain on classes 0-4");
    let mut pre = net.build(&dev)?;
    compile(&mut pre, 1e-3)?;
    pre.fit(&xa, &ya, fit(epochs))?;
    let acc_pre = pre.evaluate(&ta, &tya, 256)?.get("accuracy").unwrap_or(0.0);
    let weights = std::env::temp_dir().join(format!(
        "kiln-pretrained-{}.safetensors",
        std::process::id()
    ));
    pre.save_weights(&weights)?;

    println!("\n2. new head for classes 5-9 on the frozen backbone");
    let mut base = net
        .clone()
        .include_top(false)
        .pooling(Pooling::Avg)
        .build(&dev)?;
    base.load_weights_by_name(&weights)?;
    std::fs::remove_file(&weights)?;
    let input = Input::new(&[28, 28, 1]);
    let features = base.apply(&input);
    let logits = Dense::new(5).named("head").apply(&features);
    let mut model = Model::with_seed(&dev, seed, &[&input], &[&logits])?;
    model.set_trainable("small_resnet", false)?;
    compile(&mut model, 1e-3)?;
    print!("{}", model.summary());
    model.fit(&xb, &yb, fit(epochs))?;
    let acc_head = model
        .evaluate(&tb, &tyb, 256)?
        .get("accuracy")
        .unwrap_or(0.0);

    println!("\n3. fine-tune the last stage (conv4) at a 10x lower learning rate");
    model.set_trainable("small_resnet", true)?;
    let inner: Vec<String> = model
        .get_layer("small_resnet")
        .and_then(|l| l.as_model())
        .map(|m| m.layer_names().iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    for name in inner.iter().filter(|n| !n.starts_with("conv4_")) {
        model.set_trainable(&format!("small_resnet/{name}"), false)?;
    }
    compile(&mut model, 1e-4)?;
    let (_, trainable, frozen) = model.count_params();
    println!("trainable params: {trainable}, frozen: {frozen}");
    model.fit(&xb, &yb, fit(epochs))?;
    let acc_fine = model
        .evaluate(&tb, &tyb, 256)?
        .get("accuracy")
        .unwrap_or(0.0);

    println!(
        "\ntest accuracy: pretrained (classes 0-4) {acc_pre:.4}, new head (classes 5-9) {acc_head:.4}, fine-tuned {acc_fine:.4}"
    );
    if let Ok(t) = std::env::var("KILN_TARGET_ACC") {
        let t: f32 = t.parse()?;
        anyhow::ensure!(
            acc_fine >= t,
            "final test accuracy {acc_fine:.4} is below KILN_TARGET_ACC={t}"
        );
    }
    Ok(())
}
