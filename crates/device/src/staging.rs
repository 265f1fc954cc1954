//! Staging resources, owned here with their locks: the flat rgba32float textures that CPU-adapter
//! kernels read their inputs from, and the mappable buffer the readback copies into.
//!
//! An input is copied from its buffer into a texture (texel t at (t % 256, t / 256) holds words
//! 4t..4t+3), because llvmpipe fetches texels as gathers but loads per-lane storage addresses
//! one lane at a time (see `matmul_texture.wgsl`'s header). The copy is recorded in the pending
//! batch like a dispatch, so it lands in order: after the dispatches recorded before it, before
//! the ones after it. The textures are kept with what each holds (`stage_cache.rs`): an input
//! staged again before anything wrote to it is bound where it already is, without a copy.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::counters::AtomicCounters;
use crate::lock::lock;
use crate::stage_cache::StageCache;

/// Texels per texture row.
pub(crate) const WIDTH: u32 = 256;
/// Bytes per texture row (a multiple of wgpu's 256-byte copy row alignment).
const ROW_BYTES: u32 = WIDTH * 16;

/// A kernel binds at most this many texture inputs.
pub(crate) const SLOTS: usize = 4;

/// Texture rows needed for `words` words.
pub(crate) fn rows_for(words: usize) -> usize {
    words.div_ceil(4).div_ceil(WIDTH as usize)
}

pub(crate) struct Staging {
    device: wgpu::Device,
    counters: Arc<AtomicCounters>,
    /// The adapter's largest 2-D texture side: a texture's height limit.
    max_rows: u32,
    textures: Mutex<StageCache<wgpu::Texture, wgpu::Buffer>>,
    readback: Mutex<Option<wgpu::Buffer>>,
}

/// The readback buffer, held for one whole readback (concurrent readbacks must not share it).
pub(crate) struct ReadbackSlot<'a> {
    slot: MutexGuard<'a, Option<wgpu::Buffer>>,
    staging: &'a Staging,
}

impl Staging {
    pub fn new(device: wgpu::Device, counters: Arc<AtomicCounters>, max_rows: u32) -> Self {
        Staging {
            device,
            counters,
            max_rows,
            textures: Mutex::new(Default::default()),
            readback: Mutex::new(None),
        }
    }

    /// Whether `words` words fit one staging texture.
    pub fn fits(&self, words: usize) -> bool {
        rows_for(words) <= self.max_rows as usize
    }

    /// A launch starts staging its inputs: no texture is bound to two of them.
    pub fn begin_launch(&self) {
        lock(&self.textures).begin_launch();
    }

    /// The texture to bind for `texels` texels of `src` from byte `offset` (checked by the
    /// caller with `fits`), and whether the copy into it must be recorded first (false: it
    /// already holds them, see `stage_cache.rs`).
    pub fn texture(&self, src: &wgpu::Buffer, offset: u64, texels: u32) -> (wgpu::Texture, bool) {
        let rows = (texels.div_ceil(WIDTH)).max(1);
        let range = (offset, offset + u64::from(texels) * 16);
        lock(&self.textures).pick(src, range, rows, |rows| {
            // Grown to a power of two so a run of growing shapes reallocates rarely.
            let height = rows.next_power_of_two().min(self.max_rows).max(rows);
            let t = self.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("kiln staging texture"),
                size: wgpu::Extent3d {
                    width: WIDTH,
                    height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba32Float,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            });
            AtomicCounters::bump(&self.counters.buffer_allocations);
            (t, height)
        })
    }

    /// A command recorded now writes bytes `start..end` of `buffer` (a dispatch's output, a
    /// copy, a clear, or a buffer handed out again by the pool).
    pub fn written(&self, buffer: &wgpu::Buffer, start: u64, end: u64) {
        lock(&self.textures).written(buffer, start, end);
    }

    /// Forgets what every texture holds (the copies into them were dropped unrun).
    pub fn forget_all(&self) {
        lock(&self.textures).forget_all();
    }

    /// The readback buffer, locked until the returned slot is dropped.
    pub fn readback(&self) -> ReadbackSlot<'_> {
        ReadbackSlot {
            slot: lock(&self.readback),
            staging: self,
        }
    }
}

impl ReadbackSlot<'_> {
    /// The mappable buffer, grown (to a power of two, at least 4 KiB) to hold `size` bytes.
    pub fn buffer(&mut self, size: u64) -> wgpu::Buffer {
        match self.slot.as_ref() {
            Some(b) if b.size() >= size => b.clone(),
            _ => {
                AtomicCounters::bump(&self.staging.counters.buffer_allocations);
                let b = self.staging.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("kiln readback"),
                    size: size.next_power_of_two().max(4096),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                *self.slot = Some(b.clone());
                b
            }
        }
    }
}

/// Encodes a recorded copy of `texels` texels from `src` into `texture`: whole rows in one
/// copy, the partial last row in another.
pub(crate) fn encode_copy(
    encoder: &mut wgpu::CommandEncoder,
    src: &wgpu::Buffer,
    src_offset: u64,
    texture: &wgpu::Texture,
    texels: u32,
) {
    let (full, tail) = (texels / WIDTH, texels % WIDTH);
    let mut copy = |row: u32, width: u32, height: u32| {
        encoder.copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo {
                buffer: src,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: src_offset + u64::from(row) * u64::from(ROW_BYTES),
                    bytes_per_row: Some(ROW_BYTES),
                    rows_per_image: Some(height),
                },
            },
            wgpu::TexelCopyTextureInfo {
                texture,
                mip_level: 0,
                origin: wgpu::Origin3d { x: 0, y: row, z: 0 },
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
    };
    if full > 0 {
        copy(0, WIDTH, full);
    }
    if tail > 0 {
        copy(full, tail, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::rows_for;

    #[test]
    fn a_row_holds_1024_words() {
        assert_eq!(rows_for(0), 0);
        assert_eq!(rows_for(1), 1);
        assert_eq!(rows_for(1024), 1);
        assert_eq!(rows_for(1025), 2);
    }
}
