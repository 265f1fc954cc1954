//! Staging textures for `matmul_texture.wgsl` and `optim_texture.wgsl`: an input is copied from
//! its buffer into
//! a flat rgba32float texture (texel t at (t % 256, t / 256) holds words 4t..4t+3), because
//! llvmpipe fetches texels as gathers but loads per-lane storage addresses one lane at a time
//! (see the shader's header). The copy is recorded in the pending batch like a dispatch, so it
//! lands in order: after the dispatches recorded before it, before the ones after it.
//!
//! One texture per slot (a kernel's first, second, ... texture input) is kept and grown on demand. Reusing it for the next matmul is
//! safe without a quarantine (unlike buffers): the copy that overwrites it is an encoder command
//! ordered after the dispatch that read it, and wgpu places the barrier between them.

use crate::buffer::GpuBuffer;
use crate::context::{Device, lock};
use crate::counters::AtomicCounters;
use crate::error::Result;
use crate::kernels::Kernel;
use crate::pending::{Bind, Command};

/// Texels per texture row.
pub(crate) const WIDTH: u32 = 256;
/// Bytes per texture row (a multiple of wgpu's 256-byte copy row alignment).
const ROW_BYTES: u32 = WIDTH * 16;

/// Staging textures kept per device; a kernel binds at most this many texture inputs.
pub(crate) const SLOTS: usize = 4;

/// Texture rows needed for `words` words.
pub(crate) fn rows_for(words: usize) -> usize {
    words.div_ceil(4).div_ceil(WIDTH as usize)
}

impl Device {
    /// Whether `words` words fit one staging texture (its height is the adapter's limit).
    pub(crate) fn fits_staging(&self, words: usize) -> bool {
        rows_for(words) <= self.info().max_texture_dimension_2d as usize
    }

    /// Records a copy of the first `words` words of `src` (rounded up to whole texels, which
    /// stays inside the buffer's 16-byte-multiple allocation) into the staging texture of
    /// `slot` (below `SLOTS`), and returns the view to bind. The caller checked `rows_for(words)` against the
    /// adapter's texture limit.
    pub(crate) fn stage_texture(
        &self,
        slot: usize,
        src: &GpuBuffer,
        words: usize,
    ) -> wgpu::TextureView {
        let rows = rows_for(words).max(1) as u32;
        let texture = {
            let mut slots = lock(&self.inner.staging_textures);
            let entry = &mut slots[slot];
            match entry {
                Some(t) if t.height() >= rows => t.clone(),
                _ => {
                    // Grow to a power of two so a run of growing shapes reallocates rarely.
                    let max = self.info().max_texture_dimension_2d;
                    let t = self.raw().create_texture(&wgpu::TextureDescriptor {
                        label: Some("kiln matmul operand"),
                        size: wgpu::Extent3d {
                            width: WIDTH,
                            height: rows.next_power_of_two().min(max).max(rows),
                            depth_or_array_layers: 1,
                        },
                        mip_level_count: 1,
                        sample_count: 1,
                        dimension: wgpu::TextureDimension::D2,
                        format: wgpu::TextureFormat::Rgba32Float,
                        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                        view_formats: &[],
                    });
                    AtomicCounters::bump(&self.inner.counters.buffer_allocations);
                    *entry = Some(t.clone());
                    t
                }
            }
        };
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let texels = words.div_ceil(4) as u32;
        if texels > 0 {
            let mut pending = lock(&self.inner.pending);
            self.push_locked(
                &mut pending,
                Command::CopyToTexture {
                    src: src.raw().clone(),
                    src_offset: src.offset(),
                    texture,
                    texels,
                },
            );
        }
        view
    }
}

impl Device {
    /// Records a dispatch of a `texture_inputs` kernel: input `i` (`words` long) staged into
    /// slot `i`, then the outputs bound as storage buffers after them. The caller checked
    /// sizes, aliasing and the texture height.
    pub(crate) fn dispatch_textured<P: bytemuck::Pod>(
        &self,
        kernel: Kernel,
        params: &P,
        inputs: &[(&GpuBuffer, usize)],
        outputs: &[&GpuBuffer],
        groups: [u32; 3],
    ) -> Result<()> {
        let params = bytemuck::bytes_of(params);
        self.record_textured(kernel, false, params, inputs, outputs, groups)
    }

    /// `dispatch_textured` for both kinds of texture-input pipeline: `flavour` selects the
    /// texture flavour of a storage-buffer kernel (`texture_flavor.rs`, used by `dispatch`)
    /// instead of a kernel written for textures.
    pub(crate) fn record_textured(
        &self,
        kernel: Kernel,
        flavour: bool,
        params: &[u8],
        inputs: &[(&GpuBuffer, usize)],
        outputs: &[&GpuBuffer],
        groups: [u32; 3],
    ) -> Result<()> {
        let mut bindings: Vec<Bind> = inputs
            .iter()
            .enumerate()
            .map(|(slot, (b, words))| Bind::Texture(self.stage_texture(slot, b, *words)))
            .collect();
        bindings.extend(outputs.iter().map(|b| Bind::Buffer(b.range())));
        self.record_dispatch(kernel, flavour, params, bindings, groups)
    }
}

/// Encodes a recorded `CopyToTexture`: whole rows in one copy, the partial last row in another.
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
