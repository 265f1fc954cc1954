//! The GPU-resident trackers of a compiled model's loss and metrics, and reading them back as
//! `Logs` in one wait. Keys follow Keras: `loss` (the weighted sum over the outputs), and for a
//! model with several outputs `<output>_loss` and `<output>_<metric>` per output; one output
//! logs its metrics under their own names.

use kiln_graph::Tensor;

use crate::error::Result;
use crate::fit::not_compiled;
use crate::logs::Logs;
use crate::metrics::{Metric, MetricKind};
use crate::model::Model;

/// What one output's training is measured with.
pub struct OutputTrackers {
    /// Its own loss (only when the model has several outputs).
    pub loss: Option<Metric>,
    /// Its metrics.
    pub metrics: Vec<Metric>,
}

/// The loss and metric trackers of a compiled model.
pub struct Trackers {
    /// The total loss.
    pub loss: Metric,
    /// Per output, in output order.
    pub outputs: Vec<OutputTrackers>,
}

/// Log key of a metric: Keras logs sparse/categorical/binary accuracy requested as "accuracy"
/// under "accuracy"; kiln does the same for every accuracy kind.
fn metric_key(k: &MetricKind) -> String {
    match k {
        MetricKind::SparseCategoricalAccuracy
        | MetricKind::CategoricalAccuracy
        | MetricKind::BinaryAccuracy { .. } => "accuracy".into(),
        other => other.name(),
    }
}

impl Model {
    /// Fresh trackers for the compiled loss and metrics.
    pub fn trackers(&self) -> Result<Trackers> {
        let c = self.compiled.as_ref().ok_or_else(not_compiled)?;
        let dev = self.device();
        let (_, names) = self.io_names();
        let many = c.outputs.len() > 1;
        let outputs = c
            .outputs
            .iter()
            .zip(names)
            .map(|(spec, out)| -> Result<OutputTrackers> {
                let key = |k: &str| {
                    if many {
                        format!("{out}_{k}")
                    } else {
                        k.to_string()
                    }
                };
                let loss = many
                    .then(|| Metric::new(dev, MetricKind::Mean, &key("loss")))
                    .transpose()?;
                let metrics = spec
                    .metrics
                    .iter()
                    .map(|m| Metric::new(dev, *m, &key(&metric_key(m))))
                    .collect::<Result<_>>()?;
                Ok(OutputTrackers { loss, metrics })
            })
            .collect::<Result<_>>()?;
        Ok(Trackers {
            loss: Metric::new(dev, MetricKind::Mean, "loss")?,
            outputs,
        })
    }
}

impl Trackers {
    fn all(&self) -> Vec<&Metric> {
        let mut all = vec![&self.loss];
        all.extend(self.outputs.iter().filter_map(|o| o.loss.as_ref()));
        all.extend(self.outputs.iter().flat_map(|o| &o.metrics));
        all
    }

    /// Zeroes every tracker (on the GPU, in command order).
    pub fn reset(&self) -> Result<()> {
        for m in self.all() {
            m.reset_state()?;
        }
        Ok(())
    }

    /// Reads every tracker in one wait, as logs ("loss" first), keys prefixed with `prefix`.
    pub fn read(&self, prefix: &str) -> Result<Logs> {
        let all = self.all();
        let values = Metric::results(&all)?;
        Ok(Logs {
            values: all
                .iter()
                .zip(values)
                .map(|(m, v)| (format!("{prefix}{}", m.name()), v))
                .collect(),
            confusion: None,
        })
    }

    /// Adds one batch of `n` samples: the total loss, each output's loss, each metric.
    pub(crate) fn update(
        &self,
        total: &Tensor,
        losses: &[Tensor],
        ys: &[Tensor],
        preds: &[Tensor],
        n: f32,
    ) -> Result<()> {
        self.loss.update_mean(total, n)?;
        for (((o, l), y), p) in self.outputs.iter().zip(losses).zip(ys).zip(preds) {
            if let Some(t) = &o.loss {
                t.update_mean(l, n)?;
            }
            for m in &o.metrics {
                m.update_state(y, p)?;
            }
        }
        Ok(())
    }
}
