//! optim.wgsl: several steps of each optimizer against the reference formulas, on every input
//! path and with the path autotuned.

use kiln_device::ops::optim::{
    AdamStep, AdamVia, RmspropStep, SgdStep, adam_step, rmsprop_step, sgd_step,
};
use kiln_device::reference;
use kiln_device::testing::assert_close;
use kiln_device::{Autotune, Device, DeviceOptions};

use crate::{out, read, setup, up};

#[test]
fn sgd_plain_momentum_and_nesterov_match_reference_over_steps() {
    let Some((dev, mut rng)) = setup(40) else {
        return;
    };
    let n = 65;
    for (momentum, nesterov, wd) in [(0.0, false, 0.0), (0.9, false, 0.0), (0.9, true, 0.01)] {
        let s = SgdStep {
            lr: 0.1,
            momentum,
            nesterov,
            weight_decay: wd,
        };
        let (mut p, mut v) = (rng.vec(n, -1.0, 1.0), vec![0.0; n]);
        let (bp, bv) = (up(&dev, &p), dev.zeros(4 * n as u64).unwrap());
        for _ in 0..3 {
            let g = rng.vec(n, -1.0, 1.0);
            sgd_step(&dev, &s, &up(&dev, &g), &bp, &bv, n).unwrap();
            reference::sgd_step(&s, &g, &mut p, &mut v);
        }
        assert_close(&format!("sgd {s:?}"), &read(&dev, &bp), &p, 1e-6, 1e-5);
    }
}

#[test]
fn adam_and_adamw_match_reference_with_bias_correction() {
    let Some((dev, mut rng)) = setup(41) else {
        return;
    };
    // 257: a partial last texel in the texture path; 1100: several texture rows.
    for (via, n, wd) in [
        (AdamVia::Buffers, 257, 0.0),
        (AdamVia::Buffers, 257, 0.004),
        (AdamVia::Textures, 257, 0.0),
        (AdamVia::Textures, 1100, 0.004),
        (AdamVia::Buffers4, 257, 0.0),
        (AdamVia::Buffers4, 1100, 0.004),
    ] {
        let (mut p, mut m, mut v) = (rng.vec(n, -1.0, 1.0), vec![0.0; n], vec![0.0; n]);
        let bp = up(&dev, &p);
        let (bm, bv) = (
            dev.zeros(4 * n as u64).unwrap(),
            dev.zeros(4 * n as u64).unwrap(),
        );
        for t in 1..=4 {
            let s = AdamStep {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-7,
                weight_decay: wd,
                t,
            };
            let g = rng.vec(n, -1.0, 1.0);
            adam_step(&dev, &s, &up(&dev, &g), &bp, &bm, &bv, n, via).unwrap();
            reference::adam_step(&s, &g, &mut p, &mut m, &mut v);
        }
        assert_close(
            &format!("adam {via:?} n={n} wd={wd}"),
            &read(&dev, &bp),
            &p,
            1e-6,
            1e-5,
        );
        assert_close("adam m", &read(&dev, &bm), &m, 1e-6, 1e-5);
        assert_close("adam v", &read(&dev, &bv), &v, 1e-6, 1e-5);
    }
}

#[test]
fn rmsprop_plain_centered_and_momentum_match_reference() {
    let Some((dev, mut rng)) = setup(42) else {
        return;
    };
    let n = 7;
    for (momentum, centered) in [(0.0, false), (0.5, false), (0.0, true), (0.5, true)] {
        let s = RmspropStep {
            lr: 1e-2,
            rho: 0.9,
            momentum,
            eps: 1e-7,
            centered,
            weight_decay: 0.0,
        };
        let (mut p, mut vel, mut mom, mut avg) = (
            rng.vec(n, -1.0, 1.0),
            vec![0.0; n],
            vec![0.0; n],
            vec![0.0; n],
        );
        let bp = up(&dev, &p);
        let z = || dev.zeros(4 * n as u64).unwrap();
        let (bvel, bmom, bavg) = (z(), z(), z());
        for _ in 0..3 {
            let g = rng.vec(n, -1.0, 1.0);
            rmsprop_step(&dev, &s, &up(&dev, &g), &bp, &bvel, &bmom, &bavg, n).unwrap();
            reference::rmsprop_step(&s, &g, &mut p, &mut vel, &mut mom, &mut avg);
        }
        assert_close(&format!("rmsprop {s:?}"), &read(&dev, &bp), &p, 1e-5, 1e-4);
    }
    let _ = out(&dev, 1);
}

#[test]
fn autotuned_adam_times_its_paths_on_copies_and_updates_once() {
    let Some((_, mut rng)) = setup(43) else {
        return;
    };
    let opts = DeviceOptions {
        autotune: Autotune::Always,
        ..DeviceOptions::from_env().unwrap()
    };
    let dev = Device::with_options(&opts).unwrap();
    let n = 1100;
    let (mut p, mut m, mut v) = (rng.vec(n, -1.0, 1.0), vec![0.0; n], vec![0.0; n]);
    let bp = up(&dev, &p);
    let (bm, bv) = (
        dev.zeros(4 * n as u64).unwrap(),
        dev.zeros(4 * n as u64).unwrap(),
    );
    for t in 1..=3 {
        let s = AdamStep {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            weight_decay: 0.0,
            t,
        };
        let g = rng.vec(n, -1.0, 1.0);
        adam_step(&dev, &s, &up(&dev, &g), &bp, &bm, &bv, n, AdamVia::Auto).unwrap();
        reference::adam_step(&s, &g, &mut p, &mut m, &mut v);
    }
    // The warm-up and timed runs of the first step touched copies only: one update per step.
    assert_close("autotuned adam", &read(&dev, &bp), &p, 1e-6, 1e-5);
    let choices = dev.autotune_choices();
    assert!(
        choices.len() == 1 && choices[0].0.contains("adam_step n2048"),
        "{choices:?}"
    );
}

/// State that decays below the smallest normal f32 is flushed to zero, never kept as a
/// denormal (on llvmpipe every operation on one is a microcode assist; TensorFlow's CPU
/// kernels flush them too). With g = 0 each state value shrinks by its decay factor: 1.2e-38
/// lands below FLT_MIN, a denormal 1e-40 (from an older checkpoint) stays below it, 1e-30 and 1
/// are kept as the plain product.
#[test]
fn decayed_optimizer_state_is_flushed_to_zero_not_denormal() {
    let Some((dev, _)) = setup(44) else {
        return;
    };
    let state = [1.2e-38, -1.2e-38, 1e-40, 1e-30, 1.0, 0.0, 1.176e-38, 5e-38];
    let n = state.len();
    let zeros = vec![0.0; n];
    // Each value the kernel must hold after one step with g = 0, given its decay factor.
    let check = |what: &str, b: &kiln_device::GpuBuffer, decay: f32| {
        let got = read(&dev, b);
        for (i, (&x, &s)) in got.iter().zip(&state).enumerate() {
            let plain = s as f32 * decay;
            let want = if plain.abs() < f32::MIN_POSITIVE {
                0.0
            } else {
                plain
            };
            assert!(
                x == want || (x - want).abs() <= 2.0 * f32::EPSILON * want.abs(),
                "{what}[{i}]: {s:e} decayed to {x:e}, want {want:e}"
            );
            assert!(!x.is_subnormal(), "{what}[{i}] is a denormal: {x:e}");
        }
    };
    for via in [AdamVia::Buffers, AdamVia::Buffers4, AdamVia::Textures] {
        let (bm, bv) = (up(&dev, &state), up(&dev, &state));
        let s = AdamStep {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            weight_decay: 0.0,
            t: 5,
        };
        let (g, p) = (up(&dev, &zeros), up(&dev, &[0.5; 8]));
        adam_step(&dev, &s, &g, &p, &bm, &bv, n, via).unwrap();
        check(&format!("adam {via:?} m"), &bm, 0.9);
        check(&format!("adam {via:?} v"), &bv, 0.999);
    }
    let s = SgdStep {
        lr: 0.1,
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    };
    let bv = up(&dev, &state);
    sgd_step(&dev, &s, &up(&dev, &zeros), &up(&dev, &[0.5; 8]), &bv, n).unwrap();
    check("sgd velocity", &bv, 0.9);
    let s = RmspropStep {
        lr: 1e-2,
        rho: 0.9,
        momentum: 0.5,
        eps: 1e-7,
        centered: true,
        weight_decay: 0.0,
    };
    let (bvel, bmom, bavg) = (up(&dev, &state), up(&dev, &state), up(&dev, &state));
    let p = up(&dev, &[0.5; 8]);
    rmsprop_step(&dev, &s, &up(&dev, &zeros), &p, &bvel, &bmom, &bavg, n).unwrap();
    check("rmsprop velocity", &bvel, 0.9);
    check("rmsprop momentum", &bmom, 0.5);
    check("rmsprop average_gradient", &bavg, 0.9);
}
