//! Seeded, shuffled batches of sample indices, as Keras's `fit` makes them.

use kiln_graph::Rng;

/// Batches of sample indices for one epoch: shuffled with the seeded RNG when asked; the last
/// batch holds the remainder (Keras keeps the partial batch).
pub fn epoch_batches(n: usize, batch_size: usize, shuffle: Option<&mut Rng>) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(rng) = shuffle {
        rng.shuffle(&mut order);
    }
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_sample_once_and_shuffle_reproducibly() {
        let plain = epoch_batches(10, 4, None);
        assert_eq!(
            plain.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        let a = epoch_batches(100, 32, Some(&mut Rng::new(5)));
        let b = epoch_batches(100, 32, Some(&mut Rng::new(5)));
        assert_eq!(a, b);
        let mut all: Vec<usize> = a.concat();
        assert_ne!(all, (0..100).collect::<Vec<_>>());
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }
}
