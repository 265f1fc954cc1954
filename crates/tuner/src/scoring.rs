//! Scoring an execution from its per-epoch logs: the best epoch by the objective, or why there
//! is none (a NaN loss, no epoch at all, or an objective the logs lack, which stops the search
//! because every trial would fail the same way).

use kiln_nn::History;

use crate::objective::Objective;

/// An execution's best epoch.
pub(crate) struct Scored {
    pub best: f64,
    pub epoch: usize,
    pub metrics: Vec<(String, f64)>,
}

/// Why an execution has no score.
pub(crate) enum Failure {
    /// The trial failed (its training, its build, a NaN): the search goes on.
    Trial(String),
    /// The objective is not in the logs: every trial would fail, so the search stops.
    Config(String),
}

pub(crate) fn score(
    history: &History,
    objective: &Objective,
) -> std::result::Result<Scored, Failure> {
    if history.logs.is_empty() {
        return Err(Failure::Trial(
            "training ended before its first epoch did".into(),
        ));
    }
    if let Some(i) = history
        .logs
        .iter()
        .position(|l| l.get("loss").is_some_and(|v| !v.is_finite()))
    {
        let epoch = history.epochs.get(i).copied().unwrap_or(i);
        return Err(Failure::Trial(format!(
            "the loss became {} in epoch {}",
            history.logs[i].get("loss").unwrap_or(f32::NAN),
            epoch + 1
        )));
    }
    if !history
        .logs
        .iter()
        .any(|l| l.get(&objective.name).is_some())
    {
        return Err(Failure::Config(format!(
            "the objective {:?} is not in the training logs (they have {:?}); pass validation \
             data for a val_ objective, or choose one of those keys",
            objective.name,
            history.keys()
        )));
    }
    let mut best: Option<(usize, f64)> = None;
    for (i, l) in history.logs.iter().enumerate() {
        if let Some(v) = l
            .get(&objective.name)
            .map(f64::from)
            .filter(|v| v.is_finite())
            && best.is_none_or(|(_, b)| objective.better(v, b))
        {
            best = Some((i, v));
        }
    }
    let Some((i, v)) = best else {
        return Err(Failure::Trial(format!(
            "the objective {:?} was never finite",
            objective.name
        )));
    };
    Ok(Scored {
        best: v,
        epoch: history.epochs.get(i).copied().unwrap_or(i),
        metrics: history.logs[i]
            .values
            .iter()
            .map(|(k, v)| (k.clone(), *v as f64))
            .collect(),
    })
}
