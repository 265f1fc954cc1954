//! Tensor operations. Each module holds, per op, the forward constructor (host shape check ->
//! output from the pool -> device launcher -> record) and the backward function beside it.

pub mod arith;
pub mod conv;
pub mod image;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod pad;
pub mod reduce;
pub mod shape;

use std::sync::Arc;

use kiln_device::{Device, GpuBuffer};

use crate::error::Result;

/// A pooled output buffer for `n` 32-bit elements, checked against the adapter's limits first.
pub(crate) fn alloc(device: &Device, n: usize) -> Result<Arc<GpuBuffer>> {
    let bytes = (n as u64).saturating_mul(4);
    let what = || format!("an op output of {n} values");
    Ok(Arc::new(device.alloc_for(bytes, what)?))
}

/// `into` when given and `n` words long (a gradient target, see `GradTargets`), else a pooled
/// buffer.
pub(crate) fn alloc_into(
    device: &Device,
    n: usize,
    into: Option<Arc<GpuBuffer>>,
) -> Result<Arc<GpuBuffer>> {
    match into {
        Some(b) if b.words() == n => Ok(b),
        _ => alloc(device, n),
    }
}
