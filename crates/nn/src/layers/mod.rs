//! Built-in layers, named as in Keras.

mod activations;
mod batch_norm;
mod conv;
mod dense;
mod dropout;
mod pooling;
mod reshape;

pub use activations::{ActivationLayer, ReLU, Softmax};
pub use batch_norm::BatchNormalization;
pub use conv::Conv2D;
pub use dense::Dense;
pub use dropout::Dropout;
pub use pooling::{AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D};
pub use reshape::{Flatten, Reshape};

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
