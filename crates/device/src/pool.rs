//! The buffer pool: free lists by size class, and a quarantine for buffers dropped since the
//! last submit. It owns its state and its one lock, and is generic over the buffer type so its
//! bookkeeping is tested without an adapter (`Pool<wgpu::Buffer>` is the device's).
//!
//! Ordering rule that keeps reuse safe: a dropped buffer waits in the quarantine until the batch
//! recorded so far is submitted, and only then joins the free lists. So a buffer handed out
//! again is never referenced by commands still being recorded, and an upload into it
//! (`queue.write_buffer`, which lands before the *next* submit) cannot overwrite data that an
//! earlier, not yet submitted dispatch still has to read. Uploads therefore never wait.
//!
//! Lock order: the batch lock (see `batch.rs`) may be held while this one is taken, never the
//! reverse; dropping a buffer takes only this lock, so it is safe anywhere.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::lock::lock;

/// Size class: powers of two up to 64 MiB, then multiples of 16 MiB (bounded waste for
/// datasets). `None` when the size is too large to round.
pub(crate) fn size_class(bytes: u64) -> Option<u64> {
    const BIG: u64 = 64 << 20;
    let b = bytes.max(16).checked_next_multiple_of(4)?;
    if b <= BIG {
        b.checked_next_power_of_two()
    } else {
        b.checked_next_multiple_of(16 << 20)
    }
}

struct State<B> {
    free: HashMap<u64, Vec<B>>,
    quarantine: Vec<(u64, B)>,
}

/// Free buffers by size class, and the ones waiting for a submit.
pub(crate) struct Pool<B> {
    state: Mutex<State<B>>,
}

/// Buffers taken out of the quarantine by `Pool::seal`: free once their batch is submitted.
pub(crate) struct Sealed<B>(Vec<(u64, B)>);

impl<B> Default for Pool<B> {
    fn default() -> Self {
        Pool {
            state: Mutex::new(State {
                free: HashMap::new(),
                quarantine: Vec::new(),
            }),
        }
    }
}

impl<B> Pool<B> {
    /// A free buffer of size class `class`, if one is waiting.
    pub fn take(&self, class: u64) -> Option<B> {
        lock(&self.state).free.get_mut(&class).and_then(Vec::pop)
    }

    /// A dropped buffer of size class `class`: quarantined until the next `seal` + `release`.
    pub fn quarantine(&self, class: u64, buffer: B) {
        lock(&self.state).quarantine.push((class, buffer));
    }

    /// Takes everything quarantined so far. The submit calls it while holding the batch lock,
    /// so every command that can reference these buffers is in the batch being submitted.
    pub fn seal(&self) -> Sealed<B> {
        Sealed(std::mem::take(&mut lock(&self.state).quarantine))
    }

    /// Returns sealed buffers to the free lists (after their batch was submitted).
    pub fn release(&self, sealed: Sealed<B>) {
        let mut state = lock(&self.state);
        for (class, b) in sealed.0 {
            state.free.entry(class).or_default().push(b);
        }
    }

    /// Bytes held by free buffers.
    pub fn free_bytes(&self) -> u64 {
        lock(&self.state)
            .free
            .iter()
            .map(|(class, v)| class * v.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_bound_the_waste() {
        assert_eq!(size_class(1), Some(16));
        assert_eq!(size_class(17), Some(32));
        assert_eq!(size_class(4096), Some(4096));
        assert_eq!(size_class(4097), Some(8192));
        let big = 60_000 * 784 * 4;
        let c = size_class(big).unwrap();
        assert!(c >= big && c - big < 16 << 20);
        assert_eq!(size_class(u64::MAX - 2), None);
    }

    #[test]
    fn a_dropped_buffer_is_reused_only_after_its_batch_is_submitted() {
        let pool = Pool::<&str>::default();
        pool.quarantine(64, "a");
        assert_eq!(pool.take(64), None, "still quarantined");
        let sealed = pool.seal();
        pool.quarantine(64, "b"); // dropped after the seal: belongs to the next batch
        pool.release(sealed);
        assert_eq!(pool.take(64), Some("a"));
        assert_eq!(pool.take(64), None, "b waits for the next submit");
        assert_eq!(pool.free_bytes(), 0);
        pool.release(pool.seal());
        assert_eq!(pool.free_bytes(), 64);
        assert_eq!(pool.take(32), None, "classes are not mixed");
        assert_eq!(pool.take(64), Some("b"));
    }
}
