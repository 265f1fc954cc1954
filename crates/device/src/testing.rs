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

/// SplitMix64: small, seeded, reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// `n` values uniform in [lo, hi), rounded to f32 so GPU and reference see the same inputs.
    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n)
            .map(|_| (lo + (hi - lo) * self.uniform()) as f32 as f64)
            .collect()
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

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
