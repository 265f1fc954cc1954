//! `softmax_xent_mean`: the mean cross-entropy and its gradient in one workgroup, against the
//! reference (row losses averaged in f64; gradient (softmax * sum(t) - t) / rows), for row counts
//! on both sides of the workgroup's 64 invocations, and its input checks; its tracker updates
//! against the separate kernels they replace, bit for bit.

use kiln_device::ops::metrics::{Hits, accumulate_mean, correct_dense, correct_sparse};
use kiln_device::ops::softmax::{
    Targets, XENT_MEAN_MAX_VALUES, XentHits, XentTrack, softmax_xent_mean,
    softmax_xent_mean_tracked,
};
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

/// The loss tracker's and the accuracy's updates made inside the loss dispatch equal, bit for
/// bit, those of `accumulate_mean` and `correct_sparse` / `correct_dense` with
/// `Hits::Accumulate`, over two batches into trackers that already hold values; preds with ties
/// (rounded values) so the tie rule is exercised, and preds that are not the logits.
#[test]
fn tracked_updates_equal_the_separate_kernels_bit_for_bit() {
    let Some((dev, mut rng)) = setup(35) else {
        return;
    };
    for rows in [1, 7, 64, 65, 257] {
        for cols in [1, 10] {
            let logits = rng.vec(rows * cols, -4.0, 4.0);
            let preds: Vec<f64> = rng
                .vec(rows * cols, 0.0, 3.0)
                .iter()
                .map(|v| v.round())
                .collect();
            let labels: Vec<u32> = (0..rows).map(|_| rng.below(cols as u64) as u32).collect();
            let target: Vec<f64> = (0..rows * cols)
                .map(|i| f64::from(labels[i / cols] as usize == i % cols))
                .collect();
            let (x, px) = (up(&dev, &logits), up(&dev, &preds));
            let (bl, bt) = (dev.upload(&labels).unwrap(), up(&dev, &target));
            let cases = [
                ("sparse k=1", Targets::Sparse(&bl), 1),
                ("sparse k=3", Targets::Sparse(&bl), 3),
                ("dense", Targets::Dense(&bt), 1),
            ];
            for (name, t, k) in cases {
                for scored in [&x, &px] {
                    let what = format!("{name} {rows}x{cols}");
                    let start = [2.5, 4.0];
                    let accs: Vec<_> = (0..4).map(|_| up(&dev, &start)).collect();
                    let (fused_loss, fused_hits, sep_loss, sep_hits) =
                        (&accs[0], &accs[1], &accs[2], &accs[3]);
                    let weight = rows as f32;
                    for _ in 0..2 {
                        let (g1, l1) = (out(&dev, rows * cols), out(&dev, 1));
                        let track = XentTrack {
                            loss: Some((fused_loss, weight)),
                            hits: Some(XentHits {
                                preds: scored,
                                acc: fused_hits,
                                k,
                            }),
                        };
                        softmax_xent_mean_tracked(&dev, &x, t, Some(&g1), &l1, rows, cols, track)
                            .unwrap();
                        let (g2, l2) = (out(&dev, rows * cols), out(&dev, 1));
                        softmax_xent_mean(&dev, &x, t, Some(&g2), &l2, rows, cols).unwrap();
                        accumulate_mean(&dev, &l2, sep_loss, 1, weight, weight).unwrap();
                        let hits = Hits::Accumulate(sep_hits);
                        match t {
                            Targets::Sparse(l) => {
                                correct_sparse(&dev, scored, l, hits, rows, cols, k).unwrap()
                            }
                            Targets::Dense(d) => {
                                correct_dense(&dev, scored, d, hits, rows, cols).unwrap()
                            }
                        }
                        assert_eq!(read(&dev, &l1), read(&dev, &l2), "{what} loss");
                        assert_eq!(read(&dev, &g1), read(&dev, &g2), "{what} grad");
                    }
                    let bits = |b| {
                        read(&dev, b)[..2]
                            .iter()
                            .map(|v| v.to_bits())
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(bits(fused_loss), bits(sep_loss), "{what} loss tracker");
                    assert_eq!(bits(fused_hits), bits(sep_hits), "{what} hits");
                    assert!(
                        read(&dev, fused_hits)[1] == 4.0 + 2.0 * rows as f32,
                        "{what}"
                    );
                }
            }
        }
    }
}

#[test]
fn tracked_updates_refuse_a_bad_k_or_small_accumulators() {
    let Some((dev, _)) = setup(36) else { return };
    let (x, loss, acc, small) = (
        up(&dev, &[0.0; 6]),
        out(&dev, 1),
        out(&dev, 2),
        out(&dev, 1),
    );
    let (labels, target) = (dev.upload(&[1u32, 2]).unwrap(), up(&dev, &[0.0; 6]));
    let hits = |acc, k| XentTrack {
        loss: None,
        hits: Some(XentHits { preds: &x, acc, k }),
    };
    let run = |t, track| {
        softmax_xent_mean_tracked(&dev, &x, t, None, &loss, 2, 3, track)
            .unwrap_err()
            .to_string()
    };
    let e = run(Targets::Sparse(&labels), hits(&acc, 0));
    assert!(e.contains("k = 0"), "{e}");
    let e = run(Targets::Dense(&target), hits(&acc, 2));
    assert!(e.contains("k = 2"), "{e}");
    let e = run(Targets::Sparse(&labels), hits(&small, 1));
    assert!(e.contains("hits acc"), "{e}");
    let track = XentTrack {
        loss: Some((&small, 1.0)),
        hits: None,
    };
    let e = run(Targets::Sparse(&labels), track);
    assert!(e.contains("loss acc"), "{e}");
}
