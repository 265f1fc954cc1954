//! The conv2d input path: storage buffers (`conv2d.wgsl`) or staging textures
//! (`conv2d_texture.wgsl`, for llvmpipe, where per-lane buffer loads are slow), for the forward
//! and weight-gradient kernels. `ConvVia::Auto` follows the adapter type, or a first-use
//! measurement where the device autotunes (`Device::tuned`).

use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::ops::conv2d::Conv2dDims;

/// Where the forward and weight-gradient kernels read their inputs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvVia {
    /// Staging textures on CPU adapters when F is a multiple of 4, buffers otherwise.
    Auto,
    /// `conv2d.wgsl` on storage buffers.
    Buffers,
    /// `conv2d_texture.wgsl`: inputs copied into staging textures first (needs F % 4 == 0).
    Textures,
}

/// Whether the texture kernels can run these dims with inputs of `words` words.
fn textures_apply(dev: &Device, d: &Conv2dDims, words: &[usize]) -> bool {
    d.f % 4 == 0 && words.iter().all(|&w| dev.fits_staging(w))
}

/// `Auto` resolved by a first-use measurement (see `Device::tuned`) where the device autotunes
/// and both paths apply; any other `via` is returned as it is. `run(via)` launches the op into
/// scratch outputs.
pub(crate) fn tuned_via(
    dev: &Device,
    via: ConvVia,
    op: &'static str,
    d: &Conv2dDims,
    words: &[usize],
    mut run: impl FnMut(ConvVia) -> Result<()>,
) -> Result<ConvVia> {
    if via != ConvVia::Auto || !dev.autotunes() || !textures_apply(dev, d, words) {
        return Ok(via);
    }
    // The shape class: exact geometry, the batch rounded up to a power of two.
    let key = format!(
        "{op} n{} {}x{}x{} f{} k{}x{} s{}x{} {:?}",
        d.n.next_power_of_two(),
        d.h,
        d.w,
        d.c,
        d.f,
        d.kh,
        d.kw,
        d.sh,
        d.sw,
        d.padding
    );
    let paths = [ConvVia::Textures, ConvVia::Buffers];
    let i = dev.tuned(&key, &["textures", "buffers"], |i| run(paths[i]))?;
    Ok(paths[i])
}

/// Whether `via` resolves to the texture kernels for these dims and inputs of `words` words.
pub(crate) fn use_textures(
    dev: &Device,
    via: ConvVia,
    op: &'static str,
    d: &Conv2dDims,
    words: &[usize],
) -> Result<bool> {
    let ok = textures_apply(dev, d, words);
    match via {
        ConvVia::Auto => Ok(ok && dev.info().is_cpu()),
        ConvVia::Buffers => Ok(false),
        ConvVia::Textures if ok => Ok(true),
        ConvVia::Textures => Err(launch_err(
            op,
            format!(
                "texture kernels need filters ({}) a multiple of 4 and inputs within the texture height",
                d.f
            ),
        )),
    }
}
