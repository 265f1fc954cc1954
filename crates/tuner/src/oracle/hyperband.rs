//! Hyperband (Li et al., JMLR 18, 2018) as KerasTuner's `HyperbandOracle` runs it, ported line
//! by line so that the same `max_epochs` and `factor` give the same brackets, rounds, sizes,
//! epochs and promotions. Brackets run from the largest (most trials, fewest epochs) down to
//! bracket 0. Round 0 of a bracket is `size(b, 0)` random trials trained for `epochs(b, 0)`
//! epochs; each later round promotes the best `size(b, r)` of the previous round, which continue
//! from their parent's best weights (`initial_epoch = epochs(b, r - 1)`) up to `epochs(b, r)`.
//! The formulas keep KerasTuner's floating-point arithmetic (`math.log(max_epochs, factor)`)
//! because their rounding decides the sizes (ln 27 / ln 3 is 3.0000000000000004, so
//! `max_epochs = 27, factor = 3` gives bracket-0 end size 5, not 4).

use serde::{Deserialize, Serialize};

use crate::objective::{Direction, Objective};
use crate::oracle::Next;
use crate::trial::{Plan, Trial, TrialStatus};

/// One entry of a round: the trial and the trial it was promoted from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    past_id: Option<String>,
    id: String,
}

/// A bracket: its number and its rounds' entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Bracket {
    bracket_num: usize,
    rounds: Vec<Vec<Entry>>,
}

/// KerasTuner's `Hyperband` oracle, with its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hyperband {
    /// The most epochs one model trains.
    pub max_epochs: usize,
    /// Reduction factor between rounds (>= 2).
    pub factor: usize,
    /// How many times the whole bracket schedule runs.
    pub hyperband_iterations: usize,
    min_epochs: usize,
    current_iteration: usize,
    current_bracket: usize,
    brackets: Vec<Bracket>,
    /// The bracket a random trial in flight belongs to.
    pending: Option<usize>,
}

impl Hyperband {
    /// `Hyperband(max_epochs, factor, hyperband_iterations)`.
    pub fn new(max_epochs: usize, factor: usize, hyperband_iterations: usize) -> Self {
        let mut h = Hyperband {
            max_epochs,
            factor,
            hyperband_iterations,
            min_epochs: 1,
            current_iteration: 0,
            current_bracket: 0,
            brackets: Vec::new(),
            pending: None,
        };
        if h.check().is_ok() {
            h.current_bracket = h.num_brackets() - 1;
            h.start_new_bracket();
        }
        h
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.factor < 2 {
            return Err(format!(
                "Hyperband: factor needs to be an integer of at least 2, got {}",
                self.factor
            ));
        }
        if self.max_epochs < 1 || self.hyperband_iterations < 1 {
            return Err(format!(
                "Hyperband: max_epochs ({}) and hyperband_iterations ({}) must be at least 1",
                self.max_epochs, self.hyperband_iterations
            ));
        }
        Ok(())
    }

    pub(crate) fn settings(&self) -> String {
        format!(
            "Hyperband(max_epochs={}, factor={}, hyperband_iterations={})",
            self.max_epochs, self.factor, self.hyperband_iterations
        )
    }

    /// `populate_space`.
    pub(crate) fn next(&mut self, trial_id: &str, trials: &[Trial], objective: &Objective) -> Next {
        self.pending = None;
        self.remove_completed_brackets();
        for bi in 0..self.brackets.len() {
            let bracket_num = self.brackets[bi].bracket_num;
            if self.brackets[bi].rounds[0].len() < self.size(bracket_num, 0) {
                return self.random_trial(bi);
            }
            for round_num in 1..self.brackets[bi].rounds.len() {
                let size = self.size(bracket_num, round_num);
                let past_size = self.size(bracket_num, round_num - 1);
                let rounds = &self.brackets[bi].rounds;
                let already: Vec<&str> = rounds[round_num]
                    .iter()
                    .filter_map(|e| e.past_id.as_deref())
                    .collect();
                let mut candidates: Vec<&Trial> = rounds[round_num - 1]
                    .iter()
                    .filter(|e| !already.contains(&e.id.as_str()))
                    .filter_map(|e| trials.iter().find(|t| t.id == e.id))
                    .filter(|t| t.status == TrialStatus::Completed)
                    .collect();
                if candidates.len() as i64 > past_size as i64 - size as i64 {
                    // Python's sorted(..., reverse=...) is stable; so is sort_by.
                    let key = |t: &Trial| t.score.unwrap_or(f64::NAN);
                    candidates.sort_by(|a, b| {
                        let (a, b) = (key(a), key(b));
                        match objective.direction {
                            Direction::Max => b.partial_cmp(&a),
                            Direction::Min => a.partial_cmp(&b),
                        }
                        .unwrap_or(std::cmp::Ordering::Equal)
                    });
                    let best = candidates[0];
                    let plan = Plan {
                        epochs: Some(self.epochs(bracket_num, round_num)),
                        initial_epoch: self.epochs(bracket_num, round_num - 1),
                        parent: Some(best.id.clone()),
                        bracket: Some(self.current_bracket),
                        round: Some(round_num),
                    };
                    let values = best.values.clone();
                    self.brackets[bi].rounds[round_num].push(Entry {
                        past_id: Some(best.id.clone()),
                        id: trial_id.into(),
                    });
                    return Next::Exact(values, plan);
                }
            }
        }
        if self.current_bracket == 0 && self.current_iteration + 1 == self.hyperband_iterations {
            return Next::Stop;
        }
        self.increment_bracket_num();
        self.start_new_bracket();
        self.random_trial(self.brackets.len() - 1)
    }

    /// The random trial of bracket `bi` got its values: it is `trial_id`.
    pub(crate) fn accept(&mut self, trial_id: &str) {
        if let Some(bi) = self.pending.take() {
            self.brackets[bi].rounds[0].push(Entry {
                past_id: None,
                id: trial_id.into(),
            });
        }
    }

    fn random_trial(&mut self, bi: usize) -> Next {
        let bracket_num = self.brackets[bi].bracket_num;
        self.pending = Some(bi);
        Next::Random(Plan {
            epochs: Some(self.epochs(bracket_num, 0)),
            initial_epoch: 0,
            parent: None,
            bracket: Some(self.current_bracket),
            round: Some(0),
        })
    }

    fn start_new_bracket(&mut self) {
        let rounds = vec![Vec::new(); self.num_rounds(self.current_bracket)];
        self.brackets.push(Bracket {
            bracket_num: self.current_bracket,
            rounds,
        });
    }

    fn increment_bracket_num(&mut self) {
        if self.current_bracket == 0 {
            self.current_bracket = self.num_brackets() - 1;
            self.current_iteration += 1;
        } else {
            self.current_bracket -= 1;
        }
    }

    fn remove_completed_brackets(&mut self) {
        let sizes: Vec<usize> = self
            .brackets
            .iter()
            .map(|b| self.size(b.bracket_num, b.rounds.len() - 1))
            .collect();
        let mut i = 0;
        self.brackets.retain(|b| {
            let incomplete = b.rounds[b.rounds.len() - 1].len() != sizes[i];
            i += 1;
            incomplete
        });
    }

    /// `_get_size`: trials in round `round_num` of bracket `bracket_num`.
    pub fn size(&self, bracket_num: usize, round_num: usize) -> usize {
        let end0 = (1.0 + (self.max_epochs as f64).ln() / (self.factor as f64).ln()).ceil();
        let end = end0 / (bracket_num + 1) as f64;
        let scale = (self.factor as f64).powi((bracket_num - round_num) as i32);
        (end * scale).ceil() as usize
    }

    /// `_get_epochs`: epochs a trial of round `round_num` trains up to.
    pub fn epochs(&self, bracket_num: usize, round_num: usize) -> usize {
        let scale = (self.factor as f64).powi((bracket_num - round_num) as i32);
        (self.max_epochs as f64 / scale).ceil() as usize
    }

    fn num_rounds(&self, bracket_num: usize) -> usize {
        bracket_num + 1
    }

    /// `_get_num_brackets`.
    pub fn num_brackets(&self) -> usize {
        let mut epochs = self.max_epochs as f64;
        let mut brackets = 0;
        while epochs >= self.min_epochs as f64 {
            epochs /= self.factor as f64;
            brackets += 1;
        }
        brackets
    }
}
