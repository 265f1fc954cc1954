//! Elementwise arithmetic: unary math and broadcasting binary ops, with their gradients, and the
//! gradient through a fused epilogue activation (`act_backward`, or `act_bias_backward` with
//! the layer's bias gradient in the same pass).

use std::sync::Arc;

use kiln_device::ops::bias_grad::{act_bias_backward as launch_bias, act_bias_backward_applies};
use kiln_device::ops::elementwise::{self as ew, BinaryOp, UnaryOp, broadcast};
use kiln_device::ops::reduce::sum_to_shape;
use kiln_device::{Activation, GpuBuffer};

use crate::error::{Result, shape_err};
use crate::op::Op;
use crate::ops::{alloc, alloc_into};
use crate::tensor::{DType, Tensor, no_grad};

impl Tensor {
    /// y = op(x) elementwise.
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        self.expect_dtype("unary", DType::F32)?;
        let dev = self.device();
        let out = alloc(dev, self.numel())?;
        ew::unary(dev, op, self.buffer(), &out, self.numel())?;
        Ok(Tensor::output(
            dev,
            out,
            self.shape().to_vec(),
            Op::Unary {
                x: self.clone(),
                op,
            },
        ))
    }

    /// -x
    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    /// e^x
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    /// ln x
    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }
    /// sqrt x
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    /// max(x, 0)
    pub fn relu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Act(Activation::Relu))
    }
    /// x > 0 ? x : alpha x
    pub fn leaky_relu(&self, alpha: f32) -> Result<Tensor> {
        self.unary(UnaryOp::LeakyRelu(alpha))
    }
    /// 1 / (1 + e^-x)
    pub fn sigmoid(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Act(Activation::Sigmoid))
    }
    /// tanh x
    pub fn tanh(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Act(Activation::Tanh))
    }
    /// Any activation by kind: linear is the tensor itself, softmax runs over the last axis, the
    /// others through the unary kernel.
    pub fn activation(&self, act: Activation) -> Result<Tensor> {
        match act {
            Activation::Linear => Ok(self.clone()),
            Activation::Softmax => self.softmax(),
            a => self.unary(UnaryOp::Act(a)),
        }
    }
    /// clamp(x, lo, hi)
    pub fn clamp(&self, lo: f32, hi: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Clamp(lo, hi))
    }
    /// x^p
    pub fn powf(&self, p: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Pow(p))
    }
    /// |x|
    pub fn abs(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Abs)
    }
    /// s x
    pub fn mul_scalar(&self, s: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Affine(s, 0.0))
    }
    /// x + s
    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Affine(1.0, s))
    }

    /// a (op) b with NumPy broadcasting.
    pub fn binary(&self, other: &Tensor, op: BinaryOp) -> Result<Tensor> {
        self.expect_dtype("binary", DType::F32)?;
        other.expect_dtype("binary", DType::F32)?;
        let bc = broadcast(self.shape(), other.shape()).ok_or_else(|| {
            shape_err(
                "binary",
                format!("{op:?} needs shapes that broadcast"),
                &[self.shape(), other.shape()],
            )
        })?;
        let dev = self.device();
        let out = alloc(dev, bc.shape.iter().product())?;
        ew::binary(dev, op, self.buffer(), other.buffer(), &out, &bc)?;
        Ok(Tensor::output(
            dev,
            out,
            bc.shape,
            Op::Binary {
                a: self.clone(),
                b: other.clone(),
                op,
            },
        ))
    }

    /// a + b
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Add)
    }
    /// a - b
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Sub)
    }
    /// a * b
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Mul)
    }
    /// a / b
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Div)
    }
    /// max(a, b)
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Maximum)
    }
    /// min(a, b)
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(other, BinaryOp::Minimum)
    }
}

/// dx = g * op'(x); the kernel's derivative table uses the forward output `y` where cheaper.
pub(crate) fn unary_backward(x: &Tensor, op: UnaryOp, y: &Tensor, g: &Tensor) -> Result<Tensor> {
    let dev = x.device();
    let dx = alloc(dev, x.numel())?;
    ew::unary_backward(dev, op, x.buffer(), y.buffer(), g.buffer(), &dx, x.numel())?;
    Ok(Tensor::from_parts(
        dev,
        dx,
        x.shape().to_vec(),
        DType::F32,
        None,
    ))
}

/// Gradients of a (op) b. The kernel writes g * d(a op b)/d(operand) at the broadcast output
/// shape; an operand that was broadcast gets that summed back to its own shape.
pub(crate) fn binary_backward(
    a: &Tensor,
    b: &Tensor,
    op: BinaryOp,
    g: &Tensor,
    wrt_b: bool,
) -> Result<Tensor> {
    let bc =
        broadcast(a.shape(), b.shape()).expect("internal: shapes broadcast in the forward pass");
    let operand = if wrt_b { b } else { a };
    let dev = a.device();
    let n: usize = bc.shape.iter().product();
    // Add and sub pass the gradient straight through (up to sign): skip the kernel when no
    // broadcast needs undoing either.
    let full = if matches!(op, BinaryOp::Add) || (matches!(op, BinaryOp::Sub) && !wrt_b) {
        g.clone()
    } else {
        let buf = alloc(dev, n)?;
        ew::binary_backward(
            dev,
            op,
            wrt_b,
            a.buffer(),
            b.buffer(),
            g.buffer(),
            &buf,
            &bc,
        )?;
        Tensor::from_parts(dev, buf, bc.shape.clone(), DType::F32, None)
    };
    if operand.shape() == bc.shape.as_slice() {
        return Ok(full);
    }
    no_grad(|| {
        let out = alloc(dev, operand.numel())?;
        sum_to_shape(dev, full.buffer(), &bc.shape, &out, operand.shape())?;
        Ok(Tensor::from_parts(
            dev,
            out,
            operand.shape().to_vec(),
            DType::F32,
            None,
        ))
    })
}

/// Gradient of y = act(z) with respect to z, written with y alone (the fused forward pass keeps
/// no z): relu' = [y > 0] (y > 0 exactly when z > 0), sigmoid' = y (1 - y), tanh' = 1 - y^2,
/// linear' = 1. Returns dz = g * act'(z).
pub(crate) fn act_backward(y: &Tensor, act: Activation, g: &Tensor) -> Result<Tensor> {
    if act == Activation::Linear {
        return Ok(g.clone());
    }
    let op = UnaryOp::Act(act);
    let dev = y.device();
    let dz = alloc(dev, y.numel())?;
    // The kernel's relu derivative reads its "x" argument; y stands in for it (same sign).
    // (Softmax is never recorded as an epilogue: `linear` and `conv2d_act` apply it as its own
    // op, so the launcher's error for it cannot happen here.)
    let (yb, gb) = (y.buffer(), g.buffer());
    ew::unary_backward(dev, op, yb, yb, gb, &dz, y.numel())?;
    Ok(Tensor::from_parts(
        dev,
        dz,
        y.shape().to_vec(),
        DType::F32,
        None,
    ))
}

/// A layer's dz = g act'(z) and db = column sums of dz (the bias gradient, written into `into`
/// when given), from its output y = act(z) of shape [.., cols]: one pass (`bias_grad.wgsl`)
/// where the activation has a derivative kernel and cols is a multiple of 4, `None` otherwise
/// (the caller then runs `act_backward` and its bias reduction apart).
pub(crate) fn act_bias_backward(
    y: &Tensor,
    act: Activation,
    g: &Tensor,
    into: Option<Arc<GpuBuffer>>,
) -> Result<Option<(Tensor, Tensor)>> {
    let cols = y.shape().last().copied().unwrap_or(0);
    if act == Activation::Linear || !act_bias_backward_applies(cols) {
        return Ok(None);
    }
    let dev = y.device();
    let rows = y.numel() / cols;
    let (dz, db) = (alloc(dev, y.numel())?, alloc_into(dev, cols, into)?);
    launch_bias(dev, act, (y.buffer(), g.buffer()), (&dz, &db), rows, cols)?;
    Ok(Some((
        Tensor::from_parts(dev, dz, y.shape().to_vec(), DType::F32, None),
        Tensor::from_parts(dev, db, vec![cols], DType::F32, None),
    )))
}
