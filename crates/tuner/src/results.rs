//! What a search found: the best trials by the objective, their hyperparameters, and
//! `results_summary` as KerasTuner prints it.

use std::fmt::Write;

use crate::hp::HyperParameters;
use crate::search::Search;
use crate::trial::{Trial, TrialStatus};

impl Search {
    /// The `n` best completed trials, best first (ties keep trial order).
    pub fn best_trials(&self, n: usize) -> Vec<&Trial> {
        let mut done: Vec<&Trial> = self
            .state
            .trials
            .iter()
            .filter(|t| t.status == TrialStatus::Completed && t.score.is_some())
            .collect();
        let o = &self.objective;
        done.sort_by(|a, b| {
            let (a, b) = (a.score.unwrap_or(f64::NAN), b.score.unwrap_or(f64::NAN));
            o.as_loss(a).total_cmp(&o.as_loss(b))
        });
        done.truncate(n);
        done
    }

    /// The hyperparameters of the `n` best trials (`get_best_hyperparameters`): pass one to the
    /// build function to rebuild that model.
    pub fn get_best_hyperparameters(&self, n: usize) -> Vec<HyperParameters> {
        self.best_trials(n)
            .into_iter()
            .map(|t| HyperParameters::with_values(&t.values))
            .collect()
    }

    /// KerasTuner's `results_summary(num_trials)`: the directory, the objective, then the best
    /// trials with their values and scores, and a line on failed trials.
    pub fn results_summary(&self, num_trials: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Results summary");
        let _ = writeln!(s, "Results in {}", self.dir.display());
        let _ = writeln!(s, "Showing {num_trials} best trials");
        let _ = writeln!(s, "{}", self.objective);
        for t in self.best_trials(num_trials) {
            let _ = writeln!(s, "\nTrial {} summary", t.id);
            let _ = writeln!(s, "Hyperparameters:");
            for (k, v) in t.hparams() {
                let _ = writeln!(s, "{k}: {v}");
            }
            if let Some(score) = t.score {
                let _ = writeln!(s, "Score: {score}");
            }
        }
        let failed: Vec<&Trial> = self
            .state
            .trials
            .iter()
            .filter(|t| t.status == TrialStatus::Failed)
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(s, "\n{} failed trial(s):", failed.len());
            for t in failed {
                let _ = writeln!(
                    s,
                    "Trial {}: {}",
                    t.id,
                    t.message.as_deref().unwrap_or("no message")
                );
            }
        }
        s
    }
}
