//! Launchers for `shaders/conv2d.wgsl` and `conv2d_texture.wgsl` (NHWC input, [kh, kw, in, out]
//! kernels; the input path is chosen in `conv2d_via.rs`), and the Keras padding arithmetic
//! shared with pooling.

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::ops::conv2d_gemm::{backward_input_gemm, backward_weight_gemm, conv2d_gemm};
use crate::ops::conv2d_via::resolve;
use crate::ops::{Act, fits_u32, need};

pub use crate::ops::conv2d_via::ConvVia;

/// Keras padding modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: out = floor((in - k) / stride) + 1.
    Valid,
    /// out = ceil(in / stride), zero (or ignored) padding split with the smaller half first.
    Same,
}

/// Output size and leading pad of one spatial dim, exactly as TensorFlow computes them:
/// 'same' pads max((out - 1) * stride + k - in, 0) in total, floor(total / 2) before.
pub fn output_size(
    input: usize,
    k: usize,
    stride: usize,
    padding: Padding,
) -> Option<(usize, usize)> {
    if k == 0 || stride == 0 {
        return None;
    }
    match padding {
        Padding::Valid => (input >= k).then(|| ((input - k) / stride + 1, 0)),
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out.max(1) - 1) * stride + k).saturating_sub(input);
            (out > 0).then_some((out, total / 2))
        }
    }
}

/// (out height, out width, pad top, pad left) of a 2-D window (convolution or pooling) over an
/// `input` of (height, width), or `None` when the window does not fit.
pub fn output_hw(
    input: (usize, usize),
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Option<(usize, usize, usize, usize)> {
    let (oh, pt) = output_size(input.0, window.0, strides.0, padding)?;
    let (ow, pl) = output_size(input.1, window.1, strides.1, padding)?;
    Some((oh, ow, pt, pl))
}

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
    has_bias: u32,
    /// Output positions per weight-gradient invocation; im2col.wgsl's K4; else 0.
    pub chunk: u32,
    pub act: u32,
}

/// The params for `d` and the output's element count, or an error naming `op` when the kernel
/// does not fit the input or a size exceeds u32.
pub(crate) fn params(
    op: &'static str,
    d: &Conv2dDims,
    has_bias: bool,
) -> Result<(ConvParams, usize)> {
    let (oh, ow, pt, pl) = d.output().ok_or_else(|| {
        launch_err(
            op,
            format!(
                "a {}x{} kernel with stride {}x{} does not fit a {}x{} input",
                d.kh, d.kw, d.sh, d.sw, d.h, d.w
            ),
        )
    })?;
    fits_u32(
        op,
        (d.n * d.h * d.w * d.c)
            .max(d.n * oh * ow * d.f)
            .max(d.kh * d.kw * d.c * d.f),
    )?;
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
            has_bias: u32::from(has_bias),
            chunk: 0,
            act: 0,
        },
        d.n * oh * ow * d.f,
    ))
}

/// y = conv2d(x, w) + bias. Without a bias, pass any buffer as `bias` and `has_bias = false`.
pub fn conv2d(
    dev: &Device,
    x: &GpuBuffer,
    w: &GpuBuffer,
    bias: &GpuBuffer,
    has_bias: bool,
    y: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    conv2d_with(dev, ConvVia::Auto, x, w, bias, has_bias, y, d)
}

/// y = act(conv2d(x, w) + bias): a Conv2D layer with its activation in one dispatch.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_act(
    dev: &Device,
    x: &GpuBuffer,
    w: &GpuBuffer,
    bias: &GpuBuffer,
    has_bias: bool,
    act: Act,
    y: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    conv2d_act_with(dev, ConvVia::Auto, x, w, bias, has_bias, act, y, d)
}

/// `conv2d` with an explicit path (tests and benchmarks compare them).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_with(
    dev: &Device,
    via: ConvVia,
    x: &GpuBuffer,
    w: &GpuBuffer,
    bias: &GpuBuffer,
    has_bias: bool,
    y: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    conv2d_act_with(dev, via, x, w, bias, has_bias, Act::Linear, y, d)
}

/// `conv2d_act` with an explicit path.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_act_with(
    dev: &Device,
    via: ConvVia,
    x: &GpuBuffer,
    w: &GpuBuffer,
    bias: &GpuBuffer,
    has_bias: bool,
    act: Act,
    y: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    let (mut p, out) = params("conv2d", d, has_bias)?;
    p.act = act as u32;
    need("conv2d", "x", x, d.n * d.h * d.w * d.c)?;
    need("conv2d", "w", w, d.kh * d.kw * d.c * d.f)?;
    if has_bias {
        need("conv2d", "bias", bias, d.f)?;
    }
    need("conv2d", "y", y, out)?;
    // One invocation per 4 output pixels x 8 filters (see conv2d.wgsl).
    let invocations = d.n * p.oh as usize * (p.ow as usize).div_ceil(4) * d.f.div_ceil(8);
    let (xw, ww) = (d.n * d.h * d.w * d.c, d.kh * d.kw * d.c * d.f);
    let via = resolve(dev, via, "conv2d", d, (&[xw, ww, d.f], true), |v| {
        let scratch = dev.alloc(y.bytes())?;
        conv2d_act_with(dev, v, x, w, bias, has_bias, act, &scratch, d)
    })?;
    if via == ConvVia::Gemm {
        return conv2d_gemm(dev, (x, w, has_bias.then_some(bias)), act, y, d);
    }
    if via == ConvVia::Buffers || out == 0 || xw == 0 || ww == 0 {
        return dev.dispatch(Kernel::Conv2d, &p, &[x, w, bias, y], grid_1d(invocations));
    }
    // Without a bias the kernel never reads it; stage one texel of whatever was passed.
    let bias_words = if has_bias { d.f } else { 1.min(bias.words()) };
    dev.dispatch_textured(
        Kernel::Conv2dTexture,
        &p,
        &[(x, xw), (w, ww), (bias, bias_words)],
        &[y],
        grid_1d(invocations),
    )
}

/// dx = gradient of the convolution with respect to its input.
pub fn conv2d_backward_input(
    dev: &Device,
    dy: &GpuBuffer,
    w: &GpuBuffer,
    dx: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    conv2d_backward_input_with(dev, ConvVia::Auto, dy, w, dx, d)
}

/// `conv2d_backward_input` with an explicit path (`Textures` means the direct kernel, which
/// `Device::dispatch` stages into textures on CPU adapters by itself).
pub fn conv2d_backward_input_with(
    dev: &Device,
    via: ConvVia,
    dy: &GpuBuffer,
    w: &GpuBuffer,
    dx: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    let op = "conv2d_backward_input";
    let (p, out) = params(op, d, false)?;
    need(op, "dy", dy, out)?;
    need(op, "w", w, d.kh * d.kw * d.c * d.f)?;
    need(op, "dx", dx, d.n * d.h * d.w * d.c)?;
    let via = resolve(dev, via, op, d, (&[], false), |v| {
        let scratch = dev.alloc(dx.bytes())?;
        conv2d_backward_input_with(dev, v, dy, w, &scratch, d)
    })?;
    if via == ConvVia::Gemm {
        return backward_input_gemm(dev, dy, w, dx, d);
    }
    dev.dispatch(
        Kernel::Conv2dBackwardInput,
        &p,
        &[dy, w, dx],
        grid_1d(d.n * d.h * d.w * d.c),
    )
}

/// Output positions summed by one invocation of the weight-gradient kernel.
const WEIGHT_GRAD_CHUNK: usize = 256;

/// dw = gradient of the convolution with respect to its kernel.
pub fn conv2d_backward_weight(
    dev: &Device,
    x: &GpuBuffer,
    dy: &GpuBuffer,
    dw: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    conv2d_backward_weight_with(dev, ConvVia::Auto, x, dy, dw, d)
}

/// `conv2d_backward_weight` with an explicit path.
pub fn conv2d_backward_weight_with(
    dev: &Device,
    via: ConvVia,
    x: &GpuBuffer,
    dy: &GpuBuffer,
    dw: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    let (p, out) = params("conv2d_backward_weight", d, false)?;
    need("conv2d_backward_weight", "x", x, d.n * d.h * d.w * d.c)?;
    need("conv2d_backward_weight", "dy", dy, out)?;
    let weights = d.kh * d.kw * d.c * d.f;
    need("conv2d_backward_weight", "dw", dw, weights)?;
    // Split the reduction over output positions into chunks summed in parallel, then add the
    // chunk partials (reduce.wgsl); the scratch buffer returns to the pool after the submit.
    let positions = out / d.f.max(1);
    let chunk = WEIGHT_GRAD_CHUNK.min(positions.max(1));
    let chunks = positions.div_ceil(chunk).max(1);
    let mut p = p;
    p.chunk = chunk as u32;
    let taps = d.kh * d.kw * d.c;
    let groups = grid_1d(chunks * taps * d.f.div_ceil(8));
    let xw = d.n * d.h * d.w * d.c;
    let op = "conv2d_backward_weight";
    let via = resolve(dev, via, op, d, (&[xw, out], true), |v| {
        let scratch = dev.alloc(dw.bytes())?;
        conv2d_backward_weight_with(dev, v, x, dy, &scratch, d)
    })?;
    if via == ConvVia::Gemm {
        return backward_weight_gemm(dev, x, dy, dw, d);
    }
    let partial = dev.alloc((chunks * weights * 4) as u64)?;
    if via == ConvVia::Textures && xw > 0 && out > 0 {
        let (kernel, inputs) = (Kernel::Conv2dBackwardWeightTexture, [(x, xw), (dy, out)]);
        dev.dispatch_textured(kernel, &p, &inputs, &[&partial], groups)?;
    } else {
        dev.dispatch(Kernel::Conv2dBackwardWeight, &p, &[x, dy, &partial], groups)?;
    }
    let v = crate::ops::reduce::AxisView {
        outer: 1,
        len: chunks,
        inner: weights,
    };
    crate::ops::reduce::reduce(dev, crate::ops::reduce::ReduceOp::Sum, &partial, dw, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<ConvParams>(), 64);
    }

    #[test]
    fn padding_matches_tensorflow() {
        // 28 with k=3, s=1, same: out 28, total pad 2, 1 before.
        assert_eq!(output_size(28, 3, 1, Padding::Same), Some((28, 1)));
        // 28 with k=2, s=2, same: out 14, no pad.
        assert_eq!(output_size(28, 2, 2, Padding::Same), Some((14, 0)));
        // 5 with k=2, s=2, same: out 3, total pad 1, 0 before (the extra goes after).
        assert_eq!(output_size(5, 2, 2, Padding::Same), Some((3, 0)));
        // 6 with k=3, s=2, same: out 3, total pad 1, 0 before.
        assert_eq!(output_size(6, 3, 2, Padding::Same), Some((3, 0)));
        // 7 with k=4, s=1, same: total 3, 1 before.
        assert_eq!(output_size(7, 4, 1, Padding::Same), Some((7, 1)));
        assert_eq!(output_size(28, 3, 1, Padding::Valid), Some((26, 0)));
        assert_eq!(output_size(7, 2, 2, Padding::Valid), Some((3, 0)));
        assert_eq!(output_size(2, 3, 1, Padding::Valid), None);
    }
}
