//! `Dense`: y = activation(x W + b), W of shape [in, out] as Keras stores it.

use kiln_device::ops::Act;
use kiln_graph::Tensor;

use crate::activation::Activation;
use crate::error::{NnError, Result};
use crate::init::Initializer;
use crate::layer::{BuildCtx, CallCtx, Layer, Weight};
use crate::layers::not_built;

/// A fully connected layer on the last axis.
pub struct Dense {
    units: usize,
    activation: Activation,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel: Option<Weight>,
    bias: Option<Weight>,
}

impl Dense {
    /// `units` outputs, no activation, with bias; Keras's default initializers.
    pub fn new(units: usize) -> Self {
        Self {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel: None,
            bias: None,
        }
    }

    /// Sets the activation by name ("relu", "softmax", ...); an unknown name is an error.
    pub fn activation(mut self, name: &str) -> Result<Self> {
        self.activation = Activation::from_name(name)?;
        Ok(self)
    }

    /// Sets the activation.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether to add a bias.
    pub fn use_bias(mut self, yes: bool) -> Self {
        self.use_bias = yes;
        self
    }

    /// Kernel initializer.
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.kernel_initializer = init;
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
        if self.units == 0 {
            return Err(NnError::Config("Dense needs at least one unit".into()));
        }
        self.kernel = Some(ctx.add_weight(
            "kernel",
            &[fan_in, self.units],
            self.kernel_initializer,
            true,
        )?);
        if self.use_bias {
            self.bias = Some(ctx.add_weight("bias", &[self.units], self.bias_initializer, true)?);
        }
        let mut out = input_shape.to_vec();
        *out.last_mut().expect("checked above") = self.units;
        Ok(out)
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let kernel = self.kernel.as_ref().ok_or_else(|| not_built("Dense"))?;
        // Product, bias and activation in one dispatch (softmax follows as its own op).
        let bias = self.bias.as_ref().map(|b| &b.value);
        match self.activation.epilogue() {
            Some(act) => Ok(x.linear(&kernel.value, bias, act)?),
            None => self
                .activation
                .apply(&x.linear(&kernel.value, bias, Act::Linear)?),
        }
    }

    fn weights(&self) -> Vec<Weight> {
        self.kernel.iter().chain(&self.bias).cloned().collect()
    }

    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        self.kernel.iter_mut().chain(self.bias.iter_mut()).collect()
    }

    fn config(&self) -> Vec<(String, String)> {
        vec![
            ("units".into(), self.units.to_string()),
            ("activation".into(), self.activation.name().into()),
            ("use_bias".into(), self.use_bias.to_string()),
        ]
    }
}
