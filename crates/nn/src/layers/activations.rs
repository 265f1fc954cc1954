//! Activation layers: `Activation(name)`, `ReLU`, `Softmax`.

use serde_json::{Value, json};

use kiln_graph::{Activation, Tensor};

use crate::error::{NnError, Result};
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

    /// The layer applying `activation` (Keras `Activation(...)`).
    pub fn of(activation: Activation) -> Self {
        Self {
            activation,
            class: "Activation",
        }
    }

    /// From a `get_config()` object of `class` ("Activation", "ReLU" or "Softmax").
    pub fn from_config(class: &str, config: &Value) -> Result<Self> {
        match class {
            "ReLU" => Ok(ReLU::new()),
            "Softmax" => Ok(Softmax::new()),
            _ => match config["activation"].as_str() {
                Some(name) => Self::new(name),
                None => Err(NnError::Config(format!(
                    "Activation config: no activation name in {config}"
                ))),
            },
        }
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
        Ok(x.activation(self.activation)?)
    }

    /// Keras's: `{"activation": name}` for `Activation`; `ReLU` and `Softmax` have settings
    /// kiln keeps at their defaults (`Softmax` over the last axis).
    fn get_config(&self) -> Value {
        match self.class {
            "Activation" => json!({ "activation": self.activation.name() }),
            "Softmax" => json!({ "axis": -1 }),
            _ => json!({}),
        }
    }
}
