//! What the TensorBoard callback writes from inside the model, beyond Keras's weight
//! histograms: gradient histograms (Keras 2's `write_grads`), activation histograms of chosen
//! layers, and the evaluation examples that kiln-studio's confusion-matrix drill-down shows.
//!
//! Gradients and activations are taken on a fixed probe batch (the first 32 training samples),
//! so epochs compare like with like. Evaluation examples are the first `n` validation samples:
//! their inputs are written once, as `validation/eval_examples.npy` beside the event file, and
//! each epoch writes one tensor summary `evaluation/examples` (plugin `kiln_eval`) of shape
//! `[n, 2 + classes]` whose rows are (label, predicted class, probabilities...): the images are
//! referenced, not repeated per epoch. TensorBoard lists the tensor under its plugin name and
//! otherwise ignores it. Everything here runs at epoch ends only, with one readback each.

use std::path::Path;

use kiln_summary::EventWriter;

use crate::array::{Array, Data};
use crate::error::{NnError, Result};
use crate::model::Model;

/// Samples in the gradient and activation probe batch.
const PROBE: usize = 32;

/// The file (in the validation run) holding the evaluation examples' inputs.
pub const EVAL_IMAGES_FILE: &str = "eval_examples.npy";
/// The tag of the per-epoch evaluation examples.
pub const EVAL_TAG: &str = "evaluation/examples";
/// The tag of the per-epoch confusion counts (`[classes, classes]`, rows true).
pub const CONFUSION_TAG: &str = "evaluation/confusion_matrix";
/// The plugin name of the evaluation examples' and confusion counts' tensors.
pub const EVAL_PLUGIN: &str = "kiln_eval";

/// The probe batch and the evaluation examples, copied when training starts.
#[derive(Default)]
pub(crate) struct Inspection {
    probe: Option<(Array, Array)>,
    examples: Option<(Array, Vec<u32>)>,
}

impl Inspection {
    pub fn set_probe(&mut self, x: Option<&Array>, y: Option<&Array>) {
        self.probe = x.zip(y).map(|(x, y)| {
            let n = x.len().min(y.len()).min(PROBE);
            (x.slice(0, n), y.slice(0, n))
        });
    }

    /// Keeps the first `n` validation samples and writes their inputs to `dir`.
    pub fn set_examples(&mut self, x: &Array, y: &Array, n: usize, dir: &Path) -> Result<()> {
        let n = n.min(x.len()).min(y.len());
        let labels = class_labels(&y.slice(0, n))?;
        let inputs = x.slice(0, n).to_f32();
        inputs.save_npy(dir.join(EVAL_IMAGES_FILE))?;
        self.examples = Some((inputs, labels));
        Ok(())
    }

    /// `<model>/<layer>/<weight>/gradient` histograms.
    pub fn write_gradients(&self, w: &mut EventWriter, model: &mut Model, step: i64) -> Result<()> {
        let Some((x, y)) = &self.probe else {
            return Ok(());
        };
        for (name, g) in model.gradients(x, y)? {
            w.add_histogram(&format!("{}/{name}/gradient", model.name()), &g, step)?;
        }
        Ok(())
    }

    /// `<layer>/activation` histograms of the named layers.
    pub fn write_activations(
        &self,
        w: &mut EventWriter,
        model: &mut Model,
        layers: &[String],
        step: i64,
    ) -> Result<()> {
        let Some((x, _)) = &self.probe else {
            return Ok(());
        };
        let names: Vec<&str> = layers.iter().map(String::as_str).collect();
        for (layer, a) in model.activations(x, &names)? {
            w.add_histogram(&format!("{layer}/activation"), &a, step)?;
        }
        Ok(())
    }

    /// The evaluation examples' labels, predictions and probabilities at `step`.
    pub fn write_examples(&self, w: &mut EventWriter, model: &mut Model, step: i64) -> Result<()> {
        let Some((x, labels)) = &self.examples else {
            return Ok(());
        };
        let probs = model.probabilities(x)?;
        let classes = probs.row_size();
        let p = probs.as_f32().expect("probabilities are f32");
        let mut rows = Vec::with_capacity(labels.len() * (classes + 2));
        for (i, &label) in labels.iter().enumerate() {
            let row = &p[i * classes..(i + 1) * classes];
            rows.push(label as f32);
            rows.push(argmax(row) as f32);
            rows.extend_from_slice(row);
        }
        let content = serde_json::json!({"version": 1, "images": EVAL_IMAGES_FILE,
                                         "classes": classes});
        let shape = [labels.len(), classes + 2];
        w.add_tensor(
            EVAL_TAG,
            EVAL_PLUGIN,
            content.to_string().as_bytes(),
            &rows,
            &shape,
            step,
        )?;
        Ok(())
    }
}

/// The index of a row's first largest value.
fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(
            (0, f32::NEG_INFINITY),
            |b, (k, &v)| if v > b.1 { (k, v) } else { b },
        )
        .0
}

/// Integer labels, or the argmax of one-hot rows.
fn class_labels(y: &Array) -> Result<Vec<u32>> {
    match &y.data {
        Data::U32(v) if y.row_size() == 1 => Ok(v.clone()),
        Data::F32(v) if y.row_size() > 1 => {
            Ok(v.chunks(y.row_size()).map(|r| argmax(r) as u32).collect())
        }
        _ => Err(NnError::Config(format!(
            "TensorBoard eval_examples needs integer class labels or one-hot rows, not {} \
             targets of shape {:?}",
            y.kind(),
            y.shape
        ))),
    }
}
