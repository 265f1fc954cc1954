//! Activations by name, as Keras layers take them (`activation="relu"`).

use kiln_device::ops::Act;
use kiln_graph::Tensor;

use crate::error::{NnError, Result};

/// An activation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Activation {
    /// Identity.
    #[default]
    Linear,
    /// max(x, 0).
    Relu,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Softmax over the last axis.
    Softmax,
}

impl Activation {
    /// From a Keras name: "linear" (or ""), "relu", "sigmoid", "tanh", "softmax".
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "" | "linear" | "none" => Activation::Linear,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            other => {
                return Err(NnError::Config(format!(
                    "unknown activation {other:?}: use linear, relu, sigmoid, tanh or softmax"
                )));
            }
        })
    }

    /// Keras name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
        }
    }

    /// The matmul epilogue that computes this activation in the same dispatch as a Dense
    /// layer's product (`Tensor::linear`), or `None` (softmax needs a whole row).
    pub fn epilogue(self) -> Option<Act> {
        match self {
            Activation::Linear => Some(Act::Linear),
            Activation::Relu => Some(Act::Relu),
            Activation::Sigmoid => Some(Act::Sigmoid),
            Activation::Tanh => Some(Act::Tanh),
            Activation::Softmax => None,
        }
    }

    /// Applies the activation.
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Activation::Linear => x.clone(),
            Activation::Relu => x.relu()?,
            Activation::Sigmoid => x.sigmoid()?,
            Activation::Tanh => x.tanh()?,
            Activation::Softmax => x.softmax()?,
        })
    }
}

impl TryFrom<&str> for Activation {
    type Error = NnError;
    fn try_from(name: &str) -> Result<Self> {
        Self::from_name(name)
    }
}
