//! `Sequential`: Keras's linear stack, the simplest graph model. It is a `Model` (everything
//! fit / evaluate / predict / summary / save do is the model's, reached through `Deref`) whose
//! graph is one input followed by a chain of nodes, each `add` appending one; it builds from the
//! first input it sees (`build(input_shape)` or `fit`) as Keras's does.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

use kiln_graph::Device;

use crate::error::{NnError, Result};
use crate::layer::Layer;
use crate::model::{Kind, Model, Node, Slot, snake_case, unique_name};

/// A linear stack of layers.
pub struct Sequential {
    model: Model,
}

impl Deref for Sequential {
    type Target = Model;
    fn deref(&self) -> &Model {
        &self.model
    }
}

impl DerefMut for Sequential {
    fn deref_mut(&mut self) -> &mut Model {
        &mut self.model
    }
}

impl From<Sequential> for Model {
    fn from(s: Sequential) -> Model {
        s.model
    }
}

impl Sequential {
    /// An empty model named "sequential"; `seed` fixes initial weights, shuffling and dropout.
    pub fn new(device: &Device) -> Self {
        Self::with_seed(device, 0)
    }

    /// An empty model with an explicit seed.
    pub fn with_seed(device: &Device, seed: u64) -> Self {
        let mut model = Model::empty(device, Kind::Sequential, "sequential", seed);
        model.nodes.push(Node {
            layer: None,
            inputs: Vec::new(),
            name: "input_layer".into(),
            shape: None,
        });
        model.inputs = vec![0];
        model.outputs = vec![0];
        Sequential { model }
    }

    /// The model itself (to use it as a layer of another model, say).
    pub fn into_model(self) -> Model {
        self.model
    }

    /// Appends a layer named like Keras does (`dense`, `dense_1`, ...).
    pub fn add(&mut self, layer: impl Layer + 'static) -> Result<&mut Self> {
        let base = match layer.as_model() {
            Some(m) => m.name().to_string(),
            None => snake_case(layer.class_name()),
        };
        let name = unique_name(&base, |n| self.slots.iter().any(|s| s.name == n));
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
        let m = &mut self.model;
        let built = layer
            .as_model()
            .and_then(|inner| Some((inner.input_shapes()?, inner.output_shape()?)));
        m.slots.push(Slot {
            name: name.into(),
            layer,
            trainable: true,
            built,
        });
        let last = m.outputs[0];
        m.nodes.push(Node {
            layer: Some(m.slots.len() - 1),
            inputs: vec![last],
            name: name.into(),
            shape: None,
        });
        m.outputs = vec![m.nodes.len() - 1];
        if m.nodes[0].shape.is_some() {
            if let Err(e) = m.build_graph(None, None) {
                // Leave the model as it was: the layer does not fit what comes before it.
                m.nodes.pop();
                m.slots.pop();
                m.outputs = vec![last];
                return Err(e);
            }
        }
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
        self.model.build_or_undo(&[input_shape.to_vec()], expected)
    }
}
