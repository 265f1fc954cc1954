//! Every differentiable op: the GPU gradient (f32, through the backward kernels) against f64
//! central finite differences of the CPU reference (`kiln_device::reference`).
//!
//! Each check draws random inputs, forms L = sum(op(inputs) * r) with a fixed random r (so every
//! output element matters with a distinct weight), runs `backward` on the GPU and compares
//! dL/d input with (L(x + h) - L(x - h)) / 2h computed in f64 on the reference. f64 differences
//! are sharp at h = 1e-6, so the tolerance only has to absorb the GPU's f32 rounding.

mod elementwise;
mod layers;
mod linalg;

use kiln_device::testing::{Rng, test_device, to_f32};
use kiln_graph::{Device, Tensor};

/// An epilogue activation and its f64 reference.
pub type ActCase = (kiln_device::Activation, fn(f64) -> f64);

/// One input: values and shape.
pub struct Input {
    pub values: Vec<f64>,
    pub shape: Vec<usize>,
}

pub fn input(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Input {
    Input {
        values: rng.vec(shape.iter().product(), lo, hi),
        shape: shape.to_vec(),
    }
}

/// Values in +-[lo, hi]: keeps relu, abs, clamp and max away from their kinks.
pub fn away_from_zero(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Input {
    let mut i = input(rng, shape, lo, hi);
    for v in &mut i.values {
        if rng.uniform() < 0.5 {
            *v = -*v;
        }
    }
    i
}

pub fn setup(seed: u64) -> Option<(Device, Rng)> {
    test_device().map(|d| (d, Rng::new(seed)))
}

/// Checks d sum(f(x) * r) / dx for every input against central differences of `reference`.
pub fn check(
    dev: &Device,
    rng: &mut Rng,
    name: &str,
    inputs: &[Input],
    gpu: impl Fn(&[Tensor]) -> kiln_graph::Result<Tensor>,
    reference: impl Fn(&[Vec<f64>]) -> Vec<f64>,
) {
    let tensors: Vec<Tensor> = inputs
        .iter()
        .map(|i| {
            Tensor::from_f32(dev, &to_f32(&i.values), &i.shape)
                .unwrap()
                .requires_grad()
        })
        .collect();
    let out = gpu(&tensors).unwrap_or_else(|e| panic!("{name}: forward failed: {e}"));
    let r = rng.vec(out.numel(), -1.0, 1.0);
    let rt = Tensor::from_f32(dev, &to_f32(&r), out.shape()).unwrap();
    let grads = out.mul(&rt).unwrap().sum_all().unwrap().backward().unwrap();
    let loss =
        |vals: &[Vec<f64>]| -> f64 { reference(vals).iter().zip(&r).map(|(a, b)| a * b).sum() };
    let h = 1e-6;
    for (k, t) in tensors.iter().enumerate() {
        let got = grads
            .get(t)
            .unwrap_or_else(|| panic!("{name}: no gradient for input {k}"))
            .to_vec()
            .unwrap();
        assert_eq!(
            got.len(),
            inputs[k].values.len(),
            "{name}: gradient {k} has the wrong size"
        );
        let mut vals: Vec<Vec<f64>> = inputs.iter().map(|i| i.values.clone()).collect();
        for j in 0..got.len() {
            let x0 = vals[k][j];
            vals[k][j] = x0 + h;
            let up = loss(&vals);
            vals[k][j] = x0 - h;
            let down = loss(&vals);
            vals[k][j] = x0;
            let want = (up - down) / (2.0 * h);
            let g = got[j] as f64;
            assert!(
                (g - want).abs() <= 3e-4 + 3e-3 * want.abs(),
                "{name}: d/d input{k}[{j}] is {g} on the GPU, finite differences give {want}"
            );
        }
    }
}
