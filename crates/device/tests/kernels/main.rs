//! Every forward kernel against the f64 CPU reference (`kiln_device::reference`) on seeded
//! random data with odd sizes (1, 7, 65, 257) and one launch that needs the 2-D grid fold.
//! Backward kernels are checked against f64 central differences in kiln-graph's gradcheck.
//! One test binary, one module per shader family.

mod bias_grad;
mod conv;
mod conv_gemm;
mod dense_backward;
mod dense_backward_adam;
mod elementwise;
mod image;
mod matmul;
mod matmul_adam;
mod matmul_narrow;
mod matmul_texture;
mod metrics;
mod nn;
mod optim;
mod packed;
mod reduce;
mod staging;
mod wide;
mod xent_mean;

use kiln_device::ops::matmul::{MatmulDims, MatmulOptions, MatmulVariant, matmul};
use kiln_device::testing::{Rng, test_device, to_f32};
use kiln_device::{Device, GpuBuffer};

/// Odd sizes that miss every tile and workgroup boundary.
pub const SIZES: [usize; 4] = [1, 7, 65, 257];

pub fn up(dev: &Device, v: &[f64]) -> GpuBuffer {
    dev.upload(&to_f32(v)).expect("upload")
}

pub fn out(dev: &Device, words: usize) -> GpuBuffer {
    dev.alloc((words * 4) as u64).expect("alloc")
}

pub fn read(dev: &Device, b: &GpuBuffer) -> Vec<f32> {
    dev.read_f32(b).expect("read_back")
}

/// C = op(A) x op(B) with the given design and no epilogue.
pub fn mm(
    dev: &Device,
    variant: MatmulVariant,
    a: &GpuBuffer,
    b: &GpuBuffer,
    c: &GpuBuffer,
    d: &MatmulDims,
) -> kiln_device::Result<()> {
    let o = MatmulOptions {
        variant,
        ..Default::default()
    };
    matmul(dev, a, b, c, d, &o)
}

/// act'(z) from y = act(z), as activation.wgsl's activate_grad.
pub fn act_grad(act: kiln_device::Activation, y: f64) -> f64 {
    use kiln_device::Activation as Act;
    match act {
        Act::Relu => f64::from(u8::from(y > 0.0)),
        Act::Sigmoid => y * (1.0 - y),
        Act::Tanh => 1.0 - y * y,
        _ => 1.0,
    }
}

/// Keras Adam's step t with lr 0.01 and weight decay `wd` (the fused-update tests).
pub fn adam_at(t: u64, weight_decay: f32) -> kiln_device::ops::optim::AdamStep {
    kiln_device::ops::optim::AdamStep {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-7,
        weight_decay,
        t,
    }
}

pub fn setup(seed: u64) -> Option<(Device, Rng)> {
    test_device().map(|d| (d, Rng::new(seed)))
}
