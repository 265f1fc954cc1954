//! Metrics as Keras has them: objects with `update_state` / `result` / `reset_state`. State lives
//! on the GPU (a [sum, count] accumulator updated by kernels); `result` is the only readback,
//! and `results` reads several metrics in one wait.

use kiln_device::GpuBuffer;
use kiln_device::ops::metrics::{
    ACCUMULATE_MAX_VALUES, Hits, accumulate_mean, confusion_update, correct_binary, correct_dense,
    correct_sparse,
};
use kiln_graph::{DType, Device, Tensor};

use crate::error::{NnError, Result};
use crate::losses::Loss;

/// What a metric measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricKind {
    /// "accuracy": resolved from the loss at compile time, as Keras does.
    Accuracy,
    /// Integer labels vs argmax of the scores.
    SparseCategoricalAccuracy,
    /// argmax of one-hot targets vs argmax of the scores.
    CategoricalAccuracy,
    /// (score > threshold) vs 0/1 targets.
    BinaryAccuracy {
        /// Decision threshold (0.5 for probabilities; use 0.0 for logits).
        threshold: f32,
    },
    /// Label among the k highest scores.
    SparseTopKCategoricalAccuracy {
        /// k.
        k: usize,
    },
    /// Running mean of the values passed to `update_mean` (the loss tracker).
    Mean,
}

impl MetricKind {
    /// Keras's default name.
    pub fn name(&self) -> String {
        match self {
            MetricKind::Accuracy => "accuracy".into(),
            MetricKind::SparseCategoricalAccuracy => "sparse_categorical_accuracy".into(),
            MetricKind::CategoricalAccuracy => "categorical_accuracy".into(),
            MetricKind::BinaryAccuracy { .. } => "binary_accuracy".into(),
            // Keras's name for every k (SparseTopKCategoricalAccuracy's default).
            MetricKind::SparseTopKCategoricalAccuracy { .. } => {
                "sparse_top_k_categorical_accuracy".into()
            }
            MetricKind::Mean => "mean".into(),
        }
    }

    /// "accuracy" made concrete for `loss`, as Keras's compile does.
    pub fn resolve(self, loss: &Loss) -> MetricKind {
        match (self, loss) {
            (MetricKind::Accuracy, Loss::SparseCategoricalCrossentropy { .. }) => {
                MetricKind::SparseCategoricalAccuracy
            }
            (MetricKind::Accuracy, Loss::CategoricalCrossentropy { .. }) => {
                MetricKind::CategoricalAccuracy
            }
            (MetricKind::Accuracy, Loss::BinaryCrossentropy { from_logits: true }) => {
                MetricKind::BinaryAccuracy { threshold: 0.0 }
            }
            (MetricKind::Accuracy, _) => MetricKind::BinaryAccuracy { threshold: 0.5 },
            (k, _) => k,
        }
    }
}

/// A metric with GPU-resident state.
pub struct Metric {
    name: String,
    kind: MetricKind,
    device: Device,
    acc: GpuBuffer,
}

impl Metric {
    /// A metric named `name` (Keras logs it under that key).
    pub fn new(device: &Device, kind: MetricKind, name: &str) -> Result<Self> {
        Ok(Self {
            name: name.into(),
            kind,
            device: device.clone(),
            acc: device.zeros(8)?,
        })
    }

    /// The log key.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it measures.
    pub fn kind(&self) -> MetricKind {
        self.kind
    }

    /// The GPU state, [sum, count], for kernels that update it on the side (`Trackers`).
    pub(crate) fn acc(&self) -> &GpuBuffer {
        &self.acc
    }

    /// Adds a batch: `y_pred` [batch, classes] (or [batch, outputs] for binary), `y_true`
    /// labels or targets. Records kernels only; nothing is read back.
    pub fn update_state(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<()> {
        let dev = &self.device;
        let bad = |what: &str| {
            NnError::Input(format!(
                "metric {}: {what} (predictions {:?}, targets {:?} {})",
                self.name,
                y_pred.shape(),
                y_true.shape(),
                y_true.dtype().name()
            ))
        };
        let rows = *y_pred
            .shape()
            .first()
            .ok_or_else(|| bad("predictions need a batch axis"))?;
        let cols = y_pred.numel() / rows.max(1);
        // Which kernel scores the batch, checked against the targets: (rows or elements, kernel).
        enum Score {
            Sparse { k: usize },
            Dense,
            Binary { threshold: f32 },
        }
        let (n, kernel) = match self.kind {
            MetricKind::SparseCategoricalAccuracy
            | MetricKind::SparseTopKCategoricalAccuracy { .. }
            | MetricKind::Accuracy => {
                if y_true.dtype() != DType::U32 || y_true.numel() != rows {
                    return Err(bad("needs one u32 label per row"));
                }
                let k = match self.kind {
                    MetricKind::SparseTopKCategoricalAccuracy { k } => k,
                    _ => 1,
                };
                (rows, Score::Sparse { k })
            }
            MetricKind::CategoricalAccuracy => {
                if y_true.dtype() != DType::F32 || y_true.numel() != y_pred.numel() {
                    return Err(bad("needs one-hot targets shaped like the predictions"));
                }
                (rows, Score::Dense)
            }
            MetricKind::BinaryAccuracy { threshold } => {
                if y_true.dtype() != DType::F32 || y_true.numel() != y_pred.numel() {
                    return Err(bad("needs f32 0/1 targets shaped like the predictions"));
                }
                (y_pred.numel(), Score::Binary { threshold })
            }
            MetricKind::Mean => {
                return Err(NnError::Config(format!(
                    "metric {} is a Mean: use update_mean",
                    self.name
                )));
            }
        };
        let (p, t) = (y_pred.buffer(), y_true.buffer());
        let score = |hits: Hits<'_>| -> Result<()> {
            match kernel {
                Score::Sparse { k } => correct_sparse(dev, p, t, hits, rows, cols, k)?,
                Score::Dense => correct_dense(dev, p, t, hits, rows, cols)?,
                Score::Binary { threshold } => correct_binary(dev, p, t, hits, n, threshold)?,
            }
            Ok(())
        };
        // The hits go straight into the running [sum, count] in one dispatch where one
        // workgroup may take the batch; else per row, then summed in.
        if y_pred.numel() <= ACCUMULATE_MAX_VALUES {
            return score(Hits::Accumulate(&self.acc));
        }
        let per = dev.alloc((n * 4) as u64)?;
        score(Hits::PerRow(&per))?;
        accumulate_mean(dev, &per, &self.acc, n, 1.0, n as f32)?;
        Ok(())
    }

    /// Adds `value` (a scalar tensor) with `weight` to a Mean metric.
    pub fn update_mean(&self, value: &Tensor, weight: f32) -> Result<()> {
        accumulate_mean(&self.device, value.buffer(), &self.acc, 1, weight, weight)?;
        Ok(())
    }

    /// The current value (one readback).
    pub fn result(&self) -> Result<f32> {
        Ok(Self::results(&[self])?[0])
    }

    /// Values of several metrics with one GPU wait.
    pub fn results(metrics: &[&Metric]) -> Result<Vec<f32>> {
        let Some(first) = metrics.first() else {
            return Ok(Vec::new());
        };
        let bufs: Vec<&GpuBuffer> = metrics.iter().map(|m| &m.acc).collect();
        let raw = first.device.read_back_f32(&bufs)?;
        Ok(raw
            .iter()
            .map(|v| if v[1] > 0.0 { v[0] / v[1] } else { 0.0 })
            .collect())
    }

    /// Clears the state (in command order).
    pub fn reset_state(&self) -> Result<()> {
        let zero = self.device.zeros(8)?;
        self.device.copy(&zero, 0, &self.acc, 0, 8)?;
        Ok(())
    }
}

/// A confusion matrix accumulated on the GPU: counts[true label][predicted class].
pub struct ConfusionMatrix {
    classes: usize,
    device: Device,
    counts: GpuBuffer,
}

impl ConfusionMatrix {
    /// For `classes` classes.
    pub fn new(device: &Device, classes: usize) -> Result<Self> {
        Ok(Self {
            classes,
            device: device.clone(),
            counts: device.zeros((classes * classes * 4) as u64)?,
        })
    }

    /// Adds a batch of scores [batch, classes] and u32 labels.
    pub fn update_state(&self, y_true: &Tensor, y_pred: &Tensor) -> Result<()> {
        let rows = y_pred.shape().first().copied().unwrap_or(0);
        if y_pred.shape().is_empty()
            || y_true.dtype() != DType::U32
            || y_true.numel() != rows
            || y_pred.numel() != rows * self.classes
        {
            return Err(NnError::Input(format!(
                "confusion matrix: needs [batch, {}] scores and one u32 label per row",
                self.classes
            )));
        }
        confusion_update(
            &self.device,
            y_pred.buffer(),
            y_true.buffer(),
            &self.counts,
            rows,
            self.classes,
        )?;
        Ok(())
    }

    /// counts[label * classes + predicted] (one readback).
    pub fn result(&self) -> Result<Vec<u32>> {
        Ok(self.device.read_u32(&self.counts)?)
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Clears the counts.
    pub fn reset_state(&self) -> Result<()> {
        let zero = self.device.zeros(self.counts.bytes())?;
        self.device
            .copy(&zero, 0, &self.counts, 0, self.counts.bytes())?;
        Ok(())
    }
}
