//! conv2d.wgsl and conv2d_texture.wgsl (the direct kernels) against the reference: strides,
//! Keras padding, every epilogue activation, a Fashion-MNIST-sized batch with and without
//! autotuning, and a weight gradient split into many chunks.

use kiln_device::ops::conv2d::{
    Conv2dDims, ConvOptions, ConvVia, Padding, conv2d, conv2d_backward_weight,
};
use kiln_device::reference;
use kiln_device::testing::assert_close;
use kiln_device::{Activation, Autotune, Device, DeviceOptions};

use crate::{out, read, setup, up};

fn conv_cases() -> Vec<Conv2dDims> {
    let mut v = Vec::new();
    for (h, w) in [(1, 1), (7, 5), (9, 9)] {
        for (kh, kw) in [(1, 1), (3, 3), (2, 3)] {
            for (sh, sw) in [(1, 1), (2, 2), (2, 1)] {
                for (padding, f) in [(Padding::Valid, 5), (Padding::Same, 5), (Padding::Same, 12)] {
                    let d = Conv2dDims {
                        n: 2,
                        h,
                        w,
                        c: 3,
                        f,
                        kh,
                        kw,
                        sh,
                        sw,
                        padding,
                    };
                    if d.output().is_some() {
                        v.push(d);
                    }
                }
            }
        }
    }
    v
}

#[test]
fn conv2d_matches_reference_for_strides_and_keras_padding() {
    let Some((dev, mut rng)) = setup(33) else {
        return;
    };
    // F = 12 also runs the texture kernels (F % 4 == 0; its last 8-filter block is half empty).
    for (d, via) in conv_cases().into_iter().flat_map(|d| {
        let mut v = vec![(d, ConvVia::Buffers)];
        if d.f % 4 == 0 {
            v.push((d, ConvVia::Textures));
        }
        v
    }) {
        let x = rng.vec(d.n * d.h * d.w * d.c, -1.0, 1.0);
        let w = rng.vec(d.kh * d.kw * d.c * d.f, -1.0, 1.0);
        let b = rng.vec(d.f, -1.0, 1.0);
        let (oh, ow, _, _) = d.output().unwrap();
        let z = reference::conv2d(&x, &w, Some(&b), &d);
        let (bx, bw, bb) = (up(&dev, &x), up(&dev, &w), up(&dev, &b));
        // Every epilogue activation (activation.wgsl) in both kernel files.
        let acts: [ActCase; 4] = [
            (Activation::Linear, |z| z),
            (Activation::Relu, |z| z.max(0.0)),
            (Activation::Sigmoid, |z| 1.0 / (1.0 + (-z).exp())),
            (Activation::Tanh, f64::tanh),
        ];
        for (act, f) in acts {
            let y = out(&dev, d.n * oh * ow * d.f);
            let o = ConvOptions {
                bias: Some(&bb),
                act,
                via,
            };
            conv2d(&dev, &bx, &bw, &y, &d, &o).unwrap();
            let want: Vec<f64> = z.iter().map(|&v| f(v)).collect();
            assert_close(
                &format!("{via:?} {act:?} {d:?}"),
                &read(&dev, &y),
                &want,
                1e-5,
                1e-5,
            );
        }
    }
}

/// An epilogue activation and its f64 reference.
type ActCase = (Activation, fn(f64) -> f64);

#[test]
fn conv2d_on_a_fashion_mnist_sized_batch() {
    let Some((dev, mut rng)) = setup(34) else {
        return;
    };
    let d = Conv2dDims {
        n: 4,
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
    let x = rng.vec(4 * 28 * 28, 0.0, 1.0);
    let w = rng.vec(9 * 32, -0.3, 0.3);
    let y = out(&dev, 4 * 28 * 28 * 32);
    let none = ConvOptions::default();
    conv2d(&dev, &up(&dev, &x), &up(&dev, &w), &y, &d, &none).unwrap();
    assert_close(
        "28x28 same",
        &read(&dev, &y),
        &reference::conv2d(&x, &w, None, &d),
        1e-5,
        1e-5,
    );
    // With the paths timed on first use: the forward and weight-gradient outputs are written
    // once, by the chosen path, and both choices are remembered.
    let opts = DeviceOptions {
        autotune: Autotune::Always,
        ..DeviceOptions::from_env().unwrap()
    };
    let tuned = Device::with_options(&opts).unwrap();
    let y = out(&tuned, 4 * 28 * 28 * 32);
    let bx = up(&tuned, &x);
    conv2d(&tuned, &bx, &up(&tuned, &w), &y, &d, &none).unwrap();
    let want = reference::conv2d(&x, &w, None, &d);
    assert_close("autotuned forward", &read(&tuned, &y), &want, 1e-5, 1e-5);
    let dy = rng.vec(4 * 28 * 28 * 32, -1.0, 1.0);
    let dw = out(&tuned, 9 * 32);
    conv2d_backward_weight(&tuned, &bx, &up(&tuned, &dy), &dw, &d, ConvVia::Auto).unwrap();
    let want = reference::conv2d_backward_weight(&x, &dy, &d);
    assert_close(
        "autotuned weight grad",
        &read(&tuned, &dw),
        &want,
        1e-4,
        1e-4,
    );
    // The conv choices, and those of the matmuls the column-matrix candidate ran (tuned in turn).
    let choices = tuned.autotune_choices();
    let conv = choices
        .iter()
        .filter(|(k, _)| k.contains("| conv2d"))
        .count();
    assert_eq!(conv, 2, "{choices:?}");
    assert!(
        choices
            .iter()
            .all(|(k, _)| k.contains("| conv2d") || k.contains("| matmul"))
    );
}

#[test]
fn conv2d_weight_gradient_with_many_chunks_matches_reference() {
    // 4 x 28 x 28 = 3,136 output positions: the kernel splits them into 13 chunks of 256.
    let Some((dev, mut rng)) = setup(36) else {
        return;
    };
    for (c, f, s, via) in [
        (1, 32, 1, ConvVia::Buffers),
        (3, 5, 2, ConvVia::Buffers),
        (1, 32, 1, ConvVia::Textures),
        (3, 12, 2, ConvVia::Textures),
    ] {
        let d = Conv2dDims {
            n: 4,
            h: 28,
            w: 28,
            c,
            f,
            kh: 3,
            kw: 3,
            sh: s,
            sw: s,
            padding: Padding::Same,
        };
        let (oh, ow, _, _) = d.output().unwrap();
        let x = rng.vec(4 * 28 * 28 * c, -1.0, 1.0);
        let dy = rng.vec(4 * oh * ow * f, -1.0, 1.0);
        let dw = out(&dev, 9 * c * f);
        conv2d_backward_weight(&dev, &up(&dev, &x), &up(&dev, &dy), &dw, &d, via).unwrap();
        assert_close(
            &format!("dw {via:?} {d:?}"),
            &read(&dev, &dw),
            &reference::conv2d_backward_weight(&x, &dy, &d),
            1e-3,
            1e-4,
        );
    }
}
