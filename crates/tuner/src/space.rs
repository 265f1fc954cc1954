//! The search space: one `Param` per hyperparameter (its kind, range, sampling, default and the
//! conditions under which it is active), how a value is drawn at random, and how a value maps to
//! and from the unit interval (the coordinates the Bayesian oracle's Gaussian process works in).
//! The kinds and their defaults are KerasTuner's: `Int` (default the minimum), `Float` (the
//! minimum), `Choice` (the first value), `Boolean` (false), `Fixed`.

use kiln_graph::Rng;
use serde::{Deserialize, Serialize};

use crate::value::HpValue;

/// How a numeric range is sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// Uniform over [min, max].
    Linear,
    /// Uniform in the logarithm (min > 0): each decade equally likely.
    Log,
}

/// What kind of value a parameter takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ParamKind {
    /// min, min + step, ... <= max (`Log`: min, min * step, ...).
    Int {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
        /// Distance between values (a factor for `Log`).
        step: i64,
        /// How values are spaced.
        sampling: Sampling,
    },
    /// A real number in [min, max].
    Float {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
        /// How the range is sampled.
        sampling: Sampling,
    },
    /// One of a list of values (all of one type).
    Choice {
        /// The values, in order.
        values: Vec<HpValue>,
    },
    /// true or false.
    Boolean,
    /// Always this value.
    Fixed {
        /// The value.
        value: HpValue,
    },
}

/// "active when `parent` is one of `values`" (KerasTuner's `conditional_scope`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The parameter the condition reads.
    pub parent: String,
    /// Its values that make the scope active.
    pub values: Vec<HpValue>,
}

/// One hyperparameter of the space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Its name (unique in the space).
    pub name: String,
    /// Kind and range.
    #[serde(flatten)]
    pub kind: ParamKind,
    /// The value used outside a search and for inactive coordinates.
    pub default: HpValue,
    /// All must hold for the parameter to be active.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl Param {
    /// `Int(name, min, max, step)`, linear.
    pub fn int(name: &str, min: i64, max: i64, step: i64) -> Self {
        Self::new(
            name,
            ParamKind::Int {
                min,
                max,
                step,
                sampling: Sampling::Linear,
            },
            HpValue::Int(min),
        )
    }
    /// `Float(name, min, max, sampling)`.
    pub fn float(name: &str, min: f64, max: f64, sampling: Sampling) -> Self {
        Self::new(
            name,
            ParamKind::Float { min, max, sampling },
            HpValue::Float(min),
        )
    }
    /// `Choice(name, values)`.
    pub fn choice(name: &str, values: Vec<HpValue>) -> Self {
        let default = values.first().cloned().unwrap_or(HpValue::Bool(false));
        Self::new(name, ParamKind::Choice { values }, default)
    }
    /// `Boolean(name)`.
    pub fn boolean(name: &str) -> Self {
        Self::new(name, ParamKind::Boolean, HpValue::Bool(false))
    }
    /// `Fixed(name, value)`.
    pub fn fixed(name: &str, value: HpValue) -> Self {
        Self::new(
            name,
            ParamKind::Fixed {
                value: value.clone(),
            },
            value,
        )
    }
    fn new(name: &str, kind: ParamKind, default: HpValue) -> Self {
        Param {
            name: name.into(),
            kind,
            default,
            conditions: Vec::new(),
        }
    }

    /// Log sampling (an `Int`'s step becomes a factor, default 2).
    pub fn log(mut self) -> Self {
        match &mut self.kind {
            ParamKind::Int { step, sampling, .. } => {
                *sampling = Sampling::Log;
                if *step < 2 {
                    *step = 2;
                }
            }
            ParamKind::Float { sampling, .. } => *sampling = Sampling::Log,
            _ => {}
        }
        self
    }

    /// Sets the default.
    pub fn default(mut self, value: impl Into<HpValue>) -> Self {
        self.default = value.into();
        self
    }

    /// Why this definition is unusable, if it is.
    pub fn check(&self) -> Result<(), String> {
        let bad = |why: String| Err(format!("hyperparameter {:?}: {why}", self.name));
        match &self.kind {
            ParamKind::Int {
                min,
                max,
                step,
                sampling,
            } => {
                if min > max {
                    return bad(format!("min {min} is above max {max}"));
                }
                if *step < 1 || (*sampling == Sampling::Log && (*step < 2 || *min < 1)) {
                    return bad(format!(
                        "step {step} with {sampling:?} sampling from {min} is not usable \
                         (linear needs step >= 1; log needs min >= 1 and a factor >= 2)"
                    ));
                }
            }
            ParamKind::Float { min, max, sampling } => {
                if !(min.is_finite() && max.is_finite() && min <= max) {
                    return bad(format!("[{min}, {max}] is not a range"));
                }
                if *sampling == Sampling::Log && *min <= 0.0 {
                    return bad(format!("log sampling needs min > 0, got {min}"));
                }
            }
            ParamKind::Choice { values } => {
                let Some(first) = values.first() else {
                    return bad("a choice needs at least one value".into());
                };
                if values.iter().any(|v| !v.same_type(first)) {
                    return bad(format!("the values {values:?} are not all of one type"));
                }
            }
            ParamKind::Boolean | ParamKind::Fixed { .. } => {}
        }
        if !self.contains(&self.default) {
            return bad(format!(
                "the default {} is not one of its values",
                self.default
            ));
        }
        Ok(())
    }

    /// The discrete values of an `Int`, `Choice` or `Boolean` (None for `Float`).
    fn discrete(&self) -> Option<Vec<HpValue>> {
        match &self.kind {
            ParamKind::Int {
                min,
                max,
                step,
                sampling,
            } => {
                let mut out = Vec::new();
                let mut v = *min;
                while v <= *max && out.len() < 1_000_000 {
                    out.push(HpValue::Int(v));
                    v = match sampling {
                        Sampling::Linear => v + step,
                        Sampling::Log => v * step,
                    };
                }
                Some(out)
            }
            ParamKind::Choice { values } => Some(values.clone()),
            ParamKind::Boolean => Some(vec![HpValue::Bool(false), HpValue::Bool(true)]),
            ParamKind::Fixed { value } => Some(vec![value.clone()]),
            ParamKind::Float { .. } => None,
        }
    }

    /// Whether `v` is one of this parameter's values.
    pub fn contains(&self, v: &HpValue) -> bool {
        match (&self.kind, v) {
            (ParamKind::Float { min, max, .. }, HpValue::Float(x)) => min <= x && x <= max,
            (ParamKind::Float { .. }, _) => false,
            _ => self.discrete().is_some_and(|d| d.contains(v)),
        }
    }

    /// A random value (a checked definition).
    pub fn sample(&self, rng: &mut Rng) -> HpValue {
        self.from_unit(rng.uniform())
    }

    /// The value at `u` in [0, 1): a discrete value's cell is [i/n, (i+1)/n); a float is linear
    /// or logarithmic in u.
    pub fn from_unit(&self, u: f64) -> HpValue {
        let u = u.clamp(0.0, 1.0);
        if let ParamKind::Float { min, max, sampling } = self.kind {
            let x = match sampling {
                Sampling::Linear => min + (max - min) * u,
                Sampling::Log => (min.ln() + (max.ln() - min.ln()) * u).exp(),
            };
            return HpValue::Float(x.clamp(min, max));
        }
        let values = self.discrete().unwrap_or_default();
        let i = ((u * values.len() as f64) as usize).min(values.len().saturating_sub(1));
        values
            .get(i)
            .cloned()
            .unwrap_or_else(|| self.default.clone())
    }

    /// Where `v` sits in [0, 1] (a discrete value: the centre of its cell).
    pub fn to_unit(&self, v: &HpValue) -> f64 {
        if let (ParamKind::Float { min, max, sampling }, HpValue::Float(x)) = (&self.kind, v) {
            if max <= min {
                return 0.5;
            }
            return match sampling {
                Sampling::Linear => (x - min) / (max - min),
                Sampling::Log => (x.ln() - min.ln()) / (max.ln() - min.ln()),
            };
        }
        let values = self.discrete().unwrap_or_default();
        match values.iter().position(|c| c == v) {
            Some(i) => (i as f64 + 0.5) / values.len() as f64,
            None => 0.5,
        }
    }

    /// Whether the parameter is active given the values chosen so far.
    pub fn is_active(&self, values: &[(String, HpValue)]) -> bool {
        self.conditions.iter().all(|c| {
            values
                .iter()
                .find(|(k, _)| *k == c.parent)
                .is_some_and(|(_, v)| c.values.contains(v))
        })
    }

    /// The same definition, ignoring the default and conditions (a name declared twice must
    /// agree on this).
    pub(crate) fn same_range(&self, other: &Param) -> bool {
        self.kind == other.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_coordinates_round_trip_every_kind() {
        let params = [
            Param::int("a", 2, 20, 3),
            Param::int("b", 4, 256, 2).log(),
            Param::float("c", 1e-4, 1e-1, Sampling::Log),
            Param::choice("d", vec!["x".into(), "y".into(), "z".into()]),
            Param::boolean("e"),
        ];
        let mut rng = Rng::new(3);
        for p in &params {
            p.check().unwrap();
            for _ in 0..200 {
                let v = p.sample(&mut rng);
                assert!(p.contains(&v), "{p:?} drew {v:?}");
                let back = p.from_unit(p.to_unit(&v));
                match (&v, &back) {
                    (HpValue::Float(a), HpValue::Float(b)) => {
                        assert!((a - b).abs() <= 1e-9 * a.abs())
                    }
                    _ => assert_eq!(v, back),
                }
            }
        }
    }

    #[test]
    fn samplers_respect_bounds_steps_and_log_scale() {
        let mut rng = Rng::new(11);
        let n = 20_000;
        // Linear int with a step: every value on the grid, each about equally often.
        let p = Param::int("units", 32, 256, 32);
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..n {
            *counts
                .entry(p.sample(&mut rng).as_i64().unwrap())
                .or_insert(0) += 1;
        }
        assert_eq!(
            counts.keys().copied().collect::<Vec<_>>(),
            vec![32, 64, 96, 128, 160, 192, 224, 256]
        );
        assert!(
            counts
                .values()
                .all(|&c| (c as f64 - n as f64 / 8.0).abs() < 0.1 * n as f64 / 8.0),
            "{counts:?}"
        );
        // Log int: powers of the factor.
        let p = Param::int("width", 4, 100, 2).log();
        for _ in 0..500 {
            let v = p.sample(&mut rng).as_i64().unwrap();
            assert!([4, 8, 16, 32, 64].contains(&v), "{v}");
        }
        // Log float: each decade of [1e-4, 1e-1] equally likely.
        let p = Param::float("lr", 1e-4, 1e-1, Sampling::Log);
        let mut decades = [0usize; 3];
        for _ in 0..n {
            let v = p.sample(&mut rng).as_f64().unwrap();
            assert!((1e-4..=1e-1).contains(&v));
            decades[((v.log10() + 4.0).floor() as usize).min(2)] += 1;
        }
        assert!(
            decades
                .iter()
                .all(|&c| (c as f64 - n as f64 / 3.0).abs() < 0.05 * n as f64),
            "{decades:?}"
        );
        // Linear float: the mean is the midpoint.
        let p = Param::float("rate", 0.1, 0.5, Sampling::Linear);
        let mean = (0..n)
            .map(|_| p.sample(&mut rng).as_f64().unwrap())
            .sum::<f64>()
            / n as f64;
        assert!((mean - 0.3).abs() < 0.005, "{mean}");
    }

    #[test]
    fn bad_definitions_are_named() {
        for (p, needle) in [
            (Param::int("u", 5, 1, 1), "above"),
            (Param::float("lr", 0.0, 1.0, Sampling::Log), "min > 0"),
            (Param::choice("opt", vec![]), "at least one"),
            (
                Param::choice("m", vec!["a".into(), 3i64.into()]),
                "one type",
            ),
            (Param::int("k", 1, 9, 2).default(4i64), "default"),
        ] {
            let e = p.check().unwrap_err();
            assert!(
                e.contains(&format!("{:?}", p.name)) && e.contains(needle),
                "{e}"
            );
        }
    }
}
