//! kiln: GPU-first deep-learning training in Rust on any wgpu adapter (Vulkan, Metal, DX12, GL),
//! with Mesa lavapipe as the software fallback. This facade re-exports the member crates so
//! users depend on one crate.

pub use kiln_device as device;
pub use kiln_graph as graph;
pub use kiln_nn as nn;
#[cfg(feature = "studio")]
pub use kiln_studio as studio;
pub use kiln_summary as summary;
pub use kiln_tuner as tuner;

/// The names most programs need.
pub mod prelude {
    pub use kiln_device::{Device, DeviceError};
    pub use kiln_graph::{DType, Gradients, GraphError, Padding, Tensor, no_grad};
}
