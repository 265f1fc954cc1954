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
    let track = XentTrack::default();
    softmax_xent_mean_tracked(dev, logits, targets, grad, loss, rows, cols, track)
}

/// Tracker updates a `softmax_xent_mean_tracked` dispatch makes besides the loss: a training
/// step's loss tracker and accuracy, without a dispatch of their own.
#[derive(Clone, Copy, Debug, Default)]
pub struct XentTrack<'a> {
    /// A Mean tracker's [sum, count] and a weight: acc += [weight * loss, weight] (what
    /// `metrics::accumulate_mean` adds for the one loss value).
    pub loss: Option<(&'a GpuBuffer, f32)>,
    /// An accuracy's hits, as `correct_sparse` (labels) or `correct_dense` (distributions) add
    /// them with `Hits::Accumulate`.
    pub hits: Option<XentHits<'a>>,
}

/// The accuracy a `softmax_xent_mean_tracked` dispatch scores.
#[derive(Clone, Copy, Debug)]
pub struct XentHits<'a> {
    /// What the metric scores, [rows, cols]: the logits, or a softmax head's output.
    pub preds: &'a GpuBuffer,
    /// The metric's running [hits, rows].
    pub acc: &'a GpuBuffer,
    /// A hit is the label among the k highest preds (labels; 1 for distributions: argmax).
    pub k: usize,
}

/// `softmax_xent_mean` that also makes `track`'s updates in the same dispatch, with the same
/// arithmetic as the separate kernels (so a fit's logs do not depend on which ran).
#[allow(clippy::too_many_arguments)]
pub fn softmax_xent_mean_tracked(
    dev: &Device,
    logits: &GpuBuffer,
    targets: Targets<'_>,
    grad: Option<&GpuBuffer>,
    loss: &GpuBuffer,
    rows: usize,
    cols: usize,
    track: XentTrack<'_>,
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
    if let Some(h) = track.hits {
        need(op, "preds", h.preds, rows * cols)?;
        need(op, "hits acc", h.acc, 2)?;
        if h.k == 0 || (h.k != 1 && matches!(targets, Targets::Dense(_))) {
            return Err(launch_err(
                op,
                format!(
                    "scores hits with k >= 1 (1 for distributions), got k = {}",
                    h.k
                ),
            ));
        }
    }
    if let Some((acc, _)) = track.loss {
        need(op, "loss acc", acc, 2)?;
    }
    if let Some(g) = grad {
        need(op, "grad", g, rows * cols)?;
    }
    // A binding the params leave unwritten still needs a writable buffer of its own: a
    // one-texel pooled buffer each, back in the pool after this submit. Unscored preds bind
    // the logits (read-only, never read).
    let mut slots: [Option<GpuBuffer>; 3] = [None, None, None];
    let [s0, s1, s2] = &mut slots;
    let g = or_scratch(dev, grad, s0)?;
    let loss_acc = or_scratch(dev, track.loss.map(|(a, _)| a), s1)?;
    let hits_acc = or_scratch(dev, track.hits.map(|h| h.acc), s2)?;
    let preds = track.hits.map_or(logits, |h| h.preds);
    let bits = u32::from(track.loss.is_some()) | (u32::from(track.hits.is_some()) << 1);
    let weight = track.loss.map_or(0.0, |(_, w)| w);
    let k = track.hits.map_or(1, |h| h.k) as u32;
    // WGSL XentMeanParams: rows, cols, grad, track, weight, k, 2 pads.
    let (r, c, w) = (rows as u32, cols as u32, weight.to_bits());
    let params = [r, c, u32::from(grad.is_some()), bits, w, k, 0, 0];
    let (kernel, t) = match targets {
        Targets::Sparse(t) => (Kernel::SoftmaxXentMeanSparse, t),
        Targets::Dense(t) => (Kernel::SoftmaxXentMeanDense, t),
    };
    let buffers = [logits, t, preds, g, loss, loss_acc, hits_acc];
    dev.dispatch(kernel, &params, &buffers, [1, 1, 1])
}

/// `b`, or a fresh one-texel buffer kept in `slot` for the launch.
fn or_scratch<'a>(
    dev: &Device,
    b: Option<&'a GpuBuffer>,
    slot: &'a mut Option<GpuBuffer>,
) -> Result<&'a GpuBuffer> {
    Ok(match b {
        Some(b) => b,
        None => slot.insert(dev.alloc(16)?),
    })
}

/// The upstream gradient of each row loss in `softmax_xent_backward`.
#[derive(Clone, Copy, Debug)]
pub enum RowGrad<'a> {
    /// One value per row.
    PerRow(&'a GpuBuffer),
    /// The same value for every row (the row losses' mean: 1 / rows).
    Uniform(f32),
}
