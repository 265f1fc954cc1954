//! The stages that reshape a stream: `map`, `filter`, `shuffle`, `batch`, `cache`, `repeat`,
//! `take` and `skip`, with `tf.data`'s semantics (a shuffle buffer, the last partial batch
//! kept unless dropped, a cache filled by the first complete pass).

use std::sync::{Arc, Mutex};

use kiln_graph::Rng;

use crate::array::Array;
use crate::dataset::{Cardinality, Dataset, Element, Stream, pass_seed};
use crate::error::{NnError, Result};

impl Dataset {
    /// Applies `f` to every element (to each example before `batch`, to each batch after it),
    /// on the thread that pulls the stream; `map_parallel` spreads it over worker threads.
    pub fn map(&self, f: impl Fn(Element) -> Result<Element> + Send + Sync + 'static) -> Dataset {
        let f = Arc::new(f);
        self.stage(self.cardinality, move |up, pass| {
            let f = f.clone();
            Ok(Box::new(up.iter(pass)?.map(move |e| e.and_then(|e| f(e)))) as Stream)
        })
    }

    /// Keeps the elements for which `keep` is true.
    pub fn filter(&self, keep: impl Fn(&Element) -> bool + Send + Sync + 'static) -> Dataset {
        let keep = Arc::new(keep);
        self.stage(Cardinality::Unknown, move |up, pass| {
            let keep = keep.clone();
            Ok(Box::new(
                up.iter(pass)?
                    .filter(move |e| e.as_ref().map_or(true, |e| keep(e))),
            ) as Stream)
        })
    }

    /// `tf.data`'s shuffle: a buffer of `buffer` elements, each output drawn at random from it
    /// and replaced by the next input. A buffer as large as the dataset is a full shuffle. Each
    /// pass reshuffles with a seed derived from `seed` and the pass.
    pub fn shuffle(&self, buffer: usize, seed: u64) -> Dataset {
        let buffer = buffer.max(1);
        self.stage(self.cardinality, move |up, pass| {
            let mut input = up.iter(pass)?;
            let mut rng = Rng::new(pass_seed(seed, pass));
            let mut held: Vec<Element> = Vec::with_capacity(buffer.min(1 << 16));
            let mut failed: Option<NnError> = None;
            Ok(Box::new(std::iter::from_fn(move || {
                if let Some(e) = failed.take() {
                    return Some(Err(e));
                }
                while held.len() < buffer {
                    match input.next() {
                        Some(Ok(e)) => held.push(e),
                        Some(Err(e)) => {
                            failed = Some(e);
                            break;
                        }
                        None => break,
                    }
                }
                if held.is_empty() {
                    return failed.take().map(Err);
                }
                let i = rng.below(held.len() as u64) as usize;
                Some(Ok(held.swap_remove(i)))
            })) as Stream)
        })
    }

    /// Groups consecutive elements into batches of `size` samples' elements (Keras keeps the
    /// last partial batch; `drop_remainder` drops it, as `tf.data` can).
    pub fn batch(&self, size: usize, drop_remainder: bool) -> Result<Dataset> {
        if size == 0 {
            return Err(NnError::Input(
                "Dataset::batch: the batch size must be at least 1".into(),
            ));
        }
        let card = self.cardinality.map(|n| match drop_remainder {
            true => n / size,
            false => n.div_ceil(size),
        });
        Ok(self.stage(card, move |up, pass| {
            let mut input = up.iter(pass)?;
            Ok(Box::new(std::iter::from_fn(move || {
                let mut group = Vec::with_capacity(size);
                for e in input.by_ref() {
                    match e {
                        Ok(e) => group.push(e),
                        Err(e) => return Some(Err(e)),
                    }
                    if group.len() == size {
                        break;
                    }
                }
                if group.is_empty() || (drop_remainder && group.len() < size) {
                    return None;
                }
                Some(stack(&group))
            })) as Stream)
        }))
    }

    /// Keeps the first complete pass in memory and replays it after (`tf.data`'s `cache()`);
    /// an unfinished pass (a `take` above it) is not kept.
    pub fn cache(&self) -> Dataset {
        let store: Arc<Mutex<Option<Arc<Vec<Element>>>>> = Arc::new(Mutex::new(None));
        self.stage(self.cardinality, move |up, pass| {
            let done = store.lock().map_err(|_| poisoned())?.clone();
            if let Some(all) = done {
                return Ok(Box::new((0..all.len()).map(move |i| Ok(all[i].clone()))) as Stream);
            }
            let mut input = up.iter(pass)?;
            let store = store.clone();
            let mut seen = Vec::new();
            Ok(Box::new(std::iter::from_fn(move || match input.next() {
                Some(Ok(e)) => {
                    seen.push(e.clone());
                    Some(Ok(e))
                }
                Some(Err(e)) => Some(Err(e)),
                None => {
                    if let Ok(mut slot) = store.lock() {
                        slot.get_or_insert_with(|| Arc::new(std::mem::take(&mut seen)));
                    }
                    None
                }
            })) as Stream)
        })
    }

    /// The dataset `count` times over (`None`: forever), each repetition a new pass of the
    /// stages below (so a shuffle below reshuffles).
    pub fn repeat(&self, count: Option<usize>) -> Dataset {
        let card = match (count, self.cardinality) {
            (Some(0), _) | (_, Cardinality::Known(0)) => Cardinality::Known(0),
            (Some(k), c) => c.map(|n| n * k),
            (None, _) => Cardinality::Infinite,
        };
        self.stage(card, move |up, pass| {
            let up = up.clone();
            let passes = (0u64..).take_while(move |&r| count.is_none_or(|k| (r as usize) < k));
            let sub = move |r: u64| pass_seed(pass, r);
            Ok(Box::new(passes.flat_map(move |r| match up.iter(sub(r)) {
                Ok(s) => s,
                Err(e) => Box::new(std::iter::once(Err(e))) as Stream,
            })) as Stream)
        })
    }

    /// The first `n` elements.
    pub fn take(&self, n: usize) -> Dataset {
        let card = match self.cardinality {
            Cardinality::Known(m) => Cardinality::Known(m.min(n)),
            Cardinality::Infinite => Cardinality::Known(n),
            Cardinality::Unknown => Cardinality::Unknown,
        };
        self.stage(card, move |up, pass| {
            Ok(Box::new(up.iter(pass)?.take(n)) as Stream)
        })
    }

    /// All but the first `n` elements.
    pub fn skip(&self, n: usize) -> Dataset {
        let card = self.cardinality.map(|m| m.saturating_sub(n));
        self.stage(card, move |up, pass| {
            Ok(Box::new(up.iter(pass)?.skip(n)) as Stream)
        })
    }
}

fn poisoned() -> NnError {
    NnError::Input("a dataset cache was poisoned by a panic in another thread".into())
}

/// The elements of `group` as one batch, array by array.
fn stack(group: &[Element]) -> Result<Element> {
    let join = |pick: &dyn Fn(&Element) -> &Vec<Array>| -> Result<Vec<Array>> {
        let k = pick(&group[0]).len();
        if let Some(bad) = group.iter().find(|e| pick(e).len() != k) {
            return Err(NnError::Input(format!(
                "Dataset::batch: elements with {k} and {} arrays cannot share a batch",
                pick(bad).len()
            )));
        }
        (0..k)
            .map(|i| Array::concat(&group.iter().map(|e| &pick(e)[i]).collect::<Vec<_>>()))
            .collect()
    };
    Ok(Element {
        x: join(&|e| &e.x)?,
        y: join(&|e| &e.y)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(n: usize) -> Dataset {
        let x = Array::f32((0..n).map(|i| i as f32).collect(), &[n, 1]).unwrap();
        let y = Array::u32((0..n as u32).collect(), &[n]).unwrap();
        Dataset::from_tensor_slices(vec![x], vec![y]).unwrap()
    }

    fn labels(d: &Dataset, pass: u64) -> Vec<u32> {
        d.collect(pass)
            .unwrap()
            .iter()
            .flat_map(|e| e.y[0].as_u32().unwrap().to_vec())
            .collect()
    }

    #[test]
    fn batch_keeps_or_drops_the_partial_batch() {
        let b = numbers(10).batch(4, false).unwrap();
        assert_eq!(b.cardinality(), Cardinality::Known(3));
        let sizes: Vec<usize> = b.collect(0).unwrap().iter().map(Element::len).collect();
        assert_eq!(sizes, [4, 4, 2]);
        assert_eq!(b.collect(0).unwrap()[2].x[0].shape, [2, 1]);
        let d = numbers(10).batch(4, true).unwrap();
        assert_eq!(
            (d.cardinality(), d.collect(0).unwrap().len()),
            (Cardinality::Known(2), 2)
        );
    }

    #[test]
    fn shuffle_is_a_seeded_permutation_that_changes_per_pass() {
        let s = numbers(50).shuffle(50, 7);
        let (a, b) = (labels(&s, 0), labels(&s, 1));
        assert_eq!(a, labels(&numbers(50).shuffle(50, 7), 0), "reproducible");
        assert_ne!(a, b, "each pass reshuffles");
        assert_ne!(a, (0..50).collect::<Vec<_>>());
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        // A buffer of 1 leaves the order alone.
        assert_eq!(labels(&numbers(5).shuffle(1, 3), 0), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn repeat_take_skip_and_cache() {
        let r = numbers(3).repeat(Some(2));
        assert_eq!(
            (r.cardinality(), labels(&r, 0)),
            (Cardinality::Known(6), vec![0, 1, 2, 0, 1, 2])
        );
        let forever = numbers(3).repeat(None);
        assert_eq!(forever.cardinality(), Cardinality::Infinite);
        assert!(forever.collect(0).is_err());
        assert_eq!(labels(&forever.take(7), 0), [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(labels(&numbers(5).skip(3), 0), [3, 4]);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let cached = numbers(4)
            .map(move |e| {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(e)
            })
            .cache();
        assert_eq!(labels(&cached, 0), labels(&cached, 1));
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            4,
            "the second pass replays"
        );
    }

    #[test]
    fn mismatched_samples_are_errors_naming_shapes() {
        let x = Array::f32(vec![0.0; 6], &[3, 2]).unwrap();
        let y = Array::u32(vec![0; 2], &[2]).unwrap();
        let e = Dataset::from_tensor_slices(vec![x], vec![y])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2]") && e.contains("(3)"), "{e}");
        let ragged = numbers(2).map(|mut e| {
            if e.y[0].as_u32().unwrap()[0] == 1 {
                e.x[0] = Array::f32(vec![0.0; 2], &[1, 2])?;
            }
            Ok(e)
        });
        let e = ragged
            .batch(2, false)
            .unwrap()
            .collect(0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2]") && e.contains("[1]"), "{e}");
    }
}
