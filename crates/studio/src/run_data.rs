//! What the studio knows about one run, built from its event files record by record: scalars
//! (with step and wall time), the latest images and texts per tag, the layer graph, the
//! hyperparameters, the last confusion matrix and the last evaluation examples.
//!
//! A run is a Keras log directory: event files in the directory itself (hparams) and in its
//! `train` / `validation` subdirectories, each such subdirectory a "split". Scalars are keyed
//! `split/tag` ("train/epoch_loss"), as TensorBoard names them. `ingest` is called with each
//! newly appended event, so a run being written grows without a restart.

use std::collections::BTreeMap;

use kiln_nn::callbacks::tensorboard_inspect::{
    CONFUSION_TAG, EVAL_IMAGES_FILE, EVAL_PLUGIN, EVAL_TAG,
};
use kiln_summary::graph::GraphDef;
use kiln_summary::hparams::{HParamsPluginData, plugin_data::Data, proto_value::Kind};
use kiln_summary::proto::{Event, Value, event::What};
use kiln_summary::tensor_f32;
use prost::Message;
use serde::Serialize;

/// One scalar point.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Point {
    /// Global step (epoch for `epoch_*` tags).
    pub step: i64,
    /// Seconds since the epoch.
    pub wall_time: f64,
    /// The value.
    pub value: f32,
}

/// A node of the layer graph.
#[derive(Clone, Debug, Serialize)]
pub struct GraphNode {
    /// Layer (or input) name.
    pub name: String,
    /// Layer class.
    pub op: String,
    /// Names of the nodes feeding it.
    pub inputs: Vec<String>,
}

/// One evaluation example of the last epoch.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    /// Index into the run's `validation/eval_examples.npy`.
    pub index: usize,
    /// True class.
    pub label: usize,
    /// Predicted class (argmax).
    pub predicted: usize,
    /// Class probabilities.
    pub probabilities: Vec<f32>,
}

/// The evaluation examples of one epoch.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// The epoch (step) they were written at.
    pub step: i64,
    /// Number of classes.
    pub classes: usize,
    /// File (relative to the split) holding the examples' inputs.
    pub images: String,
    /// The examples.
    pub examples: Vec<Example>,
}

/// Everything read from one run so far.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunData {
    /// Scalars by `split/tag`, in file order.
    pub scalars: BTreeMap<String, Vec<Point>>,
    /// Hyperparameters of the run's HParams session.
    pub hparams: BTreeMap<String, serde_json::Value>,
    /// Whether the HParams session ended, and how ("success", "failure").
    pub status: Option<String>,
    /// The latest PNGs of each image tag (`split/tag`).
    #[serde(skip)]
    pub images: BTreeMap<String, Vec<Vec<u8>>>,
    /// The latest text of each text tag (`split/tag`).
    pub texts: BTreeMap<String, String>,
    /// The layer graph, when written.
    pub graph: Vec<GraphNode>,
    /// The last confusion matrix: (classes, row-major counts, rows true, columns predicted).
    pub confusion: Option<(usize, Vec<u32>)>,
    /// The last evaluation examples.
    pub evaluation: Option<Evaluation>,
    /// Damaged records met while reading (the file stops being read there, as in TensorBoard).
    pub problems: Vec<String>,
}

impl RunData {
    /// Folds one event of the split `split` ("" for the run directory itself) into the run.
    pub fn ingest(&mut self, split: &str, event: &Event) {
        match &event.what {
            Some(What::GraphDef(bytes)) => match GraphDef::decode(bytes.as_slice()) {
                Ok(g) => {
                    self.graph = g
                        .node
                        .into_iter()
                        .map(|n| GraphNode {
                            name: n.name,
                            op: n.op,
                            inputs: n.input,
                        })
                        .collect()
                }
                Err(e) => self
                    .problems
                    .push(format!("{split}: unreadable graph: {e}")),
            },
            Some(What::Summary(s)) => {
                for v in &s.value {
                    self.value(split, event, v);
                }
            }
            _ => {}
        }
    }

    fn value(&mut self, split: &str, event: &Event, v: &Value) {
        let key = if split.is_empty() {
            v.tag.clone()
        } else {
            format!("{split}/{}", v.tag)
        };
        let plugin = v
            .metadata
            .as_ref()
            .and_then(|m| m.plugin_data.as_ref())
            .map(|p| (p.plugin_name.as_str(), p.content.as_slice()));
        match (plugin, &v.tensor, v.simple_value) {
            (_, None, Some(x)) | (Some(("scalars", _)), Some(_), Some(x)) => {
                self.push_scalar(key, event, x)
            }
            (Some(("scalars", _)), Some(t), None) => {
                if let Some(x) = tensor_f32(t).first() {
                    self.push_scalar(key, event, *x)
                }
            }
            (Some(("images", _)), Some(t), _) if t.string_val.len() >= 2 => {
                self.images.insert(key, t.string_val[2..].to_vec());
            }
            (Some(("text", _)), Some(t), _) => {
                if let Some(s) = t.string_val.first() {
                    self.texts
                        .insert(key, String::from_utf8_lossy(s).into_owned());
                }
            }
            (Some(("hparams", content)), _, _) => self.hparams_record(content),
            (Some((EVAL_PLUGIN, content)), Some(t), _) => {
                self.eval_record(&v.tag, content, t, event)
            }
            _ => {}
        }
    }

    fn push_scalar(&mut self, key: String, event: &Event, value: f32) {
        self.scalars.entry(key).or_default().push(Point {
            step: event.step,
            wall_time: event.wall_time,
            value,
        });
    }

    fn hparams_record(&mut self, content: &[u8]) {
        let Ok(data) = HParamsPluginData::decode(content) else {
            self.problems.push("unreadable hparams record".into());
            return;
        };
        match data.data {
            Some(Data::SessionStartInfo(s)) => {
                for (k, v) in s.hparams {
                    let value = match v.kind {
                        Some(Kind::NumberValue(x)) => serde_json::json!(x),
                        Some(Kind::StringValue(x)) => serde_json::json!(x),
                        Some(Kind::BoolValue(x)) => serde_json::json!(x),
                        None => serde_json::Value::Null,
                    };
                    self.hparams.insert(k, value);
                }
                self.status = Some("running".into());
            }
            Some(Data::SessionEndInfo(e)) => {
                self.status = Some(
                    match e.status {
                        1 => "success",
                        2 => "failure",
                        _ => "unknown",
                    }
                    .into(),
                )
            }
            _ => {}
        }
    }

    fn eval_record(
        &mut self,
        tag: &str,
        content: &[u8],
        t: &kiln_summary::proto::TensorProto,
        event: &Event,
    ) {
        let dims: Vec<usize> = t
            .tensor_shape
            .as_ref()
            .map(|s| s.dim.iter().map(|d| d.size.max(0) as usize).collect())
            .unwrap_or_default();
        let values = tensor_f32(t);
        let header: serde_json::Value = serde_json::from_slice(content).unwrap_or_default();
        match (tag, dims.as_slice()) {
            (CONFUSION_TAG, &[r, c]) if r == c && values.len() == r * c => {
                self.confusion = Some((r, values.iter().map(|&v| v.max(0.0) as u32).collect()));
            }
            (EVAL_TAG, &[n, w]) if w >= 3 && values.len() == n * w => {
                let classes = w - 2;
                let class = |v: f32| (v.max(0.0) as usize).min(classes - 1);
                let examples = values
                    .chunks(w)
                    .enumerate()
                    .map(|(index, r)| Example {
                        index,
                        label: class(r[0]),
                        predicted: class(r[1]),
                        probabilities: r[2..].to_vec(),
                    })
                    .collect();
                self.evaluation = Some(Evaluation {
                    step: event.step,
                    classes,
                    images: header["images"]
                        .as_str()
                        .unwrap_or(EVAL_IMAGES_FILE)
                        .to_string(),
                    examples,
                });
            }
            _ => self.problems.push(format!(
                "{tag}: an evaluation record of shape {dims:?} was skipped"
            )),
        }
    }

    /// The last value of each scalar, and the best (min for losses, max otherwise).
    pub fn summary(&self) -> BTreeMap<String, (f32, f32)> {
        self.scalars
            .iter()
            .filter_map(|(k, pts)| {
                let last = pts.last()?.value;
                let lower = k.contains("loss") || k.contains("error");
                let best = pts.iter().map(|p| p.value).fold(last, |b, v| match lower {
                    true => b.min(v),
                    false => b.max(v),
                });
                Some((k.clone(), (last, best)))
            })
            .collect()
    }
}
