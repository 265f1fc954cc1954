//! The `TensorBoard` callback: writes what Keras's does (runs `<log_dir>/train` and
//! `<log_dir>/validation`, `epoch_*` scalars with the `val_` prefix stripped, the learning rate,
//! per-layer weight histograms every `histogram_freq` epochs, batch-level scalars every
//! `update_freq` batches) and what Keras users add by hand: the model graph as a real GraphDef,
//! a few input samples as images, a validation confusion matrix per epoch (image and table),
//! seconds per epoch, and hyperparameters for the HParams tab; on request gradient and
//! activation histograms and the evaluation examples kiln-studio shows (`tensorboard_inspect`).

use std::path::PathBuf;
use std::time::Instant;

use kiln_summary::{EventWriter, HParam, Image, Pixels};

use crate::callbacks::tensorboard_confusion::{confusion_image, confusion_markdown};
use crate::callbacks::tensorboard_inspect::{CONFUSION_TAG, EVAL_PLUGIN, Inspection};
use crate::callbacks::{Callback, TrainInfo};
use crate::error::Result;
use crate::logs::Logs;
use crate::model::Model;

/// When batch-level scalars are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateFreq {
    /// Only per epoch (Keras's default "epoch").
    Epoch,
    /// Also every n batches (`batch_loss`, `batch_accuracy` at the global step).
    Batches(usize),
}

/// Keras's `keras.callbacks.TensorBoard`, plus the graph, sample images, confusion matrix and
/// hparams.
pub struct TensorBoard {
    log_dir: PathBuf,
    /// Weight histograms every this many epochs (0: never).
    pub histogram_freq: usize,
    /// Write the model graph.
    pub write_graph: bool,
    /// Write up to this many training inputs as images (image-shaped inputs only).
    pub write_images: usize,
    /// Batch-level scalars.
    pub update_freq: UpdateFreq,
    /// Validation confusion matrix per epoch (integer labels only).
    pub confusion_matrix: bool,
    /// Hyperparameters for the HParams tab.
    pub hparams: Vec<(String, HParam)>,
    /// Per-kernel GPU time and host time between submits per epoch, as scalars under
    /// `profile/` (the device's profiler: slower training, see kiln_device::profile).
    pub profile: bool,
    /// Gradient histograms of the trainable weights on histogram epochs (Keras 2's
    /// `write_grads`; needs `histogram_freq > 0`).
    pub write_grads: bool,
    /// Layers whose outputs get activation histograms on histogram epochs.
    pub activation_layers: Vec<String>,
    /// Validation samples whose label, prediction and probabilities are written every epoch
    /// (kiln-studio's confusion-matrix drill-down; 0: none).
    pub eval_examples: usize,
    inspection: Inspection,
    train: Option<EventWriter>,
    validation: Option<EventWriter>,
    root: Option<EventWriter>,
    epoch_start: Option<Instant>,
}

impl TensorBoard {
    /// Writes under `log_dir`, Keras's defaults plus the graph (histograms off, per-epoch scalars).
    pub fn new(log_dir: impl Into<PathBuf>) -> Self {
        Self {
            log_dir: log_dir.into(),
            histogram_freq: 0,
            write_graph: true,
            write_images: 0,
            update_freq: UpdateFreq::Epoch,
            confusion_matrix: false,
            hparams: Vec::new(),
            profile: false,
            write_grads: false,
            activation_layers: Vec::new(),
            eval_examples: 0,
            inspection: Inspection::default(),
            train: None,
            validation: None,
            root: None,
            epoch_start: None,
        }
    }

    /// Weight histograms every `n` epochs.
    pub fn histogram_freq(mut self, n: usize) -> Self {
        self.histogram_freq = n;
        self
    }

    /// Up to `n` training inputs as images.
    pub fn write_images(mut self, n: usize) -> Self {
        self.write_images = n;
        self
    }

    /// Batch-level scalars.
    pub fn update_freq(mut self, f: UpdateFreq) -> Self {
        self.update_freq = f;
        self
    }

    /// A validation confusion matrix per epoch.
    pub fn confusion_matrix(mut self, yes: bool) -> Self {
        self.confusion_matrix = yes;
        self
    }

    /// Profiles training and writes where each epoch's time went: `profile/<kernel>_ms` (that
    /// kernel's GPU time in the epoch), `profile/between_<kind>_ms` (GPU time between
    /// dispatches: staging copies, clears, pass changes; see kiln-device's `profile.rs`),
    /// `profile/gpu_ms_per_submit`, `profile/between_passes_ms_per_submit` and
    /// `profile/host_between_submits_ms_per_submit`. Profiling times every dispatch and waits
    /// after every submit, so the epoch runs slower than unprofiled.
    pub fn profile(mut self, yes: bool) -> Self {
        self.profile = yes;
        self
    }

    /// Gradient histograms on histogram epochs.
    pub fn write_grads(mut self, yes: bool) -> Self {
        self.write_grads = yes;
        self
    }

    /// Activation histograms of these layers on histogram epochs.
    pub fn activation_histograms(mut self, layers: &[&str]) -> Self {
        self.activation_layers = layers.iter().map(|l| l.to_string()).collect();
        self
    }

    /// Label, prediction and probabilities of the first `n` validation samples every epoch.
    pub fn eval_examples(mut self, n: usize) -> Self {
        self.eval_examples = n;
        self
    }

    /// Hyperparameters shown in the HParams tab.
    pub fn hparams(mut self, hp: &[(&str, HParam)]) -> Self {
        self.hparams = hp.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        self
    }

    fn write_samples(&mut self, info: &TrainInfo<'_>) -> Result<()> {
        let Some(x) = info.train_x else {
            return Ok(());
        };
        let (Some(values), Some(train)) = (x.as_f32(), self.train.as_mut()) else {
            return Ok(());
        };
        let (h, w, c) = match x.shape[1..] {
            [h, w] => (h, w, 1),
            [h, w, c] if matches!(c, 1 | 3 | 4) => (h, w, c),
            _ => return Ok(()),
        };
        let n = self.write_images.min(x.len());
        let per = h * w * c;
        let images: Vec<Image<'_>> = (0..n)
            .map(|i| Image {
                pixels: Pixels::F32(&values[i * per..(i + 1) * per]),
                height: h,
                width: w,
                channels: c,
            })
            .collect();
        if !images.is_empty() {
            train.add_images("input_samples", &images, n, 0)?;
        }
        Ok(())
    }

    fn write_histograms(&mut self, epoch: usize, model: &Model) -> Result<()> {
        // One readback for every weight of the model, only on histogram epochs.
        let weights = model.weights();
        let raw = model.get_weights()?;
        let train = self.train.as_mut().expect("created in on_train_begin");
        for ((name, _), values) in weights.iter().zip(raw) {
            train.add_histogram(
                &format!("{}/{name}/histogram", model.name()),
                &values,
                epoch as i64,
            )?;
        }
        Ok(())
    }
}

impl Callback for TensorBoard {
    fn root_only(&self) -> bool {
        true
    }

    fn on_train_begin(&mut self, model: &mut Model, info: &TrainInfo<'_>) -> Result<()> {
        if self.profile {
            model.device().start_profile();
        }
        let mut train = EventWriter::create(self.log_dir.join("train"))?;
        if self.write_graph {
            train.add_graph(&model.graph_nodes())?;
            train.add_text("model_summary", &format!("```\n{}```", model.summary()), 0)?;
        }
        self.train = Some(train);
        if info.validation {
            self.validation = Some(EventWriter::create(self.log_dir.join("validation"))?);
        }
        self.inspection.set_probe(info.train_x, info.train_y);
        if self.eval_examples > 0 {
            let (vx, vy) = info.validation_data.ok_or_else(|| {
                crate::error::NnError::Config(
                    "TensorBoard eval_examples needs validation arrays: give fit \
                     validation_data or validation_split"
                        .into(),
                )
            })?;
            let dir = self.log_dir.join("validation");
            self.inspection
                .set_examples(vx, vy, self.eval_examples, &dir)?;
        }
        if !self.hparams.is_empty() {
            let mut root = EventWriter::create(&self.log_dir)?;
            let hp: Vec<(&str, HParam)> = self
                .hparams
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            let mut metrics = vec![("train", "epoch_loss"), ("train", "epoch_accuracy")];
            if info.validation {
                metrics.extend([
                    ("validation", "epoch_loss"),
                    ("validation", "epoch_accuracy"),
                ]);
            }
            root.add_hparams_config(&hp, &metrics)?;
            root.add_hparams(&hp, "")?;
            root.flush()?;
            self.root = Some(root);
        }
        if self.write_images > 0 {
            self.write_samples(info)?;
        }
        Ok(())
    }

    fn on_epoch_begin(&mut self, _epoch: usize, _model: &mut Model) -> Result<()> {
        self.epoch_start = Some(Instant::now());
        Ok(())
    }

    fn on_batch_end(&mut self, global_step: u64, logs: &Logs, _model: &Model) -> Result<bool> {
        if let Some(train) = self.train.as_mut() {
            for (k, v) in &logs.values {
                train.add_scalar(&format!("batch_{k}"), *v, global_step as i64)?;
            }
        }
        Ok(false)
    }

    fn on_epoch_end(&mut self, epoch: usize, logs: &Logs, model: &mut Model) -> Result<bool> {
        let step = epoch as i64;
        let seconds = self.epoch_start.map_or(0.0, |t| t.elapsed().as_secs_f32());
        let train = self.train.as_mut().expect("created in on_train_begin");
        for (k, v) in &logs.values {
            if k == "learning_rate" {
                continue; // written below, as Keras writes it
            }
            match k.strip_prefix("val_") {
                Some(stripped) => {
                    if let Some(val) = self.validation.as_mut() {
                        val.add_scalar(&format!("epoch_{stripped}"), *v, step)?;
                    }
                }
                None => train.add_scalar(&format!("epoch_{k}"), *v, step)?,
            }
        }
        // Keras's TensorBoard callback logs the optimizer's rate as it stands at its own
        // epoch end (after a ReduceLROnPlateau listed before it), whatever the logs hold.
        if let Some(c) = model.compiled() {
            let lr = c.optimizer.current_learning_rate();
            train.add_scalar("epoch_learning_rate", lr, step)?;
        }
        train.add_scalar("epoch_time", seconds, step)?;
        if self.profile {
            let p = model.device().profile(true);
            let per =
                |d: std::time::Duration| (d.as_secs_f64() * 1e3 / p.submits.max(1) as f64) as f32;
            train.add_scalar("profile/gpu_ms_per_submit", per(p.gpu_total()), step)?;
            train.add_scalar(
                "profile/host_between_submits_ms_per_submit",
                per(p.host_between_submits),
                step,
            )?;
            train.add_scalar(
                "profile/between_passes_ms_per_submit",
                per(p.between_total()),
                step,
            )?;
            for k in &p.kernels {
                let ms = (k.total.as_secs_f64() * 1e3) as f32;
                train.add_scalar(&format!("profile/{}_ms", k.name), ms, step)?;
            }
            for k in &p.between {
                let ms = (k.total.as_secs_f64() * 1e3) as f32;
                let kind = k.name.replace(' ', "_");
                train.add_scalar(&format!("profile/between_{kind}_ms"), ms, step)?;
            }
        }
        if let (Some((classes, counts)), Some(val)) = (&logs.confusion, self.validation.as_mut()) {
            let (px, side) = confusion_image(*classes, counts, 24);
            val.add_image(
                "confusion_matrix",
                Image {
                    pixels: Pixels::U8(&px),
                    height: side,
                    width: side,
                    channels: 3,
                },
                step,
            )?;
            // The counts themselves, for kiln-studio's drill-down (TensorBoard lists the
            // tensor under its plugin and shows nothing).
            let as_f32: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
            val.add_tensor(
                CONFUSION_TAG,
                EVAL_PLUGIN,
                br#"{"version": 1}"#,
                &as_f32,
                &[*classes, *classes],
                step,
            )?;
            // A tag belongs to one plugin per run: the table needs its own tag.
            val.add_text(
                "confusion_matrix_table",
                &confusion_markdown(*classes, counts),
                step,
            )?;
        }
        if self.histogram_freq > 0 && epoch % self.histogram_freq == 0 {
            self.write_histograms(epoch, model)?;
            let train = self.train.as_mut().expect("created in on_train_begin");
            if self.write_grads {
                self.inspection.write_gradients(train, model, step)?;
            }
            if !self.activation_layers.is_empty() {
                let layers = &self.activation_layers;
                self.inspection
                    .write_activations(train, model, layers, step)?;
            }
        }
        if let Some(val) = self.validation.as_mut() {
            self.inspection.write_examples(val, model, step)?;
        }
        for w in [self.train.as_mut(), self.validation.as_mut()]
            .into_iter()
            .flatten()
        {
            w.flush()?;
        }
        Ok(false)
    }

    fn on_train_end(&mut self, _logs: &Logs, model: &Model) -> Result<()> {
        if self.profile {
            model.device().stop_profile();
        }
        if let Some(root) = self.root.as_mut() {
            root.add_hparams_end(true)?;
        }
        for w in [
            self.train.as_mut(),
            self.validation.as_mut(),
            self.root.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            w.flush()?;
        }
        Ok(())
    }

    fn batch_interval(&self) -> Option<usize> {
        match self.update_freq {
            UpdateFreq::Epoch => None,
            UpdateFreq::Batches(n) => Some(n.max(1)),
        }
    }

    fn wants_confusion_matrix(&self) -> bool {
        self.confusion_matrix
    }
}
