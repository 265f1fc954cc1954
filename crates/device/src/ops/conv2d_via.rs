//! The conv2d path: the direct kernels on storage buffers (`conv2d.wgsl`) or on staging
//! textures (`conv2d_texture.wgsl`, for llvmpipe, where per-lane buffer loads are slow), or the
//! column matrix and a matmul (`conv2d_gemm.rs`). `ConvVia::Auto` follows a first-use
//! measurement where the device autotunes (`Device::tuned`), else the adapter type.

use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::ops::conv2d::Conv2dDims;
use crate::ops::conv2d_gemm::gemm_applies;

/// How the forward, weight-gradient and input-gradient kernels run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvVia {
    /// Measured on first use where the device autotunes; otherwise on CPU adapters `Gemm` where
    /// it applies, else `Textures` where it applies, else `Buffers`, and on GPUs `Buffers`.
    Auto,
    /// `conv2d.wgsl` on storage buffers.
    Buffers,
    /// `conv2d_texture.wgsl`: inputs copied into staging textures first (needs F % 4 == 0). The
    /// input gradient has no texture kernel: there it means `Buffers`.
    Textures,
    /// `im2col.wgsl` builds the column matrix in a scratch buffer and the matmul kernels do
    /// the arithmetic (needs F % 4 == 0 and a column matrix within one buffer binding).
    Gemm,
}

/// Whether the texture kernels can run these dims with inputs of `words` words.
fn textures_apply(dev: &Device, d: &Conv2dDims, words: &[usize]) -> bool {
    d.f % 4 == 0 && words.iter().all(|&w| dev.fits_staging(w))
}

/// The path `via` resolves to: `Buffers`, `Textures` or `Gemm`. An explicit path is checked;
/// `Auto` is measured where the device autotunes and several paths apply (`run(path)` launches
/// the op into scratch outputs), else follows the rule in `ConvVia::Auto`. `words` are the
/// input sizes the texture kernel would stage; `textured` says whether the op has one.
pub(crate) fn resolve(
    dev: &Device,
    via: ConvVia,
    op: &'static str,
    d: &Conv2dDims,
    (words, textured): (&[usize], bool),
    mut run: impl FnMut(ConvVia) -> Result<()>,
) -> Result<ConvVia> {
    let textures = textured && textures_apply(dev, d, words);
    let gemm = gemm_applies(dev, d);
    match via {
        ConvVia::Buffers => return Ok(ConvVia::Buffers),
        ConvVia::Textures if !textured => return Ok(ConvVia::Buffers),
        ConvVia::Textures if textures => return Ok(ConvVia::Textures),
        ConvVia::Textures => {
            return Err(launch_err(
                op,
                format!(
                    "texture kernels need filters ({}) a multiple of 4 and inputs within the texture height",
                    d.f
                ),
            ));
        }
        ConvVia::Gemm if gemm => return Ok(ConvVia::Gemm),
        ConvVia::Gemm => {
            return Err(launch_err(
                op,
                format!(
                    "the matmul path needs filters ({}) a multiple of 4 and a column matrix \
                     within one buffer binding",
                    d.f
                ),
            ));
        }
        ConvVia::Auto => {}
    }
    let mut paths = Vec::new();
    let mut names = Vec::new();
    for (applies, path, name) in [
        (gemm, ConvVia::Gemm, "gemm"),
        (textures, ConvVia::Textures, "textures"),
        (true, ConvVia::Buffers, "buffers"),
    ] {
        if applies {
            paths.push(path);
            names.push(name);
        }
    }
    if dev.autotunes() && paths.len() > 1 {
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
        let i = dev.tuned(&key, &names, |i| run(paths[i]))?;
        return Ok(paths[i]);
    }
    Ok(if dev.info().is_cpu() {
        paths[0]
    } else {
        ConvVia::Buffers
    })
}
