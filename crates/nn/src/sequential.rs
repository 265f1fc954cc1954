//! `Sequential`: a stack of layers with Keras's `add` / `build` / `compile`, plus the weight
//! access that optimizers, callbacks and checkpoints need. The `summary` table lives in
//! `summary_table.rs`, training in `fit.rs`, evaluation and prediction in `evaluate.rs`.

use std::cell::Cell;

use std::collections::HashMap;

use kiln_graph::{Device, Rng, Tensor};
use kiln_summary::GraphNode;

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer, Weight, set_weight_trainable};
use crate::losses::Loss;
use crate::metrics::MetricKind;
use crate::optimizers::Optimizer;

pub(crate) struct Slot {
    pub name: String,
    pub layer: Box<dyn Layer>,
    pub output_shape: Vec<usize>,
    pub trainable: bool,
}

/// What `compile` fixed.
pub struct Compiled {
    /// The optimizer (with its state).
    pub optimizer: Optimizer,
    /// The loss.
    pub loss: Loss,
    /// Metrics, "accuracy" already resolved against the loss.
    pub metrics: Vec<MetricKind>,
}

/// A linear stack of layers.
pub struct Sequential {
    name: String,
    device: Device,
    pub(crate) slots: Vec<Slot>,
    input_shape: Option<Vec<usize>>,
    rng: Rng,
    calls: Cell<u32>,
    pub(crate) compiled: Option<Compiled>,
    /// Epochs completed by `fit` over the model's life (saved, so training resumes after them).
    pub(crate) epochs_done: usize,
    /// Set by BackupAndRestore before training: the epoch to resume at.
    pub(crate) resume_epoch: Option<usize>,
    /// The trainable weights packed into one buffer (`packing.rs`), once trained.
    pub(crate) packed: Option<std::sync::Arc<crate::packing::PackedWeights>>,
}

/// Keras-style snake_case of a class name: "MaxPooling2D" -> "max_pooling2d".
fn snake_case(class: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = class.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase()
            && i > 0
            && (chars[i - 1].is_ascii_lowercase()
                || chars.get(i + 1).is_some_and(char::is_ascii_lowercase))
            && !chars[i - 1].is_ascii_digit()
        {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

impl Sequential {
    /// An empty model named "sequential"; `seed` fixes initial weights, shuffling and dropout.
    pub fn new(device: &Device) -> Self {
        Self::with_seed(device, 0)
    }

    /// An empty model with an explicit seed.
    pub fn with_seed(device: &Device, seed: u64) -> Self {
        Self {
            name: "sequential".into(),
            device: device.clone(),
            slots: Vec::new(),
            input_shape: None,
            rng: Rng::new(seed),
            calls: Cell::new(0),
            compiled: None,
            epochs_done: 0,
            resume_epoch: None,
            packed: None,
        }
    }

    /// Epochs `fit` has completed on this model (restored by `load_model`).
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// (RNG state, forward-call counter): what dropout masks derive from; checkpoints save it.
    pub(crate) fn random_state(&self) -> (u64, u32) {
        (self.rng.state(), self.calls.get())
    }

    pub(crate) fn set_random_state(&mut self, rng: u64, calls: u32) {
        self.rng = Rng::new(rng);
        self.calls.set(calls);
    }

    /// Renames the model.
    pub fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    /// Model name (TensorBoard tag prefix).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Appends a layer named like Keras does (`dense`, `dense_1`, ...).
    pub fn add(&mut self, layer: impl Layer + 'static) -> Result<&mut Self> {
        let base = snake_case(layer.class_name());
        let taken = self
            .slots
            .iter()
            .filter(|s| s.name == base || s.name.starts_with(&format!("{base}_")))
            .count();
        let name = if taken == 0 {
            base
        } else {
            format!("{base}_{taken}")
        };
        self.add_named(&name, layer)
    }

    /// Appends a layer with an explicit name.
    pub fn add_named(&mut self, name: &str, layer: impl Layer + 'static) -> Result<&mut Self> {
        self.add_boxed(name, Box::new(layer))
    }

    /// Appends a boxed layer with an explicit name (used when rebuilding from a checkpoint).
    pub fn add_boxed(&mut self, name: &str, layer: Box<dyn Layer>) -> Result<&mut Self> {
        if self.slots.iter().any(|s| s.name == name) {
            return Err(NnError::Config(format!(
                "a layer named {name:?} already exists in the model"
            )));
        }
        let mut slot = Slot {
            name: name.into(),
            layer,
            output_shape: Vec::new(),
            trainable: true,
        };
        if let Some(prev) = self.output_shape() {
            let mut ctx = BuildCtx::new(&self.device, &mut self.rng, name, None);
            slot.output_shape = slot.layer.build(&prev, &mut ctx)?;
        }
        self.slots.push(slot);
        Ok(self)
    }

    /// Builds every layer for samples of `input_shape` (no batch dimension), like Keras's
    /// `build((None, *input_shape))`.
    pub fn build(&mut self, input_shape: &[usize]) -> Result<()> {
        self.build_checked(input_shape, None)
    }

    /// `build`, with every weight checked against `expected` (name -> shape) before it is
    /// allocated when given (`load_model` passes the file's tensors).
    pub(crate) fn build_checked(
        &mut self,
        input_shape: &[usize],
        expected: Option<&HashMap<String, Vec<usize>>>,
    ) -> Result<()> {
        if let Some(s) = &self.input_shape {
            if s != input_shape {
                return Err(NnError::Config(format!(
                    "the model was built for inputs {s:?}, not {input_shape:?}"
                )));
            }
            return Ok(());
        }
        let mut shape = input_shape.to_vec();
        for slot in &mut self.slots {
            let mut ctx = BuildCtx::new(&self.device, &mut self.rng, &slot.name, expected);
            shape = slot
                .layer
                .build(&shape, &mut ctx)
                .map_err(|e| NnError::Config(format!("building layer {:?}: {e}", slot.name)))?;
            slot.output_shape = shape.clone();
        }
        self.input_shape = Some(input_shape.to_vec());
        Ok(())
    }

    /// Input shape per sample, once built.
    pub fn input_shape(&self) -> Option<&[usize]> {
        self.input_shape.as_deref()
    }

    /// Output shape per sample, once built.
    pub fn output_shape(&self) -> Option<Vec<usize>> {
        let input = self.input_shape.as_ref()?;
        Some(
            self.slots
                .last()
                .map_or(input.clone(), |s| s.output_shape.clone()),
        )
    }

    /// Fixes optimizer, loss and metrics ("accuracy" is resolved from the loss, as Keras does).
    pub fn compile(
        &mut self,
        optimizer: Optimizer,
        loss: Loss,
        metrics: &[MetricKind],
    ) -> Result<()> {
        let metrics = metrics.iter().map(|m| m.resolve(&loss)).collect();
        self.compiled = Some(Compiled {
            optimizer,
            loss,
            metrics,
        });
        Ok(())
    }

    /// The compiled configuration.
    pub fn compiled(&self) -> Option<&Compiled> {
        self.compiled.as_ref()
    }

    /// Mutable access to the optimizer (callbacks change the learning rate).
    pub fn optimizer_mut(&mut self) -> Option<&mut Optimizer> {
        self.compiled.as_mut().map(|c| &mut c.optimizer)
    }

    /// Forward pass on a batch [batch, *input_shape].
    pub fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let input = self.input_shape.as_ref().ok_or_else(|| {
            NnError::Config("the model is not built: call build(input_shape) or fit first".into())
        })?;
        if x.shape().len() != input.len() + 1 || &x.shape()[1..] != input.as_slice() {
            return Err(NnError::Input(format!(
                "the model expects inputs [batch, {}], got {:?}",
                input
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                x.shape()
            )));
        }
        let n = self.calls.get();
        self.calls.set(n.wrapping_add(1));
        let mut h = x.clone();
        for (i, slot) in self.slots.iter().enumerate() {
            let seed = (self.rng.state() as u32)
                ^ n.wrapping_mul(0x9E37_79B9)
                ^ (i as u32).wrapping_mul(0x85EB_CA6B);
            h = slot
                .layer
                .call(&h, &CallCtx { training, seed })
                .map_err(|e| NnError::Config(format!("layer {:?}: {e}", slot.name)))?;
        }
        Ok(h)
    }

    /// Every weight as ("layer/weight", tensor), layers in order, kernel before bias.
    pub fn weights(&self) -> Vec<(String, Weight)> {
        self.slots
            .iter()
            .flat_map(|s| {
                s.layer
                    .weights()
                    .into_iter()
                    .map(move |w| (format!("{}/{}", s.name, w.name), w))
            })
            .collect()
    }

    /// The weights the optimizer updates: trainable weights of trainable layers.
    pub fn trainable_weights(&self) -> Vec<(String, Tensor)> {
        self.slots
            .iter()
            .filter(|s| s.trainable)
            .flat_map(|s| {
                s.layer
                    .weights()
                    .into_iter()
                    .filter(|w| w.trainable)
                    .map(move |w| (format!("{}/{}", s.name, w.name), w.value))
            })
            .collect()
    }

    /// Layer names in order.
    pub fn layer_names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// Freezes (`false`) or unfreezes a layer by name: a frozen layer gets no gradient and no
    /// update but keeps (and saves) its weights.
    pub fn set_trainable(&mut self, layer: &str, trainable: bool) -> Result<()> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.name == layer)
            .ok_or_else(|| NnError::Config(format!("no layer named {layer:?}")))?;
        slot.trainable = trainable;
        for w in slot.layer.weights_mut() {
            if w.trainable {
                set_weight_trainable(w, trainable);
            }
        }
        Ok(())
    }

    /// (total, trainable, non-trainable) parameter counts.
    pub fn count_params(&self) -> (usize, usize, usize) {
        let mut t = (0, 0, 0);
        for s in &self.slots {
            for w in s.layer.weights() {
                let n = w.value.numel();
                t.0 += n;
                if w.trainable && s.trainable {
                    t.1 += n
                } else {
                    t.2 += n
                }
            }
        }
        t
    }

    /// The model as graph nodes for TensorBoard's Graphs tab: an input node, then one node per
    /// layer with its type, output shape, configuration and weight shapes.
    pub fn graph_nodes(&self) -> Vec<GraphNode> {
        let dims = |s: &[usize]| {
            std::iter::once(-1)
                .chain(s.iter().map(|&d| d as i64))
                .collect::<Vec<_>>()
        };
        let input_name = format!("{}/input_layer", self.name);
        let mut nodes = vec![GraphNode {
            name: input_name.clone(),
            op: "InputLayer".into(),
            inputs: vec![],
            output_shape: self.input_shape.as_deref().map(dims),
            attrs: vec![],
        }];
        let mut prev = input_name;
        for s in &self.slots {
            let name = format!("{}/{}", self.name, s.name);
            let mut attrs = config_attrs(&s.layer.get_config());
            for w in s.layer.weights() {
                attrs.push((w.name.clone(), format!("{:?}", w.value.shape())));
            }
            nodes.push(GraphNode {
                name: name.clone(),
                op: s.layer.class_name().into(),
                inputs: vec![prev],
                output_shape: Some(dims(&s.output_shape)),
                attrs,
            });
            prev = name;
        }
        nodes
    }
}

/// A layer config as graph-node attributes: strings as they are, other values as JSON text.
fn config_attrs(config: &serde_json::Value) -> Vec<(String, String)> {
    let Some(map) = config.as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (k.clone(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_keras() {
        assert_eq!(snake_case("Dense"), "dense");
        assert_eq!(snake_case("MaxPooling2D"), "max_pooling2d");
        assert_eq!(
            snake_case("GlobalAveragePooling2D"),
            "global_average_pooling2d"
        );
        assert_eq!(snake_case("BatchNormalization"), "batch_normalization");
        assert_eq!(snake_case("ReLU"), "re_lu");
    }
}
