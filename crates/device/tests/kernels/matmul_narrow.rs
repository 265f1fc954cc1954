//! The narrow matmul design (`matmul_texture_narrow`, results of at most 16 columns) against the
//! f64 reference: every transpose layout, odd shapes with no texel alignment, batches with a
//! shared operand, the bias + activation epilogue, what Auto picks on CPU adapters, and the
//! refusal of a wider result.

use kiln_device::Activation;
use kiln_device::ops::matmul::{
    MatmulDims, MatmulOptions, MatmulVariant, NARROW_MAX_N, matmul, narrow_support,
};
use kiln_device::reference;
use kiln_device::testing::assert_close;

use crate::{out, read, setup, up};

fn narrow_device(seed: u64) -> Option<(kiln_device::Device, kiln_device::testing::Rng)> {
    let (dev, rng) = setup(seed)?;
    match narrow_support(&dev, &MatmulDims::new(1, 1, 1, false, false)) {
        None => Some((dev, rng)),
        Some(why) => {
            eprintln!("narrow matmul not available here: {why}");
            None
        }
    }
}

fn run(
    dev: &kiln_device::Device,
    rng: &mut kiln_device::testing::Rng,
    d: MatmulDims,
    o: (Activation, bool),
) {
    let a_len = (d.batch - 1) * d.a_batch_stride + d.m * d.k;
    let b_len = (d.batch - 1) * d.b_batch_stride + d.k * d.n;
    let (a, b, bias) = (
        rng.vec(a_len, -1.0, 1.0),
        rng.vec(b_len, -1.0, 1.0),
        rng.vec(d.n, -1.0, 1.0),
    );
    let (act, with_bias) = o;
    let bbias = up(dev, &bias);
    let opts = MatmulOptions {
        bias: with_bias.then_some(&bbias),
        act,
        variant: MatmulVariant::Narrow,
    };
    let c = out(dev, d.batch * d.m * d.n);
    matmul(dev, &up(dev, &a), &up(dev, &b), &c, &d, &opts).unwrap();
    let f = |v: f64| match act {
        Activation::Relu => v.max(0.0),
        Activation::Tanh => v.tanh(),
        _ => v,
    };
    let want: Vec<f64> = reference::matmul(&a, &b, &d)
        .iter()
        .enumerate()
        .map(|(i, &v)| f(v + if with_bias { bias[i % d.n] } else { 0.0 }))
        .collect();
    let what = format!("narrow {act:?} bias {with_bias} {d:?}");
    assert_close(
        &what,
        &read(dev, &c),
        &want,
        1e-5 * (d.k as f64).sqrt(),
        1e-4,
    );
}

#[test]
fn narrow_design_matches_reference_in_every_layout() {
    let Some((dev, mut rng)) = narrow_device(17) else {
        return;
    };
    let mut i = 0;
    for (m, n, k) in [
        (1, 1, 1),
        (7, 3, 5),
        (32, 10, 128),
        (128, 10, 32),
        (65, 16, 7),
        (9, 13, 33),
    ] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let act = [Activation::Linear, Activation::Relu, Activation::Tanh][i % 3];
            run(
                &dev,
                &mut rng,
                MatmulDims::new(m, n, k, ta, tb),
                (act, i % 2 == 0),
            );
            i += 1;
        }
    }
    // A batch of 3 products sharing B.
    let mut d = MatmulDims::new(9, 10, 6, false, false);
    d.batch = 3;
    d.a_batch_stride = 9 * 6;
    d.b_batch_stride = 0;
    run(&dev, &mut rng, d, (Activation::Linear, false));
}

#[test]
fn auto_takes_the_narrow_design_for_a_head_on_cpu_adapters_and_refuses_wider() {
    let Some((dev, _)) = narrow_device(18) else {
        return;
    };
    let d = MatmulDims::new(4, NARROW_MAX_N + 1, 4, false, false);
    let why = narrow_support(&dev, &d).expect("17 columns are too wide");
    assert!(why.contains("17 columns"), "{why}");
    let (a, b, c) = (out(&dev, 16), out(&dev, 68), out(&dev, 68));
    let o = MatmulOptions {
        variant: MatmulVariant::Narrow,
        ..Default::default()
    };
    let err = matmul(&dev, &a, &b, &c, &d, &o).unwrap_err().to_string();
    assert!(
        err.contains("narrow design") && err.contains("17 columns"),
        "{err}"
    );
    // Auto on a CPU adapter: the head product runs in one dispatch of the narrow kernel.
    if dev.info().is_cpu() {
        let d = MatmulDims::new(32, 10, 128, false, false);
        let (a, b, c) = (out(&dev, 32 * 128), out(&dev, 1280), out(&dev, 320));
        dev.start_profile();
        matmul(&dev, &a, &b, &c, &d, &MatmulOptions::default()).unwrap();
        dev.synchronize().unwrap();
        let p = dev.profile(true);
        dev.stop_profile();
        if p.timestamps {
            assert!(
                p.kernels.iter().any(|k| k.name == "matmul_texture_narrow"),
                "{:?}",
                p.kernels
            );
        }
    }
}
