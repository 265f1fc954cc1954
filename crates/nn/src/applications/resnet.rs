//! `ResNet50` (He et al. 2015, v1 with bottleneck blocks), layer for layer and name for name as
//! `keras.applications.ResNet50` builds it: `conv1_pad`, `conv1_conv` (7x7 stride 2), `conv1_bn`,
//! `conv1_relu`, `pool1_pad`, `pool1_pool`, then stages `conv2`..`conv5` of 3, 4, 6 and 3
//! bottleneck blocks (`conv2_block1_1_conv`, ..., `conv2_block1_add`, `conv2_block1_out`), then
//! `avg_pool` and `predictions` with the top. Convolutions have biases, as Keras's ResNet v1;
//! BatchNormalization uses epsilon 1.001e-5.

use kiln_graph::{Activation, Device};

use crate::applications::Pooling;
use crate::error::{NnError, Result};
use crate::functional::{Input, LayerExt, SymbolicTensor};
use crate::layers::{
    ActivationLayer, Add, BatchNormalization, Conv2D, Dense, GlobalAveragePooling2D,
    GlobalMaxPooling2D, MaxPooling2D, ZeroPadding2D,
};
use crate::model::Model;

/// Keras's `ResNet50(include_top, weights=None, input_shape, pooling, classes,
/// classifier_activation)`, built with `build`.
#[derive(Clone, Debug)]
pub struct ResNet50 {
    /// End with global average pooling and a `classes`-way Dense layer (`predictions`).
    pub include_top: bool,
    /// Image shape [height, width, channels]; 224x224x3 by default, at least 32x32.
    pub input_shape: Vec<usize>,
    /// Without the top: how the network ends.
    pub pooling: Pooling,
    /// Classes of the top layer.
    pub classes: usize,
    /// The top layer's activation (softmax by default; linear for logits).
    pub classifier_activation: Activation,
    /// Seed of the initial weights.
    pub seed: u64,
}

impl Default for ResNet50 {
    fn default() -> Self {
        ResNet50 {
            include_top: true,
            input_shape: vec![224, 224, 3],
            pooling: Pooling::None,
            classes: 1000,
            classifier_activation: Activation::Softmax,
            seed: 0,
        }
    }
}

impl ResNet50 {
    /// Keras's defaults: top included, 224x224x3, 1000 classes, softmax.
    pub fn new() -> Self {
        Self::default()
    }

    /// With or without the top.
    pub fn include_top(mut self, yes: bool) -> Self {
        self.include_top = yes;
        self
    }

    /// The image shape.
    pub fn input_shape(mut self, shape: &[usize]) -> Self {
        self.input_shape = shape.to_vec();
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

    /// The network, named "resnet50", with random initial weights from `seed`.
    pub fn build(&self, device: &Device) -> Result<Model> {
        match self.input_shape[..] {
            [h, w, c] if h >= 32 && w >= 32 && c > 0 => {}
            _ => {
                return Err(NnError::Config(format!(
                    "ResNet50 needs an image shape [height, width, channels] of at least 32x32, got {:?}",
                    self.input_shape
                )));
            }
        }
        let input = Input::named("input_layer", &self.input_shape);
        let x = ZeroPadding2D::new(3).named("conv1_pad").apply(&input);
        let x = Conv2D::new(64, 7)
            .strides(2, 2)
            .named("conv1_conv")
            .apply(&x);
        let x = bn("conv1_bn", &x);
        let x = relu("conv1_relu", &x);
        let x = ZeroPadding2D::new(1).named("pool1_pad").apply(&x);
        let x = MaxPooling2D::new(3)
            .strides(2, 2)
            .named("pool1_pool")
            .apply(&x);
        let x = stack(&x, 64, 3, 1, "conv2")?;
        let x = stack(&x, 128, 4, 2, "conv3")?;
        let x = stack(&x, 256, 6, 2, "conv4")?;
        let x = stack(&x, 512, 3, 2, "conv5")?;
        let out = top(
            &x,
            self.include_top,
            self.pooling,
            self.classes,
            self.classifier_activation,
        );
        let mut model = Model::with_seed(device, self.seed, &[&input], &[&out])?;
        model.set_name("resnet50");
        Ok(model)
    }
}

/// BatchNormalization with ResNet's epsilon.
pub(crate) fn bn(name: &str, x: &SymbolicTensor) -> SymbolicTensor {
    BatchNormalization::new()
        .epsilon(1.001e-5)
        .named(name)
        .apply(x)
}

pub(crate) fn relu(name: &str, x: &SymbolicTensor) -> SymbolicTensor {
    ActivationLayer::of(Activation::Relu).named(name).apply(x)
}

fn conv(
    filters: usize,
    k: usize,
    stride: usize,
    same: bool,
    name: &str,
    x: &SymbolicTensor,
) -> Result<SymbolicTensor> {
    let mut c = Conv2D::new(filters, k).strides(stride, stride);
    if same {
        c = c.padding("same")?;
    }
    Ok(c.named(name).apply(x))
}

/// Keras's `residual_block_v1`: 1x1 (stride), 3x3, 1x1 to 4x filters, plus the shortcut (a
/// strided 1x1 projection when `project`), added, then relu.
fn block(
    x: &SymbolicTensor,
    filters: usize,
    stride: usize,
    project: bool,
    name: &str,
) -> Result<SymbolicTensor> {
    let shortcut = if project {
        let s = conv(4 * filters, 1, stride, false, &format!("{name}_0_conv"), x)?;
        bn(&format!("{name}_0_bn"), &s)
    } else {
        x.clone()
    };
    let y = conv(filters, 1, stride, false, &format!("{name}_1_conv"), x)?;
    let y = bn(&format!("{name}_1_bn"), &y);
    let y = relu(&format!("{name}_1_relu"), &y);
    let y = conv(filters, 3, 1, true, &format!("{name}_2_conv"), &y)?;
    let y = bn(&format!("{name}_2_bn"), &y);
    let y = relu(&format!("{name}_2_relu"), &y);
    let y = conv(4 * filters, 1, 1, false, &format!("{name}_3_conv"), &y)?;
    let y = bn(&format!("{name}_3_bn"), &y);
    let sum = Add::new()
        .named(&format!("{name}_add"))
        .apply_many(&[&shortcut, &y]);
    Ok(relu(&format!("{name}_out"), &sum))
}

/// Keras's `stack_residual_blocks_v1`: `blocks` blocks, the first projecting with `stride1`.
fn stack(
    x: &SymbolicTensor,
    filters: usize,
    blocks: usize,
    stride1: usize,
    name: &str,
) -> Result<SymbolicTensor> {
    let mut x = block(x, filters, stride1, true, &format!("{name}_block1"))?;
    for i in 2..=blocks {
        x = block(&x, filters, 1, false, &format!("{name}_block{i}"))?;
    }
    Ok(x)
}

/// The end of a network: the classifier, or the pooling of a headless one.
pub(crate) fn top(
    x: &SymbolicTensor,
    include_top: bool,
    pooling: Pooling,
    classes: usize,
    activation: Activation,
) -> SymbolicTensor {
    if include_top {
        let x = GlobalAveragePooling2D::new().named("avg_pool").apply(x);
        return Dense::new(classes)
            .with_activation(activation)
            .named("predictions")
            .apply(&x);
    }
    match pooling {
        Pooling::None => x.clone(),
        Pooling::Avg => GlobalAveragePooling2D::new().named("avg_pool").apply(x),
        Pooling::Max => GlobalMaxPooling2D::new().named("max_pool").apply(x),
    }
}
