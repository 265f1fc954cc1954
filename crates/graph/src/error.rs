//! `GraphError`: shape and dtype mistakes caught on the host before any GPU work, each naming
//! the op and the shapes involved; device errors pass through.

use kiln_device::DeviceError;

/// Errors from tensor operations.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Operand shapes do not fit the op. Nothing was dispatched.
    #[error("{op}: {message} (got {got})")]
    Shape {
        /// The op.
        op: &'static str,
        /// What was expected.
        message: String,
        /// The shapes that were passed, e.g. "[32, 784] and [100, 10]".
        got: String,
    },
    /// An operand has the wrong element type.
    #[error("{op}: expected a {expected} tensor, got {got}")]
    DType {
        /// The op.
        op: &'static str,
        /// Expected element type.
        expected: &'static str,
        /// Element type passed.
        got: &'static str,
    },
    /// `backward` was called on something it cannot start from.
    #[error("backward: {0}")]
    Backward(String),
    /// A device error (launch, readback, out of memory).
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// Result alias for the graph crate.
pub type Result<T> = std::result::Result<T, GraphError>;

/// Builds a `GraphError::Shape` listing the shapes.
pub(crate) fn shape_err(
    op: &'static str,
    message: impl Into<String>,
    shapes: &[&[usize]],
) -> GraphError {
    let got = shapes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" and ");
    GraphError::Shape {
        op,
        message: message.into(),
        got,
    }
}
