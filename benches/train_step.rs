//! Training throughput on the adapter in use: samples/s of the `fashion_mnist` MLP step and the
//! `fashion_mnist_cnn` step (batch 32), the time of each of the CNN's heavy kernels, and one epoch of
//! the MLP (60,000 synthetic images, batch 32). Every timed region ends with a GPU wait.
//! Writes target/bench/train_step.json.
//!
//! Run: `cargo bench --bench train_step` (KILN_BENCH_QUICK=1 skips the full epoch).

use std::time::Instant;

use kiln::device::ops::conv2d::{
    Conv2dDims, Padding, conv2d, conv2d_backward_input, conv2d_backward_weight,
};
use kiln::device::ops::elementwise::{BinaryOp, UnaryOp, binary, broadcast, unary};
use kiln::device::ops::matmul::{MatmulDims, matmul};
use kiln::device::ops::pool2d::{Pool2dDims, max_pool2d, max_pool2d_backward};
use kiln::nn::prelude::*;

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

/// (seconds of the first step, samples/s of the next `steps` steps) on one fixed batch.
fn step_rate(dev: &Device, model: &mut Sequential, steps: usize) -> anyhow::Result<(f64, f64)> {
    let x = Tensor::from_f32(dev, &vec![0.5; 32 * 784], &[32, 28, 28])?;
    let y = Tensor::from_u32(dev, &(0..32).map(|i| i % 10).collect::<Vec<_>>(), &[32])?;
    let loss = Metric::new(dev, MetricKind::Mean, "loss")?;
    let first = Instant::now();
    model.train_step(&x, &y, &loss, &[])?; // creates every pipeline the step needs
    dev.synchronize()?;
    let first = first.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..steps {
        model.train_step(&x, &y, &loss, &[])?;
    }
    dev.synchronize()?; // the timed region ends with a GPU wait
    Ok((first, 32.0 * steps as f64 / t.elapsed().as_secs_f64()))
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
    let (first, mlp_rate) = step_rate(&dev, &mut m, 200)?;
    println!(
        "time to first step (model build {built:.2}s + first step with pipeline creation {first:.2}s): {:.2}s",
        built + first
    );
    results.push(format!("\"first_step_s\":{:.3}", built + first));
    println!("MLP training step (batch 32): {mlp_rate:.0} samples/s");
    results.push(format!("\"mlp_samples_per_s\":{mlp_rate:.1}"));
    let mut c = cnn(&dev)?;
    let (_, cnn_rate) = step_rate(&dev, &mut c, 5)?;
    println!("CNN training step (batch 32): {cnn_rate:.1} samples/s");
    results.push(format!("\"cnn_samples_per_s\":{cnn_rate:.2}"));

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
            time_ms(&dev, 5, || Ok(conv2d(&dev, &x, &w, &w, false, &y, &d)?))?,
        ),
        (
            "conv2d backward input",
            time_ms(&dev, 5, || {
                Ok(conv2d_backward_input(&dev, &y, &w, &dx, &d)?)
            })?,
        ),
        (
            "conv2d backward weight",
            time_ms(&dev, 5, || {
                Ok(conv2d_backward_weight(&dev, &x, &y, &dw, &d)?)
            })?,
        ),
    ];
    let a = dev.upload(&vec![0.5f32; 32 * 6272])?;
    let b = dev.upload(&vec![0.5f32; 6272 * 256])?;
    let cbuf = dev.alloc(32 * 256 * 4)?;
    let dense = |m, n, k, ta, tb, out: &kiln::device::GpuBuffer| {
        time_ms(&dev, 5, || {
            let (a, b) = if ta { (&b, &a) } else { (&a, &b) };
            Ok(matmul(&dev, a, b, out, &MatmulDims::new(m, n, k, ta, tb))?)
        })
    };
    let big = dev.alloc(6272 * 256 * 4)?;
    // The elementwise and pooling kernels on the conv output (32 x 28 x 28 x 32 values).
    let act = 32 * 784 * 32;
    let bias = dev.upload(&[0.1f32; 32])?;
    let bc = broadcast(&[32, 28, 28, 32], &[32]).expect("compatible shapes");
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
            "bias add on conv output",
            time_ms(&dev, 5, || {
                Ok(binary(&dev, BinaryOp::Add, &y, &bias, &act_grad, &bc)?)
            })?,
        ),
        (
            "relu on conv output",
            time_ms(&dev, 5, || {
                Ok(unary(&dev, UnaryOp::Relu, &y, &act_grad, act)?)
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
    for (name, ms) in parts.iter().chain(more.iter()) {
        println!("  {name:<28} {ms:8.2} ms");
        results.push(format!("\"{}_ms\":{ms:.3}", name.replace(' ', "_")));
    }

    if std::env::var("KILN_BENCH_QUICK").is_err() {
        let n = 60_000;
        let xs = Array::f32(
            (0..n * 784).map(|i| (i % 255) as f32 / 255.0).collect(),
            &[n, 28, 28],
        )?;
        let ys = Array::u32((0..n as u32).map(|i| i % 10).collect(), &[n])?;
        let mut m = mlp(&dev)?;
        let t = Instant::now();
        m.fit(&xs, &ys, FitConfig::epochs(1).batch_size(32).verbose(0))?;
        let epoch = t.elapsed().as_secs_f64(); // fit ends with a readback, i.e. a GPU wait
        println!("fashion_mnist MLP epoch (60,000 images, batch 32): {epoch:.1}s");
        results.push(format!("\"mlp_epoch_s\":{epoch:.2}"));
    }
    std::fs::create_dir_all("target/bench")?;
    let adapter = dev.info().to_string().replace('"', "'");
    std::fs::write(
        "target/bench/train_step.json",
        format!("{{\"adapter\":\"{adapter}\",{}}}\n", results.join(",")),
    )?;
    Ok(())
}
