//! `SummaryError`: I/O, corrupt records (with the byte offset), truncated files, bad input.

/// Errors from writing or reading event files.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A record's length or payload does not match its CRC-32C.
    #[error(
        "{path}: corrupt record at byte {offset}: {what} CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
    )]
    CrcMismatch {
        /// The file.
        path: String,
        /// Byte offset of the record.
        offset: u64,
        /// "length" or "payload".
        what: &'static str,
        /// Masked CRC in the file.
        stored: u32,
        /// Masked CRC of the bytes read.
        computed: u32,
    },
    /// The file ends inside a record (normal while a writer is still appending).
    #[error(
        "{path}: truncated record at byte {offset} (the file ends inside it; a writer may still be appending)"
    )]
    Truncated {
        /// The file.
        path: String,
        /// Byte offset of the incomplete record.
        offset: u64,
    },
    /// A record's payload is not a valid `Event` protobuf.
    #[error("{path}: record at byte {offset} is not a valid Event: {message}")]
    Decode {
        /// The file.
        path: String,
        /// Byte offset of the record.
        offset: u64,
        /// The decoder's message.
        message: String,
    },
    /// Data passed to a writer cannot be summarised (e.g. image size mismatch).
    #[error("{op}: {message}")]
    Invalid {
        /// The writer method.
        op: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Result alias for the summary crate.
pub type Result<T> = std::result::Result<T, SummaryError>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> SummaryError + '_ {
    move |source| SummaryError::Io {
        path: path.display().to_string(),
        source,
    }
}
