//! Launcher for `shaders/image.wgsl`: an affine warp of each image of an NHWC batch, one
//! transform per sample, with TensorFlow's fill modes and interpolations. Keras's geometric
//! preprocessing and augmentation layers (resizing, crops, flips, translations, rotations,
//! zooms) are all this one kernel with different transforms.

use crate::buffer::GpuBuffer;
use crate::codes;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::ops::{fits_u32, need};

/// How a coordinate outside the image is mapped (Keras's `fill_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FillMode {
    /// `fill_value` outside.
    Constant,
    /// Mirrored about the edge: d c b a | a b c d | d c b a.
    Reflect,
    /// Tiled: a b c d | a b c d | a b c d.
    Wrap,
    /// The nearest edge pixel.
    Nearest,
}

impl FillMode {
    fn code(self) -> u32 {
        match self {
            FillMode::Constant => codes::FILL_CONSTANT,
            FillMode::Reflect => codes::FILL_REFLECT,
            FillMode::Wrap => codes::FILL_WRAP,
            FillMode::Nearest => codes::FILL_NEAREST,
        }
    }
}

/// How pixels are sampled between centres (Keras's `interpolation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// Four taps, weighted.
    Bilinear,
    /// The nearest tap.
    Nearest,
}

impl Interpolation {
    fn code(self) -> u32 {
        match self {
            Interpolation::Bilinear => codes::INTERP_BILINEAR,
            Interpolation::Nearest => codes::INTERP_NEAREST,
        }
    }
}

/// Shapes of a warp: input [n, h, w, c] to output [n, oh, ow, c].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarpDims {
    /// Images.
    pub n: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

/// How the warp samples: fill mode, the value `Constant` fills with, interpolation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Outside the image.
    pub fill: FillMode,
    /// The constant fill.
    pub fill_value: f32,
    /// Between pixel centres.
    pub interpolation: Interpolation,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct WarpParams {
    total: u32,
    h: u32,
    w: u32,
    c: u32,
    oh: u32,
    ow: u32,
    fill: u32,
    interp: u32,
    fill_value: f32,
    _pad: [u32; 3],
}

/// y[n] = x[n] sampled at transforms[n] applied to each output pixel: `transforms` holds 8
/// values per image, (a0, a1, a2, b0, b1, b2, 0, 0), input X = a0 ox + a1 oy + a2 and
/// Y = b0 ox + b1 oy + b2 in pixel-index coordinates.
pub fn warp_affine(
    dev: &Device,
    x: &GpuBuffer,
    transforms: &GpuBuffer,
    y: &GpuBuffer,
    d: &WarpDims,
    s: Sampling,
) -> Result<()> {
    let op = "warp_affine";
    if [d.n, d.h, d.w, d.c, d.oh, d.ow].contains(&0) {
        return Err(launch_err(
            op,
            format!("every dimension must be positive, got {d:?}"),
        ));
    }
    let total = d.n * d.oh * d.ow * d.c;
    fits_u32(op, total.max(d.n * d.h * d.w * d.c))?;
    need(op, "x", x, d.n * d.h * d.w * d.c)?;
    need(op, "transforms", transforms, d.n * 8)?;
    need(op, "y", y, total)?;
    let p = WarpParams {
        total: total as u32,
        h: d.h as u32,
        w: d.w as u32,
        c: d.c as u32,
        oh: d.oh as u32,
        ow: d.ow as u32,
        fill: s.fill.code(),
        interp: s.interpolation.code(),
        fill_value: s.fill_value,
        _pad: [0; 3],
    };
    dev.dispatch(Kernel::WarpAffine, &p, &[x, transforms, y], grid_1d(total))
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<super::WarpParams>(), 48);
    }
}
