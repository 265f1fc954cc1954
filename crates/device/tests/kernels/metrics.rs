//! metrics.wgsl against the reference: correctness per row, top-k, accumulation, confusion.

use kiln_device::ops::metrics::{
    accumulate_mean, confusion_update, correct_binary, correct_dense, correct_sparse,
};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::{SIZES, out, read, setup, up};

#[test]
fn per_row_correctness_matches_reference_including_top_k_and_ties() {
    let Some((dev, mut rng)) = setup(50) else {
        return;
    };
    for rows in SIZES {
        let cols = 10;
        // Coarse values make ties common.
        let preds: Vec<f64> = rng
            .vec(rows * cols, 0.0, 4.0)
            .iter()
            .map(|v| v.floor())
            .collect();
        let labels: Vec<u32> = (0..rows).map(|_| rng.below(cols as u64) as u32).collect();
        let bl = dev.upload(&labels).unwrap();
        for k in [1, 3] {
            let o = out(&dev, rows);
            correct_sparse(&dev, &up(&dev, &preds), &bl, &o, rows, cols, k).unwrap();
            assert_close(
                &format!("top-{k} rows={rows}"),
                &read(&dev, &o),
                &reference::correct_sparse(&preds, &labels, cols, k),
                0.0,
                0.0,
            );
        }
        let target = rng.vec(rows * cols, 0.0, 1.0);
        let o = out(&dev, rows);
        correct_dense(&dev, &up(&dev, &preds), &up(&dev, &target), &o, rows, cols).unwrap();
        assert_close(
            "dense",
            &read(&dev, &o),
            &reference::correct_dense(&preds, &target, cols),
            0.0,
            0.0,
        );
        let (p, t) = (rng.vec(rows, 0.0, 1.0), rng.vec(rows, 0.0, 1.0));
        correct_binary(&dev, &up(&dev, &p), &up(&dev, &t), &o, rows, 0.5).unwrap();
        assert_close(
            "binary",
            &read(&dev, &o),
            &reference::correct_binary(&p, &t, 0.5),
            0.0,
            0.0,
        );
    }
}

#[test]
fn accumulate_mean_adds_weighted_sums_across_calls() {
    let Some((dev, mut rng)) = setup(51) else {
        return;
    };
    let acc = dev.zeros(8).unwrap();
    let (mut want_sum, mut want_count) = (0.0, 0.0);
    for n in SIZES {
        let v = rng.vec(n, -1.0, 1.0);
        accumulate_mean(&dev, &up(&dev, &v), &acc, n, 2.0, n as f32).unwrap();
        want_sum += 2.0 * v.iter().sum::<f64>();
        want_count += n as f64;
    }
    assert_close(
        "acc",
        &read(&dev, &acc),
        &[want_sum, want_count],
        1e-4,
        1e-5,
    );
}

#[test]
fn confusion_matrix_counts_label_prediction_pairs() {
    let Some((dev, mut rng)) = setup(52) else {
        return;
    };
    for (rows, cols) in [(257, 10), (65, 70), (1, 1)] {
        let preds = rng.vec(rows * cols, 0.0, 1.0);
        let labels: Vec<u32> = (0..rows).map(|_| rng.below(cols as u64) as u32).collect();
        let m = dev.zeros((cols * cols * 4) as u64).unwrap();
        confusion_update(
            &dev,
            &up(&dev, &preds),
            &dev.upload(&labels).unwrap(),
            &m,
            rows,
            cols,
        )
        .unwrap();
        confusion_update(
            &dev,
            &up(&dev, &preds),
            &dev.upload(&labels).unwrap(),
            &m,
            rows,
            cols,
        )
        .unwrap();
        let want: Vec<u32> = reference::confusion(&preds, &labels, cols)
            .iter()
            .map(|c| 2 * c)
            .collect();
        assert_eq!(dev.read_u32(&m).unwrap(), want, "{rows}x{cols}");
    }
}
