//! A trial's executions: each is a TensorBoard run, `trial_<id>/execution<k>`, that starts with
//! the HParams tab's session start record (the trial's values, grouped by trial) and ends with
//! its session end record (success or failure), so TensorBoard's HParams dashboard lists every
//! trial, failed ones included. The trial's score is the mean of its executions' best epochs;
//! the best execution's weights are kept as the trial's checkpoint.

use kiln_summary::{EventWriter, HParam};

use crate::error::{Result, TunerError, io};
use crate::hp::HyperParameters;
use crate::hypermodel::{HyperModel, RunContext};
use crate::scoring::{Failure, Scored, score};
use crate::search::{CHECKPOINT, Search};
use crate::trial::TrialStatus;

impl Search {
    /// Runs a trial's executions and records the outcome.
    pub(crate) fn run_trial<H: HyperModel>(
        &mut self,
        index: usize,
        first: kiln_nn::Result<H::Built>,
        first_hp: HyperParameters,
        model: &mut H,
    ) -> Result<()> {
        let trial = self.state.trials[index].clone();
        let trial_dir = self.dir.join(trial.dir_name());
        let parent_checkpoint = trial
            .plan
            .parent
            .as_ref()
            .map(|p| self.dir.join(format!("trial_{p}")).join(CHECKPOINT));
        let mut first = Some((first, first_hp));
        let mut outcomes = Vec::new();
        for k in 0..self.executions {
            let (built, hp) = match first.take() {
                Some(f) => f,
                None => {
                    let mut hp = HyperParameters::with_values(&trial.values)
                        .with_seed(self.execution_seed(index, k));
                    (model.build(&mut hp), hp)
                }
            };
            let run = RunContext {
                trial: &trial,
                execution: k,
                dir: trial_dir.join(format!("execution{k}")),
                checkpoint: trial_dir.join(format!("execution{k}.weights.safetensors")),
                parent_checkpoint: parent_checkpoint.clone(),
                objective: &self.objective,
                seed: self.execution_seed(index, k),
            };
            let mut session = EventWriter::create(&run.dir)?;
            let hparams: Vec<(String, HParam)> = trial
                .hparams()
                .iter()
                .map(|(k, v)| (k.clone(), v.to_hparam()))
                .collect();
            let refs: Vec<(&str, HParam)> = hparams
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            session.add_hparams(&refs, &trial.dir_name())?;
            session.flush()?;
            let outcome = match built {
                Ok(b) => match model.fit(b, &hp, &run) {
                    Ok(history) => score(&history, &self.objective),
                    Err(e) => Err(Failure::Trial(e.to_string())),
                },
                Err(e) => Err(Failure::Trial(format!("building the model: {e}"))),
            };
            session.add_hparams_end(outcome.is_ok())?;
            session.flush()?;
            if let Err(Failure::Config(message)) = &outcome {
                self.fail(index, message.clone())?;
                return Err(TunerError::Config(message.clone()));
            }
            outcomes.push((outcome, run.checkpoint));
        }
        let t = &mut self.state.trials[index];
        t.execution_scores = outcomes
            .iter()
            .map(|(o, _)| o.as_ref().ok().map(|s| s.best))
            .collect();
        if let Some((Err(Failure::Trial(m)), _)) = outcomes.iter().find(|(o, _)| o.is_err()) {
            return self.fail(index, m.clone());
        }
        let scores: Vec<&Scored> = outcomes
            .iter()
            .filter_map(|(o, _)| o.as_ref().ok())
            .collect();
        let mean = scores.iter().map(|s| s.best).sum::<f64>() / scores.len() as f64;
        let objective = self.objective.clone();
        let best = (0..scores.len())
            .reduce(|a, b| {
                if objective.better(scores[b].best, scores[a].best) {
                    b
                } else {
                    a
                }
            })
            .unwrap_or(0);
        let kept = trial_dir.join(CHECKPOINT);
        for (k, (_, path)) in outcomes.iter().enumerate() {
            if k == best && path.exists() {
                std::fs::rename(path, &kept)
                    .map_err(|e| io(path, "keeping the best weights", e))?;
            } else {
                let _ = std::fs::remove_file(path);
            }
        }
        let t = &mut self.state.trials[index];
        t.status = TrialStatus::Completed;
        t.score = Some(mean);
        t.best_execution = Some(best);
        t.best_epoch = Some(scores[best].epoch);
        t.metrics = scores[best].metrics.clone();
        Ok(())
    }

    pub(crate) fn fail(&mut self, index: usize, message: String) -> Result<()> {
        let t = &mut self.state.trials[index];
        t.status = TrialStatus::Failed;
        t.message = Some(message);
        self.state.save(&self.dir)
    }
}
