//! Test support shared by kiln's test suites (and usable in users' own): the one way tests get
//! a device, a seeded RNG, and closeness checks.
//!
//! `test_device()` returns `None` with a printed reason when there is no adapter, unless
//! `REQUIRE_GPU=1`, where a missing adapter fails the test: CI sets it so a green run can never
//! hide skipped GPU tests.

use crate::{Device, DeviceError};

/// The device for a GPU test, or `None` (test skipped, reason printed) when no adapter exists
/// and `REQUIRE_GPU` is not `1`.
pub fn test_device() -> Option<Device> {
    match Device::new() {
        Ok(d) => Some(d),
        Err(e @ DeviceError::NoAdapter { .. }) => {
            if std::env::var("REQUIRE_GPU").as_deref() == Ok("1") {
                panic!("REQUIRE_GPU=1 but no adapter is available: {e}");
            }
            eprintln!("skipping GPU test: {e}");
            None
        }
        Err(e) => panic!("opening the device failed: {e}"),
    }
}

pub use crate::rng::Rng;

/// f64 values as f32 (for uploads).
pub fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Panics with the first mismatch when |got - want| > atol + rtol |want| anywhere.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs expected {}",
        got.len(),
        want.len()
    );
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let g = g as f64;
        let ok = (g - w).abs() <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan());
        assert!(
            ok,
            "{what}: element {i} is {g}, expected {w} (atol {atol}, rtol {rtol})"
        );
    }
}
