//! Launchers for `shaders/pool2d.wgsl`: max and average pooling (NHWC) and their backward.
//! Global average pooling is a mean over the H*W axis (`reduce`).

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::launch::Launch;
use crate::ops::window::{Padding, output_hw};
use crate::ops::{fits_u32, need};
use crate::overrides::Overrides;

/// Geometry of a pooling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dDims {
    /// Batch.
    pub n: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// Window height.
    pub ph: usize,
    /// Window width.
    pub pw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Padding mode.
    pub padding: Padding,
}

impl Pool2dDims {
    /// (out height, out width, pad top, pad left), or `None` when the window does not fit.
    pub fn output(&self) -> Option<(usize, usize, usize, usize)> {
        output_hw(
            (self.h, self.w),
            (self.ph, self.pw),
            (self.sh, self.sw),
            self.padding,
        )
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PoolParams {
    n: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    ph: u32,
    pw: u32,
    sh: u32,
    sw: u32,
    pt: u32,
    pl: u32,
}

fn params(op: &'static str, d: &Pool2dDims) -> Result<(PoolParams, usize, usize)> {
    let (oh, ow, pt, pl) = d.output().ok_or_else(|| {
        launch_err(
            op,
            format!(
                "a {}x{} window with stride {}x{} does not fit a {}x{} input",
                d.ph, d.pw, d.sh, d.sw, d.h, d.w
            ),
        )
    })?;
    let input = d.n * d.h * d.w * d.c;
    fits_u32(op, input.max(d.n * oh * ow * d.c))?;
    let u = |x: usize| x as u32;
    let p = PoolParams {
        n: u(d.n),
        h: u(d.h),
        w: u(d.w),
        c: u(d.c),
        oh: u(oh),
        ow: u(ow),
        ph: u(d.ph),
        pw: u(d.pw),
        sh: u(d.sh),
        sw: u(d.sw),
        pt: u(pt),
        pl: u(pl),
    };
    Ok((p, input, d.n * oh * ow * d.c))
}

/// y = max over each window; `argmax` (u32) records the flat input index of each maximum.
pub fn max_pool2d(
    dev: &Device,
    x: &GpuBuffer,
    y: &GpuBuffer,
    argmax: &GpuBuffer,
    d: &Pool2dDims,
) -> Result<()> {
    let (p, input, out) = params("max_pool2d", d)?;
    need("max_pool2d", "x", x, input)?;
    need("max_pool2d", "y", y, out)?;
    need("max_pool2d", "argmax", argmax, out)?;
    // 4 channels per invocation where they divide (see pool2d.wgsl). Every index the kernel
    // divides is below its invocation count (`udiv`, the WGSL prelude).
    let (kernel, invocations) = if d.c % 4 == 0 {
        (Kernel::MaxPool2d4, out / 4)
    } else {
        (Kernel::MaxPool2d, out)
    };
    let buffers = [x, y, argmax];
    let launch = Launch::new(kernel, &p, &buffers, grid_1d(invocations))
        .overrides(Overrides::small_div(invocations));
    dev.launch(&launch)
}

/// dx[i] = sum of dy over the windows whose maximum was input element i (a scatter when the
/// windows do not overlap, a gather otherwise).
pub fn max_pool2d_backward(
    dev: &Device,
    dy: &GpuBuffer,
    argmax: &GpuBuffer,
    dx: &GpuBuffer,
    d: &Pool2dDims,
) -> Result<()> {
    let (p, input, out) = params("max_pool2d_backward", d)?;
    need("max_pool2d_backward", "dy", dy, out)?;
    need("max_pool2d_backward", "argmax", argmax, out)?;
    need("max_pool2d_backward", "dx", dx, input)?;
    if d.sh >= d.ph && d.sw >= d.pw {
        // Windows do not overlap: scatter each window's gradient to its argmax (4 channels
        // per invocation where they divide, see pool2d.wgsl).
        dev.clear(dx)?;
        let (kernel, invocations) = if d.c % 4 == 0 {
            (Kernel::MaxPool2dBackwardScatter4, out / 4)
        } else {
            (Kernel::MaxPool2dBackwardScatter, out)
        };
        return dev.dispatch(kernel, &p, &[dy, argmax, dx], grid_1d(invocations));
    }
    dev.dispatch(
        Kernel::MaxPool2dBackward,
        &p,
        &[dy, argmax, dx],
        grid_1d(input),
    )
}

/// y = mean over each window's real (unpadded) cells.
pub fn avg_pool2d(dev: &Device, x: &GpuBuffer, y: &GpuBuffer, d: &Pool2dDims) -> Result<()> {
    let (p, input, out) = params("avg_pool2d", d)?;
    need("avg_pool2d", "x", x, input)?;
    need("avg_pool2d", "y", y, out)?;
    dev.dispatch(Kernel::AvgPool2d, &p, &[x, y], grid_1d(out))
}

/// dx = sum over covering windows of dy / window cell count.
pub fn avg_pool2d_backward(
    dev: &Device,
    dy: &GpuBuffer,
    dx: &GpuBuffer,
    d: &Pool2dDims,
) -> Result<()> {
    let (p, input, out) = params("avg_pool2d_backward", d)?;
    need("avg_pool2d_backward", "dy", dy, out)?;
    need("avg_pool2d_backward", "dx", dx, input)?;
    dev.dispatch(Kernel::AvgPool2dBackward, &p, &[dy, dx], grid_1d(input))
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<super::PoolParams>(), 48);
    }
}
