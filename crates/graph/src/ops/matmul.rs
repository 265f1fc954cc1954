//! Matrix products: `matmul` (2-D, rows folded from leading dims, or batched 3-D), with
//! transpose flags so the backward pass never materialises a transpose, and `linear`, a Dense
//! layer's act(x w + bias) in one fused dispatch.

use std::sync::Arc;

use kiln_device::Activation;
use kiln_device::GpuBuffer;
use kiln_device::ops::dense_backward::{
    DenseAdam, DenseDims, applies, dense_backward, dense_backward_adam,
};
use kiln_device::ops::matmul::{MatmulDims, MatmulOptions, matmul};
use kiln_device::ops::matmul_adam::{applies as adam_applies, matmul_adam};
use kiln_device::ops::reduce::{AxisView, ReduceOp, reduce};

use crate::backward::{AdamOf, GradInto};
use crate::error::{Result, shape_err};
use crate::gradients::InPlaceAdam;
use crate::op::Op;
use crate::ops::{alloc, alloc_into};
use crate::tensor::{DType, Tensor};

/// Dims of op(a) x op(b) for the supported layouts, or a shape error.
fn dims(a: &[usize], b: &[usize], ta: bool, tb: bool) -> Option<(MatmulDims, Vec<usize>)> {
    let mat = |s: &[usize], t: bool| if t { (s[1], s[0]) } else { (s[0], s[1]) };
    match (a.len(), b.len()) {
        // [.., K] x [K, N]: leading dims of a fold into rows (a Dense layer on any rank).
        (ra, 2) if ra >= 2 && !(ta && ra > 2) => {
            let lead: usize = a[..ra - 2].iter().product();
            let (m0, k) = mat(&a[ra - 2..], ta);
            let (kb, n) = mat(b, tb);
            if k != kb {
                return None;
            }
            let mut out = a[..ra - 2].to_vec();
            out.extend([m0, n]);
            Some((MatmulDims::new(lead * m0, n, k, ta, tb), out))
        }
        // [B, M, K] x [B, K, N]
        (3, 3) if a[0] == b[0] => {
            let (m, k) = mat(&a[1..], ta);
            let (kb, n) = mat(&b[1..], tb);
            if k != kb {
                return None;
            }
            let mut d = MatmulDims::new(m, n, k, ta, tb);
            d.batch = a[0];
            d.a_batch_stride = m * k;
            d.b_batch_stride = k * n;
            Some((d, vec![a[0], m, n]))
        }
        _ => None,
    }
}

impl Tensor {
    /// self x other.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.matmul_t(other, false, false)
    }

    /// op(self) x op(other), op = transpose when the flag is set. 2-D operands, a >2-D `self`
    /// times a 2-D `other` (leading dims fold into rows), or two 3-D batches.
    pub fn matmul_t(&self, other: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
        self.matmul_into(other, trans_a, trans_b, None)
    }

    /// `matmul_t` writing into `into` when given (a gradient target).
    fn matmul_into(
        &self,
        other: &Tensor,
        trans_a: bool,
        trans_b: bool,
        into: Option<Arc<GpuBuffer>>,
    ) -> Result<Tensor> {
        self.expect_dtype("matmul", DType::F32)?;
        other.expect_dtype("matmul", DType::F32)?;
        let (d, shape) = dims(self.shape(), other.shape(), trans_a, trans_b).ok_or_else(|| {
            shape_err(
                "matmul",
                format!("inner dimensions must agree (transposes: {trans_a}, {trans_b}); supported: [.., M, K] x [K, N] and [B, M, K] x [B, K, N]"),
                &[self.shape(), other.shape()],
            )
        })?;
        let dev = self.device();
        let out = alloc_into(dev, shape.iter().product(), into)?;
        let plain = MatmulOptions::default();
        matmul(dev, self.buffer(), other.buffer(), &out, &d, &plain)?;
        Ok(Tensor::output(
            dev,
            out,
            shape,
            Op::Matmul {
                a: self.clone(),
                b: other.clone(),
                trans_a,
                trans_b,
            },
        ))
    }
}

impl Tensor {
    /// act(self w + bias), a Dense layer: `self` is [.., K] (leading dims fold into rows), `w`
    /// [K, N], `bias` [N]. An elementwise activation is one dispatch (the matmul's epilogue adds
    /// the bias and applies it before its single store); softmax follows as its own op.
    pub fn linear(&self, w: &Tensor, bias: Option<&Tensor>, act: Activation) -> Result<Tensor> {
        if !act.is_elementwise() {
            return self.linear(w, bias, Activation::Linear)?.activation(act);
        }
        let op = "linear";
        for t in [Some(self), Some(w), bias].into_iter().flatten() {
            t.expect_dtype(op, DType::F32)?;
        }
        let (d, shape) = match dims(self.shape(), w.shape(), false, false) {
            Some(found) if w.shape().len() == 2 => found,
            _ => {
                return Err(shape_err(
                    op,
                    "needs an input [.., K] and a kernel [K, N]",
                    &[self.shape(), w.shape()],
                ));
            }
        };
        if let Some(b) = bias
            && b.shape() != [d.n]
        {
            return Err(shape_err(
                op,
                format!("bias must have shape [{}]", d.n),
                &[b.shape()],
            ));
        }
        let dev = self.device();
        let out = alloc(dev, shape.iter().product())?;
        let epilogue = MatmulOptions {
            bias: bias.map(Tensor::buffer),
            act,
            ..Default::default()
        };
        matmul(dev, self.buffer(), w.buffer(), &out, &d, &epilogue)?;
        let rec = Op::Linear {
            x: self.clone(),
            w: w.clone(),
            bias: bias.cloned(),
            act,
        };
        Ok(Tensor::output(dev, out, shape, rec))
    }
}

/// The gradients `linear_backward_fused` makes.
pub(crate) struct FusedLinearGrads {
    /// d loss / dx; with a folded producer, d loss / dz_p, its pre-activation gradient.
    pub dx: Tensor,
    /// d loss / dw, d loss / db and the folded producer's bias gradient; `None` where the
    /// dispatch applied their Adam steps instead (`applied`).
    pub dw: Option<Tensor>,
    /// d loss / db.
    pub db: Option<Tensor>,
    /// The folded producer's bias gradient.
    pub db_prev: Option<Tensor>,
    /// Whether the producer was folded (dx holds its dz_p).
    pub folded: bool,
    /// Whether the dispatch took the Adam steps of w, b (and b_p) in place.
    pub applied: bool,
}

/// The gradients of a linear layer y = act(x w + b) from one dispatch (`dense_backward.wgsl`),
/// where that kernel is the design: a narrow layer (a classifier head) on a CPU adapter, with
/// x, w and b all tracked; `None` otherwise (the caller then takes the general path). With
/// `prev` = (act_p, b_p), x is act_p(x_p w_p + b_p), a Dense layer's output that only this layer
/// reads: the same dispatch then makes that layer's pre-activation and bias gradients (dx holds
/// the first). dw, db and db_p are written into their gradient targets when given; where `adam`
/// gives all of their in-place Adam steps, the dispatch takes those steps instead.
pub(crate) fn linear_backward_fused(
    (x, w, b): (&Tensor, &Tensor, &Tensor),
    y: &Tensor,
    act: Activation,
    g: &Tensor,
    (into, adam): (GradInto<'_>, AdamOf<'_>),
    prev: Option<(Activation, &Tensor)>,
) -> Result<Option<FusedLinearGrads>> {
    let ([k, n], Some(&n_out)) = (w.shape(), y.shape().last()) else {
        return Ok(None);
    };
    let (k, n) = (*k, *n);
    let d = DenseDims {
        rows: x.numel() / k.max(1),
        k,
        n,
    };
    let dev = x.device();
    if n_out != n || x.shape().last() != Some(&k) || !applies(dev, &d) {
        return Ok(None);
    }
    let prev = prev.filter(|(_, bp)| bp.shape() == [k]);
    let dx = alloc(dev, x.numel())?;
    let inputs = (x.buffer(), w.buffer(), y.buffer(), g.buffer());
    let dx_tensor = |dx| Tensor::from_buffer(dev, dx, x.shape());
    // The in-place Adam steps, when every weight the dispatch updates has one.
    let state = |t: &Tensor| adam(t).map(|a| (a.step, [t.shared_buffer().clone(), a.m, a.v]));
    let prev_state = match prev {
        Some((_, bp)) => state(bp).map(Some),
        None => Some(None),
    };
    if let (Some((step, tw)), Some((_, tb)), Some(tp)) = (state(w), state(b), prev_state) {
        let da = DenseAdam {
            step: &step,
            w: refs(&tw),
            b: refs(&tb),
            b_prev: tp.as_ref().map(|(_, t)| refs(t)),
        };
        let prev_act = prev.map(|(a, _)| a);
        if dense_backward_adam(dev, act, inputs, &dx, prev_act, &da, &d)? {
            return Ok(Some(FusedLinearGrads {
                dx: dx_tensor(dx)?,
                dw: None,
                db: None,
                db_prev: None,
                folded: prev.is_some(),
                applied: true,
            }));
        }
    }
    let dw = alloc_into(dev, k * n, into(w))?;
    let db = alloc_into(dev, n, into(b))?;
    let db_prev = prev
        .map(|(_, bp)| alloc_into(dev, k, into(bp)))
        .transpose()?;
    let fold = prev.zip(db_prev.as_deref()).map(|((a, _), buf)| (a, buf));
    dense_backward(dev, act, inputs, (&dw, &db, &dx), fold, &d)?;
    Ok(Some(FusedLinearGrads {
        dx: dx_tensor(dx)?,
        dw: Some(Tensor::from_buffer(dev, dw, &[k, n])?),
        db: Some(Tensor::from_buffer(dev, db, &[n])?),
        db_prev: db_prev
            .map(|b| Tensor::from_buffer(dev, b, &[k]))
            .transpose()?,
        folded: prev.is_some(),
        applied: false,
    }))
}

/// Bias gradient of a linear layer: dz summed over every row (all leading dims), written into
/// `into` when given.
pub(crate) fn bias_backward(dz: &Tensor, into: Option<Arc<GpuBuffer>>) -> Result<Tensor> {
    let n = dz.shape()[dz.shape().len() - 1];
    let dev = dz.device();
    let db = alloc_into(dev, n, into)?;
    let v = AxisView {
        outer: 1,
        len: dz.numel() / n.max(1),
        inner: n,
    };
    reduce(dev, ReduceOp::Sum, dz.buffer(), &db, &v)?;
    Tensor::from_buffer(dev, db, &[n])
}

/// Gradients of C = op_a(A) op_b(B), from dA' = dC op_b(B)^T and dB' = op_a(A)^T dC
/// (A' = op_a(A)), transposed back when the operand was stored transposed:
///   dA = trans_a ? op_b(B) dC^T : dC op_b(B)^T
///   dB = trans_b ? dC^T op_a(A) : op_a(A)^T dC
/// For a folded >2-D A, dA has A's shape and dB sums over the folded rows automatically.
/// dB is written into `into` when given.
pub(crate) fn matmul_backward(
    a: &Tensor,
    b: &Tensor,
    (ta, tb): (bool, bool),
    g: &Tensor,
    wrt_b: bool,
    into: Option<Arc<GpuBuffer>>,
) -> Result<Tensor> {
    let folded = a.shape().len() > 2 && b.shape().len() == 2;
    let a2 = if folded { flatten_rows(a)? } else { a.clone() };
    let g2 = if folded { flatten_rows(g)? } else { g.clone() };
    let r = if !wrt_b {
        let da = if ta {
            b.matmul_t(&g2, tb, true)?
        } else {
            g2.matmul_t(b, false, !tb)?
        };
        da.reshape(a.shape())?
    } else if tb {
        g2.matmul_into(&a2, true, ta, into)?
    } else {
        a2.matmul_into(&g2, !ta, false, into)?
    };
    Ok(r)
}

/// A Dense kernel's Adam step `a` applied from its gradient x^T dz in one dispatch, where the
/// fused design is the rule (`kiln_device::ops::matmul_adam::applies`): w [k, n] is updated in
/// place and true is returned; false (nothing recorded) elsewhere, and the caller makes dW.
pub(crate) fn weight_grad_adam(
    x: &Tensor,
    w: &Tensor,
    dz: &Tensor,
    a: &InPlaceAdam,
) -> Result<bool> {
    // x [.., k] and dz [.., n] are stored as [rows, k] and [rows, n]: A = x transposed.
    let ([k, n], Some(&xk), Some(&dzn)) = (w.shape(), x.shape().last(), dz.shape().last()) else {
        return Ok(false);
    };
    let rows = x.numel() / xk.max(1);
    let d = MatmulDims::new(*k, *n, rows, true, false);
    let dev = x.device();
    if xk != *k || dzn != *n || dz.numel() != rows * n || !adam_applies(dev, &d) {
        return Ok(false);
    }
    let slots = (&*a.m, &*a.v);
    matmul_adam(
        dev,
        (x.buffer(), dz.buffer()),
        &d,
        &a.step,
        (w.buffer(), slots),
    )?;
    Ok(true)
}

/// The buffers of a (weight, m, v) triple, borrowed.
fn refs(t: &[Arc<GpuBuffer>; 3]) -> [&GpuBuffer; 3] {
    [&*t[0], &*t[1], &*t[2]]
}

fn flatten_rows(t: &Tensor) -> Result<Tensor> {
    let s = t.shape();
    let last = s[s.len() - 1];
    t.reshape(&[t.numel() / last.max(1), last])
}
