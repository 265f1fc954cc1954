//! Launchers for `shaders/optim.wgsl`: in-place SGD (momentum, Nesterov), Adam/AdamW and RMSprop
//! updates with Keras 3's formulas. Step-dependent scalars are computed here on the host.

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::launch::{InputPath, Launch};
use crate::ops::{fits_u32, need};

/// SGD hyper-parameters for one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdStep {
    /// Learning rate.
    pub lr: f32,
    /// Momentum (0 = plain SGD; the velocity buffer is then untouched).
    pub momentum: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// Decoupled weight decay.
    pub weight_decay: f32,
}

/// Adam hyper-parameters for step `t` (1-based).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// Learning rate.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator epsilon (Keras "epsilon hat").
    pub eps: f32,
    /// Decoupled weight decay (AdamW).
    pub weight_decay: f32,
    /// 1-based step count, for bias correction.
    pub t: u64,
}

/// RMSprop hyper-parameters for one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmspropStep {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the squared-gradient average.
    pub rho: f32,
    /// Momentum (0 = none).
    pub momentum: f32,
    /// Epsilon added inside the square root.
    pub eps: f32,
    /// Centered variant (subtracts the squared mean gradient).
    pub centered: bool,
    /// Decoupled weight decay.
    pub weight_decay: f32,
}

/// WGSL `AdamScalars` (adam.wgsl): one step's hyper-parameters as the kernels read them.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct AdamScalars {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    lr_t: f32,
    weight_decay: f32,
    _pad: [u32; 2],
}

impl AdamStep {
    /// The kernels' form of this step, with the bias correction
    /// lr_t = lr sqrt(1 - b2^t) / (1 - b1^t) computed here in f64.
    pub(crate) fn scalars(&self) -> AdamScalars {
        let t = self.t.max(1) as f64;
        let (b1, b2) = (self.beta1 as f64, self.beta2 as f64);
        let lr_t = self.lr as f64 * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
        AdamScalars {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            lr_t: lr_t as f32,
            weight_decay: self.weight_decay,
            _pad: [0; 2],
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params8 {
    n: u32,
    f: [f32; 6],
    u: u32,
}

fn check(op: &'static str, n: usize, bufs: &[(&str, &GpuBuffer)]) -> Result<()> {
    for (name, b) in bufs {
        need(op, name, b, n)?;
    }
    fits_u32(op, n)
}

/// p -= update(g); `velocity` is read and written only with momentum.
pub fn sgd_step(
    dev: &Device,
    s: &SgdStep,
    g: &GpuBuffer,
    p: &GpuBuffer,
    velocity: &GpuBuffer,
    n: usize,
) -> Result<()> {
    check("sgd_step", n, &[("g", g), ("p", p), ("velocity", velocity)])?;
    // WGSL SgdParams: n, lr, momentum, nesterov (u32), weight_decay, pad x3.
    let mut w = [0u32; 8];
    w[0] = n as u32;
    w[1] = s.lr.to_bits();
    w[2] = s.momentum.to_bits();
    w[3] = u32::from(s.nesterov);
    w[4] = s.weight_decay.to_bits();
    dev.dispatch(Kernel::SgdStep, &w, &[g, p, velocity], grid_1d(n))
}

/// Keras Adam / AdamW step with bias correction lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), reading
/// its inputs as `via` says.
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    dev: &Device,
    s: &AdamStep,
    g: &GpuBuffer,
    p: &GpuBuffer,
    m: &GpuBuffer,
    v: &GpuBuffer,
    n: usize,
    via: AdamVia,
) -> Result<()> {
    check("adam_step", n, &[("g", g), ("p", p), ("m", m), ("v", v)])?;
    let a = s.scalars();
    let params = Params8 {
        n: n as u32,
        f: [a.lr, a.beta1, a.beta2, a.eps, a.lr_t, a.weight_decay],
        u: 0,
    };
    // An explicit `Buffers` reads storage buffers; `Auto` resolving to it follows the policy.
    let path = match via {
        AdamVia::Auto => InputPath::Auto,
        _ => InputPath::Buffers,
    };
    let via = match via {
        AdamVia::Auto if n > 0 && dev.fits_staging(n) => {
            let candidates = [
                (AdamVia::Textures, "textures"),
                (AdamVia::Buffers4, "buffers4"),
                (AdamVia::Buffers, "buffers"),
            ];
            // On CPU adapters the vec4 kernel: 4 loads and 3 stores per 4 elements, no staging
            // copies (train_step bench, 2026-12-02, lavapipe, 3 runs: 8.3-8.5 ms against the
            // texture flavour's 9.7-11.5 ms over 1.6M weights, 0.67-1.16 against 1.08-1.54 ms
            // over the MLP's 101,770; scalar buffers 1.9-2.5 and 18.7-21.5 ms).
            let rule = if dev.info().is_cpu() {
                AdamVia::Buffers4
            } else {
                AdamVia::Buffers
            };
            // The step updates p, m and v in place: measured candidates run on scratch copies,
            // made only if this size class is measured now (not when the choice is known).
            let mut scratch: Vec<GpuBuffer> = Vec::new();
            let key = || format!("adam_step n{}", n.next_power_of_two());
            dev.choose(key, &candidates, rule, |via| {
                if scratch.is_empty() {
                    for b in [p, m, v] {
                        let copy = dev.alloc(b.bytes())?;
                        dev.copy(b, 0, &copy, 0, (n * 4) as u64)?;
                        scratch.push(copy);
                    }
                }
                let [sp, sm, sv] = [&scratch[0], &scratch[1], &scratch[2]];
                adam_step(dev, s, g, sp, sm, sv, n, via)
            })?
        }
        AdamVia::Auto => AdamVia::Buffers,
        via => via,
    };
    // The vec4 kernel's last vec4 may pass n: every binding must hold ceil(n / 4) of them.
    let vec4s = n.div_ceil(4);
    let whole_vec4s = [g, p, m, v]
        .iter()
        .all(|b| b.bound_bytes() >= 16 * vec4s as u64);
    if via == AdamVia::Buffers4 && whole_vec4s {
        let buffers = [g, p, m, v];
        return dev.launch(&Launch::new(
            Kernel::AdamStep4,
            &params,
            &buffers,
            grid_1d(vec4s),
        ));
    }
    if matches!(via, AdamVia::Buffers | AdamVia::Buffers4) {
        return dev
            .launch(&Launch::new(Kernel::AdamStep, &params, &[g, p, m, v], grid_1d(n)).path(path));
    }
    if !dev.fits_staging(n) {
        return Err(launch_err(
            "adam_step",
            format!("{n} parameters exceed the adapter's texture height"),
        ));
    }
    if n == 0 {
        return Ok(());
    }
    // The copies are recorded before the dispatch, so they capture p, m, v before the update.
    let buffers = [g, p, m, v, p, m, v];
    let groups = grid_1d(n.div_ceil(4));
    let words = [n; 4];
    dev.launch(&Launch::new(Kernel::AdamStepTexture, &params, &buffers, groups).input_words(&words))
}

/// Where `adam_step` reads its inputs from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AdamVia {
    /// The chooser's: the vec4 kernel on CPU adapters (where each storage access is a per-lane
    /// loop), buffers elsewhere, unless the device measures (`Device::autotunes`).
    #[default]
    Auto,
    /// `adam_step` on storage buffers.
    Buffers,
    /// `adam_step4` on storage buffers, 4 elements per invocation (`adam_step` when a buffer
    /// is not padded to a whole vec4).
    Buffers4,
    /// `adam_step_texture`: g, p, m, v copied into staging textures first.
    Textures,
}

/// Keras RMSprop step; `momentum_buf` and `average_gradient` are touched only when used.
pub fn rmsprop_step(
    dev: &Device,
    s: &RmspropStep,
    g: &GpuBuffer,
    p: &GpuBuffer,
    velocity: &GpuBuffer,
    momentum_buf: &GpuBuffer,
    average_gradient: &GpuBuffer,
    n: usize,
) -> Result<()> {
    check(
        "rmsprop_step",
        n,
        &[
            ("g", g),
            ("p", p),
            ("velocity", velocity),
            ("momentum", momentum_buf),
            ("average_gradient", average_gradient),
        ],
    )?;
    // WGSL RmspropParams: n, lr, rho, momentum, eps, centered (u32), weight_decay, pad.
    let mut w = [0u32; 8];
    w[0] = n as u32;
    w[1] = s.lr.to_bits();
    w[2] = s.rho.to_bits();
    w[3] = s.momentum.to_bits();
    w[4] = s.eps.to_bits();
    w[5] = u32::from(s.centered);
    w[6] = s.weight_decay.to_bits();
    dev.dispatch(
        Kernel::RmspropStep,
        &w,
        &[g, p, velocity, momentum_buf, average_gradient],
        grid_1d(n),
    )
}
