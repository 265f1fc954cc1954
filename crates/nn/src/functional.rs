//! Keras's functional API. `Input::new(shape)` is a symbolic tensor; calling a layer on symbolic
//! tensors (`Dense::new(10).apply(&x)`, `Add::new().apply_many(&[&a, &b])`) records a call;
//! `Model::new(&dev, &[&inputs], &[&outputs])` walks back from the outputs, takes the layers
//! into the model, names the unnamed ones as Keras does and builds them in topological order.
//! A layer called twice (`Shared`) is one layer with one set of weights. A `Model` is itself a
//! layer, so a whole model can be called inside another (a backbone under a new head).
//!
//! Symbolic tensors are immutable and each call's inputs exist before it, so a graph built this
//! way has no cycle; `Model::new` still reports an output that needs an input it was not given,
//! and an input no output needs, naming the layer.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use kiln_graph::Device;

use crate::error::{NnError, Result};
use crate::layer::Layer;
use crate::model::{Kind, Model, Node, Slot, snake_case, unique_name};

/// A layer waiting to be taken into a model, shared by every call recorded on it.
struct PendingLayer {
    name: Option<String>,
    layer: RefCell<Option<Box<dyn Layer>>>,
}

enum Origin {
    Input,
    Call {
        layer: Rc<PendingLayer>,
        inputs: Vec<SymbolicTensor>,
    },
}

struct Sym {
    name: Option<String>,
    shape: Option<Vec<usize>>,
    origin: Origin,
}

/// A tensor of a model being built: an `Input`, or the output of a layer called on others.
#[derive(Clone)]
pub struct SymbolicTensor(Rc<Sym>);

impl std::fmt::Debug for SymbolicTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0.origin {
            Origin::Input => write!(f, "Input({:?}, {:?})", self.0.name, self.0.shape),
            Origin::Call { layer, .. } => write!(f, "SymbolicTensor(from {:?})", layer.name),
        }
    }
}

impl SymbolicTensor {
    /// The shape per sample of an input (layer outputs are known once the model is built).
    pub fn input_shape(&self) -> Option<&[usize]> {
        self.0.shape.as_deref()
    }
}

/// Keras's `keras.Input`: a model input of `shape` per sample (no batch dimension).
pub struct Input;

impl Input {
    /// An input named `input_layer`, `input_layer_1`, ... by the model.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(shape: &[usize]) -> SymbolicTensor {
        Self::make(None, shape)
    }

    /// An input with an explicit name.
    pub fn named(name: &str, shape: &[usize]) -> SymbolicTensor {
        Self::make(Some(name.into()), shape)
    }

    fn make(name: Option<String>, shape: &[usize]) -> SymbolicTensor {
        SymbolicTensor(Rc::new(Sym {
            name,
            shape: Some(shape.to_vec()),
            origin: Origin::Input,
        }))
    }
}

/// A layer to call on symbolic tensors more than once (or with a name): every call shares its
/// weights, as calling one Keras layer object twice does.
#[derive(Clone)]
pub struct Shared(Rc<PendingLayer>);

impl Shared {
    /// A layer the model will name (`dense`, `dense_1`, ...).
    pub fn new(layer: impl Layer + 'static) -> Self {
        Self::from_boxed(None, Box::new(layer))
    }

    /// A layer with an explicit name (unique within the model).
    pub fn named(name: &str, layer: impl Layer + 'static) -> Self {
        Self::from_boxed(Some(name.into()), Box::new(layer))
    }

    pub(crate) fn from_boxed(name: Option<String>, layer: Box<dyn Layer>) -> Self {
        Shared(Rc::new(PendingLayer {
            name,
            layer: RefCell::new(Some(layer)),
        }))
    }

    /// The layer called on `x`.
    pub fn apply(&self, x: &SymbolicTensor) -> SymbolicTensor {
        self.apply_many(&[x])
    }

    /// The layer called on several tensors (merge layers).
    pub fn apply_many(&self, xs: &[&SymbolicTensor]) -> SymbolicTensor {
        SymbolicTensor(Rc::new(Sym {
            name: None,
            shape: None,
            origin: Origin::Call {
                layer: self.0.clone(),
                inputs: xs.iter().map(|&x| x.clone()).collect(),
            },
        }))
    }
}

/// Calling any layer on symbolic tensors: `Dense::new(10).apply(&x)`.
pub trait LayerExt: Layer + Sized + 'static {
    /// This layer called on `x`.
    fn apply(self, x: &SymbolicTensor) -> SymbolicTensor {
        Shared::new(self).apply(x)
    }

    /// This layer called on several tensors (merge layers: `Add::new().apply_many(&[&a, &b])`).
    fn apply_many(self, xs: &[&SymbolicTensor]) -> SymbolicTensor {
        Shared::new(self).apply_many(xs)
    }

    /// This layer with a name, to call once or more (`Dense::new(10).named("predictions")`).
    fn named(self, name: &str) -> Shared {
        Shared::named(name, self)
    }
}

impl<L: Layer + Sized + 'static> LayerExt for L {}

/// The graph behind `outputs`, in topological order (an explicit-stack depth-first walk).
fn topological(outputs: &[&SymbolicTensor]) -> Vec<SymbolicTensor> {
    let mut order = Vec::new();
    let mut seen: HashMap<*const Sym, ()> = HashMap::new();
    let mut stack: Vec<(SymbolicTensor, bool)> =
        outputs.iter().rev().map(|&o| (o.clone(), false)).collect();
    while let Some((t, expanded)) = stack.pop() {
        let key = Rc::as_ptr(&t.0);
        if expanded {
            if seen.insert(key, ()).is_none() {
                order.push(t);
            }
            continue;
        }
        if seen.contains_key(&key) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Origin::Call { inputs, .. } = &t.0.origin {
            for i in inputs.iter().rev() {
                stack.push((i.clone(), false));
            }
        }
    }
    order
}

impl Model {
    /// Keras's `keras.Model(inputs, outputs)`: the graph from `inputs` to `outputs`, built on
    /// `device` (seed 0 for initial weights and dropout).
    pub fn new(
        device: &Device,
        inputs: &[&SymbolicTensor],
        outputs: &[&SymbolicTensor],
    ) -> Result<Model> {
        Self::with_seed(device, 0, inputs, outputs)
    }

    /// `Model::new` with a seed.
    pub fn with_seed(
        device: &Device,
        seed: u64,
        inputs: &[&SymbolicTensor],
        outputs: &[&SymbolicTensor],
    ) -> Result<Model> {
        if inputs.is_empty() || outputs.is_empty() {
            return Err(NnError::Config(
                "a model needs at least one input and one output".into(),
            ));
        }
        for i in inputs {
            if !matches!(i.0.origin, Origin::Input) {
                return Err(NnError::Config(
                    "the model's inputs must be Input tensors, not layer outputs".into(),
                ));
            }
        }
        let order = topological(outputs);
        let mut model = Model::empty(device, Kind::Functional, "functional", seed);
        let mut index: HashMap<*const Sym, usize> = HashMap::new();
        let mut layer_index: HashMap<*const PendingLayer, usize> = HashMap::new();
        let mut pending: Vec<Rc<PendingLayer>> = Vec::new();
        for t in &order {
            let node = match &t.0.origin {
                Origin::Input => {
                    if !inputs.iter().any(|i| Rc::ptr_eq(&i.0, &t.0)) {
                        return Err(disconnected(&order, t));
                    }
                    let base = t.0.name.clone().unwrap_or_else(|| "input_layer".into());
                    let name = unique_name(&base, |n| model.nodes.iter().any(|x| x.name == n));
                    Node {
                        layer: None,
                        inputs: Vec::new(),
                        name,
                        shape: t.0.shape.clone(),
                    }
                }
                Origin::Call { layer, inputs: ins } => {
                    let key = Rc::as_ptr(layer);
                    let l = *layer_index.entry(key).or_insert_with(|| {
                        pending.push(layer.clone());
                        pending.len() - 1
                    });
                    Node {
                        layer: Some(l),
                        inputs: ins.iter().map(|i| index[&Rc::as_ptr(&i.0)]).collect(),
                        name: String::new(),
                        shape: None,
                    }
                }
            };
            index.insert(Rc::as_ptr(&t.0), model.nodes.len());
            model.nodes.push(node);
        }
        for i in inputs {
            match index.get(&Rc::as_ptr(&i.0)) {
                Some(&n) => model.inputs.push(n),
                None => {
                    return Err(NnError::Config(format!(
                        "input {:?} is not connected to any output: every input must feed the model",
                        i.0.name.as_deref().unwrap_or("input_layer")
                    )));
                }
            }
        }
        model.outputs = outputs.iter().map(|o| index[&Rc::as_ptr(&o.0)]).collect();
        model.slots = take_layers(&pending)?;
        name_call_nodes(&mut model);
        model.build_graph(None, None)?;
        Ok(model)
    }

    /// Keras's model subclassing: `layer` (a struct holding layers and calling them in its
    /// `call`, see `BuildCtx::child`) as a one-input model, built for samples of `input_shape`.
    pub fn from_layer(
        device: &Device,
        name: &str,
        layer: impl Layer + 'static,
        input_shape: &[usize],
    ) -> Result<Model> {
        let input = Input::new(input_shape);
        let out = Shared::named(name, layer).apply(&input);
        let mut model = Model::new(device, &[&input], &[&out])?;
        model.set_name(name);
        Ok(model)
    }
}

/// The error for an input a layer needs but the model was not given.
fn disconnected(order: &[SymbolicTensor], input: &SymbolicTensor) -> NnError {
    let user = order.iter().find_map(|t| match &t.0.origin {
        Origin::Call { layer, inputs } if inputs.iter().any(|i| Rc::ptr_eq(&i.0, &input.0)) => {
            Some(match &layer.name {
                Some(n) => format!("layer {n:?}"),
                None => {
                    let class = layer.layer.borrow().as_ref().map(|l| l.class_name());
                    format!("a {} layer", class.unwrap_or("(taken)"))
                }
            })
        }
        _ => None,
    });
    NnError::Config(format!(
        "graph disconnected: {} needs input {:?}, which is not among the model's inputs",
        user.unwrap_or_else(|| "an output".into()),
        input.0.name.as_deref().unwrap_or("input_layer")
    ))
}

/// Takes each pending layer into the model, named: explicit names kept (and checked unique),
/// the others named after their class as Keras does (`dense`, `dense_1`, ...).
fn take_layers(pending: &[Rc<PendingLayer>]) -> Result<Vec<Slot>> {
    let mut slots: Vec<Slot> = Vec::with_capacity(pending.len());
    for p in pending {
        if let Some(n) = &p.name
            && pending
                .iter()
                .filter(|q| q.name.as_ref() == Some(n))
                .count()
                > 1
        {
            return Err(NnError::Config(format!(
                "two layers are named {n:?}: layer names must be unique in a model"
            )));
        }
    }
    for p in pending {
        let layer = p.layer.borrow_mut().take().ok_or_else(|| {
            NnError::Config(format!(
                "layer {:?} already belongs to another model: a layer object goes into one model \
                 (share it within a model with Shared, or nest that model as a layer)",
                p.name.as_deref().unwrap_or("(unnamed)")
            ))
        })?;
        let name = match &p.name {
            Some(n) => n.clone(),
            None => {
                // A model is named after itself, as in Keras; other layers after their class.
                let base = match layer.as_model() {
                    Some(m) => m.name().to_string(),
                    None => snake_case(layer.class_name()),
                };
                unique_name(&base, |n| {
                    slots.iter().any(|s| s.name == n)
                        || pending.iter().any(|q| q.name.as_deref() == Some(n))
                })
            }
        };
        let built = layer
            .as_model()
            .and_then(|inner| Some((inner.input_shapes()?, inner.output_shape()?)));
        slots.push(Slot {
            name,
            layer,
            trainable: true,
            built,
        });
    }
    Ok(slots)
}

/// Names each call node after its layer; a shared layer's later calls get `_1`, `_2`, ...
fn name_call_nodes(model: &mut Model) {
    let mut calls: HashMap<usize, usize> = HashMap::new();
    for k in 0..model.nodes.len() {
        if let Some(l) = model.nodes[k].layer {
            let n = calls.entry(l).or_insert(0);
            let base = &model.slots[l].name;
            model.nodes[k].name = if *n == 0 {
                base.clone()
            } else {
                format!("{base}_call{n}")
            };
            *n += 1;
        }
    }
}
