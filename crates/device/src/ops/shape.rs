//! Launchers for `shaders/shape.wgsl`: the strided copy behind permute, slice and concat, and
//! the row gather that makes a batch from a dataset kept on the GPU.

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

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GatherParams {
    rows: u32,
    row_words: u32,
    idx_offset: u32,
    src_rows: u32,
    chunk_rows: u32,
    _pad: [u32; 3],
}

/// Chunk buffers `gather_rows` can read a dataset from (one binding each).
pub const GATHER_CHUNKS: usize = 4;

/// The rows of a dataset of `row_words` 32-bit words per row (any element type), stored in
/// 1..=`GATHER_CHUNKS` buffers of `chunk_rows` rows each (the last may hold fewer; `src_rows`
/// in all), picked by `idx[idx_offset..idx_offset + rows]` and copied in that order into `dst`.
/// Index values are not read on the host: the caller uploads them and keeps them below
/// `src_rows` (a larger one yields a row of zeros).
#[allow(clippy::too_many_arguments)]
pub fn gather_rows(
    dev: &Device,
    chunks: &[&GpuBuffer],
    chunk_rows: usize,
    src_rows: usize,
    idx: &GpuBuffer,
    idx_offset: usize,
    rows: usize,
    row_words: usize,
    dst: &GpuBuffer,
) -> Result<()> {
    let op = "gather_rows";
    if chunks.is_empty()
        || chunks.len() > GATHER_CHUNKS
        || chunk_rows == 0
        || src_rows > chunks.len() * chunk_rows
    {
        return Err(launch_err(
            op,
            format!(
                "{src_rows} rows need 1 to {GATHER_CHUNKS} chunks of {chunk_rows} rows, got {} chunks",
                chunks.len()
            ),
        ));
    }
    if rows == 0 || row_words == 0 {
        return Ok(());
    }
    for (i, c) in chunks.iter().enumerate() {
        let held = chunk_rows.min(src_rows.saturating_sub(i * chunk_rows));
        need(op, "chunk", c, held * row_words)?;
        fits_u32(op, c.words())?;
    }
    need(op, "idx", idx, idx_offset + rows)?;
    need(op, "dst", dst, rows * row_words)?;
    fits_u32(op, idx.words().max(dst.words()))?;
    let max_groups = dev.info().max_compute_workgroups_per_dimension as usize;
    if rows > max_groups || row_words.div_ceil(64) > max_groups {
        return Err(launch_err(
            op,
            format!(
                "{rows} rows of {row_words} words exceed the adapter's {max_groups} workgroups per dimension"
            ),
        ));
    }
    // Rows of whole vec4s move 16 bytes per storage access (see shape.wgsl).
    let (kernel, words) = if row_words % 4 == 0 {
        (Kernel::GatherRows4, row_words / 4)
    } else {
        (Kernel::GatherRows, row_words)
    };
    let p = GatherParams {
        rows: rows as u32,
        row_words: words as u32,
        idx_offset: idx_offset as u32,
        src_rows: src_rows as u32,
        chunk_rows: chunk_rows as u32,
        _pad: [0; 3],
    };
    let c = |i: usize| chunks[i.min(chunks.len() - 1)];
    let groups = [words.div_ceil(64) as u32, rows as u32, 1];
    dev.dispatch(kernel, &p, &[c(0), c(1), c(2), c(3), idx, dst], groups)
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<super::CopyParams>(), 112);
        assert_eq!(std::mem::size_of::<super::GatherParams>(), 32);
    }
}
