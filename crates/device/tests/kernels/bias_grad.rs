//! bias_grad.wgsl: dz = g act'(y) and db = column sums of dz in one pass, against f64 on the
//! host, for every epilogue activation, with row counts inside one chunk and across several
//! (the partial sums then summed by `reduce`).

use kiln_device::Activation as Act;
use kiln_device::ops::bias_grad::{CHUNK, act_bias_backward};
use kiln_device::testing::assert_close;

use crate::{act_grad as grad, out, read, setup, up};

#[test]
fn activation_and_bias_gradients_match_the_host() {
    let Some((dev, mut rng)) = setup(47) else {
        return;
    };
    for rows in [1, 7, 65, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
        for (i, cols) in [4, 12, 128].into_iter().enumerate() {
            let act = [Act::Linear, Act::Relu, Act::Sigmoid, Act::Tanh][(rows + i) % 4];
            let y = rng.vec(rows * cols, -1.0, 1.0);
            let g = rng.vec(rows * cols, -1.0, 1.0);
            let (dz, db) = (out(&dev, rows * cols), out(&dev, cols));
            act_bias_backward(
                &dev,
                act,
                (&up(&dev, &y), &up(&dev, &g)),
                (&dz, &db),
                rows,
                cols,
            )
            .unwrap();
            let want_dz: Vec<f64> = y.iter().zip(&g).map(|(&y, &g)| g * grad(act, y)).collect();
            let want_db: Vec<f64> = (0..cols)
                .map(|c| (0..rows).map(|r| want_dz[r * cols + c]).sum())
                .collect();
            let what = format!("{act:?} {rows}x{cols}");
            assert_close(
                &format!("dz {what}"),
                &read(&dev, &dz),
                &want_dz,
                1e-6,
                1e-6,
            );
            assert_close(
                &format!("db {what}"),
                &read(&dev, &db),
                &want_db,
                1e-5,
                1e-5,
            );
        }
    }
}

#[test]
fn columns_that_are_not_whole_vec4s_are_refused_by_name() {
    let Some((dev, _)) = setup(48) else {
        return;
    };
    let b = out(&dev, 60);
    let err = act_bias_backward(&dev, Act::Relu, (&b, &b), (&b, &b), 6, 10)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("act_bias_backward") && err.contains("10"),
        "{err}"
    );
}
