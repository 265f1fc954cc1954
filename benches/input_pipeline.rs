//! The image-folder input pipeline: images/s decoded from a folder of PNGs (Fashion-MNIST
//! exported as in examples/export_image_folder.rs) with one and with several decode threads,
//! with and without `prefetch`; and, training the `fashion_mnist_cnn` model from that folder,
//! the share of the step time the training loop waits for its next batch (the goal is under
//! 5%). Each timed training region ends with a GPU wait. Writes target/bench/input_pipeline.json.
//!
//! Run: `cargo bench --bench input_pipeline` (KILN_BENCH_QUICK=1 uses 2,048 images, else 8,192).

use std::path::Path;
use std::time::{Duration, Instant};

use kiln::nn::prelude::*;

fn export(dir: &Path, n: usize) -> anyhow::Result<()> {
    if dir.join("done").exists() {
        return Ok(());
    }
    let data = FashionMnist::load()?;
    let pixels = data.train_images.as_f32().unwrap_or_default();
    let labels = data.train_labels.as_u32().unwrap_or_default();
    for i in 0..n {
        let class = dir.join(format!("class_{}", labels[i]));
        std::fs::create_dir_all(&class)?;
        let bytes: Vec<u8> = pixels[i * 784..(i + 1) * 784]
            .iter()
            .map(|&p| (p * 255.0) as u8)
            .collect();
        image::GrayImage::from_raw(28, 28, bytes)
            .ok_or_else(|| anyhow::anyhow!("28x28"))?
            .save(class.join(format!("{i:05}.png")))?;
    }
    std::fs::write(dir.join("done"), "")?;
    Ok(())
}

fn cnn(dev: &Device) -> anyhow::Result<Model> {
    let x = Input::new(&[28, 28, 1]);
    let y = Rescaling::new(1.0 / 255.0, 0.0).apply(&x);
    let y = Conv2D::new(32, 3)
        .padding("same")?
        .activation("relu")?
        .apply(&y);
    let y = MaxPooling2D::new(2).padding("same")?.apply(&y);
    let y = Dense::new(256)
        .activation("relu")?
        .apply(&Flatten::new().apply(&y));
    let y = Dense::new(128).activation("relu")?.apply(&y);
    let y = Dense::new(10).apply(&y);
    let mut m = Model::with_seed(dev, 1, &[&x], &[&y])?;
    m.compile(
        Optimizer::adam(1e-3),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )?;
    Ok(m)
}

/// Images per second of one pass.
fn decode_rate(ds: &Dataset) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut n = 0;
    for e in ds.iter(0)? {
        n += e?.len();
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// (seconds waiting for batches, seconds in total) of one training pass over `ds`.
fn train_pass(dev: &Device, model: &mut Model, ds: &Dataset) -> anyhow::Result<(f64, f64)> {
    let trackers = model.trackers()?;
    let started = Instant::now();
    let mut waiting = Duration::ZERO;
    let mut stream = ds.iter(0)?;
    loop {
        let asked = Instant::now();
        let Some(batch) = stream.next() else { break };
        waiting += asked.elapsed();
        let batch = batch?;
        let x = batch.x[0].to_tensor(dev)?;
        let y = batch.y[0].to_tensor(dev)?;
        model.train_step(&[x], &[y], &trackers)?;
    }
    dev.synchronize()?;
    Ok((waiting.as_secs_f64(), started.elapsed().as_secs_f64()))
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    let quick = std::env::var("KILN_BENCH_QUICK").is_ok();
    let n = if quick { 2048 } else { 8192 };
    let dir = std::path::PathBuf::from(format!("target/bench/png-{n}"));
    export(&dir, n)?;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let mut results = vec![format!("\"images\":{n}"), format!("\"cores\":{cores}")];
    let folder = |threads: usize| {
        let mut f = image_dataset_from_directory(&dir)
            .image_size(28, 28)
            .color_mode(kiln::nn::data::ColorMode::Grayscale)
            .seed(1);
        f.threads = threads;
        f
    };
    // Decoding alone: the loader's prefetch is on by default; "no prefetch" pulls the decoded
    // batches on the calling thread (map with one thread, no queue).
    for threads in [1, cores] {
        let rate = decode_rate(&folder(threads).load()?)?;
        println!("decode, {threads} thread(s), prefetch: {rate:.0} images/s");
        results.push(format!("\"decode_threads_{threads}\":{rate:.0}"));
    }
    let files: Vec<std::path::PathBuf> = folder(1).load()?.file_paths().to_vec();
    let plain = Dataset::from_tensor_slices(
        vec![Array::u32(
            (0..files.len() as u32).collect(),
            &[files.len()],
        )?],
        vec![],
    )?
    .map(move |e| {
        let i = e.x[0].as_u32().unwrap_or_default()[0] as usize;
        let img = image::open(&files[i])
            .map_err(|e| kiln::nn::NnError::Input(e.to_string()))?
            .to_luma8();
        let x = Array::f32(
            img.into_raw().into_iter().map(f32::from).collect(),
            &[1, 28, 28, 1],
        )?;
        Ok(Element {
            x: vec![x],
            y: vec![Array::u32(vec![0], &[1])?],
        })
    })
    .batch(32, false)?;
    let rate = decode_rate(&plain)?;
    println!("decode, 1 thread, no prefetch (map on the caller): {rate:.0} images/s");
    results.push(format!("\"decode_no_prefetch\":{rate:.0}"));

    // Training from the folder: how long the loop waits for its next batch.
    let mut model = cnn(&dev)?;
    let warm = folder(cores).load()?.take(4);
    train_pass(&dev, &mut model, &warm)?;
    for (label, threads) in [("prefetch, all cores", cores), ("prefetch, 1 thread", 1)] {
        let (wait, total) = train_pass(&dev, &mut model, &folder(threads).load()?)?;
        let share = 100.0 * wait / total;
        println!(
            "CNN from the folder ({label}): {:.1} s, waiting for data {share:.1}% of it",
            total
        );
        results.push(format!("\"wait_share_threads_{threads}\":{share:.2}"));
    }
    std::fs::create_dir_all("target/bench")?;
    let adapter = dev.info().to_string().replace('"', "'");
    std::fs::write(
        "target/bench/input_pipeline.json",
        format!("{{\"adapter\":\"{adapter}\",{}}}\n", results.join(",")),
    )?;
    Ok(())
}
