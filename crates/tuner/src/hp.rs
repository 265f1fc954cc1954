//! `HyperParameters`: what a build function asks for its settings, as KerasTuner's `hp`. Each
//! call (`hp.int`, `hp.float`, `hp.choice`, `hp.boolean`, `hp.fixed`) declares a parameter and
//! returns its value for this trial: the oracle's proposal when it made one, else a draw from
//! the trial's seeded generator (a parameter first met in this trial), else the default
//! (outside a search). `conditional_scope` runs its body only while the parent parameter has
//! one of the given values, so a parameter declared inside it exists only in the trials where
//! it is active.
//!
//! A bad declaration (min above max, a default outside the range, one name declared with two
//! ranges) does not panic inside the user's code: the call returns the default and the search
//! stops with the message once the build function returns.

use std::collections::BTreeMap;

use kiln_graph::Rng;

use crate::space::{Condition, Param, Sampling};
use crate::value::HpValue;

/// The hyperparameters of one build.
#[derive(Clone, Debug, Default)]
pub struct HyperParameters {
    /// Parameters declared in this build, in declaration order.
    space: Vec<Param>,
    /// Active values, in declaration order.
    values: Vec<(String, HpValue)>,
    /// Values the oracle chose (used when they fit the declaration).
    proposal: BTreeMap<String, HpValue>,
    /// Draws values the proposal lacks (None: use defaults).
    rng: Option<Rng>,
    /// Conditions of the enclosing scopes.
    scope: Vec<Condition>,
    /// Declaration errors, reported after the build.
    errors: Vec<String>,
    /// Seed for this execution's weights (see `execution_seed`).
    seed: u64,
}

impl HyperParameters {
    /// Every parameter at its default (build a model outside a search, as
    /// `build_model(kt.HyperParameters())`).
    pub fn new() -> Self {
        Self::default()
    }

    /// These values; a parameter they lack takes its default.
    pub fn with_values(values: &[(String, HpValue)]) -> Self {
        Self {
            proposal: values.iter().cloned().collect(),
            ..Self::default()
        }
    }

    /// A trial's parameters: `proposal` where it fits, else drawn from `rng`.
    pub(crate) fn for_trial(proposal: &[(String, HpValue)], rng: Rng, seed: u64) -> Self {
        Self {
            proposal: proposal.iter().cloned().collect(),
            rng: Some(rng),
            seed,
            ..Self::default()
        }
    }

    /// Sets the execution seed.
    pub(crate) fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// `hp.Int(name, min_value, max_value, step)`: one of min, min + step, ... <= max.
    pub fn int(&mut self, name: &str, min: i64, max: i64, step: i64) -> i64 {
        let v = self.declare(Param::int(name, min, max, step));
        v.as_i64().unwrap_or(min)
    }

    /// `hp.Float(name, min_value, max_value, sampling)`.
    pub fn float(&mut self, name: &str, min: f64, max: f64, sampling: Sampling) -> f64 {
        let v = self.declare(Param::float(name, min, max, sampling));
        v.as_f64().unwrap_or(min)
    }

    /// `hp.Choice(name, values)`: one of `values` (all of one type), returned as given.
    /// An empty list is recorded as an error (the search stops with it) and gives `T::default()`.
    pub fn choice<T: Clone + Default + Into<HpValue>>(&mut self, name: &str, values: &[T]) -> T {
        let as_values: Vec<HpValue> = values.iter().cloned().map(Into::into).collect();
        let chosen = self.declare(Param::choice(name, as_values.clone()));
        match as_values.iter().position(|v| *v == chosen) {
            Some(i) => values[i].clone(),
            None => values.first().cloned().unwrap_or_default(),
        }
    }

    /// `hp.Boolean(name)`.
    pub fn boolean(&mut self, name: &str) -> bool {
        self.declare(Param::boolean(name))
            .as_bool()
            .unwrap_or(false)
    }

    /// `hp.Fixed(name, value)`: recorded with the trial, never searched.
    pub fn fixed<T: Clone + Into<HpValue>>(&mut self, name: &str, value: T) -> T {
        self.declare(Param::fixed(name, value.clone().into()));
        value
    }

    /// Declares any parameter (with a default, log sampling of an `Int`, ...) and returns its
    /// value: `hp.declare(Param::int("units", 32, 512, 32).default(128))`.
    pub fn declare(&mut self, mut param: Param) -> HpValue {
        if let Err(e) = param.check() {
            self.errors.push(e);
            return param.default;
        }
        param.conditions.extend(self.scope.iter().cloned());
        if let Some(known) = self.space.iter().find(|p| p.name == param.name) {
            if !known.same_range(&param) {
                self.errors.push(format!(
                    "hyperparameter {:?} is declared twice with different ranges: {:?} and {:?}",
                    param.name, known.kind, param.kind
                ));
            }
            return self.get(&param.name).cloned().unwrap_or(param.default);
        }
        let value = match self.proposal.get(&param.name) {
            Some(v) if param.contains(v) => v.clone(),
            _ => match self.rng.as_mut() {
                Some(rng) => param.sample(rng),
                None => param.default.clone(),
            },
        };
        self.values.push((param.name.clone(), value.clone()));
        self.space.push(param);
        value
    }

    /// Runs `body` only while `parent` (declared before) has one of `values`; the parameters
    /// it declares are conditional on that (KerasTuner's `with hp.conditional_scope(...)`).
    pub fn conditional_scope<T: Clone + Into<HpValue>, R>(
        &mut self,
        parent: &str,
        values: &[T],
        body: impl FnOnce(&mut Self) -> R,
    ) -> Option<R> {
        let values: Vec<HpValue> = values.iter().cloned().map(Into::into).collect();
        let Some(current) = self.get(parent).cloned() else {
            self.errors.push(format!(
                "conditional_scope({parent:?}, ...) comes before {parent:?} is declared; \
                 declare the parent first"
            ));
            return None;
        };
        if !values.contains(&current) {
            return None;
        }
        self.scope.push(Condition {
            parent: parent.into(),
            values,
        });
        let out = body(self);
        self.scope.pop();
        Some(out)
    }

    /// The value of `name` in this build, if it is declared and active.
    pub fn get(&self, name: &str) -> Option<&HpValue> {
        self.values.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The active values, in declaration order (what the trial records).
    pub fn values(&self) -> &[(String, HpValue)] {
        &self.values
    }

    /// The parameters declared in this build.
    pub fn space(&self) -> &[Param] {
        &self.space
    }

    /// A seed for the weights of this execution: distinct per execution of a trial (so
    /// `executions_per_trial` averages over initialisations) and the same when a search is
    /// resumed. 0 outside a search.
    pub fn execution_seed(&self) -> u64 {
        self.seed
    }

    /// Declaration errors of this build.
    pub(crate) fn errors(&self) -> &[String] {
        &self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_outside_a_search_follow_keras_tuner() {
        let mut hp = HyperParameters::new();
        assert_eq!(hp.int("units", 32, 512, 32), 32);
        assert_eq!(hp.float("lr", 1e-4, 1e-2, Sampling::Log), 1e-4);
        assert_eq!(hp.choice("opt", &["adam", "sgd"]), "adam");
        assert!(!hp.boolean("dropout"));
        let v = hp.declare(Param::int("width", 8, 64, 8).default(16i64));
        assert_eq!(v, HpValue::Int(16));
        assert!(hp.errors().is_empty());
    }

    #[test]
    fn a_name_declared_twice_returns_one_value_and_two_ranges_are_an_error() {
        let mut hp = HyperParameters::for_trial(&[], Rng::new(5), 0);
        let a = hp.int("units", 1, 100, 1);
        assert_eq!(hp.int("units", 1, 100, 1), a);
        assert_eq!(hp.values().len(), 1);
        hp.int("units", 1, 50, 1);
        assert!(
            hp.errors()[0].contains("declared twice"),
            "{:?}",
            hp.errors()
        );
    }

    #[test]
    fn conditional_parameters_exist_only_when_active() {
        let mut seen = [0usize; 2];
        for seed in 0..200 {
            let mut hp = HyperParameters::for_trial(&[], Rng::new(seed), 0);
            let kind = hp.choice("model", &["mlp", "cnn"]);
            let filters = hp.conditional_scope("model", &["cnn"], |hp| hp.int("filters", 8, 32, 8));
            assert_eq!(filters.is_some(), kind == "cnn");
            assert_eq!(hp.get("filters").is_some(), kind == "cnn");
            seen[(kind == "cnn") as usize] += 1;
            if kind == "cnn" {
                assert_eq!(hp.space()[1].conditions[0].parent, "model");
            }
        }
        assert!(seen[0] > 50 && seen[1] > 50, "{seen:?}");
        let mut hp = HyperParameters::new();
        assert!(hp.conditional_scope("nothing", &[1i64], |_| ()).is_none());
        assert!(hp.errors()[0].contains("declare the parent first"));
    }

    #[test]
    fn a_proposal_outside_the_range_is_redrawn() {
        let proposal = vec![("units".to_string(), HpValue::Int(7))];
        let mut hp = HyperParameters::for_trial(&proposal, Rng::new(1), 0);
        let v = hp.int("units", 8, 64, 8);
        assert!(v % 8 == 0 && (8..=64).contains(&v));
        let mut hp = HyperParameters::with_values(&[("units".into(), HpValue::Int(24))]);
        assert_eq!(hp.int("units", 8, 64, 8), 24);
    }
}
