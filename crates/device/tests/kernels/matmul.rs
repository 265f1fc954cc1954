//! matmul.wgsl and the texture design through the one launcher: every storage design, every
//! transpose combination, batches, odd sizes, the fused epilogue in every design, and the
//! autotuned choice between designs. The texture design's own cases are in matmul_texture.rs.

use kiln_device::ops::matmul::{MatmulDims, MatmulOptions, MatmulVariant, matmul, texture_support};
use kiln_device::reference;
use kiln_device::testing::assert_close;
use kiln_device::{Activation, Autotune, Device, DeviceOptions};

use crate::{SIZES, mm, out, read, setup, up};

/// C = op(A) op(B) with `variant` on seeded random operands, against the f64 reference.
pub fn check(
    dev: &kiln_device::Device,
    rng: &mut kiln_device::testing::Rng,
    variant: MatmulVariant,
    d: MatmulDims,
) {
    let a_len = (d.batch - 1) * d.a_batch_stride + d.m * d.k;
    let b_len = (d.batch - 1) * d.b_batch_stride + d.k * d.n;
    let a = rng.vec(a_len, -1.0, 1.0);
    let b = rng.vec(b_len, -1.0, 1.0);
    let c = out(dev, d.batch * d.m * d.n);
    mm(dev, variant, &up(dev, &a), &up(dev, &b), &c, &d).unwrap();
    let tol = 1e-5 * (d.k as f64).sqrt();
    assert_close(
        &format!("{variant:?} {d:?}"),
        &read(dev, &c),
        &reference::matmul(&a, &b, &d),
        tol,
        1e-4,
    );
}

/// An epilogue activation and its f64 reference.
type ActCase = (Activation, fn(f64) -> f64);

#[test]
fn matmul_matches_reference_on_odd_shapes_in_both_designs() {
    let Some((dev, mut rng)) = setup(10) else {
        return;
    };
    for variant in [MatmulVariant::RegisterTile, MatmulVariant::SharedTiles] {
        for &m in &SIZES {
            for &(n, k) in &[(1, 7), (65, 1), (7, 257), (257, 65)] {
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    check(&dev, &mut rng, variant, MatmulDims::new(m, n, k, ta, tb));
                }
            }
        }
    }
}

#[test]
fn batched_matmul_strides_and_shared_operands() {
    let Some((dev, mut rng)) = setup(11) else {
        return;
    };
    for variant in [MatmulVariant::RegisterTile, MatmulVariant::SharedTiles] {
        let (m, n, k) = (7, 65, 9);
        let mut d = MatmulDims::new(m, n, k, false, true);
        d.batch = 3;
        d.a_batch_stride = m * k;
        d.b_batch_stride = 0; // B shared by every batch
        check(&dev, &mut rng, variant, d);
        let mut d = MatmulDims::new(m, n, k, true, false);
        d.batch = 4;
        d.a_batch_stride = m * k;
        d.b_batch_stride = k * n;
        check(&dev, &mut rng, variant, d);
    }
}

#[test]
fn matmul_training_shapes_and_a_zero_inner_dimension() {
    let Some((dev, mut rng)) = setup(12) else {
        return;
    };
    // Forward and both backward products of a 784 -> 128 dense layer at batch 32.
    check(
        &dev,
        &mut rng,
        MatmulVariant::Auto,
        MatmulDims::new(32, 128, 784, false, false),
    );
    check(
        &dev,
        &mut rng,
        MatmulVariant::Auto,
        MatmulDims::new(784, 128, 32, true, false),
    );
    check(
        &dev,
        &mut rng,
        MatmulVariant::Auto,
        MatmulDims::new(32, 784, 128, false, true),
    );
    let c = dev.upload(&[5.0f32; 6]).unwrap();
    let d = MatmulDims::new(2, 3, 0, false, false);
    mm(
        &dev,
        MatmulVariant::Auto,
        &dev.zeros(4).unwrap(),
        &dev.zeros(4).unwrap(),
        &c,
        &d,
    )
    .unwrap();
    assert_eq!(read(&dev, &c), vec![0.0; 6]);
    // With an epilogue: act(0 + bias) in every row (sigmoid(0) = 0.5 without a bias).
    let bias = dev.upload(&[1.0f32, -2.0, 0.5]).unwrap();
    let e = dev.zeros(4).unwrap();
    for (with_bias, act, want) in [
        (true, Activation::Linear, [1.0, -2.0, 0.5]),
        (true, Activation::Relu, [1.0, 0.0, 0.5]),
        (false, Activation::Sigmoid, [0.5, 0.5, 0.5]),
    ] {
        let o = MatmulOptions {
            bias: with_bias.then_some(&bias),
            act,
            variant: MatmulVariant::Auto,
        };
        matmul(&dev, &e, &e, &c, &d, &o).unwrap();
        let want: Vec<f64> = want.iter().chain(&want).copied().collect();
        assert_close(
            &format!("k = 0, {act:?}"),
            &read(&dev, &c),
            &want,
            1e-6,
            1e-6,
        );
    }
}

#[test]
fn matmul_rejects_buffers_too_small_for_the_shape() {
    let Some((dev, _)) = setup(13) else { return };
    let a = dev.zeros(4 * 6).unwrap();
    let err = mm(
        &dev,
        MatmulVariant::Auto,
        &a,
        &a,
        &dev.zeros(4 * 9).unwrap(),
        &MatmulDims::new(3, 3, 3, false, false),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("matmul") && err.contains("`a`") && err.contains("9"),
        "{err}"
    );
    assert_eq!(dev.counters().dispatches, 0, "nothing may be dispatched");
}

#[test]
fn autotune_measures_once_per_shape_class_and_keeps_its_choices_in_the_cache_file() {
    let Some((_, mut rng)) = setup(15) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("kiln-autotune-{}", std::process::id()));
    let cache = dir.join("autotune.json");
    let opts = DeviceOptions {
        autotune: Autotune::Always,
        autotune_cache: Some(cache.clone()),
        ..DeviceOptions::from_env().unwrap()
    };
    let dev = Device::with_options(&opts).unwrap();
    assert!(dev.autotunes() && dev.autotune_choices().is_empty());
    // The measured choice computes the right product.
    check(
        &dev,
        &mut rng,
        MatmulVariant::Auto,
        MatmulDims::new(256, 256, 256, false, false),
    );
    let choices = dev.autotune_choices();
    let texture = texture_support(&dev, &MatmulDims::new(256, 256, 256, false, false)).is_none();
    if dev.info().is_cpu() && !texture {
        // One design runs here (no subgroups: the register tile; shared tiles are never timed
        // on CPU adapters): nothing to choose, nothing measured. tuner.rs covers the mechanism.
        assert!(choices.is_empty(), "{choices:?}");
        return;
    }
    assert_eq!(choices.len(), 1, "{choices:?}");
    assert!(
        choices[0].0.contains("matmul nn 256x256x256 |"),
        "{choices:?}"
    );
    if dev.info().is_cpu()
        && texture_support(&dev, &MatmulDims::new(4, 4, 4, false, false)).is_none()
    {
        // 5-8x faster than the register tile on CPU adapters: no measurement noise flips that.
        assert_eq!(choices[0].1, "texture");
    }
    // Another shape of the same class: the remembered choice, no measurement (no host wait).
    let before = dev.counters();
    let d = MatmulDims::new(200, 240, 132, false, false);
    let (a, b) = (
        dev.zeros(200 * 132 * 4).unwrap(),
        dev.zeros(132 * 240 * 4).unwrap(),
    );
    mm(&dev, MatmulVariant::Auto, &a, &b, &out(&dev, 200 * 240), &d).unwrap();
    // A shape only one design can run (K not a multiple of 4 rules the texture design out):
    // nothing to measure either.
    let d = MatmulDims::new(200, 240, 130, false, false);
    mm(&dev, MatmulVariant::Auto, &a, &b, &out(&dev, 200 * 240), &d).unwrap();
    assert_eq!(dev.counters().since(&before).waits, 0);
    assert_eq!(dev.autotune_choices(), choices);
    // A new process (here: a new device) reads the choice from the cache file.
    let again = Device::with_options(&opts).unwrap();
    assert_eq!(again.autotune_choices(), choices);
    // A corrupt cache file is ignored (with a warning) and rewritten, never an error.
    std::fs::write(&cache, "{not json").unwrap();
    let fresh = Device::with_options(&opts).unwrap();
    assert!(fresh.autotune_choices().is_empty());
    check(
        &fresh,
        &mut rng,
        MatmulVariant::Auto,
        MatmulDims::new(8, 12, 4, true, false),
    );
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(text.contains("matmul tn 8x16x4"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fused_bias_and_activation_epilogue_in_every_design() {
    let Some((dev, mut rng)) = setup(16) else {
        return;
    };
    let texture = texture_support(&dev, &MatmulDims::new(4, 4, 4, false, false)).is_none();
    let variants = [
        MatmulVariant::RegisterTile,
        MatmulVariant::SharedTiles,
        MatmulVariant::Texture,
    ];
    let acts: [ActCase; 4] = [
        (Activation::Linear, |x| x),
        (Activation::Relu, |x| x.max(0.0)),
        (Activation::Sigmoid, |x| 1.0 / (1.0 + (-x).exp())),
        (Activation::Tanh, f64::tanh),
    ];
    // A partial block with N % 4 != 0 (scalar stores), the dense forward shape (vec4 stores) and
    // a convolution's column product (32x32 blocks).
    for d in [
        MatmulDims::new(37, 45, 20, false, true),
        MatmulDims::new(32, 128, 784, false, false),
        MatmulDims::new(100, 32, 12, false, false),
    ] {
        let a = rng.vec(d.m * d.k, -1.0, 1.0);
        let b = rng.vec(d.k * d.n, -1.0, 1.0);
        let bias = rng.vec(d.n, -2.0, 2.0);
        let product = reference::matmul(&a, &b, &d);
        let (ba, bb, bbias) = (up(&dev, &a), up(&dev, &b), up(&dev, &bias));
        for variant in variants {
            if variant == MatmulVariant::Texture && !texture {
                continue;
            }
            for (act, f) in acts {
                for with_bias in [false, true] {
                    let o = MatmulOptions {
                        bias: with_bias.then_some(&bbias),
                        act,
                        variant,
                    };
                    let c = out(&dev, d.m * d.n);
                    matmul(&dev, &ba, &bb, &c, &d, &o).unwrap();
                    let want: Vec<f64> = product
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| f(v + if with_bias { bias[i % d.n] } else { 0.0 }))
                        .collect();
                    let tol = 1e-5 * (d.k as f64).sqrt();
                    let what = format!("{variant:?} {act:?} bias {with_bias} {d:?}");
                    assert_close(&what, &read(&dev, &c), &want, tol, 1e-4);
                }
            }
        }
    }
}
