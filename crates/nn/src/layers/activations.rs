//! Activation layers: `Activation(name)`, `ReLU`, `Softmax`.

use kiln_graph::Tensor;

use crate::activation::Activation;
use crate::error::Result;
use crate::layer::{BuildCtx, CallCtx, Layer};

/// Applies an activation function (Keras `Activation("relu")`).
pub struct ActivationLayer {
    activation: Activation,
    class: &'static str,
}

impl ActivationLayer {
    /// By name ("relu", "softmax", ...).
    pub fn new(name: &str) -> Result<Self> {
        Ok(Self {
            activation: Activation::from_name(name)?,
            class: "Activation",
        })
    }
}

/// max(x, 0) as a layer.
pub struct ReLU;

impl ReLU {
    /// The layer.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> ActivationLayer {
        ActivationLayer {
            activation: Activation::Relu,
            class: "ReLU",
        }
    }
}

/// Softmax over the last axis as a layer (append it to get a probability model).
pub struct Softmax;

impl Softmax {
    /// The layer.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> ActivationLayer {
        ActivationLayer {
            activation: Activation::Softmax,
            class: "Softmax",
        }
    }
}

impl Layer for ActivationLayer {
    fn class_name(&self) -> &'static str {
        self.class
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        Ok(input_shape.to_vec())
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        self.activation.apply(x)
    }

    fn config(&self) -> Vec<(String, String)> {
        vec![("activation".into(), self.activation.name().into())]
    }
}
