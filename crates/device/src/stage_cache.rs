//! Which staging texture holds a copy of which buffer range, so an input staged again before
//! anything wrote to it binds the texture it is already in instead of being copied again. (The
//! CNN step stages its Dense(256) kernel for the forward product and again for the input
//! gradient, the column matrix for the conv product and its weight gradient; the MLP step its
//! batch for the first layer's forward and its weight gradient.)
//!
//! Every recorded command that writes a buffer range (a dispatch's outputs, a copy, a clear)
//! and every buffer the pool hands out forgets the copies that overlap it (`written`), at
//! recording time, in recording order. So a hit is a copy recorded after the range's last write,
//! and the texture holds exactly what a new copy would. A texture picked for one input of a
//! launch is never picked again for another input of the same launch (`begin_launch`).
//! Reusing a texture needs no quarantine: the copy that overwrites it is an encoder command
//! ordered after every dispatch that read it, and wgpu places the barrier between them.
//!
//! Textures are kept up to `MAX_ENTRIES` and `BUDGET_ROWS` rows in all. A miss takes a free
//! texture that is large enough (one holding nothing first, then the smallest, then the least
//! recently used), so small inputs do not push a large copy out; else it makes one, or regrows
//! the least recently used. Generic over the texture and buffer types so the bookkeeping is
//! tested without an adapter.

/// Textures kept at most.
pub(crate) const MAX_ENTRIES: usize = 16;

/// Rows (of 4 KiB) kept in all textures together, 256 MiB: past it the least recently used
/// textures are dropped (a kept texture is host memory on a CPU adapter).
pub(crate) const BUDGET_ROWS: u64 = 65_536;

/// Bytes `start..end` of a buffer.
struct Held<B> {
    buffer: B,
    start: u64,
    end: u64,
}

struct Entry<T, B> {
    texture: T,
    rows: u32,
    held: Option<Held<B>>,
    /// Clock of the last pick (least recently used first).
    used: u64,
    /// The launch that picked it last (never picked twice in one launch).
    launch: u64,
}

/// The kept textures and what each holds.
pub(crate) struct StageCache<T, B> {
    entries: Vec<Entry<T, B>>,
    clock: u64,
    launch: u64,
}

impl<T, B> Default for StageCache<T, B> {
    fn default() -> Self {
        StageCache {
            entries: Vec::new(),
            clock: 0,
            launch: 0,
        }
    }
}

impl<T: Clone, B: Clone + PartialEq> StageCache<T, B> {
    /// A launch starts staging its inputs: textures it picks are not picked again until the
    /// next launch.
    pub fn begin_launch(&mut self) {
        self.launch += 1;
    }

    /// The texture to bind for bytes `start..end` of `buffer`, and whether the caller must
    /// record the copy into it first (false: it already holds them). `rows` is the height
    /// needed; `make(rows)` makes a texture (returning it and its height, at least `rows`).
    pub fn pick(
        &mut self,
        buffer: &B,
        (start, end): (u64, u64),
        rows: u32,
        make: impl FnOnce(u32) -> (T, u32),
    ) -> (T, bool) {
        self.clock += 1;
        let (clock, launch) = (self.clock, self.launch);
        let hit = self.entries.iter().position(|e| {
            e.launch != launch
                && e.held
                    .as_ref()
                    .is_some_and(|h| h.buffer == *buffer && h.start == start && end <= h.end)
        });
        let i = match hit {
            Some(i) => {
                let e = &mut self.entries[i];
                e.used = clock;
                e.launch = launch;
                return (e.texture.clone(), false);
            }
            None => self.free_entry(rows, make),
        };
        let e = &mut self.entries[i];
        e.held = Some(Held {
            buffer: buffer.clone(),
            start,
            end,
        });
        e.used = clock;
        e.launch = launch;
        (e.texture.clone(), true)
    }

    /// The index of a texture of at least `rows` rows that this launch has not picked: a kept
    /// one holding nothing, else a new one while the count and the budget allow, else a kept one
    /// (the smallest, then the least recently used), else a new one with the least recently
    /// used dropped to make room.
    fn free_entry(&mut self, rows: u32, make: impl FnOnce(u32) -> (T, u32)) -> usize {
        let launch = self.launch;
        let free = |e: &Entry<T, B>| e.launch != launch && e.rows >= rows;
        let empty = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| free(e) && e.held.is_none())
            .min_by_key(|(_, e)| e.rows)
            .map(|(i, _)| i);
        if let Some(i) = empty {
            return i;
        }
        let kept = |s: &Self| s.entries.iter().map(|e| u64::from(e.rows)).sum::<u64>();
        let room = self.entries.len() < MAX_ENTRIES && kept(self) + u64::from(rows) <= BUDGET_ROWS;
        if !room {
            let fitting = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| free(e))
                .min_by_key(|(_, e)| (e.rows, e.used))
                .map(|(i, _)| i);
            if let Some(i) = fitting {
                return i;
            }
        }
        let (texture, made) = make(rows);
        self.entries.push(Entry {
            texture,
            rows: made,
            held: None,
            used: 0,
            launch, // not dropped below
        });
        // The least recently used go while the count or the budget is exceeded (never a
        // texture this launch binds).
        while self.entries.len() > MAX_ENTRIES || kept(self) > BUDGET_ROWS {
            let lru = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.launch != launch)
                .min_by_key(|(_, e)| e.used)
                .map(|(i, _)| i);
            match lru {
                // `remove`, not `swap_remove`: the new entry stays last.
                Some(i) => {
                    self.entries.remove(i);
                }
                None => break,
            }
        }
        self.entries.len() - 1
    }

    /// A command recorded now writes bytes `start..end` of `buffer`: copies overlapping them
    /// are no longer current.
    pub fn written(&mut self, buffer: &B, start: u64, end: u64) {
        for e in &mut self.entries {
            if e.held
                .as_ref()
                .is_some_and(|h| h.buffer == *buffer && h.start < end && start < h.end)
            {
                e.held = None;
            }
        }
    }

    /// Every texture forgets what it holds (`Device::rollback` dropped copies into them).
    pub fn forget_all(&mut self) {
        for e in &mut self.entries {
            e.held = None;
        }
    }

    /// Textures kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Textures are numbered in the order they are made; buffers are plain ids.
    struct Maker(u32);

    impl Maker {
        fn make(&mut self) -> impl FnOnce(u32) -> (u32, u32) + '_ {
            |rows| {
                self.0 += 1;
                (self.0, rows.next_power_of_two())
            }
        }
    }

    #[test]
    fn a_range_staged_again_unwritten_binds_the_same_texture_without_a_copy() {
        let (mut c, mut m) = (StageCache::<u32, u8>::default(), Maker(0));
        c.begin_launch();
        assert_eq!(c.pick(&1, (0, 64), 1, m.make()), (1, true));
        c.begin_launch();
        assert_eq!(c.pick(&1, (0, 64), 1, m.make()), (1, false));
        // A shorter range from the same start is inside the copy; another start is not.
        c.begin_launch();
        assert_eq!(c.pick(&1, (0, 32), 1, m.make()), (1, false));
        assert_eq!(c.pick(&1, (16, 64), 1, m.make()), (2, true));
        // A longer one needs a new copy (into a new texture: there is room to keep both).
        c.begin_launch();
        assert_eq!(c.pick(&1, (0, 128), 1, m.make()), (3, true));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_write_overlapping_the_copy_forgets_it_and_a_disjoint_one_does_not() {
        let (mut c, mut m) = (StageCache::<u32, u8>::default(), Maker(0));
        c.begin_launch();
        assert_eq!(c.pick(&1, (64, 128), 1, m.make()), (1, true));
        c.written(&1, 0, 64); // ends where the copy starts
        c.written(&2, 64, 128); // another buffer
        c.begin_launch();
        assert_eq!(c.pick(&1, (64, 128), 1, m.make()), (1, false));
        c.written(&1, 100, 101);
        c.begin_launch();
        // Forgotten: copied again, into the texture that held it (now holding nothing).
        assert_eq!(c.pick(&1, (64, 128), 1, m.make()), (1, true));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn forgetting_all_copies_each_range_again_into_the_kept_textures() {
        let (mut c, mut m) = (StageCache::<u32, u8>::default(), Maker(0));
        c.begin_launch();
        assert_eq!(c.pick(&1, (0, 64), 1, m.make()), (1, true));
        assert_eq!(c.pick(&2, (0, 64), 1, m.make()), (2, true));
        c.forget_all();
        c.begin_launch();
        assert!(c.pick(&1, (0, 64), 1, m.make()).1, "copied again");
        assert!(c.pick(&2, (0, 64), 1, m.make()).1, "copied again");
        assert_eq!(c.len(), 2, "no texture made");
    }

    #[test]
    fn one_launch_never_binds_one_texture_twice() {
        let (mut c, mut m) = (StageCache::<u32, u8>::default(), Maker(0));
        c.begin_launch();
        assert_eq!(c.pick(&1, (0, 64), 1, m.make()), (1, true));
        // The same range twice in one launch (a product of a matrix with itself) still gets
        // two textures; in the next launch both hold it and one is bound without a copy.
        assert_eq!(c.pick(&1, (0, 64), 1, m.make()), (2, true));
        c.begin_launch();
        assert!(!c.pick(&1, (0, 64), 1, m.make()).1);
    }

    #[test]
    fn small_inputs_take_small_free_textures_and_leave_a_large_copy_in_place() {
        let (mut c, mut m) = (StageCache::<u32, u8>::default(), Maker(0));
        c.begin_launch();
        assert_eq!(c.pick(&1, (0, 1 << 20), 256, m.make()), (1, true)); // large
        assert_eq!(c.pick(&2, (0, 64), 1, m.make()), (2, true)); // small
        // More small inputs than textures are kept: once full, each takes a small texture, not
        // the large one (which fits them too).
        for b in 3..3 + 2 * MAX_ENTRIES as u8 {
            c.begin_launch();
            assert!(c.pick(&b, (0, 64), 1, m.make()).1);
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        c.begin_launch();
        assert_eq!(c.pick(&1, (0, 1 << 20), 256, m.make()), (1, false));
    }

    #[test]
    fn the_count_and_the_budget_bound_what_is_kept() {
        let (mut c, mut m) = (StageCache::<u32, u8>::default(), Maker(0));
        for b in 0..40u8 {
            c.begin_launch();
            c.pick(&b, (0, 64), 1, m.make());
        }
        assert_eq!(c.len(), MAX_ENTRIES);
        // Oldest gone, newest kept.
        c.begin_launch();
        assert!(!c.pick(&39, (0, 64), 1, m.make()).1);
        assert!(c.pick(&0, (0, 64), 1, m.make()).1);
        let mut c = StageCache::<u32, u8>::default();
        let half = (BUDGET_ROWS / 2) as u32;
        for b in 0..3u8 {
            c.begin_launch();
            c.pick(&b, (0, 64), half, m.make());
        }
        assert_eq!(c.len(), 2, "two halves fill the budget");
    }
}
