//! `SmallResNet`: the CIFAR-style ResNet of He et al. (2015, section 4.2) for 28x28 and 32x32
//! images: a 3x3 convolution, three stages of basic blocks (two 3x3 convolutions each, with a
//! strided 1x1 projection shortcut where a stage halves the size), global average pooling and a
//! classifier. 3 blocks per stage and 16 base filters is ResNet-20 (about 0.27M weights); fewer
//! blocks or filters train faster on a CPU adapter. Layer names follow `ResNet50`'s
//! (`conv1_conv`, `conv2_block1_1_conv`, ..., `avg_pool`, `predictions`), convolutions have no
//! bias (each is followed by BatchNormalization).

use kiln_graph::{Activation, Device};

use crate::applications::Pooling;
use crate::applications::resnet::{relu, top};
use crate::error::{NnError, Result};
use crate::functional::{Input, LayerExt, SymbolicTensor};
use crate::layers::{Add, BatchNormalization, Conv2D};
use crate::model::Model;

/// A ResNet-20-style network, built with `build`.
#[derive(Clone, Debug)]
pub struct SmallResNet {
    /// Image shape [height, width, channels] (28x28x1 by default).
    pub input_shape: Vec<usize>,
    /// Basic blocks per stage (3: ResNet-20, 5: ResNet-32).
    pub blocks: usize,
    /// Filters of the first stage (doubled at each of the next two).
    pub filters: usize,
    /// End with global average pooling and a `classes`-way Dense layer.
    pub include_top: bool,
    /// Without the top: how the network ends.
    pub pooling: Pooling,
    /// Classes of the top layer.
    pub classes: usize,
    /// The top's activation (softmax by default; linear for logits).
    pub classifier_activation: Activation,
    /// Seed of the initial weights.
    pub seed: u64,
    /// Momentum of every BatchNormalization's moving averages (Keras's 0.99 by default). The
    /// moving statistics keep momentum^steps of their initial values (mean 0, variance 1), so
    /// a run of a few hundred steps evaluates better with 0.9.
    pub bn_momentum: f32,
}

impl Default for SmallResNet {
    fn default() -> Self {
        SmallResNet {
            input_shape: vec![28, 28, 1],
            blocks: 3,
            filters: 16,
            include_top: true,
            pooling: Pooling::None,
            classes: 10,
            classifier_activation: Activation::Softmax,
            seed: 0,
            bn_momentum: 0.99,
        }
    }
}

impl SmallResNet {
    /// ResNet-20 for 28x28x1 images and 10 classes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The image shape.
    pub fn input_shape(mut self, shape: &[usize]) -> Self {
        self.input_shape = shape.to_vec();
        self
    }

    /// Blocks per stage.
    pub fn blocks(mut self, n: usize) -> Self {
        self.blocks = n;
        self
    }

    /// Filters of the first stage.
    pub fn filters(mut self, n: usize) -> Self {
        self.filters = n;
        self
    }

    /// With or without the top.
    pub fn include_top(mut self, yes: bool) -> Self {
        self.include_top = yes;
        self
    }

    /// The pooling of a headless network.
    pub fn pooling(mut self, p: Pooling) -> Self {
        self.pooling = p;
        self
    }

    /// The classes of the top.
    pub fn classes(mut self, n: usize) -> Self {
        self.classes = n;
        self
    }

    /// The top's activation.
    pub fn classifier_activation(mut self, a: Activation) -> Self {
        self.classifier_activation = a;
        self
    }

    /// Seed of the initial weights.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The BatchNormalization momentum.
    pub fn bn_momentum(mut self, m: f32) -> Self {
        self.bn_momentum = m;
        self
    }

    /// The network, named "small_resnet".
    pub fn build(&self, device: &Device) -> Result<Model> {
        if self.blocks == 0 || self.filters == 0 || self.input_shape.len() != 3 {
            return Err(NnError::Config(format!(
                "SmallResNet needs blocks and filters of at least 1 and an image shape \
                 [height, width, channels], got {} blocks, {} filters, {:?}",
                self.blocks, self.filters, self.input_shape
            )));
        }
        let input = Input::named("input_layer", &self.input_shape);
        let x = conv3(self.filters, 1, "conv1_conv", &input)?;
        let bn = |name: &str, x: &SymbolicTensor| {
            BatchNormalization::new()
                .epsilon(1.001e-5)
                .momentum(self.bn_momentum)
                .named(name)
                .apply(x)
        };
        let x = bn("conv1_bn", &x);
        let mut x = relu("conv1_relu", &x);
        for (stage, mult) in [(2, 1), (3, 2), (4, 4)] {
            for b in 1..=self.blocks {
                let stride = if b == 1 && stage > 2 { 2 } else { 1 };
                let name = format!("conv{stage}_block{b}");
                x = basic_block(&x, self.filters * mult, stride, &name, &bn)?;
            }
        }
        let out = top(
            &x,
            self.include_top,
            self.pooling,
            self.classes,
            self.classifier_activation,
        );
        let mut model = Model::with_seed(device, self.seed, &[&input], &[&out])?;
        model.set_name("small_resnet");
        Ok(model)
    }
}

/// A 3x3 'same' convolution without bias.
fn conv3(filters: usize, stride: usize, name: &str, x: &SymbolicTensor) -> Result<SymbolicTensor> {
    let c = Conv2D::new(filters, 3)
        .strides(stride, stride)
        .padding("same")?
        .use_bias(false);
    Ok(c.named(name).apply(x))
}

/// Two 3x3 convolutions plus the shortcut (a strided 1x1 projection where the block halves the
/// size), added, then relu.
fn basic_block(
    x: &SymbolicTensor,
    filters: usize,
    stride: usize,
    name: &str,
    bn: &dyn Fn(&str, &SymbolicTensor) -> SymbolicTensor,
) -> Result<SymbolicTensor> {
    let shortcut = if stride > 1 {
        let c = Conv2D::new(filters, 1)
            .strides(stride, stride)
            .use_bias(false);
        let s = c.named(&format!("{name}_0_conv")).apply(x);
        bn(&format!("{name}_0_bn"), &s)
    } else {
        x.clone()
    };
    let y = conv3(filters, stride, &format!("{name}_1_conv"), x)?;
    let y = bn(&format!("{name}_1_bn"), &y);
    let y = relu(&format!("{name}_1_relu"), &y);
    let y = conv3(filters, 1, &format!("{name}_2_conv"), &y)?;
    let y = bn(&format!("{name}_2_bn"), &y);
    let sum = Add::new()
        .named(&format!("{name}_add"))
        .apply_many(&[&shortcut, &y]);
    Ok(relu(&format!("{name}_out"), &sum))
}
