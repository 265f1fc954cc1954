//! The pending batch: every command recorded between two submits (not encoded yet), and the
//! params arena, one `PARAMS_SLOT` per dispatch, uploaded with a single `write_buffer` at submit
//! and bound with a dynamic offset. (Several `write_buffer`s to one shared uniform before a
//! submit would all land before any dispatch ran, so every dispatch would see the last one.)
//! The batch owns its state and its one lock and is generic over the command type, so its
//! bookkeeping is tested without an adapter; `encode.rs` turns the commands into wgpu calls.
//!
//! Lock order: this lock may be held while the pool's is taken (the submit seals the pool's
//! quarantine under it), never the reverse.

use std::sync::Mutex;

use crate::lock::lock;

/// Bytes reserved per dispatch in the params arena; every params struct fits in it and it is a
/// multiple of every adapter's `min_uniform_buffer_offset_alignment` (at most 256).
pub const PARAMS_SLOT: u64 = 256;

/// Past this many recorded commands the batch asks to be submitted early, so eager code that
/// never reads back still frees its quarantined buffers.
pub(crate) const AUTO_SUBMIT: usize = 4096;

/// What a submit drains out of the batch.
pub(crate) struct Taken<C> {
    /// Commands in recording order.
    pub commands: Vec<C>,
    /// Params of every dispatch, `PARAMS_SLOT` bytes each, in recording order.
    pub arena: Vec<u8>,
}

/// A point in the pending batch (`Device::mark`): what was recorded before it, and which
/// batch it was (a submit starts the next one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMark {
    drains: u64,
    commands: usize,
    arena: usize,
}

struct State<C> {
    taken: Taken<C>,
    /// Submits so far.
    drains: u64,
}

/// Commands recorded since the last submit, and their params.
pub(crate) struct Batch<C> {
    state: Mutex<State<C>>,
}

impl<C> Default for Batch<C> {
    fn default() -> Self {
        Batch {
            state: Mutex::new(State {
                taken: Taken {
                    commands: Vec::new(),
                    arena: Vec::new(),
                },
                drains: 0,
            }),
        }
    }
}

impl<C> Batch<C> {
    /// Appends a command; true when the batch is now full (the caller should submit).
    pub fn record(&self, command: C) -> bool {
        let s = &mut lock(&self.state).taken;
        s.commands.push(command);
        s.commands.len() >= AUTO_SUBMIT
    }

    /// Appends a dispatch: its `params` (at most `PARAMS_SLOT` bytes, checked by the caller)
    /// get the next arena slot, whose byte offset `make` turns into the command. True when the
    /// batch is now full.
    pub fn record_dispatch(&self, params: &[u8], make: impl FnOnce(u32) -> C) -> bool {
        let s = &mut lock(&self.state).taken;
        let offset = s.arena.len();
        s.arena.extend_from_slice(params);
        s.arena.resize(offset + PARAMS_SLOT as usize, 0);
        s.commands.push(make(offset as u32));
        s.commands.len() >= AUTO_SUBMIT
    }

    /// Empties the batch and runs `submit` on what was recorded, still holding the lock: nothing
    /// recorded later can be submitted before it, and nothing can be recorded between taking
    /// the commands and sealing the pool's quarantine (which `submit` does first).
    pub fn drain<R>(&self, submit: impl FnOnce(Taken<C>) -> R) -> R {
        let mut s = lock(&self.state);
        s.drains += 1;
        let taken = Taken {
            commands: std::mem::take(&mut s.taken.commands),
            arena: std::mem::take(&mut s.taken.arena),
        };
        submit(taken)
    }

    /// Where the batch stands now.
    pub fn mark(&self) -> BatchMark {
        let s = lock(&self.state);
        BatchMark {
            drains: s.drains,
            commands: s.taken.commands.len(),
            arena: s.taken.arena.len(),
        }
    }

    /// Drops every command (and its params) recorded since `mark`, and runs `dropped` still
    /// holding the lock, so nothing is recorded in between; false, dropping nothing, when the
    /// batch was submitted since (the commands before and after the mark have run or will).
    pub fn rollback(&self, mark: BatchMark, dropped: impl FnOnce()) -> bool {
        let mut s = lock(&self.state);
        if s.drains != mark.drains {
            return false;
        }
        s.taken.commands.truncate(mark.commands);
        s.taken.arena.truncate(mark.arena);
        dropped();
        true
    }

    /// Commands recorded and not yet submitted.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.state).taken.commands.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dispatch_gets_its_own_params_slot() {
        let batch = Batch::<(char, u32)>::default();
        assert!(!batch.record_dispatch(&[1, 2, 3], |o| ('a', o)));
        assert!(!batch.record(('c', u32::MAX)));
        assert!(!batch.record_dispatch(&[9; 16], |o| ('b', o)));
        assert_eq!(batch.len(), 3);
        let taken = batch.drain(|t| t);
        assert_eq!(
            taken.commands,
            vec![('a', 0), ('c', u32::MAX), ('b', PARAMS_SLOT as u32)]
        );
        assert_eq!(taken.arena.len(), 2 * PARAMS_SLOT as usize);
        assert_eq!(&taken.arena[..4], &[1, 2, 3, 0]);
        assert_eq!(&taken.arena[256..272], &[9; 16]);
        assert_eq!(batch.len(), 0, "a drain leaves the batch empty");
    }

    #[test]
    fn a_rollback_drops_what_came_after_the_mark_until_a_submit() {
        let batch = Batch::<u32>::default();
        batch.record_dispatch(&[1], |_| 1);
        let mark = batch.mark();
        batch.record_dispatch(&[2], |_| 2);
        batch.record(3);
        let mut called = false;
        assert!(batch.rollback(mark, || called = true));
        assert!(called);
        let taken = batch.drain(|t| t);
        assert_eq!(taken.commands, vec![1]);
        assert_eq!(taken.arena.len(), PARAMS_SLOT as usize);
        // A submit since the mark: its commands ran, so nothing is dropped.
        let mark = batch.mark();
        batch.record(4);
        batch.drain(|_| ());
        batch.record(5);
        assert!(!batch.rollback(mark, || panic!("nothing to drop")));
        assert_eq!(batch.len(), 1);
    }

    #[test]
    fn a_full_batch_asks_to_be_submitted() {
        let batch = Batch::<usize>::default();
        for i in 0..AUTO_SUBMIT - 1 {
            assert!(!batch.record(i));
        }
        assert!(batch.record(0));
    }

    #[test]
    fn nothing_is_recorded_while_a_drained_batch_is_submitted() {
        let batch = std::sync::Arc::new(Batch::<u32>::default());
        batch.record(1);
        let b = batch.clone();
        let (taken, t) = batch.drain(|taken| {
            // Another thread recording now waits for the lock: its command is not in `taken`.
            let t = std::thread::spawn(move || b.record(2));
            std::thread::sleep(std::time::Duration::from_millis(20));
            (taken, t)
        });
        assert_eq!(taken.commands, vec![1]);
        t.join().unwrap();
        assert_eq!(batch.len(), 1);
    }
}
