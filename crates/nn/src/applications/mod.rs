//! Ready-made architectures, as `keras.applications` offers them: `ResNet50` with Keras's
//! arguments and layer names (so Keras's weights load by name, `scripts/keras_to_kiln.py`), and
//! `SmallResNet`, a ResNet-20-style network of basic blocks for 28x28 and 32x32 images that
//! trains on a CPU adapter in minutes.

mod resnet;
mod small_resnet;

pub use resnet::ResNet50;
pub use small_resnet::SmallResNet;

/// What a headless network ends with (Keras's `pooling` argument).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pooling {
    /// The last convolution block's 4-D output.
    #[default]
    None,
    /// Global average pooling (`avg_pool`).
    Avg,
    /// Global max pooling (`max_pool`).
    Max,
}
