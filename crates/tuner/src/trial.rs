//! `Trial`: one point of the search (its values, its plan, what it scored) and its status. A
//! trial's runs are `trial_<id>/execution<k>` under the search's directory.

use serde::{Deserialize, Serialize};

use crate::value::HpValue;

/// Where a trial stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrialStatus {
    /// Started and not finished (a search killed here runs it again when resumed).
    Running,
    /// Trained and scored.
    Completed,
    /// Its build or training failed, or a loss became NaN; the search went on.
    Failed,
}

/// How long a trial trains, and from where (Hyperband's `tuner/*` values).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Epochs to train up to (None: the fit configuration's).
    pub epochs: Option<usize>,
    /// Epoch to start at (a promoted Hyperband trial continues its parent's training).
    pub initial_epoch: usize,
    /// The trial whose best weights this one starts from.
    pub parent: Option<String>,
    /// Hyperband bracket.
    pub bracket: Option<usize>,
    /// Hyperband round.
    pub round: Option<usize>,
}

/// One trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Its id ("00", "01", ...).
    pub id: String,
    /// The active hyperparameter values, in declaration order.
    pub values: Vec<(String, HpValue)>,
    /// Training plan.
    pub plan: Plan,
    /// Status.
    pub status: TrialStatus,
    /// The objective: the mean over executions of each execution's best epoch.
    pub score: Option<f64>,
    /// Each execution's best objective value (None: it failed).
    pub execution_scores: Vec<Option<f64>>,
    /// The execution whose best weights are the trial's checkpoint.
    pub best_execution: Option<usize>,
    /// The best execution's best epoch (0-based).
    pub best_epoch: Option<usize>,
    /// The best execution's logs at its best epoch.
    pub metrics: Vec<(String, f64)>,
    /// Why it failed.
    pub message: Option<String>,
}

impl Trial {
    /// A running trial.
    pub(crate) fn new(id: String, values: Vec<(String, HpValue)>, plan: Plan) -> Self {
        Trial {
            id,
            values,
            plan,
            status: TrialStatus::Running,
            score: None,
            execution_scores: Vec::new(),
            best_execution: None,
            best_epoch: None,
            metrics: Vec::new(),
            message: None,
        }
    }

    /// The directory of its runs, relative to the search's.
    pub fn dir_name(&self) -> String {
        format!("trial_{}", self.id)
    }

    /// The value of `name`, if it was active.
    pub fn get(&self, name: &str) -> Option<&HpValue> {
        self.values.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Its values plus Hyperband's `tuner/*` entries, as TensorBoard's HParams tab shows them.
    pub fn hparams(&self) -> Vec<(String, HpValue)> {
        let mut out = self.values.clone();
        if let Some(bracket) = self.plan.bracket {
            let n = |v: usize| HpValue::Int(v as i64);
            out.push(("tuner/epochs".into(), n(self.plan.epochs.unwrap_or(0))));
            out.push(("tuner/initial_epoch".into(), n(self.plan.initial_epoch)));
            out.push(("tuner/bracket".into(), n(bracket)));
            out.push(("tuner/round".into(), n(self.plan.round.unwrap_or(0))));
            if let Some(p) = &self.plan.parent {
                out.push(("tuner/trial_id".into(), HpValue::Str(p.clone())));
            }
        }
        out
    }

    /// A key identifying its values (two trials with one key are duplicates).
    pub(crate) fn values_key(values: &[(String, HpValue)]) -> String {
        let mut sorted: Vec<_> = values.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        serde_json::to_string(&sorted).unwrap_or_default()
    }
}
