//! Histogram buckets as TensorBoard's TF2 histogram summary computes them: `bucket_count`
//! equal-width buckets from min to max, each row (left edge, right edge, count); a constant input
//! gets one bucket [v - 0.5, v + 0.5] holding everything (the last bucket closes on the right).

/// TF2's default bucket count (`tf.summary.histogram(buckets=None)`), also what Keras writes.
pub const DEFAULT_BUCKETS: usize = 30;

/// Rows of (left, right, count). Non-finite values are ignored. Empty input gives no rows.
pub fn buckets(values: &[f32], bucket_count: usize) -> Vec<[f64; 3]> {
    let finite: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| v as f64)
        .collect();
    if finite.is_empty() || bucket_count == 0 {
        return Vec::new();
    }
    let min = finite.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = finite.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if min == max {
        return vec![[min - 0.5, max + 0.5, finite.len() as f64]];
    }
    let width = (max - min) / bucket_count as f64;
    let mut counts = vec![0.0; bucket_count];
    for v in &finite {
        let i = (((v - min) / width) as usize).min(bucket_count - 1);
        counts[i] += 1.0;
    }
    (0..bucket_count)
        .map(|i| {
            let left = min + i as f64 * width;
            let right = if i + 1 == bucket_count {
                max
            } else {
                min + (i + 1) as f64 * width
            };
            [left, right, counts[i]]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_counts_sum_to_the_number_of_values_and_edges_span_min_to_max() {
        let v: Vec<f32> = (0..1000)
            .map(|i| ((i * 37) % 101) as f32 / 7.0 - 3.0)
            .collect();
        let b = buckets(&v, DEFAULT_BUCKETS);
        assert_eq!(b.len(), 30);
        assert_eq!(b.iter().map(|r| r[2]).sum::<f64>(), 1000.0);
        assert_eq!(b[0][0], -3.0);
        assert_eq!(b[29][1], (100.0f32 / 7.0 - 3.0) as f64);
        for w in b.windows(2) {
            assert!(
                (w[0][1] - w[1][0]).abs() < 1e-12,
                "buckets must be contiguous"
            );
        }
    }

    #[test]
    fn constant_and_empty_inputs() {
        assert_eq!(buckets(&[2.0; 5], 30), vec![[1.5, 2.5, 5.0]]);
        assert!(buckets(&[], 30).is_empty());
        assert_eq!(buckets(&[f32::NAN, 1.0], 30), vec![[0.5, 1.5, 1.0]]);
    }
}
