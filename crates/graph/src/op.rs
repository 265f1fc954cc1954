//! `Op`: what produced a recorded tensor. Each variant holds its input tensors and whatever the
//! backward pass needs (saved probabilities, argmax indices, masks); `Display` prints a one-line
//! label for debugging (micrograd's `_op`).

use std::fmt;
use std::sync::Arc;

use kiln_device::Activation;
use kiln_device::GpuBuffer;
use kiln_device::ops::conv2d::{Conv2dDims, ConvColumns};
use kiln_device::ops::elementwise::{BinaryOp, UnaryOp};
use kiln_device::ops::pool2d::Pool2dDims;
use kiln_device::ops::reduce::ReduceOp;

use crate::tensor::Tensor;

/// A recorded operation.
#[allow(missing_docs)]
pub enum Op {
    Unary {
        x: Tensor,
        op: UnaryOp,
    },
    Binary {
        a: Tensor,
        b: Tensor,
        op: BinaryOp,
    },
    /// Batched when `batch > 1`; `a` may fold leading dims into rows.
    Matmul {
        a: Tensor,
        b: Tensor,
        trans_a: bool,
        trans_b: bool,
    },
    /// act(x w + bias) in one fused dispatch (a Dense layer); `x` may fold leading dims.
    Linear {
        x: Tensor,
        w: Tensor,
        bias: Option<Tensor>,
        act: Activation,
    },
    Reduce {
        x: Tensor,
        op: ReduceOp,
        axis: usize,
        argmax: Option<Arc<GpuBuffer>>,
    },
    Softmax {
        x: Tensor,
        log: bool,
    },
    /// Per-row loss; `targets` is u32 labels or f32 distributions (not differentiated).
    SoftmaxXent {
        logits: Tensor,
        targets: Tensor,
        probs: Arc<GpuBuffer>,
    },
    /// The mean of the per-row losses (a scalar) from one dispatch that also wrote `grad`,
    /// d mean / d logits, for the backward pass.
    SoftmaxXentMean {
        logits: Tensor,
        grad: Arc<GpuBuffer>,
    },
    /// act(conv2d(x, w) + bias) in one dispatch.
    Conv2d {
        x: Tensor,
        w: Tensor,
        bias: Option<Tensor>,
        dims: Conv2dDims,
        act: Activation,
        /// The forward's column matrix, kept for the kernel's gradient (matmul path only).
        cols: Option<Arc<ConvColumns>>,
    },
    MaxPool2d {
        x: Tensor,
        dims: Pool2dDims,
        argmax: Arc<GpuBuffer>,
    },
    AvgPool2d {
        x: Tensor,
        dims: Pool2dDims,
    },
    Reshape {
        x: Tensor,
    },
    Permute {
        x: Tensor,
        perm: Vec<usize>,
    },
    Slice {
        x: Tensor,
        axis: usize,
        start: usize,
    },
    Concat {
        xs: Vec<Tensor>,
        axis: usize,
    },
    /// Zero padding; `before` is the leading pad of each axis.
    Pad {
        x: Tensor,
        before: Vec<usize>,
    },
    Dropout {
        x: Tensor,
        mask: Arc<GpuBuffer>,
    },
    /// Batch normalization with the batch's statistics; `stats` holds [mean; 1/std; var].
    BatchNorm {
        x: Tensor,
        gamma: Tensor,
        beta: Tensor,
        stats: Arc<GpuBuffer>,
    },
}

impl Op {
    /// The tensors this op read.
    pub fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Unary { x, .. }
            | Op::Reduce { x, .. }
            | Op::Softmax { x, .. }
            | Op::MaxPool2d { x, .. }
            | Op::AvgPool2d { x, .. }
            | Op::Reshape { x }
            | Op::Permute { x, .. }
            | Op::Slice { x, .. }
            | Op::Pad { x, .. }
            | Op::Dropout { x, .. } => vec![x],
            Op::Binary { a, b, .. } | Op::Matmul { a, b, .. } => vec![a, b],
            Op::SoftmaxXent { logits, .. } | Op::SoftmaxXentMean { logits, .. } => vec![logits],
            Op::Conv2d { x, w, bias, .. } | Op::Linear { x, w, bias, .. } => {
                let mut v = vec![x, w];
                v.extend(bias.as_ref());
                v
            }
            Op::Concat { xs, .. } => xs.iter().collect(),
            Op::BatchNorm { x, gamma, beta, .. } => vec![x, gamma, beta],
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Unary { op, .. } => write!(f, "{op:?}"),
            Op::Binary { op, .. } => write!(f, "{op:?}"),
            Op::Matmul {
                trans_a, trans_b, ..
            } => write!(f, "matmul(ta={trans_a}, tb={trans_b})"),
            Op::Linear { act, .. } => write!(f, "linear({act:?})"),
            Op::Reduce { op, axis, .. } => write!(f, "{op:?}(axis={axis})"),
            Op::Softmax { log, .. } => {
                write!(f, "{}", if *log { "log_softmax" } else { "softmax" })
            }
            Op::SoftmaxXent { .. } => write!(f, "softmax_cross_entropy"),
            Op::SoftmaxXentMean { .. } => write!(f, "softmax_cross_entropy_mean"),
            Op::Conv2d { dims, act, .. } => write!(
                f,
                "conv2d({}x{}, stride {}x{}, {:?}, {act:?})",
                dims.kh, dims.kw, dims.sh, dims.sw, dims.padding
            ),
            Op::MaxPool2d { dims, .. } => write!(f, "max_pool2d({}x{})", dims.ph, dims.pw),
            Op::AvgPool2d { dims, .. } => write!(f, "avg_pool2d({}x{})", dims.ph, dims.pw),
            Op::Reshape { .. } => write!(f, "reshape"),
            Op::Permute { perm, .. } => write!(f, "permute({perm:?})"),
            Op::Slice { axis, start, .. } => write!(f, "slice(axis={axis}, start={start})"),
            Op::Concat { axis, .. } => write!(f, "concat(axis={axis})"),
            Op::Pad { before, .. } => write!(f, "pad(before={before:?})"),
            Op::Dropout { .. } => write!(f, "dropout"),
            Op::BatchNorm { .. } => write!(f, "batch_norm"),
        }
    }
}
