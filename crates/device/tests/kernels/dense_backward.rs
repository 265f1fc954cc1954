//! dense_backward.wgsl: a narrow Dense layer's dx, dw and db (through every epilogue
//! activation) from one dispatch, against f64 on the host, for widths 1 to 16, a bias lane
//! alone in its workgroup, folded rows, and dw and db written as adjacent views of one packed
//! buffer (as the optimizer's gradient targets are); with and without the input's own Dense
//! layer folded in (its pre-activation and bias gradients).

use kiln_device::Activation as Act;
use kiln_device::ops::dense_backward::{DenseDims, MAX_N, dense_backward, support};
use kiln_device::testing::assert_close;

use crate::{act_grad as grad, out, read, setup, up};

#[test]
fn input_kernel_and_bias_gradients_match_the_host() {
    let Some((dev, mut rng)) = setup(53) else {
        return;
    };
    let cases = [
        (1, 1, 1),
        (7, 5, 3),
        (32, 128, 10),
        (65, 7, 16),
        (33, 16, 8),
        (3, 9, 13),
    ];
    for (i, &(rows, k, n)) in cases.iter().enumerate() {
        let d = DenseDims { rows, k, n };
        if let Some(why) = support(&dev, &d) {
            // Adapters without subgroups take the separate kernels; the refusal names why.
            assert!(why.contains("subgroups"), "{why}");
            return;
        }
        let act = [Act::Linear, Act::Relu, Act::Sigmoid, Act::Tanh][i % 4];
        // x as the output of the layer before: relu keeps it >= 0, sigmoid in (0, 1).
        let prev = [None, Some(Act::Relu), Some(Act::Sigmoid), Some(Act::Tanh)][(i + 1) % 4];
        let x: Vec<f64> = rng
            .vec(rows * k, -1.0, 1.0)
            .into_iter()
            .map(|v| match prev {
                Some(Act::Relu) => v.max(0.0),
                Some(Act::Sigmoid) => 0.5 + 0.4 * v,
                _ => v,
            })
            .collect();
        let w = rng.vec(k * n, -1.0, 1.0);
        let y = rng.vec(rows * n, -1.0, 1.0);
        let g = rng.vec(rows * n, -1.0, 1.0);
        let packed = dev.pack(&[k * n, n, k]).unwrap();
        let (dw, db, db_prev) = (&packed.parts()[0], &packed.parts()[1], &packed.parts()[2]);
        let dx = out(&dev, rows * k);
        let (xb, wb, yb, gb) = (up(&dev, &x), up(&dev, &w), up(&dev, &y), up(&dev, &g));
        let fold = prev.map(|a| (a, &**db_prev));
        dense_backward(&dev, act, (&xb, &wb, &yb, &gb), (dw, db, &dx), fold, &d).unwrap();
        let dz: Vec<f64> = y.iter().zip(&g).map(|(&y, &g)| g * grad(act, y)).collect();
        let want_dw: Vec<f64> = (0..k * n)
            .map(|e| {
                (0..rows)
                    .map(|r| x[r * k + e / n] * dz[r * n + e % n])
                    .sum()
            })
            .collect();
        let want_db: Vec<f64> = (0..n)
            .map(|c| (0..rows).map(|r| dz[r * n + c]).sum())
            .collect();
        // dx, then the folded layer's dz_p = dx act_p'(x) and db_p = its column sums.
        let want_dx: Vec<f64> = (0..rows * k)
            .map(|e| {
                let dx: f64 = (0..n).map(|c| dz[e / k * n + c] * w[e % k * n + c]).sum();
                dx * prev.map_or(1.0, |a| grad(a, x[e]))
            })
            .collect();
        let what = format!("{act:?} after {prev:?}, rows {rows} k {k} n {n}");
        assert_close(&format!("dw {what}"), &read(&dev, dw), &want_dw, 1e-5, 1e-5);
        assert_close(&format!("db {what}"), &read(&dev, db), &want_db, 1e-5, 1e-5);
        assert_close(
            &format!("dx {what}"),
            &read(&dev, &dx),
            &want_dx,
            1e-5,
            1e-5,
        );
        if prev.is_some() {
            let want: Vec<f64> = (0..k)
                .map(|c| (0..rows).map(|r| want_dx[r * k + c]).sum())
                .collect();
            assert_close(
                &format!("db_p {what}"),
                &read(&dev, db_prev),
                &want,
                1e-5,
                1e-5,
            );
        }
    }
}

#[test]
fn layers_wider_than_the_design_are_refused_by_name() {
    let Some((dev, _)) = setup(54) else {
        return;
    };
    let d = DenseDims {
        rows: 2,
        k: 3,
        n: MAX_N + 1,
    };
    let b = out(&dev, 64);
    let err = dense_backward(&dev, Act::Linear, (&b, &b, &b, &b), (&b, &b, &b), None, &d)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dense_backward"), "{err}");
    assert_eq!(dev.counters().dispatches, 0);
}
