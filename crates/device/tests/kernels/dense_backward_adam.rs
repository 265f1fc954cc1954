//! dense_backward.wgsl's in-place mode: a narrow Dense layer's Adam step (its kernel, its bias
//! and a folded layer's bias) taken in its backward dispatch, bit for bit against the plain
//! dispatch storing the gradients and `adam_step4` over them, for several steps, with and
//! without the fold and weight decay; weights that are not views of one pack are declined.

use kiln_device::Activation as Act;
use kiln_device::GpuBuffer;
use kiln_device::ops::dense_backward::{
    DenseAdam, DenseDims, dense_backward, dense_backward_adam, support,
};
use kiln_device::ops::optim::{AdamVia, adam_step};

use crate::{adam_at, out, read, setup, up};

fn bits(dev: &kiln_device::Device, b: &GpuBuffer) -> Vec<u32> {
    read(dev, b).iter().map(|v| v.to_bits()).collect()
}

#[test]
fn in_place_adam_is_the_gradients_then_adam_bit_for_bit() {
    let Some((dev, mut rng)) = setup(71) else {
        return;
    };
    for (rows, k, n, fold, wd) in [(32, 128, 10, true, 0.0), (7, 13, 5, false, 0.004)] {
        let d = DenseDims { rows, k, n };
        if let Some(why) = support(&dev, &d) {
            assert!(why.contains("subgroups"), "{why}");
            return;
        }
        // Packed as a model's weights: the folded layer's kernel, its bias, this kernel and
        // bias. State a is updated by gradients then adam_step4, b in place.
        let words = [3 * k, k, k * n, n];
        let pack = || dev.pack(&words).unwrap();
        let (pa, ma, va, ga) = (pack(), pack(), pack(), pack());
        let (pb, mb, vb) = (pack(), pack(), pack());
        for (i, &w) in words.iter().enumerate() {
            let v = rng.vec(w, -1.0, 1.0);
            for p in [&pa, &pb] {
                dev.copy(&up(&dev, &v), 0, &p.parts()[i], 0, (w * 4) as u64)
                    .unwrap();
            }
        }
        let prev = fold.then_some(Act::Relu);
        for t in 1..=3 {
            let x: Vec<f64> = rng
                .vec(rows * k, -1.0, 1.0)
                .iter()
                .map(|v| v.max(0.0))
                .collect();
            let (x, y, g) = (
                up(&dev, &x),
                up(&dev, &rng.vec(rows * n, -1.0, 1.0)),
                up(&dev, &rng.vec(rows * n, -1.0, 1.0)),
            );
            let s = adam_at(t, wd);
            let (dx_a, dx_b) = (out(&dev, rows * k), out(&dev, rows * k));
            let part = |p: &kiln_device::Packed, i: usize| p.parts()[i].clone();
            let fold_a = prev.map(|a| (a, &*ga.parts()[1]));
            let (w_a, w_b) = (part(&pa, 2), part(&pb, 2));
            dense_backward(
                &dev,
                Act::Tanh,
                (&x, &w_a, &y, &g),
                (&ga.parts()[2], &ga.parts()[3], &dx_a),
                fold_a,
                &d,
            )
            .unwrap();
            for i in [2, 3].into_iter().chain(fold.then_some(1)) {
                let (gp, pp, mp, vp) = (part(&ga, i), part(&pa, i), part(&ma, i), part(&va, i));
                adam_step(&dev, &s, &gp, &pp, &mp, &vp, words[i], AdamVia::Buffers4).unwrap();
            }
            let triple = |i: usize| [part(&pb, i), part(&mb, i), part(&vb, i)];
            let (tw, tb, tp) = (triple(2), triple(3), triple(1));
            let a = DenseAdam {
                step: &s,
                w: [&tw[0], &tw[1], &tw[2]],
                b: [&tb[0], &tb[1], &tb[2]],
                b_prev: fold.then_some([&tp[0], &tp[1], &tp[2]]),
            };
            assert!(
                dense_backward_adam(&dev, Act::Tanh, (&x, &w_b, &y, &g), &dx_b, prev, &a, &d)
                    .unwrap()
            );
            assert_eq!(bits(&dev, &dx_a), bits(&dev, &dx_b), "dx, step {t}");
        }
        for (what, a, b) in [("weights", &pa, &pb), ("m", &ma, &mb), ("v", &va, &vb)] {
            assert_eq!(
                bits(&dev, a.whole()),
                bits(&dev, b.whole()),
                "{what} of {rows}x{k}x{n}"
            );
        }
        // The folded layer's kernel (part 0) was never touched.
        assert_eq!(read(&dev, &mb.parts()[0]), vec![0.0; 3 * k]);
    }
}

#[test]
fn weights_outside_one_pack_are_declined() {
    let Some((dev, mut rng)) = setup(72) else {
        return;
    };
    let d = DenseDims {
        rows: 4,
        k: 8,
        n: 3,
    };
    if support(&dev, &d).is_some() {
        return;
    }
    let (x, w, y, g) = (
        up(&dev, &rng.vec(32, 0.0, 1.0)),
        up(&dev, &rng.vec(24, -1.0, 1.0)),
        out(&dev, 12),
        out(&dev, 12),
    );
    let dx = out(&dev, 32);
    let pack = dev.pack(&[24, 3]).unwrap();
    let loose = out(&dev, 24);
    let s = adam_at(1, 0.0);
    let (pw, pb) = (&*pack.parts()[0], &*pack.parts()[1]);
    let a = DenseAdam {
        step: &s,
        w: [&loose, pw, pw],
        b: [pb, pb, pb],
        b_prev: None,
    };
    assert!(!dense_backward_adam(&dev, Act::Linear, (&x, &w, &y, &g), &dx, None, &a, &d).unwrap());
    // A fold without its bias's state is an error that says so.
    let a = DenseAdam {
        step: &s,
        w: [pw, pw, pw],
        b: [pb, pb, pb],
        b_prev: None,
    };
    let err = dense_backward_adam(
        &dev,
        Act::Linear,
        (&x, &w, &y, &g),
        &dx,
        Some(Act::Relu),
        &a,
        &d,
    )
    .unwrap_err();
    assert!(err.to_string().contains("folded layer"), "{err}");
}
