//! metrics.wgsl against the reference: correctness per row, top-k, the same hits accumulated in
//! one dispatch, accumulation, confusion.

use kiln_device::ops::metrics::{
    ACCUMULATE_MAX_VALUES, Hits, accumulate_mean, confusion_update, correct_binary, correct_dense,
    correct_sparse,
};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::{SIZES, out, read, setup, up};

#[test]
fn per_row_correctness_matches_reference_including_top_k_and_ties() {
    let Some((dev, mut rng)) = setup(50) else {
        return;
    };
    // Every case also runs accumulating into one running [sum, count] per kind, which must end
    // at the reference's totals.
    let kinds = ["top-1", "top-3", "dense", "binary"];
    let accs: Vec<_> = kinds.iter().map(|_| dev.zeros(8).unwrap()).collect();
    let mut want = [(0.0f64, 0.0f64); 4];
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
        let bp = up(&dev, &preds);
        let target = rng.vec(rows * cols, 0.0, 1.0);
        let bt = up(&dev, &target);
        let (p, t) = (rng.vec(rows, 0.0, 1.0), rng.vec(rows, 0.0, 1.0));
        let (bpb, btb) = (up(&dev, &p), up(&dev, &t));
        for (i, kind) in kinds.iter().enumerate() {
            let expected = match i {
                0 | 1 => reference::correct_sparse(&preds, &labels, cols, 2 * i + 1),
                2 => reference::correct_dense(&preds, &target, cols),
                _ => reference::correct_binary(&p, &t, 0.5),
            };
            let o = out(&dev, rows);
            for hits in [Hits::PerRow(&o), Hits::Accumulate(&accs[i])] {
                match i {
                    0 | 1 => correct_sparse(&dev, &bp, &bl, hits, rows, cols, 2 * i + 1),
                    2 => correct_dense(&dev, &bp, &bt, hits, rows, cols),
                    _ => correct_binary(&dev, &bpb, &btb, hits, rows, 0.5),
                }
                .unwrap();
            }
            assert_close(
                &format!("{kind} rows={rows}"),
                &read(&dev, &o),
                &expected,
                0.0,
                0.0,
            );
            want[i].0 += expected.iter().sum::<f64>();
            want[i].1 += rows as f64;
        }
    }
    for (i, kind) in kinds.iter().enumerate() {
        assert_close(
            &format!("{kind} accumulated"),
            &read(&dev, &accs[i])[..2],
            &[want[i].0, want[i].1],
            0.0,
            0.0,
        );
    }
    // Past one workgroup's share the accumulating form is refused, naming the way out.
    let big = ACCUMULATE_MAX_VALUES + 1;
    let e = correct_binary(
        &dev,
        &out(&dev, big),
        &out(&dev, big),
        Hits::Accumulate(&accs[3]),
        big,
        0.5,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("correct_binary") && e.contains("accumulate_mean"),
        "{e}"
    );
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
