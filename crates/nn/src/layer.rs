//! The `Layer` trait (what users implement for custom layers) and `Weight`, a named parameter.
//!
//! A layer is built once from its input shape (without the batch dimension), creating its
//! weights through `BuildCtx::add_weight` (Keras's `build` / `add_weight`), and then called on
//! batches (`call(x, ctx)`, with `ctx.training` like Keras's `training` argument).

use kiln_device::rng::Rng;
use kiln_graph::{Device, Tensor};

use crate::error::Result;
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
}

impl BuildCtx<'_> {
    /// Creates a weight of `shape` with initial values from `init`.
    pub fn add_weight(
        &mut self,
        name: &str,
        shape: &[usize],
        init: Initializer,
        trainable: bool,
    ) -> Result<Weight> {
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

    /// Configuration shown in the graph view and summaries, as (key, value) text pairs.
    fn config(&self) -> Vec<(String, String)> {
        Vec::new()
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
