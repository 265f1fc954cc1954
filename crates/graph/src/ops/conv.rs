//! 2-D convolution and pooling on NHWC tensors (Keras channels_last), and dropout.

use std::sync::Arc;

use kiln_device::ops::conv2d::{
    Conv2dDims, ConvColumns, ConvOptions, ConvVia, Padding, conv2d as launch_conv,
    conv2d_backward_input, conv2d_backward_weight, conv2d_backward_weight_from_columns,
    conv2d_keeping_columns,
};
use kiln_device::ops::pool2d::{
    Pool2dDims, avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward,
};
use kiln_device::ops::random::dropout as launch_dropout;
use kiln_device::ops::reduce::{AxisView, ReduceOp, reduce};
use kiln_device::{Activation, GpuBuffer};

use crate::error::{Result, shape_err};
use crate::op::Op;
use crate::ops::{alloc, alloc_into};
use crate::tensor::{DType, Tensor, grad_enabled};

impl Tensor {
    /// Convolution of NHWC `self` with a [kh, kw, in, out] kernel, optional [out] bias.
    pub fn conv2d(
        &self,
        w: &Tensor,
        bias: Option<&Tensor>,
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        self.conv2d_act(w, bias, strides, padding, Activation::Linear)
    }

    /// act(conv2d + bias), a Conv2D layer: an elementwise activation is one dispatch (the kernel
    /// applies it before its store); softmax follows as its own op.
    pub fn conv2d_act(
        &self,
        w: &Tensor,
        bias: Option<&Tensor>,
        strides: (usize, usize),
        padding: Padding,
        act: Activation,
    ) -> Result<Tensor> {
        if !act.is_elementwise() {
            return self
                .conv2d_act(w, bias, strides, padding, Activation::Linear)?
                .activation(act);
        }
        let op = "conv2d";
        for t in [Some(self), Some(w), bias].into_iter().flatten() {
            t.expect_dtype(op, DType::F32)?;
        }
        let (x, ws) = (self.shape(), w.shape());
        if x.len() != 4 || ws.len() != 4 || x[3] != ws[2] {
            return Err(shape_err(
                op,
                "needs an NHWC input [n, h, w, c] and a kernel [kh, kw, c, filters] with the same c",
                &[x, ws],
            ));
        }
        if let Some(b) = bias
            && b.shape() != [ws[3]]
        {
            return Err(shape_err(
                op,
                format!("bias must have shape [{}]", ws[3]),
                &[b.shape()],
            ));
        }
        let dims = Conv2dDims {
            n: x[0],
            h: x[1],
            w: x[2],
            c: x[3],
            f: ws[3],
            kh: ws[0],
            kw: ws[1],
            sh: strides.0,
            sw: strides.1,
            padding,
        };
        let (oh, ow, _, _) = dims
            .output()
            .ok_or_else(|| shape_err(op, format!("a {}x{} kernel with strides {strides:?} and {padding:?} padding leaves no output", ws[0], ws[1]), &[x, ws]))?;
        let dev = self.device();
        let out = alloc(dev, dims.n * oh * ow * dims.f)?;
        let o = ConvOptions {
            bias: bias.map(Tensor::buffer),
            act,
            via: ConvVia::Auto,
        };
        // The kernel's gradient reuses the forward's column matrix (matmul path) when the
        // backward pass will want it; otherwise it is not kept.
        let cols = if grad_enabled() && w.tracks_grad() {
            conv2d_keeping_columns(dev, self.buffer(), w.buffer(), &out, &dims, &o)?.map(Arc::new)
        } else {
            launch_conv(dev, self.buffer(), w.buffer(), &out, &dims, &o)?;
            None
        };
        let rec = Op::Conv2d {
            x: self.clone(),
            w: w.clone(),
            bias: bias.cloned(),
            dims,
            act,
            cols,
        };
        Ok(Tensor::output(dev, out, vec![dims.n, oh, ow, dims.f], rec))
    }

    fn pool_dims(
        &self,
        op: &'static str,
        pool: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<(Pool2dDims, Vec<usize>)> {
        self.expect_dtype(op, DType::F32)?;
        let x = self.shape();
        if x.len() != 4 {
            return Err(shape_err(op, "needs an NHWC input [n, h, w, c]", &[x]));
        }
        let d = Pool2dDims {
            n: x[0],
            h: x[1],
            w: x[2],
            c: x[3],
            ph: pool.0,
            pw: pool.1,
            sh: strides.0,
            sw: strides.1,
            padding,
        };
        let (oh, ow, _, _) = d
            .output()
            .ok_or_else(|| shape_err(op, format!("a {pool:?} window with strides {strides:?} and {padding:?} padding leaves no output"), &[x]))?;
        Ok((d, vec![d.n, oh, ow, d.c]))
    }

    /// Max pooling (padded cells never win).
    pub fn max_pool2d(
        &self,
        pool: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        let (dims, shape) = self.pool_dims("max_pool2d", pool, strides, padding)?;
        let dev = self.device();
        let n: usize = shape.iter().product();
        let (out, argmax) = (alloc(dev, n)?, alloc(dev, n)?);
        max_pool2d(dev, self.buffer(), &out, &argmax, &dims)?;
        Ok(Tensor::output(
            dev,
            out,
            shape,
            Op::MaxPool2d {
                x: self.clone(),
                dims,
                argmax,
            },
        ))
    }

    /// Average pooling over real (unpadded) cells, as TensorFlow does.
    pub fn avg_pool2d(
        &self,
        pool: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> Result<Tensor> {
        let (dims, shape) = self.pool_dims("avg_pool2d", pool, strides, padding)?;
        let dev = self.device();
        let out = alloc(dev, shape.iter().product())?;
        avg_pool2d(dev, self.buffer(), &out, &dims)?;
        Ok(Tensor::output(
            dev,
            out,
            shape,
            Op::AvgPool2d {
                x: self.clone(),
                dims,
            },
        ))
    }

    /// Mean over H and W of an NHWC tensor: [n, h, w, c] -> [n, c].
    pub fn global_avg_pool2d(&self) -> Result<Tensor> {
        let x = self.shape();
        if x.len() != 4 {
            return Err(shape_err(
                "global_avg_pool2d",
                "needs an NHWC input [n, h, w, c]",
                &[x],
            ));
        }
        self.reshape(&[x[0], x[1] * x[2], x[3]])?.mean(1, false)
    }

    /// Inverted dropout: zero each element with probability `rate`, scale the rest by
    /// 1 / (1 - rate). The mask comes from a counter hash of (`seed`, element index).
    pub fn dropout(&self, rate: f32, seed: u32) -> Result<Tensor> {
        self.expect_dtype("dropout", DType::F32)?;
        if !(0.0..1.0).contains(&rate) {
            return Err(shape_err(
                "dropout",
                format!("rate must be in [0, 1), got {rate}"),
                &[self.shape()],
            ));
        }
        let dev = self.device();
        let (out, mask) = (alloc(dev, self.numel())?, alloc(dev, self.numel())?);
        launch_dropout(dev, self.buffer(), &out, &mask, self.numel(), rate, seed)?;
        Ok(Tensor::output(
            dev,
            out,
            self.shape().to_vec(),
            Op::Dropout {
                x: self.clone(),
                mask,
            },
        ))
    }
}

/// Gradients of conv2d: input and kernel through their kernels, bias = sum of g over N, H, W.
/// The kernel and bias gradients are written into `into` when given.
pub(crate) fn conv2d_backward(
    which: usize,
    x: &Tensor,
    w: &Tensor,
    (dims, cols): (&Conv2dDims, Option<&ConvColumns>),
    g: &Tensor,
    into: Option<Arc<GpuBuffer>>,
) -> Result<Tensor> {
    let dev = x.device();
    let (buf, shape) = match which {
        0 => {
            let dx = alloc(dev, x.numel())?;
            conv2d_backward_input(dev, g.buffer(), w.buffer(), &dx, dims, ConvVia::Auto)?;
            (dx, x.shape().to_vec())
        }
        1 => {
            let dw = alloc_into(dev, w.numel(), into)?;
            match cols {
                Some(cols) => conv2d_backward_weight_from_columns(dev, cols, g.buffer(), &dw)?,
                None => {
                    conv2d_backward_weight(dev, x.buffer(), g.buffer(), &dw, dims, ConvVia::Auto)?
                }
            }
            (dw, w.shape().to_vec())
        }
        _ => {
            let db = alloc_into(dev, dims.f, into)?;
            let v = AxisView {
                outer: 1,
                len: g.numel() / dims.f,
                inner: dims.f,
            };
            reduce(dev, ReduceOp::Sum, g.buffer(), &db, &v)?;
            (db, vec![dims.f])
        }
    };
    Ok(Tensor::from_parts(dev, buf, shape, DType::F32, None))
}

/// max: g routed to each window's recorded argmax; avg: g / cell count spread over the window.
pub(crate) fn pool_backward(
    x: &Tensor,
    dims: &Pool2dDims,
    argmax: Option<&kiln_device::GpuBuffer>,
    g: &Tensor,
) -> Result<Tensor> {
    let dev = x.device();
    let dx = alloc(dev, x.numel())?;
    match argmax {
        Some(a) => max_pool2d_backward(dev, g.buffer(), a, &dx, dims)?,
        None => avg_pool2d_backward(dev, g.buffer(), &dx, dims)?,
    }
    Ok(Tensor::from_parts(
        dev,
        dx,
        x.shape().to_vec(),
        DType::F32,
        None,
    ))
}
