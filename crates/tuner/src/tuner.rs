//! `Tuner`: a search over kiln models, as KerasTuner's `RandomSearch` / `Hyperband` /
//! `BayesianOptimization` tuners. The build function declares its hyperparameters and returns a
//! compiled model (a `Model`, a `Sequential`, a subclassed model: anything `Into<Model>`);
//! `search` trains each trial with `fit` on arrays or a `Dataset`, with the caller's
//! `FitConfig` (made fresh per execution, so callbacks such as `EarlyStopping` start clean) plus
//! three callbacks of the tuner's: a TensorBoard run per execution, a stop at the end of an
//! epoch whose loss is NaN, and a save of the best epoch's weights. A Hyperband trial trains up
//! to its round's epochs, starting from its parent's best weights at the parent's last epoch.

use std::ops::Deref;
use std::path::PathBuf;

use kiln_nn::callbacks::{Callback, TensorBoard};
use kiln_nn::{Array, Dataset, FitConfig, History, IntoArrays, Logs, Model};

use crate::error::Result;
use crate::hp::HyperParameters;
use crate::hypermodel::{HyperModel, RunContext};
use crate::objective::Objective;
use crate::oracle::Oracle;
use crate::search::Search;

/// A hyperparameter search over kiln models.
pub struct Tuner<B> {
    search: Search,
    build: B,
    histogram_freq: usize,
}

impl<B> Deref for Tuner<B> {
    type Target = Search;
    fn deref(&self) -> &Search {
        &self.search
    }
}

impl<B, M> Tuner<B>
where
    B: Fn(&mut HyperParameters) -> kiln_nn::Result<M>,
    M: Into<Model>,
{
    /// A tuner writing its trials under `directory`, optimising `objective`.
    pub fn new(
        directory: impl Into<PathBuf>,
        oracle: Oracle,
        objective: Objective,
        build: B,
    ) -> Self {
        Tuner {
            search: Search::new(directory, oracle, objective),
            build,
            histogram_freq: 0,
        }
    }
    /// Seeds the search.
    pub fn seed(mut self, seed: u64) -> Self {
        self.search = self.search.seed(seed);
        self
    }
    /// Trainings per trial, averaged.
    pub fn executions_per_trial(mut self, n: usize) -> Self {
        self.search = self.search.executions_per_trial(n);
        self
    }
    /// Failed trials in a row before the search stops.
    pub fn max_consecutive_failed_trials(mut self, n: usize) -> Self {
        self.search = self.search.max_consecutive_failed_trials(n);
        self
    }
    /// Deletes a previous search in the directory instead of resuming it.
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.search = self.search.overwrite(yes);
        self
    }
    /// Prints a line per trial (default on).
    pub fn verbose(mut self, yes: bool) -> Self {
        self.search = self.search.verbose(yes);
        self
    }
    /// Weight histograms in each trial's TensorBoard run every `n` epochs (0: none).
    pub fn histogram_freq(mut self, n: usize) -> Self {
        self.histogram_freq = n;
        self
    }

    /// Runs the search on arrays: one per model input (`x`) and output (`y`), as `fit` takes
    /// them. `fit` makes each execution's configuration (epochs, batch size, validation,
    /// callbacks); a resumed search continues after the last finished trial.
    pub fn search<'a>(
        &mut self,
        x: impl IntoArrays<'a>,
        y: impl IntoArrays<'a>,
        fit: impl Fn() -> FitConfig,
    ) -> Result<()> {
        let mut runner = Runner {
            build: &self.build,
            data: Data::Arrays(x.into_arrays(), y.into_arrays()),
            fit: &fit,
            histogram_freq: self.histogram_freq,
        };
        self.search.run(&mut runner)
    }

    /// Runs the search on a `Dataset` (its validation, if any, in `fit`'s configuration).
    pub fn search_dataset(&mut self, data: &Dataset, fit: impl Fn() -> FitConfig) -> Result<()> {
        let mut runner = Runner {
            build: &self.build,
            data: Data::Dataset(data),
            fit: &fit,
            histogram_freq: self.histogram_freq,
        };
        self.search.run(&mut runner)
    }

    /// The `n` best trials' models with their best weights (`get_best_models`).
    pub fn get_best_models(&self, n: usize) -> Result<Vec<Model>> {
        let mut out = Vec::new();
        for t in self.search.best_trials(n) {
            let index = self
                .search
                .trials()
                .iter()
                .position(|u| u.id == t.id)
                .unwrap_or(0);
            let seed = self
                .search
                .execution_seed(index, t.best_execution.unwrap_or(0));
            let mut hp = HyperParameters::with_values(&t.values).with_seed(seed);
            let mut model: Model = (self.build)(&mut hp)?.into();
            if let Some(ckpt) = self.search.checkpoint(t) {
                model.load_weights(ckpt)?;
            }
            out.push(model);
        }
        Ok(out)
    }
}

enum Data<'a> {
    Arrays(Vec<&'a Array>, Vec<&'a Array>),
    Dataset(&'a Dataset),
}

/// The tuner's `HyperModel`: the user's build function, `fit` on the search data.
struct Runner<'a, B, F> {
    build: &'a B,
    data: Data<'a>,
    fit: &'a F,
    histogram_freq: usize,
}

impl<B, M, F> HyperModel for Runner<'_, B, F>
where
    B: Fn(&mut HyperParameters) -> kiln_nn::Result<M>,
    M: Into<Model>,
    F: Fn() -> FitConfig,
{
    type Built = Model;

    fn build(&mut self, hp: &mut HyperParameters) -> kiln_nn::Result<Model> {
        (self.build)(hp).map(Into::into)
    }

    fn fit(
        &mut self,
        mut model: Model,
        _hp: &HyperParameters,
        run: &RunContext<'_>,
    ) -> kiln_nn::Result<History> {
        if let Some(parent) = &run.parent_checkpoint {
            model.load_weights(parent)?;
        }
        let mut cfg = (self.fit)();
        if let Some(epochs) = run.trial.plan.epochs {
            cfg.epochs = epochs;
        }
        cfg.initial_epoch = run.trial.plan.initial_epoch;
        cfg.seed = cfg.seed.wrapping_add(run.execution as u64);
        cfg.callbacks.push(Box::new(
            TensorBoard::new(&run.dir).histogram_freq(self.histogram_freq),
        ));
        cfg.callbacks.push(Box::new(StopOnNaN));
        cfg.callbacks.push(Box::new(SaveBestEpoch {
            path: run.checkpoint.clone(),
            objective: run.objective.clone(),
            best: None,
        }));
        match &self.data {
            Data::Arrays(x, y) => model.fit(&x[..], &y[..], cfg),
            Data::Dataset(d) => model.fit_dataset(d, cfg),
        }
    }
}

/// Stops a trial at the end of an epoch whose loss is not finite (the epoch's loss is read back
/// anyway; Keras's per-batch `TerminateOnNaN` would add a GPU wait to every step).
struct StopOnNaN;

impl Callback for StopOnNaN {
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &Logs,
        _model: &mut Model,
    ) -> kiln_nn::Result<bool> {
        Ok(logs.get("loss").is_some_and(|l| !l.is_finite()))
    }
}

/// Saves the weights whenever the objective improves (KerasTuner's `SaveBestEpoch`).
struct SaveBestEpoch {
    path: PathBuf,
    objective: Objective,
    best: Option<f64>,
}

impl Callback for SaveBestEpoch {
    fn on_epoch_end(
        &mut self,
        _epoch: usize,
        logs: &Logs,
        model: &mut Model,
    ) -> kiln_nn::Result<bool> {
        let Some(v) = logs.get(&self.objective.name).map(f64::from) else {
            return Ok(false);
        };
        if v.is_finite() && self.best.is_none_or(|b| self.objective.better(v, b)) {
            self.best = Some(v);
            model.save_weights(&self.path)?;
        }
        Ok(false)
    }
}
