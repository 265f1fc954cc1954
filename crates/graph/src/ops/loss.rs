//! Softmax, log_softmax and the fused softmax-cross-entropy over the last axis (per row, or as
//! the rows' mean with its gradient from the same dispatch).

use std::collections::HashMap;
use std::sync::Arc;

use kiln_device::ops::reduce::ReduceOp;
use kiln_device::ops::softmax::{
    RowGrad, Targets, XENT_MEAN_MAX_VALUES, XentTrack, softmax as launch,
    softmax_backward as launch_backward, softmax_xent, softmax_xent_backward,
    softmax_xent_mean_tracked,
};

use crate::error::{Result, shape_err};
use crate::op::Op;
use crate::ops::alloc;
use crate::tensor::{DType, Tensor, grad_enabled};

impl Tensor {
    fn rows_cols(&self, op: &'static str) -> Result<(usize, usize)> {
        let cols = *self
            .shape()
            .last()
            .ok_or_else(|| shape_err(op, "needs at least one axis", &[self.shape()]))?;
        if cols == 0 {
            return Err(shape_err(op, "the last axis is empty", &[self.shape()]));
        }
        Ok((self.numel() / cols, cols))
    }

    fn softmax_impl(&self, log: bool) -> Result<Tensor> {
        let op = if log { "log_softmax" } else { "softmax" };
        self.expect_dtype(op, DType::F32)?;
        let (rows, cols) = self.rows_cols(op)?;
        let dev = self.device();
        let out = alloc(dev, self.numel())?;
        launch(dev, self.buffer(), &out, rows, cols, log)?;
        Ok(Tensor::output(
            dev,
            out,
            self.shape().to_vec(),
            Op::Softmax {
                x: self.clone(),
                log,
            },
        ))
    }

    /// Softmax over the last axis; the result remembers its input (`softmax_input`).
    pub fn softmax(&self) -> Result<Tensor> {
        let y = self.softmax_impl(false)?;
        Ok(y.with_softmax_input(self.clone()))
    }

    /// log(softmax(x)) over the last axis, computed stably.
    pub fn log_softmax(&self) -> Result<Tensor> {
        self.softmax_impl(true)
    }

    /// Per-row cross-entropy of softmax(self) against `targets`: u32 class labels of shape
    /// `self.shape()[..-1]`, or f32 distributions of `self`'s shape. Returns the row losses
    /// (shape `self.shape()[..-1]`); take `mean_all` for Keras's default reduction.
    pub fn softmax_cross_entropy(&self, targets: &Tensor) -> Result<Tensor> {
        let op = "softmax_cross_entropy";
        self.expect_dtype(op, DType::F32)?;
        let (rows, cols) = self.rows_cols(op)?;
        let row_shape = self.shape()[..self.shape().len() - 1].to_vec();
        let t = xent_targets(op, self, targets)?;
        let dev = self.device();
        let (probs, loss) = (alloc(dev, self.numel())?, alloc(dev, rows)?);
        softmax_xent(dev, self.buffer(), t, &probs, &loss, rows, cols)?;
        Ok(Tensor::output(
            dev,
            loss,
            row_shape,
            Op::SoftmaxXent {
                logits: self.clone(),
                targets: targets.clone(),
                probs,
            },
        ))
    }

    /// `softmax_cross_entropy(targets).mean_all()` (Keras's default reduction) in one dispatch
    /// that, when the logits track a gradient, also writes d mean / d logits for the backward
    /// pass: a classifier's step then spends one dispatch on its loss instead of three. Inputs
    /// past `XENT_MEAN_MAX_VALUES` logits (one workgroup would be slow on a GPU) take the
    /// general path.
    pub fn softmax_cross_entropy_mean(&self, targets: &Tensor) -> Result<Tensor> {
        Ok(self
            .softmax_cross_entropy_mean_tracked(targets, XentTrack::default())?
            .0)
    }

    /// `softmax_cross_entropy_mean` whose dispatch also makes `track`'s tracker updates (a
    /// training step's loss tracker and accuracy). Returns the loss and whether they were made:
    /// false when the input took the general path, whose caller then updates the trackers
    /// itself.
    pub fn softmax_cross_entropy_mean_tracked(
        &self,
        targets: &Tensor,
        track: XentTrack<'_>,
    ) -> Result<(Tensor, bool)> {
        let op = "softmax_cross_entropy_mean";
        self.expect_dtype(op, DType::F32)?;
        let (rows, cols) = self.rows_cols(op)?;
        if rows == 0 || self.numel() > XENT_MEAN_MAX_VALUES {
            return Ok((self.softmax_cross_entropy(targets)?.mean_all()?, false));
        }
        let t = xent_targets(op, self, targets)?;
        let dev = self.device();
        let loss = alloc(dev, 1)?;
        let grad = if grad_enabled() && self.tracks_grad() {
            Some(alloc(dev, self.numel())?)
        } else {
            None
        };
        let g = grad.as_deref();
        softmax_xent_mean_tracked(dev, self.buffer(), t, g, &loss, rows, cols, track)?;
        let op = grad.map(|grad| Op::SoftmaxXentMean {
            logits: self.clone(),
            grad,
        });
        Ok((
            Tensor::from_parts(dev, loss, Vec::new(), DType::F32, op),
            true,
        ))
    }
}

/// The cross-entropy's targets, checked against the logits: u32 labels shaped like the logits
/// without their last axis, or f32 distributions shaped like the logits.
fn xent_targets<'a>(op: &'static str, logits: &Tensor, targets: &'a Tensor) -> Result<Targets<'a>> {
    let row_shape = &logits.shape()[..logits.shape().len() - 1];
    match targets.dtype() {
        DType::U32 if targets.shape() == row_shape => Ok(Targets::Sparse(targets.buffer())),
        DType::F32 if targets.shape() == logits.shape() => Ok(Targets::Dense(targets.buffer())),
        _ => Err(shape_err(
            op,
            "targets must be u32 labels shaped like the logits without their last axis, or f32 distributions shaped like the logits",
            &[logits.shape(), targets.shape()],
        )),
    }
}

/// softmax: dx = y (g - sum(g y)); log_softmax: dx = g - softmax(x) sum(g) (see softmax.wgsl).
pub(crate) fn softmax_backward(y: &Tensor, log: bool, g: &Tensor) -> Result<Tensor> {
    let (rows, cols) = y.rows_cols("softmax_backward")?;
    let dev = y.device();
    let dx = alloc(dev, y.numel())?;
    launch_backward(dev, y.buffer(), g.buffer(), &dx, rows, cols, log)?;
    Ok(Tensor::from_parts(
        dev,
        dx,
        y.shape().to_vec(),
        DType::F32,
        None,
    ))
}

/// d loss_r / d logits_rj = (softmax_rj sum_i t_ri - t_rj) g_r, from the saved probabilities;
/// `g` gives g_r per row or one value for all.
pub(crate) fn xent_backward(
    logits: &Tensor,
    targets: &Tensor,
    probs: &kiln_device::GpuBuffer,
    g: RowGrad<'_>,
) -> Result<Tensor> {
    let (rows, cols) = logits.rows_cols("softmax_cross_entropy_backward")?;
    let t = match targets.dtype() {
        DType::U32 => Targets::Sparse(targets.buffer()),
        DType::F32 => Targets::Dense(targets.buffer()),
    };
    let dev = logits.device();
    let dx = alloc(dev, logits.numel())?;
    softmax_xent_backward(dev, probs, t, g, &dx, rows, cols)?;
    Ok(Tensor::from_parts(
        dev,
        dx,
        logits.shape().to_vec(),
        DType::F32,
        None,
    ))
}

/// The classifier's loss as the root of a backward pass: `softmax_cross_entropy_mean`'s output,
/// whose dispatch wrote d root / d logits already (no kernel here), or the mean of softmax
/// cross-entropy rows (`softmax_cross_entropy(..).mean_all()`, through at most one reshape,
/// each node used once). Then d root / d logits = (softmax - target) / rows, one kernel with a
/// uniform row gradient, instead of three: the seed's fill, the mean's broadcast and the
/// row-wise backward. Returns (logits, their gradient), or None for any other root.
pub(crate) fn fused_mean_xent(
    root: &Tensor,
    uses: &HashMap<u64, usize>,
) -> Result<Option<(Tensor, Tensor)>> {
    // The one-dispatch mean (`softmax_cross_entropy_mean`) wrote d root / d logits already.
    if let Some(Op::SoftmaxXentMean { logits, grad }) = root.op() {
        return Ok(Some((logits.clone(), saved_grad(logits, grad))));
    }
    let once = |t: &Tensor| uses.get(&t.id()) == Some(&1);
    let Some(Op::Reduce {
        x,
        op: ReduceOp::Mean,
        axis: 0,
        ..
    }) = root.op()
    else {
        return Ok(None);
    };
    if x.shape().len() != 1 || !once(x) {
        return Ok(None);
    }
    let rows_node = match x.op() {
        Some(Op::Reshape { x: inner }) if once(inner) => inner,
        _ => x,
    };
    let Some(Op::SoftmaxXent {
        logits,
        targets,
        probs,
    }) = rows_node.op()
    else {
        return Ok(None);
    };
    if !logits.tracks_grad() || x.numel() == 0 {
        return Ok(None);
    }
    let scale = 1.0 / x.numel() as f32;
    let g = xent_backward(logits, targets, probs, RowGrad::Uniform(scale))?;
    Ok(Some((logits.clone(), g)))
}

/// The gradient `softmax_cross_entropy_mean` saved, as a tensor shaped like the logits. Shared,
/// not copied: gradients are never written in place (sums of several take new buffers).
pub(crate) fn saved_grad(logits: &Tensor, grad: &Arc<kiln_device::GpuBuffer>) -> Tensor {
    Tensor::from_parts(
        logits.device(),
        grad.clone(),
        logits.shape().to_vec(),
        DType::F32,
        None,
    )
}
