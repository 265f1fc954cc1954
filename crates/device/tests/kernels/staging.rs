//! Staged inputs kept between launches (`stage_cache.rs`): an operand staged again unchanged is
//! not copied again, and every way a buffer changes (a kernel's output, a copy, a clear, a
//! write into part of it, the pool handing it out again) makes the next launch copy it anew,
//! so each product sees the operands as they are when it is recorded. Texture matmuls (CPU
//! adapters with subgroups) stage both operands.

use kiln_device::ops::fill::fill;
use kiln_device::ops::matmul::{MatmulDims, MatmulVariant};
use kiln_device::reference;
use kiln_device::testing::assert_close;
use kiln_device::{Device, GpuBuffer};

use crate::matmul_texture::texture_device;
use crate::{mm, out, read, up};

/// C = A B (texture design) recorded now; returns C and the staging copies it recorded.
fn product(dev: &Device, a: &GpuBuffer, b: &GpuBuffer, d: &MatmulDims) -> (GpuBuffer, u64) {
    let c = out(dev, d.m * d.n);
    let before = dev.counters();
    mm(dev, MatmulVariant::Texture, a, b, &c, d).unwrap();
    (c, dev.counters().since(&before).staging_copies)
}

fn check(dev: &Device, what: &str, c: &GpuBuffer, a: &[f64], b: &[f64], d: &MatmulDims) {
    let want = reference::matmul(a, b, d);
    assert_close(what, &read(dev, c), &want, 1e-4, 1e-4);
}

#[test]
fn an_operand_is_copied_again_only_after_something_changed_it() {
    let Some((dev, mut rng)) = texture_device(31) else {
        return;
    };
    let d = MatmulDims::new(36, 40, 20, false, false);
    let (ak, bk) = (d.m * d.k, d.k * d.n);
    // A has 64 words past the part the product reads.
    let mut a = rng.vec(ak + 64, -1.0, 1.0);
    let mut b = rng.vec(bk, -1.0, 1.0);
    let (ga, gb) = (up(&dev, &a), up(&dev, &b));
    let mut results = Vec::new();
    let (c, copies) = product(&dev, &ga, &gb, &d);
    assert_eq!(copies, 2, "both operands staged");
    results.push(("first", c, a.clone(), b.clone()));
    let (c, copies) = product(&dev, &ga, &gb, &d);
    assert_eq!(copies, 0, "neither changed");
    results.push(("again", c, a.clone(), b.clone()));

    // A kernel writes A.
    fill(&dev, &ga, ak, 0.5).unwrap();
    a[..ak].fill(0.5);
    let (c, copies) = product(&dev, &ga, &gb, &d);
    assert_eq!(copies, 1, "A after a kernel wrote it");
    results.push(("kernel output", c, a.clone(), b.clone()));

    // A copy overwrites B.
    b = rng.vec(bk, -1.0, 1.0);
    dev.write(&gb, &kiln_device::testing::to_f32(&b)).unwrap();
    let (c, copies) = product(&dev, &ga, &gb, &d);
    assert_eq!(copies, 1, "B after a copy into it");
    results.push(("copy", c, a.clone(), b.clone()));

    // Past the part the product reads: no new copy. Its last word: a new one.
    let src = up(&dev, &[3.0; 16]);
    dev.copy(&src, 0, &ga, (ak * 4) as u64, 64).unwrap();
    a[ak..ak + 16].fill(3.0);
    let (c, copies) = product(&dev, &ga, &gb, &d);
    assert_eq!(copies, 0, "a write after the staged range");
    results.push(("disjoint write", c, a.clone(), b.clone()));
    dev.copy(&src, 0, &ga, (ak * 4 - 4) as u64, 4).unwrap();
    a[ak - 1] = 3.0;
    let (c, copies) = product(&dev, &ga, &gb, &d);
    assert_eq!(copies, 1, "a write over its last word");
    results.push(("overlapping write", c, a.clone(), b.clone()));

    // A clear.
    dev.clear(&gb).unwrap();
    b.fill(0.0);
    let (c, copies) = product(&dev, &ga, &gb, &d);
    assert_eq!(copies, 1, "B after a clear");
    results.push(("clear", c, a.clone(), b.clone()));

    for (what, c, a, b) in &results {
        check(&dev, what, c, &a[..ak], b, &d);
    }
}

#[test]
fn a_buffer_handed_out_again_by_the_pool_is_staged_anew() {
    let Some((dev, mut rng)) = texture_device(32) else {
        return;
    };
    let d = MatmulDims::new(36, 40, 20, false, false);
    let b = rng.vec(d.k * d.n, -1.0, 1.0);
    let gb = up(&dev, &b);
    for round in 0..4 {
        // A fresh upload each round, of the same size: after the submit the dropped buffer is
        // free, so the pool hands the same one out again with new contents.
        let a = rng.vec(d.m * d.k, -1.0, 1.0);
        let ga = up(&dev, &a);
        let (c, copies) = product(&dev, &ga, &gb, &d);
        assert_eq!(copies, if round == 0 { 2 } else { 1 }, "round {round}");
        check(&dev, &format!("round {round}"), &c, &a, &b, &d);
        drop(ga);
        dev.submit();
    }
}
