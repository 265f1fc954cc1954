//! softmax.wgsl and pool2d.wgsl kernels against the reference, and binding checks (the
//! convolutions are in conv.rs and conv_gemm.rs).

use kiln_device::ops::conv2d::Padding;
use kiln_device::ops::pool2d::{Pool2dDims, avg_pool2d, max_pool2d};
use kiln_device::ops::softmax::{Targets, softmax, softmax_xent};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::{SIZES, out, read, setup, up};

#[test]
fn softmax_and_log_softmax_match_reference_and_survive_large_logits() {
    let Some((dev, mut rng)) = setup(30) else {
        return;
    };
    for rows in SIZES {
        for cols in [1, 10, 65] {
            let mut x = rng.vec(rows * cols, -10.0, 10.0);
            x[0] = 1000.0; // would overflow exp without the max shift
            for log in [false, true] {
                let o = out(&dev, rows * cols);
                softmax(&dev, &up(&dev, &x), &o, rows, cols, log).unwrap();
                assert_close(
                    &format!("softmax log={log} {rows}x{cols}"),
                    &read(&dev, &o),
                    &reference::softmax(&x, rows, cols, log),
                    1e-5,
                    1e-4,
                );
            }
        }
    }
}

#[test]
fn fused_cross_entropy_matches_reference_for_sparse_and_dense_targets() {
    let Some((dev, mut rng)) = setup(31) else {
        return;
    };
    for rows in SIZES {
        let cols = 10;
        let logits = rng.vec(rows * cols, -6.0, 6.0);
        let labels: Vec<u32> = (0..rows).map(|_| rng.below(cols as u64) as u32).collect();
        let (probs, loss) = (out(&dev, rows * cols), out(&dev, rows));
        let bl = dev.upload(&labels).unwrap();
        softmax_xent(
            &dev,
            &up(&dev, &logits),
            Targets::Sparse(&bl),
            &probs,
            &loss,
            rows,
            cols,
        )
        .unwrap();
        assert_close(
            "sparse loss",
            &read(&dev, &loss),
            &reference::softmax_xent_sparse(&logits, &labels, rows, cols),
            1e-5,
            1e-5,
        );
        assert_close(
            "probs",
            &read(&dev, &probs),
            &reference::softmax(&logits, rows, cols, false),
            1e-6,
            1e-5,
        );
        let mut target = rng.vec(rows * cols, 0.0, 1.0);
        for r in 0..rows {
            let s: f64 = target[r * cols..(r + 1) * cols].iter().sum();
            target[r * cols..(r + 1) * cols]
                .iter_mut()
                .for_each(|t| *t /= s);
        }
        softmax_xent(
            &dev,
            &up(&dev, &logits),
            Targets::Dense(&up(&dev, &target)),
            &probs,
            &loss,
            rows,
            cols,
        )
        .unwrap();
        assert_close(
            "dense loss",
            &read(&dev, &loss),
            &reference::softmax_xent_dense(&logits, &target, rows, cols),
            1e-5,
            1e-5,
        );
    }
}

#[test]
fn an_out_of_range_label_gives_a_nan_loss_not_garbage() {
    let Some((dev, _)) = setup(32) else { return };
    let (probs, loss) = (out(&dev, 6), out(&dev, 2));
    let labels = dev.upload(&[1u32, 3]).unwrap();
    softmax_xent(
        &dev,
        &up(&dev, &[0.0; 6]),
        Targets::Sparse(&labels),
        &probs,
        &loss,
        2,
        3,
    )
    .unwrap();
    let l = read(&dev, &loss);
    assert!((l[0] - 3f32.ln()).abs() < 1e-6 && l[1].is_nan(), "{l:?}");
}

#[test]
fn pooling_matches_reference_and_ignores_padding() {
    let Some((dev, mut rng)) = setup(35) else {
        return;
    };
    // c = 3 runs the scalar max-pool kernel, c = 8 its 4-channel twin.
    for ((h, w), c) in [(1, 1), (7, 7), (6, 9)]
        .into_iter()
        .zip([3, 8, 3])
        .chain([((6, 9), 8)])
    {
        for (p, s) in [(2, 2), (3, 2), (3, 1)] {
            for padding in [Padding::Valid, Padding::Same] {
                let d = Pool2dDims {
                    n: 2,
                    h,
                    w,
                    c,
                    ph: p,
                    pw: p,
                    sh: s,
                    sw: s,
                    padding,
                };
                let Some((oh, ow, _, _)) = d.output() else {
                    continue;
                };
                let x = rng.vec(2 * h * w * c, -1.0, 1.0);
                let bx = up(&dev, &x);
                let (y, arg) = (out(&dev, 2 * oh * ow * c), out(&dev, 2 * oh * ow * c));
                max_pool2d(&dev, &bx, &y, &arg, &d).unwrap();
                let (want_y, want_arg) = reference::max_pool2d(&x, &d);
                assert_close(&format!("max {d:?}"), &read(&dev, &y), &want_y, 0.0, 0.0);
                assert_eq!(dev.read_u32(&arg).unwrap(), want_arg, "argmax {d:?}");
                avg_pool2d(&dev, &bx, &y, &d).unwrap();
                assert_close(
                    &format!("avg {d:?}"),
                    &read(&dev, &y),
                    &reference::avg_pool2d(&x, &d),
                    1e-6,
                    1e-5,
                );
            }
        }
    }
}

/// The max-pool forwards split their index with the prelude's `udiv`, in f32 when every
/// dividend is below 2^20 (`Overrides::small_div`): a grid of exactly 2^20 invocations (the
/// largest f32 case, dividends up to 2^20 - 1) and one just past it (integer division).
#[test]
fn max_pool_on_both_sides_of_the_f32_division_bound() {
    let Some((dev, mut rng)) = setup(38) else {
        return;
    };
    // 2x2 windows at stride 1 over 4 channels: (h - 1)^2 invocations of the 4-channel kernel.
    for h in [1025, 1026] {
        let d = Pool2dDims {
            n: 1,
            h,
            w: h,
            c: 4,
            ph: 2,
            pw: 2,
            sh: 1,
            sw: 1,
            padding: Padding::Valid,
        };
        let x = rng.vec(h * h * 4, -1.0, 1.0);
        let outs = (h - 1) * (h - 1) * 4;
        let (y, arg) = (out(&dev, outs), out(&dev, outs));
        max_pool2d(&dev, &up(&dev, &x), &y, &arg, &d).unwrap();
        let (want_y, want_arg) = reference::max_pool2d(&x, &d);
        assert_close(&format!("max {d:?}"), &read(&dev, &y), &want_y, 0.0, 0.0);
        assert_eq!(dev.read_u32(&arg).unwrap(), want_arg, "argmax {d:?}");
    }
}

#[test]
fn an_output_bound_twice_is_rejected_naming_both_bindings() {
    let Some((dev, _)) = setup(37) else { return };
    let d = Pool2dDims {
        n: 1,
        h: 2,
        w: 2,
        c: 1,
        ph: 2,
        pw: 2,
        sh: 2,
        sw: 2,
        padding: Padding::Valid,
    };
    let (x, y) = (up(&dev, &[1.0, 2.0, 3.0, 4.0]), out(&dev, 1));
    // y and argmax are buffers 1 and 2 of max_pool2d.
    let err = max_pool2d(&dev, &x, &y, &y, &d).unwrap_err().to_string();
    assert!(
        err.contains("output buffer 1 is also bound as buffer 2"),
        "{err}"
    );
    assert_eq!(dev.counters().dispatches, 0);
}

#[test]
fn max_pool_backward_overwrites_stale_gradients_in_both_designs() {
    // Stride 3 over 2x2 windows leaves gaps (scatter design), stride 1 over 2x2 overlaps
    // (gather design); either way every dx element is written, whatever the buffer held. 2
    // channels, and 4 (the scatter's vec4 entry).
    use kiln_device::ops::pool2d::max_pool2d_backward;
    let Some((dev, mut rng)) = setup(37) else {
        return;
    };
    for (s, c) in [(3, 2), (1, 2), (3, 4), (2, 4)] {
        let d = Pool2dDims {
            n: 1,
            h: 7,
            w: 7,
            c,
            ph: 2,
            pw: 2,
            sh: s,
            sw: s,
            padding: Padding::Valid,
        };
        let (oh, ow, _, _) = d.output().unwrap();
        let (len, pooled) = (49 * c, oh * ow * c);
        let x = rng.vec(len, -1.0, 1.0);
        let (y, arg) = (out(&dev, pooled), out(&dev, pooled));
        max_pool2d(&dev, &up(&dev, &x), &y, &arg, &d).unwrap();
        let dy = rng.vec(pooled, -1.0, 1.0);
        let dx = up(&dev, &vec![7.0; len]);
        max_pool2d_backward(&dev, &up(&dev, &dy), &arg, &dx, &d).unwrap();
        let mut want = vec![0.0; len];
        for (o, &a) in dev.read_u32(&arg).unwrap().iter().enumerate() {
            want[a as usize] += dy[o];
        }
        let what = format!("stride {s}, {c} channels");
        assert_close(&what, &read(&dev, &dx), &want, 1e-6, 1e-6);
    }
}

#[test]
fn batch_norm_statistics_and_normalization_match_reference() {
    use kiln_device::ops::batchnorm::{BnDims, bn_normalize, bn_stats};
    let Some((dev, mut rng)) = setup(27) else {
        return;
    };
    // rows past one workgroup's stride, a channel count that is not a power of two, and a
    // channel offset so the mean is far from zero (the two-pass variance must not cancel).
    for (rows, c) in [(1, 3), (7, 5), (257, 16), (3000, 7)] {
        let d = BnDims { rows, channels: c };
        let x: Vec<f64> = rng
            .vec(rows * c, -1.0, 1.0)
            .iter()
            .enumerate()
            .map(|(i, v)| v + (i % c) as f64 * 3.0)
            .collect();
        let gamma = rng.vec(c, 0.5, 1.5);
        let beta = rng.vec(c, -0.5, 0.5);
        let (want, mean, var) = reference::batch_norm(&x, &gamma, &beta, rows, c, 1e-3);
        let (bx, stats, y) = (up(&dev, &x), out(&dev, 3 * c), out(&dev, rows * c));
        bn_stats(&dev, &bx, &stats, &d, 1e-3).unwrap();
        bn_normalize(
            &dev,
            &bx,
            &stats,
            (&up(&dev, &gamma), &up(&dev, &beta)),
            &y,
            &d,
        )
        .unwrap();
        let s = read(&dev, &stats);
        assert_close(&format!("mean {d:?}"), &s[..c], &mean, 1e-5, 1e-5);
        let inv: Vec<f64> = var.iter().map(|v| 1.0 / (v + 1e-3).sqrt()).collect();
        assert_close(&format!("inv std {d:?}"), &s[c..2 * c], &inv, 1e-4, 1e-4);
        assert_close(&format!("var {d:?}"), &s[2 * c..], &var, 1e-4, 1e-4);
        assert_close(&format!("y {d:?}"), &read(&dev, &y), &want, 1e-4, 1e-4);
    }
}

/// The moving statistics follow Keras's update, in place, each from its own row of the
/// stats, and a decayed value below the smallest normal f32 becomes 0 (a dead channel).
#[test]
fn batch_norm_moving_statistics_update_in_place_and_flush_denormals() {
    use kiln_device::ops::batchnorm::{BnStat, bn_moving_update};
    let Some((dev, mut rng)) = setup(28) else {
        return;
    };
    let c = 70; // past one workgroup
    let mut stats = rng.vec(3 * c, -2.0, 2.0);
    stats[2 * c] = 0.0; // a dead channel's batch variance...
    let mut moving_var = rng.vec(c, 0.5, 1.5);
    moving_var[0] = 1.18e-38; // ...decays below the smallest normal f32 here
    let moving_mean = rng.vec(c, -1.0, 1.0);
    let (bs, bm, bv) = (
        up(&dev, &stats),
        up(&dev, &moving_mean),
        up(&dev, &moving_var),
    );
    let momentum = 0.99f32;
    bn_moving_update(&dev, &bs, &bm, BnStat::Mean, momentum, c).unwrap();
    bn_moving_update(&dev, &bs, &bv, BnStat::Variance, momentum, c).unwrap();
    let ema = |moving: &[f64], row: usize| -> Vec<f64> {
        (0..c)
            .map(|i| {
                let keep = f64::from(1.0 - momentum);
                moving[i] * f64::from(momentum) + stats[row * c + i] * keep
            })
            .collect()
    };
    assert_close(
        "moving mean",
        &read(&dev, &bm),
        &ema(&moving_mean, 0),
        1e-6,
        1e-6,
    );
    let got = read(&dev, &bv);
    assert_eq!(
        got[0], 0.0,
        "a decayed variance below FLT_MIN is flushed, not denormal"
    );
    assert_close(
        "moving variance",
        &got[1..],
        &ema(&moving_var, 2)[1..],
        1e-6,
        1e-6,
    );
    assert_eq!(
        read(&dev, &bs),
        stats.iter().map(|&v| v as f32).collect::<Vec<_>>()
    );
    let e = bn_moving_update(&dev, &bs, &out(&dev, 4), BnStat::Mean, momentum, c)
        .unwrap_err()
        .to_string();
    assert!(e.contains("moving"), "{e}");
}
