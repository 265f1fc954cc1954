//! Learning-rate schedules (Keras `keras.optimizers.schedules`), evaluated on the host at the
//! optimizer's iteration count, so the GPU only ever sees a number.

/// A learning rate: constant or a function of the step.
#[derive(Clone, Debug, PartialEq)]
pub enum LearningRate {
    /// Fixed.
    Constant(f32),
    /// initial * rate^(step / decay_steps), floored when `staircase`.
    ExponentialDecay {
        /// Rate at step 0.
        initial: f32,
        /// Steps per decay period.
        decay_steps: u64,
        /// Factor per period.
        decay_rate: f32,
        /// Decay in whole periods.
        staircase: bool,
    },
    /// values[i] while step <= boundaries[i] (values has one more entry than boundaries).
    PiecewiseConstantDecay {
        /// Step boundaries, increasing.
        boundaries: Vec<u64>,
        /// Rates, one more than the boundaries.
        values: Vec<f32>,
    },
    /// initial * ((1 - alpha) * 0.5 (1 + cos(pi min(step, decay_steps) / decay_steps)) + alpha).
    CosineDecay {
        /// Rate at step 0.
        initial: f32,
        /// Steps to decay over.
        decay_steps: u64,
        /// Floor as a fraction of `initial`.
        alpha: f32,
    },
}

impl LearningRate {
    /// The rate at `step` (the optimizer's iteration count before the update).
    pub fn at(&self, step: u64) -> f32 {
        match self {
            LearningRate::Constant(lr) => *lr,
            LearningRate::ExponentialDecay {
                initial,
                decay_steps,
                decay_rate,
                staircase,
            } => {
                let mut p = step as f64 / (*decay_steps).max(1) as f64;
                if *staircase {
                    p = p.floor();
                }
                (*initial as f64 * (*decay_rate as f64).powf(p)) as f32
            }
            LearningRate::PiecewiseConstantDecay { boundaries, values } => {
                let i = boundaries.iter().take_while(|&&b| step > b).count();
                values[i.min(values.len() - 1)]
            }
            LearningRate::CosineDecay {
                initial,
                decay_steps,
                alpha,
            } => {
                let t = step.min(*decay_steps) as f64 / (*decay_steps).max(1) as f64;
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
                (*initial as f64 * ((1.0 - *alpha as f64) * cosine + *alpha as f64)) as f32
            }
        }
    }
}

impl From<f32> for LearningRate {
    fn from(lr: f32) -> Self {
        LearningRate::Constant(lr)
    }
}

#[cfg(test)]
mod tests {
    use super::LearningRate::*;

    #[test]
    fn schedules_match_keras_formulas() {
        let e = ExponentialDecay {
            initial: 0.1,
            decay_steps: 10,
            decay_rate: 0.5,
            staircase: false,
        };
        assert!((e.at(5) - 0.1 * 0.5f32.powf(0.5)).abs() < 1e-7);
        let s = ExponentialDecay {
            initial: 0.1,
            decay_steps: 10,
            decay_rate: 0.5,
            staircase: true,
        };
        assert_eq!((s.at(9), s.at(10)), (0.1, 0.05));
        let p = PiecewiseConstantDecay {
            boundaries: vec![100, 200],
            values: vec![1.0, 0.5, 0.1],
        };
        assert_eq!(
            (p.at(0), p.at(100), p.at(101), p.at(200), p.at(201)),
            (1.0, 1.0, 0.5, 0.5, 0.1)
        );
        let c = CosineDecay {
            initial: 1.0,
            decay_steps: 100,
            alpha: 0.1,
        };
        assert_eq!((c.at(0), c.at(100), c.at(1000)), (1.0, 0.1, 0.1));
        assert!((c.at(50) - 0.55).abs() < 1e-6);
    }
}
