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
    accumulate: u32,
    _pad: [u32; 3],
}

impl CorrectParams {
    fn new(rows: usize, cols: usize, k: usize, threshold: f32) -> Self {
        CorrectParams {
            rows: rows as u32,
            cols: cols as u32,
            k: k as u32,
            threshold,
            accumulate: 0,
            _pad: [0; 3],
        }
    }
}

/// The most predictions (rows x classes, or elements for binary) a `Hits::Accumulate` launch
/// takes: it runs as one workgroup.
pub const ACCUMULATE_MAX_VALUES: usize = 1 << 18;

/// Where a correctness kernel puts its hits.
#[derive(Clone, Copy, Debug)]
pub enum Hits<'a> {
    /// out[r] = 1.0 or 0.0 per row (per element for binary).
    PerRow(&'a GpuBuffer),
    /// A metric's running [sum, count]: acc[0] += hits, acc[1] += rows, in one workgroup (at
    /// most `ACCUMULATE_MAX_VALUES` predictions): the batch's update in one dispatch instead of
    /// the per-row form and `accumulate_mean`.
    Accumulate(&'a GpuBuffer),
}

/// Checks `hits` and launches `kernel` over `rows` rows of `cols` predictions.
fn launch_correct(
    dev: &Device,
    op: &'static str,
    kernel: Kernel,
    mut p: CorrectParams,
    inputs: [&GpuBuffer; 2],
    hits: Hits<'_>,
) -> Result<()> {
    let (rows, values) = (p.rows as usize, p.rows as usize * p.cols as usize);
    let (out, groups) = match hits {
        Hits::PerRow(out) => {
            need(op, "out", out, rows)?;
            (out, grid_1d(rows))
        }
        Hits::Accumulate(acc) => {
            if values > ACCUMULATE_MAX_VALUES {
                return Err(launch_err(
                    op,
                    format!(
                        "accumulates at most {ACCUMULATE_MAX_VALUES} predictions in one \
                         workgroup, got {values}; use the per-row form and accumulate_mean"
                    ),
                ));
            }
            need(op, "acc", acc, 2)?;
            p.accumulate = 1;
            (acc, [1, 1, 1])
        }
    };
    dev.dispatch(kernel, &p, &[inputs[0], inputs[1], out], groups)
}

/// 1.0 for row r when label r is among the `k` highest of preds[r, :], else 0.0.
pub fn correct_sparse(
    dev: &Device,
    preds: &GpuBuffer,
    labels: &GpuBuffer,
    hits: Hits<'_>,
    rows: usize,
    cols: usize,
    k: usize,
) -> Result<()> {
    let op = "correct_sparse";
    need(op, "preds", preds, rows * cols)?;
    need(op, "labels", labels, rows)?;
    fits_u32(op, rows * cols)?;
    let p = CorrectParams::new(rows, cols, k, 0.0);
    launch_correct(dev, op, Kernel::CorrectSparse, p, [preds, labels], hits)
}

/// 1.0 for row r when argmax(preds[r]) == argmax(target[r]).
pub fn correct_dense(
    dev: &Device,
    preds: &GpuBuffer,
    target: &GpuBuffer,
    hits: Hits<'_>,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let op = "correct_dense";
    need(op, "preds", preds, rows * cols)?;
    need(op, "target", target, rows * cols)?;
    fits_u32(op, rows * cols)?;
    let p = CorrectParams::new(rows, cols, 1, 0.0);
    launch_correct(dev, op, Kernel::CorrectDense, p, [preds, target], hits)
}

/// 1.0 for element i when (preds[i] > threshold) == (target[i] > 0.5).
pub fn correct_binary(
    dev: &Device,
    preds: &GpuBuffer,
    target: &GpuBuffer,
    hits: Hits<'_>,
    n: usize,
    threshold: f32,
) -> Result<()> {
    let op = "correct_binary";
    for (name, b) in [("preds", preds), ("target", target)] {
        need(op, name, b, n)?;
    }
    fits_u32(op, n)?;
    let p = CorrectParams::new(n, 1, 1, threshold);
    launch_correct(dev, op, Kernel::CorrectBinary, p, [preds, target], hits)
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
    let p = CorrectParams::new(rows, cols, 1, 0.0);
    dev.dispatch(
        Kernel::ConfusionUpdate,
        &p,
        &[preds, labels, matrix],
        [1, 1, 1],
    )
}
