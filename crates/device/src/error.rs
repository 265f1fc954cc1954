//! `DeviceError`: everything that can go wrong below the tensor layer, each message naming the
//! thing that failed and what the user can do about it.

/// Errors from the device layer.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No adapter matched (none installed, or `KILN_ADAPTER` / `KILN_BACKEND` excluded them all).
    #[error(
        "no GPU adapter found{detail}. kiln runs on any Vulkan, Metal, DX12 or GL adapter; on a \
         machine without a GPU install the software Vulkan driver (Debian/Ubuntu: \
         `apt-get install -y mesa-vulkan-drivers libvulkan1`)"
    )]
    NoAdapter {
        /// Why nothing matched, starting with ": " (or empty).
        detail: String,
    },
    /// An environment variable that selects the adapter has a value kiln does not understand.
    #[error("{var}={value:?} is not valid: {expected}")]
    BadEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// The adapter refused to create a device.
    #[error("adapter '{adapter}' refused to create a device: {message}")]
    RequestDevice {
        /// Adapter name.
        adapter: String,
        /// wgpu's message.
        message: String,
    },
    /// A WGSL module or compute pipeline failed validation or compilation.
    #[error("kernel `{kernel}` failed to compile on this adapter: {message}")]
    ShaderValidation {
        /// Entry point of the kernel.
        kernel: &'static str,
        /// The validator's message.
        message: String,
    },
    /// An allocation larger than the adapter can hold or bind, refused before any memory was
    /// allocated.
    #[error(
        "{what} needs {bytes} bytes, more than {adapter}'s {limit_name} of {limit} bytes; use \
         smaller batches or tensors, or an adapter with larger limits"
    )]
    TooLarge {
        /// What the memory was for (a tensor and its shape, a weight, an upload).
        what: String,
        /// Bytes asked for.
        bytes: u64,
        /// The limit it exceeds.
        limit: u64,
        /// Which limit (`max_buffer_size` or `max_storage_buffer_binding_size`).
        limit_name: &'static str,
        /// Adapter name.
        adapter: String,
    },
    /// A launcher was called with arguments that do not fit its buffers or limits.
    #[error("{op}: {message}")]
    Launch {
        /// Launcher name.
        op: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The GPU reported an error (out of memory, device lost, validation) or a map failed.
    #[error("the GPU reported an error: {0}")]
    Gpu(String),
}

/// Result alias for the device crate.
pub type Result<T> = std::result::Result<T, DeviceError>;

pub(crate) fn launch_err(op: &'static str, message: impl Into<String>) -> DeviceError {
    DeviceError::Launch {
        op,
        message: message.into(),
    }
}
