//! matmul_texture.wgsl and matmul_texture32.wgsl (CPU adapters with subgroups): every layout
//! against the reference, 32-column blocks up to 32 columns, unaligned shapes refused (and
//! `Auto` falling back), and staging textures reused within one batch.

use kiln_device::ops::matmul::{MatmulDims, MatmulVariant, texture_support};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::matmul::check;
use crate::{mm, out, read, setup, up};

/// The texture design, or `None` (with the reason printed) on adapters without subgroups,
/// after checking that an explicit request there fails with that reason.
pub fn texture_device(seed: u64) -> Option<(kiln_device::Device, kiln_device::testing::Rng)> {
    let (dev, rng) = setup(seed)?;
    let d = MatmulDims::new(4, 4, 4, false, false);
    match texture_support(&dev, &d) {
        None => Some((dev, rng)),
        Some(why) => {
            let a = dev.zeros(64).unwrap();
            let err = mm(&dev, MatmulVariant::Texture, &a, &a, &out(&dev, 16), &d)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&why), "{err}");
            eprintln!("texture matmul not available here: {why}");
            None
        }
    }
}

#[test]
fn texture_design_matches_reference_in_every_layout() {
    let Some((dev, mut rng)) = texture_device(14) else {
        return;
    };
    // Partial 32x64 blocks, a single texel, operands spanning several texture rows with a
    // partial last row, the dense-layer shapes, and results of at most 32 columns (32x32
    // blocks, matmul_texture32.wgsl: a 32-filter convolution's column product and its weight
    // gradient) on either side of that width.
    for &(m, n, k) in &[
        (4, 4, 4),
        (36, 68, 20),
        (64, 260, 68),
        (32, 128, 784),
        (784, 128, 32),
        (1000, 32, 12),
        (12, 32, 1000),
        (36, 20, 20),
        (36, 36, 20),
    ] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            check(
                &dev,
                &mut rng,
                MatmulVariant::Texture,
                MatmulDims::new(m, n, k, ta, tb),
            );
        }
    }
    // Rows that are not a multiple of 4 are fine where M is not the contiguous dimension.
    check(
        &dev,
        &mut rng,
        MatmulVariant::Texture,
        MatmulDims::new(37, 44, 20, false, false),
    );
    check(
        &dev,
        &mut rng,
        MatmulVariant::Texture,
        MatmulDims::new(37, 45, 20, false, true),
    );
    // The same rows through the nt entry that stores vec4s (N % 4 == 0).
    check(
        &dev,
        &mut rng,
        MatmulVariant::Texture,
        MatmulDims::new(37, 44, 20, false, true),
    );
    // The k-major entry (A transposed, B not) takes any K: four steps at a time, then the last
    // K % 4 one by one.
    for k in [1, 3, 7, 65] {
        check(
            &dev,
            &mut rng,
            MatmulVariant::Texture,
            MatmulDims::new(36, 68, k, true, false),
        );
    }
    let mut d = MatmulDims::new(36, 8, 12, true, false);
    d.batch = 3;
    d.a_batch_stride = 36 * 12;
    d.b_batch_stride = 0; // B shared by every batch
    check(&dev, &mut rng, MatmulVariant::Texture, d);
}

#[test]
fn texture_design_takes_32_column_blocks_up_to_32_columns() {
    let Some((dev, _)) = texture_device(17) else {
        return;
    };
    for (n, want) in [(32, "matmul_texture_tn32"), (36, "matmul_texture_tn")] {
        let d = MatmulDims::new(64, n, 8, true, false);
        let (a, b, c) = (out(&dev, 64 * 8), out(&dev, 8 * n), out(&dev, 64 * n));
        dev.start_profile();
        mm(&dev, MatmulVariant::Texture, &a, &b, &c, &d).unwrap();
        dev.synchronize().unwrap();
        let p = dev.profile(true);
        dev.stop_profile();
        if p.timestamps {
            let names: Vec<&str> = p.kernels.iter().map(|k| k.name).collect();
            assert_eq!(names, [want], "{n} columns");
        }
    }
}

#[test]
fn texture_design_refuses_unaligned_shapes_and_auto_falls_back() {
    let Some((dev, mut rng)) = texture_device(15) else {
        return;
    };
    let d = MatmulDims::new(8, 10, 12, false, false); // B rows of 10 words
    let a = dev.zeros(4 * 96).unwrap();
    let b = dev.zeros(4 * 120).unwrap();
    let err = mm(&dev, MatmulVariant::Texture, &a, &b, &out(&dev, 80), &d)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("multiples of 4") && err.contains("10"),
        "{err}"
    );
    check(&dev, &mut rng, MatmulVariant::Auto, d);
}

#[test]
fn texture_products_recorded_back_to_back_each_see_their_own_operands() {
    // The staging textures are reused (and regrown) between products in one batch; each copy
    // must land after the previous product read the texture and before the next one does.
    let Some((dev, mut rng)) = texture_device(16) else {
        return;
    };
    let shapes = [(8, 8, 8), (64, 260, 1100), (12, 4, 8), (64, 260, 1100)];
    let mut cases = Vec::new();
    for &(m, n, k) in &shapes {
        let d = MatmulDims::new(m, n, k, false, false);
        let a = rng.vec(m * k, -1.0, 1.0);
        let b = rng.vec(k * n, -1.0, 1.0);
        let c = out(&dev, m * n);
        mm(
            &dev,
            MatmulVariant::Texture,
            &up(&dev, &a),
            &up(&dev, &b),
            &c,
            &d,
        )
        .unwrap();
        cases.push((d, a, b, c));
    }
    for (d, a, b, c) in &cases {
        let tol = 1e-5 * (d.k as f64).sqrt();
        assert_close(
            &format!("{d:?}"),
            &read(&dev, c),
            &reference::matmul(a, b, d),
            tol,
            1e-4,
        );
    }
}
