//! Launcher for `shaders/bias_grad.wgsl`: a layer's activation gradient dz = g act'(z) and its
//! bias gradient db = column sums of dz in one pass (the shader has the derivation), instead of
//! `unary_backward` then `reduce`.

use crate::activation::Activation;
use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::ops::reduce::{AxisView, ReduceOp, reduce};
use crate::ops::{epilogue_code, fits_u32, need};

/// Rows one invocation walks: a batch of up to this many rows gets its bias gradient from the
/// pass itself; more rows leave `rows / CHUNK` partial sums per column for one `reduce`.
pub const CHUNK: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BiasGradParams {
    rows: u32,
    cols4: u32,
    chunk: u32,
    act: u32,
}

/// Whether `act_bias_backward` runs a [rows, cols] gradient: whole vec4 rows (cols % 4 == 0).
pub fn act_bias_backward_applies(cols: usize) -> bool {
    cols % 4 == 0 && cols > 0
}

/// dz = g act'(z) from the layer's output y (both [rows, cols]) and db[c] = sum over rows of
/// dz[r, c]. `act` is one of the epilogue activations (derivative from y alone); cols must be a
/// multiple of 4 (`act_bias_backward_applies`).
pub fn act_bias_backward(
    dev: &Device,
    act: Activation,
    (y, g): (&GpuBuffer, &GpuBuffer),
    (dz, db): (&GpuBuffer, &GpuBuffer),
    rows: usize,
    cols: usize,
) -> Result<()> {
    let op = "act_bias_backward";
    if !act_bias_backward_applies(cols) {
        return Err(launch_err(
            op,
            format!("needs a positive multiple of 4 columns, not {cols}"),
        ));
    }
    let code = epilogue_code(op, act)?;
    for (name, b) in [("y", y), ("g", g), ("dz", dz)] {
        need(op, name, b, rows * cols)?;
    }
    need(op, "db", db, cols)?;
    fits_u32(op, rows * cols)?;
    if rows == 0 {
        return dev.clear(db);
    }
    let chunks = rows.div_ceil(CHUNK);
    let p = BiasGradParams {
        rows: rows as u32,
        cols4: (cols / 4) as u32,
        chunk: CHUNK as u32,
        act: code,
    };
    let groups = grid_1d(chunks * cols / 4);
    if chunks == 1 {
        return dev.dispatch(Kernel::ActBiasBackward4, &p, &[y, g, dz, db], groups);
    }
    // More rows than one chunk: the pass leaves [chunks, cols] partial sums.
    let partial = dev.alloc((chunks * cols * 4) as u64)?;
    dev.dispatch(Kernel::ActBiasBackward4, &p, &[y, g, dz, &partial], groups)?;
    let v = AxisView {
        outer: 1,
        len: chunks,
        inner: cols,
    };
    reduce(dev, ReduceOp::Sum, &partial, db, &v)
}
