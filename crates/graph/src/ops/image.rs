//! Geometric image transforms: `warp_affine` samples each image of an NHWC batch at an affine
//! map of the output pixels (the kernel Keras's resizing, cropping, flipping, translating,
//! rotating and zooming layers share). It records no gradient: these layers transform a model's
//! inputs, where nothing trainable lies upstream; an input that tracks gradients is an error
//! rather than a silently stopped gradient.

use kiln_device::ops::image::{Sampling, WarpDims, warp_affine};

use crate::error::{GraphError, Result, shape_err};
use crate::ops::alloc;
use crate::tensor::{DType, Tensor};

impl Tensor {
    /// The images of this [n, h, w, c] batch, each sampled at its row of `transforms`
    /// ([n, 8]: a0 a1 a2 b0 b1 b2 0 0, input X = a0 ox + a1 oy + a2, Y = b0 ox + b1 oy + b2 in
    /// pixel-index coordinates), as an [n, height, width, c] batch.
    pub fn warp_affine(
        &self,
        transforms: &Tensor,
        (height, width): (usize, usize),
        s: Sampling,
    ) -> Result<Tensor> {
        let op = "warp_affine";
        self.expect_dtype(op, DType::F32)?;
        transforms.expect_dtype(op, DType::F32)?;
        let &[n, h, w, c] = self.shape() else {
            return Err(shape_err(
                op,
                "needs images [n, height, width, channels]",
                &[self.shape()],
            ));
        };
        if transforms.shape() != [n, 8] || height == 0 || width == 0 || n * h * w * c == 0 {
            return Err(shape_err(
                op,
                "needs a non-empty batch, transforms [n, 8] and a positive output size",
                &[self.shape(), transforms.shape(), &[height, width]],
            ));
        }
        if self.tracks_grad() || transforms.tracks_grad() {
            return Err(GraphError::Backward(
                "warp_affine (resizing, crops, flips, translations, rotations, zooms) has no \
                 gradient: apply it to a model's inputs, before any trainable layer"
                    .into(),
            ));
        }
        let d = WarpDims {
            n,
            h,
            w,
            c,
            oh: height,
            ow: width,
        };
        let dev = self.device();
        let y = alloc(dev, n * height * width * c)?;
        warp_affine(dev, self.buffer(), transforms.buffer(), &y, &d, s)?;
        Ok(Tensor::from_parts(
            dev,
            y,
            vec![n, height, width, c],
            DType::F32,
            None,
        ))
    }
}
