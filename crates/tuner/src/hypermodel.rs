//! `HyperModel`: what a trial builds and how it trains, the one thing a search needs from its
//! caller. `Tuner` implements it for kiln models and `fit`; a custom training loop implements it
//! itself, as KerasTuner's `HyperModel.build` / `HyperModel.fit`.

use std::path::PathBuf;

use kiln_nn::History;

use crate::hp::HyperParameters;
use crate::objective::Objective;
use crate::trial::Trial;

/// What a trial builds and how it trains.
pub trait HyperModel {
    /// What `build` makes (a compiled `Model` for `Tuner`).
    type Built;
    /// Builds from the hyperparameters (declaring them as it goes).
    fn build(&mut self, hp: &mut HyperParameters) -> kiln_nn::Result<Self::Built>;
    /// Trains one execution and returns its per-epoch logs. It should save the weights of its
    /// best epoch (by the objective) to `run.checkpoint`, and start from `run.parent_checkpoint`
    /// when there is one.
    fn fit(
        &mut self,
        built: Self::Built,
        hp: &HyperParameters,
        run: &RunContext<'_>,
    ) -> kiln_nn::Result<History>;
}

/// Where and how one execution of a trial runs.
pub struct RunContext<'a> {
    /// The trial.
    pub trial: &'a Trial,
    /// Execution number (0-based).
    pub execution: usize,
    /// The execution's TensorBoard run directory.
    pub dir: PathBuf,
    /// Where to save the best epoch's weights.
    pub checkpoint: PathBuf,
    /// The parent trial's best weights (a promoted Hyperband trial).
    pub parent_checkpoint: Option<PathBuf>,
    /// What the search optimises.
    pub objective: &'a Objective,
    /// A seed for this execution (shuffling, initialisation).
    pub seed: u64,
}
