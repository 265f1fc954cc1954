//! Device memory: pooled allocation, uploads, clears, writes and copies. Every allocation is
//! checked against the adapter's `max_buffer_size` and `max_storage_buffer_binding_size`
//! first, and a request over either fails with `DeviceError::TooLarge` naming what it was for,
//! before any host or GPU memory is allocated. Uploads never wait: `queue.write_buffer` lands
//! before the next submit, and the pool's quarantine keeps it from overwriting data an
//! unsubmitted dispatch still reads (`pool.rs`).

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::counters::AtomicCounters;
use crate::encode::Command;
use crate::error::{DeviceError, Result, launch_err};
use crate::pool::size_class;

impl Device {
    /// The pool size class of a `bytes`-byte buffer, or why this adapter cannot hold one:
    /// `what` names it in the error.
    pub fn check_alloc(&self, bytes: u64, what: impl FnOnce() -> String) -> Result<u64> {
        let info = self.info();
        let limits = [
            (
                "max_storage_buffer_binding_size",
                info.max_storage_buffer_binding_size,
            ),
            ("max_buffer_size", info.max_buffer_size),
        ];
        let class = size_class(bytes);
        for (limit_name, limit) in limits {
            if class.is_none_or(|c| c > limit) {
                return Err(DeviceError::TooLarge {
                    what: what(),
                    bytes,
                    limit,
                    limit_name,
                    adapter: info.name.clone(),
                });
            }
        }
        Ok(class.unwrap_or_default())
    }

    /// Whether a buffer of `bytes` bytes can be allocated and bound on this adapter.
    pub fn fits_buffer(&self, bytes: u64) -> bool {
        self.check_alloc(bytes, String::new).is_ok()
    }

    /// A buffer of at least `bytes` bytes from the pool; contents undefined.
    pub fn alloc(&self, bytes: u64) -> Result<GpuBuffer> {
        self.alloc_for(bytes, || "a buffer".into())
    }

    /// `alloc` for something `what` names in the error when it does not fit the adapter (a
    /// tensor and its shape, say).
    pub fn alloc_for(&self, bytes: u64, what: impl FnOnce() -> String) -> Result<GpuBuffer> {
        let class = self.check_alloc(bytes, what)?;
        let inner = &self.inner;
        let raw = match inner.pool.take(class) {
            Some(raw) => raw,
            None => {
                AtomicCounters::bump(&inner.counters.buffer_allocations);
                inner.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("kiln"),
                    size: class,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            }
        };
        // Handed out again (contents undefined, about to be written by an upload or a kernel):
        // no staging texture holds what it had.
        inner.staging.written(&raw, 0, u64::MAX);
        Ok(GpuBuffer::pooled(raw, bytes, class, inner.pool.clone()))
    }

    /// A buffer holding `data`. Never waits: the copy lands before the next submit.
    pub fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> Result<GpuBuffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let buf = self.alloc_for(bytes.len() as u64, || {
            format!("an upload of {} values", data.len())
        })?;
        let counters = &self.inner.counters;
        AtomicCounters::bump(&counters.uploads);
        counters
            .upload_bytes
            .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if bytes.len() % 4 == 0 {
            self.inner
                .queue
                .write_buffer(buf.raw(), buf.offset(), bytes);
        } else {
            let mut padded = bytes.to_vec();
            padded.resize(bytes.len().next_multiple_of(4), 0);
            self.inner
                .queue
                .write_buffer(buf.raw(), buf.offset(), &padded);
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
        if buf.bytes() == 0 {
            return Ok(());
        }
        self.record(Command::Clear {
            buffer: buf.raw().clone(),
            offset: buf.offset(),
            size: buf.bytes().next_multiple_of(4),
        });
        Ok(())
    }

    /// Overwrites the start of `dst` with `data`, ordered after every command recorded so far
    /// (so earlier dispatches still see the old contents). Used to set weights in place.
    pub fn write<T: bytemuck::Pod>(&self, dst: &GpuBuffer, data: &[T]) -> Result<()> {
        let bytes = std::mem::size_of_val(data) as u64;
        if bytes > dst.bytes() {
            return Err(launch_err(
                "write",
                format!("{bytes} bytes do not fit a buffer of {} bytes", dst.bytes()),
            ));
        }
        let src = self.upload(data)?;
        self.copy(&src, 0, dst, 0, bytes)
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
        let fits =
            |offset: u64, b: &GpuBuffer| offset.checked_add(size).is_some_and(|e| e <= b.bytes());
        if !fits(src_offset, src) || !fits(dst_offset, dst) || size % 4 != 0 {
            return Err(launch_err(
                "copy",
                format!(
                    "{size} bytes from offset {src_offset} of a {}-byte buffer to offset {dst_offset} of a \
                     {}-byte buffer do not fit (sizes must be whole 32-bit words)",
                    src.bytes(),
                    dst.bytes()
                ),
            ));
        }
        if size == 0 {
            return Ok(());
        }
        self.record(Command::Copy {
            src: src.raw().clone(),
            src_offset: src.offset() + src_offset,
            dst: dst.raw().clone(),
            dst_offset: dst.offset() + dst_offset,
            size,
        });
        Ok(())
    }

    /// Bytes held by free pool buffers.
    pub fn pooled_bytes(&self) -> u64 {
        self.inner.pool.free_bytes()
    }
}
