//! The wide flavour (`wide_flavor.rs`: vec4 storage arrays moved as 64-bit words) against the
//! f32 kernels, bit for bit, on a device opened with `WideStorage::Never` beside the one the
//! suite runs on: the streaming kernels of a CNN step (the relu, its gradient with the bias
//! sums, max-pooling with its vec4<u32> argmax, Adam on vec4s, a convolution through its column
//! matrix and the texture matmul's vec4 stores), at sizes with partial workgroups. Where the
//! suite's device has no wide flavour (no 64-bit integers: wgpu's GL backend) both devices run
//! the same kernels; lavapipe through Vulkan must have it (unless `KILN_WIDE_STORAGE=never`).

use kiln_device::ops::bias_grad::act_bias_backward;
use kiln_device::ops::conv2d::{ConvOptions, conv2d};
use kiln_device::ops::conv2d_dims::Conv2dDims;
use kiln_device::ops::elementwise::{UnaryOp, unary};
use kiln_device::ops::matmul::{MatmulDims, MatmulVariant};
use kiln_device::ops::optim::{AdamVia, adam_step};
use kiln_device::ops::pool2d::{Pool2dDims, max_pool2d};
use kiln_device::ops::window::Padding;
use kiln_device::{Activation, Device, DeviceOptions, GpuBuffer, WideStorage};

use crate::{adam_at, mm, out, read, setup, up};

/// Runs `f` on both devices with the same inputs and compares every output bit for bit.
fn same_bits(
    what: &str,
    devs: [&Device; 2],
    inputs: &[Vec<f64>],
    outputs: &[usize],
    f: impl Fn(&Device, &[GpuBuffer], &[GpuBuffer]),
) {
    let results = devs.map(|dev| {
        let ins: Vec<_> = inputs.iter().map(|v| up(dev, v)).collect();
        let outs: Vec<_> = outputs.iter().map(|&n| out(dev, n)).collect();
        f(dev, &ins, &outs);
        // In-place kernels update their inputs: compare those too.
        ins.iter()
            .chain(&outs)
            .map(|b| read(dev, b).iter().map(|x| x.to_bits()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    });
    for (i, (a, b)) in results[0].iter().zip(&results[1]).enumerate() {
        assert!(a == b, "{what}: buffer {i} differs between the flavours");
    }
}

#[test]
fn the_wide_flavour_computes_the_same_bits() {
    let Some((dev, mut rng)) = setup(91) else {
        return;
    };
    let info = dev.info();
    let options = DeviceOptions::from_env().unwrap();
    if info.is_cpu() && info.backend == "Vulkan" && options.wide_storage == WideStorage::Auto {
        assert!(
            info.wide_storage(),
            "lavapipe offers 64-bit shader integers"
        );
    }
    let never = Device::with_options(&DeviceOptions {
        wide_storage: WideStorage::Never,
        ..options
    })
    .unwrap();
    assert!(!never.info().wide_storage());
    let devs = [&dev, &never];
    for &rows in &[1usize, 65, 25_088] {
        let n = rows * 32;
        let y = rng.vec(n, -1.0, 1.0);
        let g = rng.vec(n, -1.0, 1.0);
        same_bits("relu", devs, std::slice::from_ref(&y), &[n], |d, i, o| {
            unary(d, UnaryOp::Act(Activation::Relu), &i[0], &o[0], n).unwrap()
        });
        same_bits("act_bias_backward", devs, &[y, g], &[n, 32], |d, i, o| {
            act_bias_backward(
                d,
                Activation::Relu,
                (&i[0], &i[1]),
                (&o[0], &o[1]),
                rows,
                32,
            )
            .unwrap()
        });
    }
    let pool = Pool2dDims {
        n: 3,
        h: 9,
        w: 7,
        c: 8,
        ph: 2,
        pw: 2,
        sh: 2,
        sw: 2,
        padding: Padding::Same,
    };
    let x = rng.vec(3 * 9 * 7 * 8, -1.0, 1.0);
    same_bits("max_pool2d", devs, &[x], &[3 * 5 * 4 * 8; 2], |d, i, o| {
        max_pool2d(d, &i[0], &o[0], &o[1], &pool).unwrap()
    });
    for n in [4usize, 1_028, 100_004] {
        let state = [
            rng.vec(n, -1.0, 1.0),
            rng.vec(n, -1.0, 1.0),
            rng.vec(n, -0.1, 0.1),
            rng.vec(n, 0.0, 0.1),
        ];
        same_bits("adam_step4", devs, &state, &[], |d, i, _| {
            for t in 1..=2 {
                let s = adam_at(t, 0.004);
                adam_step(d, &s, &i[0], &i[1], &i[2], &i[3], n, AdamVia::Buffers4).unwrap();
            }
        });
    }
    let conv = Conv2dDims {
        n: 2,
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
    let (x, w, b) = (
        rng.vec(2 * 28 * 28, 0.0, 1.0),
        rng.vec(9 * 32, -0.5, 0.5),
        rng.vec(32, -0.1, 0.1),
    );
    same_bits(
        "conv2d",
        devs,
        &[x, w, b],
        &[2 * 28 * 28 * 32],
        |d, i, o| {
            let opts = ConvOptions {
                bias: Some(&i[2]),
                act: Activation::Relu,
                via: Default::default(),
            };
            conv2d(d, &i[0], &i[1], &o[0], &conv, &opts).unwrap()
        },
    );
    let dims = MatmulDims::new(70, 136, 40, false, false);
    let (a, bm) = (rng.vec(70 * 40, -1.0, 1.0), rng.vec(40 * 136, -1.0, 1.0));
    same_bits("matmul", devs, &[a, bm], &[70 * 136], |d, i, o| {
        mm(d, MatmulVariant::Auto, &i[0], &i[1], &o[0], &dims).unwrap()
    });
}
