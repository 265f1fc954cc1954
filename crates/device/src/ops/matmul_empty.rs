//! A product with an empty inner dimension (k = 0): op(A) x op(B) is all zeros, so C is the
//! epilogue of zero, act(0 + bias) with the bias broadcast over the rows, and zeros without an
//! epilogue. The product kernels are not run (their operands would be empty bindings); the
//! epilogue takes the elementwise kernels, into scratch buffers because a dispatch may not read
//! and write one buffer. No layer makes such a product; the device op is exact there all the
//! same (sigmoid gives 0.5, not 0).

use crate::activation::Activation;
use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::ops::elementwise::{BinaryOp, UnaryOp, binary, broadcast, unary};

/// C = act(bias) over `rows` rows of `n` columns, for a product with k = 0 (`matmul` checked
/// the buffers; its batches are rows here).
pub(crate) fn empty_inner(
    dev: &Device,
    c: &GpuBuffer,
    (rows, n): (usize, usize),
    bias: Option<&GpuBuffer>,
    act: Activation,
) -> Result<()> {
    if bias.is_none() && act == Activation::Linear {
        return dev.clear(c);
    }
    let words = rows * n;
    let zeros = dev.zeros((words * 4) as u64)?;
    let pre = match bias {
        Some(bias) => {
            let bc = broadcast(&[rows, n], &[n])
                .ok_or_else(|| launch_err("matmul", "bias does not broadcast over C's rows"))?;
            let sum = dev.alloc((words * 4) as u64)?;
            binary(dev, BinaryOp::Add, &zeros, bias, &sum, &bc)?;
            sum
        }
        None => zeros,
    };
    match act {
        Activation::Linear => dev.copy(&pre, 0, c, 0, (words * 4) as u64),
        act => unary(dev, UnaryOp::Act(act), &pre, c, words),
    }
}
