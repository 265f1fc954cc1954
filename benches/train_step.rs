//! Training throughput on the adapter in use: samples/s of the `fashion_mnist` MLP step and the
//! `fashion_mnist_cnn` step (batch 32), the time of each of the CNN's heavy kernels
//! (`train_step/kernels.rs`), and the MLP's `fit` epoch
//! (60,000 synthetic images, batch 32, the median of epochs 2 and 3 as scripts/keras_speed.py
//! takes Keras's; batches gathered on the GPU, and on the host, `fit`'s default on CPU
//! adapters). Every timed region ends with a GPU wait.
//! Writes target/bench/train_step.json.
//!
//! Run: `cargo bench --bench train_step` (KILN_BENCH_QUICK=1 skips the full epoch).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use kiln::nn::prelude::*;
use kiln::nn::{OutputTrackers, Trackers};

#[path = "train_step/kernels.rs"]
mod kernels;

/// Wall time of each epoch, from `on_epoch_begin` to `on_epoch_end`, as Keras's callback in
/// scripts/keras_speed.py measures it.
#[derive(Clone, Default)]
struct EpochTimes(Arc<Mutex<Vec<f64>>>, Option<Instant>);

impl Callback for EpochTimes {
    fn on_epoch_begin(&mut self, _epoch: usize, _model: &mut Model) -> kiln::nn::Result<()> {
        self.1 = Some(Instant::now());
        Ok(())
    }

    fn on_epoch_end(&mut self, _: usize, _: &Logs, _: &mut Model) -> kiln::nn::Result<bool> {
        if let (Some(t), Ok(mut times)) = (self.1, self.0.lock()) {
            times.push(t.elapsed().as_secs_f64());
        }
        Ok(false)
    }
}

fn mlp(dev: &Device) -> anyhow::Result<Sequential> {
    let mut m = Sequential::with_seed(dev, 1);
    m.add(Flatten::new())?;
    m.add(Dense::new(128).activation("relu")?)?;
    m.add(Dense::new(10))?;
    m.build(&[28, 28])?;
    m.compile(
        Optimizer::adam(1e-3),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )?;
    Ok(m)
}

fn cnn(dev: &Device) -> anyhow::Result<Sequential> {
    let mut m = Sequential::with_seed(dev, 1);
    m.add(Reshape::new(&[28, 28, 1]))?;
    m.add(Conv2D::new(32, 3).padding("same")?.activation("relu")?)?;
    m.add(MaxPooling2D::new(2).padding("same")?)?;
    m.add(Flatten::new())?;
    m.add(Dense::new(256).activation("relu")?)?;
    m.add(Dense::new(128).activation("relu")?)?;
    m.add(Dense::new(10).activation("softmax")?)?;
    m.build(&[28, 28])?;
    m.compile(
        Optimizer::adam(1e-3),
        Loss::SparseCategoricalCrossentropy { from_logits: false },
        &[MetricKind::Accuracy],
    )?;
    Ok(m)
}

/// (seconds of the first step, samples/s of the next `steps` steps, dispatches and staging-texture
/// copies per step) on one fixed batch.
fn step_rate(
    dev: &Device,
    model: &mut Sequential,
    steps: usize,
) -> anyhow::Result<(f64, f64, f64, f64)> {
    let x = Tensor::from_f32(dev, &vec![0.5; 32 * 784], &[32, 28, 28])?;
    let y = Tensor::from_u32(dev, &(0..32).map(|i| i % 10).collect::<Vec<_>>(), &[32])?;
    // The loss alone is tracked (no metric kernels), as a custom loop might.
    let trackers = Trackers {
        loss: Metric::new(dev, MetricKind::Mean, "loss")?,
        outputs: vec![OutputTrackers {
            loss: None,
            metrics: Vec::new(),
        }],
    };
    let (x, y) = (std::slice::from_ref(&x), std::slice::from_ref(&y));
    let first = Instant::now();
    model.train_step(x, y, &trackers)?; // creates every pipeline the step needs
    dev.synchronize()?;
    let first = first.elapsed().as_secs_f64();
    let t = Instant::now();
    let before = dev.counters();
    for _ in 0..steps {
        model.train_step(x, y, &trackers)?;
    }
    dev.synchronize()?; // the timed region ends with a GPU wait
    let rate = 32.0 * steps as f64 / t.elapsed().as_secs_f64();
    let counted = dev.counters().since(&before);
    let per_step = |n: u64| n as f64 / steps as f64;
    Ok((
        first,
        rate,
        per_step(counted.dispatches),
        per_step(counted.staging_copies),
    ))
}

/// `steps` more steps with the profiler on (one timed pass per dispatch and a wait per submit,
/// so slower than the steps above): where each step's GPU time goes. Returns the profile and
/// the steps it covers (`step_rate`'s first step and the `steps` after it).
fn step_profile(
    dev: &Device,
    model: &mut Sequential,
    steps: usize,
) -> anyhow::Result<(kiln::device::Profile, usize)> {
    dev.start_profile();
    let result = step_rate(dev, model, steps);
    let profile = dev.profile(true);
    dev.stop_profile();
    result?;
    Ok((profile, steps + 1))
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    let mut results = Vec::new();
    let start = Instant::now();
    let mut m = mlp(&dev)?;
    let built = start.elapsed().as_secs_f64();
    let (first, mlp_rate, mlp_dispatches, mlp_copies) = step_rate(&dev, &mut m, 200)?;
    println!(
        "time to first step (model build {built:.2}s + first step with pipeline creation {first:.2}s): {:.2}s",
        built + first
    );
    results.push(format!("\"first_step_s\":{:.3}", built + first));
    println!(
        "MLP training step (batch 32): {mlp_rate:.0} samples/s ({mlp_dispatches:.0} dispatches, \
         {mlp_copies:.0} staging copies per step)"
    );
    results.push(format!("\"mlp_samples_per_s\":{mlp_rate:.1}"));
    results.push(format!("\"mlp_dispatches_per_step\":{mlp_dispatches:.0}"));
    results.push(format!("\"mlp_staging_copies_per_step\":{mlp_copies:.0}"));
    let mut c = cnn(&dev)?;
    let (_, cnn_rate, cnn_dispatches, cnn_copies) = step_rate(&dev, &mut c, 60)?;
    println!(
        "CNN training step (batch 32): {cnn_rate:.1} samples/s ({cnn_dispatches:.0} dispatches, \
         {cnn_copies:.0} staging copies per step)"
    );
    results.push(format!("\"cnn_dispatches_per_step\":{cnn_dispatches:.0}"));
    results.push(format!("\"cnn_staging_copies_per_step\":{cnn_copies:.0}"));
    results.push(format!("\"cnn_samples_per_s\":{cnn_rate:.2}"));
    for (name, model, steps) in [("mlp", &mut m, 50), ("cnn", &mut c, 5)] {
        let (p, profiled) = step_profile(&dev, model, steps)?;
        // Per training step (a step may submit more than once: the loss readback's own).
        let per_step = |d: std::time::Duration| d.as_secs_f64() * 1e3 / profiled as f64;
        println!(
            "{} step profile ({profiled} profiled steps):\n{}per step: GPU {:.3} ms in kernels + {:.3} ms between them\n",
            name.to_uppercase(),
            p.table(),
            per_step(p.gpu_total()),
            per_step(p.between_total()),
        );
        results.push(format!(
            "\"{name}_profile_gpu_ms_per_step\":{:.3}",
            per_step(p.gpu_total())
        ));
        results.push(format!(
            "\"{name}_profile_between_passes_ms_per_step\":{:.3}",
            per_step(p.between_total())
        ));
        results.push(format!(
            "\"{name}_profile_host_between_submits_ms\":{:.3}",
            per_step(p.host_between_submits)
        ));
        if let Some(top) = p.kernels.first() {
            results.push(format!("\"{name}_profile_top_kernel\":\"{}\"", top.name));
        }
    }

    for (name, ms) in kernels::kernel_times(&dev, &mut m, &mut c)? {
        println!("  {name:<30} {ms:8.2} ms");
        results.push(format!("\"{}_ms\":{ms:.3}", name.replace(' ', "_")));
    }

    if std::env::var("KILN_BENCH_QUICK").is_err() {
        let n = 60_000;
        let xs = Array::f32(
            (0..n * 784).map(|i| (i % 255) as f32 / 255.0).collect(),
            &[n, 28, 28],
        )?;
        let ys = Array::u32((0..n as u32).map(|i| i % 10).collect(), &[n])?;
        // Batches gathered on the GPU from the resident dataset (fit's default), then on the
        // host and uploaded per step, for comparison.
        // As scripts/keras_speed.py times Keras: a 3-epoch fit, each epoch from
        // on_epoch_begin to on_epoch_end (which follows the epoch's log readback, a GPU wait),
        // the median of epochs 2 and 3 (the first also pays for one-time work).
        for (on_gpu, key) in [(true, "mlp_epoch_s"), (false, "mlp_epoch_host_batches_s")] {
            let mut m = mlp(&dev)?;
            let times = EpochTimes::default();
            let cfg = FitConfig::epochs(3).batch_size(32).verbose(0);
            m.fit(
                &xs,
                &ys,
                cfg.keep_data_on_gpu(on_gpu).callback(times.clone()),
            )?;
            let t = times
                .0
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .clone();
            let [_, e2, e3] = t[..] else {
                anyhow::bail!("expected 3 epoch times, got {t:?}");
            };
            let epoch = (e2 + e3) / 2.0; // numpy's median of two
            let how = if on_gpu { "on the GPU" } else { "on the host" };
            println!(
                "fashion_mnist MLP epoch (60,000 images, batch 32, batches gathered {how}): {epoch:.2}s (epochs: {})",
                t.iter()
                    .map(|s| format!("{s:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            results.push(format!("\"{key}\":{epoch:.2}"));
        }
    }
    std::fs::create_dir_all("target/bench")?;
    let adapter = dev.info().to_string().replace('"', "'");
    std::fs::write(
        "target/bench/train_step.json",
        format!("{{\"adapter\":\"{adapter}\",{}}}\n", results.join(",")),
    )?;
    Ok(())
}
