//! Training throughput on the adapter in use: samples/s of the `fashion_mnist` MLP step and the
//! `fashion_mnist_cnn` step (batch 32), the time of each of the CNN's heavy kernels, and one epoch of
//! the MLP (60,000 synthetic images, batch 32; batches gathered on the GPU as `fit` does, and on
//! the host for comparison). Every timed region ends with a GPU wait.
//! Writes target/bench/train_step.json.
//!
//! Run: `cargo bench --bench train_step` (KILN_BENCH_QUICK=1 skips the full epoch).

use std::time::Instant;

use kiln::device::ops::conv2d::{
    Conv2dDims, ConvOptions, ConvVia, Padding, conv2d, conv2d_backward_input,
    conv2d_backward_weight,
};
use kiln::device::ops::elementwise::{UnaryOp, unary, unary_backward};
use kiln::device::ops::fill::fill;
use kiln::device::ops::matmul::{MatmulDims, MatmulOptions, matmul};
use kiln::device::ops::optim::{AdamStep, AdamVia, adam_step};
use kiln::device::ops::pool2d::{Pool2dDims, max_pool2d, max_pool2d_backward};
use kiln::device::ops::shape::gather_rows;
use kiln::nn::prelude::*;
use kiln::nn::{OutputTrackers, Trackers};

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

/// (seconds of the first step, samples/s of the next `steps` steps, dispatches per step) on one
/// fixed batch.
fn step_rate(
    dev: &Device,
    model: &mut Sequential,
    steps: usize,
) -> anyhow::Result<(f64, f64, f64)> {
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
    let dispatches = dev.counters().since(&before).dispatches as f64 / steps as f64;
    Ok((first, rate, dispatches))
}

/// `steps` more steps with the profiler on (one timed pass per dispatch and a wait per submit,
/// so slower than the steps above): where each step's GPU time goes.
fn step_profile(
    dev: &Device,
    model: &mut Sequential,
    steps: usize,
) -> anyhow::Result<kiln::device::Profile> {
    dev.start_profile();
    let result = step_rate(dev, model, steps);
    let profile = dev.profile(true);
    dev.stop_profile();
    result?;
    Ok(profile)
}

/// Milliseconds of one Adam update of every trainable weight of `model`, (one kernel per weight,
/// one kernel over the packed buffers), on the gradients of one step, recorded back to back.
fn optimizer_ms(dev: &Device, model: &mut Sequential, reps: usize) -> anyhow::Result<(f64, f64)> {
    let w = model.packed_weights()?;
    let x = Tensor::from_f32(dev, &vec![0.5; 32 * 784], &[32, 28, 28])?;
    let y = Tensor::from_u32(dev, &(0..32).map(|i| i % 10).collect::<Vec<_>>(), &[32])?;
    let loss_fn = model.compiled().expect("compiled").loss();
    let loss = loss_fn.call(&model.call(&x, true)?, &y)?;
    let grads = loss.backward_into(w.grad_targets())?;
    let (mut each, mut packed) = (Optimizer::adam(1e-3), Optimizer::adam(1e-3));
    let pairs = w.pairs();
    let mut per_weight = f64::MAX;
    let mut one = f64::MAX;
    // Alternated, best of two, so a change in the VM's load hits both alike.
    for _ in 0..2 {
        per_weight = per_weight.min(time_ms(dev, reps, || {
            Ok(each.apply_gradients(dev, &grads, &pairs)?)
        })?);
        one = one.min(time_ms(dev, reps, || {
            Ok(packed.apply_packed(dev, &grads, &w)?)
        })?);
    }
    Ok((per_weight, one))
}

/// Milliseconds per call of `f` (one warm-up, then `reps` calls, ending with a GPU wait).
fn time_ms(
    dev: &Device,
    reps: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    f()?;
    dev.synchronize()?;
    let t = Instant::now();
    for _ in 0..reps {
        f()?;
    }
    dev.synchronize()?;
    Ok(t.elapsed().as_secs_f64() * 1e3 / reps as f64)
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    let mut results = Vec::new();
    let start = Instant::now();
    let mut m = mlp(&dev)?;
    let built = start.elapsed().as_secs_f64();
    let (first, mlp_rate, mlp_dispatches) = step_rate(&dev, &mut m, 200)?;
    println!(
        "time to first step (model build {built:.2}s + first step with pipeline creation {first:.2}s): {:.2}s",
        built + first
    );
    results.push(format!("\"first_step_s\":{:.3}", built + first));
    println!(
        "MLP training step (batch 32): {mlp_rate:.0} samples/s ({mlp_dispatches:.0} dispatches per step)"
    );
    results.push(format!("\"mlp_samples_per_s\":{mlp_rate:.1}"));
    results.push(format!("\"mlp_dispatches_per_step\":{mlp_dispatches:.0}"));
    let mut c = cnn(&dev)?;
    let (_, cnn_rate, cnn_dispatches) = step_rate(&dev, &mut c, 20)?;
    println!(
        "CNN training step (batch 32): {cnn_rate:.1} samples/s ({cnn_dispatches:.0} dispatches per step)"
    );
    results.push(format!("\"cnn_dispatches_per_step\":{cnn_dispatches:.0}"));
    results.push(format!("\"cnn_samples_per_s\":{cnn_rate:.2}"));
    for (name, model, steps) in [("mlp", &mut m, 50), ("cnn", &mut c, 5)] {
        let p = step_profile(&dev, model, steps)?;
        let per_step = |d: std::time::Duration| d.as_secs_f64() * 1e3 / p.submits.max(1) as f64;
        println!(
            "{} step profile ({} profiled submits):\n{}",
            name.to_uppercase(),
            p.submits,
            p.table()
        );
        results.push(format!(
            "\"{name}_profile_gpu_ms_per_step\":{:.3}",
            per_step(p.gpu_total())
        ));
        results.push(format!(
            "\"{name}_profile_host_between_submits_ms\":{:.3}",
            per_step(p.host_between_submits)
        ));
        if let Some(top) = p.kernels.first() {
            results.push(format!("\"{name}_profile_top_kernel\":\"{}\"", top.name));
        }
    }

    // The CNN's kernels one by one, at batch 32.
    let d = Conv2dDims {
        n: 32,
        h: 28,
        w: 28,
        c: 1,
        f: 32,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        padding: Padding::Same,
    };
    let x = dev.upload(&vec![0.5f32; 32 * 784])?;
    let w = dev.upload(&vec![0.1f32; 9 * 32])?;
    let y = dev.alloc(32 * 784 * 32 * 4)?;
    let dw = dev.alloc(9 * 32 * 4)?;
    let dx = dev.alloc(32 * 784 * 4)?;
    let parts = [
        (
            "conv2d forward",
            time_ms(&dev, 5, || {
                Ok(conv2d(&dev, &x, &w, &y, &d, &ConvOptions::default())?)
            })?,
        ),
        (
            "conv2d backward input",
            time_ms(&dev, 5, || {
                Ok(conv2d_backward_input(&dev, &y, &w, &dx, &d, ConvVia::Auto)?)
            })?,
        ),
        (
            "conv2d backward weight",
            time_ms(&dev, 5, || {
                Ok(conv2d_backward_weight(
                    &dev,
                    &x,
                    &y,
                    &dw,
                    &d,
                    ConvVia::Auto,
                )?)
            })?,
        ),
    ];
    let a = dev.upload(&vec![0.5f32; 32 * 6272])?;
    let b = dev.upload(&vec![0.5f32; 6272 * 256])?;
    let cbuf = dev.alloc(32 * 256 * 4)?;
    let dense = |m, n, k, ta, tb, out: &kiln::device::GpuBuffer| {
        time_ms(&dev, 5, || {
            let (a, b) = if ta { (&b, &a) } else { (&a, &b) };
            let d = MatmulDims::new(m, n, k, ta, tb);
            Ok(matmul(&dev, a, b, out, &d, &MatmulOptions::default())?)
        })
    };
    let big = dev.alloc(6272 * 256 * 4)?;
    // The elementwise and pooling kernels on the conv output (32 x 28 x 28 x 32 values).
    let act = 32 * 784 * 32;
    let pool = Pool2dDims {
        n: 32,
        h: 28,
        w: 28,
        c: 32,
        ph: 2,
        pw: 2,
        sh: 2,
        sw: 2,
        padding: Padding::Same,
    };
    let (pooled, argmax) = (dev.alloc(act as u64)?, dev.alloc(act as u64)?);
    let act_grad = dev.alloc(act as u64 * 4)?;
    let dy_conv = dev.upload(&vec![0.25f32; act])?;
    let more = [
        (
            "dense 6272->256 forward",
            dense(32, 256, 6272, false, false, &cbuf)?,
        ),
        (
            "dense 6272->256 weight grad",
            dense(6272, 256, 32, true, false, &big)?,
        ),
        (
            "dense 6272->256 input grad",
            dense(32, 6272, 256, false, true, &big)?,
        ),
        (
            "relu backward on conv output",
            time_ms(&dev, 5, || {
                // As the fused Conv2D's backward calls it: the output as x and y, and dy.
                Ok(unary_backward(
                    &dev,
                    UnaryOp::Act(Activation::Relu),
                    &y,
                    &y,
                    &dy_conv,
                    &act_grad,
                    act,
                )?)
            })?,
        ),
        (
            "relu on conv output",
            time_ms(&dev, 5, || {
                Ok(unary(
                    &dev,
                    UnaryOp::Act(Activation::Relu),
                    &y,
                    &act_grad,
                    act,
                )?)
            })?,
        ),
        (
            "max-pool 2x2 forward",
            time_ms(&dev, 5, || {
                Ok(max_pool2d(&dev, &y, &pooled, &argmax, &pool)?)
            })?,
        ),
        (
            "max-pool 2x2 backward",
            time_ms(&dev, 5, || {
                Ok(max_pool2d_backward(
                    &dev, &pooled, &argmax, &act_grad, &pool,
                )?)
            })?,
        ),
    ];
    // One batch (32 rows of 784 words) gathered from a 60,000-row dataset in two chunks, as
    // fit's resident path does each step (lavapipe binds at most 128 MiB).
    let half = dev.upload(&vec![0.5f32; 30_000 * 784])?;
    let other = dev.upload(&vec![0.25f32; 30_000 * 784])?;
    let order = dev.upload(&(0..60_000u32).rev().collect::<Vec<_>>())?;
    let batch = dev.alloc(32 * 784 * 4)?;
    let gather = [(
        "batch gather (32 of 60,000)",
        time_ms(&dev, 50, || {
            Ok(gather_rows(
                &dev,
                &[&half, &other],
                30_000,
                60_000,
                &order,
                1000,
                32,
                784,
                &batch,
            )?)
        })?,
    )];
    // Adam over the dense 6272x256 kernel, the CNN's largest weight.
    let n = 6272 * 256;
    let (pg, pp) = (
        dev.upload(&vec![0.01f32; n])?,
        dev.upload(&vec![0.5f32; n])?,
    );
    let (pm, pv) = (dev.zeros(n as u64 * 4)?, dev.zeros(n as u64 * 4)?);
    let mut t = 0;
    let adam = [(
        "Adam on 1,605,632 weights",
        time_ms(&dev, 5, || {
            t += 1;
            let s = AdamStep {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-7,
                weight_decay: 0.0,
                t,
            };
            Ok(adam_step(&dev, &s, &pg, &pp, &pm, &pv, n, AdamVia::Auto)?)
        })?,
    )];
    // The whole optimizer update: one kernel per weight against one over the packed weights.
    let (mlp_each, mlp_packed) = optimizer_ms(&dev, &mut m, 50)?;
    let (cnn_each, cnn_packed) = optimizer_ms(&dev, &mut c, 5)?;
    let update = [
        ("MLP Adam update per weight", mlp_each),
        ("MLP Adam update packed", mlp_packed),
        ("CNN Adam update per weight", cnn_each),
        ("CNN Adam update packed", cnn_packed),
    ];
    // What one dispatch costs by itself (a 64-element fill): the price of an unfused kernel.
    let tiny = dev.alloc(256)?;
    let overhead = [(
        "one small dispatch",
        time_ms(&dev, 200, || Ok(fill(&dev, &tiny, 64, 1.0)?))?,
    )];
    for (name, ms) in parts
        .iter()
        .chain(more.iter())
        .chain(gather.iter())
        .chain(adam.iter())
        .chain(update.iter())
        .chain(overhead.iter())
    {
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
        for (on_gpu, key) in [(true, "mlp_epoch_s"), (false, "mlp_epoch_host_batches_s")] {
            let mut m = mlp(&dev)?;
            let t = Instant::now();
            let cfg = FitConfig::epochs(1).batch_size(32).verbose(0);
            m.fit(&xs, &ys, cfg.keep_data_on_gpu(on_gpu))?;
            let epoch = t.elapsed().as_secs_f64(); // fit ends with a readback, i.e. a GPU wait
            let how = if on_gpu { "on the GPU" } else { "on the host" };
            println!(
                "fashion_mnist MLP epoch (60,000 images, batch 32, batches gathered {how}): {epoch:.1}s"
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
