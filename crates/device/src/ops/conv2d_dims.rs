//! The geometry of a 2-D convolution (`Conv2dDims`) and the params struct `conv2d.wgsl` and
//! `im2col.wgsl` share, shared by the conv2d launchers (`conv2d.rs`, `conv2d_gemm.rs`).

use crate::error::{Result, launch_err};
use crate::ops::fits_u32;
use crate::ops::window::{Padding, output_hw};

/// Geometry of a 2-D convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dDims {
    /// Batch.
    pub n: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Input channels.
    pub c: usize,
    /// Filters (output channels).
    pub f: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Padding mode.
    pub padding: Padding,
}

impl Conv2dDims {
    /// (out height, out width, pad top, pad left), or `None` when the kernel does not fit.
    pub fn output(&self) -> Option<(usize, usize, usize, usize)> {
        output_hw(
            (self.h, self.w),
            (self.kh, self.kw),
            (self.sh, self.sw),
            self.padding,
        )
    }
}

/// The params of conv2d.wgsl and im2col.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct ConvParams {
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    pub oh: u32,
    pub ow: u32,
    f: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    pt: u32,
    pl: u32,
    pub has_bias: u32,
    /// Output positions per weight-gradient invocation; im2col.wgsl's K4; else 0.
    pub chunk: u32,
    pub act: u32,
}

/// The params for `d` and the output's element count, or an error naming `op` when the kernel
/// does not fit the input or a size exceeds u32.
pub(crate) fn params(op: &'static str, d: &Conv2dDims) -> Result<(ConvParams, usize)> {
    let (oh, ow, pt, pl) = d.output().ok_or_else(|| {
        launch_err(
            op,
            format!(
                "a {}x{} kernel with stride {}x{} does not fit a {}x{} input",
                d.kh, d.kw, d.sh, d.sw, d.h, d.w
            ),
        )
    })?;
    let sizes = [
        [d.n, d.h, d.w, d.c],
        [d.n, oh, ow, d.f],
        [d.kh, d.kw, d.c, d.f],
    ];
    for s in sizes {
        let n = s.iter().try_fold(1usize, |a, &x| a.checked_mul(x));
        fits_u32(op, n.unwrap_or(usize::MAX))?;
    }
    let u = |x: usize| x as u32;
    Ok((
        ConvParams {
            n: u(d.n),
            h: u(d.h),
            w: u(d.w),
            c: u(d.c),
            oh: u(oh),
            ow: u(ow),
            f: u(d.f),
            kh: u(d.kh),
            kw: u(d.kw),
            sh: u(d.sh),
            sw: u(d.sw),
            pt: u(pt),
            pl: u(pl),
            has_bias: 0,
            chunk: 0,
            act: 0,
        },
        d.n * oh * ow * d.f,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<super::ConvParams>(), 64);
    }
}
