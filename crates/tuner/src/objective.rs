//! `Objective`: the logged metric a search optimises and in which direction (KerasTuner's
//! `kt.Objective("val_accuracy", direction="max")`; a bare name infers the direction as
//! KerasTuner does: accuracy-like metrics up, everything else down).

use serde::{Deserialize, Serialize};

/// Which way is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Smaller is better (losses, errors).
    Min,
    /// Larger is better (accuracy, AUC).
    Max,
}

/// The metric a search optimises: any key of `fit`'s logs ("val_loss", "val_accuracy",
/// "loss", ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// The logs key.
    pub name: String,
    /// Its direction.
    pub direction: Direction,
}

impl Objective {
    /// `name`, larger is better.
    pub fn max(name: &str) -> Self {
        Self {
            name: name.into(),
            direction: Direction::Max,
        }
    }
    /// `name`, smaller is better.
    pub fn min(name: &str) -> Self {
        Self {
            name: name.into(),
            direction: Direction::Min,
        }
    }
    /// `name` with the direction inferred: max for accuracy, AUC, precision and recall
    /// metrics, min otherwise.
    pub fn infer(name: &str) -> Self {
        let base = name.strip_prefix("val_").unwrap_or(name);
        let up = ["acc", "auc", "precision", "recall"]
            .iter()
            .any(|k| base.contains(k));
        if up { Self::max(name) } else { Self::min(name) }
    }

    /// Whether `a` is better than `b`.
    pub fn better(&self, a: f64, b: f64) -> bool {
        match self.direction {
            Direction::Min => a < b,
            Direction::Max => a > b,
        }
    }

    /// `score` as a number to minimise.
    pub fn as_loss(&self, score: f64) -> f64 {
        match self.direction {
            Direction::Min => score,
            Direction::Max => -score,
        }
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = match self.direction {
            Direction::Min => "min",
            Direction::Max => "max",
        };
        write!(f, "Objective(name=\"{}\", direction=\"{d}\")", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_are_inferred_as_keras_tuner_infers_them() {
        assert_eq!(Objective::infer("val_accuracy").direction, Direction::Max);
        assert_eq!(Objective::infer("auc").direction, Direction::Max);
        assert_eq!(Objective::infer("val_loss").direction, Direction::Min);
        assert_eq!(Objective::infer("mse").direction, Direction::Min);
        assert!(Objective::max("a").better(2.0, 1.0));
        assert!(Objective::min("a").better(1.0, 2.0));
    }
}
