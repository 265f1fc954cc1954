//! `Conv2D`: 2-D convolution over NHWC images, kernel [kh, kw, in, filters] as Keras stores it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::shape_rules::conv2d_output;
use kiln_graph::{Activation, Padding, Tensor};

use crate::error::{NnError, Result};
use crate::init::Initializer;
use crate::layer::{BuildCtx, CallCtx, Layer, Weight};
use crate::layers::dense::{glorot_uniform, yes, zeros};
use crate::layers::keras_json::{activation, initializer, padding, pair};
use crate::layers::registry::{config_of, typed_config};
use crate::layers::{expect_rank, not_built};

/// `Conv2D`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2DConfig {
    /// Output channels.
    pub filters: usize,
    /// Window (height, width).
    #[serde(with = "pair")]
    pub kernel_size: (usize, usize),
    /// Strides (vertical, horizontal).
    #[serde(with = "pair", default = "ones")]
    pub strides: (usize, usize),
    /// "valid" or "same".
    #[serde(with = "padding", default)]
    pub padding: Padding,
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

pub(crate) fn ones() -> (usize, usize) {
    (1, 1)
}

/// A 2-D convolution layer.
pub struct Conv2D {
    config: Conv2DConfig,
    kernel: Option<Weight>,
    bias: Option<Weight>,
}

impl Conv2D {
    /// `filters` outputs with a square `kernel_size` window, stride 1, 'valid' padding.
    pub fn new(filters: usize, kernel_size: usize) -> Self {
        Self::with_config(Conv2DConfig {
            filters,
            kernel_size: (kernel_size, kernel_size),
            strides: (1, 1),
            padding: Padding::Valid,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
        })
    }

    /// A layer with these settings, not built yet.
    pub fn with_config(config: Conv2DConfig) -> Self {
        Self {
            config,
            kernel: None,
            bias: None,
        }
    }

    /// From a `get_config()` object (Keras's `Conv2D.from_config`).
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(Self::with_config(typed_config("Conv2D", config)?))
    }

    /// The settings.
    pub fn config(&self) -> &Conv2DConfig {
        &self.config
    }

    /// Rectangular window.
    pub fn kernel_size(mut self, kh: usize, kw: usize) -> Self {
        self.config.kernel_size = (kh, kw);
        self
    }

    /// Strides.
    pub fn strides(mut self, sh: usize, sw: usize) -> Self {
        self.config.strides = (sh, sw);
        self
    }

    /// Padding by Keras name: "valid" or "same".
    pub fn padding(mut self, name: &str) -> Result<Self> {
        self.config.padding = parse_padding(name)?;
        Ok(self)
    }

    /// Activation by name.
    pub fn activation(mut self, name: &str) -> Result<Self> {
        self.config.activation = Activation::from_name(name)?;
        Ok(self)
    }

    /// Whether to add a bias.
    pub fn use_bias(mut self, yes: bool) -> Self {
        self.config.use_bias = yes;
        self
    }
}

/// "valid" or "same" (Keras names).
pub(crate) fn parse_padding(name: &str) -> Result<Padding> {
    Padding::from_name(name).ok_or_else(|| {
        NnError::Config(format!(
            "unknown padding {name:?}: use \"valid\" or \"same\""
        ))
    })
}

impl Layer for Conv2D {
    fn class_name(&self) -> &'static str {
        "Conv2D"
    }

    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        expect_rank("Conv2D", input_shape, 3, "images [height, width, channels]")?;
        let c = &self.config;
        let (kh, kw) = c.kernel_size;
        let out = conv2d_output(input_shape, c.kernel_size, c.strides, c.padding, c.filters)
            .ok_or_else(|| {
                NnError::Config(format!(
                    "Conv2D: a {kh}x{kw} kernel with strides {:?} and {} padding does not fit input {input_shape:?}",
                    c.strides,
                    c.padding.name()
                ))
            })?;
        let kernel = [kh, kw, input_shape[2], c.filters];
        self.kernel = Some(ctx.add_weight("kernel", &kernel, c.kernel_initializer, true)?);
        if c.use_bias {
            self.bias = Some(ctx.add_weight("bias", &[c.filters], c.bias_initializer, true)?);
        }
        Ok(out)
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let kernel = self.kernel.as_ref().ok_or_else(|| not_built("Conv2D"))?;
        // Convolution, bias and activation in one dispatch (softmax follows as its own op).
        let bias = self.bias.as_ref().map(|b| &b.value);
        let c = &self.config;
        Ok(x.conv2d_act(&kernel.value, bias, c.strides, c.padding, c.activation)?)
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
