//! Losses with Keras's names, formulas and default reduction (mean over the batch), and a
//! compiled model's total loss over its outputs (`compiled_loss`).

use kiln_graph::{DType, Tensor, XentTrack};

use crate::error::{NnError, Result};
use crate::model::OutputSpec;
use crate::trackers::{Fused, Trackers};

/// Keras's epsilon for clipping probabilities (`keras.backend.epsilon()`).
pub const EPSILON: f32 = 1e-7;

/// A loss function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// Integer labels vs class scores (logits, or probabilities when `from_logits` is false).
    SparseCategoricalCrossentropy {
        /// Predictions are logits.
        from_logits: bool,
    },
    /// One-hot or probability targets vs class scores.
    CategoricalCrossentropy {
        /// Predictions are logits.
        from_logits: bool,
    },
    /// 0/1 targets vs one score per output.
    BinaryCrossentropy {
        /// Predictions are logits.
        from_logits: bool,
    },
    /// mean((y - p)^2) over the last axis.
    MeanSquaredError,
    /// mean(|y - p|) over the last axis.
    MeanAbsoluteError,
}

impl Loss {
    /// Keras's name, used in logs.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::SparseCategoricalCrossentropy { .. } => "sparse_categorical_crossentropy",
            Loss::CategoricalCrossentropy { .. } => "categorical_crossentropy",
            Loss::BinaryCrossentropy { .. } => "binary_crossentropy",
            Loss::MeanSquaredError => "mean_squared_error",
            Loss::MeanAbsoluteError => "mean_absolute_error",
        }
    }

    /// Whether targets are integer labels.
    pub fn sparse_targets(&self) -> bool {
        matches!(self, Loss::SparseCategoricalCrossentropy { .. })
    }

    /// Loss per sample, shape [batch] (before the mean).
    pub fn per_sample(&self, y_pred: &Tensor, y_true: &Tensor) -> Result<Tensor> {
        let mismatch = || self.mismatch(y_pred, y_true);
        match *self {
            Loss::SparseCategoricalCrossentropy { from_logits }
            | Loss::CategoricalCrossentropy { from_logits } => {
                let (logits, targets) = self.xent_operands(y_pred, y_true, from_logits)?;
                Ok(logits.softmax_cross_entropy(&targets)?)
            }
            Loss::BinaryCrossentropy { from_logits } => {
                let y = float_targets(y_true, y_pred).ok_or_else(mismatch)?;
                let per = if from_logits {
                    // Stable form: max(z, 0) - z y + log(1 + exp(-|z|)).
                    y_pred
                        .relu()?
                        .sub(&y_pred.mul(&y)?)?
                        .add(&y_pred.abs()?.neg()?.exp()?.add_scalar(1.0)?.log()?)?
                } else {
                    // -(y log p + (1 - y) log(1 - p)), p clipped to [eps, 1 - eps].
                    let p = y_pred.clamp(EPSILON, 1.0 - EPSILON)?;
                    let one_minus = |t: &Tensor| t.mul_scalar(-1.0)?.add_scalar(1.0);
                    y.mul(&p.log()?)?
                        .add(&one_minus(&y)?.mul(&one_minus(&p)?.log()?)?)?
                        .neg()?
                };
                mean_last(&per)
            }
            Loss::MeanSquaredError | Loss::MeanAbsoluteError => {
                let y = float_targets(y_true, y_pred).ok_or_else(mismatch)?;
                let d = y_pred.sub(&y)?;
                let e = if *self == Loss::MeanSquaredError {
                    d.mul(&d)?
                } else {
                    d.abs()?
                };
                mean_last(&e)
            }
        }
    }

    /// Mean loss over the batch (a scalar tensor), Keras's default "sum_over_batch_size". The
    /// cross-entropies take one dispatch for the mean and its gradient
    /// (`softmax_cross_entropy_mean`).
    pub fn call(&self, y_pred: &Tensor, y_true: &Tensor) -> Result<Tensor> {
        Ok(self.call_tracked(y_pred, y_true, XentTrack::default())?.0)
    }

    /// `call` whose cross-entropy dispatch also makes `track`'s tracker updates (a training
    /// step's loss tracker and accuracy); returns the loss and whether they were made (never
    /// for the other losses, nor for inputs too large for the one-dispatch mean).
    pub fn call_tracked(
        &self,
        y_pred: &Tensor,
        y_true: &Tensor,
        track: XentTrack<'_>,
    ) -> Result<(Tensor, bool)> {
        match *self {
            Loss::SparseCategoricalCrossentropy { from_logits }
            | Loss::CategoricalCrossentropy { from_logits } => {
                let (logits, targets) = self.xent_operands(y_pred, y_true, from_logits)?;
                Ok(logits.softmax_cross_entropy_mean_tracked(&targets, track)?)
            }
            _ => Ok((self.per_sample(y_pred, y_true)?.mean_all()?, false)),
        }
    }

    fn mismatch(&self, y_pred: &Tensor, y_true: &Tensor) -> NnError {
        NnError::Input(format!(
            "{}: predictions {:?} and targets {:?} ({}) do not match",
            self.name(),
            y_pred.shape(),
            y_true.shape(),
            y_true.dtype().name()
        ))
    }

    /// A softmax cross-entropy's (logits, targets), checked against each other (u32 labels
    /// flattened to [batch]).
    fn xent_operands(
        &self,
        y_pred: &Tensor,
        y_true: &Tensor,
        from_logits: bool,
    ) -> Result<(Tensor, Tensor)> {
        let mismatch = || self.mismatch(y_pred, y_true);
        let targets = if self.sparse_targets() {
            if y_true.dtype() != DType::U32 {
                return Err(NnError::Input(format!(
                    "{} needs integer (u32) labels, got {} targets; use CategoricalCrossentropy for one-hot targets",
                    self.name(),
                    y_true.dtype().name()
                )));
            }
            let labels = y_true.reshape(&[y_true.numel()])?;
            if Some(&labels.numel()) != y_pred.shape().first() {
                return Err(mismatch());
            }
            labels
        } else {
            if y_true.dtype() != DType::F32 || y_true.shape() != y_pred.shape() {
                return Err(mismatch());
            }
            y_true.clone()
        };
        let logits = if from_logits {
            y_pred.clone()
        } else {
            probs_to_logits(y_pred)?
        };
        Ok((logits, targets))
    }
}

/// The logits behind probabilities for the cross-entropies, as Keras finds them: a softmax's
/// input when `p` is a softmax's output (Keras's `_keras_logits`; so a Dense(softmax) head
/// trains exactly as from logits, and its step skips the softmax, clip and log and their
/// gradients), else log(clip(p, eps, 1 - eps)), whose softmax renormalises like Keras's
/// `p / sum(p)`.
fn probs_to_logits(p: &Tensor) -> Result<Tensor> {
    match p.softmax_input() {
        Some(logits) => Ok(logits.clone()),
        None => Ok(p.clamp(EPSILON, 1.0 - EPSILON)?.log()?),
    }
}

/// f32 targets reshaped like the predictions, if they hold the same number of values.
fn float_targets(y_true: &Tensor, y_pred: &Tensor) -> Option<Tensor> {
    (y_true.dtype() == DType::F32 && y_true.numel() == y_pred.numel())
        .then(|| y_true.reshape(y_pred.shape()).ok())
        .flatten()
}

/// Mean over every axis but the batch: [batch, ...] -> [batch].
fn mean_last(t: &Tensor) -> Result<Tensor> {
    let batch = *t.shape().first().ok_or_else(|| {
        NnError::Input(format!(
            "predictions need a batch axis, got shape {:?}",
            t.shape()
        ))
    })?;
    Ok(t.reshape(&[batch, t.numel() / batch.max(1)])?
        .mean(1, false)?)
}

/// Each output's mean loss and their weighted sum (Keras's `loss_weights`); one output of
/// weight 1 is its own total, with no extra kernel. With `trackers` (and the batch's sample
/// count), a one-output classifier's loss dispatch also updates the loss tracker and its
/// accuracy; the returned `Fused` tells `Trackers::update` what not to add again.
pub(crate) fn compiled_loss(
    specs: &[OutputSpec],
    preds: &[Tensor],
    ys: &[Tensor],
    trackers: Option<(&Trackers, f32)>,
) -> Result<(Tensor, Vec<Tensor>, Fused)> {
    let plan = trackers.and_then(|(t, n)| t.xent_track(specs, preds, n));
    let mut fused = Fused::default();
    let mut losses = Vec::with_capacity(specs.len());
    for ((s, p), y) in specs.iter().zip(preds).zip(ys) {
        // `plan` is only Some for one output.
        losses.push(match plan {
            Some((track, planned)) => {
                let (l, made) = s.loss.call_tracked(p, y, track)?;
                if made {
                    fused = planned;
                }
                l
            }
            None => s.loss.call(p, y)?,
        });
    }
    let mut total: Option<Tensor> = None;
    for (l, s) in losses.iter().zip(specs) {
        let term = if s.weight == 1.0 {
            l.clone()
        } else {
            l.mul_scalar(s.weight)?
        };
        total = Some(match total {
            None => term,
            Some(t) => t.add(&term)?,
        });
    }
    let total = total.ok_or_else(|| NnError::Config("the model has no outputs".into()))?;
    Ok((total, losses, fused))
}
