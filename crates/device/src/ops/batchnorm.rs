//! Launchers for `shaders/batchnorm.wgsl`: batch normalization of an [rows, channels] view in
//! training mode — the batch statistics (mean, 1/sqrt(var + eps), var per channel), the
//! normalization, and the gradient (per-channel sums, then dx). Two passes forward and two
//! backward, where the same math written with elementwise ops and reductions takes about a
//! dozen each way; and the moving statistics' update, one dispatch each (it was two slices,
//! three elementwise ops and a copy).

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::Result;
use crate::grid::{grid_1d, groups_2d};
use crate::kernels::Kernel;
use crate::ops::{fits_u32, need};

/// The rows and channels of the normalized view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BnDims {
    /// Rows (N*H*W for NHWC images).
    pub rows: usize,
    /// Channels (the normalized axis is the last).
    pub channels: usize,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BnParams {
    rows: u32,
    channels: u32,
    eps: f32,
    inv_rows: f32,
}

fn params(op: &'static str, d: &BnDims, eps: f32) -> Result<BnParams> {
    fits_u32(op, d.rows.saturating_mul(d.channels))?;
    Ok(BnParams {
        rows: d.rows as u32,
        channels: d.channels as u32,
        eps,
        inv_rows: 1.0 / d.rows.max(1) as f32,
    })
}

/// stats = [mean; 1/sqrt(var + eps); var] of each channel of `x` (3 * channels values).
pub fn bn_stats(
    dev: &Device,
    x: &GpuBuffer,
    stats: &GpuBuffer,
    d: &BnDims,
    eps: f32,
) -> Result<()> {
    let p = params("bn_stats", d, eps)?;
    need("bn_stats", "x", x, d.rows * d.channels)?;
    need("bn_stats", "stats", stats, 3 * d.channels)?;
    dev.dispatch(Kernel::BnStats, &p, &[x, stats], groups_2d(d.channels))
}

/// y = (x - mean) * inv * gamma + beta, with `stats` from `bn_stats`.
pub fn bn_normalize(
    dev: &Device,
    x: &GpuBuffer,
    stats: &GpuBuffer,
    (gamma, beta): (&GpuBuffer, &GpuBuffer),
    y: &GpuBuffer,
    d: &BnDims,
) -> Result<()> {
    let p = params("bn_normalize", d, 0.0)?;
    let n = d.rows * d.channels;
    for (name, b, words) in [
        ("x", x, n),
        ("stats", stats, 3 * d.channels),
        ("gamma", gamma, d.channels),
        ("beta", beta, d.channels),
        ("y", y, n),
    ] {
        need("bn_normalize", name, b, words)?;
    }
    dev.dispatch(
        Kernel::BnNormalize,
        &p,
        &[x, stats, gamma, beta, y],
        grid_1d(n),
    )
}

/// The gradient of `bn_normalize` from dy: `sums` = [dbeta; dgamma] (2 * channels values) and,
/// when asked, dx.
pub fn bn_backward(
    dev: &Device,
    (x, dy): (&GpuBuffer, &GpuBuffer),
    (stats, gamma): (&GpuBuffer, &GpuBuffer),
    sums: &GpuBuffer,
    dx: Option<&GpuBuffer>,
    d: &BnDims,
) -> Result<()> {
    let op = "bn_backward";
    let p = params(op, d, 0.0)?;
    let n = d.rows * d.channels;
    for (name, b, words) in [
        ("x", x, n),
        ("dy", dy, n),
        ("stats", stats, 3 * d.channels),
        ("gamma", gamma, d.channels),
        ("sums", sums, 2 * d.channels),
    ] {
        need(op, name, b, words)?;
    }
    let groups = groups_2d(d.channels);
    dev.dispatch(Kernel::BnBackwardReduce, &p, &[x, dy, stats, sums], groups)?;
    let Some(dx) = dx else { return Ok(()) };
    need(op, "dx", dx, n)?;
    let buffers = [x, dy, stats, gamma, sums, dx];
    dev.dispatch(Kernel::BnBackwardDx, &p, &buffers, grid_1d(n))
}

/// Which of `bn_stats`'s statistics a moving average follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BnStat {
    /// The batch mean (row 0 of the stats).
    Mean,
    /// The biased batch variance (row 2).
    Variance,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MovingParams {
    channels: u32,
    row: u32,
    momentum: f32,
    keep: f32,
}

/// Keras's moving statistic, in place: moving = moving * momentum + batch * (1 - momentum),
/// `batch` being `stat` of the `stats` that `bn_stats` wrote; one dispatch, in command order
/// (a forward recorded before it read the old values). Values below the smallest normal f32
/// become 0.
pub fn bn_moving_update(
    dev: &Device,
    stats: &GpuBuffer,
    moving: &GpuBuffer,
    stat: BnStat,
    momentum: f32,
    channels: usize,
) -> Result<()> {
    let op = "bn_moving_update";
    fits_u32(op, channels)?;
    need(op, "stats", stats, 3 * channels)?;
    need(op, "moving", moving, channels)?;
    let p = MovingParams {
        channels: channels as u32,
        row: match stat {
            BnStat::Mean => 0,
            BnStat::Variance => 2,
        },
        momentum,
        // As Keras (and kiln's elementwise form before this kernel): 1 - momentum in f32.
        keep: 1.0 - momentum,
    };
    dev.dispatch(
        Kernel::BnMovingUpdate,
        &p,
        &[stats, moving],
        grid_1d(channels),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<super::BnParams>(), 16);
        assert_eq!(std::mem::size_of::<super::MovingParams>(), 16);
    }
}
