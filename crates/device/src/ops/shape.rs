//! Launcher for `shaders/shape.wgsl`: the strided copy behind permute, slice and concat.

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::ops::{MAX_RANK, fits_u32, need, pack8};

/// One side of a strided copy: where element (c_0, .., c_r) lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StridedView {
    /// Element offset of coordinate 0.
    pub offset: usize,
    /// Element stride per dim.
    pub strides: Vec<usize>,
}

impl StridedView {
    fn last(&self, shape: &[usize]) -> usize {
        self.offset
            + shape
                .iter()
                .zip(&self.strides)
                .map(|(&d, &s)| (d.max(1) - 1) * s)
                .sum::<usize>()
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CopyParams {
    n: u32,
    rank: u32,
    src_offset: u32,
    dst_offset: u32,
    shape: [[u32; 4]; 2],
    src_strides: [[u32; 4]; 2],
    dst_strides: [[u32; 4]; 2],
}

/// For every coordinate c in `shape`: dst[dst_view(c)] = src[src_view(c)].
pub fn strided_copy(
    dev: &Device,
    src: &GpuBuffer,
    src_view: &StridedView,
    dst: &GpuBuffer,
    dst_view: &StridedView,
    shape: &[usize],
) -> Result<()> {
    let op = "strided_copy";
    if shape.len() > MAX_RANK
        || src_view.strides.len() != shape.len()
        || dst_view.strides.len() != shape.len()
    {
        return Err(launch_err(
            op,
            format!(
                "shape {shape:?} and strides {:?} / {:?} disagree (max rank {MAX_RANK})",
                src_view.strides, dst_view.strides
            ),
        ));
    }
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(());
    }
    need(op, "src", src, src_view.last(shape) + 1)?;
    need(op, "dst", dst, dst_view.last(shape) + 1)?;
    fits_u32(op, src.words().max(dst.words()))?;
    let p = CopyParams {
        n: n as u32,
        rank: shape.len() as u32,
        src_offset: src_view.offset as u32,
        dst_offset: dst_view.offset as u32,
        shape: pack8(shape, 1),
        src_strides: pack8(&src_view.strides, 0),
        dst_strides: pack8(&dst_view.strides, 0),
    };
    dev.dispatch(Kernel::StridedCopy, &p, &[src, dst], grid_1d(n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<super::CopyParams>(), 112);
    }
}
