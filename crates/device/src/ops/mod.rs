//! Launchers: one module per WGSL file, each with `#[repr(C)]` params structs identical to the
//! WGSL ones and one function per entry point taking `&Device`, buffers, plain integers and,
//! where an op has choices, one options argument. Launchers check buffer sizes against the
//! params before recording anything; `Device::launch` then checks the launch against the
//! adapter. The geometry shared by conv2d and pooling is in `window.rs` and `conv2d_dims.rs`.

pub mod batchnorm;
pub mod bias_grad;
pub mod conv2d;
pub mod conv2d_dims;
mod conv2d_gemm;
mod conv2d_via;
pub mod dense_backward;
pub mod elementwise;
pub mod fill;
pub mod image;
pub mod matmul;
pub mod matmul_adam;
mod matmul_empty;
pub mod metrics;
pub mod optim;
pub mod pool2d;
pub mod random;
pub mod reduce;
pub mod shape;
pub mod softmax;
pub mod window;

use crate::activation::Activation;
use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{DeviceError, Result, launch_err};

/// The WGSL code of an activation a kernel applies elementwise (an epilogue, the unary
/// kernels), or an error naming `op`: softmax needs a whole row.
pub(crate) fn epilogue_code(op: &'static str, act: Activation) -> Result<u32> {
    act.code().ok_or_else(|| not_elementwise(op, act))
}

/// The error for an activation an elementwise kernel cannot compute.
pub(crate) fn not_elementwise(op: &'static str, act: Activation) -> DeviceError {
    launch_err(
        op,
        format!("{act} is not elementwise: apply it with the softmax kernel after this one"),
    )
}

/// Largest rank the shape-walking kernels (broadcast, strided copy, sum_to_shape) accept.
pub const MAX_RANK: usize = 8;

/// Packs up to 8 dims into the WGSL `array<vec4<u32>, 2>` layout; `fill` pads the rest.
pub(crate) fn pack8(v: &[usize], fill: u32) -> [[u32; 4]; 2] {
    let mut out = [[fill; 4]; 2];
    for (i, &x) in v.iter().enumerate() {
        out[i / 4][i % 4] = x as u32;
    }
    out
}

/// Why the subgroup designs (texture and narrow matmul, dense_backward) cannot run on `dev`, or
/// `None` when they can.
pub(crate) fn no_subgroups(dev: &Device) -> Option<String> {
    (!dev.info().subgroups)
        .then(|| "the adapter offers no subgroups of at least 8 invocations".into())
}

/// Why an operand of `words` words would not fit a staging texture on `dev`, or `None` when it
/// does.
pub(crate) fn exceeds_texture(dev: &Device, words: usize) -> Option<String> {
    let (rows, max) = (
        crate::staging::rows_for(words),
        dev.info().max_texture_dimension_2d as usize,
    );
    (rows > max)
        .then(|| format!("an operand needs {rows} texture rows, more than the adapter's {max}"))
}

/// Checks that `buf` holds at least `words` 32-bit words.
pub(crate) fn need(op: &'static str, what: &str, buf: &GpuBuffer, words: usize) -> Result<()> {
    if buf.words() < words {
        return Err(launch_err(
            op,
            format!(
                "buffer `{what}` holds {} elements but the launch needs {words}",
                buf.words()
            ),
        ));
    }
    Ok(())
}

/// Checks that every index a kernel computes fits in u32.
pub(crate) fn fits_u32(op: &'static str, n: usize) -> Result<()> {
    if n > u32::MAX as usize {
        return Err(launch_err(
            op,
            format!("{n} elements exceed the 2^32 index range of a kernel"),
        ));
    }
    Ok(())
}

/// Row-major contiguous strides of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}
