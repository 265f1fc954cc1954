//! Zero padding (Keras's `ZeroPadding2D` on NHWC tensors, and any other axes): the input is
//! copied into the interior of a zeroed tensor by the strided-copy kernel; its gradient is the
//! interior of the output's gradient, copied back out the same way.

use kiln_device::ops::contiguous_strides;
use kiln_device::ops::shape::{StridedView, strided_copy};

use crate::error::{Result, shape_err};
use crate::op::Op;
use crate::tensor::{DType, Tensor, numel};

/// The view of the interior of a tensor of `padded` shape, where the unpadded tensor starts
/// `before[d]` elements into each axis d.
fn interior(padded: &[usize], before: &[usize]) -> StridedView {
    let strides = contiguous_strides(padded);
    StridedView {
        offset: before.iter().zip(&strides).map(|(b, s)| b * s).sum(),
        strides,
    }
}

fn contiguous(shape: &[usize]) -> StridedView {
    StridedView {
        offset: 0,
        strides: contiguous_strides(shape),
    }
}

impl Tensor {
    /// `self` with `pads[d].0` zeros before and `pads[d].1` after it along each axis d.
    pub fn pad(&self, pads: &[(usize, usize)]) -> Result<Tensor> {
        self.expect_dtype("pad", DType::F32)?;
        let s = self.shape();
        if pads.len() != s.len() {
            return Err(shape_err(
                "pad",
                format!(
                    "needs one (before, after) pair per axis, got {}",
                    pads.len()
                ),
                &[s],
            ));
        }
        let padded: Vec<usize> = s
            .iter()
            .zip(pads)
            .map(|(&d, &(b, a))| d.checked_add(b).and_then(|x| x.checked_add(a)))
            .collect::<Option<_>>()
            .ok_or_else(|| shape_err("pad", "the padded size overflows", &[s]))?;
        numel("pad", &padded)?;
        let dev = self.device();
        let out = Tensor::zeros(dev, &padded)?;
        let before: Vec<usize> = pads.iter().map(|p| p.0).collect();
        strided_copy(
            dev,
            self.buffer(),
            &contiguous(s),
            out.buffer(),
            &interior(&padded, &before),
            s,
        )?;
        let rec = Op::Pad {
            x: self.clone(),
            before,
        };
        Ok(Tensor::output(
            dev,
            out.shared_buffer().clone(),
            padded,
            rec,
        ))
    }
}

/// pad: the gradient of the input is the interior of the output's gradient.
pub(crate) fn pad_backward(x: &Tensor, before: &[usize], g: &Tensor) -> Result<Tensor> {
    let dev = x.device();
    let dx = crate::ops::alloc(dev, x.numel())?;
    strided_copy(
        dev,
        g.buffer(),
        &interior(g.shape(), before),
        &dx,
        &contiguous(x.shape()),
        x.shape(),
    )?;
    Ok(Tensor::from_parts(
        dev,
        dx,
        x.shape().to_vec(),
        DType::F32,
        None,
    ))
}
