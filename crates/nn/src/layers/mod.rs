//! Built-in layers, named as in Keras. Each owns its settings as a typed config struct beside it
//! (`DenseConfig`, ...), written and read as Keras's `get_config()` JSON; `registry.rs` maps
//! class names to `from_config`.

mod activations;
mod batch_norm;
mod conv;
mod dense;
mod dropout;
mod keras_json;
mod merge;
mod padding;
mod pooling;
mod preprocessing;
pub(crate) mod registry;
mod reshape;

pub use activations::{ActivationLayer, ReLU, Softmax};
pub use batch_norm::{BatchNormalization, BatchNormalizationConfig};
pub use conv::{Conv2D, Conv2DConfig};
pub use dense::{Dense, DenseConfig};
pub use dropout::{Dropout, DropoutConfig};
pub use merge::{
    Add, Average, Concatenate, ConcatenateConfig, Maximum, Merge, MergeOp, Minimum, Multiply,
    Subtract,
};
pub use padding::{ZeroPadding2D, ZeroPadding2DConfig};
pub use pooling::{
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D, Pool2DConfig,
};
pub use preprocessing::{
    CenterCrop, CenterCropConfig, Factor, FlipMode, Normalization, NormalizationConfig,
    RandomContrast, RandomContrastConfig, RandomCrop, RandomCropConfig, RandomFlip,
    RandomFlipConfig, RandomRotation, RandomRotationConfig, RandomTranslation,
    RandomTranslationConfig, RandomZoom, RandomZoomConfig, Rescaling, RescalingConfig, Resizing,
    ResizingConfig,
};
pub use registry::builtin_classes;
pub use reshape::{Flatten, Reshape, ReshapeConfig};

use crate::error::{NnError, Result};

/// The error for a layer that was called before `build`.
pub(crate) fn not_built(class: &str) -> NnError {
    NnError::Config(format!(
        "{class} was called before it was built: add it to a model and call build(input_shape) or fit"
    ))
}

/// Checks the rank of a layer input (without batch).
pub(crate) fn expect_rank(class: &str, shape: &[usize], rank: usize, what: &str) -> Result<()> {
    if shape.len() != rank {
        return Err(NnError::Config(format!(
            "{class} expects {what} (rank {rank} without the batch), got input shape {shape:?}"
        )));
    }
    Ok(())
}
