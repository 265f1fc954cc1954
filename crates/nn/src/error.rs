//! `NnError`: what can go wrong in model building, training and data loading, each message
//! naming the thing and what to do; lower-level errors pass through.

use kiln_graph::{DeviceError, GraphError, UnknownActivation};
use kiln_summary::SummaryError;

/// Errors from the Keras-style API.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A tensor operation failed (shapes, dtypes).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The GPU layer failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// Writing TensorBoard files failed.
    #[error(transparent)]
    Summary(#[from] SummaryError),
    /// A data file is missing, truncated or malformed.
    #[error("{path}: {message}")]
    Data {
        /// The file or directory.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Arguments to fit / evaluate / predict do not fit the model or each other.
    #[error("{0}")]
    Input(String),
    /// The model or a layer is used wrongly (not built, not compiled, bad arguments).
    #[error("{0}")]
    Config(String),
    /// Training diverged.
    #[error(
        "the loss became NaN at epoch {epoch}, batch {batch}: lower the learning rate, or check the inputs for NaN or infinite values"
    )]
    NanLoss {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch at which it was seen (metrics are read back at log points, so it
        /// may have happened a few batches earlier).
        batch: usize,
    },
}

/// Result alias for kiln-nn.
pub type Result<T> = std::result::Result<T, NnError>;

impl From<UnknownActivation> for NnError {
    fn from(e: UnknownActivation) -> Self {
        NnError::Config(e.to_string())
    }
}
