//! Launcher for `shaders/dense_backward.wgsl`: a narrow Dense layer's input, kernel and bias
//! gradients (and its activation's) in one dispatch, instead of the activation and bias pass,
//! the x^T dz product and the dz w^T product. The shader has the derivation. It is the rule on
//! CPU adapters with subgroups for layers of at most `MAX_N` units (a classifier head), where
//! each of those dispatches costs more in fixed hand-off than in arithmetic; `support` says
//! when it can run.

use crate::activation::Activation;
use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::kernels::Kernel;
use crate::launch::Launch;
use crate::ops::{epilogue_code, exceeds_texture, fits_u32, need, no_subgroups};

/// Widest layer the kernel takes (the sums it keeps per invocation).
pub const MAX_N: usize = 16;

/// Invocations per workgroup (`@workgroup_size` in the shader).
const WORKGROUP: usize = 8;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DenseBackwardParams {
    rows: u32,
    k: u32,
    n: u32,
    act: u32,
    prev_act: u32,
    fold: u32,
    _pad: [u32; 2],
}

/// The layer's shape: `rows` input rows (every leading dimension folded), `k` inputs, `n` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseDims {
    /// Rows of x (batch positions).
    pub rows: usize,
    /// Input features (rows of w).
    pub k: usize,
    /// Units (columns of w).
    pub n: usize,
}

/// Why `dense_backward` cannot run a layer of `d`'s shape on `dev`, or `None` when it can: it
/// needs subgroups of at least 8 invocations (`DeviceInfo::subgroups`), 1 to `MAX_N` units, at
/// least one input, and inputs that fit a staging texture.
pub fn support(dev: &Device, d: &DenseDims) -> Option<String> {
    if let Some(why) = no_subgroups(dev) {
        return Some(why);
    }
    if d.n == 0 || d.n > MAX_N || d.k == 0 {
        return Some(format!(
            "takes 1 to {MAX_N} units and at least 1 input, not {} units and {} inputs",
            d.n, d.k
        ));
    }
    if let Some(why) = exceeds_texture(dev, (d.rows * d.k).max(d.rows * d.n).max(d.k * d.n)) {
        return Some(why);
    }
    let max = dev.info().max_compute_workgroups_per_dimension as usize;
    if (d.k + 1).div_ceil(WORKGROUP) > max {
        return Some(format!(
            "{} inputs need more than the adapter's {max} workgroups",
            d.k
        ));
    }
    None
}

/// Whether `dense_backward` is the design for a layer of `d`'s shape on `dev`: a CPU adapter
/// where it can run (`support`). On a GPU, k + 1 invocations that each walk every row leave it
/// mostly idle, and wide layers have the matmul designs.
pub fn applies(dev: &Device, d: &DenseDims) -> bool {
    dev.info().is_cpu() && support(dev, d).is_none()
}

/// From the layer's input x [rows, k], kernel w [k, n], output y = act(x w + b) and the
/// upstream gradient g [rows, n]: dw = x^T dz [k, n], db = column sums of dz [n] and
/// dx = dz w^T [rows, k], where dz = g act'(y). `act` is one of the epilogue activations (its
/// derivative from y alone); with `Linear`, y is not read and may be g.
///
/// With `prev` = (act_p, db_p), x is the output act_p(z_p) of a Dense layer used by nothing
/// else: dx then receives that layer's dz_p = dx act_p'(z_p) instead, and db_p [k] its bias
/// gradient (the shader has the derivation).
pub fn dense_backward(
    dev: &Device,
    act: Activation,
    (x, w, y, g): (&GpuBuffer, &GpuBuffer, &GpuBuffer, &GpuBuffer),
    (dw, db, dx): (&GpuBuffer, &GpuBuffer, &GpuBuffer),
    prev: Option<(Activation, &GpuBuffer)>,
    d: &DenseDims,
) -> Result<()> {
    let op = "dense_backward";
    if let Some(why) = support(dev, d) {
        return Err(launch_err(op, why));
    }
    let code = epilogue_code(op, act)?;
    let (rows_k, rows_n) = (d.rows * d.k, d.rows * d.n);
    fits_u32(op, rows_k.max(rows_n).max(d.k * d.n))?;
    for (name, b, words) in [
        ("x", x, rows_k),
        ("w", w, d.k * d.n),
        ("y", y, rows_n),
        ("g", g, rows_n),
        ("dw", dw, d.k * d.n),
        ("db", db, d.n),
        ("dx", dx, rows_k),
    ] {
        need(op, name, b, words)?;
    }
    // Without a layer to fold in, binding 8 is never written: a small pooled stand-in.
    let scratch;
    let (prev_act, db_prev) = match prev {
        Some((a, b)) => {
            need(op, "db_prev", b, d.k)?;
            (epilogue_code(op, a)?, b)
        }
        None => {
            scratch = dev.alloc(16)?;
            (0, &scratch)
        }
    };
    let p = DenseBackwardParams {
        rows: d.rows as u32,
        k: d.k as u32,
        n: d.n as u32,
        act: code,
        prev_act,
        fold: u32::from(prev.is_some()),
        _pad: [0; 2],
    };
    let groups = [(d.k + 1).div_ceil(WORKGROUP) as u32, 1, 1];
    let buffers = [x, w, y, g, dw, db, dx, db_prev];
    let launch = Launch::new(Kernel::DenseBackward, &p, &buffers, groups);
    dev.launch(&launch.input_words(&[rows_k, d.k * d.n, rows_n, rows_n]))
}
