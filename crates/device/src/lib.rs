//! kiln-device: the GPU layer of kiln. It opens a wgpu adapter (hardware first, lavapipe as the
//! fallback), keeps a size-bucketed buffer pool, compiles the WGSL kernels in `shaders/` into
//! cached pipelines, and launches them on raw buffers. There are no tensors here: the graph
//! crate builds tensors and autodiff on top of these launchers.
//!
//! # Structure
//!
//! Mechanism and policy are apart. Each subsystem owns its state and its one lock and takes the
//! raw wgpu device and queue, never a `Device`: the buffer pool (`pool.rs`), the pending batch
//! (`batch.rs`), the encoder that submits it (`encode.rs`), the pipeline cache
//! (`pipelines.rs`), the staging textures and readback buffer (`staging.rs`) and the tuner
//! (`tuner.rs`). `context.rs` only assembles them into a `Device`. Every launch goes through one
//! validated recording path (`Device::launch`, `launch.rs`), and every choice between kernel
//! designs through one chooser (`Device::choose`, `choose.rs`); a caller's explicit choice is
//! used as given. The numeric codes WGSL switches on are written once, in `codes.rs`.
//! Module imports form no cycle (`tests/architecture.rs` checks it).
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
//! Rules: `read_back` is the only place that waits for the GPU (through `wait.rs`, which the
//! profiler's timestamps share); pipelines are created once per kernel; dropped buffers return
//! to the pool only after the batch that used them is submitted.
//!
//! ```no_run
//! use kiln_device::{Activation, Device, ops::elementwise::{unary, UnaryOp}};
//! let dev = Device::new()?;
//! let x = dev.upload(&[-1.0f32, 2.0])?;
//! let y = dev.alloc(8)?;
//! unary(&dev, UnaryOp::Act(Activation::Relu), &x, &y, 2)?;
//! assert_eq!(dev.read_f32(&y)?, vec![0.0, 2.0]);
//! # Ok::<(), kiln_device::DeviceError>(())
//! ```

#![warn(missing_docs)]

mod activation;
mod adapter;
mod batch;
mod buffer;
mod choose;
pub mod codes;
mod context;
mod counters;
mod disk_cache;
mod encode;
mod error;
pub mod grid;
mod info;
pub mod kernels;
mod launch;
mod lock;
mod memory;
pub mod ops;
mod options;
mod overrides;
mod packed;
mod pipelines;
mod pool;
pub mod profile;
mod readback;
pub mod reference;
pub mod rng;
mod shader_files;
mod stage_cache;
mod staging;
mod submit;
pub mod testing;
pub mod texture_flavor;
mod tuner;
mod wait;
pub mod wide_flavor;

pub use activation::{Activation, UnknownActivation};
pub use batch::{BatchMark, PARAMS_SLOT};
pub use buffer::GpuBuffer;
pub use context::Device;
pub use counters::Counters;
pub use error::{DeviceError, Result};
pub use info::DeviceInfo;
pub use kernels::{Kernel, KernelSpec, ShaderFile};
pub use launch::{InputPath, Launch};
pub use options::{DeviceOptions, TEXTURE_MIN_WORDS, TextureInputs, WideStorage};
pub use overrides::{MAX_OVERRIDES, Overrides};
pub use packed::Packed;
pub use profile::{KernelTime, Profile};
pub use tuner::Autotune;
pub use wgpu::DeviceType;
