//! The CNN step's heavy kernels one by one at batch 32 (convolution, its two gradients, the
//! dense layer's three products, the elementwise and pooling kernels on the conv output, the
//! batch gather, Adam), the whole optimizer update per weight against packed, and the cost of
//! one small dispatch. Every timed region ends with a GPU wait.

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

/// (name, milliseconds) of each timed kernel; `m` is the MLP, `c` the CNN.
pub fn kernel_times(
    dev: &Device,
    m: &mut Sequential,
    c: &mut Sequential,
) -> anyhow::Result<Vec<(String, f64)>> {
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
            time_ms(dev, 5, || {
                Ok(conv2d(dev, &x, &w, &y, &d, &ConvOptions::default())?)
            })?,
        ),
        (
            "conv2d backward input",
            time_ms(dev, 5, || {
                Ok(conv2d_backward_input(dev, &y, &w, &dx, &d, ConvVia::Auto)?)
            })?,
        ),
        (
            "conv2d backward weight",
            time_ms(dev, 5, || {
                Ok(conv2d_backward_weight(dev, &x, &y, &dw, &d, ConvVia::Auto)?)
            })?,
        ),
    ];
    let a = dev.upload(&vec![0.5f32; 32 * 6272])?;
    let b = dev.upload(&vec![0.5f32; 6272 * 256])?;
    let cbuf = dev.alloc(32 * 256 * 4)?;
    let dense = |m, n, k, ta, tb, out: &kiln::device::GpuBuffer| {
        time_ms(dev, 5, || {
            let (a, b) = if ta { (&b, &a) } else { (&a, &b) };
            let d = MatmulDims::new(m, n, k, ta, tb);
            Ok(matmul(dev, a, b, out, &d, &MatmulOptions::default())?)
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
            time_ms(dev, 5, || {
                // As the fused Conv2D's backward calls it: the output as x and y, and dy.
                Ok(unary_backward(
                    dev,
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
            time_ms(dev, 5, || {
                Ok(unary(
                    dev,
                    UnaryOp::Act(Activation::Relu),
                    &y,
                    &act_grad,
                    act,
                )?)
            })?,
        ),
        (
            "max-pool 2x2 forward",
            time_ms(dev, 5, || Ok(max_pool2d(dev, &y, &pooled, &argmax, &pool)?))?,
        ),
        (
            "max-pool 2x2 backward",
            time_ms(dev, 5, || {
                Ok(max_pool2d_backward(
                    dev, &pooled, &argmax, &act_grad, &pool,
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
        time_ms(dev, 50, || {
            Ok(gather_rows(
                dev,
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
    // Adam's three designs over the MLP's packed weights and the CNN's largest kernel (the
    // dense 6272x256), each on its own copies.
    let mut adam = Vec::new();
    for (label, n) in [("101,770", 101_770usize), ("1,605,632", 6272 * 256)] {
        for (via, design) in [
            (AdamVia::Textures, "textures"),
            (AdamVia::Buffers4, "buffers4"),
            (AdamVia::Buffers, "buffers"),
        ] {
            let (pg, pp) = (
                dev.upload(&vec![0.01f32; n])?,
                dev.upload(&vec![0.5f32; n])?,
            );
            let (pm, pv) = (dev.zeros(n as u64 * 4)?, dev.zeros(n as u64 * 4)?);
            let mut t = 0;
            let ms = time_ms(dev, 20, || {
                t += 1;
                let s = AdamStep {
                    lr: 1e-3,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-7,
                    weight_decay: 0.0,
                    t,
                };
                Ok(adam_step(dev, &s, &pg, &pp, &pm, &pv, n, via)?)
            })?;
            adam.push((format!("Adam {design} on {label} weights"), ms));
        }
    }
    // The whole optimizer update: one kernel per weight against one over the packed weights.
    let (mlp_each, mlp_packed) = optimizer_ms(dev, m, 50)?;
    let (cnn_each, cnn_packed) = optimizer_ms(dev, c, 5)?;
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
        time_ms(dev, 200, || Ok(fill(dev, &tiny, 64, 1.0)?))?,
    )];
    Ok(parts
        .into_iter()
        .chain(more)
        .chain(gather)
        .chain(update)
        .chain(overhead)
        .map(|(name, ms)| (name.to_string(), ms))
        .chain(adam)
        .collect())
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
