//! The GPU-resident trackers of a compiled model's loss and metrics, and reading them back as
//! `Logs` in one wait. Keys follow Keras: `loss` (the weighted sum over the outputs), and for a
//! model with several outputs `<output>_loss` and `<output>_<metric>` per output; one output
//! logs its metrics under their own names. A one-output classifier's loss dispatch makes the
//! loss tracker's and its accuracy's updates itself (`Trackers::xent_track`), so a training
//! step spends no dispatch of its own on them.

use kiln_graph::{Tensor, XentHits, XentTrack};

use crate::error::Result;
use crate::fit::not_compiled;
use crate::logs::Logs;
use crate::losses::Loss;
use crate::metrics::{Metric, MetricKind};
use crate::model::{Model, OutputSpec};

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
                    // Logged under the requested name, as Keras does: "accuracy" (scored as
                    // the loss implies) or the explicit kind's own name.
                    .map(|m| Metric::new(dev, m.resolve(&spec.loss), &key(&m.name())))
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

    /// The updates the loss dispatch of a batch of `n` samples can make (`XentTrack`): for one
    /// output of weight 1 whose loss is a cross-entropy of [batch, classes] predictions, the
    /// loss tracker's (weight n, as `update` adds it) and the first accuracy that scores the
    /// loss's own targets; and what `update` must then skip. None for any other model.
    pub(crate) fn xent_track<'a>(
        &'a self,
        specs: &[OutputSpec],
        preds: &'a [Tensor],
        n: f32,
    ) -> Option<(XentTrack<'a>, Fused)> {
        let ([spec], [p], [o]) = (specs, preds, &self.outputs[..]) else {
            return None;
        };
        let sparse = match spec.loss {
            Loss::SparseCategoricalCrossentropy { .. } => true,
            Loss::CategoricalCrossentropy { .. } => false,
            _ => return None,
        };
        if spec.weight != 1.0 || p.shape().len() != 2 {
            return None;
        }
        // (index, k) of the accuracy: labels score top-k (k >= 1), distributions argmax.
        let scored = o.metrics.iter().enumerate().find_map(|(i, m)| {
            let k = match (m.kind(), sparse) {
                (MetricKind::SparseCategoricalAccuracy | MetricKind::Accuracy, true) => 1,
                (MetricKind::SparseTopKCategoricalAccuracy { k }, true) if k >= 1 => k,
                (MetricKind::CategoricalAccuracy, false) => 1,
                _ => return None,
            };
            Some((i, k))
        });
        let hits = scored.map(|(i, k)| XentHits {
            preds: p.buffer(),
            acc: o.metrics[i].acc(),
            k,
        });
        let track = XentTrack {
            loss: Some((self.loss.acc(), n)),
            hits,
        };
        let fused = Fused {
            loss: true,
            metric: scored.map(|(i, _)| i),
        };
        Some((track, fused))
    }

    /// Adds one batch of `n` samples: the total loss, each output's loss, each metric, except
    /// what the loss dispatch added already (`fused`).
    pub(crate) fn update(
        &self,
        total: &Tensor,
        losses: &[Tensor],
        ys: &[Tensor],
        preds: &[Tensor],
        n: f32,
        fused: Fused,
    ) -> Result<()> {
        if !fused.loss {
            self.loss.update_mean(total, n)?;
        }
        for (((o, l), y), p) in self.outputs.iter().zip(losses).zip(ys).zip(preds) {
            if let Some(t) = &o.loss {
                t.update_mean(l, n)?;
            }
            for (i, m) in o.metrics.iter().enumerate() {
                if fused.metric != Some(i) {
                    m.update_state(y, p)?;
                }
            }
        }
        Ok(())
    }
}

/// The tracker updates a batch's loss dispatch made (`Trackers::xent_track`), which
/// `Trackers::update` skips: the total loss's, and the first output's metric of this index.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fused {
    loss: bool,
    metric: Option<usize>,
}
