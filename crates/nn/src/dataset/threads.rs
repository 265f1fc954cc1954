//! Stages that run ahead on worker threads: `prefetch` pulls the stages below it on a
//! background thread into a bounded queue, and `map_parallel` spreads a map over several
//! threads and puts the results back in order. Both bound what they hold (the queue; the
//! window of elements in flight), so a dataset larger than memory streams from disk while the
//! GPU trains. Dropping the stream (a `take` above, an error, the end of `fit`) closes the
//! channels, and every worker ends at its next send or receive.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use crate::dataset::{Dataset, Element, Stream};
use crate::error::{NnError, Result};

impl Dataset {
    /// Makes up to `n` elements ahead on a background thread (`tf.data`'s `prefetch(n)`).
    pub fn prefetch(&self, n: usize) -> Dataset {
        let n = n.max(1);
        self.stage(self.cardinality, move |up, pass| {
            let mut input = up.iter(pass)?;
            let (tx, rx) = sync_channel::<Result<Element>>(n);
            spawn("kiln-prefetch", move || {
                for e in input.by_ref() {
                    if tx.send(e).is_err() {
                        return; // the consumer is gone
                    }
                }
            })?;
            Ok(Box::new(rx.into_iter()) as Stream)
        })
    }

    /// `map` on `threads` worker threads (`tf.data`'s `num_parallel_calls`), in input order.
    /// At most `2 * threads` elements are in flight at once.
    pub fn map_parallel(
        &self,
        threads: usize,
        f: impl Fn(Element) -> Result<Element> + Send + Sync + 'static,
    ) -> Dataset {
        let threads = threads.max(1);
        let f = Arc::new(f);
        self.stage(self.cardinality, move |up, pass| {
            let input = up.iter(pass)?;
            ordered_pool(input, threads, f.clone())
        })
    }
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map(|_| ())
        .map_err(|e| NnError::Input(format!("cannot start a {name} thread: {e}")))
}

type Work = Arc<dyn Fn(Element) -> Result<Element> + Send + Sync>;

/// A feeder numbers the inputs and waits for a credit before each (the window); workers map
/// them; the returned stream reorders results by number and gives a credit back per output.
fn ordered_pool(mut input: Stream, threads: usize, f: Work) -> Result<Stream> {
    let window = 2 * threads;
    let (credit_tx, credit_rx) = sync_channel::<()>(window);
    for _ in 0..window {
        credit_tx
            .send(())
            .map_err(|_| NnError::Input("pool setup failed".into()))?;
    }
    let (work_tx, work_rx) = sync_channel::<(usize, Result<Element>)>(window);
    let (done_tx, done_rx) = sync_channel::<(usize, Result<Element>)>(window);
    spawn("kiln-map-feed", move || {
        let mut i = 0;
        while credit_rx.recv().is_ok() {
            let Some(e) = input.next() else { return };
            if work_tx.send((i, e)).is_err() {
                return;
            }
            i += 1;
        }
    })?;
    let work_rx = Arc::new(Mutex::new(work_rx));
    for _ in 0..threads {
        let (work_rx, done_tx, f) = (work_rx.clone(), done_tx.clone(), f.clone());
        spawn("kiln-map", move || worker(&work_rx, &done_tx, &*f))?;
    }
    drop(done_tx);
    Ok(Box::new(Reorder {
        done: done_rx,
        credits: credit_tx,
        next: 0,
        held: BTreeMap::new(),
    }))
}

fn worker(
    work: &Mutex<Receiver<(usize, Result<Element>)>>,
    done: &SyncSender<(usize, Result<Element>)>,
    f: &(dyn Fn(Element) -> Result<Element> + Send + Sync),
) {
    loop {
        let job = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((i, e)) = job else { return };
        let out = e.and_then(f);
        if done.send((i, out)).is_err() {
            return;
        }
    }
}

struct Reorder {
    done: Receiver<(usize, Result<Element>)>,
    credits: SyncSender<()>,
    next: usize,
    held: BTreeMap<usize, Result<Element>>,
}

impl Iterator for Reorder {
    type Item = Result<Element>;

    fn next(&mut self) -> Option<Result<Element>> {
        loop {
            if let Some(e) = self.held.remove(&self.next) {
                self.next += 1;
                // The credit lets the feeder read one more input; a full channel means the
                // feeder already ended.
                let _ = self.credits.try_send(());
                return Some(e);
            }
            // Every worker ends once the feeder closes its queue, so this ends too.
            let (i, e) = self.done.recv().ok()?;
            self.held.insert(i, e);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::array::Array;
    use crate::dataset::{Dataset, Element};

    fn numbers(n: usize) -> Dataset {
        let y = Array::u32((0..n as u32).collect(), &[n]).unwrap();
        Dataset::from_tensor_slices(vec![], vec![y]).unwrap()
    }

    fn labels(d: &Dataset) -> Vec<u32> {
        d.collect(0)
            .unwrap()
            .iter()
            .flat_map(|e| e.y[0].as_u32().unwrap().to_vec())
            .collect()
    }

    #[test]
    fn parallel_map_keeps_order_and_prefetch_passes_everything() {
        let slow = numbers(40).map_parallel(4, |e: Element| {
            // Later elements finish first: the output must still be in order.
            let v = e.y[0].as_u32().unwrap()[0];
            std::thread::sleep(std::time::Duration::from_millis(u64::from(40 - v) / 4));
            Ok(Element {
                x: vec![],
                y: vec![Array::u32(vec![v * 2], &[1])?],
            })
        });
        assert_eq!(labels(&slow), (0..40).map(|v| v * 2).collect::<Vec<_>>());
        assert_eq!(
            labels(&numbers(25).prefetch(3)),
            (0..25).collect::<Vec<_>>()
        );
        let failing = numbers(5).map_parallel(2, |e| match e.y[0].as_u32().unwrap()[0] {
            3 => Err(crate::error::NnError::Input("bad element 3".into())),
            _ => Ok(e),
        });
        let out: Vec<_> = failing.iter(0).unwrap().collect();
        assert!(
            out[3]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("bad element 3"))
        );
        assert!(out[4].is_ok());
    }

    #[test]
    fn the_stages_hold_a_bounded_number_of_elements() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let made = Arc::new(AtomicUsize::new(0));
        let count = made.clone();
        let source = Dataset::from_fn(crate::dataset::Cardinality::Known(300), move |_| {
            let count = count.clone();
            Ok(Box::new((0..300u32).map(move |i| {
                count.fetch_add(1, Ordering::SeqCst);
                Ok(Element {
                    x: vec![],
                    y: vec![Array::u32(vec![i], &[1])?],
                })
            })) as crate::dataset::Stream)
        });
        // 3 map threads (window 6, plus one element the feeder holds) and a queue of 4.
        let ds = source.map_parallel(3, Ok).prefetch(4);
        let mut most = 0;
        for (taken, e) in ds.iter(0).unwrap().enumerate() {
            e.unwrap();
            std::thread::sleep(std::time::Duration::from_micros(200));
            most = most.max(made.load(Ordering::SeqCst) - (taken + 1));
        }
        assert!(
            most <= 6 + 1 + 4 + 2,
            "{most} elements were in flight at once"
        );
        assert_eq!(made.load(Ordering::SeqCst), 300);
    }

    #[test]
    fn abandoning_a_stream_stops_its_threads() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        // A source whose streams count their own drops: a stream is dropped only when the
        // thread that pulls it (the feeder, the prefetcher) has ended.
        struct Probe(Arc<AtomicUsize>);
        impl Drop for Probe {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let count = dropped.clone();
        let source = Dataset::from_fn(crate::dataset::Cardinality::Infinite, move |_| {
            let probe = Probe(count.clone());
            Ok(Box::new(std::iter::repeat_with(move || {
                let _keep = &probe;
                Ok(Element {
                    x: vec![],
                    y: vec![Array::u32(vec![1], &[1])?],
                })
            })) as crate::dataset::Stream)
        });
        let forever = source.map_parallel(3, Ok).prefetch(2);
        for _ in 0..20 {
            let first: Vec<_> = forever.iter(0).unwrap().take(5).collect();
            assert_eq!(first.len(), 5);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while dropped.load(Ordering::SeqCst) < 20 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            20,
            "worker threads outlived their streams"
        );
    }
}
