//! matmul_texture_tn_adam and its wide twin: a weight gradient x^T dz and its Adam step in one
//! dispatch, against the two dispatches it replaces (the tn product, then `adam_step4`) bit for
//! bit over several steps, for shapes that miss the 32x64 block and the 4-step k loop, with and
//! without weight decay, on views of packed buffers (as the optimizer's slots are), on the
//! device as opened and with 64-bit storage words turned off; and the refusals.

use kiln_device::ops::matmul::{MatmulDims, MatmulVariant};
use kiln_device::ops::matmul_adam::{applies, kernel, matmul_adam, support};
use kiln_device::ops::optim::{AdamVia, adam_step};
use kiln_device::testing::Rng;
use kiln_device::{Device, DeviceOptions, Kernel, WideStorage};

use crate::{adam_at, mm, out, read, setup, up};

#[test]
fn fused_update_is_the_product_then_adam_bit_for_bit() {
    let Some((dev, mut rng)) = setup(61) else {
        return;
    };
    let narrow = Device::with_options(&DeviceOptions {
        wide_storage: WideStorage::Never,
        ..DeviceOptions::from_env().unwrap()
    })
    .unwrap();
    assert!(!narrow.info().wide_storage());
    for dev in [&dev, &narrow] {
        fused_matches_two_dispatches(dev, &mut rng, dev.info().wide_storage());
    }
}

fn fused_matches_two_dispatches(dev: &Device, rng: &mut Rng, wide: bool) {
    // (rows k, inputs m, units n): a whole block, partial blocks in both directions with a k
    // tail of 1 and 3 steps (N % 8 == 4, so the f32 entry even where 64-bit words are on; 136,
    // a partial block of the wide entry), the MLP's first layer, the CNN's Dense(256) (196 row
    // blocks).
    let shapes = [
        (32, 64, 64),
        (5, 36, 20),
        (7, 100, 132),
        (3, 40, 136),
        (32, 784, 128),
        (32, 6272, 256),
    ];
    for (i, &(k, m, n)) in shapes.iter().enumerate() {
        let d = MatmulDims::new(m, n, k, true, false);
        if let Some(why) = support(dev, &d) {
            // Adapters without subgroups keep the two dispatches; the refusal says why.
            assert!(why.contains("subgroups"), "{why}");
            return;
        }
        let expected = if wide && n % 8 == 0 {
            Kernel::MatmulTextureTnAdamWide
        } else {
            Kernel::MatmulTextureTnAdam
        };
        assert_eq!(kernel(dev, &d), expected, "{k}x{m}x{n}");
        let wd = [0.0, 0.004][i % 2];
        // Packed like a model's weights: another part before this one.
        let packs: Vec<_> = (0..6).map(|_| dev.pack(&[3, m * n]).unwrap()).collect();
        let [(w1, m1, v1), (w2, m2, v2)] = [0, 3].map(|j| {
            let part = |p: usize| packs[j + p].parts()[1].clone();
            (part(0), part(1), part(2))
        });
        let w0 = up(dev, &rng.vec(m * n, -1.0, 1.0));
        for w in [&w1, &w2] {
            dev.copy(&w0, 0, w, 0, (m * n * 4) as u64).unwrap();
        }
        let g = out(dev, m * n);
        for t in 1..=3 {
            let x = up(dev, &rng.vec(k * m, -1.0, 1.0));
            // Some gradients exactly zero (a dead unit), so m and v meet the flush to zero.
            let dz: Vec<f64> = rng
                .vec(k * n, -1.0, 1.0)
                .into_iter()
                .enumerate()
                .map(|(e, v)| if e % n == 1 { 0.0 } else { v })
                .collect();
            let dz = up(dev, &dz);
            let s = adam_at(t, wd);
            mm(dev, MatmulVariant::Texture, &x, &dz, &g, &d).unwrap();
            adam_step(dev, &s, &g, &w1, &m1, &v1, m * n, AdamVia::Buffers4).unwrap();
            matmul_adam(dev, (&x, &dz), &d, &s, (&w2, (&m2, &v2))).unwrap();
        }
        for (what, a, b) in [("w", &w1, &w2), ("m", &m1, &m2), ("v", &v1, &v2)] {
            let (a, b) = (read(dev, a), read(dev, b));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert!(
                bits(&a) == bits(&b),
                "{what} of {k}x{m}x{n}, wd {wd}: fused differs from product + adam_step4"
            );
        }
        // The part before is untouched.
        assert_eq!(read(dev, &packs[3].parts()[0]), vec![0.0; 3]);
    }
}

#[test]
fn fused_update_refuses_what_it_does_not_compute() {
    let Some((dev, _)) = setup(62) else {
        return;
    };
    let cases = [
        (MatmulDims::new(64, 64, 32, false, false), "transposed"),
        (MatmulDims::new(64, 64, 32, true, true), "transposed"),
        (MatmulDims::new(64, 66, 32, true, false), "multiple of 4"),
        (MatmulDims::new(64, 64, 0, true, false), "k > 0"),
    ];
    for (d, why) in cases {
        let said = support(&dev, &d).expect("refused");
        assert!(said.contains(why) || said.contains("subgroups"), "{said}");
        assert!(!applies(&dev, &d));
        let b = out(&dev, 64 * 66);
        let err = matmul_adam(&dev, (&b, &b), &d, &adam_at(1, 0.0), (&b, (&b, &b))).unwrap_err();
        assert!(err.to_string().contains("matmul_adam"), "{err}");
    }
    // A narrow weight (a classifier head) has dense_backward, not this design.
    let head = MatmulDims::new(128, 10, 32, true, false);
    assert!(!applies(&dev, &head));
    // Whatever the weight's size (the CNN's Dense(256) kernel too: `applies` has the figures).
    for wide in [
        MatmulDims::new(784, 128, 32, true, false),
        MatmulDims::new(6272, 256, 32, true, false),
    ] {
        assert_eq!(
            applies(&dev, &wide),
            dev.info().is_cpu() && support(&dev, &wide).is_none()
        );
    }
}

#[test]
fn fused_update_checks_buffer_sizes() {
    let Some((dev, _)) = setup(63) else {
        return;
    };
    let d = MatmulDims::new(64, 64, 32, true, false);
    if support(&dev, &d).is_some() {
        return;
    }
    let (x, dz, full, short) = (
        out(&dev, 32 * 64),
        out(&dev, 32 * 64),
        out(&dev, 4096),
        out(&dev, 4000),
    );
    for (w, m, v, name) in [
        (&short, &full, &full, "w"),
        (&full, &short, &full, "m"),
        (&full, &full, &short, "v"),
    ] {
        let err = matmul_adam(&dev, (&x, &dz), &d, &adam_at(1, 0.0), (w, (m, v))).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}
