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
