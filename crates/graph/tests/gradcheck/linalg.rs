//! Gradients of matmul (all transpose flags, folded and batched), the fused linear layer (every
//! epilogue activation, with and without bias), reductions and layout ops.

use kiln_device::Activation as Act;
use kiln_device::ops::contiguous_strides;
use kiln_device::ops::matmul::MatmulDims;
use kiln_device::ops::reduce::{AxisView, ReduceOp};
use kiln_device::ops::shape::StridedView;
use kiln_device::reference;
use kiln_graph::Tensor;

use crate::{ActCase, check, input, setup};

/// Every epilogue activation with its f64 form.
const EPILOGUE_ACTS: [ActCase; 4] = [
    (Act::Linear, |z| z),
    (Act::Relu, |z| z.max(0.0)),
    (Act::Sigmoid, |z| 1.0 / (1.0 + (-z).exp())),
    (Act::Tanh, f64::tanh),
];

#[test]
fn matmul_gradients_for_every_transpose_combination() {
    let Some((dev, mut rng)) = setup(110) else {
        return;
    };
    let (m, n, k) = (5, 7, 3);
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let a = input(&mut rng, &if ta { [k, m] } else { [m, k] }, -1.0, 1.0);
        let b = input(&mut rng, &if tb { [n, k] } else { [k, n] }, -1.0, 1.0);
        let d = MatmulDims::new(m, n, k, ta, tb);
        check(
            &dev,
            &mut rng,
            &format!("matmul ta={ta} tb={tb}"),
            &[a, b],
            |t| t[0].matmul_t(&t[1], ta, tb),
            |v| reference::matmul(&v[0], &v[1], &d),
        );
    }
}

#[test]
fn fused_linear_gradients_for_every_activation_with_and_without_bias() {
    let Some((dev, mut rng)) = setup(112) else {
        return;
    };
    // [2, 3, 4] x [4, n] + [n]: rows fold, as a Dense layer on a rank-3 input. On a CPU adapter
    // with subgroups a layer of up to 16 units with a bias has its whole backward from one
    // dispatch (dense_backward.wgsl). Wider, or elsewhere: with n a multiple of 4 the activation
    // and bias gradients come from one pass (bias_grad.wgsl), with n = 5 apart.
    for n in [5, 8, 16, 20] {
        let d = MatmulDims::new(6, n, 4, false, false);
        for (act, f) in EPILOGUE_ACTS {
            for with_bias in [true, false] {
                let mut inputs = vec![
                    input(&mut rng, &[2, 3, 4], -1.0, 1.0),
                    input(&mut rng, &[4, n], -1.0, 1.0),
                ];
                if with_bias {
                    inputs.push(input(&mut rng, &[n], -0.5, 0.5));
                }
                check(
                    &dev,
                    &mut rng,
                    &format!("linear {act:?} n {n} bias {with_bias}"),
                    &inputs,
                    |t| t[0].linear(&t[1], t.get(2), act),
                    |v| {
                        let z = reference::matmul(&v[0], &v[1], &d);
                        let bias = |i: usize| v.get(2).map_or(0.0, |b| b[i % n]);
                        z.iter().enumerate().map(|(i, &z)| f(z + bias(i))).collect()
                    },
                );
            }
        }
    }
}

/// Two stacked linear layers, the second narrow: on a CPU adapter with subgroups the second's
/// dispatch also makes the first's activation and bias gradients (dense_backward.wgsl's fold).
#[test]
fn stacked_linear_gradients_when_the_narrow_head_folds_in_the_layer_before() {
    let Some((dev, mut rng)) = setup(113) else {
        return;
    };
    let (d1, d2) = (
        MatmulDims::new(3, 6, 4, false, false),
        MatmulDims::new(3, 5, 6, false, false),
    );
    for (act, f) in EPILOGUE_ACTS {
        let inputs = vec![
            input(&mut rng, &[3, 4], -1.0, 1.0),
            input(&mut rng, &[4, 6], -1.0, 1.0),
            input(&mut rng, &[6], -0.5, 0.5),
            input(&mut rng, &[6, 5], -1.0, 1.0),
            input(&mut rng, &[5], -0.5, 0.5),
        ];
        check(
            &dev,
            &mut rng,
            &format!("linear {act:?} then a narrow linear"),
            &inputs,
            |t| {
                t[0].linear(&t[1], Some(&t[2]), act)?
                    .linear(&t[3], Some(&t[4]), Act::Linear)
            },
            |v| {
                let z = reference::matmul(&v[0], &v[1], &d1);
                let h: Vec<f64> = z
                    .iter()
                    .enumerate()
                    .map(|(i, &z)| f(z + v[2][i % 6]))
                    .collect();
                let y = reference::matmul(&h, &v[3], &d2);
                y.iter()
                    .enumerate()
                    .map(|(i, &y)| y + v[4][i % 5])
                    .collect()
            },
        );
    }
}

#[test]
fn matmul_gradients_when_rows_fold_and_when_batched() {
    let Some((dev, mut rng)) = setup(111) else {
        return;
    };
    // [2, 3, 4] x [4, 5]: a Dense layer on a rank-3 input.
    let a = input(&mut rng, &[2, 3, 4], -1.0, 1.0);
    let b = input(&mut rng, &[4, 5], -1.0, 1.0);
    check(
        &dev,
        &mut rng,
        "folded matmul",
        &[a, b],
        |t| t[0].matmul(&t[1]),
        |v| reference::matmul(&v[0], &v[1], &MatmulDims::new(6, 5, 4, false, false)),
    );
    // [3, 2, 4] x [3, 5, 4]^T per batch.
    let a = input(&mut rng, &[3, 2, 4], -1.0, 1.0);
    let b = input(&mut rng, &[3, 5, 4], -1.0, 1.0);
    let mut d = MatmulDims::new(2, 5, 4, false, true);
    d.batch = 3;
    d.a_batch_stride = 8;
    d.b_batch_stride = 20;
    check(
        &dev,
        &mut rng,
        "batched matmul",
        &[a, b],
        |t| t[0].matmul_t(&t[1], false, true),
        |v| reference::matmul(&v[0], &v[1], &d),
    );
}

#[test]
fn reduction_gradients_over_each_axis() {
    let Some((dev, mut rng)) = setup(112) else {
        return;
    };
    let shape = [3, 4, 5];
    for axis in 0..3 {
        for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
            let x = input(&mut rng, &shape, -2.0, 2.0);
            let v = AxisView::new(&shape, axis);
            check(
                &dev,
                &mut rng,
                &format!("{op:?} axis {axis}"),
                &[x],
                |t| match op {
                    ReduceOp::Sum => t[0].sum(axis, false),
                    ReduceOp::Mean => t[0].mean(axis, true),
                    ReduceOp::Max => t[0].max(axis, false),
                },
                |vals| reference::reduce(op, &vals[0], &v),
            );
        }
    }
    let x = input(&mut rng, &[65], -1.0, 1.0);
    check(
        &dev,
        &mut rng,
        "mean_all",
        &[x],
        |t| t[0].mean_all(),
        |v| vec![v[0].iter().sum::<f64>() / 65.0],
    );
}

#[test]
fn layout_op_gradients() {
    let Some((dev, mut rng)) = setup(113) else {
        return;
    };
    let shape = [2, 3, 4];
    let x = input(&mut rng, &shape, -1.0, 1.0);
    let perm = [2, 0, 1];
    check(
        &dev,
        &mut rng,
        "permute",
        &[x],
        |t| t[0].permute(&perm),
        |v| {
            let st = contiguous_strides(&shape);
            let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
            let src = StridedView {
                offset: 0,
                strides: perm.iter().map(|&p| st[p]).collect(),
            };
            let dst = StridedView {
                offset: 0,
                strides: contiguous_strides(&out_shape),
            };
            let mut o = vec![0.0; 24];
            reference::strided_copy(&v[0], &src, &mut o, &dst, &out_shape);
            o
        },
    );
    let x = input(&mut rng, &shape, -1.0, 1.0);
    check(
        &dev,
        &mut rng,
        "slice",
        &[x],
        |t| t[0].slice(1, 1, 3),
        |v| {
            (0..2)
                .flat_map(|a| (1..3).flat_map(move |b| (0..4).map(move |c| (a, b, c))))
                .map(|(a, b, c)| v[0][a * 12 + b * 4 + c])
                .collect()
        },
    );
    let (a, b) = (
        input(&mut rng, &[2, 3], -1.0, 1.0),
        input(&mut rng, &[2, 2], -1.0, 1.0),
    );
    check(
        &dev,
        &mut rng,
        "concat",
        &[a, b],
        |t| Tensor::concat(&[t[0].clone(), t[1].clone()], 1),
        |v| {
            (0..2)
                .flat_map(|r| {
                    v[0][r * 3..r * 3 + 3]
                        .iter()
                        .chain(&v[1][r * 2..r * 2 + 2])
                        .copied()
                        .collect::<Vec<_>>()
                })
                .collect()
        },
    );
    // Zero padding as ZeroPadding2D uses it: NHWC, uneven pads on H and W.
    let x = input(&mut rng, &[1, 2, 3, 2], -1.0, 1.0);
    check(
        &dev,
        &mut rng,
        "pad",
        &[x],
        |t| t[0].pad(&[(0, 0), (1, 2), (2, 1), (0, 0)]),
        |v| {
            let mut o = vec![0.0; 5 * 6 * 2];
            for (i, j, c) in
                (0..2).flat_map(|i| (0..3).flat_map(move |j| (0..2).map(move |c| (i, j, c))))
            {
                o[((i + 1) * 6 + (j + 2)) * 2 + c] = v[0][(i * 3 + j) * 2 + c];
            }
            o
        },
    );
    // A residual block's wiring: x fans out to a branch and to the skip connection, the two
    // meet in an add, and a concat joins the result with x again (three uses of x).
    let (x, w) = (
        input(&mut rng, &[2, 3], -1.0, 1.0),
        input(&mut rng, &[3, 3], -1.0, 1.0),
    );
    check(
        &dev,
        &mut rng,
        "residual fan-out",
        &[x, w],
        |t| {
            let branch = t[0].matmul(&t[1])?.tanh()?;
            Tensor::concat(&[branch.add(&t[0])?, t[0].clone()], 1)
        },
        |v| {
            let mut o = Vec::new();
            for r in 0..2 {
                let row = &v[0][r * 3..r * 3 + 3];
                for c in 0..3 {
                    let z: f64 = (0..3).map(|k| row[k] * v[1][k * 3 + c]).sum();
                    o.push(z.tanh() + row[c]);
                }
                o.extend_from_slice(row);
            }
            o
        },
    );
    let x = input(&mut rng, &[6, 4], -1.0, 1.0);
    check(
        &dev,
        &mut rng,
        "reshape",
        &[x],
        |t| t[0].reshape(&[3, 8])?.mul(&t[0].reshape(&[3, 8])?),
        |v| v[0].iter().map(|a| a * a).collect(),
    );
}
