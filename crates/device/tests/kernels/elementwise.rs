//! elementwise.wgsl, fill.wgsl, shape.wgsl and random.wgsl against the reference.

use kiln_device::Activation;
use kiln_device::ops::elementwise::{BinaryOp, UnaryOp, accumulate, binary, broadcast, unary};
use kiln_device::ops::fill::fill;
use kiln_device::ops::random::dropout;
use kiln_device::ops::shape::{StridedView, gather_rows, strided_copy};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::{SIZES, out, read, setup, up};

const UNARY: [UnaryOp; 12] = [
    UnaryOp::Neg,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Sqrt,
    UnaryOp::Act(Activation::Relu),
    UnaryOp::LeakyRelu(0.3),
    UnaryOp::Act(Activation::Sigmoid),
    UnaryOp::Act(Activation::Tanh),
    UnaryOp::Clamp(-0.5, 0.25),
    UnaryOp::Pow(2.5),
    UnaryOp::Affine(-1.5, 0.75),
    UnaryOp::Abs,
];

#[test]
fn unary_ops_match_reference_on_odd_sizes() {
    let Some((dev, mut rng)) = setup(1) else {
        return;
    };
    for op in UNARY {
        let positive = matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Pow(_));
        // The odd sizes run the scalar kernel, 260 its vec4 twin (n % 4 == 0).
        for n in SIZES.into_iter().chain([260]) {
            let x = if positive {
                rng.vec(n, 0.1, 3.0)
            } else {
                rng.vec(n, -4.0, 4.0)
            };
            let (bx, by) = (up(&dev, &x), out(&dev, n));
            unary(&dev, op, &bx, &by, n).unwrap();
            assert_close(
                &format!("{op:?} n={n}"),
                &read(&dev, &by),
                &reference::unary(op, &x),
                1e-6,
                1e-5,
            );
        }
    }
}

#[test]
fn integer_powers_of_negative_numbers_keep_their_sign() {
    // WGSL's pow is NaN for negative bases; kiln's Pow follows powf instead.
    let Some((dev, mut rng)) = setup(8) else {
        return;
    };
    for p in [2.0, 3.0, -1.0] {
        let x = rng.vec(65, -3.0, -0.1);
        let (bx, by) = (up(&dev, &x), out(&dev, 65));
        unary(&dev, UnaryOp::Pow(p), &bx, &by, 65).unwrap();
        assert_close(
            &format!("pow {p}"),
            &read(&dev, &by),
            &reference::unary(UnaryOp::Pow(p), &x),
            1e-5,
            1e-5,
        );
    }
    let (bx, by) = (up(&dev, &[-2.0]), out(&dev, 1));
    unary(&dev, UnaryOp::Pow(0.5), &bx, &by, 1).unwrap();
    assert!(
        read(&dev, &by)[0].is_nan(),
        "a fractional power of a negative number is NaN, as powf"
    );
}

#[test]
fn unary_covers_a_launch_folded_into_two_dimensions() {
    let Some((dev, mut rng)) = setup(2) else {
        return;
    };
    let n = 64 * 65_535 + 777; // more than 65,535 workgroups of 64
    let x = rng.vec(n, -2.0, 2.0);
    let (bx, by) = (up(&dev, &x), out(&dev, n));
    unary(&dev, UnaryOp::Affine(2.0, 1.0), &bx, &by, n).unwrap();
    assert_close(
        "affine 2-D grid",
        &read(&dev, &by),
        &reference::unary(UnaryOp::Affine(2.0, 1.0), &x),
        1e-6,
        1e-6,
    );
}

#[test]
fn binary_ops_broadcast_like_numpy() {
    let Some((dev, mut rng)) = setup(3) else {
        return;
    };
    let shapes: [(&[usize], &[usize]); 6] = [
        (&[7], &[7]),
        (&[65], &[1]),
        (&[5, 7], &[7]),
        (&[4, 1, 3], &[5, 1]),
        (&[1], &[257]),
        (&[2, 3, 1, 5, 1, 2, 1, 3], &[4, 5, 2, 1, 2, 1]),
    ];
    let ops = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
    ];
    for (sa, sb) in shapes {
        for op in ops {
            let a = rng.vec(sa.iter().product(), -3.0, 3.0);
            let b = rng.vec(sb.iter().product(), 0.5, 2.0);
            let (want, shape) = reference::binary(op, &a, sa, &b, sb);
            let bc = broadcast(sa, sb).unwrap();
            let o = out(&dev, want.len());
            binary(&dev, op, &up(&dev, &a), &up(&dev, &b), &o, &bc).unwrap();
            assert_close(
                &format!("{op:?} {sa:?} {sb:?} -> {shape:?}"),
                &read(&dev, &o),
                &want,
                1e-6,
                1e-5,
            );
        }
    }
}

#[test]
fn accumulate_adds_in_place() {
    let Some((dev, mut rng)) = setup(4) else {
        return;
    };
    for n in SIZES {
        let (x, y) = (rng.vec(n, -1.0, 1.0), rng.vec(n, -1.0, 1.0));
        let by = up(&dev, &y);
        accumulate(&dev, &up(&dev, &x), &by, n).unwrap();
        let want: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
        assert_close("accumulate", &read(&dev, &by), &want, 1e-6, 1e-6);
    }
}

#[test]
fn fill_writes_the_value_and_nothing_past_n() {
    let Some((dev, _)) = setup(5) else { return };
    let b = dev.upload(&[9.0f32; 70]).unwrap();
    fill(&dev, &b, 65, -2.5).unwrap();
    let got = read(&dev, &b);
    assert!(got[..65].iter().all(|&v| v == -2.5));
    assert!(got[65..].iter().all(|&v| v == 9.0));
}

#[test]
fn strided_copy_permutes_slices_and_scatters() {
    let Some((dev, mut rng)) = setup(6) else {
        return;
    };
    // Permute [3, 5, 7] -> [7, 3, 5]: destination contiguous, source strides permuted.
    let x = rng.vec(105, -1.0, 1.0);
    let src = StridedView {
        offset: 0,
        strides: vec![1, 35, 7],
    };
    let dst = StridedView {
        offset: 0,
        strides: vec![15, 5, 1],
    };
    let shape = [7, 3, 5];
    let mut want = vec![0.0; 105];
    reference::strided_copy(&x, &src, &mut want, &dst, &shape);
    let o = out(&dev, 105);
    strided_copy(&dev, &up(&dev, &x), &src, &o, &dst, &shape).unwrap();
    assert_close("permute", &read(&dev, &o), &want, 0.0, 0.0);
    // Slice rows 2..5 of a [7, 9] matrix, columns 1..8 step 1, into the middle of a [4, 9] zero buffer.
    let x = rng.vec(63, -1.0, 1.0);
    let src = StridedView {
        offset: 2 * 9 + 1,
        strides: vec![9, 1],
    };
    let dst = StridedView {
        offset: 9 + 1,
        strides: vec![9, 1],
    };
    let mut want = vec![0.0; 36];
    reference::strided_copy(&x, &src, &mut want, &dst, &[3, 7]);
    let o = dev.zeros(36 * 4).unwrap();
    strided_copy(&dev, &up(&dev, &x), &src, &o, &dst, &[3, 7]).unwrap();
    assert_close("slice into", &read(&dev, &o), &want, 0.0, 0.0);
}

#[test]
fn gather_rows_picks_rows_by_an_index_buffer_across_chunks() {
    let Some((dev, mut rng)) = setup(8) else {
        return;
    };
    // Rows wider than one workgroup, of 130 words (scalar copies) and 132 (vec4 copies); repeats,
    // a window into the index buffer, an out-of-range index (a row of zeros, not another
    // buffer's data), and the dataset whole or split into 3 chunks of 20 rows (the last: 10).
    let src_rows = 50;
    let idx: Vec<u32> = vec![7, 49, 0, 3, 3, 25, 99, 41, 20];
    let bidx = dev.upload(&idx).unwrap();
    for row in [130, 132] {
        let x = rng.vec(src_rows * row, -1.0, 1.0);
        let want = reference::gather_rows(&x, row, &idx, 2, 6);
        let whole = up(&dev, &x);
        let chunks: Vec<_> = x.chunks(20 * row).map(|c| up(&dev, c)).collect();
        let chunk_refs: Vec<_> = chunks.iter().collect();
        for (srcs, chunk_rows) in [(vec![&whole], src_rows), (chunk_refs, 20)] {
            let o = out(&dev, 6 * row);
            gather_rows(&dev, &srcs, chunk_rows, src_rows, &bidx, 2, 6, row, &o).unwrap();
            assert_close("gather_rows", &read(&dev, &o), &want, 0.0, 0.0);
            // Too few indices for the window is an error, not a read past the buffer.
            let err =
                gather_rows(&dev, &srcs, chunk_rows, src_rows, &bidx, 5, 6, row, &o).unwrap_err();
            assert!(err.to_string().contains("idx"), "{err}");
        }
        // Chunks that cannot hold the rows are refused.
        let o = out(&dev, 6 * row);
        let err = gather_rows(&dev, &[&whole], 20, src_rows, &bidx, 2, 6, row, &o).unwrap_err();
        assert!(err.to_string().contains("chunks"), "{err}");
    }
}

#[test]
fn dropout_mask_matches_the_host_hash_and_rate() {
    let Some((dev, mut rng)) = setup(7) else {
        return;
    };
    let n = 10_007;
    let x = rng.vec(n, -1.0, 1.0);
    let (y, mask) = (out(&dev, n), out(&dev, n));
    dropout(&dev, &up(&dev, &x), &y, &mask, n, 0.3, 1234).unwrap();
    let want_mask = reference::dropout_mask(n, 0.3, 1234);
    assert_close("mask", &read(&dev, &mask), &want_mask, 0.0, 1e-6);
    let want_y: Vec<f64> = x.iter().zip(&want_mask).map(|(a, m)| a * m).collect();
    assert_close("y", &read(&dev, &y), &want_y, 1e-6, 1e-6);
    let dropped = want_mask.iter().filter(|&&m| m == 0.0).count() as f64 / n as f64;
    assert!((dropped - 0.3).abs() < 0.02, "dropped fraction {dropped}");
    assert_ne!(
        reference::dropout_mask(64, 0.5, 1),
        reference::dropout_mask(64, 0.5, 2),
        "seeds must differ"
    );
}
