//! Launchers for `shaders/reduce.wgsl`: sum / mean / max / argmax over one axis of a tensor
//! viewed as [outer, len, inner], their backward, and `sum_to_shape` for broadcast gradients.

use crate::buffer::GpuBuffer;
use crate::codes::{REDUCE_MAX, REDUCE_MEAN, REDUCE_SUM};
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::{grid_1d, groups_2d};
use crate::kernels::Kernel;
use crate::ops::{MAX_RANK, contiguous_strides, fits_u32, need, pack8};

/// Reduction kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// Sum.
    Sum,
    /// Arithmetic mean.
    Mean,
    /// Maximum.
    Max,
}

impl ReduceOp {
    /// The WGSL code (`codes::REDUCE_*`).
    pub fn code(self) -> u32 {
        match self {
            ReduceOp::Sum => REDUCE_SUM,
            ReduceOp::Mean => REDUCE_MEAN,
            ReduceOp::Max => REDUCE_MAX,
        }
    }
}

/// A tensor viewed as [outer, len, inner] with the reduced axis in the middle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisView {
    /// Product of the dims before the axis.
    pub outer: usize,
    /// Length of the axis.
    pub len: usize,
    /// Product of the dims after the axis.
    pub inner: usize,
}

impl AxisView {
    /// View of `shape` around `axis`.
    pub fn new(shape: &[usize], axis: usize) -> Self {
        Self {
            outer: shape[..axis].iter().product(),
            len: shape[axis],
            inner: shape[axis + 1..].iter().product(),
        }
    }

    fn outputs(&self) -> usize {
        self.outer * self.inner
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    outer: u32,
    len: u32,
    inner: u32,
    op: u32,
    scale: f32,
    _pad: [u32; 3],
}

fn params(op: &'static str, v: &AxisView, code: u32) -> Result<ReduceParams> {
    fits_u32(op, v.outer * v.len * v.inner)?;
    if v.len == 0 && code != REDUCE_SUM {
        return Err(launch_err(
            op,
            "cannot take a mean or maximum over an empty axis",
        ));
    }
    Ok(ReduceParams {
        outer: v.outer as u32,
        len: v.len as u32,
        inner: v.inner as u32,
        op: code,
        scale: if code == REDUCE_MEAN {
            1.0 / v.len as f32
        } else {
            1.0
        },
        _pad: [0; 3],
    })
}

/// Axes up to this long reduce one output per invocation (`reduce_rows`), longer ones one
/// output per workgroup.
pub const ROWS_MAX_LEN: usize = 256;

/// out[o, i] = op over the axis of x[o, :, i].
pub fn reduce(
    dev: &Device,
    op: ReduceOp,
    x: &GpuBuffer,
    out: &GpuBuffer,
    v: &AxisView,
) -> Result<()> {
    let p = params("reduce", v, op.code())?;
    need("reduce", "x", x, v.outer * v.len * v.inner)?;
    need("reduce", "out", out, v.outputs())?;
    if v.len <= ROWS_MAX_LEN {
        return dev.dispatch(Kernel::ReduceRows, &p, &[x, out], grid_1d(v.outputs()));
    }
    dev.dispatch(Kernel::Reduce, &p, &[x, out], groups_2d(v.outputs()))
}

/// out[o, i] = first index of the maximum along the axis (u32).
pub fn argmax(dev: &Device, x: &GpuBuffer, out: &GpuBuffer, v: &AxisView) -> Result<()> {
    let p = params("argmax", v, REDUCE_MAX)?;
    need("argmax", "x", x, v.outer * v.len * v.inner)?;
    need("argmax", "out", out, v.outputs())?;
    dev.dispatch(Kernel::Argmax, &p, &[x, out], groups_2d(v.outputs()))
}

/// dx from dy for a reduction; `argmax` (u32, from `argmax`) is read only for `Max` (pass any
/// buffer otherwise).
pub fn reduce_backward(
    dev: &Device,
    op: ReduceOp,
    dy: &GpuBuffer,
    argmax: &GpuBuffer,
    dx: &GpuBuffer,
    v: &AxisView,
) -> Result<()> {
    let p = params("reduce_backward", v, op.code())?;
    need("reduce_backward", "dy", dy, v.outputs())?;
    if op == ReduceOp::Max {
        need("reduce_backward", "argmax", argmax, v.outputs())?;
    }
    need("reduce_backward", "dx", dx, v.outer * v.len * v.inner)?;
    dev.dispatch(
        Kernel::ReduceBackward,
        &p,
        &[dy, argmax, dx],
        grid_1d(v.outer * v.len * v.inner),
    )
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SumToShapeParams {
    n: u32,
    rank: u32,
    red_rank: u32,
    red_count: u32,
    shape: [[u32; 4]; 2],
    src_strides: [[u32; 4]; 2],
    red_shape: [[u32; 4]; 2],
    red_strides: [[u32; 4]; 2],
}

/// Sums `src` (contiguous, shape `from`) down to `dst` of shape `to`, where `to` broadcasts to
/// `from` (NumPy rules: `to` is right-aligned, its dims are 1 or equal).
pub fn sum_to_shape(
    dev: &Device,
    src: &GpuBuffer,
    from: &[usize],
    dst: &GpuBuffer,
    to: &[usize],
) -> Result<()> {
    let op = "sum_to_shape";
    if from.len() > MAX_RANK || to.len() > from.len() {
        return Err(launch_err(op, format!("cannot sum {from:?} to {to:?}")));
    }
    let rank = from.len();
    let padded: Vec<usize> = std::iter::repeat_n(1, rank - to.len())
        .chain(to.iter().copied())
        .collect();
    let strides = contiguous_strides(from);
    let (mut red_shape, mut red_strides) = (Vec::new(), Vec::new());
    for d in 0..rank {
        if padded[d] != from[d] {
            if padded[d] != 1 {
                return Err(launch_err(
                    op,
                    format!("{to:?} does not broadcast to {from:?}"),
                ));
            }
            red_shape.push(from[d]);
            red_strides.push(strides[d]);
        }
    }
    let n: usize = padded.iter().product();
    let total: usize = from.iter().product();
    fits_u32(op, total)?;
    need(op, "src", src, total)?;
    need(op, "dst", dst, n)?;
    let p = SumToShapeParams {
        n: n as u32,
        rank: rank as u32,
        red_rank: red_shape.len() as u32,
        red_count: red_shape.iter().product::<usize>() as u32,
        shape: pack8(&padded, 1),
        src_strides: pack8(&strides, 0),
        red_shape: pack8(&red_shape, 1),
        red_strides: pack8(&red_strides, 0),
    };
    dev.dispatch(Kernel::SumToShape, &p, &[src, dst], grid_1d(n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<super::ReduceParams>(), 32);
        assert_eq!(std::mem::size_of::<super::SumToShapeParams>(), 144);
    }
}
