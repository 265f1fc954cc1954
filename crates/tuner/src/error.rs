//! The tuner's errors: each names the thing at fault and what to do.

use kiln_nn::NnError;

/// What can go wrong in a search.
#[derive(Debug, thiserror::Error)]
pub enum TunerError {
    /// From building, training or saving a model outside a trial (a trial's own errors fail
    /// the trial and the search goes on).
    #[error(transparent)]
    Nn(#[from] NnError),
    /// Writing a trial's TensorBoard records.
    #[error(transparent)]
    Summary(#[from] kiln_summary::SummaryError),
    /// The search's settings or the build function's declarations cannot work.
    #[error("{0}")]
    Config(String),
    /// The saved search state is unreadable or belongs to other settings.
    #[error("search state {path}: {message}")]
    State {
        /// The state file.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A file or directory of the search could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The operation and the OS error.
        message: String,
    },
    /// `max_consecutive_failed_trials` trials failed in a row.
    #[error(
        "{count} trials failed in a row, so the search stopped (the build function or the \
         data is likely at fault); the last failure, trial {trial}: {message}"
    )]
    TooManyFailures {
        /// How many.
        count: usize,
        /// The last failed trial.
        trial: String,
        /// Its error.
        message: String,
    },
}

/// The tuner's result type.
pub type Result<T> = std::result::Result<T, TunerError>;

/// An I/O error naming `path` and what was being done.
pub(crate) fn io(path: &std::path::Path, what: &str, e: impl std::fmt::Display) -> TunerError {
    TunerError::Io {
        path: path.display().to_string(),
        message: format!("{what}: {e}"),
    }
}
