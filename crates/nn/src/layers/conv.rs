//! `Conv2D`: 2-D convolution over NHWC images, kernel [kh, kw, in, filters] as Keras stores it.

use kiln_graph::{Padding, Tensor};

use crate::activation::Activation;
use crate::error::{NnError, Result};
use crate::init::Initializer;
use crate::layer::{BuildCtx, CallCtx, Layer, Weight};
use crate::layers::{expect_rank, not_built};

/// A 2-D convolution layer.
pub struct Conv2D {
    filters: usize,
    kernel_size: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    activation: Activation,
    use_bias: bool,
    kernel: Option<Weight>,
    bias: Option<Weight>,
}

impl Conv2D {
    /// `filters` outputs with a square `kernel_size` window, stride 1, 'valid' padding.
    pub fn new(filters: usize, kernel_size: usize) -> Self {
        Self {
            filters,
            kernel_size: (kernel_size, kernel_size),
            strides: (1, 1),
            padding: Padding::Valid,
            activation: Activation::Linear,
            use_bias: true,
            kernel: None,
            bias: None,
        }
    }

    /// Rectangular window.
    pub fn kernel_size(mut self, kh: usize, kw: usize) -> Self {
        self.kernel_size = (kh, kw);
        self
    }

    /// Strides.
    pub fn strides(mut self, sh: usize, sw: usize) -> Self {
        self.strides = (sh, sw);
        self
    }

    /// Padding by Keras name: "valid" or "same".
    pub fn padding(mut self, name: &str) -> Result<Self> {
        self.padding = parse_padding(name)?;
        Ok(self)
    }

    /// Activation by name.
    pub fn activation(mut self, name: &str) -> Result<Self> {
        self.activation = Activation::from_name(name)?;
        Ok(self)
    }

    /// Whether to add a bias.
    pub fn use_bias(mut self, yes: bool) -> Self {
        self.use_bias = yes;
        self
    }
}

/// "valid" or "same" (Keras names).
pub(crate) fn parse_padding(name: &str) -> Result<Padding> {
    match name {
        "valid" => Ok(Padding::Valid),
        "same" => Ok(Padding::Same),
        other => Err(NnError::Config(format!(
            "unknown padding {other:?}: use \"valid\" or \"same\""
        ))),
    }
}

impl Layer for Conv2D {
    fn class_name(&self) -> &'static str {
        "Conv2D"
    }

    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        expect_rank("Conv2D", input_shape, 3, "images [height, width, channels]")?;
        let (kh, kw) = self.kernel_size;
        let dims = kiln_device::ops::conv2d::Conv2dDims {
            n: 1,
            h: input_shape[0],
            w: input_shape[1],
            c: input_shape[2],
            f: self.filters,
            kh,
            kw,
            sh: self.strides.0,
            sw: self.strides.1,
            padding: self.padding,
        };
        let (oh, ow, _, _) = dims
            .output()
            .ok_or_else(|| NnError::Config(format!("Conv2D: a {kh}x{kw} kernel with strides {:?} and {:?} padding does not fit input {input_shape:?}", self.strides, self.padding)))?;
        self.kernel = Some(ctx.add_weight(
            "kernel",
            &[kh, kw, input_shape[2], self.filters],
            Initializer::GlorotUniform,
            true,
        )?);
        if self.use_bias {
            self.bias = Some(ctx.add_weight("bias", &[self.filters], Initializer::Zeros, true)?);
        }
        Ok(vec![oh, ow, self.filters])
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let kernel = self.kernel.as_ref().ok_or_else(|| not_built("Conv2D"))?;
        // Convolution, bias and activation in one dispatch (softmax follows as its own op).
        let bias = self.bias.as_ref().map(|b| &b.value);
        let fused = self.activation.epilogue();
        let act = fused.unwrap_or_default();
        let y = x.conv2d_act(&kernel.value, bias, self.strides, self.padding, act)?;
        match fused {
            Some(_) => Ok(y),
            None => self.activation.apply(&y),
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
            ("filters".into(), self.filters.to_string()),
            ("kernel_size".into(), format!("{:?}", self.kernel_size)),
            ("strides".into(), format!("{:?}", self.strides)),
            (
                "padding".into(),
                format!("{:?}", self.padding).to_lowercase(),
            ),
            ("activation".into(), self.activation.name().into()),
            ("use_bias".into(), self.use_bias.to_string()),
        ]
    }
}
