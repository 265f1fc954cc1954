//! Launcher for `shaders/random.wgsl`: dropout with a counter-based hash, so a seed gives the
//! same mask on every adapter and on the host (`reference::dropout_mask`).

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::ops::{fits_u32, need};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DropoutParams {
    n: u32,
    seed: u32,
    rate: f32,
    scale: f32,
}

/// y = x * mask, mask = 0 with probability `rate`, else 1 / (1 - rate) (inverted dropout).
pub fn dropout(
    dev: &Device,
    x: &GpuBuffer,
    y: &GpuBuffer,
    mask: &GpuBuffer,
    n: usize,
    rate: f32,
    seed: u32,
) -> Result<()> {
    if !(0.0..1.0).contains(&rate) {
        return Err(launch_err(
            "dropout",
            format!("rate must be in [0, 1), got {rate}"),
        ));
    }
    for (name, b) in [("x", x), ("y", y), ("mask", mask)] {
        need("dropout", name, b, n)?;
    }
    fits_u32("dropout", n)?;
    let p = DropoutParams {
        n: n as u32,
        seed,
        rate,
        scale: 1.0 / (1.0 - rate),
    };
    dev.dispatch(Kernel::Dropout, &p, &[x, y, mask], grid_1d(n))
}
