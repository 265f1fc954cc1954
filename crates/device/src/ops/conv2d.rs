//! Launchers for `shaders/conv2d.wgsl` and `conv2d_texture.wgsl`: 2-D convolution of NHWC
//! inputs with [kh, kw, in, out] kernels, forward (with the bias + activation epilogue), input
//! gradient and weight gradient. The path each pass takes is chosen in `conv2d_via.rs`; the
//! column-matrix path is `conv2d_gemm.rs`.

use crate::activation::Activation;
use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::Result;
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::launch::Launch;
use crate::ops::conv2d_dims::params;
use crate::ops::conv2d_gemm::{
    backward_input_gemm, backward_weight_gemm, column_bytes, conv2d_gemm, weight_from_columns,
};
use crate::ops::conv2d_via::resolve;
use crate::ops::{epilogue_code, need};

pub use crate::ops::conv2d_dims::Conv2dDims;
pub use crate::ops::conv2d_via::ConvVia;
pub use crate::ops::window::{Padding, output_hw, output_size};

/// What a forward convolution does besides the convolution: the epilogue (add `bias[filter]`,
/// then `act`, before the store) and the path.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConvOptions<'a> {
    /// One value per filter.
    pub bias: Option<&'a GpuBuffer>,
    /// Applied after the bias (an elementwise activation).
    pub act: Activation,
    /// The path (`Auto` by default).
    pub via: ConvVia,
}

/// The column matrix a forward convolution built on the matmul path (`conv2d_keeping_columns`),
/// kept for its weight gradient (`conv2d_backward_weight_from_columns`): dw = col^T dy needs
/// the same matrix, and rebuilding it was a tenth of the CNN step on llvmpipe (2026-12-02).
#[derive(Debug)]
pub struct ConvColumns {
    col: GpuBuffer,
    dims: Conv2dDims,
}

/// Column matrices up to this size are kept by `conv2d_keeping_columns`: a larger one (a deep
/// layer at a large batch) would hold its memory until the backward pass for a rebuild that
/// costs little beside its product.
pub const KEEP_COLUMNS_MAX_BYTES: u64 = 16 << 20;

/// y = act(conv2d(x, w) + bias): a Conv2D layer with its activation in one dispatch.
pub fn conv2d(
    dev: &Device,
    x: &GpuBuffer,
    w: &GpuBuffer,
    y: &GpuBuffer,
    d: &Conv2dDims,
    o: &ConvOptions<'_>,
) -> Result<()> {
    conv2d_keeping_columns(dev, x, w, y, d, o).map(drop)
}

/// `conv2d`, returning the column matrix when the convolution ran on the matmul path and the
/// matrix is at most `KEEP_COLUMNS_MAX_BYTES`.
pub fn conv2d_keeping_columns(
    dev: &Device,
    x: &GpuBuffer,
    w: &GpuBuffer,
    y: &GpuBuffer,
    d: &Conv2dDims,
    o: &ConvOptions<'_>,
) -> Result<Option<ConvColumns>> {
    let op = "conv2d";
    let (mut p, out) = params(op, d)?;
    p.act = epilogue_code(op, o.act)?;
    p.has_bias = u32::from(o.bias.is_some());
    need(op, "x", x, d.n * d.h * d.w * d.c)?;
    need(op, "w", w, d.kh * d.kw * d.c * d.f)?;
    if let Some(bias) = o.bias {
        need(op, "bias", bias, d.f)?;
    }
    need(op, "y", y, out)?;
    // One invocation per 4 output pixels x 8 filters (see conv2d.wgsl).
    let invocations = d.n * p.oh as usize * (p.ow as usize).div_ceil(4) * d.f.div_ceil(8);
    let (xw, ww) = (d.n * d.h * d.w * d.c, d.kh * d.kw * d.c * d.f);
    let r = resolve(dev, o.via, op, d, (&[xw, ww, d.f], true), |via| {
        let scratch = dev.alloc(y.bytes())?;
        conv2d(dev, x, w, &scratch, d, &ConvOptions { via, ..*o })
    })?;
    if r.via == ConvVia::Gemm {
        let col = conv2d_gemm(dev, (x, w, o.bias), o.act, y, d)?;
        let keep = column_bytes(d) <= KEEP_COLUMNS_MAX_BYTES;
        return Ok(keep.then_some(ConvColumns { col, dims: *d }));
    }
    // Without a bias the kernel never reads binding 3: `w` stands in (one texel staged).
    let buffers = [x, w, o.bias.unwrap_or(w), y];
    let groups = grid_1d(invocations);
    if r.via == ConvVia::Textures && out > 0 && xw > 0 && ww > 0 {
        let words = [xw, ww, if o.bias.is_some() { d.f } else { 1 }];
        let l = Launch::new(Kernel::Conv2dTexture, &p, &buffers, groups).input_words(&words);
        return dev.launch(&l).map(|()| None);
    }
    dev.launch(&Launch::new(Kernel::Conv2d, &p, &buffers, groups).path(r.inputs))?;
    Ok(None)
}

/// dw from the column matrix the forward pass kept (the input it was built from and `d` are the
/// forward's): the matmul path's weight gradient without rebuilding the matrix.
pub fn conv2d_backward_weight_from_columns(
    dev: &Device,
    cols: &ConvColumns,
    dy: &GpuBuffer,
    dw: &GpuBuffer,
) -> Result<()> {
    let op = "conv2d_backward_weight";
    let d = &cols.dims;
    let (_, out) = params(op, d)?;
    need(op, "dy", dy, out)?;
    need(op, "dw", dw, d.kh * d.kw * d.c * d.f)?;
    weight_from_columns(dev, &cols.col, dy, dw, d)
}

/// dx = gradient of the convolution with respect to its input.
pub fn conv2d_backward_input(
    dev: &Device,
    dy: &GpuBuffer,
    w: &GpuBuffer,
    dx: &GpuBuffer,
    d: &Conv2dDims,
    via: ConvVia,
) -> Result<()> {
    let op = "conv2d_backward_input";
    let (p, out) = params(op, d)?;
    need(op, "dy", dy, out)?;
    need(op, "w", w, d.kh * d.kw * d.c * d.f)?;
    need(op, "dx", dx, d.n * d.h * d.w * d.c)?;
    let r = resolve(dev, via, op, d, (&[], false), |via| {
        let scratch = dev.alloc(dx.bytes())?;
        conv2d_backward_input(dev, dy, w, &scratch, d, via)
    })?;
    if r.via == ConvVia::Gemm {
        return backward_input_gemm(dev, dy, w, dx, d);
    }
    let groups = grid_1d(d.n * d.h * d.w * d.c);
    let buffers = [dy, w, dx];
    let l = Launch::new(Kernel::Conv2dBackwardInput, &p, &buffers, groups);
    dev.launch(&l.path(r.inputs))
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
    via: ConvVia,
) -> Result<()> {
    let op = "conv2d_backward_weight";
    let (mut p, out) = params(op, d)?;
    need(op, "x", x, d.n * d.h * d.w * d.c)?;
    need(op, "dy", dy, out)?;
    let weights = d.kh * d.kw * d.c * d.f;
    need(op, "dw", dw, weights)?;
    let xw = d.n * d.h * d.w * d.c;
    let r = resolve(dev, via, op, d, (&[xw, out], true), |via| {
        let scratch = dev.alloc(dw.bytes())?;
        conv2d_backward_weight(dev, x, dy, &scratch, d, via)
    })?;
    if r.via == ConvVia::Gemm {
        return backward_weight_gemm(dev, x, dy, dw, d);
    }
    // Split the reduction over output positions into chunks summed in parallel, then add the
    // chunk partials (reduce.wgsl); the scratch buffer returns to the pool after the submit.
    let positions = out / d.f.max(1);
    let chunk = WEIGHT_GRAD_CHUNK.min(positions.max(1));
    let chunks = positions.div_ceil(chunk).max(1);
    p.chunk = chunk as u32;
    let taps = d.kh * d.kw * d.c;
    let groups = grid_1d(chunks * taps * d.f.div_ceil(8));
    let partial = dev.alloc((chunks * weights * 4) as u64)?;
    let buffers = [x, dy, &partial];
    if r.via == ConvVia::Textures && xw > 0 && out > 0 {
        let kernel = Kernel::Conv2dBackwardWeightTexture;
        let words = [xw, out];
        dev.launch(&Launch::new(kernel, &p, &buffers, groups).input_words(&words))?;
    } else {
        let l = Launch::new(Kernel::Conv2dBackwardWeight, &p, &buffers, groups);
        dev.launch(&l.path(r.inputs))?;
    }
    let v = crate::ops::reduce::AxisView {
        outer: 1,
        len: chunks,
        inner: weights,
    };
    crate::ops::reduce::reduce(dev, crate::ops::reduce::ReduceOp::Sum, &partial, dw, &v)
}
