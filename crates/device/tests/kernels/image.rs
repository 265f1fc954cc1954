//! image.wgsl's affine warp against the reference for every fill mode and interpolation, on
//! rotations, zooms, shifts and resizes whose samples fall outside the image; flips and
//! integer shifts copy values exactly.

use kiln_device::ops::image::{FillMode, Interpolation, Sampling, WarpDims, warp_affine};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::{out, read, setup, up};

/// (a0 a1 a2 b0 b1 b2 0 0) of a rotation by `angle` about the centre, scaled by `zoom` and
/// shifted by (dx, dy).
fn transform(angle: f64, zoom: f64, dx: f64, dy: f64, h: usize, w: usize) -> [f64; 8] {
    let (cy, cx) = ((h - 1) as f64 / 2.0, (w - 1) as f64 / 2.0);
    let (c, s) = (angle.cos() * zoom, angle.sin() * zoom);
    [
        c,
        -s,
        cx - c * cx + s * cy + dx,
        s,
        c,
        cy - s * cx - c * cy + dy,
        0.0,
        0.0,
    ]
}

#[test]
fn warp_matches_reference_for_every_fill_and_interpolation() {
    let Some((dev, mut rng)) = setup(70) else {
        return;
    };
    let d = WarpDims {
        n: 3,
        h: 7,
        w: 9,
        c: 2,
        oh: 6,
        ow: 11,
    };
    let x = rng.vec(d.n * d.h * d.w * d.c, -1.0, 1.0);
    let t: Vec<f64> = [
        transform(0.7, 1.3, 2.5, -1.25, d.h, d.w),
        transform(-2.1, 0.6, -7.3, 4.1, d.h, d.w),
        // Far outside: reflect and wrap fold the coordinate more than once.
        transform(0.0, 1.0, 30.2, -22.7, d.h, d.w),
    ]
    .concat();
    for fill in [
        FillMode::Constant,
        FillMode::Reflect,
        FillMode::Wrap,
        FillMode::Nearest,
    ] {
        for interpolation in [Interpolation::Bilinear, Interpolation::Nearest] {
            let s = Sampling {
                fill,
                fill_value: 0.5,
                interpolation,
            };
            let y = out(&dev, d.n * d.oh * d.ow * d.c);
            warp_affine(&dev, &up(&dev, &x), &up(&dev, &t), &y, &d, s).unwrap();
            assert_close(
                &format!("warp {fill:?} {interpolation:?}"),
                &read(&dev, &y),
                &reference::warp_affine(&x, &t, &d, s),
                1e-4,
                1e-4,
            );
        }
    }
}

#[test]
fn flips_and_integer_shifts_copy_values_exactly() {
    let Some((dev, mut rng)) = setup(71) else {
        return;
    };
    let d = WarpDims {
        n: 2,
        h: 4,
        w: 5,
        c: 3,
        oh: 4,
        ow: 5,
    };
    let x = rng.vec(d.n * d.h * d.w * d.c, -1.0, 1.0);
    // Sample 0 flipped left-right, sample 1 shifted by (2, -1).
    let t = [
        [-1.0, 0.0, 4.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        [1.0, 0.0, -2.0, 0.0, 1.0, 1.0, 0.0, 0.0],
    ]
    .concat();
    let y = out(&dev, x.len());
    let s = Sampling {
        fill: FillMode::Constant,
        fill_value: 0.0,
        interpolation: Interpolation::Bilinear,
    };
    warp_affine(&dev, &up(&dev, &x), &up(&dev, &t), &y, &d, s).unwrap();
    let got = read(&dev, &y);
    let at = |n: usize, r: usize, c: usize, k: usize| ((n * 4 + r) * 5 + c) * 3 + k;
    for r in 0..4 {
        for c in 0..5 {
            for k in 0..3 {
                assert_eq!(got[at(0, r, c, k)], x[at(0, r, 4 - c, k)] as f32);
                let shifted = if c >= 2 && r + 1 < 4 {
                    x[at(1, r + 1, c - 2, k)] as f32
                } else {
                    0.0
                };
                assert_eq!(got[at(1, r, c, k)], shifted);
            }
        }
    }
}
