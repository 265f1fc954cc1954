//! Reference metric bookkeeping (per-row correctness and confusion matrices).

/// 1.0 when the label is among the `k` highest predictions of its row (ties broken toward the
/// lower class index, as the kernel does).
pub fn correct_sparse(preds: &[f64], labels: &[u32], cols: usize, k: usize) -> Vec<f64> {
    labels
        .iter()
        .enumerate()
        .map(|(r, &l)| {
            let row = &preds[r * cols..(r + 1) * cols];
            let l = l as usize;
            if l >= cols {
                return 0.0;
            }
            let above = (0..cols)
                .filter(|&j| row[j] > row[l] || (row[j] == row[l] && j < l))
                .count();
            if above < k { 1.0 } else { 0.0 }
        })
        .collect()
}

fn argmax(row: &[f64]) -> usize {
    (1..row.len()).fold(0, |best, j| if row[j] > row[best] { j } else { best })
}

/// 1.0 when argmax(preds) == argmax(target) per row.
pub fn correct_dense(preds: &[f64], target: &[f64], cols: usize) -> Vec<f64> {
    preds
        .chunks(cols)
        .zip(target.chunks(cols))
        .map(|(p, t)| if argmax(p) == argmax(t) { 1.0 } else { 0.0 })
        .collect()
}

/// 1.0 when (pred > threshold) == (target > 0.5).
pub fn correct_binary(preds: &[f64], target: &[f64], threshold: f64) -> Vec<f64> {
    preds
        .iter()
        .zip(target)
        .map(|(&p, &t)| {
            if (p > threshold) == (t > 0.5) {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

/// Confusion matrix [label, predicted] counts.
pub fn confusion(preds: &[f64], labels: &[u32], cols: usize) -> Vec<u32> {
    let mut m = vec![0; cols * cols];
    for (r, &l) in labels.iter().enumerate() {
        if (l as usize) < cols {
            m[l as usize * cols + argmax(&preds[r * cols..(r + 1) * cols])] += 1;
        }
    }
    m
}
