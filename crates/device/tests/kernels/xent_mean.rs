//! `softmax_xent_mean`: the mean cross-entropy and its gradient in one workgroup, against the
//! reference (row losses averaged in f64; gradient (softmax * sum(t) - t) / rows), for row counts
//! on both sides of the workgroup's 64 invocations, and its input checks.

use kiln_device::ops::softmax::{Targets, XENT_MEAN_MAX_VALUES, softmax_xent_mean};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::{SIZES, out, read, setup, up};

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// (softmax_rj * sum_i t_ri - t_rj) / rows.
fn expected_grad(logits: &[f64], target: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let p = reference::softmax(logits, rows, cols, false);
    let mut g = vec![0.0; rows * cols];
    for r in 0..rows {
        let tsum: f64 = target[r * cols..(r + 1) * cols].iter().sum();
        for j in 0..cols {
            let i = r * cols + j;
            g[i] = (p[i] * tsum - target[i]) / rows as f64;
        }
    }
    g
}

#[test]
fn mean_and_gradient_match_reference_for_labels_and_distributions() {
    let Some((dev, mut rng)) = setup(33) else {
        return;
    };
    for rows in SIZES.into_iter().chain([64, 128]) {
        for cols in [1, 10, 33] {
            let logits = rng.vec(rows * cols, -6.0, 6.0);
            let labels: Vec<u32> = (0..rows).map(|_| rng.below(cols as u64) as u32).collect();
            let mut onehot = vec![0.0; rows * cols];
            for (r, &l) in labels.iter().enumerate() {
                onehot[r * cols + l as usize] = 1.0;
            }
            let mut dist = rng.vec(rows * cols, 0.0, 1.0);
            for r in 0..rows {
                let s: f64 = dist[r * cols..(r + 1) * cols].iter().sum();
                dist[r * cols..(r + 1) * cols]
                    .iter_mut()
                    .for_each(|t| *t /= s);
            }
            let bl = dev.upload(&labels).unwrap();
            let bd = up(&dev, &dist);
            let cases = [
                ("sparse", Targets::Sparse(&bl), &onehot, {
                    mean(&reference::softmax_xent_sparse(
                        &logits, &labels, rows, cols,
                    ))
                }),
                ("dense", Targets::Dense(&bd), &dist, {
                    mean(&reference::softmax_xent_dense(&logits, &dist, rows, cols))
                }),
            ];
            for (name, t, target, want) in cases {
                let what = format!("{name} {rows}x{cols}");
                let (grad, loss) = (out(&dev, rows * cols), out(&dev, 1));
                let x = up(&dev, &logits);
                softmax_xent_mean(&dev, &x, t, Some(&grad), &loss, rows, cols).unwrap();
                assert_close(
                    &format!("{what} loss"),
                    &read(&dev, &loss),
                    &[want],
                    1e-5,
                    1e-5,
                );
                assert_close(
                    &format!("{what} grad"),
                    &read(&dev, &grad),
                    &expected_grad(&logits, target, rows, cols),
                    1e-6,
                    1e-4,
                );
                // Without a gradient: the same loss.
                let loss2 = out(&dev, 1);
                softmax_xent_mean(&dev, &x, t, None, &loss2, rows, cols).unwrap();
                assert_eq!(read(&dev, &loss2), read(&dev, &loss), "{what} without grad");
            }
        }
    }
}

#[test]
fn a_bad_label_makes_the_mean_nan_and_bad_sizes_are_refused() {
    let Some((dev, _)) = setup(34) else { return };
    let loss = out(&dev, 1);
    let labels = dev.upload(&[1u32, 3]).unwrap();
    let x = up(&dev, &[0.0; 6]);
    softmax_xent_mean(&dev, &x, Targets::Sparse(&labels), None, &loss, 2, 3).unwrap();
    assert!(read(&dev, &loss)[0].is_nan());
    for (rows, cols) in [(0, 3), (XENT_MEAN_MAX_VALUES + 1, 1)] {
        let e = softmax_xent_mean(&dev, &x, Targets::Sparse(&labels), None, &loss, rows, cols)
            .unwrap_err()
            .to_string();
        assert!(e.contains("softmax_xent_mean") && e.contains("rows"), "{e}");
    }
    // A gradient buffer too small for the logits is named.
    let small = out(&dev, 2);
    let e = softmax_xent_mean(
        &dev,
        &x,
        Targets::Sparse(&labels),
        Some(&small),
        &loss,
        2,
        3,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("grad"), "{e}");
}
