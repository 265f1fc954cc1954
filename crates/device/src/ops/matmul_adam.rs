//! Launcher for `matmul_texture_tn_adam` (`shaders/matmul_texture.wgsl`): a Dense layer's
//! kernel gradient dW = x^T dz and its Adam update in one dispatch, so dW is never stored nor
//! read back. On CPU adapters every storage access is a per-lane loop, and the weight gradient's
//! store and the optimizer's reload of it are 2 of the 8 vec4 accesses per 4 weights, besides
//! the gradient buffer's traffic. The caller (the graph's backward pass, for a weight the
//! optimizer hands over) leaves that weight out of the optimizer's own update.
//!
//! The product is `matmul_texture_tn`'s and the update `adam_step4`'s code (`adam.wgsl`), so
//! the weight and moments come out bit for bit as from `matmul` then `adam_step` (a test pins
//! it). Where the device has 64-bit integers and N is a multiple of 8, the launch takes
//! `matmul_texture_tn_adam_wide` (`matmul_texture_wide.wgsl`): the same code, the weight and
//! moments moved as 64-bit words, half the per-lane storage steps on llvmpipe.

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::kernels::Kernel;
use crate::launch::Launch;
use crate::ops::matmul::{MatmulDims, MatmulParams, NARROW_MAX_N, TEXTURE_ROWS, texture_support};
use crate::ops::optim::AdamStep;
use crate::ops::{fits_u32, need};

/// Why the fused update cannot run the weight gradient `d` on `dev`, or `None` when it can:
/// `d` must be x^T dz for one matrix (A transposed, B not, batch 1) with N a multiple of 4 (the
/// update works on vec4s), and the texture design must support it (`texture_support`).
pub fn support(dev: &Device, d: &MatmulDims) -> Option<String> {
    if !d.trans_a || d.trans_b || d.batch != 1 || d.k == 0 {
        return Some(
            "needs a weight gradient x^T dz: A transposed, B not, one product, k > 0".into(),
        );
    }
    if d.n % 4 != 0 {
        return Some(format!("{} columns, not a multiple of 4", d.n));
    }
    texture_support(dev, d)
}

/// Whether the fused update is the design for weight gradient `d` on `dev`: a CPU adapter where
/// it can run (`support`), for a weight that the plain product would give the texture design
/// (more than `NARROW_MAX_N` columns: narrower layers have `dense_backward`). On GPUs the
/// gradient's round trip through memory is cheap next to everything else, and the texture
/// design is not theirs.
///
/// Whatever the weight's size, measured on lavapipe (2026-12-07, 2-core EPYC VM, the product
/// then `adam_step4` against the fused dispatch, alternating in one process, medians of 10):
/// 1024x256 1.17-1.79 against 1.78-2.24 ms, 2048x256 2.65-2.80 against 2.67-3.00 ms, the CNN's
/// 6272x256 Dense(256) kernel 8.7-12.1 against 9.3-12.8 ms. (Up to then it was the rule only
/// to 262,144 values: with the update's loop unrolled, the 1.38M-value kernel had taken 1.08x the
/// two dispatches' time; `matmul_tile.wgsl` says why the loop is now kept rolled.)
pub fn applies(dev: &Device, d: &MatmulDims) -> bool {
    dev.info().is_cpu() && d.n > NARROW_MAX_N && support(dev, d).is_none()
}

/// The entry for weight gradient `d`: the wide one where the device moves storage as 64-bit
/// words (`DeviceInfo::wide_storage`, the predicate the wide flavours follow) and a lane's 8
/// columns (a multiple of 8 from the first) are wholly inside the weight or outside.
pub fn kernel(dev: &Device, d: &MatmulDims) -> Kernel {
    if dev.info().wide_storage() && d.n % 8 == 0 {
        Kernel::MatmulTextureTnAdamWide
    } else {
        Kernel::MatmulTextureTnAdam
    }
}

/// One Adam step `s` of weight `w` [m, n] (with moments `mom` = (m, v), same shape) from the
/// gradient x^T dz, where `d` is that product: x is [k, m] (k rows of a batch), dz [k, n].
/// The weight and moments are updated in place; nothing else is written.
pub fn matmul_adam(
    dev: &Device,
    (x, dz): (&GpuBuffer, &GpuBuffer),
    d: &MatmulDims,
    s: &AdamStep,
    (w, mom): (&GpuBuffer, (&GpuBuffer, &GpuBuffer)),
) -> Result<()> {
    let op = "matmul_adam";
    if let Some(why) = support(dev, d) {
        return Err(launch_err(op, why));
    }
    let (x_words, dz_words, w_words) = (d.k * d.m, d.k * d.n, d.m * d.n);
    fits_u32(op, x_words.max(dz_words).max(w_words))?;
    need(op, "x", x, x_words)?;
    need(op, "dz", dz, dz_words)?;
    for (name, b) in [("w", w), ("m", mom.0), ("v", mom.1)] {
        need(op, name, b, w_words)?;
    }
    if d.m == 0 || d.n == 0 {
        return Ok(());
    }
    let mut p = MatmulParams::new(d, false, 0);
    p.adam = s.scalars();
    let groups = [
        d.n.div_ceil(64) as u32,
        d.m.div_ceil(TEXTURE_ROWS) as u32,
        1,
    ];
    let max = dev.info().max_compute_workgroups_per_dimension;
    if groups.iter().any(|&g| g > max) {
        return Err(launch_err(
            op,
            format!("a {}x{} weight needs more than {max} workgroups", d.m, d.n),
        ));
    }
    let buffers = [x, dz, w, mom.0, mom.1];
    let launch = Launch::new(kernel(dev, d), &p, &buffers, groups);
    dev.launch(&launch.input_words(&[x_words, dz_words]))
}
