//! Launcher for `shaders/dense_backward.wgsl`: a narrow Dense layer's input, kernel and bias
//! gradients (and its activation's) in one dispatch, instead of the activation and bias pass,
//! the x^T dz product and the dz w^T product. The shader has the derivation. It is the rule on
//! CPU adapters with subgroups for layers of at most `MAX_N` units (a classifier head), where
//! each of those dispatches costs more in fixed hand-off than in arithmetic; `support` says
//! when it can run. `dense_backward_adam` is the same dispatch taking the layer's Adam step in
//! place of storing its weight gradients.

use crate::activation::Activation;
use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::kernels::Kernel;
use crate::launch::Launch;
use crate::ops::optim::{AdamScalars, AdamStep};
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
    adam: u32,
    w_at: u32,
    b_at: u32,
    bp_at: u32,
    _pad: [u32; 2],
    step: AdamScalars,
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
    check(dev, (x, w, y, g), dx, d)?;
    need(op, "dw", dw, d.k * d.n)?;
    need(op, "db", db, d.n)?;
    // Without a layer to fold in, binding 8 is never written: a small pooled stand-in.
    let scratch;
    let (prev_act, db_prev) = match prev {
        Some((a, b)) => {
            need(op, "db_prev", b, d.k)?;
            (Some(a), b)
        }
        None => {
            scratch = dev.alloc(16)?;
            (None, &scratch)
        }
    };
    let p = params(op, act, prev_act, d)?;
    launch(dev, &p, (x, w, y, g), [dw, db, dx, db_prev], d)
}

/// The weights a layer's in-place Adam step updates, with their moments: each a (weight, m, v)
/// triple of views of three packs with one layout (`Device::pack`): the layer's kernel, its
/// bias, and the folded layer's bias.
pub struct DenseAdam<'a> {
    /// The step.
    pub step: &'a AdamStep,
    /// The kernel w [k, n].
    pub w: [&'a GpuBuffer; 3],
    /// The bias [n].
    pub b: [&'a GpuBuffer; 3],
    /// The folded layer's bias [k] (with `prev`).
    pub b_prev: Option<[&'a GpuBuffer; 3]>,
}

/// `dense_backward` with Adam applied in place (the shader's in-place mode) to w, b and, with
/// `prev_act`, the folded layer's bias, instead of storing their gradients; dx as before. Ok(false)
/// and nothing recorded when the weights, m and v are not each views of one pack with one
/// layout (`GpuBuffer::covering`); the caller then stores the gradients.
pub fn dense_backward_adam(
    dev: &Device,
    act: Activation,
    (x, w, y, g): (&GpuBuffer, &GpuBuffer, &GpuBuffer, &GpuBuffer),
    dx: &GpuBuffer,
    prev_act: Option<Activation>,
    a: &DenseAdam<'_>,
    d: &DenseDims,
) -> Result<bool> {
    let op = "dense_backward";
    check(dev, (x, w, y, g), dx, d)?;
    if prev_act.is_some() != a.b_prev.is_some() {
        return Err(launch_err(
            op,
            "a folded layer needs its bias's Adam state, and only then",
        ));
    }
    let sizes = [(a.w, d.k * d.n), (a.b, d.n)];
    for (t, words) in sizes.into_iter().chain(a.b_prev.map(|t| (t, d.k))) {
        for (name, b) in ["weight", "m", "v"].into_iter().zip(t) {
            need(op, name, b, words)?;
        }
    }
    // One view per pack, covering the layer's parts; the three packs must agree on offsets.
    let cover = |j: usize| {
        let parts: Vec<&GpuBuffer> = [a.w[j], a.b[j]]
            .into_iter()
            .chain(a.b_prev.map(|t| t[j]))
            .collect();
        GpuBuffer::covering(&parts)
    };
    let (Some((p, at)), Some((m, at_m)), Some((v, at_v))) = (cover(0), cover(1), cover(2)) else {
        return Ok(false);
    };
    if at != at_m || at != at_v {
        return Ok(false);
    }
    let mut params = params(op, act, prev_act, d)?;
    params.adam = 1;
    params.step = a.step.scalars();
    let word = |i: usize| at.get(i).copied().unwrap_or(0) as u32;
    (params.w_at, params.b_at, params.bp_at) = (word(0), word(1), word(2));
    fits_u32(op, p.words())?;
    launch(dev, &params, (x, w, y, g), [&p, &m, dx, &v], d)?;
    Ok(true)
}

/// The checks both modes share: the design's support, the inputs' and dx's sizes.
fn check(
    dev: &Device,
    (x, w, y, g): (&GpuBuffer, &GpuBuffer, &GpuBuffer, &GpuBuffer),
    dx: &GpuBuffer,
    d: &DenseDims,
) -> Result<()> {
    let op = "dense_backward";
    if let Some(why) = support(dev, d) {
        return Err(launch_err(op, why));
    }
    let (rows_k, rows_n) = (d.rows * d.k, d.rows * d.n);
    fits_u32(op, rows_k.max(rows_n).max(d.k * d.n))?;
    for (name, b, words) in [
        ("x", x, rows_k),
        ("w", w, d.k * d.n),
        ("y", y, rows_n),
        ("g", g, rows_n),
        ("dx", dx, rows_k),
    ] {
        need(op, name, b, words)?;
    }
    Ok(())
}

/// The params of a plain launch (no in-place mode).
fn params(
    op: &'static str,
    act: Activation,
    prev_act: Option<Activation>,
    d: &DenseDims,
) -> Result<DenseBackwardParams> {
    Ok(DenseBackwardParams {
        rows: d.rows as u32,
        k: d.k as u32,
        n: d.n as u32,
        act: epilogue_code(op, act)?,
        prev_act: prev_act
            .map(|a| epilogue_code(op, a))
            .transpose()?
            .unwrap_or(0),
        fold: u32::from(prev_act.is_some()),
        adam: 0,
        w_at: 0,
        b_at: 0,
        bp_at: 0,
        _pad: [0; 2],
        step: AdamScalars::default(),
    })
}

fn launch(
    dev: &Device,
    p: &DenseBackwardParams,
    inputs: (&GpuBuffer, &GpuBuffer, &GpuBuffer, &GpuBuffer),
    outputs: [&GpuBuffer; 4],
    d: &DenseDims,
) -> Result<()> {
    let groups = [(d.k + 1).div_ceil(WORKGROUP) as u32, 1, 1];
    let (x, w, y, g) = inputs;
    let buffers = [x, w, y, g, outputs[0], outputs[1], outputs[2], outputs[3]];
    let (rows_k, rows_n) = (d.rows * d.k, d.rows * d.n);
    let launch = Launch::new(Kernel::DenseBackward, p, &buffers, groups);
    dev.launch(&launch.input_words(&[rows_k, d.k * d.n, rows_n, rows_n]))
}
