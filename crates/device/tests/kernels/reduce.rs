//! reduce.wgsl: sum / mean / max / argmax over every axis position, and sum_to_shape.

use kiln_device::ops::reduce::{AxisView, ReduceOp, argmax, reduce, sum_to_shape};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::{SIZES, out, read, setup, up};

#[test]
fn reductions_match_reference_over_each_axis() {
    let Some((dev, mut rng)) = setup(20) else {
        return;
    };
    let shapes: [&[usize]; 4] = [&[1], &[7, 65], &[3, 257, 2], &[257, 7]];
    for shape in shapes {
        for axis in 0..shape.len() {
            let v = AxisView::new(shape, axis);
            let x = rng.vec(shape.iter().product(), -5.0, 5.0);
            let bx = up(&dev, &x);
            for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max] {
                let o = out(&dev, v.outer * v.inner);
                reduce(&dev, op, &bx, &o, &v).unwrap();
                assert_close(
                    &format!("{op:?} {shape:?} axis {axis}"),
                    &read(&dev, &o),
                    &reference::reduce(op, &x, &v),
                    1e-5,
                    1e-5,
                );
            }
            let o = out(&dev, v.outer * v.inner);
            argmax(&dev, &bx, &o, &v).unwrap();
            assert_eq!(
                dev.read_u32(&o).unwrap(),
                reference::argmax(&x, &v),
                "argmax {shape:?} axis {axis}"
            );
        }
    }
}

#[test]
fn reduce_all_of_a_long_vector_and_argmax_ties_pick_the_first() {
    let Some((dev, mut rng)) = setup(21) else {
        return;
    };
    for n in SIZES.iter().copied().chain([100_003]) {
        let x = rng.vec(n, -1.0, 1.0);
        let v = AxisView {
            outer: 1,
            len: n,
            inner: 1,
        };
        let o = out(&dev, 1);
        reduce(&dev, ReduceOp::Sum, &up(&dev, &x), &o, &v).unwrap();
        assert_close(
            &format!("sum n={n}"),
            &read(&dev, &o),
            &reference::reduce(ReduceOp::Sum, &x, &v),
            1e-3,
            1e-5,
        );
    }
    let x = [1.0, 3.0, 3.0, -1.0, 3.0];
    let o = out(&dev, 1);
    argmax(
        &dev,
        &up(&dev, &x),
        &o,
        &AxisView {
            outer: 1,
            len: 5,
            inner: 1,
        },
    )
    .unwrap();
    assert_eq!(dev.read_u32(&o).unwrap(), vec![1]);
}

#[test]
fn reductions_with_more_outputs_than_one_grid_dimension() {
    let Some((dev, mut rng)) = setup(22) else {
        return;
    };
    let v = AxisView {
        outer: 70_001,
        len: 3,
        inner: 1,
    };
    let x = rng.vec(70_001 * 3, -1.0, 1.0);
    let o = out(&dev, 70_001);
    reduce(&dev, ReduceOp::Max, &up(&dev, &x), &o, &v).unwrap();
    assert_close(
        "max 2-D grid",
        &read(&dev, &o),
        &reference::reduce(ReduceOp::Max, &x, &v),
        0.0,
        0.0,
    );
}

#[test]
fn sum_to_shape_undoes_broadcasting() {
    let Some((dev, mut rng)) = setup(23) else {
        return;
    };
    let cases: [(&[usize], &[usize]); 5] = [
        (&[7, 65], &[65]),
        (&[7, 65], &[7, 1]),
        (&[4, 3, 5], &[3, 1]),
        (&[257], &[1]),
        (&[2, 3, 4], &[2, 3, 4]),
    ];
    for (from, to) in cases {
        let x = rng.vec(from.iter().product(), -1.0, 1.0);
        let want = reference::sum_to_shape(&x, from, to);
        let o = out(&dev, want.len());
        sum_to_shape(&dev, &up(&dev, &x), from, &o, to).unwrap();
        assert_close(
            &format!("{from:?} -> {to:?}"),
            &read(&dev, &o),
            &want,
            1e-5,
            1e-5,
        );
    }
}
