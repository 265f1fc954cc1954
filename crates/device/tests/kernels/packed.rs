//! Packed buffers (`Device::pack`): views bind, copy, clear and stage at their offsets, and a
//! kernel writing one view leaves its neighbours and the padding alone.

use kiln_device::Activation;
use kiln_device::ops::elementwise::{UnaryOp, unary};
use kiln_device::ops::matmul::{MatmulDims, MatmulVariant, texture_support};
use kiln_device::reference;
use kiln_device::testing::{assert_close, to_f32};

use crate::{mm, read, setup};

#[test]
fn views_bind_copy_clear_and_stage_at_their_offsets() {
    let Some((dev, mut rng)) = setup(41) else {
        return;
    };
    // A [7, 9] times B [9, 5] into C [7, 5], each a view; odd sizes leave padding after each.
    let d = MatmulDims::new(7, 5, 9, false, false);
    let words = [3, 7 * 9, 9 * 5, 7 * 5, 4];
    let pack = dev.pack(&words).unwrap();
    let [s, a, b, _, t] = [0, 1, 2, 3, 4].map(|i| pack.parts()[i].clone());
    // Outputs go to another buffer packed alike (as gradients do): wgpu tracks a buffer's use
    // as a whole, so a kernel may not write one view while reading another of the same buffer.
    let out_pack = dev.pack(&words).unwrap();
    let c = out_pack.parts()[3].clone();
    assert!(
        mm(
            &dev,
            MatmulVariant::RegisterTile,
            &a,
            &b,
            &pack.parts()[3],
            &d
        )
        .is_err()
    );
    assert_eq!(pack.part_words(), &words);
    let (av, bv) = (rng.vec(7 * 9, -1.0, 1.0), rng.vec(9 * 5, -1.0, 1.0));
    let (sv, tv) = (vec![11.0f32, -12.0, 13.0], vec![-1.0f32, 2.0, -3.0, 4.0]);
    dev.write(&a, &to_f32(&av)).unwrap();
    dev.write(&b, &to_f32(&bv)).unwrap();
    dev.write(&s, &sv).unwrap();
    dev.write(&t, &tv).unwrap();
    let want = reference::matmul(&av, &bv, &d);
    let mut variants = vec![MatmulVariant::RegisterTile, MatmulVariant::SharedTiles];
    if texture_support(&dev, &d).is_none() {
        variants.push(MatmulVariant::Texture);
    }
    for v in variants {
        dev.clear(&c).unwrap();
        mm(&dev, v, &a, &b, &c, &d).unwrap();
        assert_close(
            &format!("{v:?} on views"),
            &read(&dev, &c),
            &want,
            1e-5,
            1e-4,
        );
    }
    // relu over the 4-word view takes the vec4 kernel; an in-place launch is refused (one
    // buffer bound as input and output), through a scratch buffer it works.
    assert!(unary(&dev, UnaryOp::Act(Activation::Relu), &t, &t, 4).is_err());
    let relu = dev.alloc(16).unwrap();
    unary(&dev, UnaryOp::Act(Activation::Relu), &t, &relu, 4).unwrap();
    dev.copy(&relu, 0, &t, 0, 16).unwrap();
    let tv = vec![0.0, 2.0, 0.0, 4.0];
    assert_eq!(read(&dev, &t), tv);
    assert_eq!(
        read(&dev, &s),
        sv,
        "a write into a later view reached an earlier one"
    );
    // The whole buffer: every part where its offset says, zeros everywhere else.
    let whole = read(&dev, pack.whole());
    let mut expected = vec![0.0f32; whole.len()];
    for (i, part) in [
        sv.clone(),
        to_f32(&av),
        to_f32(&bv),
        vec![0.0; 35],
        tv.clone(),
    ]
    .iter()
    .enumerate()
    {
        let at = part_offset(&words, i) / 4;
        expected[at..at + part.len()].copy_from_slice(part);
    }
    assert_eq!(
        whole, expected,
        "a part is misplaced or the padding was written"
    );
    let whole_out = read(&dev, out_pack.whole());
    let at = part_offset(&words, 3) / 4;
    assert_eq!(whole_out[at..at + 35], read(&dev, &c)[..]);
    assert_eq!(
        whole_out.iter().filter(|&&x| x != 0.0).count(),
        (0..35).filter(|&i| whole_out[at + i] != 0.0).count(),
        "the matmul wrote outside its view"
    );
    // Clearing one view clears only it.
    dev.clear(&s).unwrap();
    assert_eq!(read(&dev, &s), vec![0.0; 3]);
    assert_eq!(read(&dev, &t), tv);
}

/// Byte offset of part `i` for an adapter whose binding alignment is at most 256 (lavapipe and
/// the common GPUs).
fn part_offset(words: &[usize], i: usize) -> usize {
    let mut end = 0usize;
    let mut at = 0;
    for &w in &words[..=i] {
        at = end.next_multiple_of(256);
        end = at + (w * 4).max(16).next_multiple_of(16);
    }
    at
}

#[test]
fn a_pack_larger_than_a_binding_is_an_error_that_says_so() {
    let Some((dev, _)) = setup(42) else {
        return;
    };
    let too_many = (dev.info().max_storage_buffer_binding_size / 4) as usize + 1;
    assert!(!dev.pack_fits(&[too_many]));
    let err = dev.pack(&[16, too_many]).unwrap_err().to_string();
    assert!(
        err.contains("pack") && err.contains("more than this adapter"),
        "{err}"
    );
}

#[test]
fn a_span_covers_its_parts_and_the_padding_between_only() {
    let Some((dev, _)) = setup(43) else {
        return;
    };
    let words = [3, 70, 1, 5];
    let (pack, out) = (dev.pack(&words).unwrap(), dev.pack(&words).unwrap());
    let values =
        |i: usize| -> Vec<f32> { (0..words[i]).map(|j| (10 * i + j) as f32 - 30.0).collect() };
    for (i, part) in pack.parts().iter().enumerate() {
        dev.write(part, &values(i)).unwrap();
    }
    assert!(pack.span(2..2).is_none() && pack.span(3..5).is_none());
    let (src, dst) = (pack.span(1..3).unwrap(), out.span(1..3).unwrap());
    // From part 1's start to part 2's end: 70 words, padding to the next 256 bytes, 1 word.
    assert_eq!(
        src.words(),
        part_offset(&words, 2) / 4 - part_offset(&words, 1) / 4 + 1
    );
    let n = src.words();
    unary(&dev, UnaryOp::Neg, &src, &dst, n).unwrap();
    let neg = |v: Vec<f32>| v.into_iter().map(|x: f32| -x).collect::<Vec<_>>();
    assert_eq!(read(&dev, &out.parts()[1]), neg(values(1)));
    assert_eq!(read(&dev, &out.parts()[2]), neg(values(2)));
    assert_eq!(read(&dev, &out.parts()[0]), vec![0.0; 3]);
    assert_eq!(read(&dev, &out.parts()[3]), vec![0.0; 5]);
}
