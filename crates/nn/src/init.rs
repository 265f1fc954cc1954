//! Weight initializers with Keras's defaults and formulas, drawn on the host from the model's
//! seeded RNG and uploaded once.

use kiln_graph::Rng;

/// How a weight starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initializer {
    /// U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Keras's default kernel initializer).
    GlorotUniform,
    /// N(0, sqrt(2 / fan_in)) truncated at 2 sigma (Keras's he_normal).
    HeNormal,
    /// All zeros (Keras's default bias initializer).
    Zeros,
    /// All ones.
    Ones,
    /// A constant.
    Constant(f32),
}

/// (fan_in, fan_out) as Keras computes them: dense [in, out]; conv [kh, kw, in, out] multiplies
/// the receptive field into both.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape.len() {
        0 => (1, 1),
        1 => (shape[0], shape[0]),
        2 => (shape[0], shape[1]),
        n => {
            let field: usize = shape[..n - 2].iter().product();
            (field * shape[n - 2], field * shape[n - 1])
        }
    }
}

impl Initializer {
    /// Values for a weight of `shape`.
    pub fn sample(self, shape: &[usize], rng: &mut Rng) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let (fan_in, fan_out) = fans(shape);
        match self {
            Initializer::GlorotUniform => {
                let limit = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
                (0..n)
                    .map(|_| ((rng.uniform() * 2.0 - 1.0) * limit) as f32)
                    .collect()
            }
            Initializer::HeNormal => {
                let std = (2.0 / fan_in.max(1) as f64).sqrt();
                (0..n)
                    .map(|_| {
                        loop {
                            let z = rng.normal();
                            if z.abs() <= 2.0 {
                                break (z * std) as f32;
                            }
                        }
                    })
                    .collect()
            }
            Initializer::Zeros => vec![0.0; n],
            Initializer::Ones => vec![1.0; n],
            Initializer::Constant(c) => vec![c; n],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glorot_uniform_stays_within_its_limit_and_fans_follow_keras() {
        assert_eq!(fans(&[784, 128]), (784, 128));
        assert_eq!(fans(&[3, 3, 1, 32]), (9, 288));
        let v = Initializer::GlorotUniform.sample(&[784, 128], &mut Rng::new(1));
        let limit = (6.0f32 / 912.0).sqrt();
        assert!(v.iter().all(|x| x.abs() <= limit));
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        assert!(mean.abs() < 0.01 * limit * 10.0);
    }
}
