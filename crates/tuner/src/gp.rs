//! A Gaussian-process regressor over points of the unit cube, for the Bayesian oracle: a
//! Matern 5/2 kernel, k(r) = (1 + sqrt5 r/l + 5 r^2 / (3 l^2)) exp(-sqrt5 r/l), with observation
//! noise `alpha` on the diagonal (KerasTuner's default 1e-4) and targets standardised to mean 0,
//! variance 1. The length scale l is the one of a small grid with the highest log marginal
//! likelihood, -1/2 y^T K^-1 y - sum log L_ii - n/2 log 2 pi, where K = L L^T (Cholesky).
//! Prediction at x: mean k*^T K^-1 y, variance k(0) - |L^-1 k*|^2.
//!
//! Hand-written (about 100 lines) rather than a linear-algebra crate: the matrices are at most
//! a few hundred trials square, and a dependency would add more build time than this file.

/// A fitted process.
pub(crate) struct Gp {
    x: Vec<Vec<f64>>,
    /// Lower Cholesky factor of K + alpha I.
    l: Vec<Vec<f64>>,
    /// K^-1 y (standardised y).
    weights: Vec<f64>,
    length: f64,
    y_mean: f64,
    y_std: f64,
}

const LENGTH_GRID: [f64; 7] = [0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0];

fn matern52(a: &[f64], b: &[f64], length: f64) -> f64 {
    let r = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
        / length;
    let s = 5f64.sqrt() * r;
    (1.0 + s + s * s / 3.0) * (-s).exp()
}

/// Lower Cholesky factor of `k`, or None when it is not positive definite.
fn cholesky(k: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = k.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|p| l[i][p] * l[j][p]).sum();
            if i == j {
                let d = k[i][i] - s;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (k[i][j] - s) / l[j][j];
            }
        }
    }
    Some(l)
}

/// Solves L z = b (forward substitution).
fn forward(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; b.len()];
    for i in 0..b.len() {
        let s: f64 = (0..i).map(|p| l[i][p] * z[p]).sum();
        z[i] = (b[i] - s) / l[i][i];
    }
    z
}

/// Solves L^T w = z (back substitution).
fn backward(l: &[Vec<f64>], z: &[f64]) -> Vec<f64> {
    let n = z.len();
    let mut w = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|p| l[p][i] * w[p]).sum();
        w[i] = (z[i] - s) / l[i][i];
    }
    w
}

impl Gp {
    /// Fits `y` at `x` (at least one point), or None when no length scale gives a usable
    /// kernel matrix.
    pub(crate) fn fit(x: &[Vec<f64>], y: &[f64], alpha: f64) -> Option<Gp> {
        let n = y.len() as f64;
        let y_mean = y.iter().sum::<f64>() / n;
        let var = y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / n;
        let y_std = if var > 1e-24 { var.sqrt() } else { 1.0 };
        let ys: Vec<f64> = y.iter().map(|v| (v - y_mean) / y_std).collect();
        let mut best: Option<(f64, Gp)> = None;
        for length in LENGTH_GRID {
            let k: Vec<Vec<f64>> = (0..x.len())
                .map(|i| {
                    (0..x.len())
                        .map(|j| matern52(&x[i], &x[j], length) + if i == j { alpha } else { 0.0 })
                        .collect()
                })
                .collect();
            let Some(l) = cholesky(&k) else { continue };
            let z = forward(&l, &ys);
            let weights = backward(&l, &z);
            let fit = -0.5 * z.iter().map(|v| v * v).sum::<f64>()
                - (0..x.len()).map(|i| l[i][i].ln()).sum::<f64>();
            if best.as_ref().is_none_or(|(f, _)| fit > *f) {
                let gp = Gp {
                    x: x.to_vec(),
                    l,
                    weights,
                    length,
                    y_mean,
                    y_std,
                };
                best = Some((fit, gp));
            }
        }
        best.map(|(_, gp)| gp)
    }

    /// Predicted mean and standard deviation at `p`, in the units of `y`.
    pub(crate) fn predict(&self, p: &[f64]) -> (f64, f64) {
        let ks: Vec<f64> = self.x.iter().map(|x| matern52(x, p, self.length)).collect();
        let mean: f64 = ks.iter().zip(&self.weights).map(|(k, w)| k * w).sum();
        let v = forward(&self.l, &ks);
        let var = (1.0 - v.iter().map(|a| a * a).sum::<f64>()).max(0.0);
        (self.y_mean + mean * self.y_std, var.sqrt() * self.y_std)
    }
}

/// Expected improvement of a point with predicted `mean` and `std` over the best (smallest)
/// value so far, `best`, for minimisation: with d = best - mean - xi and z = d / std,
/// EI = d Phi(z) + std phi(z).
pub(crate) fn expected_improvement(mean: f64, std: f64, best: f64, xi: f64) -> f64 {
    let d = best - mean - xi;
    if std <= 1e-12 {
        return d.max(0.0);
    }
    let z = d / std;
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let cdf = 0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2));
    d * cdf + std * pdf
}

/// The error function (Abramowitz and Stegun 7.1.26, |error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let y = 1.0 - poly * (-x * x).exp();
    if x >= 0.0 { y } else { -y }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_interpolates_its_points_and_is_unsure_far_from_them() {
        let x: Vec<Vec<f64>> = (0..6).map(|i| vec![i as f64 / 10.0]).collect();
        let y: Vec<f64> = x.iter().map(|p| (6.0 * p[0]).sin()).collect();
        let gp = Gp::fit(&x, &y, 1e-6).unwrap();
        for (p, v) in x.iter().zip(&y) {
            let (m, s) = gp.predict(p);
            assert!((m - v).abs() < 1e-3 && s < 0.05, "{p:?}: {m} +- {s} vs {v}");
        }
        let (_, far) = gp.predict(&[1.0]);
        let (_, near) = gp.predict(&[0.25]);
        assert!(far > 2.0 * near, "far {far} near {near}");
    }

    #[test]
    fn erf_and_expected_improvement_match_known_values() {
        for (x, e) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_8),
            (1.0, 0.842_700_792_9),
            (-2.0, -0.995_322_265),
        ] {
            assert!((erf(x) - e).abs() < 2e-7, "erf({x})");
        }
        // mean = best, std 1: EI = phi(0) = 0.3989.
        assert!((expected_improvement(0.0, 1.0, 0.0, 0.0) - 0.398_942_28).abs() < 1e-6);
        assert_eq!(expected_improvement(2.0, 0.0, 1.0, 0.0), 0.0);
    }
}
