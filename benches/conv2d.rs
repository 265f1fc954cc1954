//! Conv2d throughput (GFLOP/s) on the adapter in use: forward, weight gradient and input
//! gradient, through each path that applies (direct kernels on storage buffers or staging
//! textures, column matrix + matmul), for the
//! first layer of the `fashion_mnist_cnn` model (28x28x1 -> 32) and the second layer of a
//! two-convolution Keras CNN (14x14x32 -> 64), 3x3 'same', batch 32. Every timed region (a run of
//! launches recorded into one submit) ends with `synchronize()`, a GPU wait. Writes a JSON
//! summary to target/bench/conv2d.json.
//!
//! Run: `cargo bench --bench conv2d`

use std::time::{Duration, Instant};

use kiln::device::ops::conv2d::{
    Conv2dDims, ConvOptions, ConvVia, Padding, conv2d, conv2d_backward_input,
    conv2d_backward_weight,
};
use kiln::device::{Device, GpuBuffer};

/// GFLOP/s of `launch` (one convolution's worth of `flops`), recorded back to back ~0.2 GFLOP
/// per submit for at least a second, after one warm-up launch.
fn gflops(
    dev: &Device,
    flops: f64,
    mut launch: impl FnMut() -> kiln::device::Result<()>,
) -> anyhow::Result<f64> {
    launch()?;
    dev.synchronize()?;
    let per = (2e8 / flops).ceil().max(1.0) as u32;
    let (mut reps, start) = (0u32, Instant::now());
    while reps < 3 * per || start.elapsed() < Duration::from_millis(1000) {
        for _ in 0..per {
            launch()?;
        }
        dev.synchronize()?; // GPU wait ends every timed region
        reps += per;
    }
    Ok(flops * reps as f64 / start.elapsed().as_secs_f64() / 1e9)
}

fn filled(dev: &Device, words: usize, value: f32) -> anyhow::Result<GpuBuffer> {
    Ok(dev.upload(&vec![value; words])?)
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    let layer = |h, c, f| Conv2dDims {
        n: 32,
        h,
        w: h,
        c,
        f,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        padding: Padding::Same,
    };
    let cases = [
        ("28x28x1 -> 32", layer(28, 1, 32)),
        ("14x14x32 -> 64", layer(14, 32, 64)),
    ];
    let mut results = Vec::new();
    for (name, d) in cases {
        let (xw, yw, ww) = (d.n * d.h * d.w * d.c, d.n * d.h * d.w * d.f, 9 * d.c * d.f);
        let flops = 2.0 * (d.n * d.h * d.w) as f64 * (9 * d.c * d.f) as f64;
        let (x, w, dy) = (
            filled(&dev, xw, 0.5)?,
            filled(&dev, ww, 0.1)?,
            filled(&dev, yw, 0.2)?,
        );
        let (y, dw, dx) = (
            dev.alloc(yw as u64 * 4)?,
            dev.alloc(ww as u64 * 4)?,
            dev.alloc(xw as u64 * 4)?,
        );
        println!(
            "{name} (batch 32, 3x3 same, {:.2} GFLOP per pass):",
            flops / 1e9
        );
        let paths = [
            (ConvVia::Buffers, "buffers"),
            (ConvVia::Textures, "textures"),
            (ConvVia::Gemm, "gemm"),
        ];
        for (via, label) in paths {
            let fwd = gflops(&dev, flops, || {
                conv2d(
                    &dev,
                    &x,
                    &w,
                    &y,
                    &d,
                    &ConvOptions {
                        via,
                        ..Default::default()
                    },
                )
            });
            let wgrad = gflops(&dev, flops, || {
                conv2d_backward_weight(&dev, &x, &dy, &dw, &d, via)
            });
            // The input gradient has no texture kernel (`Textures` would repeat `Buffers`).
            let igrad = (via != ConvVia::Textures).then(|| {
                gflops(&dev, flops, || {
                    conv2d_backward_input(&dev, &dy, &w, &dx, &d, via)
                })
            });
            let rows = [("forward", Some(fwd)), ("weight gradient", Some(wgrad))];
            for (what, r) in rows.into_iter().chain([("input gradient", igrad)]) {
                match r {
                    Some(Ok(g)) => {
                        println!("  {what:<16} {label:<9} {g:6.2} GFLOP/s");
                        let key = format!("{name} {what} {label}").replace([' ', '>'], "_");
                        results.push(format!("\"{key}\":{g:.3}"));
                    }
                    Some(Err(e)) => println!("  {what:<16} {label:<9} not run: {e}"),
                    None => {}
                }
            }
        }
    }
    std::fs::create_dir_all("target/bench")?;
    let adapter = dev.info().to_string().replace('"', "'");
    std::fs::write(
        "target/bench/conv2d.json",
        format!("{{\"adapter\":\"{adapter}\",{}}}\n", results.join(",")),
    )?;
    Ok(())
}
