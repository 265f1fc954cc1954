//! Reductions over one axis (sum, mean, max) or all elements, and argmax.

use std::sync::Arc;

use kiln_device::ops::reduce::{
    AxisView, ReduceOp, argmax as launch_argmax, reduce as launch,
    reduce_backward as launch_backward,
};

use crate::error::{Result, shape_err};
use crate::op::Op;
use crate::ops::alloc;
use crate::tensor::{DType, Tensor};

fn reduced_shape(shape: &[usize], axis: usize, keepdim: bool) -> Vec<usize> {
    let mut s = shape.to_vec();
    if keepdim {
        s[axis] = 1;
    } else {
        s.remove(axis);
    }
    s
}

impl Tensor {
    fn check_axis(&self, op: &'static str, axis: usize) -> Result<()> {
        if axis >= self.shape().len() {
            return Err(shape_err(
                op,
                format!(
                    "axis {axis} is out of range for rank {}",
                    self.shape().len()
                ),
                &[self.shape()],
            ));
        }
        Ok(())
    }

    fn reduce(&self, op: ReduceOp, axis: usize, keepdim: bool) -> Result<Tensor> {
        let name = match op {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
        };
        self.expect_dtype(name, DType::F32)?;
        self.check_axis(name, axis)?;
        if op != ReduceOp::Sum && self.shape()[axis] == 0 {
            return Err(shape_err(name, "the axis is empty", &[self.shape()]));
        }
        let v = AxisView::new(self.shape(), axis);
        let dev = self.device();
        let out = alloc(dev, v.outer * v.inner)?;
        launch(dev, op, self.buffer(), &out, &v)?;
        // max's gradient goes to the first maximum: keep its index for the backward pass.
        let argmax = if op == ReduceOp::Max && self.tracks_grad() {
            let idx = alloc(dev, v.outer * v.inner)?;
            launch_argmax(dev, self.buffer(), &idx, &v)?;
            Some(idx)
        } else {
            None
        };
        Ok(Tensor::output(
            dev,
            out,
            reduced_shape(self.shape(), axis, keepdim),
            Op::Reduce {
                x: self.clone(),
                op,
                axis,
                argmax,
            },
        ))
    }

    /// Sum over `axis`.
    pub fn sum(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, axis, keepdim)
    }

    /// Mean over `axis`.
    pub fn mean(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Mean, axis, keepdim)
    }

    /// Maximum over `axis` (gradient to the first maximum).
    pub fn max(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, axis, keepdim)
    }

    /// Sum of all elements, as a scalar (shape []).
    pub fn sum_all(&self) -> Result<Tensor> {
        self.reshape(&[self.numel()])?.sum(0, false)
    }

    /// Mean of all elements, as a scalar (shape []).
    pub fn mean_all(&self) -> Result<Tensor> {
        self.reshape(&[self.numel()])?.mean(0, false)
    }

    /// Index of the first maximum along `axis` (u32; not differentiable).
    pub fn argmax(&self, axis: usize) -> Result<Tensor> {
        self.expect_dtype("argmax", DType::F32)?;
        self.check_axis("argmax", axis)?;
        if self.shape()[axis] == 0 {
            return Err(shape_err("argmax", "the axis is empty", &[self.shape()]));
        }
        let v = AxisView::new(self.shape(), axis);
        let dev = self.device();
        let out = alloc(dev, v.outer * v.inner)?;
        launch_argmax(dev, self.buffer(), &out, &v)?;
        Ok(Tensor::from_parts(
            dev,
            out,
            reduced_shape(self.shape(), axis, false),
            DType::U32,
            None,
        ))
    }
}

/// sum: dx = g broadcast along the axis; mean: g / len; max: g at the recorded argmax, 0 elsewhere.
pub(crate) fn reduce_backward(
    x: &Tensor,
    op: ReduceOp,
    axis: usize,
    argmax: Option<&Arc<kiln_device::GpuBuffer>>,
    g: &Tensor,
) -> Result<Tensor> {
    let v = AxisView::new(x.shape(), axis);
    let dev = x.device();
    let dx = alloc(dev, x.numel())?;
    let idx = argmax.map_or(g.buffer(), |a| a);
    launch_backward(dev, op, g.buffer(), idx, &dx, &v)?;
    Ok(Tensor::from_parts(
        dev,
        dx,
        x.shape().to_vec(),
        DType::F32,
        None,
    ))
}
