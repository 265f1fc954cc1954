//! `Model`: a graph of layers (Keras's functional model), and what fit / evaluate / predict /
//! save / packing / callbacks are written against. Nodes are kept in topological order: each
//! is an input, or a layer called on the outputs of earlier nodes. A layer called by several
//! nodes is one slot (one set of weights). `Sequential` (`sequential.rs`) is the graph with one
//! input and a chain of nodes; the functional API (`functional.rs`) builds any DAG. Building,
//! the forward pass and weight access are in `model_build.rs`; a model used as a layer of
//! another model in `model_layer.rs`.

use std::cell::Cell;

use kiln_graph::{Device, Rng};
use kiln_summary::GraphNode;

use crate::error::{NnError, Result};
use crate::layer::Layer;
use crate::losses::Loss;
use crate::metrics::MetricKind;
use crate::optimizers::Optimizer;

/// One layer of a model and what the model knows of it.
pub(crate) struct Slot {
    /// Unique within the model.
    pub name: String,
    pub layer: Box<dyn Layer>,
    /// Frozen layers get no gradient and no update (and BatchNormalization runs in inference
    /// mode, as in Keras).
    pub trainable: bool,
    /// The input shapes it was built for and its output shape, once built.
    pub built: Option<(Vec<Vec<usize>>, Vec<usize>)>,
}

/// One node of the graph: an input (`layer: None`) or a layer called on earlier nodes.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub layer: Option<usize>,
    pub inputs: Vec<usize>,
    /// The input's name (`input_layer`, ...) or the layer's.
    pub name: String,
    /// Output shape per sample (no batch dimension), once known.
    pub shape: Option<Vec<usize>>,
}

/// Whether the model is a `Sequential` (a chain, printed without the input row and the
/// `Connected to` column) or a functional graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Sequential,
    Functional,
}

/// What one output is trained with.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputSpec {
    /// The loss of this output.
    pub loss: Loss,
    /// Its weight in the total loss (Keras's `loss_weights`).
    pub weight: f32,
    /// Metrics of this output, as requested: "accuracy" is scored as its loss implies (Keras's
    /// rule, `MetricKind::resolve`) and logged as "accuracy", an explicit kind under its own name.
    pub metrics: Vec<MetricKind>,
}

/// What `compile` fixed.
pub struct Compiled {
    /// The optimizer (with its state).
    pub optimizer: Optimizer,
    /// One per model output, in output order.
    pub outputs: Vec<OutputSpec>,
}

impl Compiled {
    /// The loss of the first output (the model's loss when it has one output).
    pub fn loss(&self) -> Loss {
        self.outputs[0].loss
    }
}

/// A model: layers connected as a graph, trained with `compile` / `fit`.
pub struct Model {
    name: String,
    pub(crate) device: Device,
    pub(crate) kind: Kind,
    pub(crate) slots: Vec<Slot>,
    /// Topological order: every node after the nodes it reads.
    pub(crate) nodes: Vec<Node>,
    /// Node indices of the model's inputs and outputs, in order.
    pub(crate) inputs: Vec<usize>,
    pub(crate) outputs: Vec<usize>,
    pub(crate) rng: Rng,
    pub(crate) calls: Cell<u32>,
    pub(crate) compiled: Option<Compiled>,
    /// Epochs completed by `fit` over the model's life (saved, so training resumes after them).
    pub(crate) epochs_done: usize,
    /// Set by BackupAndRestore before training: the epoch to resume at.
    pub(crate) resume_epoch: Option<usize>,
    /// The trainable weights packed into one buffer (`packing.rs`), once trained.
    pub(crate) packed: Option<std::sync::Arc<crate::packing::PackedWeights>>,
}

/// Keras-style snake_case of a class name: "MaxPooling2D" -> "max_pooling2d".
pub(crate) fn snake_case(class: &str) -> String {
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

/// `base`, or `base_1`, `base_2`, ... : the first that `taken` does not hold (Keras's naming).
pub(crate) fn unique_name(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (1..)
        .map(|i| format!("{base}_{i}"))
        .find(|n| !taken(n))
        .unwrap_or_default()
}

impl Model {
    /// An empty model of `kind` on `device` (the graph is filled by `Sequential` or
    /// `functional.rs`).
    pub(crate) fn empty(device: &Device, kind: Kind, name: &str, seed: u64) -> Self {
        Self {
            name: name.into(),
            device: device.clone(),
            kind,
            slots: Vec::new(),
            nodes: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            rng: Rng::new(seed),
            calls: Cell::new(0),
            compiled: None,
            epochs_done: 0,
            resume_epoch: None,
            packed: None,
        }
    }

    /// Model name (TensorBoard tag prefix, the summary's title).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the model.
    pub fn set_name(&mut self, name: &str) {
        self.name = name.into();
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
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

    /// Whether every layer is built (the input shapes are known).
    pub fn is_built(&self) -> bool {
        !self.nodes.is_empty() && self.nodes.iter().all(|n| n.shape.is_some())
    }

    /// Per-sample shapes of the inputs, once known.
    pub fn input_shapes(&self) -> Option<Vec<Vec<usize>>> {
        self.inputs
            .iter()
            .map(|&i| self.nodes[i].shape.clone())
            .collect()
    }

    /// Per-sample shapes of the outputs, once built.
    pub fn output_shapes(&self) -> Option<Vec<Vec<usize>>> {
        self.outputs
            .iter()
            .map(|&i| self.nodes[i].shape.clone())
            .collect()
    }

    /// The input shape of a one-input model, once known.
    pub fn input_shape(&self) -> Option<&[usize]> {
        match self.inputs[..] {
            [i] => self.nodes[i].shape.as_deref(),
            _ => None,
        }
    }

    /// The output shape of a one-output model, once built.
    pub fn output_shape(&self) -> Option<Vec<usize>> {
        match self.outputs[..] {
            [o] => self.nodes[o].shape.clone(),
            _ => None,
        }
    }

    /// Names of the inputs and outputs (an output is named by the layer that produces it).
    pub fn io_names(&self) -> (Vec<&str>, Vec<&str>) {
        let names = |v: &[usize]| v.iter().map(|&i| self.nodes[i].name.as_str()).collect();
        (names(&self.inputs), names(&self.outputs))
    }

    /// Fixes optimizer, loss and metrics ("accuracy" is resolved from the loss, as Keras does).
    /// Every output is trained with `loss` and measured with `metrics`; `compile_outputs`
    /// gives each output its own.
    pub fn compile(
        &mut self,
        optimizer: Optimizer,
        loss: Loss,
        metrics: &[MetricKind],
    ) -> Result<()> {
        let spec = OutputSpec {
            loss,
            weight: 1.0,
            metrics: metrics.to_vec(),
        };
        let specs = vec![spec; self.outputs.len().max(1)];
        self.compile_outputs(optimizer, specs)
    }

    /// Fixes the optimizer and, per output in order, its loss, loss weight and metrics
    /// (Keras's `compile(loss=[...], loss_weights=[...], metrics=[[...], ...])`).
    pub fn compile_outputs(
        &mut self,
        optimizer: Optimizer,
        outputs: Vec<OutputSpec>,
    ) -> Result<()> {
        if outputs.len() != self.outputs.len().max(1) {
            return Err(NnError::Config(format!(
                "compile: the model has {} outputs but {} losses were given",
                self.outputs.len(),
                outputs.len()
            )));
        }
        // Metrics stay as requested ("accuracy" is made concrete per loss when the trackers are
        // made): the requested kind names the log key, as in Keras.
        self.compiled = Some(Compiled { optimizer, outputs });
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

    /// The layer named `name`; "outer/inner" reaches a layer of a nested model.
    pub fn get_layer(&self, name: &str) -> Option<&dyn Layer> {
        let (head, rest) = split_path(name);
        let slot = self.slots.iter().find(|s| s.name == head)?;
        match rest {
            None => Some(slot.layer.as_ref()),
            Some(rest) => slot.layer.as_model()?.get_layer(rest),
        }
    }

    /// Mutable access to a layer (see `get_layer`).
    pub fn get_layer_mut(&mut self, name: &str) -> Option<&mut dyn Layer> {
        let (head, rest) = split_path(name);
        let slot = self.slots.iter_mut().find(|s| s.name == head)?;
        match rest {
            None => Some(slot.layer.as_mut()),
            Some(rest) => slot.layer.as_model_mut()?.get_layer_mut(rest),
        }
    }

    /// Layer names in order.
    pub fn layer_names(&self) -> Vec<&str> {
        self.slots.iter().map(|s| s.name.as_str()).collect()
    }

    /// The model as graph nodes for TensorBoard's Graphs tab: one node per input and per layer
    /// call, with its type, output shape, configuration and weight shapes, wired as the graph
    /// is (skip connections included).
    pub fn graph_nodes(&self) -> Vec<GraphNode> {
        let dims = |s: &[usize]| {
            std::iter::once(-1)
                .chain(s.iter().map(|&d| d as i64))
                .collect::<Vec<_>>()
        };
        let node_name = |i: usize| format!("{}/{}", self.name, self.nodes[i].name);
        let mut out = Vec::new();
        // A Sequential's input has no layer of its own; it is drawn as Keras draws it.
        for (i, n) in self.nodes.iter().enumerate() {
            let (op, attrs) = match n.layer {
                None => ("InputLayer".to_string(), Vec::new()),
                Some(l) => {
                    let layer = &self.slots[l].layer;
                    let mut attrs = config_attrs(&layer.get_config());
                    for w in layer.weights() {
                        attrs.push((w.name.clone(), format!("{:?}", w.value.shape())));
                    }
                    (layer.class_name().to_string(), attrs)
                }
            };
            out.push(GraphNode {
                name: node_name(i),
                op,
                inputs: n.inputs.iter().map(|&j| node_name(j)).collect(),
                output_shape: n.shape.as_deref().map(dims),
                attrs,
            });
        }
        out
    }
}

/// "a/b/c" -> ("a", Some("b/c")).
fn split_path(name: &str) -> (&str, Option<&str>) {
    match name.split_once('/') {
        Some((h, r)) => (h, Some(r)),
        None => (name, None),
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
        let taken = ["dense", "dense_1"];
        assert_eq!(unique_name("dense", |n| taken.contains(&n)), "dense_2");
        assert_eq!(unique_name("conv2d", |n| taken.contains(&n)), "conv2d");
    }
}
