//! Matmul throughput (GFLOP/s) of every kernel design on the adapter in use, for square sizes
//! and the products a 784 -> 128 dense layer needs at batch 32 (forward and both backward).
//! Every timed region (a run of products recorded into one submit) ends with `synchronize()`,
//! a GPU wait, so it measures execution, not encoding. Writes a JSON summary to target/bench/matmul.json.
//!
//! Run: `cargo bench --bench matmul` (KILN_BENCH_QUICK=1 runs only the small shapes).

use std::time::{Duration, Instant};

use kiln::device::ops::matmul::{
    MatmulDims, MatmulOptions, MatmulVariant, matmul, texture_support,
};
use kiln::device::{Device, GpuBuffer};

fn time_one(
    dev: &Device,
    v: MatmulVariant,
    a: &GpuBuffer,
    b: &GpuBuffer,
    c: &GpuBuffer,
    d: &MatmulDims,
) -> anyhow::Result<f64> {
    // Warm-up: pipeline creation and first-touch of the buffers are not part of the figure.
    matmul(dev, a, b, c, d, &opts(v))?;
    dev.synchronize()?;
    // Products are recorded back to back, ~0.2 GFLOP per submit, as in a training step where
    // many kernels share one submit; a lone small product would mostly time the submit.
    let per = (2e8 / d.flops()).ceil().max(1.0) as u32;
    let (mut reps, start) = (0u32, Instant::now());
    while reps < 3 * per || start.elapsed() < Duration::from_millis(1500) {
        for _ in 0..per {
            matmul(dev, a, b, c, d, &opts(v))?;
        }
        dev.synchronize()?; // GPU wait ends every timed region
        reps += per;
    }
    Ok(d.flops() * reps as f64 / start.elapsed().as_secs_f64() / 1e9)
}

/// The design `v`, no epilogue.
fn opts(variant: MatmulVariant) -> MatmulOptions<'static> {
    MatmulOptions {
        variant,
        ..Default::default()
    }
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    let quick = std::env::var("KILN_BENCH_QUICK").is_ok();
    let mut cases: Vec<(String, MatmulDims)> = [256, 512, 1024, 2048]
        .into_iter()
        .filter(|&n| !quick || n <= 512)
        .map(|n| {
            (
                format!("{n}x{n}x{n}"),
                MatmulDims::new(n, n, n, false, false),
            )
        })
        .collect();
    cases.push((
        "32x784 . 784x128 (dense forward)".into(),
        MatmulDims::new(32, 128, 784, false, false),
    ));
    cases.push((
        "(784x32)^T . 32x128 (weight grad)".into(),
        MatmulDims::new(784, 128, 32, true, false),
    ));
    cases.push((
        "32x128 . (784x128)^T (input grad)".into(),
        MatmulDims::new(32, 784, 128, false, true),
    ));
    let mut json = Vec::new();
    println!(
        "{:<36} {:>14} {:>14} {:>14}",
        "product (m x k . k x n)", "texture", "register tile", "shared tiles"
    );
    for (name, d) in &cases {
        let a = dev.upload(&vec![0.5f32; d.m * d.k])?;
        let b = dev.upload(&vec![0.25f32; d.k * d.n])?;
        let c = dev.alloc((d.m * d.n * 4) as u64)?;
        // The texture design includes its two operand copies in every timed run.
        let tex = match texture_support(&dev, d) {
            None => Some(time_one(&dev, MatmulVariant::Texture, &a, &b, &c, d)?),
            Some(_) => None,
        };
        let reg = time_one(&dev, MatmulVariant::RegisterTile, &a, &b, &c, d)?;
        // The shared-memory design is ~100x slower on CPU adapters: skip the big sizes there.
        let shared = if dev.info().is_cpu() && d.m * d.n * d.k > 512 * 512 * 512 {
            None
        } else {
            Some(time_one(&dev, MatmulVariant::SharedTiles, &a, &b, &c, d)?)
        };
        let fmt = |g: Option<f64>| g.map_or("skipped".to_string(), |g| format!("{g:.2} GFLOP/s"));
        println!(
            "{name:<36} {:>14} {:>14} {:>14}",
            fmt(tex),
            fmt(Some(reg)),
            fmt(shared)
        );
        json.push(format!(
            "{{\"product\":\"{name}\",\"m\":{},\"n\":{},\"k\":{},\"texture_gflops\":{},\"register_tile_gflops\":{reg:.3},\"shared_tiles_gflops\":{}}}",
            d.m,
            d.n,
            d.k,
            tex.map_or("null".into(), |g| format!("{g:.3}")),
            shared.map_or("null".into(), |g| format!("{g:.3}"))
        ));
    }
    std::fs::create_dir_all("target/bench")?;
    let adapter = dev.info().to_string().replace('"', "'");
    std::fs::write(
        "target/bench/matmul.json",
        format!(
            "{{\"adapter\":\"{adapter}\",\"results\":[{}]}}\n",
            json.join(",")
        ),
    )?;
    Ok(())
}
