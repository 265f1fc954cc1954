//! The `Layer` trait (what users implement for custom layers) and `Weight`, a named parameter.
//!
//! A layer is built once from its input shape (without the batch dimension), creating its
//! weights through `BuildCtx::add_weight` (Keras's `build` / `add_weight`), and then called on
//! batches (`call(x, ctx)`, with `ctx.training` like Keras's `training` argument).

use std::collections::HashMap;

use kiln_graph::{Device, Rng, Tensor};

use crate::error::{NnError, Result};
use crate::init::Initializer;

/// A named parameter of a layer. Trainable weights receive gradients and optimizer updates;
/// non-trainable ones (BatchNormalization's moving statistics) are updated by the layer itself.
/// Both are saved.
#[derive(Clone, Debug)]
pub struct Weight {
    /// Name within the layer ("kernel", "bias", "moving_mean").
    pub name: String,
    /// The values on the GPU.
    pub value: Tensor,
    /// Whether the optimizer updates it.
    pub trainable: bool,
}

impl Weight {
    /// These weights named as a holder reports its field `field`'s: `<field>/<name>`.
    pub fn prefixed(field: &str, weights: Vec<Weight>) -> Vec<Weight> {
        weights
            .into_iter()
            .map(|w| Weight {
                name: format!("{field}/{}", w.name),
                ..w
            })
            .collect()
    }
}

/// What `build` needs: the device and the model's seeded RNG for initial values.
pub struct BuildCtx<'a> {
    /// Where weights live.
    pub device: &'a Device,
    /// Seeded generator (a model seed reproduces its initial weights).
    pub rng: &'a mut Rng,
    /// The layer being built, as a path from the model (its weights are saved as
    /// `<layer>/<weight>`).
    layer: String,
    /// When rebuilding from a file (`load_model`): the shape the file holds for each weight.
    /// Every weight must match it, which is checked before anything is allocated, so a crafted
    /// architecture cannot make the model allocate what the file does not hold.
    expected: Option<&'a HashMap<String, Vec<usize>>>,
}

impl<'a> BuildCtx<'a> {
    /// A context for building layer `layer`, its weights checked against `expected` when given.
    pub(crate) fn new(
        device: &'a Device,
        rng: &'a mut Rng,
        layer: &str,
        expected: Option<&'a HashMap<String, Vec<usize>>>,
    ) -> Self {
        BuildCtx {
            device,
            rng,
            layer: layer.to_string(),
            expected,
        }
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        self.device
    }

    /// The context for building `name`, a layer held by the one being built (a subclassed
    /// model's field): its weights are `<this layer>/<name>/<weight>`, which is how the holder's
    /// `weights()` must name them (`Weight::prefixed`).
    pub fn child(&mut self, name: &str) -> BuildCtx<'_> {
        BuildCtx {
            device: self.device,
            rng: &mut *self.rng,
            layer: format!("{}/{name}", self.layer),
            expected: self.expected,
        }
    }

    /// Creates a weight of `shape` with initial values from `init`. Its size is checked against
    /// the adapter's limits (and, when loading, against the file) before any host or GPU memory
    /// is allocated for it.
    pub fn add_weight(
        &mut self,
        name: &str,
        shape: &[usize],
        init: Initializer,
        trainable: bool,
    ) -> Result<Weight> {
        let key = format!("{}/{name}", self.layer);
        let n = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        let n = n.ok_or_else(|| {
            NnError::Config(format!(
                "weight {key} of shape {shape:?} has too many elements"
            ))
        })?;
        if let Some(expected) = self.expected {
            match expected.get(&key) {
                Some(s) if s.as_slice() == shape => {}
                Some(s) => {
                    return Err(NnError::Config(format!(
                        "weight {key}: the architecture makes it {shape:?} but the file holds {s:?}"
                    )));
                }
                None => {
                    return Err(NnError::Config(format!(
                        "weight {key} of shape {shape:?} is not in the file"
                    )));
                }
            }
        }
        let bytes = (n as u64).saturating_mul(4);
        self.device
            .check_alloc(bytes, || format!("weight {key} of shape {shape:?}"))?;
        let values = init.sample(shape, self.rng);
        let t = Tensor::from_f32(self.device, &values, shape)?;
        Ok(Weight {
            name: name.into(),
            value: if trainable { t.requires_grad() } else { t },
            trainable,
        })
    }
}

/// What `call` needs beyond the input.
#[derive(Clone, Copy, Debug)]
pub struct CallCtx {
    /// Training mode (dropout active, batch statistics used and moving averages updated).
    pub training: bool,
    /// A fresh seed for this call (dropout masks differ per step but replay with the model seed).
    pub seed: u32,
    /// Whether the layer (and every model around it) is trainable: a frozen
    /// BatchNormalization runs in inference mode even in training, as in Keras.
    pub trainable: bool,
}

impl CallCtx {
    /// A context for a call in `training` mode with `seed`, the layer trainable.
    pub fn new(training: bool, seed: u32) -> Self {
        CallCtx {
            training,
            seed,
            trainable: true,
        }
    }
}

/// A layer. Implement it for custom layers (see `examples/custom_layer.rs`): a struct holding
/// other layers as fields and calling them in `call` is Keras's model subclassing (build the
/// fields with `BuildCtx::child`, wrap it with `Model::from_layer`).
pub trait Layer {
    /// Keras class name, shown in `summary()` ("Dense").
    fn class_name(&self) -> &'static str;

    /// Creates the weights for `input_shape` (no batch dimension) and returns the output shape.
    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>>;

    /// Forward pass on a batch (`x.shape()[0]` is the batch).
    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor>;

    /// `build` for a layer called on several tensors (merge layers override it); by default
    /// a layer takes exactly one.
    fn build_inputs(
        &mut self,
        input_shapes: &[Vec<usize>],
        ctx: &mut BuildCtx<'_>,
    ) -> Result<Vec<usize>> {
        match input_shapes {
            [one] => self.build(one, ctx),
            _ => Err(NnError::Config(format!(
                "{} takes one input, got {}",
                self.class_name(),
                input_shapes.len()
            ))),
        }
    }

    /// `call` for a layer called on several tensors (merge layers override it).
    fn call_inputs(&self, xs: &[Tensor], ctx: &CallCtx) -> Result<Tensor> {
        match xs {
            [one] => self.call(one, ctx),
            _ => Err(NnError::Config(format!(
                "{} takes one input, got {}",
                self.class_name(),
                xs.len()
            ))),
        }
    }

    /// Every weight, trainable and not, in a stable order (kernel before bias).
    fn weights(&self) -> Vec<Weight> {
        Vec::new()
    }

    /// Mutable access to the weights (used to freeze and unfreeze, and to load values).
    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        Vec::new()
    }

    /// The weights the optimizer updates (a model as a layer leaves out its frozen layers').
    fn trainable_weights(&self) -> Vec<Weight> {
        self.weights().into_iter().filter(|w| w.trainable).collect()
    }

    /// Freezes (`false`) or unfreezes every weight (a model: every layer, as setting
    /// `trainable` on a Keras model does).
    fn set_trainable(&mut self, trainable: bool) {
        for w in self.weights_mut() {
            if w.trainable {
                set_weight_trainable(w, trainable);
            }
        }
    }

    /// The model, when this layer is one (a nested model: `get_layer` reaches into it).
    fn as_model(&self) -> Option<&crate::model::Model> {
        None
    }

    /// Mutable access to the model, when this layer is one.
    fn as_model_mut(&mut self) -> Option<&mut crate::model::Model> {
        None
    }

    /// The layer's settings as Keras's `get_config()` writes them: a JSON object of numbers,
    /// booleans, strings and arrays (the model adds `name` and `trainable`). Saved models
    /// store it, and `from_config` (built-in layers: the registry in `layers/registry.rs`;
    /// your own: a `LayerFactory`) rebuilds the layer from it. Built-in layers derive it from a
    /// typed config struct.
    fn get_config(&self) -> serde_json::Value {
        serde_json::Value::Object(serde_json::Map::new())
    }
}

/// Marks a weight frozen (no gradient, no update) or trainable again; the storage is shared.
pub(crate) fn set_weight_trainable(w: &mut Weight, trainable: bool) {
    if trainable && !w.value.tracks_grad() {
        w.value = w.value.clone().requires_grad();
    } else if !trainable && w.value.tracks_grad() {
        w.value = w.value.detach();
    }
}
