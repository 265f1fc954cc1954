//! Batch normalization with the batch's statistics (training mode) as one op: two kernels
//! forward (per-channel statistics, then the normalization) and two backward (per-channel sums,
//! then dx; `batchnorm.wgsl` has the derivation). The channels are the last axis; every other
//! axis is reduced (N, H and W of an NHWC tensor).

use std::sync::Arc;

use kiln_device::GpuBuffer;
use kiln_device::ops::batchnorm::{
    BnDims, BnStat, bn_backward, bn_moving_update, bn_normalize, bn_stats,
};

use crate::error::{Result, shape_err};
use crate::op::Op;
use crate::ops::{alloc, alloc_into};
use crate::tensor::{DType, Tensor};

/// What `batch_norm` measured on the batch, per channel (not differentiated): the kernel's
/// [mean; 1/sqrt(var + eps); var] rows, read in place by `update_moving`.
pub struct BatchStats {
    stats: Tensor,
}

impl BatchStats {
    /// Keras's moving averages, in place and in command order (a forward recorded before still
    /// read the old values): moving = moving * momentum + batch * (1 - momentum), one dispatch
    /// per statistic; values below the smallest normal f32 become 0 (`bn_moving_update`).
    pub fn update_moving(
        &self,
        moving_mean: &Tensor,
        moving_var: &Tensor,
        momentum: f32,
    ) -> Result<()> {
        let c = self.stats.shape()[1];
        for (t, stat) in [(moving_mean, BnStat::Mean), (moving_var, BnStat::Variance)] {
            t.expect_dtype("update_moving", DType::F32)?;
            if t.shape() != [c] {
                return Err(shape_err(
                    "update_moving",
                    format!("needs moving statistics of shape [{c}]"),
                    &[t.shape()],
                ));
            }
            let dev = t.device();
            bn_moving_update(dev, self.stats.buffer(), t.buffer(), stat, momentum, c)?;
        }
        Ok(())
    }
}

fn dims(x: &Tensor) -> BnDims {
    let c = x.shape().last().copied().unwrap_or(1);
    BnDims {
        rows: x.numel() / c.max(1),
        channels: c,
    }
}

impl Tensor {
    /// gamma (x - mean) / sqrt(var + eps) + beta with the batch's mean and biased variance over
    /// every axis but the last; `gamma` and `beta` are [channels]. Returns the output and the
    /// statistics (for a moving average).
    pub fn batch_norm(
        &self,
        gamma: &Tensor,
        beta: &Tensor,
        eps: f32,
    ) -> Result<(Tensor, BatchStats)> {
        let op = "batch_norm";
        for t in [self, gamma, beta] {
            t.expect_dtype(op, DType::F32)?;
        }
        let s = self.shape();
        let c = s.last().copied().unwrap_or(0);
        if s.len() < 2 || c == 0 || gamma.shape() != [c] || beta.shape() != [c] {
            return Err(shape_err(
                op,
                "needs an input [.., channels] of rank 2 or more and gamma, beta of shape [channels]",
                &[s, gamma.shape(), beta.shape()],
            ));
        }
        let d = dims(self);
        let dev = self.device();
        let stats = alloc(dev, 3 * c)?;
        bn_stats(dev, self.buffer(), &stats, &d, eps)?;
        let y = alloc(dev, self.numel())?;
        bn_normalize(
            dev,
            self.buffer(),
            &stats,
            (gamma.buffer(), beta.buffer()),
            &y,
            &d,
        )?;
        let batch = BatchStats {
            stats: Tensor::from_parts(dev, stats.clone(), vec![3, c], DType::F32, None),
        };
        let rec = Op::BatchNorm {
            x: self.clone(),
            gamma: gamma.clone(),
            beta: beta.clone(),
            stats,
        };
        Ok((Tensor::output(dev, y, s.to_vec(), rec), batch))
    }
}

/// Gradients of `batch_norm` for whichever of x, gamma and beta track them (gamma's and beta's
/// written into `into` targets when given).
pub(crate) fn batch_norm_backward(
    (x, gamma, beta): (&Tensor, &Tensor, &Tensor),
    stats: &Arc<GpuBuffer>,
    g: &Tensor,
    into: &dyn Fn(&Tensor) -> Option<Arc<GpuBuffer>>,
) -> Result<Vec<(Tensor, Tensor)>> {
    let d = dims(x);
    let dev = x.device();
    let c = d.channels;
    let sums = alloc(dev, 2 * c)?;
    let dx = if x.tracks_grad() {
        Some(alloc(dev, x.numel())?)
    } else {
        None
    };
    let pair = (x.buffer(), g.buffer());
    bn_backward(dev, pair, (stats, gamma.buffer()), &sums, dx.as_deref(), &d)?;
    // dbeta and dgamma go out by copy (in command order, no wait): their targets may be views
    // of one packed buffer, which the kernel could not bind as two outputs.
    let bytes = (c * 4) as u64;
    let dbeta = alloc_into(dev, c, into(beta))?;
    dev.copy(&sums, 0, &dbeta, 0, bytes)?;
    let dgamma = alloc_into(dev, c, into(gamma))?;
    dev.copy(&sums, bytes, &dgamma, 0, bytes)?;
    let t = |buf: Arc<GpuBuffer>, shape: &[usize]| {
        Tensor::from_parts(dev, buf, shape.to_vec(), DType::F32, None)
    };
    let mut out = vec![
        (gamma.clone(), t(dgamma, gamma.shape())),
        (beta.clone(), t(dbeta, beta.shape())),
    ];
    if let Some(dx) = dx {
        out.push((x.clone(), t(dx, x.shape())));
    }
    Ok(out)
}
