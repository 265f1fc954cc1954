//! `GpuBuffer`: storage on the GPU, 32-bit words (f32 or u32 alike; the launcher decides).
//! A buffer is a whole pool allocation, returned to the pool's quarantine when dropped (see
//! `pool.rs` for why that is safe without a wait), or a view: a range of a packed buffer
//! (`packed.rs`) that keeps it alive.

use std::sync::Arc;

use crate::encode::Range;
use crate::pool::Pool;

/// Storage on the GPU. Contents are 32-bit words; `bytes` is the size that was asked for, the
/// underlying allocation may be larger (its size class).
pub struct GpuBuffer {
    raw: wgpu::Buffer,
    offset: u64,
    bytes: u64,
    owner: Owner,
}

/// Who returns the storage: the pool (a whole allocation of size class `class`) or the packed
/// buffer a view belongs to (held only to keep it alive).
enum Owner {
    Pool {
        class: u64,
        pool: Arc<Pool<wgpu::Buffer>>,
    },
    View(#[allow(dead_code)] Arc<GpuBuffer>),
}

impl std::fmt::Debug for GpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuBuffer({} bytes)", self.bytes)
    }
}

impl GpuBuffer {
    /// A whole allocation of size class `class` from `pool`, holding `bytes` bytes.
    pub(crate) fn pooled(
        raw: wgpu::Buffer,
        bytes: u64,
        class: u64,
        pool: Arc<Pool<wgpu::Buffer>>,
    ) -> GpuBuffer {
        GpuBuffer {
            raw,
            offset: 0,
            bytes,
            owner: Owner::Pool { class, pool },
        }
    }

    /// A view of `bytes` bytes at byte `offset` of `parent` (which it keeps alive). The caller
    /// checked that the range, rounded up to 16 bytes, lies inside the parent and that the
    /// offset meets the adapter's binding alignment.
    pub(crate) fn view(parent: &Arc<GpuBuffer>, offset: u64, bytes: u64) -> GpuBuffer {
        GpuBuffer {
            raw: parent.raw.clone(),
            offset: parent.offset + offset,
            bytes,
            owner: Owner::View(parent.clone()),
        }
    }

    /// One view of the buffer that every one of `views` is a view of, from the lowest start to
    /// the highest end among them, and the word offset of each in it; `None` unless all are
    /// views of one packed buffer (`Device::pack`, `Packed::span`), whose parts start on
    /// binding-aligned offsets. A kernel can then reach several parts through one binding.
    pub fn covering(views: &[&GpuBuffer]) -> Option<(GpuBuffer, Vec<usize>)> {
        let parent = match &views.first()?.owner {
            Owner::View(p) => p,
            Owner::Pool { .. } => return None,
        };
        let same = |b: &GpuBuffer| matches!(&b.owner, Owner::View(p) if Arc::ptr_eq(p, parent));
        if !views.iter().all(|b| same(b)) {
            return None;
        }
        let start = views.iter().map(|b| b.offset).min()?;
        let end = views.iter().map(|b| b.offset + b.bytes).max()?;
        if (start - parent.offset) % 256 != 0 {
            return None;
        }
        let words = views.iter().map(|b| ((b.offset - start) / 4) as usize);
        let view = GpuBuffer::view(parent, start - parent.offset, end - start);
        Some((view, words.collect()))
    }

    /// Requested size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Requested size in 32-bit words.
    pub fn words(&self) -> usize {
        (self.bytes / 4) as usize
    }

    pub(crate) fn raw(&self) -> &wgpu::Buffer {
        &self.raw
    }

    /// Byte offset of this buffer's contents in `raw()` (0 except for views).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// What a dispatch binds. A pool allocation is bound whole, so a kernel's last vec4 may run
    /// into its size-class padding. A view is bound with its size rounded up to 16 bytes:
    /// `pack` reserves that rounding, so a trailing vec4 store lands in the view's own padding,
    /// never in its neighbour.
    pub(crate) fn range(&self) -> Range {
        let size = match self.owner {
            Owner::Pool { .. } => None,
            Owner::View(_) => wgpu::BufferSize::new(self.bytes.max(16).next_multiple_of(16)),
        };
        Range {
            buffer: self.raw.clone(),
            offset: self.offset,
            size,
        }
    }

    /// Bytes a dispatch binding this buffer binds (the whole allocation for a pool buffer).
    pub(crate) fn bound_bytes(&self) -> u64 {
        match self.range().size {
            Some(s) => s.get(),
            None => self.raw.size() - self.offset,
        }
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Owner::Pool { class, pool } = &self.owner {
            pool.quarantine(*class, self.raw.clone());
        }
    }
}
