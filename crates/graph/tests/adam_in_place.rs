//! `GradTargets::adam_in_place`: on a CPU adapter with subgroups the backward pass applies a
//! Dense kernel's Adam step in the dispatch that makes its gradient (`matmul_adam`), and a
//! narrow head's kernel, bias and folded bias in its one backward dispatch. Weights and moments
//! come out bit for bit as from the gradients written to their targets and then `adam_step`;
//! the leaves are reported as applied, with no gradient and their targets untouched. A kernel read twice, a head too narrow for the fused design, and a pass
//! without a step keep the usual path.

use std::sync::Arc;

use kiln_device::ops::matmul::MatmulDims;
use kiln_device::ops::matmul_adam::applies;
use kiln_device::ops::optim::{AdamStep, AdamVia, adam_step};
use kiln_device::testing::test_device;
use kiln_device::{Activation, Device, GpuBuffer};
use kiln_graph::{GradTargets, Gradients, Tensor};

fn values(len: usize, m: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * m) % 23) as f32 / 11.0 - 1.0)
        .collect()
}

fn bits(t: &GpuBuffer, dev: &Device) -> Vec<u32> {
    dev.read_f32(t)
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

/// A two-layer MLP's weights, their gradient targets and Adam moments, each packed as a model's
/// are (the head's in-place steps need its weights and moments as views of packs).
struct Net {
    ws: Vec<Tensor>,
    targets: GradTargets,
    grads: Vec<Arc<GpuBuffer>>,
    moments: Vec<(Arc<GpuBuffer>, Arc<GpuBuffer>)>,
}

fn net(dev: &Device, shapes: &[Vec<usize>]) -> Net {
    let words: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
    let (p, g, m, v) = (
        dev.pack(&words).unwrap(),
        dev.pack(&words).unwrap(),
        dev.pack(&words).unwrap(),
        dev.pack(&words).unwrap(),
    );
    let mut targets = GradTargets::default();
    let mut ws = Vec::new();
    for (i, s) in shapes.iter().enumerate() {
        dev.write(&p.parts()[i], &values(words[i], 5 + i)).unwrap();
        let w = Tensor::from_buffer(dev, p.parts()[i].clone(), s)
            .unwrap()
            .requires_grad();
        targets.insert(&w, g.parts()[i].clone()).unwrap();
        ws.push(w);
    }
    Net {
        ws,
        targets,
        grads: g.parts().to_vec(),
        moments: (0..shapes.len())
            .map(|i| (m.parts()[i].clone(), v.parts()[i].clone()))
            .collect(),
    }
}

impl Net {
    /// Adam step t of every weight the pass did not update itself, from its gradient.
    fn adam_rest(&self, dev: &Device, grads: &Gradients, t: u64) {
        for (w, (m, v)) in self.ws.iter().zip(&self.moments) {
            if let Some(g) = grads.get(w) {
                let (g, p) = (g.buffer(), w.buffer());
                adam_step(dev, &step(t), g, p, m, v, w.numel(), AdamVia::Buffers4).unwrap();
            }
        }
    }
}

fn step(t: u64) -> AdamStep {
    AdamStep {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-7,
        weight_decay: 0.0,
        t,
    }
}

#[test]
fn a_dense_kernel_takes_its_adam_step_in_its_gradient_dispatch_bit_for_bit() {
    let Some(dev) = test_device() else { return };
    // x [8, 36] -> Dense(20, relu) -> Dense(4) head: the head's one-dispatch backward folds the
    // first layer's activation and bias, whose kernel then comes from x^T dz.
    let (rows, k, h, n) = (8, 36, 20, 4);
    let shapes = vec![vec![k, h], vec![h], vec![h, n], vec![n]];
    let fused_on = applies(&dev, &MatmulDims::new(k, h, rows, true, false));
    assert_eq!(fused_on, dev.info().is_cpu() && dev.info().subgroups);
    let x = Tensor::from_f32(&dev, &values(rows * k, 7), &[rows, k]).unwrap();
    let labels = Tensor::from_u32(&dev, &[0, 1, 2, 3, 0, 1, 2, 3], &[rows]).unwrap();
    let (a, mut b) = (net(&dev, &shapes), net(&dev, &shapes));
    for (i, (m, _)) in b.moments.iter().enumerate() {
        b.targets
            .adam_in_place(&b.ws[i], m.clone(), b.moments[i].1.clone())
            .unwrap();
    }
    for t in 1..=3 {
        let loss = |n: &Net| {
            let y = x
                .linear(&n.ws[0], Some(&n.ws[1]), Activation::Relu)
                .unwrap();
            y.linear(&n.ws[2], Some(&n.ws[3]), Activation::Linear)
                .unwrap()
                .softmax_cross_entropy_mean(&labels)
                .unwrap()
        };
        // a: gradients into their targets, then Adam per weight.
        let ga = loss(&a).backward_into(&a.targets).unwrap();
        assert!(a.ws.iter().all(|w| !ga.applied(w)));
        a.adam_rest(&dev, &ga, t);
        // b: the first kernel's step inside the pass, the rest as in a.
        dev.write(&b.grads[0], &vec![7.0f32; k * h]).unwrap();
        b.targets.set_adam_step(Some(step(t)));
        let gb = loss(&b).backward_into(&b.targets).unwrap();
        // The first kernel in its gradient product; the head's kernel and bias and the first
        // bias (folded) in the head's backward dispatch.
        for w in &b.ws {
            assert_eq!(gb.applied(w), fused_on);
            assert_eq!(gb.get(w).is_none(), fused_on);
        }
        b.adam_rest(&dev, &gb, t);
        if fused_on {
            // The applied kernel's target was not written.
            assert_eq!(dev.read_f32(&b.grads[0]).unwrap(), vec![7.0; k * h]);
        }
        for i in 0..shapes.len() {
            let what = format!("weight {i} after step {t}");
            assert_eq!(
                bits(a.ws[i].buffer(), &dev),
                bits(b.ws[i].buffer(), &dev),
                "{what}"
            );
            assert_eq!(
                bits(&a.moments[i].0, &dev),
                bits(&b.moments[i].0, &dev),
                "m of {what}"
            );
            assert_eq!(
                bits(&a.moments[i].1, &dev),
                bits(&b.moments[i].1, &dev),
                "v of {what}"
            );
        }
    }
}

#[test]
fn a_kernel_read_twice_or_a_pass_without_a_step_keeps_its_gradient() {
    let Some(dev) = test_device() else { return };
    let (rows, k, h) = (8, 36, 20);
    let n = net(&dev, &[vec![k, h]]);
    let mut targets = n.targets.clone();
    let (m, v) = n.moments[0].clone();
    targets.adam_in_place(&n.ws[0], m, v).unwrap();
    let x = Tensor::from_f32(&dev, &values(rows * k, 7), &[rows, k]).unwrap();
    let w = &n.ws[0];
    let once = |t: &GradTargets| {
        let loss = x
            .linear(w, None, Activation::Relu)
            .unwrap()
            .sum_all()
            .unwrap();
        loss.backward_into(t).unwrap()
    };
    // No step set: the gradient goes to its target.
    let g = once(&targets);
    assert!(!g.applied(w) && g.get(w).is_some());
    // Read twice (a weight-decay-like term): summed into the target, never applied.
    targets.set_adam_step(Some(step(1)));
    let twice = x
        .linear(w, None, Activation::Relu)
        .unwrap()
        .sum_all()
        .unwrap()
        .add(&w.mul(w).unwrap().sum_all().unwrap())
        .unwrap();
    let g = twice.backward_into(&targets).unwrap();
    assert!(!g.applied(w) && g.get(w).is_some());
    // Moments of the wrong size, or a leaf without a target, are refused by name.
    let mut t = GradTargets::default();
    let err = t
        .adam_in_place(w, n.grads[0].clone(), n.grads[0].clone())
        .unwrap_err();
    assert!(err.to_string().contains("no gradient target"), "{err}");
    let small = Arc::new(dev.alloc(16).unwrap());
    let err = targets.adam_in_place(w, small.clone(), small).unwrap_err();
    assert!(err.to_string().contains("Adam's m of 4 words"), "{err}");
}
