//! `save` / `load_model`: one safetensors file holding the weights (same names as
//! `save_weights`), the optimizer's slots (`optimizer/<weight>/<slot>`), and in its metadata the
//! architecture, compile settings (optimizer with its iteration count and schedule, loss,
//! metrics) and the training position (epochs done, RNG state, call counter). A loaded model
//! predicts identically, and `fit` continues exactly where the saved run stopped.

use std::collections::HashMap;
use std::path::Path;

use kiln_graph::Device;
use safetensors::tensor::Dtype;
use serde_json::{Value, json};

use crate::checkpoint::architecture::{LayerFactory, model_config, model_from_config};
use crate::checkpoint::config::*;
use crate::checkpoint::weights::{
    NamedBytes, WeightDtype, parse, read_expected, to_safetensors, weight_bytes,
};
use crate::checkpoint::{atomic_write, bad_file, read_file};
use crate::error::Result;
use crate::model::{Compiled, Model, OutputSpec};

const META_KEY: &str = "kiln.model";

impl Model {
    /// Saves the whole model (architecture, weights, optimizer state, training position)
    /// atomically: a crash during the save leaves the previous file intact.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.require_built("save")?;
        let mut tensors: NamedBytes = weight_bytes(self, WeightDtype::F32)?;
        let compile = match self.compiled() {
            Some(c) => {
                let names: Vec<String> = self
                    .trainable_weights()
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
                let mut bufs = Vec::new();
                let mut keys = Vec::new();
                for n in &names {
                    for (i, b) in c.optimizer.slots(n).unwrap_or_default().iter().enumerate() {
                        bufs.push(&**b);
                        keys.push((format!("optimizer/{n}/{i}"), b.words()));
                    }
                }
                for ((key, words), bytes) in keys.into_iter().zip(self.device().read_back(&bufs)?) {
                    tensors.push((key, Dtype::F32, vec![words], bytes));
                }
                let outputs: Vec<Value> = c
                    .outputs
                    .iter()
                    .map(|o| json!({"loss": loss_json(&o.loss), "weight": o.weight,
                                    "metrics": o.metrics.iter().map(metric_json).collect::<Vec<_>>()}))
                    .collect();
                json!({"optimizer": optimizer_json(&c.optimizer), "outputs": outputs})
            }
            None => Value::Null,
        };
        let (rng, calls) = self.random_state();
        let mut meta = model_config(self);
        meta["compile"] = compile;
        meta["state"] =
            json!({"epochs_done": self.epochs_done, "rng": rng.to_string(), "calls": calls});
        let metadata = HashMap::from([
            ("format".to_string(), "kiln-model".to_string()),
            (META_KEY.to_string(), meta.to_string()),
        ]);
        atomic_write(path, &to_safetensors(&tensors, metadata, path)?)
    }
}

/// Loads a model saved by `Model::save` (built-in layers only; nested models and shared
/// layers included).
pub fn load_model(path: impl AsRef<Path>, device: &Device) -> Result<Model> {
    load_model_with(path, device, &|_, _| None)
}

/// Loads a model whose layers may include user-defined classes built by `factory`.
pub fn load_model_with(
    path: impl AsRef<Path>,
    device: &Device,
    factory: LayerFactory<'_>,
) -> Result<Model> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let st = parse(path, &bytes)?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad_file(path, format!("unreadable header: {e}")))?;
    let meta: Value = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(META_KEY))
        .ok_or_else(|| bad_file(path, "not a kiln model file (no architecture in its metadata); use load_weights for weight-only files"))
        .and_then(|s| serde_json::from_str(s).map_err(|e| bad_file(path, format!("corrupt architecture metadata: {e}"))))?;
    // Every weight the architecture makes must be a tensor of the file with the same shape,
    // checked as each layer builds and before its memory is allocated: a crafted architecture
    // cannot make the model allocate more than the file itself holds.
    let in_file: HashMap<String, Vec<usize>> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("optimizer/"))
        .map(|(n, v)| (n, v.shape().to_vec()))
        .collect();
    if meta["input_shape"].is_null() && meta["class_name"] != "Functional" {
        return Err(bad_file(path, "metadata has no input shape"));
    }
    let mut model = model_from_config(device, &meta, factory, Some(&in_file))
        .map_err(|e| bad_file(path, e.to_string()))?;
    let expected: Vec<(String, Vec<usize>)> = model
        .weights()
        .iter()
        .map(|(n, w)| (n.clone(), w.value.shape().to_vec()))
        .collect();
    let values = read_expected(path, &st, &expected, "optimizer/")?;
    model.assign_weights(&values)?;
    if !meta["compile"].is_null() {
        let c = &meta["compile"];
        let mut optimizer = optimizer_from(&c["optimizer"])?;
        let outputs = match c["outputs"].as_array() {
            Some(list) => list.iter().map(output_from).collect::<Result<Vec<_>>>()?,
            // The first form: one loss and its metrics.
            None => vec![output_from(c)?],
        };
        for (n, p) in model.trainable_weights() {
            let mut slots = Vec::new();
            for i in 0..optimizer.slot_count() {
                let key = format!("optimizer/{n}/{i}");
                let Ok(view) = st.tensor(&key) else { break };
                if view.shape() != [p.numel()] {
                    return Err(bad_file(
                        path,
                        format!(
                            "optimizer slot {key}: expected shape [{}], found {:?}",
                            p.numel(),
                            view.shape()
                        ),
                    ));
                }
                slots.push(std::sync::Arc::new(device.upload(
                    &crate::checkpoint::weights::tensor_f32(path, &key, &view)?,
                )?));
            }
            if slots.len() == optimizer.slot_count() {
                optimizer.slots.insert(n, slots);
            }
        }
        if outputs.len() != model.outputs.len() {
            return Err(bad_file(
                path,
                format!(
                    "{} losses for {} outputs",
                    outputs.len(),
                    model.outputs.len()
                ),
            ));
        }
        model.compiled = Some(Compiled { optimizer, outputs });
    }
    let state = &meta["state"];
    model.epochs_done = state["epochs_done"].as_u64().unwrap_or(0) as usize;
    let rng = state["rng"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    model.set_random_state(rng, state["calls"].as_u64().unwrap_or(0) as u32);
    Ok(model)
}

/// One output's loss, weight and metrics.
fn output_from(v: &Value) -> Result<OutputSpec> {
    let metrics = v["metrics"]
        .as_array()
        .map(|a| a.iter().map(metric_from).collect::<Result<Vec<_>>>())
        .transpose()?
        .unwrap_or_default();
    Ok(OutputSpec {
        loss: loss_from(&v["loss"])?,
        weight: v["weight"].as_f64().unwrap_or(1.0) as f32,
        metrics,
    })
}
