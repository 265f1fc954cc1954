//! Launchers for `shaders/softmax.wgsl`: softmax / log_softmax over the last axis and fused
//! softmax-cross-entropy for integer labels (sparse) and target distributions (dense): per row,
//! or as the rows' mean with its gradient in one dispatch (`softmax_xent_mean`).

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::ops::{fits_u32, need};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SoftmaxParams {
    rows: u32,
    cols: u32,
    log: u32,
    _pad: u32,
}

fn params(op: &'static str, rows: usize, cols: usize, log: bool) -> Result<SoftmaxParams> {
    fits_u32(op, rows * cols)?;
    Ok(SoftmaxParams {
        rows: rows as u32,
        cols: cols as u32,
        log: u32::from(log),
        _pad: 0,
    })
}

/// y = softmax(x) (or log_softmax when `log`) row by row over [rows, cols].
pub fn softmax(
    dev: &Device,
    x: &GpuBuffer,
    y: &GpuBuffer,
    rows: usize,
    cols: usize,
    log: bool,
) -> Result<()> {
    let p = params("softmax", rows, cols, log)?;
    need("softmax", "x", x, rows * cols)?;
    need("softmax", "y", y, rows * cols)?;
    dev.dispatch(Kernel::Softmax, &p, &[x, y], grid_1d(rows))
}

/// dx from the forward output y and dy.
pub fn softmax_backward(
    dev: &Device,
    y: &GpuBuffer,
    dy: &GpuBuffer,
    dx: &GpuBuffer,
    rows: usize,
    cols: usize,
    log: bool,
) -> Result<()> {
    let p = params("softmax_backward", rows, cols, log)?;
    for (name, b) in [("y", y), ("dy", dy), ("dx", dx)] {
        need("softmax_backward", name, b, rows * cols)?;
    }
    dev.dispatch(Kernel::SoftmaxBackward, &p, &[y, dy, dx], grid_1d(rows))
}

/// What the cross-entropy compares the logits with.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    /// One u32 class index per row.
    Sparse(&'a GpuBuffer),
    /// One probability distribution (f32, [rows, cols]) per row.
    Dense(&'a GpuBuffer),
}

impl Targets<'_> {
    fn check(&self, op: &'static str, rows: usize, cols: usize) -> Result<()> {
        match self {
            Targets::Sparse(l) => need(op, "labels", l, rows),
            Targets::Dense(t) => need(op, "target", t, rows * cols),
        }
    }
}

/// Per-row loss = -sum t log softmax(logits); also writes the softmax probabilities, which the
/// backward pass reuses.
pub fn softmax_xent(
    dev: &Device,
    logits: &GpuBuffer,
    targets: Targets<'_>,
    probs: &GpuBuffer,
    loss: &GpuBuffer,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let op = "softmax_xent";
    let p = params(op, rows, cols, false)?;
    need(op, "logits", logits, rows * cols)?;
    need(op, "probs", probs, rows * cols)?;
    need(op, "loss", loss, rows)?;
    targets.check(op, rows, cols)?;
    let (kernel, t) = match targets {
        Targets::Sparse(t) => (Kernel::SoftmaxXentSparse, t),
        Targets::Dense(t) => (Kernel::SoftmaxXentDense, t),
    };
    dev.dispatch(kernel, &p, &[logits, t, probs, loss], grid_1d(rows))
}

/// dlogits = (probs * sum(t) - t) * dloss[row] (or * a uniform row gradient).
pub fn softmax_xent_backward(
    dev: &Device,
    probs: &GpuBuffer,
    targets: Targets<'_>,
    dloss: RowGrad<'_>,
    dlogits: &GpuBuffer,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let op = "softmax_xent_backward";
    fits_u32(op, rows * cols)?;
    need(op, "probs", probs, rows * cols)?;
    need(op, "dlogits", dlogits, rows * cols)?;
    targets.check(op, rows, cols)?;
    // WGSL XentBackParams: rows, cols, uniform, scale. A uniform gradient binds probs in
    // dloss's slot: a valid buffer the kernel does not read.
    let (uniform, scale, dloss) = match dloss {
        RowGrad::PerRow(g) => {
            need(op, "dloss", g, rows)?;
            (0, 0.0f32, g)
        }
        RowGrad::Uniform(s) => (1, s, probs),
    };
    let params = [rows as u32, cols as u32, uniform, scale.to_bits()];
    let (kernel, t) = match targets {
        Targets::Sparse(t) => (Kernel::SoftmaxXentSparseBackward, t),
        Targets::Dense(t) => (Kernel::SoftmaxXentDenseBackward, t),
    };
    dev.dispatch(kernel, &params, &[probs, t, dloss, dlogits], grid_1d(rows))
}

/// The most logits `softmax_xent_mean` takes: it runs as one workgroup, which on a GPU costs
/// more than the three-dispatch path (`softmax_xent`, a mean, `softmax_xent_backward`) for
/// larger inputs.
pub const XENT_MEAN_MAX_VALUES: usize = 1 << 16;

/// loss[0] = mean over rows of -sum t log softmax(logits), in one workgroup; with `grad`, also
/// grad = d loss[0] / d logits = (softmax * sum(t) - t) / rows. Needs 1 <= rows and
/// rows * cols <= `XENT_MEAN_MAX_VALUES`.
pub fn softmax_xent_mean(
    dev: &Device,
    logits: &GpuBuffer,
    targets: Targets<'_>,
    grad: Option<&GpuBuffer>,
    loss: &GpuBuffer,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let op = "softmax_xent_mean";
    if rows == 0 || rows * cols > XENT_MEAN_MAX_VALUES {
        return Err(launch_err(
            op,
            format!(
                "takes 1 to {XENT_MEAN_MAX_VALUES} logits in at least one row, got {rows} rows \
                 of {cols}; use softmax_xent and a mean"
            ),
        ));
    }
    need(op, "logits", logits, rows * cols)?;
    need(op, "loss", loss, 1)?;
    targets.check(op, rows, cols)?;
    // Without a gradient the kernel does not write binding 3, which still needs a writable
    // buffer of its own: a one-texel pooled buffer, back in the pool after this submit.
    let scratch;
    let g = match grad {
        Some(g) => {
            need(op, "grad", g, rows * cols)?;
            g
        }
        None => {
            scratch = dev.alloc(16)?;
            &scratch
        }
    };
    let params = [rows as u32, cols as u32, u32::from(grad.is_some()), 0];
    let (kernel, t) = match targets {
        Targets::Sparse(t) => (Kernel::SoftmaxXentMeanSparse, t),
        Targets::Dense(t) => (Kernel::SoftmaxXentMeanDense, t),
    };
    dev.dispatch(kernel, &params, &[logits, t, g, loss], [1, 1, 1])
}

/// The upstream gradient of each row loss in `softmax_xent_backward`.
#[derive(Clone, Copy, Debug)]
pub enum RowGrad<'a> {
    /// One value per row.
    PerRow(&'a GpuBuffer),
    /// The same value for every row (the row losses' mean: 1 / rows).
    Uniform(f32),
}
