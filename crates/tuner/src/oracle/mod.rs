//! Oracles decide what the next trial tries: `RandomSearch`, `Hyperband` (KerasTuner's bracket
//! schedule, ported line by line) and `BayesianOptimization` (a Gaussian process with expected
//! improvement). An oracle sees the finished trials and the space found so far; it answers a
//! `Next`, and the search draws, builds and runs the trial. Its whole state serializes, so a
//! search saved after a trial continues exactly where it stopped.

mod bayesian;
mod hyperband;

pub use bayesian::BayesianOptimization;
pub use hyperband::Hyperband;

use serde::{Deserialize, Serialize};

use crate::objective::Objective;
use crate::space::Param;
use crate::trial::{Plan, Trial};
use crate::value::HpValue;

/// What to try next.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Next {
    /// New random values (the search draws them, avoiding duplicates).
    Random(Plan),
    /// Start from these values; any the oracle left out (or a duplicate) is drawn at random.
    Guided(Vec<(String, HpValue)>, Plan),
    /// Exactly these values (a promoted Hyperband trial).
    Exact(Vec<(String, HpValue)>, Plan),
    /// The search is over.
    Stop,
}

/// Random search: `max_trials` independent draws (KerasTuner's `RandomSearch`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomSearch {
    /// Trials to run (failed ones count, as in KerasTuner).
    pub max_trials: usize,
}

/// The search algorithm, with its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "oracle")]
pub enum Oracle {
    /// Independent random draws.
    Random(RandomSearch),
    /// Successive halving in brackets.
    Hyperband(Hyperband),
    /// A Gaussian process over the finished trials.
    Bayesian(BayesianOptimization),
}

impl Oracle {
    /// `RandomSearch(max_trials)`.
    pub fn random(max_trials: usize) -> Self {
        Oracle::Random(RandomSearch { max_trials })
    }
    /// `Hyperband(max_epochs, factor)` with one iteration.
    pub fn hyperband(max_epochs: usize, factor: usize) -> Self {
        Oracle::Hyperband(Hyperband::new(max_epochs, factor, 1))
    }
    /// `BayesianOptimization(max_trials)`.
    pub fn bayesian(max_trials: usize) -> Self {
        Oracle::Bayesian(BayesianOptimization::new(max_trials))
    }

    /// Why the settings cannot work, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Oracle::Random(r) if r.max_trials == 0 => Err("max_trials must be at least 1".into()),
            Oracle::Bayesian(b) if b.max_trials == 0 => Err("max_trials must be at least 1".into()),
            Oracle::Hyperband(h) => h.check(),
            _ => Ok(()),
        }
    }

    /// The next trial, given the trials so far (none of them running).
    pub(crate) fn next(
        &mut self,
        trial_id: &str,
        trials: &[Trial],
        space: &[Param],
        objective: &Objective,
        seed: u64,
    ) -> Next {
        match self {
            Oracle::Random(r) if trials.len() >= r.max_trials => Next::Stop,
            Oracle::Random(_) => Next::Random(Plan::default()),
            Oracle::Hyperband(h) => h.next(trial_id, trials, objective),
            Oracle::Bayesian(b) => b.next(trials, space, objective, seed),
        }
    }

    /// The random trial `next` asked for got values and is `trial_id`.
    pub(crate) fn accept(&mut self, trial_id: &str) {
        if let Oracle::Hyperband(h) = self {
            h.accept(trial_id);
        }
    }

    /// The trial id of the `index`-th trial: zero-padded to the digits of `max_trials`, four
    /// digits without one (KerasTuner's `len(str(max_trials))`, where `str(None)` is "None").
    pub(crate) fn trial_id(&self, index: usize) -> String {
        let width = match self {
            Oracle::Random(r) => r.max_trials.to_string().len(),
            Oracle::Bayesian(b) => b.max_trials.to_string().len(),
            Oracle::Hyperband(_) => 4,
        };
        format!("{index:0width$}")
    }

    /// The settings, without the progress (a resumed search must be started with the same).
    pub(crate) fn settings(&self) -> String {
        match self {
            Oracle::Hyperband(h) => h.settings(),
            other => format!("{other:?}"),
        }
    }
}
