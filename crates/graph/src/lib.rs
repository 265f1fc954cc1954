//! kiln-graph: tensors on the GPU and reverse-mode automatic differentiation.
//!
//! A `Tensor` is contiguous row-major data in a pooled GPU buffer. Every op checks shapes on the
//! host first (a `GraphError` names the op and the shapes, and nothing is dispatched), then
//! records its kernels into the device's pending batch, and — only when grad is enabled and an
//! input tracks gradients — records an `Op` naming its inputs. `backward()` walks the recorded
//! ops in reverse topological order and returns `Gradients` for the `requires_grad` leaves.
//! Nothing waits for the GPU until a value is read (`to_vec`, `item`).
//!
//! ```no_run
//! use kiln_graph::{Device, Tensor};
//! let dev = Device::new()?;
//! let w = Tensor::from_f32(&dev, &[1.0, 2.0], &[2, 1])?.requires_grad();
//! let x = Tensor::from_f32(&dev, &[3.0, 4.0], &[1, 2])?;
//! let loss = x.matmul(&w)?.sum_all()?;
//! let grads = loss.backward()?;
//! assert_eq!(grads.get(&w).unwrap().to_vec()?, vec![3.0, 4.0]);
//! # Ok::<(), kiln_graph::GraphError>(())
//! ```

#![warn(missing_docs)]

mod backward;
mod error;
mod gradients;
mod linear;
mod op;
pub mod ops;
mod rows;
pub mod shape_rules;
mod tensor;

pub use error::{GraphError, Result};
pub use gradients::{GradTargets, Gradients};
pub use op::Op;
pub use rows::Rows;
pub use tensor::{DType, Tensor, grad_enabled, no_grad};

// The device types this crate's API speaks in, re-exported so users of tensors (the nn crate
// among them) never import kiln-device for them.
pub use kiln_device::ops::conv2d::{Conv2dDims, Padding};
pub use kiln_device::ops::elementwise::{BinaryOp, UnaryOp};
pub use kiln_device::ops::image::{FillMode, Interpolation, Sampling};
pub use kiln_device::ops::pool2d::Pool2dDims;
pub use kiln_device::ops::reduce::ReduceOp;
pub use kiln_device::ops::softmax::{XentHits, XentTrack};
pub use kiln_device::rng::Rng;
pub use kiln_device::{
    Activation, BatchMark, Device, DeviceError, DeviceOptions, UnknownActivation,
};
