//! Writes Fashion-MNIST as PNG files, one folder per class name, so the image-folder workflow
//! (`image_dataset_from_directory`) runs on a fresh machine without other data:
//! DIR/train/<class>/<index>.png (60,000 images) and DIR/test/<class>/<index>.png (10,000).
//! Class names are Fashion-MNIST's with "/" replaced ("T-shirt_top").
//!
//! Run: `cargo run --release --example export_image_folder -- DIR` (default
//! target/fashion_mnist_png). Env: KILN_SAMPLES (images per split, default all).

use std::path::{Path, PathBuf};

use kiln::nn::prelude::*;

fn export(images: &Array, labels: &Array, dir: &Path, n: usize) -> anyhow::Result<()> {
    let pixels = images
        .as_f32()
        .ok_or_else(|| anyhow::anyhow!("images should be f32"))?;
    let labels = labels
        .as_u32()
        .ok_or_else(|| anyhow::anyhow!("labels should be u32"))?;
    for name in FASHION_MNIST_CLASSES {
        std::fs::create_dir_all(dir.join(name.replace('/', "_")))?;
    }
    for i in 0..n.min(labels.len()) {
        let bytes: Vec<u8> = pixels[i * 784..(i + 1) * 784]
            .iter()
            .map(|&p| (p * 255.0).round() as u8)
            .collect();
        let class = FASHION_MNIST_CLASSES[labels[i] as usize].replace('/', "_");
        let path = dir.join(class).join(format!("{i:05}.png"));
        image::GrayImage::from_raw(28, 28, bytes)
            .ok_or_else(|| anyhow::anyhow!("28x28 pixels expected"))?
            .save(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/fashion_mnist_png"), PathBuf::from);
    let n: usize = match std::env::var("KILN_SAMPLES") {
        Ok(v) => v
            .parse()
            .map_err(|e| anyhow::anyhow!("KILN_SAMPLES={v:?}: {e}"))?,
        Err(_) => usize::MAX,
    };
    let data = FashionMnist::load()?;
    let started = std::time::Instant::now();
    export(
        &data.train_images,
        &data.train_labels,
        &dir.join("train"),
        n,
    )?;
    export(&data.test_images, &data.test_labels, &dir.join("test"), n)?;
    println!(
        "wrote Fashion-MNIST as PNG to {} (train/, test/; one folder per class) in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
