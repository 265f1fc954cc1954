//! Launchers for `shaders/metrics.wgsl`: per-row correctness, weighted-mean accumulation and
//! confusion matrices, all on the GPU so metrics are read back only at log points.

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::ops::{fits_u32, need};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CorrectParams {
    rows: u32,
    cols: u32,
    k: u32,
    threshold: f32,
}

/// out[r] = 1.0 when label r is among the `k` highest of preds[r, :], else 0.0.
pub fn correct_sparse(
    dev: &Device,
    preds: &GpuBuffer,
    labels: &GpuBuffer,
    out: &GpuBuffer,
    rows: usize,
    cols: usize,
    k: usize,
) -> Result<()> {
    let op = "correct_sparse";
    need(op, "preds", preds, rows * cols)?;
    need(op, "labels", labels, rows)?;
    need(op, "out", out, rows)?;
    fits_u32(op, rows * cols)?;
    let p = CorrectParams {
        rows: rows as u32,
        cols: cols as u32,
        k: k as u32,
        threshold: 0.0,
    };
    dev.dispatch(
        Kernel::CorrectSparse,
        &p,
        &[preds, labels, out],
        grid_1d(rows),
    )
}

/// out[r] = 1.0 when argmax(preds[r]) == argmax(target[r]).
pub fn correct_dense(
    dev: &Device,
    preds: &GpuBuffer,
    target: &GpuBuffer,
    out: &GpuBuffer,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let op = "correct_dense";
    need(op, "preds", preds, rows * cols)?;
    need(op, "target", target, rows * cols)?;
    need(op, "out", out, rows)?;
    fits_u32(op, rows * cols)?;
    let p = CorrectParams {
        rows: rows as u32,
        cols: cols as u32,
        k: 1,
        threshold: 0.0,
    };
    dev.dispatch(
        Kernel::CorrectDense,
        &p,
        &[preds, target, out],
        grid_1d(rows),
    )
}

/// out[i] = 1.0 when (preds[i] > threshold) == (target[i] > 0.5).
pub fn correct_binary(
    dev: &Device,
    preds: &GpuBuffer,
    target: &GpuBuffer,
    out: &GpuBuffer,
    n: usize,
    threshold: f32,
) -> Result<()> {
    let op = "correct_binary";
    for (name, b) in [("preds", preds), ("target", target), ("out", out)] {
        need(op, name, b, n)?;
    }
    fits_u32(op, n)?;
    let p = CorrectParams {
        rows: n as u32,
        cols: 1,
        k: 1,
        threshold,
    };
    dev.dispatch(Kernel::CorrectBinary, &p, &[preds, target, out], grid_1d(n))
}

/// acc[0] += weight * sum(values[..n]); acc[1] += count.
pub fn accumulate_mean(
    dev: &Device,
    values: &GpuBuffer,
    acc: &GpuBuffer,
    n: usize,
    weight: f32,
    count: f32,
) -> Result<()> {
    need("accumulate_mean", "values", values, n)?;
    need("accumulate_mean", "acc", acc, 2)?;
    fits_u32("accumulate_mean", n)?;
    let p: [u32; 4] = [n as u32, weight.to_bits(), count.to_bits(), 0];
    dev.dispatch(Kernel::AccumulateMean, &p, &[values, acc], [1, 1, 1])
}

/// matrix[label, argmax(preds)] += 1 for every row (u32 [cols, cols] matrix).
pub fn confusion_update(
    dev: &Device,
    preds: &GpuBuffer,
    labels: &GpuBuffer,
    matrix: &GpuBuffer,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let op = "confusion_update";
    if cols == 0 {
        return Err(launch_err(op, "needs at least one class"));
    }
    need(op, "preds", preds, rows * cols)?;
    need(op, "labels", labels, rows)?;
    need(op, "matrix", matrix, cols * cols)?;
    fits_u32(op, rows * cols)?;
    let p = CorrectParams {
        rows: rows as u32,
        cols: cols as u32,
        k: 1,
        threshold: 0.0,
    };
    dev.dispatch(
        Kernel::ConfusionUpdate,
        &p,
        &[preds, labels, matrix],
        [1, 1, 1],
    )
}
