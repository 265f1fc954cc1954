//! A narrow linear layer (a classifier head) on a CPU adapter with subgroups takes its whole
//! backward pass from one dispatch (`dense_backward.wgsl`): the same gradients for x, w and b as
//! the layer written as separate ops (matmul, bias add, activation), through every activation.
//! (kiln-graph's gradcheck checks both against f64 central differences.)

use kiln_device::Activation as Act;
use kiln_device::testing::test_device;
use kiln_graph::Tensor;

fn close(what: &str, a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p - q).abs() <= 1e-5 * q.abs().max(1.0),
            "{what}[{i}]: {p} vs {q}"
        );
    }
}

#[test]
fn a_narrow_head_backward_is_one_dispatch_with_the_separate_ops_gradients() {
    let Some(dev) = test_device() else { return };
    let (rows, k, n) = (32, 128, 10);
    let v = |len: usize, m: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * m) % 23) as f32 / 11.0 - 1.0)
            .collect()
    };
    let x = Tensor::from_f32(&dev, &v(rows * k, 7), &[rows, k])
        .unwrap()
        .requires_grad();
    let w = Tensor::from_f32(&dev, &v(k * n, 5), &[k, n])
        .unwrap()
        .requires_grad();
    let b = Tensor::from_f32(&dev, &v(n, 3), &[n])
        .unwrap()
        .requires_grad();
    let labels: Vec<u32> = (0..rows as u32).map(|i| i % n as u32).collect();
    let labels = Tensor::from_u32(&dev, &labels, &[rows]).unwrap();
    let one_kernel = dev.info().is_cpu() && dev.info().subgroups;
    for act in [Act::Linear, Act::Relu, Act::Sigmoid, Act::Tanh] {
        let fused = x
            .linear(&w, Some(&b), act)
            .unwrap()
            .softmax_cross_entropy_mean(&labels)
            .unwrap();
        let before = dev.counters();
        let gf = fused.backward().unwrap();
        let dispatches = dev.counters().since(&before).dispatches;
        let separate = x
            .matmul(&w)
            .unwrap()
            .add(&b)
            .unwrap()
            .activation(act)
            .unwrap()
            .softmax_cross_entropy_mean(&labels)
            .unwrap();
        let gs = separate.backward().unwrap();
        for (name, t) in [("dx", &x), ("dw", &w), ("db", &b)] {
            let (a, s) = (gf.get(t).unwrap(), gs.get(t).unwrap());
            assert_eq!(a.shape(), t.shape(), "{name} {act:?}");
            close(
                &format!("{name} {act:?}"),
                &a.to_vec().unwrap(),
                &s.to_vec().unwrap(),
            );
        }
        if one_kernel {
            // The loss's own gradient came with its forward: the head's backward is all of it.
            assert_eq!(dispatches, 1, "{act:?}");
        }
    }
}

/// Before a narrow head, a Dense layer whose output only the head reads gets its activation and
/// bias gradients from the head's dispatch: two layers' backward is two dispatches (that and
/// the first layer's weight gradient). Its output read twice keeps them apart. Both match the
/// layers written as separate ops.
#[test]
fn the_layer_before_a_narrow_head_takes_its_gradients_from_the_heads_dispatch() {
    let Some(dev) = test_device() else { return };
    let (rows, k0, k, n) = (32, 64, 128, 10);
    let v = |len: usize, m: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * m) % 23) as f32 / 23.0 - 0.5)
            .collect()
    };
    let x = Tensor::from_f32(&dev, &v(rows * k0, 7), &[rows, k0]).unwrap();
    let leaf = |len: usize, m: usize, shape: &[usize]| {
        Tensor::from_f32(&dev, &v(len, m), shape)
            .unwrap()
            .requires_grad()
    };
    let (w1, b1) = (leaf(k0 * k, 5, &[k0, k]), leaf(k, 3, &[k]));
    let (w2, b2) = (leaf(k * n, 11, &[k, n]), leaf(n, 13, &[n]));
    let labels: Vec<u32> = (0..rows as u32).map(|i| (i * 3) % n as u32).collect();
    let labels = Tensor::from_u32(&dev, &labels, &[rows]).unwrap();
    let one_kernel = dev.info().is_cpu() && dev.info().subgroups;
    for act in [Act::Relu, Act::Sigmoid, Act::Tanh, Act::Linear] {
        for read_twice in [false, true] {
            let h = x.linear(&w1, Some(&b1), act).unwrap();
            let mut loss = h
                .linear(&w2, Some(&b2), Act::Linear)
                .unwrap()
                .softmax_cross_entropy_mean(&labels)
                .unwrap();
            if read_twice {
                loss = loss.add(&h.mean_all().unwrap()).unwrap();
            }
            let before = dev.counters();
            let gf = loss.backward().unwrap();
            let dispatches = dev.counters().since(&before).dispatches;
            let hs = x
                .matmul(&w1)
                .unwrap()
                .add(&b1)
                .unwrap()
                .activation(act)
                .unwrap();
            let mut separate = hs
                .matmul(&w2)
                .unwrap()
                .add(&b2)
                .unwrap()
                .softmax_cross_entropy_mean(&labels)
                .unwrap();
            if read_twice {
                separate = separate.add(&hs.mean_all().unwrap()).unwrap();
            }
            let gs = separate.backward().unwrap();
            for (name, t) in [("dw1", &w1), ("db1", &b1), ("dw2", &w2), ("db2", &b2)] {
                close(
                    &format!("{name} {act:?} read twice {read_twice}"),
                    &gf.get(t).unwrap().to_vec().unwrap(),
                    &gs.get(t).unwrap().to_vec().unwrap(),
                );
            }
            if one_kernel && !read_twice {
                assert_eq!(dispatches, 2, "{act:?}");
            }
        }
    }
}
