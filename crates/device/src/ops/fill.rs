//! Launcher for `shaders/fill.wgsl`: set the first `n` words of a buffer to one value.

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::Result;
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::ops::{fits_u32, need};

/// out[..n] = value.
pub fn fill(dev: &Device, out: &GpuBuffer, n: usize, value: f32) -> Result<()> {
    fill_bits(dev, out, n, value.to_bits())
}

/// out[..n] = bits (any 32-bit pattern: u32 data or f32 bits).
pub fn fill_bits(dev: &Device, out: &GpuBuffer, n: usize, bits: u32) -> Result<()> {
    need("fill", "out", out, n)?;
    fits_u32("fill", n)?;
    dev.dispatch(Kernel::Fill, &[n as u32, bits, 0, 0], &[out], grid_1d(n))
}
