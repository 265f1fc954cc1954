//! Convolution as matrix products (`im2col.wgsl` has the derivation): the column matrix of the
//! input, [N*OH*OW, K4] with K4 = KH*KW*C rounded up to 4, is built in a scratch buffer, and
//!   y = col w (+ bias, activation: the matmul epilogue),  dw = col^T dy,  dx = col2im(dy w^T)
//! run on the matmul kernels with the kernel as a [K, F] matrix (zero-padded to [K4, F] when
//! K4 > K). On llvmpipe the texture matmul reaches 20-35 GFLOP/s on these products against 1-6
//! for the direct kernels on a 32-channel layer (`benches/conv2d.rs`), which pays for writing
//! the column matrix. The backward pass rebuilds it rather than keeping the forward's.

use crate::activation::Activation;
use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::Result;
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::launch::Launch;
use crate::ops::conv2d_dims::{Conv2dDims, params};
use crate::ops::fits_u32;
use crate::ops::matmul::{MatmulDims, MatmulOptions, matmul, texture_support};
use crate::ops::reduce::{AxisView, ReduceOp, reduce};
use crate::overrides::Overrides;

/// The largest column matrix the path builds (bytes): a bigger one (large images, big batches)
/// takes the direct kernels rather than a scratch buffer of that size.
const MAX_COL_BYTES: u64 = 256 << 20;

/// Columns of the column matrix: the taps KH*KW*C rounded up to whole texels.
fn k4(d: &Conv2dDims) -> usize {
    (d.kh * d.kw * d.c).next_multiple_of(4)
}

/// Rows of the column matrix (output positions), or 0 when the kernel does not fit.
fn rows(d: &Conv2dDims) -> usize {
    d.output().map_or(0, |(oh, ow, _, _)| d.n * oh * ow)
}

/// Whether the matmul path can run these dims: F a multiple of 4 (the output rows start on
/// texels) and a non-empty column matrix within `MAX_COL_BYTES` and one buffer binding.
pub(crate) fn gemm_applies(dev: &Device, d: &Conv2dDims) -> bool {
    let (m, k4) = (rows(d), k4(d));
    let bytes = (m * k4 * 4) as u64;
    d.f % 4 == 0
        && m > 0
        && d.c > 0
        && bytes <= MAX_COL_BYTES
        && dev.fits_buffer(bytes)
        && fits_u32("im2col", m * k4).is_ok()
}

/// Whether its products would take the texture matmul: what makes the path pay on CPU adapters
/// (the storage-buffer matmul would not beat the direct texture kernels there).
pub(crate) fn gemm_uses_texture_matmul(dev: &Device, d: &Conv2dDims) -> bool {
    texture_support(dev, &MatmulDims::new(rows(d), d.f, k4(d), false, false)).is_none()
}

/// The column matrix of `x` in a scratch buffer, and its (rows, columns).
fn column_matrix(dev: &Device, x: &GpuBuffer, d: &Conv2dDims) -> Result<(GpuBuffer, usize, usize)> {
    let (mut p, _) = params("im2col", d)?;
    let (m, k4) = (rows(d), k4(d));
    p.chunk = k4 as u32; // im2col.wgsl reads this slot as K4
    let col = dev.alloc((m * k4 * 4) as u64)?;
    // With C % 4 == 0 each 4-column group is 4 channels of one pixel: one vec4 load.
    let kernel = if d.c % 4 == 0 {
        Kernel::Im2col4
    } else {
        Kernel::Im2col
    };
    // Every index it divides is below its invocation count (`udiv`, the WGSL prelude).
    let invocations = m * k4 / 4;
    let buffers = [x, &col];
    let launch = Launch::new(kernel, &p, &buffers, grid_1d(invocations))
        .overrides(Overrides::small_div(invocations));
    dev.launch(&launch)?;
    Ok((col, m, k4))
}

/// The kernel as a [K4, F] matrix: `None` when K is already a multiple of 4 (use `w`), else a
/// copy with zero rows appended (the kernel is [K, F] row-major, so they go at the end).
fn padded_kernel(dev: &Device, w: &GpuBuffer, d: &Conv2dDims) -> Result<Option<GpuBuffer>> {
    let k = d.kh * d.kw * d.c;
    if k == k4(d) {
        return Ok(None);
    }
    let wp = dev.zeros((k4(d) * d.f * 4) as u64)?;
    dev.copy(w, 0, &wp, 0, (k * d.f * 4) as u64)?;
    Ok(Some(wp))
}

/// y = act(col w + bias). The caller checked the sizes and `gemm_applies`. Returns the column
/// matrix, which the weight gradient can reuse (`weight_from_columns`).
pub(crate) fn conv2d_gemm(
    dev: &Device,
    (x, w, bias): (&GpuBuffer, &GpuBuffer, Option<&GpuBuffer>),
    act: Activation,
    y: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<GpuBuffer> {
    let (col, m, k4) = column_matrix(dev, x, d)?;
    let wp = padded_kernel(dev, w, d)?;
    let dims = MatmulDims::new(m, d.f, k4, false, false);
    let o = MatmulOptions {
        bias,
        act,
        ..Default::default()
    };
    matmul(dev, &col, wp.as_ref().unwrap_or(w), y, &dims, &o)?;
    Ok(col)
}

/// Bytes of the column matrix of `d`.
pub(crate) fn column_bytes(d: &Conv2dDims) -> u64 {
    (rows(d) * k4(d) * 4) as u64
}

/// How many slices the weight gradient's inner dimension (the column matrix's rows) is cut
/// into: a product that fills fewer than this many workgroups and has at least
/// `MIN_SLICE_ROWS` rows per slice is split (see `backward_weight_gemm`).
const MAX_SLICES: usize = 16;
const MIN_SLICE_ROWS: usize = 512;

/// Slices for a weight-gradient product with `groups` workgroups over `rows` rows: 1 (no split)
/// unless the grid is smaller than `MAX_SLICES` workgroups; then the most slices, at most
/// `MAX_SLICES` and a power of two dividing `rows`, that keep `MIN_SLICE_ROWS` rows each.
fn slices(groups: usize, rows: usize) -> usize {
    if groups >= MAX_SLICES {
        return 1;
    }
    let mut s = MAX_SLICES;
    while s > 1 && (rows % s != 0 || rows / s < MIN_SLICE_ROWS) {
        s /= 2;
    }
    s
}

/// dw = col^T dy (the first K rows of the [K4, F] product). The caller checked the sizes.
///
/// The product's inner dimension is every output position of the batch (N*OH*OW, 25,088 for
/// 28x28 images at batch 32) while its result is small (K4 x F, 12 x 32 for a 3x3 kernel on
/// one channel): one workgroup of the texture design would run it alone, on one core. So a
/// small grid is split along the inner dimension into S slices run as a batch of S products
/// (slice s takes rows s*R..(s+1)*R of both operands, R = rows / S: batch strides R*K4 and R*F)
/// into an [S, K4, F] scratch, and one reduction sums the slices:
///   dw = sum_s col_s^T dy_s,
/// which is col^T dy with the sum over rows regrouped.
pub(crate) fn backward_weight_gemm(
    dev: &Device,
    x: &GpuBuffer,
    dy: &GpuBuffer,
    dw: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    let (col, _, _) = column_matrix(dev, x, d)?;
    weight_from_columns(dev, &col, dy, dw, d)
}

/// dw = col^T dy from a column matrix already built (`backward_weight_gemm` has the split).
pub(crate) fn weight_from_columns(
    dev: &Device,
    col: &GpuBuffer,
    dy: &GpuBuffer,
    dw: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    let (m, k4) = (rows(d), k4(d));
    let k = d.kh * d.kw * d.c;
    let s = slices(d.f.div_ceil(64) * k4.div_ceil(32), m);
    let mut dims = MatmulDims::new(k4, d.f, m / s, true, false);
    dims.batch = s;
    dims.a_batch_stride = (m / s) * k4;
    dims.b_batch_stride = (m / s) * d.f;
    let o = MatmulOptions::default();
    if s == 1 && k == k4 {
        return matmul(dev, col, dy, dw, &dims, &o);
    }
    let out = dev.alloc((s * k4 * d.f * 4) as u64)?;
    matmul(dev, col, dy, &out, &dims, &o)?;
    let summed = if s == 1 {
        out
    } else {
        let view = AxisView {
            outer: 1,
            len: s,
            inner: k4 * d.f,
        };
        if k == k4 {
            return reduce(dev, ReduceOp::Sum, &out, dw, &view);
        }
        let summed = dev.alloc((k4 * d.f * 4) as u64)?;
        reduce(dev, ReduceOp::Sum, &out, &summed, &view)?;
        summed
    };
    dev.copy(&summed, 0, dw, 0, (k * d.f * 4) as u64)
}

/// dx = col2im(dy w^T). The caller checked the sizes.
pub(crate) fn backward_input_gemm(
    dev: &Device,
    dy: &GpuBuffer,
    w: &GpuBuffer,
    dx: &GpuBuffer,
    d: &Conv2dDims,
) -> Result<()> {
    let (mut p, _) = params("col2im", d)?;
    let (m, k4) = (rows(d), k4(d));
    p.chunk = k4 as u32; // im2col.wgsl reads this slot as K4
    let wp = padded_kernel(dev, w, d)?;
    let dcol = dev.alloc((m * k4 * 4) as u64)?;
    let dims = MatmulDims::new(m, k4, d.f, false, true);
    let o = MatmulOptions::default();
    matmul(dev, dy, wp.as_ref().unwrap_or(w), &dcol, &dims, &o)?;
    let cells = d.n * d.h * d.w * d.c;
    if d.c % 4 == 0 {
        // 4 channels of one pixel per invocation: vec4 loads and stores.
        return dev.dispatch(Kernel::Col2im4, &p, &[&dcol, dx], grid_1d(cells / 4));
    }
    dev.dispatch(Kernel::Col2im, &p, &[&dcol, dx], grid_1d(cells))
}
