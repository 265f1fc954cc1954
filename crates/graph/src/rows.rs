//! `Rows`: a table of equal-shaped rows (a dataset) on the GPU, and batches gathered from it by
//! index (`Tensor::gather_rows`). One storage binding is limited (128 MiB on lavapipe, less
//! than Fashion-MNIST's 188 MB of f32 pixels), and the gather kernel binds at most
//! `GATHER_CHUNKS` buffers, so a table is stored as the fewest chunk tensors that each fit one
//! binding; `rows_per_chunk` says how many rows each holds.

use kiln_device::ops::shape::GATHER_CHUNKS;

use crate::Device;
use crate::error::{Result, shape_err};
use crate::ops::shape::chunks_agree;
use crate::tensor::Tensor;

/// Rows stored on the GPU in up to `GATHER_CHUNKS` chunk tensors.
#[derive(Clone, Debug)]
pub struct Rows {
    chunks: Vec<Tensor>,
    len: usize,
}

impl Rows {
    /// Rows per chunk for `rows` rows of `row_bytes` bytes on `device`: the fewest chunks that
    /// each fit one binding, or `None` when even `GATHER_CHUNKS` chunks do not.
    pub fn rows_per_chunk(device: &Device, rows: usize, row_bytes: u64) -> Option<usize> {
        (1..=GATHER_CHUNKS)
            .map(|k| rows.div_ceil(k).max(1))
            .find(|&per| device.fits_buffer((per as u64).saturating_mul(row_bytes)))
    }

    /// A table from chunks of equal rows (the last may hold fewer), as `rows_per_chunk` sized
    /// them.
    pub fn new(chunks: Vec<Tensor>) -> Result<Rows> {
        let shapes: Vec<&[usize]> = chunks.iter().map(Tensor::shape).collect();
        if !chunks_agree(&chunks) {
            return Err(shape_err(
                "rows",
                format!(
                    "needs 1 to {GATHER_CHUNKS} chunks of one dtype with equal rows (the last may be shorter)"
                ),
                &shapes,
            ));
        }
        let len = chunks.iter().map(|c| c.shape()[0]).sum();
        Ok(Rows { chunks, len })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows `indices[offset..offset + count]` (a u32 tensor uploaded by the caller, each
    /// value below `len()`), in that order, as one [count, ..row] tensor.
    pub fn gather(&self, indices: &Tensor, offset: usize, count: usize) -> Result<Tensor> {
        Tensor::gather_rows(&self.chunks, indices, offset, count)
    }
}
