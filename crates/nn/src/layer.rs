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

/// What `build` needs: the device and the model's seeded RNG for initial values.
pub struct BuildCtx<'a> {
    /// Where weights live.
    pub device: &'a Device,
    /// Seeded generator (a model seed reproduces its initial weights).
    pub rng: &'a mut Rng,
    /// The layer being built (its weights are saved as `<layer>/<weight>`).
    layer: &'a str,
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
        layer: &'a str,
        expected: Option<&'a HashMap<String, Vec<usize>>>,
    ) -> Self {
        BuildCtx {
            device,
            rng,
            layer,
            expected,
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
}

/// A layer. Implement it for custom layers (see `examples/custom_layer.rs`).
pub trait Layer {
    /// Keras class name, shown in `summary()` ("Dense").
    fn class_name(&self) -> &'static str;

    /// Creates the weights for `input_shape` (no batch dimension) and returns the output shape.
    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>>;

    /// Forward pass on a batch (`x.shape()[0]` is the batch).
    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor>;

    /// Every weight, trainable and not, in a stable order (kernel before bias).
    fn weights(&self) -> Vec<Weight> {
        Vec::new()
    }

    /// Mutable access to the weights (used to freeze and unfreeze, and to load values).
    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        Vec::new()
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
