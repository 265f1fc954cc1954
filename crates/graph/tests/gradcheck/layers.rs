//! Gradients of softmax, the fused cross-entropy, convolution, pooling and batch normalization.

use kiln_device::Activation as Act;
use kiln_device::ops::conv2d::{Conv2dDims, Padding};
use kiln_device::ops::pool2d::Pool2dDims;
use kiln_device::reference;
use kiln_device::testing::to_f32;
use kiln_graph::Tensor;

use crate::{ActCase, away_from_zero, check, input, setup};

#[test]
fn softmax_and_log_softmax_gradients() {
    let Some((dev, mut rng)) = setup(120) else {
        return;
    };
    for log in [false, true] {
        let x = input(&mut rng, &[3, 7], -3.0, 3.0);
        check(
            &dev,
            &mut rng,
            &format!("softmax log={log}"),
            &[x],
            |t| {
                if log {
                    t[0].log_softmax()
                } else {
                    t[0].softmax()
                }
            },
            |v| reference::softmax(&v[0], 3, 7, log),
        );
    }
}

/// The mean of row losses, as one value (the reference of a `mean_all` root).
fn mean(rows: &[f64]) -> Vec<f64> {
    vec![rows.iter().sum::<f64>() / rows.len() as f64]
}

#[test]
fn cross_entropy_gradients_for_labels_and_distributions() {
    let Some((dev, mut rng)) = setup(121) else {
        return;
    };
    let (rows, cols) = (5, 10);
    let labels: Vec<u32> = (0..rows).map(|_| rng.below(cols as u64) as u32).collect();
    let lt = Tensor::from_u32(&dev, &labels, &[rows]).unwrap();
    let x = input(&mut rng, &[rows, cols], -4.0, 4.0);
    check(
        &dev,
        &mut rng,
        "sparse xent",
        std::slice::from_ref(&x),
        |t| t[0].softmax_cross_entropy(&lt),
        |v| reference::softmax_xent_sparse(&v[0], &labels, rows, cols),
    );
    // The mean of the rows as the root takes the fused backward (one kernel, loss.rs).
    check(
        &dev,
        &mut rng,
        "sparse xent mean",
        std::slice::from_ref(&x),
        |t| t[0].softmax_cross_entropy(&lt)?.mean_all(),
        |v| mean(&reference::softmax_xent_sparse(&v[0], &labels, rows, cols)),
    );
    // The one-dispatch mean (forward and gradient in one kernel), here below a product with
    // random weights, so its gradient is scaled by the upstream scalar (backward.rs).
    check(
        &dev,
        &mut rng,
        "sparse xent one-dispatch mean",
        std::slice::from_ref(&x),
        |t| t[0].softmax_cross_entropy_mean(&lt),
        |v| mean(&reference::softmax_xent_sparse(&v[0], &labels, rows, cols)),
    );
    let mut target = rng.vec(rows * cols, 0.0, 1.0);
    for r in 0..rows {
        let s: f64 = target[r * cols..(r + 1) * cols].iter().sum();
        target[r * cols..(r + 1) * cols]
            .iter_mut()
            .for_each(|v| *v /= s);
    }
    let tt = Tensor::from_f32(&dev, &to_f32(&target), &[rows, cols]).unwrap();
    let target: Vec<f64> = to_f32(&target).iter().map(|&v| v as f64).collect();
    let x = input(&mut rng, &[rows, cols], -4.0, 4.0);
    check(
        &dev,
        &mut rng,
        "dense xent",
        std::slice::from_ref(&x),
        |t| t[0].softmax_cross_entropy(&tt)?.mean_all(),
        |v| mean(&reference::softmax_xent_dense(&v[0], &target, rows, cols)),
    );
    check(
        &dev,
        &mut rng,
        "dense xent one-dispatch mean",
        &[x],
        |t| t[0].softmax_cross_entropy_mean(&tt),
        |v| mean(&reference::softmax_xent_dense(&v[0], &target, rows, cols)),
    );
}

#[test]
fn conv2d_gradients_for_input_kernel_and_bias() {
    let Some((dev, mut rng)) = setup(122) else {
        return;
    };
    // F = 3 runs the direct kernels; F = 4 the column matrix + matmul on CPU adapters (C = 4
    // through its vec4 entries).
    for (h, k, s, padding, c, f) in [
        (5, 3, 1, Padding::Same, 2, 3),
        (6, 3, 2, Padding::Same, 2, 3),
        (7, 2, 2, Padding::Valid, 2, 3),
        (4, 1, 1, Padding::Valid, 2, 3),
        (5, 3, 1, Padding::Same, 2, 4),
        (6, 3, 2, Padding::Same, 4, 4),
    ] {
        let d = Conv2dDims {
            n: 2,
            h,
            w: h,
            c,
            f,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            padding,
        };
        let x = input(&mut rng, &[2, h, h, c], -1.0, 1.0);
        let w = input(&mut rng, &[k, k, c, f], -1.0, 1.0);
        let b = input(&mut rng, &[f], -1.0, 1.0);
        check(
            &dev,
            &mut rng,
            &format!("conv2d {d:?}"),
            &[x, w, b],
            |t| t[0].conv2d(&t[1], Some(&t[2]), (s, s), padding),
            |v| reference::conv2d(&v[0], &v[1], Some(&v[2]), &d),
        );
    }
}

#[test]
fn conv2d_gradients_through_the_fused_activation() {
    let Some((dev, mut rng)) = setup(123) else {
        return;
    };
    // 3 filters: the activation and bias gradients apart; 4: in one pass (bias_grad.wgsl).
    for filters in [3, 4] {
        let d = Conv2dDims {
            n: 2,
            h: 5,
            w: 5,
            c: 2,
            f: filters,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            padding: Padding::Same,
        };
        let acts: [ActCase; 3] = [
            (Act::Relu, |z| z.max(0.0)),
            (Act::Sigmoid, |z| 1.0 / (1.0 + (-z).exp())),
            (Act::Tanh, f64::tanh),
        ];
        for (act, f) in acts {
            let x = input(&mut rng, &[2, 5, 5, 2], -1.0, 1.0);
            let w = input(&mut rng, &[3, 3, 2, filters], -1.0, 1.0);
            let b = input(&mut rng, &[filters], -1.0, 1.0);
            check(
                &dev,
                &mut rng,
                &format!("conv2d {act:?} {filters} filters"),
                &[x, w, b],
                |t| t[0].conv2d_act(&t[1], Some(&t[2]), (1, 1), Padding::Same, act),
                |v| {
                    let z = reference::conv2d(&v[0], &v[1], Some(&v[2]), &d);
                    z.into_iter().map(f).collect()
                },
            );
        }
    }
}

#[test]
fn pooling_gradients() {
    let Some((dev, mut rng)) = setup(123) else {
        return;
    };
    for (h, p, s, padding) in [
        (4, 2, 2, Padding::Valid),
        (5, 2, 2, Padding::Same),
        (5, 3, 1, Padding::Same),
        (6, 3, 2, Padding::Valid),
        // Gaps between windows: the scatter backward must leave those inputs at zero.
        (7, 2, 3, Padding::Valid),
    ] {
        let d = Pool2dDims {
            n: 2,
            h,
            w: h,
            c: 3,
            ph: p,
            pw: p,
            sh: s,
            sw: s,
            padding,
        };
        let x = input(&mut rng, &[2, h, h, 3], -1.0, 1.0);
        check(
            &dev,
            &mut rng,
            &format!("max_pool {d:?}"),
            &[x],
            |t| t[0].max_pool2d((p, p), (s, s), padding),
            |v| reference::max_pool2d(&v[0], &d).0,
        );
        let x = input(&mut rng, &[2, h, h, 3], -1.0, 1.0);
        check(
            &dev,
            &mut rng,
            &format!("avg_pool {d:?}"),
            &[x],
            |t| t[0].avg_pool2d((p, p), (s, s), padding),
            |v| reference::avg_pool2d(&v[0], &d),
        );
    }
    // 4 channels: the forward pass runs the 4-channel max-pool kernel, whose argmax the
    // backward pass scatters to.
    let d = Pool2dDims {
        n: 2,
        h: 5,
        w: 5,
        c: 4,
        ph: 2,
        pw: 2,
        sh: 2,
        sw: 2,
        padding: Padding::Same,
    };
    let x = input(&mut rng, &[2, 5, 5, 4], -1.0, 1.0);
    check(
        &dev,
        &mut rng,
        "max_pool 4 channels",
        &[x],
        |t| t[0].max_pool2d((2, 2), (2, 2), Padding::Same),
        |v| reference::max_pool2d(&v[0], &d).0,
    );
    let x = input(&mut rng, &[2, 3, 3, 4], -1.0, 1.0);
    check(
        &dev,
        &mut rng,
        "global_avg_pool",
        &[x],
        |t| t[0].global_avg_pool2d(),
        |v| {
            (0..2)
                .flat_map(|n| (0..4).map(move |c| (n, c)))
                .map(|(n, c)| (0..9).map(|i| v[0][(n * 9 + i) * 4 + c]).sum::<f64>() / 9.0)
                .collect()
        },
    );
}

#[test]
fn batch_norm_gradients_for_input_scale_and_offset() {
    let Some((dev, mut rng)) = setup(124) else {
        return;
    };
    // 12 rows (fewer than a workgroup) and 150 rows (several strides of one).
    for shape in [[2usize, 3, 2, 4], [6, 5, 5, 3]] {
        let c = shape[3];
        let rows = shape[..3].iter().product::<usize>();
        let x = input(&mut rng, &shape, -2.0, 2.0);
        let gamma = away_from_zero(&mut rng, &[c], 0.5, 1.5);
        let beta = input(&mut rng, &[c], -1.0, 1.0);
        check(
            &dev,
            &mut rng,
            &format!("batch_norm {shape:?}"),
            &[x, gamma, beta],
            |t| t[0].batch_norm(&t[1], &t[2], 1e-3).map(|(y, _)| y),
            |v| reference::batch_norm(&v[0], &v[1], &v[2], rows, c, 1e-3).0,
        );
    }
}
