//! Launchers for `shaders/elementwise.wgsl`: unary math, broadcasting binary math, their
//! gradients, and in-place accumulation.

use crate::activation::Activation;
use crate::buffer::GpuBuffer;
use crate::codes::*;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::grid::grid_1d;
use crate::kernels::Kernel;
use crate::launch::Launch;
use crate::ops::{MAX_RANK, fits_u32, need, pack8};
use crate::overrides::Overrides;

/// Pointwise unary functions. The WGSL codes are `codes::ACT_*` for activations and
/// `codes::UNARY_*` for the rest, written once in `codes.rs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// An elementwise activation (softmax is not one: `ops::softmax`).
    Act(Activation),
    /// -x
    Neg,
    /// e^x
    Exp,
    /// ln x
    Log,
    /// sqrt x
    Sqrt,
    /// x > 0 ? x : alpha x
    LeakyRelu(f32),
    /// clamp(x, lo, hi)
    Clamp(f32, f32),
    /// x^p
    Pow(f32),
    /// a x + b
    Affine(f32, f32),
    /// |x|
    Abs,
}

impl UnaryOp {
    /// (code, alpha, beta) as the kernel reads them, or `None` for `Act(Softmax)`.
    pub fn encode(self) -> Option<(u32, f32, f32)> {
        Some(match self {
            UnaryOp::Act(a) => (a.code()?, 0.0, 0.0),
            UnaryOp::Neg => (UNARY_NEG, 0.0, 0.0),
            UnaryOp::Exp => (UNARY_EXP, 0.0, 0.0),
            UnaryOp::Log => (UNARY_LOG, 0.0, 0.0),
            UnaryOp::Sqrt => (UNARY_SQRT, 0.0, 0.0),
            UnaryOp::LeakyRelu(a) => (UNARY_LEAKY_RELU, a, 0.0),
            UnaryOp::Clamp(lo, hi) => (UNARY_CLAMP, lo, hi),
            UnaryOp::Pow(p) => (UNARY_POW, p, 0.0),
            UnaryOp::Affine(a, b) => (UNARY_AFFINE, a, b),
            UnaryOp::Abs => (UNARY_ABS, 0.0, 0.0),
        })
    }
}

/// Broadcasting binary functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// a + b
    Add,
    /// a - b
    Sub,
    /// a * b
    Mul,
    /// a / b
    Div,
    /// max(a, b)
    Maximum,
    /// min(a, b)
    Minimum,
}

impl BinaryOp {
    /// The WGSL code (`codes::BINARY_*`).
    pub fn code(self) -> u32 {
        match self {
            BinaryOp::Add => BINARY_ADD,
            BinaryOp::Sub => BINARY_SUB,
            BinaryOp::Mul => BINARY_MUL,
            BinaryOp::Div => BINARY_DIV,
            BinaryOp::Maximum => BINARY_MAXIMUM,
            BinaryOp::Minimum => BINARY_MINIMUM,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct UnaryParams {
    n: u32,
    op: u32,
    alpha: f32,
    beta: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BinaryParams {
    n: u32,
    op: u32,
    rank: u32,
    wrt: u32,
    shape: [[u32; 4]; 2],
    a_strides: [[u32; 4]; 2],
    b_strides: [[u32; 4]; 2],
}

/// y = op(x) over `n` elements.
pub fn unary(dev: &Device, op: UnaryOp, x: &GpuBuffer, y: &GpuBuffer, n: usize) -> Result<()> {
    need("unary", "x", x, n)?;
    need("unary", "y", y, n)?;
    fits_u32("unary", n)?;
    let (kernel, p, groups) = unary_launch("unary", op, n, Kernel::Unary, Kernel::Unary4)?;
    let buffers = [x, y];
    dev.launch(&Launch::new(kernel, &p, &buffers, groups).overrides(Overrides::op(p.op)))
}

/// The scalar kernel, or its vec4 twin when n % 4 == 0 (one storage access per 4 elements; on
/// llvmpipe each access is a per-lane loop), with its params and grid.
fn unary_launch(
    name: &'static str,
    op: UnaryOp,
    n: usize,
    scalar: Kernel,
    vec4: Kernel,
) -> Result<(Kernel, UnaryParams, [u32; 3])> {
    let Some((code, alpha, beta)) = op.encode() else {
        // Only `Act(Softmax)` has no code; this names it in the error.
        return Err(crate::ops::not_elementwise(name, Activation::Softmax));
    };
    let (kernel, count) = if n % 4 == 0 {
        (vec4, n / 4)
    } else {
        (scalar, n)
    };
    let p = UnaryParams {
        n: count as u32,
        op: code,
        alpha,
        beta,
    };
    Ok((kernel, p, grid_1d(count)))
}

/// dx = dy * op'(x), given the forward output y.
pub fn unary_backward(
    dev: &Device,
    op: UnaryOp,
    x: &GpuBuffer,
    y: &GpuBuffer,
    dy: &GpuBuffer,
    dx: &GpuBuffer,
    n: usize,
) -> Result<()> {
    for (name, b) in [("x", x), ("y", y), ("dy", dy), ("dx", dx)] {
        need("unary_backward", name, b, n)?;
    }
    fits_u32("unary_backward", n)?;
    let (kernel, p, groups) = unary_launch(
        "unary_backward",
        op,
        n,
        Kernel::UnaryBackward,
        Kernel::UnaryBackward4,
    )?;
    let buffers = [x, y, dy, dx];
    dev.launch(&Launch::new(kernel, &p, &buffers, groups).overrides(Overrides::op(p.op)))
}

/// Broadcast layout of a binary op: output shape and each operand's strides along it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broadcast {
    /// Output shape.
    pub shape: Vec<usize>,
    /// Strides of `a` aligned to `shape` (0 where broadcast).
    pub a_strides: Vec<usize>,
    /// Strides of `b` aligned to `shape` (0 where broadcast).
    pub b_strides: Vec<usize>,
}

/// NumPy broadcasting of two shapes; `None` when they are incompatible.
pub fn broadcast(a: &[usize], b: &[usize]) -> Option<Broadcast> {
    let rank = a.len().max(b.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        std::iter::repeat_n(1, rank - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (pa, pb) = (pad(a), pad(b));
    let mut shape = Vec::with_capacity(rank);
    for (&x, &y) in pa.iter().zip(&pb) {
        shape.push(match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        });
    }
    let strides = |p: &[usize]| -> Vec<usize> {
        let c = super::contiguous_strides(p);
        p.iter()
            .zip(c)
            .map(|(&d, s)| if d == 1 { 0 } else { s })
            .collect()
    };
    Some(Broadcast {
        a_strides: strides(&pa),
        b_strides: strides(&pb),
        shape,
    })
}

/// The same layout with the fewest dimensions: size-1 dimensions dropped, and neighbours merged
/// where both operands step through them as one (outer stride = inner stride x inner size, which
/// includes two broadcast dimensions). Each dimension costs the kernel an integer division per
/// element, scalar on CPU adapters, so `[32, 28, 28, 32] + [32]` runs as `[25088, 32] + [32]`.
fn coalesce(bc: &Broadcast) -> Broadcast {
    let mut out = Broadcast {
        shape: Vec::new(),
        a_strides: Vec::new(),
        b_strides: Vec::new(),
    };
    for ((&d, &sa), &sb) in bc.shape.iter().zip(&bc.a_strides).zip(&bc.b_strides) {
        if d == 1 {
            continue;
        }
        if let (Some(last), Some(la), Some(lb)) = (
            out.shape.last_mut(),
            out.a_strides.last_mut(),
            out.b_strides.last_mut(),
        ) && *la == sa * d
            && *lb == sb * d
        {
            *last *= d;
            *la = sa;
            *lb = sb;
            continue;
        }
        out.shape.push(d);
        out.a_strides.push(sa);
        out.b_strides.push(sb);
    }
    out
}

fn binary_params(
    op: &'static str,
    code: u32,
    wrt: u32,
    bc: &Broadcast,
) -> Result<(BinaryParams, usize)> {
    let bc = &coalesce(bc);
    if bc.shape.len() > MAX_RANK {
        return Err(launch_err(
            op,
            format!("rank {} exceeds the maximum of {MAX_RANK}", bc.shape.len()),
        ));
    }
    let n: usize = bc.shape.iter().product();
    fits_u32(op, n)?;
    Ok((
        BinaryParams {
            n: n as u32,
            op: code,
            rank: bc.shape.len() as u32,
            wrt,
            shape: pack8(&bc.shape, 1),
            a_strides: pack8(&bc.a_strides, 0),
            b_strides: pack8(&bc.b_strides, 0),
        },
        n,
    ))
}

#[cfg(test)]
mod coalesce_tests {
    use super::*;

    #[test]
    fn contiguous_and_broadcast_runs_merge_and_size_one_dimensions_drop() {
        let bias = coalesce(&broadcast(&[32, 28, 28, 32], &[32]).unwrap());
        assert_eq!(bias.shape, vec![25088, 32]);
        assert_eq!((bias.a_strides, bias.b_strides), (vec![32, 1], vec![0, 1]));
        let same = coalesce(&broadcast(&[2, 3, 4], &[2, 3, 4]).unwrap());
        assert_eq!((same.shape, same.a_strides), (vec![24], vec![1]));
        // A column broadcast in the middle keeps its dimensions apart.
        let mid = coalesce(&broadcast(&[2, 3, 4], &[2, 1, 4]).unwrap());
        assert_eq!(mid.shape, vec![2, 3, 4]);
        assert_eq!(mid.b_strides, vec![4, 0, 1]);
        let scalar = coalesce(&broadcast(&[1, 1], &[1]).unwrap());
        assert!(scalar.shape.is_empty());
    }
}

fn operand_words(shape: &[usize], strides: &[usize]) -> usize {
    1 + shape
        .iter()
        .zip(strides)
        .map(|(&d, &s)| (d.max(1) - 1) * s)
        .sum::<usize>()
}

/// out = a (op) b with the given broadcast layout.
pub fn binary(
    dev: &Device,
    op: BinaryOp,
    a: &GpuBuffer,
    b: &GpuBuffer,
    out: &GpuBuffer,
    bc: &Broadcast,
) -> Result<()> {
    let (p, n) = binary_params("binary", op.code(), 0, bc)?;
    need("binary", "a", a, operand_words(&bc.shape, &bc.a_strides))?;
    need("binary", "b", b, operand_words(&bc.shape, &bc.b_strides))?;
    need("binary", "out", out, n)?;
    dev.dispatch(Kernel::Binary, &p, &[a, b, out], grid_1d(n))
}

/// g = dy * d(a op b)/d(a or b) at full output shape (`wrt_b` selects b).
pub fn binary_backward(
    dev: &Device,
    op: BinaryOp,
    wrt_b: bool,
    a: &GpuBuffer,
    b: &GpuBuffer,
    dy: &GpuBuffer,
    g: &GpuBuffer,
    bc: &Broadcast,
) -> Result<()> {
    let (p, n) = binary_params("binary_backward", op.code(), u32::from(wrt_b), bc)?;
    need(
        "binary_backward",
        "a",
        a,
        operand_words(&bc.shape, &bc.a_strides),
    )?;
    need(
        "binary_backward",
        "b",
        b,
        operand_words(&bc.shape, &bc.b_strides),
    )?;
    need("binary_backward", "dy", dy, n)?;
    need("binary_backward", "g", g, n)?;
    dev.dispatch(Kernel::BinaryBackward, &p, &[a, b, dy, g], grid_1d(n))
}

/// y += x over `n` elements (gradient accumulation for fan-out).
pub fn accumulate(dev: &Device, x: &GpuBuffer, y: &GpuBuffer, n: usize) -> Result<()> {
    need("accumulate", "x", x, n)?;
    need("accumulate", "y", y, n)?;
    fits_u32("accumulate", n)?;
    dev.dispatch(
        Kernel::Accumulate,
        &[n as u32, 0, 0, 0],
        &[x, y],
        grid_1d(n),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<UnaryParams>(), 16);
        assert_eq!(std::mem::size_of::<BinaryParams>(), 112);
    }

    #[test]
    fn broadcasting_follows_numpy() {
        let bc = broadcast(&[2, 3], &[3]).unwrap();
        assert_eq!(bc.shape, vec![2, 3]);
        assert_eq!(bc.a_strides, vec![3, 1]);
        assert_eq!(bc.b_strides, vec![0, 1]);
        let bc = broadcast(&[4, 1, 5], &[3, 1]).unwrap();
        assert_eq!(bc.shape, vec![4, 3, 5]);
        assert_eq!(bc.a_strides, vec![5, 0, 1]);
        assert_eq!(bc.b_strides, vec![0, 1, 0]);
        assert!(broadcast(&[2, 3], &[4]).is_none());
    }
}
