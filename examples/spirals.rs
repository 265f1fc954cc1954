//! Trains a two-layer MLP on the two-spirals problem with kiln's tensors, autodiff and Adam
//! kernel, one submit per step and one readback per epoch.
//!
//! Run: `cargo run --release --example spirals`
//! Prints the adapter, the loss and accuracy per epoch; reaches >= 95% training accuracy.
//! `KILN_TARGET_ACC=0.95` makes it exit non-zero below that accuracy (CI uses it as a test).

use kiln::device::ops::optim::{AdamStep, AdamVia, adam_step};
use kiln::device::testing::Rng;
use kiln::prelude::*;

/// Two interleaved spirals, `n` points each, labels 0 and 1.
fn spirals(n: usize, rng: &mut Rng) -> (Vec<f32>, Vec<u32>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for class in 0..2u32 {
        for i in 0..n {
            let r = i as f64 / n as f64 * 5.0 + 0.5;
            let t = 1.25 * i as f64 / n as f64 * std::f64::consts::TAU
                + class as f64 * std::f64::consts::PI;
            x.push((r * t.cos() / 5.5 + 0.04 * (rng.uniform() - 0.5)) as f32);
            x.push((r * t.sin() / 5.5 + 0.04 * (rng.uniform() - 0.5)) as f32);
            y.push(class);
        }
    }
    (x, y)
}

/// Glorot-uniform [fan_in, fan_out] weights (Keras's default kernel initializer).
fn glorot(dev: &Device, rng: &mut Rng, fan_in: usize, fan_out: usize) -> anyhow::Result<Tensor> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
    let w: Vec<f32> = (0..fan_in * fan_out)
        .map(|_| ((rng.uniform() * 2.0 - 1.0) * limit) as f32)
        .collect();
    Ok(Tensor::from_f32(dev, &w, &[fan_in, fan_out])?.requires_grad())
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    let mut rng = Rng::new(7);
    let (xs, ys) = spirals(500, &mut rng);
    let n = ys.len();
    let x = Tensor::from_f32(&dev, &xs, &[n, 2])?;
    let y = Tensor::from_u32(&dev, &ys, &[n])?;
    let params = [
        glorot(&dev, &mut rng, 2, 64)?,
        Tensor::zeros(&dev, &[64])?.requires_grad(),
        glorot(&dev, &mut rng, 64, 64)?,
        Tensor::zeros(&dev, &[64])?.requires_grad(),
        glorot(&dev, &mut rng, 64, 2)?,
        Tensor::zeros(&dev, &[2])?.requires_grad(),
    ];
    let moments: Vec<(Tensor, Tensor)> = params
        .iter()
        .map(|p| {
            Ok((
                Tensor::zeros(&dev, p.shape())?,
                Tensor::zeros(&dev, p.shape())?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let forward = |x: &Tensor| -> anyhow::Result<Tensor> {
        let h = x.matmul(&params[0])?.add(&params[1])?.tanh()?;
        let h = h.matmul(&params[2])?.add(&params[3])?.tanh()?;
        Ok(h.matmul(&params[4])?.add(&params[5])?)
    };
    let mut accuracy = 0.0;
    for epoch in 1..=400u64 {
        // Full-batch step: forward, backward, Adam per parameter, one submit; no readback.
        let loss = {
            let loss = forward(&x)?.softmax_cross_entropy(&y)?.mean_all()?;
            let grads = loss.backward()?;
            let step = AdamStep {
                lr: 0.02,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-7,
                weight_decay: 0.0,
                t: epoch,
            };
            for (p, (m, v)) in params.iter().zip(&moments) {
                let g = grads.get(p).expect("every parameter has a gradient");
                adam_step(
                    &dev,
                    &step,
                    g.buffer(),
                    p.buffer(),
                    m.buffer(),
                    v.buffer(),
                    p.numel(),
                    AdamVia::Auto,
                )?;
            }
            loss.detach()
        };
        dev.submit();
        if epoch % 100 == 0 {
            let correct = no_grad(|| -> anyhow::Result<usize> {
                let pred = forward(&x)?.argmax(1)?.to_vec_u32()?;
                Ok(pred.iter().zip(&ys).filter(|(a, b)| a == b).count())
            })?;
            accuracy = correct as f64 / n as f64;
            println!(
                "epoch {epoch:3}  loss {:.4}  accuracy {accuracy:.3}",
                loss.item()?
            );
        }
    }
    if let Ok(target) = std::env::var("KILN_TARGET_ACC") {
        let target: f64 = target.parse()?;
        anyhow::ensure!(
            accuracy >= target,
            "accuracy {accuracy:.3} is below KILN_TARGET_ACC={target}"
        );
    }
    Ok(())
}
