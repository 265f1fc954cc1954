//! The conv2d path: the direct kernels on storage buffers (`conv2d.wgsl`) or on staging
//! textures (`conv2d_texture.wgsl`, for llvmpipe, where per-lane buffer loads are slow), or the
//! column matrix and a matmul (`conv2d_gemm.rs`). `ConvVia::Auto` goes to the one chooser
//! (`Device::choose`): a first-use measurement where the device autotunes, else the rule.

use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::launch::InputPath;
use crate::ops::conv2d_dims::Conv2dDims;
use crate::ops::conv2d_gemm::{gemm_applies, gemm_uses_texture_matmul};

/// How the forward, weight-gradient and input-gradient kernels run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConvVia {
    /// Measured on first use where the device autotunes; otherwise on CPU adapters `Gemm` where
    /// its products take the texture matmul, else `Textures` where it applies, else the direct
    /// kernel with its inputs read as the device's `TextureInputs` policy says; on GPUs that
    /// direct kernel.
    #[default]
    Auto,
    /// `conv2d.wgsl` reading storage buffers.
    Buffers,
    /// Inputs copied into staging textures first: `conv2d_texture.wgsl` for the forward pass
    /// and the weight gradient (needs F % 4 == 0), the texture flavour of `conv2d.wgsl` for
    /// the input gradient, which has no kernel of its own.
    Textures,
    /// `im2col.wgsl` builds the column matrix in a scratch buffer and the matmul kernels do
    /// the arithmetic (needs F % 4 == 0 and a column matrix within one buffer binding).
    Gemm,
}

/// The path a conv pass runs and how its direct kernel (if it is one) binds its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub via: ConvVia,
    pub inputs: InputPath,
}

/// Whether the hand-written texture kernels can run these dims with inputs of `words` words.
fn textures_apply(dev: &Device, d: &Conv2dDims, words: &[usize]) -> bool {
    d.f % 4 == 0 && words.iter().all(|&w| dev.fits_staging(w))
}

/// What `via` resolves to for pass `op`. An explicit path is checked and used as given;
/// `Auto` asks `Device::choose` (`run(path)` launches the op into scratch outputs when the
/// device measures). `words` are the input sizes the texture kernel would stage; `kernel`
/// says whether the pass has a texture kernel of its own.
pub(crate) fn resolve(
    dev: &Device,
    via: ConvVia,
    op: &'static str,
    d: &Conv2dDims,
    (words, kernel): (&[usize], bool),
    run: impl FnMut(ConvVia) -> Result<()>,
) -> Result<Resolved> {
    let textures = kernel && textures_apply(dev, d, words);
    let gemm = gemm_applies(dev, d);
    let explicit = |via| Resolved {
        via,
        inputs: InputPath::Buffers,
    };
    match via {
        ConvVia::Buffers => return Ok(explicit(ConvVia::Buffers)),
        // No texture kernel: the direct kernel's texture flavour (checked by the launch).
        ConvVia::Textures if !kernel => {
            return Ok(Resolved {
                via: ConvVia::Buffers,
                inputs: InputPath::Textures,
            });
        }
        ConvVia::Textures if textures => return Ok(explicit(ConvVia::Textures)),
        ConvVia::Textures => {
            return Err(launch_err(
                op,
                format!(
                    "texture kernels need filters ({}) a multiple of 4 and inputs within the texture height",
                    d.f
                ),
            ));
        }
        ConvVia::Gemm if gemm => return Ok(explicit(ConvVia::Gemm)),
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
    let mut candidates = Vec::with_capacity(3);
    for (applies, path, name) in [
        (gemm, ConvVia::Gemm, "gemm"),
        (textures, ConvVia::Textures, "textures"),
        (true, ConvVia::Buffers, "buffers"),
    ] {
        if applies {
            candidates.push((path, name));
        }
    }
    let rule = match candidates[0].0 {
        _ if !dev.info().is_cpu() => ConvVia::Buffers,
        ConvVia::Gemm if !gemm_uses_texture_matmul(dev, d) => candidates[1].0,
        first => first,
    };
    // The shape class: exact geometry, the batch rounded up to a power of two.
    let key = || {
        format!(
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
        )
    };
    let via = dev.choose(key, &candidates, rule, run)?;
    Ok(Resolved {
        via,
        inputs: InputPath::Auto,
    })
}
