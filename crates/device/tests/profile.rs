//! The profiler: with timestamp queries (lavapipe has them) every dispatch of a profiled submit
//! is timed under its kernel's name, the gaps between dispatches under the kind of work the
//! encoder held there, the counts add up, profiling leaves results unchanged, and once stopped
//! nothing more is recorded.

use kiln_device::ops::elementwise::{UnaryOp, unary};
use kiln_device::ops::fill::fill;
use kiln_device::testing::test_device;

#[test]
fn a_profile_times_every_dispatch_by_kernel() {
    let Some(dev) = test_device() else { return };
    let n = 1 << 16;
    let x = dev.alloc((n * 4) as u64).unwrap();
    let y = dev.alloc((n * 4) as u64).unwrap();
    dev.start_profile();
    for _ in 0..3 {
        fill(&dev, &x, n, -2.0).unwrap();
        unary(&dev, UnaryOp::Exp, &x, &y, n).unwrap();
        // A buffer copy and a clear between the second and third dispatch.
        dev.copy(&x, 0, &y, 0, 64).unwrap();
        dev.clear(&y).unwrap();
        unary(&dev, UnaryOp::Neg, &x, &y, n).unwrap();
        dev.submit();
    }
    let p = dev.profile(true);
    assert_eq!(p.submits, 3);
    assert_eq!(p.dispatches, 9);
    if dev.info().timestamp_queries {
        assert!(p.timestamps);
        let total: u64 = p.kernels.iter().map(|k| k.dispatches).sum();
        assert_eq!(total, 9, "{p:?}");
        assert!(p.kernels.iter().any(|k| k.name.contains("fill")), "{p:?}");
        assert!(p.gpu_total() > std::time::Duration::ZERO);
        // Per submit: fill -> exp (a bare pass change, or exp's input staged on CPU adapters),
        // then exp -> neg with the copy and the clear.
        let gaps: Vec<(&str, u64)> = p.between.iter().map(|g| (g.name, g.dispatches)).collect();
        assert_eq!(gaps.iter().map(|g| g.1).sum::<u64>(), 6, "{gaps:?}");
        let first = if dev.info().is_cpu() {
            "staging copies"
        } else {
            "pass changes"
        };
        assert!(gaps.contains(&(first, 3)), "{gaps:?}");
        assert!(
            gaps.iter()
                .any(|&(name, n)| n == 3 && name.ends_with("buffer copies and clears")),
            "{gaps:?}"
        );
        assert_eq!(p.between_total(), p.between.iter().map(|g| g.total).sum());
        assert!(
            p.kernels.windows(2).all(|w| w[0].total >= w[1].total),
            "most time first"
        );
    }
    let table = p.table();
    assert!(table.contains("3 submits, 9 dispatches"), "{table}");
    // Profiling changes timing, never results.
    assert_eq!(dev.read_f32(&y).unwrap()[..4], [2.0; 4]);
    dev.stop_profile();
    fill(&dev, &x, n, 1.0).unwrap();
    dev.submit();
    assert_eq!(
        dev.profile(false),
        kiln_device::Profile {
            timestamps: p.timestamps,
            ..Default::default()
        }
    );
}
