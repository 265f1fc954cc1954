//! The one readback: copy any number of buffers into one staging buffer, submit (together with
//! everything pending), map once, wait once (`wait.rs`, the one place kiln waits for the GPU).

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::counters::AtomicCounters;
use crate::error::Result;
use crate::wait::map_and_wait;

impl Device {
    /// Reads the contents (the requested `bytes()` of each) of several buffers at once.
    pub fn read_back(&self, buffers: &[&GpuBuffer]) -> Result<Vec<Vec<u8>>> {
        let mut offsets = Vec::with_capacity(buffers.len());
        let mut total = 0u64;
        for b in buffers {
            offsets.push(total);
            total += b.bytes().next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        }
        // Held for the whole readback: concurrent readbacks must not share the staging buffer.
        let mut slot = self.inner.staging.readback();
        let staging = slot.buffer(total.max(wgpu::MAP_ALIGNMENT));
        self.submit_with(|enc| {
            for (b, &off) in buffers.iter().zip(&offsets) {
                let size = b.bytes().next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
                if size > 0 {
                    enc.copy_buffer_to_buffer(b.raw(), b.offset(), &staging, off, size);
                }
            }
        });
        let map_len = total
            .max(wgpu::MAP_ALIGNMENT)
            .next_multiple_of(wgpu::MAP_ALIGNMENT);
        // The one GPU wait in kiln: the host needs these bytes now (a log point, a predict, a
        // save), and the copies above are ordered after every kernel submitted before them.
        AtomicCounters::bump(&self.inner.counters.waits);
        let bytes = map_and_wait(&self.inner.device, &staging, map_len, || {
            self.take_gpu_error()
        })?;
        Ok(buffers
            .iter()
            .zip(&offsets)
            .map(|(b, &off)| bytes[off as usize..(off + b.bytes()) as usize].to_vec())
            .collect())
    }

    /// Reads several buffers as f32 values, with one wait.
    pub fn read_back_f32(&self, buffers: &[&GpuBuffer]) -> Result<Vec<Vec<f32>>> {
        Ok(self
            .read_back(buffers)?
            .iter()
            .map(|b| bytemuck::pod_collect_to_vec(b))
            .collect())
    }

    /// Reads one buffer as f32 values.
    pub fn read_f32(&self, buffer: &GpuBuffer) -> Result<Vec<f32>> {
        let bytes = self.read_back(&[buffer])?.pop().unwrap_or_default();
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Reads one buffer as u32 values.
    pub fn read_u32(&self, buffer: &GpuBuffer) -> Result<Vec<u32>> {
        let bytes = self.read_back(&[buffer])?.pop().unwrap_or_default();
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Submits pending work and waits until the GPU has finished it (benchmarks end their timed
    /// regions with this). Implemented as an empty readback so there is still one wait site.
    pub fn synchronize(&self) -> Result<()> {
        self.read_back(&[]).map(|_| ())
    }
}
