//! Autodiff semantics on hand-derived cases: fan-out accumulation, no-grad, detach, shape errors
//! that dispatch nothing, and the one-submit-per-step shape of a training step.

use kiln_device::testing::test_device;
use kiln_graph::{GraphError, Tensor, no_grad};

#[test]
fn fan_out_accumulates_gradients() {
    let Some(dev) = test_device() else { return };
    // y = x*x + 3x  =>  dy/dx = 2x + 3 (x is used three times).
    let x = Tensor::from_f32(&dev, &[1.0, -2.0, 0.5], &[3])
        .unwrap()
        .requires_grad();
    let y = x.mul(&x).unwrap().add(&x.mul_scalar(3.0).unwrap()).unwrap();
    let g = y.backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec().unwrap(), vec![5.0, -1.0, 4.0]);
}

#[test]
fn a_two_layer_chain_matches_the_hand_derivation() {
    let Some(dev) = test_device() else { return };
    // L = sum(relu(x W1) W2) with x = [1, 2], W1 = [[1, -1], [1, 1]], W2 = [[2], [3]].
    // h = x W1 = [3, 1]; relu keeps both; dL/dh = W2^T = [2, 3];
    // dL/dW1 = x^T dL/dh = [[2, 3], [4, 6]]; dL/dW2 = relu(h)^T = [[3], [1]].
    let x = Tensor::from_f32(&dev, &[1.0, 2.0], &[1, 2]).unwrap();
    let w1 = Tensor::from_f32(&dev, &[1.0, -1.0, 1.0, 1.0], &[2, 2])
        .unwrap()
        .requires_grad();
    let w2 = Tensor::from_f32(&dev, &[2.0, 3.0], &[2, 1])
        .unwrap()
        .requires_grad();
    let loss = x
        .matmul(&w1)
        .unwrap()
        .relu()
        .unwrap()
        .matmul(&w2)
        .unwrap()
        .sum_all()
        .unwrap();
    assert_eq!(loss.item().unwrap(), 9.0);
    let g = loss.backward().unwrap();
    assert_eq!(
        g.get(&w1).unwrap().to_vec().unwrap(),
        vec![2.0, 3.0, 4.0, 6.0]
    );
    assert_eq!(g.get(&w2).unwrap().to_vec().unwrap(), vec![3.0, 1.0]);
    assert_eq!(g.len(), 2, "only the requires_grad leaves keep gradients");
}

#[test]
fn no_grad_records_nothing() {
    let Some(dev) = test_device() else { return };
    let w = Tensor::from_f32(&dev, &[1.0, 2.0], &[2])
        .unwrap()
        .requires_grad();
    let y = no_grad(|| w.mul(&w).unwrap().sum_all().unwrap());
    assert!(y.op().is_none() && !y.tracks_grad());
    assert!(matches!(y.backward(), Err(GraphError::Backward(_))));
    // Recording resumes after the closure.
    assert!(w.mul(&w).unwrap().op().is_some());
}

#[test]
fn detach_stops_the_gradient() {
    let Some(dev) = test_device() else { return };
    // y = x * detach(x)  =>  dy/dx = x (not 2x).
    let x = Tensor::from_f32(&dev, &[3.0, -1.0], &[2])
        .unwrap()
        .requires_grad();
    let y = x.mul(&x.detach()).unwrap();
    assert_eq!(
        y.backward().unwrap().get(&x).unwrap().to_vec().unwrap(),
        vec![3.0, -1.0]
    );
}

#[test]
fn a_shape_error_names_the_op_and_shapes_and_dispatches_nothing() {
    let Some(dev) = test_device() else { return };
    let a = Tensor::zeros(&dev, &[32, 784]).unwrap();
    let b = Tensor::zeros(&dev, &[100, 10]).unwrap();
    let before = dev.counters();
    let err = a.matmul(&b).unwrap_err().to_string();
    assert!(
        err.contains("matmul") && err.contains("[32, 784]") && err.contains("[100, 10]"),
        "{err}"
    );
    let err = a
        .add(&Tensor::zeros(&dev, &[3]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("binary") && err.contains("[32, 784]") && err.contains("[3]"),
        "{err}"
    );
    let labels = Tensor::from_u32(&dev, &[1, 2], &[2]).unwrap();
    let err = a.softmax_cross_entropy(&labels).unwrap_err().to_string();
    assert!(err.contains("softmax_cross_entropy"), "{err}");
    assert_eq!(
        dev.counters().since(&before).dispatches,
        0,
        "shape errors must not dispatch"
    );
}

#[test]
fn a_training_step_is_one_submit_and_no_wait() {
    let Some(dev) = test_device() else { return };
    let x = Tensor::from_f32(&dev, &[0.5; 8 * 4], &[8, 4]).unwrap();
    let labels = Tensor::from_u32(&dev, &[0, 1, 2, 0, 1, 2, 0, 1], &[8]).unwrap();
    let w = Tensor::from_f32(&dev, &[0.1; 12], &[4, 3])
        .unwrap()
        .requires_grad();
    let velocity = dev.zeros(12 * 4).unwrap();
    let sgd = kiln_device::ops::optim::SgdStep {
        lr: 0.1,
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    };
    // A step drops its graph before submitting, so its buffers rejoin the pool at that submit.
    let step = || {
        {
            let loss = x
                .matmul(&w)
                .unwrap()
                .softmax_cross_entropy(&labels)
                .unwrap()
                .mean_all()
                .unwrap();
            let g = loss.backward().unwrap();
            kiln_device::ops::optim::sgd_step(
                &dev,
                &sgd,
                g.get(&w).unwrap().buffer(),
                w.buffer(),
                &velocity,
                12,
            )
            .unwrap();
        }
        dev.submit();
    };
    step();
    let before = dev.counters();
    step();
    let c = dev.counters().since(&before);
    assert_eq!((c.submits, c.waits, c.pipelines), (1, 0, 0), "{c:?}");
    assert_eq!(
        c.buffer_allocations, 0,
        "the second step must reuse pooled buffers: {c:?}"
    );
}

#[test]
fn a_tensor_beyond_the_adapters_limits_is_an_error_naming_it_before_any_allocation() {
    let Some(dev) = test_device() else { return };
    let before = dev.counters();
    let limit = dev.info().max_storage_buffer_binding_size;
    // 2^22 x 2^22 f32 values: 64 TiB, over every adapter's binding limit.
    let e = Tensor::zeros(&dev, &[1 << 22, 1 << 22])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[4194304, 4194304]")
            && e.contains("max_storage_buffer_binding_size")
            && e.contains(&limit.to_string()),
        "{e}"
    );
    // A shape whose element count overflows is a shape error, never a panic or an abort.
    let e = Tensor::full(&dev, &[usize::MAX, 3], 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("overflows") && e.contains("full"), "{e}");
    let e = dev.alloc(u64::MAX).unwrap_err().to_string();
    assert!(
        e.contains("a buffer") && e.contains(&u64::MAX.to_string()),
        "{e}"
    );
    let c = dev.counters().since(&before);
    assert_eq!((c.buffer_allocations, c.dispatches), (0, 0), "{c:?}");
}

#[test]
fn an_adapter_filter_that_matches_nothing_is_an_error_not_a_panic() {
    let opts = kiln_device::DeviceOptions {
        adapter: Some("no-such-adapter-xyz".into()),
        ..Default::default()
    };
    let err = kiln_device::Device::with_options(&opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no GPU adapter") && err.contains("apt-get install"),
        "{err}"
    );
    if test_device().is_some() {
        assert!(
            err.contains("no-such-adapter-xyz"),
            "the message names the filter: {err}"
        );
    }
}

#[test]
fn backward_into_writes_each_gradient_into_its_target_view() {
    use kiln_device::Activation as Act;
    use kiln_graph::{GradTargets, Padding};
    let Some(dev) = test_device() else { return };
    let mut rng = kiln_device::testing::Rng::new(5);
    let mut t = |shape: &[usize]| {
        let n = shape.iter().product();
        let v = kiln_device::testing::to_f32(&rng.vec(n, -1.0, 1.0));
        Tensor::from_f32(&dev, &v, shape).unwrap()
    };
    // conv (kernel, bias) -> linear (kernel, bias) -> a tied weight used twice -> a leaf no
    // op reaches. Each of the first four has one use and takes its gradient in place; the tied
    // one is summed over its two uses, then copied into its target.
    let x = t(&[2, 5, 5, 3]);
    let params = [
        t(&[3, 3, 3, 4]).requires_grad(),
        t(&[4]).requires_grad(),
        t(&[36, 6]).requires_grad(),
        t(&[6]).requires_grad(),
        t(&[6, 6]).requires_grad(),
        t(&[7]).requires_grad(),
    ];
    let [cw, cb, lw, lb, tied, unused] = &params;
    let loss = || {
        let h = x
            .conv2d_act(cw, Some(cb), (1, 1), Padding::Valid, Act::Relu)
            .unwrap();
        let h = h.reshape(&[2, 36]).unwrap();
        let h = h.linear(lw, Some(lb), Act::Tanh).unwrap();
        h.matmul(tied)
            .unwrap()
            .matmul(tied)
            .unwrap()
            .mul(&h)
            .unwrap()
            .sum_all()
            .unwrap()
    };
    let plain = loss().backward().unwrap();
    let words: Vec<usize> = params.iter().map(Tensor::numel).collect();
    let pack = dev.pack(&words).unwrap();
    let mut targets = GradTargets::default();
    for (p, view) in params.iter().zip(pack.parts()) {
        targets.insert(p, view.clone()).unwrap();
    }
    let packed = loss().backward_into(&targets).unwrap();
    for (i, p) in params.iter().enumerate().take(5) {
        let g = packed.get(p).unwrap();
        assert!(
            std::sync::Arc::ptr_eq(g.shared_buffer(), &pack.parts()[i]),
            "param {i}"
        );
        assert_eq!(g.shape(), p.shape());
        let want = plain.get(p).unwrap().to_vec().unwrap();
        assert_eq!(
            g.to_vec().unwrap(),
            want,
            "param {i}: same kernels, same bits"
        );
    }
    assert!(packed.get(unused).is_none());
    assert_eq!(
        dev.read_f32(&pack.parts()[5]).unwrap(),
        vec![0.0; 7],
        "unreached target kept"
    );
    // A target of the wrong size is refused up front.
    let err = targets.insert(unused, pack.parts()[0].clone()).unwrap_err();
    assert!(
        err.to_string().contains("gradient target of 108 words"),
        "{err}"
    );
}

/// A classifier's loss (the mean of softmax cross-entropy rows) as the backward root takes one
/// kernel to its logits instead of three (seed, mean broadcast, row backward), with the
/// gradients of the general path: the same root multiplied by 1 goes the general way.
#[test]
fn mean_cross_entropy_backward_is_one_kernel_with_the_same_gradients() {
    let Some(dev) = test_device() else { return };
    let x: Vec<f32> = (0..6 * 4)
        .map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0)
        .collect();
    let x = Tensor::from_f32(&dev, &x, &[6, 4]).unwrap();
    let w = Tensor::from_f32(&dev, &[0.3; 16], &[4, 4])
        .unwrap()
        .requires_grad();
    let labels = Tensor::from_u32(&dev, &[0, 1, 2, 3, 0, 1], &[6]).unwrap();
    let targets = Tensor::from_f32(&dev, &[0.25; 24], &[6, 4]).unwrap();
    for t in [&labels, &targets] {
        let loss = x
            .matmul(&w)
            .unwrap()
            .softmax_cross_entropy(t)
            .unwrap()
            .mean_all()
            .unwrap();
        let general = loss.mul_scalar(1.0).unwrap();
        let before = dev.counters();
        let fused = loss.backward().unwrap();
        let fused_dispatches = dev.counters().since(&before).dispatches;
        let before = dev.counters();
        let slow = general.backward().unwrap();
        let slow_dispatches = dev.counters().since(&before).dispatches;
        let (a, b) = (
            fused.get(&w).unwrap().to_vec().unwrap(),
            slow.get(&w).unwrap().to_vec().unwrap(),
        );
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() <= 1e-6, "{a:?} vs {b:?}");
        }
        assert!(
            fused_dispatches + 3 <= slow_dispatches,
            "fused {fused_dispatches} vs {slow_dispatches} dispatches"
        );
    }
}

/// `softmax_cross_entropy_mean` is one dispatch forward, none in the backward to its logits when
/// it is the root (its kernel wrote the gradient), with the three-dispatch path's loss and
/// gradients; without a tracked input it records nothing.
#[test]
fn the_one_dispatch_mean_loss_matches_the_general_path() {
    let Some(dev) = test_device() else { return };
    let x: Vec<f32> = (0..70 * 4)
        .map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0)
        .collect();
    let x = Tensor::from_f32(&dev, &x, &[70, 4]).unwrap();
    let w = Tensor::from_f32(&dev, &[0.3; 16], &[4, 4])
        .unwrap()
        .requires_grad();
    let labels: Vec<u32> = (0..70).map(|i| (i * 3) % 4).collect();
    let labels = Tensor::from_u32(&dev, &labels, &[70]).unwrap();
    let targets = Tensor::from_f32(&dev, &[0.25; 280], &[70, 4]).unwrap();
    for t in [&labels, &targets] {
        let z = x.matmul(&w).unwrap();
        let before = dev.counters();
        let one = z.softmax_cross_entropy_mean(t).unwrap();
        assert_eq!(dev.counters().since(&before).dispatches, 1);
        let three = z.softmax_cross_entropy(t).unwrap().mean_all().unwrap();
        let (a, b) = (one.item().unwrap(), three.item().unwrap());
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
        assert!(one.shape().is_empty());
        let before = dev.counters();
        let g_one = one.backward().unwrap();
        // Only the matmul's weight gradient: the loss's own gradient came with its forward.
        assert_eq!(dev.counters().since(&before).dispatches, 1);
        let g_three = three.backward().unwrap();
        let (a, b) = (
            g_one.get(&w).unwrap().to_vec().unwrap(),
            g_three.get(&w).unwrap().to_vec().unwrap(),
        );
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() <= 1e-6, "{a:?} vs {b:?}");
        }
        // A second backward through the same graph sees the same saved gradient.
        let again = one.backward().unwrap().get(&w).unwrap().to_vec().unwrap();
        assert_eq!(again, a);
    }
    let frozen = x.softmax_cross_entropy_mean(&labels).unwrap();
    assert!(frozen.op().is_none() && !frozen.tracks_grad());
    // Past one workgroup's share of logits it is the general path (three dispatches), with the
    // same value as the explicit form.
    let (rows, cols) = (700, 100);
    let v: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 13) % 17) as f32 / 8.0 - 1.0)
        .collect();
    let big = Tensor::from_f32(&dev, &v, &[rows, cols])
        .unwrap()
        .requires_grad();
    let l: Vec<u32> = (0..rows as u32).map(|i| (i * 7) % cols as u32).collect();
    let l = Tensor::from_u32(&dev, &l, &[rows]).unwrap();
    let before = dev.counters();
    let general = big.softmax_cross_entropy_mean(&l).unwrap();
    assert_eq!(
        dev.counters().since(&before).dispatches,
        2,
        "rows, then their mean"
    );
    let explicit = big.softmax_cross_entropy(&l).unwrap().mean_all().unwrap();
    assert_eq!(general.item().unwrap(), explicit.item().unwrap());
}
