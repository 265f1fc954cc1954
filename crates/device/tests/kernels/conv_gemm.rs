//! conv2d as column matrix + matmul (`im2col.wgsl`, `ops/conv2d_gemm.rs`): forward with every
//! epilogue activation, weight gradient and input gradient against the f64 reference, over
//! strides, Keras padding, kernels that are not square, and channel counts that take the scalar
//! (C = 1, 3) and the vec4 (C = 4, 8) entries, with K = KH*KW*C both padded and not.

use kiln_device::Activation as Act;
use kiln_device::ops::conv2d::{
    Conv2dDims, ConvOptions, ConvVia, Padding, conv2d, conv2d_backward_input,
    conv2d_backward_weight, conv2d_backward_weight_from_columns, conv2d_keeping_columns,
};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::{out, read, setup, up};

fn cases() -> Vec<Conv2dDims> {
    let mut v = Vec::new();
    for (h, w) in [(7, 5), (9, 9)] {
        for (kh, kw) in [(1, 1), (3, 3), (2, 3)] {
            for (sh, sw) in [(1, 1), (2, 2), (2, 1)] {
                for padding in [Padding::Valid, Padding::Same] {
                    for (c, f) in [(1, 4), (3, 12), (4, 4), (8, 12), (1, 32)] {
                        let d = Conv2dDims {
                            n: 2,
                            h,
                            w,
                            c,
                            f,
                            kh,
                            kw,
                            sh,
                            sw,
                            padding,
                        };
                        if d.output().is_some() {
                            v.push(d);
                        }
                    }
                }
            }
        }
    }
    v
}

#[test]
fn conv2d_as_matmul_matches_reference_forward_and_backward() {
    let Some((dev, mut rng)) = setup(44) else {
        return;
    };
    for (i, d) in cases().into_iter().enumerate() {
        let (oh, ow, _, _) = d.output().unwrap();
        let (xw, yw, ww) = (
            d.n * d.h * d.w * d.c,
            d.n * oh * ow * d.f,
            d.kh * d.kw * d.c * d.f,
        );
        let x = rng.vec(xw, -1.0, 1.0);
        let w = rng.vec(ww, -1.0, 1.0);
        let b = rng.vec(d.f, -1.0, 1.0);
        let dy = rng.vec(yw, -1.0, 1.0);
        let (bx, bw, bb, bdy) = (up(&dev, &x), up(&dev, &w), up(&dev, &b), up(&dev, &dy));
        // One activation per case, cycling: every one meets every channel count.
        let (act, f): (Act, fn(f64) -> f64) = match i % 4 {
            0 => (Act::Linear, |z| z),
            1 => (Act::Relu, |z| z.max(0.0)),
            2 => (Act::Sigmoid, |z| 1.0 / (1.0 + (-z).exp())),
            _ => (Act::Tanh, f64::tanh),
        };
        let y = out(&dev, yw);
        let o = ConvOptions {
            bias: Some(&bb),
            act,
            via: ConvVia::Gemm,
        };
        conv2d(&dev, &bx, &bw, &y, &d, &o).unwrap();
        let want: Vec<f64> = reference::conv2d(&x, &w, Some(&b), &d)
            .into_iter()
            .map(f)
            .collect();
        assert_close(
            &format!("y {act:?} {d:?}"),
            &read(&dev, &y),
            &want,
            1e-5,
            1e-5,
        );
        let dw = out(&dev, ww);
        conv2d_backward_weight(&dev, &bx, &bdy, &dw, &d, ConvVia::Gemm).unwrap();
        let want = reference::conv2d_backward_weight(&x, &dy, &d);
        assert_close(&format!("dw {d:?}"), &read(&dev, &dw), &want, 1e-4, 1e-5);
        // The same from the column matrix the forward pass kept.
        let cols = conv2d_keeping_columns(&dev, &bx, &bw, &y, &d, &o)
            .unwrap()
            .expect("the matmul path keeps a small column matrix");
        let dw = out(&dev, ww);
        conv2d_backward_weight_from_columns(&dev, &cols, &bdy, &dw).unwrap();
        assert_close(
            &format!("dw kept {d:?}"),
            &read(&dev, &dw),
            &want,
            1e-4,
            1e-5,
        );
        let dx = out(&dev, xw);
        conv2d_backward_input(&dev, &bdy, &bw, &dx, &d, ConvVia::Gemm).unwrap();
        let want = reference::conv2d_backward_input(&dy, &w, &d);
        assert_close(&format!("dx {d:?}"), &read(&dev, &dx), &want, 1e-4, 1e-5);
    }
}

/// Enough output positions (N*OH*OW = 1,024 to 4,096) that the weight gradient's product is
/// split along them into 2 to 8 slices and the slices summed (`backward_weight_gemm`), with K
/// padded (C = 1, 3) and not (C = 4).
#[test]
fn the_weight_gradient_split_over_output_positions_matches_reference() {
    let Some((dev, mut rng)) = setup(46) else {
        return;
    };
    for (n, c, f) in [(4, 1, 8), (8, 3, 4), (16, 4, 12)] {
        let d = Conv2dDims {
            n,
            h: 16,
            w: 16,
            c,
            f,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            padding: Padding::Same,
        };
        let (xw, yw) = (n * 256 * c, n * 256 * f);
        let x = rng.vec(xw, -1.0, 1.0);
        let dy = rng.vec(yw, -1.0, 1.0);
        let dw = out(&dev, 9 * c * f);
        conv2d_backward_weight(&dev, &up(&dev, &x), &up(&dev, &dy), &dw, &d, ConvVia::Gemm)
            .unwrap();
        let want = reference::conv2d_backward_weight(&x, &dy, &d);
        assert_close(&format!("dw {d:?}"), &read(&dev, &dw), &want, 1e-4, 1e-4);
    }
}

#[test]
fn the_matmul_path_refuses_filters_that_are_not_a_multiple_of_4() {
    let Some((dev, _)) = setup(45) else {
        return;
    };
    let d = Conv2dDims {
        n: 1,
        h: 5,
        w: 5,
        c: 2,
        f: 5,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        padding: Padding::Same,
    };
    let (x, w, y) = (out(&dev, 50), out(&dev, 90), out(&dev, 125));
    let gemm = ConvOptions {
        via: ConvVia::Gemm,
        ..Default::default()
    };
    let err = conv2d(&dev, &x, &w, &y, &d, &gemm).unwrap_err().to_string();
    assert!(
        err.contains("multiple of 4") && err.contains("filters (5)"),
        "{err}"
    );
}

/// im2col splits its index with the prelude's `udiv`, in f32 when every dividend is below 2^20
/// (`Overrides::small_div`): column matrices just under and just past that many invocations
/// (3 per row with C = 1, 9 with C = 4 and a 3x3 kernel), forward against the reference.
#[test]
fn column_matrices_on_both_sides_of_the_f32_division_bound() {
    let Some((dev, mut rng)) = setup(47) else {
        return;
    };
    for (c, h) in [(1, 591), (1, 592), (4, 341), (4, 342)] {
        let d = Conv2dDims {
            n: 1,
            h,
            w: h,
            c,
            f: 4,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            padding: Padding::Same,
        };
        let x = rng.vec(h * h * c, -1.0, 1.0);
        let w = rng.vec(9 * c * 4, -1.0, 1.0);
        let y = out(&dev, h * h * 4);
        let o = ConvOptions {
            bias: None,
            act: Act::Linear,
            via: ConvVia::Gemm,
        };
        conv2d(&dev, &up(&dev, &x), &up(&dev, &w), &y, &d, &o).unwrap();
        let want = reference::conv2d(&x, &w, None, &d);
        assert_close(&format!("{d:?}"), &read(&dev, &y), &want, 1e-5, 1e-4);
    }
}
