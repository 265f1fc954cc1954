//! `Search`: the loop every tuner runs. Ask the oracle for the next trial, draw its values by
//! running the build function (redrawing a duplicate, up to KerasTuner's 20 collisions), record
//! it as running, run its executions (`executions.rs`), record it, save the state; a trial left
//! running by a killed search runs again from scratch when the search resumes.
//!
//! What a trial builds and how it trains is a `HyperModel`: `Tuner` is the one for kiln models,
//! and a custom training loop implements the trait itself (KerasTuner's `HyperModel.fit`).

use std::path::{Path, PathBuf};

use kiln_graph::Rng;

use crate::error::{Result, TunerError, io};
use crate::hp::HyperParameters;
use crate::hypermodel::HyperModel;
use crate::objective::Objective;
use crate::oracle::{Next, Oracle};
use crate::state::State;
use crate::trial::{Plan, Trial, TrialStatus};
use crate::value::HpValue;

/// KerasTuner's cap on duplicate draws before a random oracle gives up.
const MAX_COLLISIONS: usize = 20;

/// The file name of a trial's best weights.
pub const CHECKPOINT: &str = "checkpoint.weights.safetensors";

/// A search: settings, state and the loop.
pub struct Search {
    pub(crate) dir: PathBuf,
    pub(crate) objective: Objective,
    seed: u64,
    pub(crate) executions: usize,
    max_failures: usize,
    overwrite: bool,
    verbose: bool,
    pub(crate) state: State,
}

impl Search {
    /// A search in `dir` with `oracle`, optimising `objective`.
    pub fn new(dir: impl Into<PathBuf>, oracle: Oracle, objective: Objective) -> Self {
        let mut s = Search {
            dir: dir.into(),
            objective,
            seed: 0,
            executions: 1,
            max_failures: 3,
            overwrite: false,
            verbose: true,
            state: State::new(String::new(), oracle.clone()),
        };
        s.state.settings = s.settings();
        s
    }
    /// Seeds the draws (the same seed gives the same trials).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.state.settings = self.settings();
        self
    }
    /// Trainings per trial, averaged (`executions_per_trial`).
    pub fn executions_per_trial(mut self, n: usize) -> Self {
        self.executions = n;
        self.state.settings = self.settings();
        self
    }
    /// Stop after this many failed trials in a row (KerasTuner's default 3).
    pub fn max_consecutive_failed_trials(mut self, n: usize) -> Self {
        self.max_failures = n;
        self
    }
    /// Start afresh, deleting a previous search in the directory.
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// Prints a line per trial (default on).
    pub fn verbose(mut self, yes: bool) -> Self {
        self.verbose = yes;
        self
    }

    fn settings(&self) -> String {
        format!(
            "{}, {}, seed={}, executions_per_trial={}",
            self.state.oracle.settings(),
            self.objective,
            self.seed,
            self.executions
        )
    }

    /// The search's directory.
    pub fn directory(&self) -> &Path {
        &self.dir
    }
    /// What it optimises.
    pub fn objective(&self) -> &Objective {
        &self.objective
    }
    /// Every trial so far.
    pub fn trials(&self) -> &[Trial] {
        &self.state.trials
    }
    /// The parameters found so far.
    pub fn space(&self) -> &[crate::space::Param] {
        &self.state.space
    }

    /// A trial's best weights, if it saved them.
    pub fn checkpoint(&self, trial: &Trial) -> Option<PathBuf> {
        let p = self.dir.join(trial.dir_name()).join(CHECKPOINT);
        p.exists().then_some(p)
    }

    /// Loads the saved state (or starts one), as `run` does first.
    pub(crate) fn open(&mut self) -> Result<()> {
        self.state.oracle.check().map_err(TunerError::Config)?;
        if self.executions == 0 {
            return Err(TunerError::Config(
                "executions_per_trial must be at least 1".into(),
            ));
        }
        if self.overwrite {
            match std::fs::remove_dir_all(&self.dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&self.dir, "deleting the previous search", e)),
            }
            self.overwrite = false;
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, "creating", e))?;
        if let Some(saved) = State::load(&self.dir, &self.state.settings)? {
            self.state = saved;
        }
        Ok(())
    }

    fn draw_rng(&self, index: usize, attempt: usize) -> Rng {
        let mut r = Rng::new(self.seed ^ 0x5EED_0000_0000_0000);
        let mix = r.next_u64() ^ ((index as u64) << 20) ^ attempt as u64;
        Rng::new(mix)
    }

    pub(crate) fn execution_seed(&self, index: usize, execution: usize) -> u64 {
        self.seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(((index as u64) << 8) | execution as u64)
    }

    /// Runs trials until the oracle stops (resuming a saved search in the directory).
    pub fn run<H: HyperModel>(&mut self, model: &mut H) -> Result<()> {
        self.open()?;
        loop {
            let (index, built, hp) = match self
                .state
                .trials
                .iter()
                .position(|t| t.status == TrialStatus::Running)
            {
                Some(i) => {
                    let dir = self.dir.join(self.state.trials[i].dir_name());
                    match std::fs::remove_dir_all(&dir) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io(&dir, "clearing an interrupted trial", e)),
                    }
                    let mut hp = HyperParameters::with_values(&self.state.trials[i].values)
                        .with_seed(self.execution_seed(i, 0));
                    let built = model.build(&mut hp);
                    (i, built, hp)
                }
                None => match self.create_trial(model)? {
                    Some(next) => next,
                    None => break,
                },
            };
            let started = std::time::Instant::now();
            if self.verbose {
                let t = &self.state.trials[index];
                let values: Vec<String> = t
                    .hparams()
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                println!(
                    "\nSearch: Running Trial #{} ({})",
                    index + 1,
                    values.join(", ")
                );
            }
            self.run_trial(index, built, hp, model)?;
            self.state.save(&self.dir)?;
            if self.verbose {
                self.report(index, started.elapsed());
            }
            let failed_run = self
                .state
                .trials
                .iter()
                .rev()
                .take_while(|t| t.status == TrialStatus::Failed)
                .count();
            if self.max_failures > 0 && failed_run >= self.max_failures {
                let last = &self.state.trials[self.state.trials.len() - 1];
                return Err(TunerError::TooManyFailures {
                    count: failed_run,
                    trial: last.id.clone(),
                    message: last.message.clone().unwrap_or_default(),
                });
            }
        }
        self.state.save(&self.dir)
    }

    /// Asks the oracle for a trial and draws its values; None when the search is over.
    #[allow(clippy::type_complexity)]
    fn create_trial<H: HyperModel>(
        &mut self,
        model: &mut H,
    ) -> Result<Option<(usize, kiln_nn::Result<H::Built>, HyperParameters)>> {
        let index = self.state.trials.len();
        let id = self.state.oracle.trial_id(index);
        let next = self.state.oracle.next(
            &id,
            &self.state.trials,
            &self.state.space,
            &self.objective,
            self.seed,
        );
        let (proposal, plan, exact): (Vec<(String, HpValue)>, Plan, bool) = match next {
            Next::Stop => return Ok(None),
            Next::Random(plan) => (Vec::new(), plan, false),
            Next::Guided(values, plan) => (values, plan, false),
            Next::Exact(values, plan) => (values, plan, true),
        };
        let seed = self.execution_seed(index, 0);
        for attempt in 0..=MAX_COLLISIONS {
            let start: &[(String, HpValue)] = if attempt == 0 || exact {
                &proposal
            } else {
                &[]
            };
            let mut hp = HyperParameters::for_trial(start, self.draw_rng(index, attempt), seed);
            let built = model.build(&mut hp);
            if !hp.errors().is_empty() {
                return Err(TunerError::Config(format!(
                    "the build function's hyperparameters: {}",
                    hp.errors().join("; ")
                )));
            }
            self.merge_space(&hp);
            let key = Trial::values_key(hp.values());
            let duplicate = self
                .state
                .trials
                .iter()
                .any(|t| Trial::values_key(&t.values) == key);
            if duplicate && !exact {
                continue;
            }
            self.state.oracle.accept(&id);
            self.state
                .trials
                .push(Trial::new(id, hp.values().to_vec(), plan));
            self.state.save(&self.dir)?;
            return Ok(Some((index, built, hp)));
        }
        // Every draw repeated a trial: the space is exhausted.
        Ok(None)
    }

    /// KerasTuner's lines after a trial.
    fn report(&self, index: usize, took: std::time::Duration) {
        let t = &self.state.trials[index];
        let secs = took.as_secs();
        let clock = format!(
            "{:02}h {:02}m {:02}s",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        match (t.status, t.score) {
            (TrialStatus::Completed, Some(score)) => {
                println!("Trial {} Complete [{clock}]", index + 1);
                println!("{}: {score:.6}", self.objective.name);
            }
            _ => println!(
                "Trial {} Failed [{clock}]: {}",
                index + 1,
                t.message.as_deref().unwrap_or("")
            ),
        }
        if let Some(best) = self.best_trials(1).first().and_then(|b| b.score) {
            println!("Best {} So Far: {best:.6}", self.objective.name);
        }
    }

    fn merge_space(&mut self, hp: &HyperParameters) {
        for p in hp.space() {
            if !self.state.space.iter().any(|q| q.name == p.name) {
                self.state.space.push(p.clone());
            }
        }
    }
}
