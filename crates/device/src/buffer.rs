//! `GpuBuffer` and the size-bucketed buffer pool. A buffer is 32-bit words on the GPU (f32 or
//! u32 alike; the launcher decides); dropping it returns its storage to the pool.
//!
//! Ordering rule that keeps reuse safe: a dropped buffer waits in the pending batch's
//! quarantine until that batch is submitted, and only then joins the free lists. So a buffer
//! handed out again is never referenced by commands still being recorded, and an upload into it
//! (`queue.write_buffer`, which lands before the *next* submit) cannot overwrite data that an
//! earlier, not yet submitted dispatch still has to read. Uploads therefore never wait.

use crate::context::{Device, lock};
use crate::counters::AtomicCounters;
use crate::error::{Result, launch_err};
use crate::pending::Command;

/// Storage on the GPU. Contents are 32-bit words; `bytes` is the size that was asked for, the
/// underlying allocation may be larger (its size class). A buffer is either a whole pool
/// allocation or a view: a range of a packed buffer (see `packed.rs`) that keeps it alive.
pub struct GpuBuffer {
    raw: wgpu::Buffer,
    offset: u64,
    bytes: u64,
    owner: Owner,
    device: Device,
}

/// Who returns the storage: the pool (a whole allocation of size class `class`) or the packed
/// buffer a view belongs to (held only to keep it alive).
enum Owner {
    Pool { class: u64 },
    View(#[allow(dead_code)] std::sync::Arc<GpuBuffer>),
}

/// One storage-buffer binding: a whole pool allocation, or a view's range.
#[derive(Clone)]
pub(crate) struct Range {
    pub buffer: wgpu::Buffer,
    pub offset: u64,
    /// `None` binds to the end of the allocation.
    pub size: Option<wgpu::BufferSize>,
}

impl std::fmt::Debug for GpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuBuffer({} bytes)", self.bytes)
    }
}

impl GpuBuffer {
    /// Requested size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Requested size in 32-bit words.
    pub fn words(&self) -> usize {
        (self.bytes / 4) as usize
    }

    /// The device this buffer lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    pub(crate) fn raw(&self) -> &wgpu::Buffer {
        &self.raw
    }

    /// Byte offset of this buffer's contents in `raw()` (0 except for views).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// What a dispatch binds. A pool allocation is bound whole, as before views existed, so a
    /// kernel's last vec4 may run into its size-class padding. A view is bound with its size
    /// rounded up to 16 bytes: `pack` reserves that rounding, so a trailing vec4 store lands in
    /// the view's own padding, never in its neighbour.
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

    /// A view of `bytes` bytes at byte `offset` of `parent` (which it keeps alive). The caller
    /// checked that the range, rounded up to 16 bytes, lies inside the parent and that the
    /// offset meets the adapter's binding alignment.
    pub(crate) fn view(parent: &std::sync::Arc<GpuBuffer>, offset: u64, bytes: u64) -> GpuBuffer {
        GpuBuffer {
            raw: parent.raw.clone(),
            offset: parent.offset + offset,
            bytes,
            owner: Owner::View(parent.clone()),
            device: parent.device.clone(),
        }
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Owner::Pool { class } = self.owner {
            let mut pending = lock(&self.device.inner.pending);
            pending.quarantine.push((class, self.raw.clone()));
        }
    }
}

/// Size class: powers of two up to 64 MiB, then multiples of 16 MiB (bounded waste for datasets).
pub(crate) fn size_class(bytes: u64) -> u64 {
    const BIG: u64 = 64 << 20;
    let b = bytes.max(16).next_multiple_of(4);
    if b <= BIG {
        b.next_power_of_two()
    } else {
        b.next_multiple_of(16 << 20)
    }
}

impl Device {
    /// Whether a buffer of `bytes` bytes can be allocated and bound on this adapter (its pool
    /// size class within the storage-binding and buffer-size limits).
    pub fn fits_buffer(&self, bytes: u64) -> bool {
        size_class(bytes) <= self.buffer_limit()
    }

    fn buffer_limit(&self) -> u64 {
        let info = self.info();
        info.max_storage_buffer_binding_size
            .min(info.max_buffer_size)
    }

    /// A buffer of at least `bytes` bytes from the pool; contents undefined.
    pub fn alloc(&self, bytes: u64) -> Result<GpuBuffer> {
        let class = size_class(bytes);
        let limit = self.buffer_limit();
        if class > limit {
            return Err(launch_err(
                "alloc",
                format!(
                    "a buffer of {bytes} bytes exceeds this adapter's storage-buffer limit of {limit} bytes; \
                     use smaller batches or tensors"
                ),
            ));
        }
        let reused = lock(&self.inner.pool).get_mut(&class).and_then(Vec::pop);
        let raw = match reused {
            Some(raw) => raw,
            None => {
                AtomicCounters::bump(&self.inner.counters.buffer_allocations);
                self.raw().create_buffer(&wgpu::BufferDescriptor {
                    label: Some("kiln"),
                    size: class,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            }
        };
        Ok(GpuBuffer {
            raw,
            offset: 0,
            bytes,
            owner: Owner::Pool { class },
            device: self.clone(),
        })
    }

    /// A buffer holding `data`. Never waits: the copy lands before the next submit.
    pub fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> Result<GpuBuffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let buf = self.alloc(bytes.len() as u64)?;
        AtomicCounters::bump(&self.inner.counters.uploads);
        self.inner
            .counters
            .upload_bytes
            .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if bytes.len() % 4 == 0 {
            self.inner.queue.write_buffer(&buf.raw, buf.offset, bytes);
        } else {
            let mut padded = bytes.to_vec();
            padded.resize(bytes.len().next_multiple_of(4), 0);
            self.inner.queue.write_buffer(&buf.raw, buf.offset, &padded);
        }
        Ok(buf)
    }

    /// A zero-filled buffer of `bytes` bytes (cleared in command order).
    pub fn zeros(&self, bytes: u64) -> Result<GpuBuffer> {
        let buf = self.alloc(bytes)?;
        self.clear(&buf)?;
        Ok(buf)
    }

    /// Zeroes `buf`, ordered after every command recorded so far.
    pub fn clear(&self, buf: &GpuBuffer) -> Result<()> {
        if buf.bytes == 0 {
            return Ok(());
        }
        self.record(Command::Clear {
            buffer: buf.raw.clone(),
            offset: buf.offset,
            size: buf.bytes.next_multiple_of(4),
        })
    }

    /// Overwrites the start of `dst` with `data`, ordered after every command recorded so far
    /// (so earlier dispatches still see the old contents). Used to set weights in place.
    pub fn write<T: bytemuck::Pod>(&self, dst: &GpuBuffer, data: &[T]) -> Result<()> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        if bytes.len() as u64 > dst.bytes {
            return Err(launch_err(
                "write",
                format!(
                    "{} bytes do not fit a buffer of {} bytes",
                    bytes.len(),
                    dst.bytes
                ),
            ));
        }
        let src = self.upload(data)?;
        self.copy(&src, 0, dst, 0, bytes.len() as u64)
    }

    /// Copies `size` bytes between buffers, in command order.
    pub fn copy(
        &self,
        src: &GpuBuffer,
        src_offset: u64,
        dst: &GpuBuffer,
        dst_offset: u64,
        size: u64,
    ) -> Result<()> {
        if src_offset + size > src.bytes || dst_offset + size > dst.bytes || size % 4 != 0 {
            return Err(launch_err(
                "copy",
                format!(
                    "{size} bytes from offset {src_offset} of a {}-byte buffer to offset {dst_offset} of a \
                     {}-byte buffer do not fit (sizes must be whole 32-bit words)",
                    src.bytes, dst.bytes
                ),
            ));
        }
        if size == 0 {
            return Ok(());
        }
        self.record(Command::Copy {
            src: src.raw.clone(),
            src_offset: src.offset + src_offset,
            dst: dst.raw.clone(),
            dst_offset: dst.offset + dst_offset,
            size,
        })
    }

    /// Bytes held by free pool buffers.
    pub fn pooled_bytes(&self) -> u64 {
        lock(&self.inner.pool)
            .iter()
            .map(|(class, v)| class * v.len() as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_bound_the_waste() {
        assert_eq!(size_class(1), 16);
        assert_eq!(size_class(17), 32);
        assert_eq!(size_class(4096), 4096);
        assert_eq!(size_class(4097), 8192);
        let big = 60_000 * 784 * 4;
        let c = size_class(big);
        assert!(c >= big && c - big < 16 << 20);
    }
}
