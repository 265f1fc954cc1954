//! `Dense`: y = activation(x W + b), W of shape [in, out] as Keras stores it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::{Activation, Tensor};

use crate::error::{NnError, Result};
use crate::init::Initializer;
use crate::layer::{BuildCtx, CallCtx, Layer, Weight};
use crate::layers::keras_json::{activation, initializer};
use crate::layers::not_built;
use crate::layers::registry::{config_of, typed_config};

/// `Dense`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenseConfig {
    /// Outputs.
    pub units: usize,
    /// Applied after the bias.
    #[serde(with = "activation", default)]
    pub activation: Activation,
    /// Whether to add a bias.
    #[serde(default = "yes")]
    pub use_bias: bool,
    /// How the kernel starts.
    #[serde(with = "initializer", default = "glorot_uniform")]
    pub kernel_initializer: Initializer,
    /// How the bias starts.
    #[serde(with = "initializer", default = "zeros")]
    pub bias_initializer: Initializer,
}

pub(crate) fn yes() -> bool {
    true
}

pub(crate) fn glorot_uniform() -> Initializer {
    Initializer::GlorotUniform
}

pub(crate) fn zeros() -> Initializer {
    Initializer::Zeros
}

/// A fully connected layer on the last axis.
pub struct Dense {
    config: DenseConfig,
    kernel: Option<Weight>,
    bias: Option<Weight>,
}

impl Dense {
    /// `units` outputs, no activation, with bias; Keras's default initializers.
    pub fn new(units: usize) -> Self {
        Self::with_config(DenseConfig {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
        })
    }

    /// A layer with these settings, not built yet.
    pub fn with_config(config: DenseConfig) -> Self {
        Self {
            config,
            kernel: None,
            bias: None,
        }
    }

    /// From a `get_config()` object (Keras's `Dense.from_config`).
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(Self::with_config(typed_config("Dense", config)?))
    }

    /// The settings.
    pub fn config(&self) -> &DenseConfig {
        &self.config
    }

    /// Sets the activation by name ("relu", "softmax", ...); an unknown name is an error.
    pub fn activation(mut self, name: &str) -> Result<Self> {
        self.config.activation = Activation::from_name(name)?;
        Ok(self)
    }

    /// Sets the activation.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.config.activation = activation;
        self
    }

    /// Whether to add a bias.
    pub fn use_bias(mut self, yes: bool) -> Self {
        self.config.use_bias = yes;
        self
    }

    /// Kernel initializer.
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.config.kernel_initializer = init;
        self
    }
}

impl Layer for Dense {
    fn class_name(&self) -> &'static str {
        "Dense"
    }

    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let Some(&fan_in) = input_shape.last() else {
            return Err(NnError::Config(
                "Dense needs an input with at least one axis; add Flatten before it for images"
                    .into(),
            ));
        };
        let c = &self.config;
        if c.units == 0 {
            return Err(NnError::Config("Dense needs at least one unit".into()));
        }
        self.kernel =
            Some(ctx.add_weight("kernel", &[fan_in, c.units], c.kernel_initializer, true)?);
        if c.use_bias {
            self.bias = Some(ctx.add_weight("bias", &[c.units], c.bias_initializer, true)?);
        }
        let mut out = input_shape.to_vec();
        *out.last_mut().expect("checked above") = c.units;
        Ok(out)
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let kernel = self.kernel.as_ref().ok_or_else(|| not_built("Dense"))?;
        // Product, bias and activation in one dispatch (softmax follows as its own op).
        let bias = self.bias.as_ref().map(|b| &b.value);
        Ok(x.linear(&kernel.value, bias, self.config.activation)?)
    }

    fn weights(&self) -> Vec<Weight> {
        self.kernel.iter().chain(&self.bias).cloned().collect()
    }

    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        self.kernel.iter_mut().chain(self.bias.iter_mut()).collect()
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
