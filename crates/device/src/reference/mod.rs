//! Naive f64 CPU implementations of every forward kernel: the oracle that kernel tests compare
//! against and whose central differences the gradient checks use. Written for clarity, not
//! speed; layouts and conventions are exactly the kernels' (row-major, NHWC, [kh, kw, in, out]).

// Index loops mirror the kernels' index arithmetic on purpose: the oracle should read like it.
#![allow(clippy::needless_range_loop)]

mod image;
mod metrics;
mod nn;
mod optim;

pub use image::*;
pub use metrics::*;
pub use nn::*;
pub use optim::*;

use crate::activation::Activation;
use crate::ops::contiguous_strides;
use crate::ops::elementwise::{BinaryOp, UnaryOp, broadcast};
use crate::ops::reduce::{AxisView, ReduceOp};
use crate::ops::shape::StridedView;

/// An elementwise activation of one value (NaN for softmax, which is not elementwise and which
/// every elementwise launcher rejects; `softmax` below is its reference).
pub fn activate(act: Activation, v: f64) -> f64 {
    match act {
        Activation::Linear => v,
        Activation::Relu => v.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        Activation::Tanh => v.tanh(),
        Activation::Softmax => f64::NAN,
    }
}

/// y = op(x).
pub fn unary(op: UnaryOp, x: &[f64]) -> Vec<f64> {
    x.iter()
        .map(|&v| match op {
            UnaryOp::Act(a) => activate(a, v),
            UnaryOp::Neg => -v,
            UnaryOp::Exp => v.exp(),
            UnaryOp::Log => v.ln(),
            UnaryOp::Sqrt => v.sqrt(),
            UnaryOp::LeakyRelu(a) => {
                if v > 0.0 {
                    v
                } else {
                    a as f64 * v
                }
            }
            UnaryOp::Clamp(lo, hi) => v.clamp(lo as f64, hi as f64),
            UnaryOp::Pow(p) => v.powf(p as f64),
            UnaryOp::Affine(a, b) => a as f64 * v + b as f64,
            UnaryOp::Abs => v.abs(),
        })
        .collect()
}

/// out = a (op) b with NumPy broadcasting; returns the output and its shape.
pub fn binary(
    op: BinaryOp,
    a: &[f64],
    a_shape: &[usize],
    b: &[f64],
    b_shape: &[usize],
) -> (Vec<f64>, Vec<usize>) {
    let bc = broadcast(a_shape, b_shape).expect("reference::binary: shapes do not broadcast");
    let n: usize = bc.shape.iter().product();
    let strides = contiguous_strides(&bc.shape);
    let out = (0..n)
        .map(|i| {
            let (mut ia, mut ib) = (0, 0);
            for d in 0..bc.shape.len() {
                let c = (i / strides[d]) % bc.shape[d];
                ia += c * bc.a_strides[d];
                ib += c * bc.b_strides[d];
            }
            let (x, y) = (a[ia], b[ib]);
            match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                BinaryOp::Div => x / y,
                BinaryOp::Maximum => x.max(y),
                BinaryOp::Minimum => x.min(y),
            }
        })
        .collect();
    (out, bc.shape)
}

/// Reduction over the middle axis of an [outer, len, inner] view.
pub fn reduce(op: ReduceOp, x: &[f64], v: &AxisView) -> Vec<f64> {
    let mut out = Vec::with_capacity(v.outer * v.inner);
    for o in 0..v.outer {
        for i in 0..v.inner {
            let vals = (0..v.len).map(|a| x[(o * v.len + a) * v.inner + i]);
            out.push(match op {
                ReduceOp::Sum => vals.sum(),
                ReduceOp::Mean => vals.sum::<f64>() / v.len as f64,
                ReduceOp::Max => vals.fold(f64::NEG_INFINITY, f64::max),
            });
        }
    }
    out
}

/// First index of the maximum over the middle axis.
pub fn argmax(x: &[f64], v: &AxisView) -> Vec<u32> {
    let mut out = Vec::with_capacity(v.outer * v.inner);
    for o in 0..v.outer {
        for i in 0..v.inner {
            let mut best = 0;
            for a in 1..v.len {
                if x[(o * v.len + a) * v.inner + i] > x[(o * v.len + best) * v.inner + i] {
                    best = a;
                }
            }
            out.push(best as u32);
        }
    }
    out
}

/// Sums `src` of shape `from` down to the broadcastable shape `to`.
pub fn sum_to_shape(src: &[f64], from: &[usize], to: &[usize]) -> Vec<f64> {
    let padded: Vec<usize> = std::iter::repeat_n(1, from.len() - to.len())
        .chain(to.iter().copied())
        .collect();
    let n: usize = padded.iter().product();
    let (sf, st) = (contiguous_strides(from), contiguous_strides(&padded));
    let mut out = vec![0.0; n];
    for (i, &v) in src.iter().enumerate() {
        let mut j = 0;
        for d in 0..from.len() {
            let c = (i / sf[d]) % from[d];
            j += if padded[d] == 1 { 0 } else { c * st[d] };
        }
        out[j] += v;
    }
    out
}

/// dst[dst_view(c)] = src[src_view(c)] for every c in `shape` (dst is modified in place).
pub fn strided_copy(
    src: &[f64],
    sv: &StridedView,
    dst: &mut [f64],
    dv: &StridedView,
    shape: &[usize],
) {
    let n: usize = shape.iter().product();
    let strides = contiguous_strides(shape);
    for i in 0..n {
        let (mut s, mut d) = (sv.offset, dv.offset);
        for k in 0..shape.len() {
            let c = (i / strides[k]) % shape[k];
            s += c * sv.strides[k];
            d += c * dv.strides[k];
        }
        dst[d] = src[s];
    }
}

/// `gather_rows`: rows `idx[offset..offset + rows]` of `src` (`row` values each, the chunks
/// concatenated), in that order; an index past the end gives a row of zeros.
pub fn gather_rows(src: &[f64], row: usize, idx: &[u32], offset: usize, rows: usize) -> Vec<f64> {
    let src_rows = src.len() / row;
    idx[offset..offset + rows]
        .iter()
        .flat_map(|&i| {
            let i = i as usize;
            (0..row).map(move |j| if i < src_rows { src[i * row + j] } else { 0.0 })
        })
        .collect()
}

/// The PCG-RXS-M-XS hash used by `random.wgsl`.
pub fn pcg_hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The dropout mask `random.wgsl` draws for `n` elements.
pub fn dropout_mask(n: usize, rate: f32, seed: u32) -> Vec<f64> {
    let scale = 1.0 / (1.0 - rate);
    (0..n as u32)
        .map(|i| {
            let h = pcg_hash(i.wrapping_add(pcg_hash(seed)));
            let u = (h >> 8) as f32 * (1.0 / 16_777_216.0);
            if u >= rate { scale as f64 } else { 0.0 }
        })
        .collect()
}
