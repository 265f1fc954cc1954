//! kiln-device: the GPU layer of kiln. It opens a wgpu adapter (hardware first, lavapipe as the
//! fallback), keeps a size-bucketed buffer pool, compiles the WGSL kernels in `shaders/` into
//! cached pipelines, and launches them on raw buffers. There are no tensors here: the graph
//! crate builds tensors and autodiff on top of these launchers.
//!
//! # Data flow of one training step
//!
//! ```text
//! host                                   GPU (one submit)
//! upload batch (queue.write_buffer)  ->  lands before the next submit, never waits
//! forward / backward / optimizer     ->  each launcher records a dispatch into the pending
//!   launchers (host checks sizes)        batch; params go to one arena (dynamic offsets)
//! device.submit()                    ->  one encoder, one compute pass per run of dispatches,
//!                                        one queue.submit
//! only at log points:
//! device.read_back(&[metrics])       <-  copies to one staging buffer, one map, one wait
//! ```
//!
//! Rules: `read_back` is the only place that waits for the GPU; pipelines are created once per
//! kernel; dropped buffers return to the pool only after the batch that used them is submitted.
//!
//! ```no_run
//! use kiln_device::{Device, ops::elementwise::{unary, UnaryOp}};
//! let dev = Device::new()?;
//! let x = dev.upload(&[-1.0f32, 2.0])?;
//! let y = dev.alloc(8)?;
//! unary(&dev, UnaryOp::Relu, &x, &y, 2)?;
//! assert_eq!(dev.read_f32(&y)?, vec![0.0, 2.0]);
//! # Ok::<(), kiln_device::DeviceError>(())
//! ```

#![warn(missing_docs)]

mod autotune;
mod buffer;
mod context;
mod counters;
mod error;
pub mod grid;
pub mod kernels;
pub mod ops;
mod packed;
mod pending;
mod pipelines;
mod readback;
pub mod reference;
pub mod rng;
mod staging_texture;
pub mod testing;
pub mod texture_flavor;

pub use autotune::Autotune;
pub use buffer::GpuBuffer;
pub use context::{Device, DeviceInfo, DeviceOptions, TEXTURE_MIN_WORDS, TextureInputs};
pub use counters::Counters;
pub use error::{DeviceError, Result};
pub use kernels::{Kernel, KernelSpec, ShaderFile};
pub use packed::Packed;
pub use pipelines::PARAMS_SLOT;
pub use wgpu::DeviceType;
