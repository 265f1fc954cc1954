//! Reverse-mode autodiff: topological order of the recorded graph (explicit stack, no
//! recursion), seed the root with ones, then one line per op calling its backward function.
//! Fan-out accumulates (`+=`); the backward pass itself records nothing.

use std::collections::{HashMap, HashSet};

use kiln_device::ops::reduce::ReduceOp;

use crate::error::{GraphError, Result};
use crate::op::Op;
use crate::ops::{arith, conv, loss, matmul, reduce, shape};
use crate::tensor::{Tensor, no_grad};

/// Gradients of one backward pass, by tensor id. Only tensors that were marked
/// `requires_grad` (the leaves: parameters) are kept.
#[derive(Default)]
pub struct Gradients {
    grads: HashMap<u64, Tensor>,
}

impl Gradients {
    /// The gradient of `t`, if it took part in the pass.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.grads.get(&t.id())
    }

    /// Removes and returns the gradient of `t`.
    pub fn remove(&mut self, t: &Tensor) -> Option<Tensor> {
        self.grads.remove(&t.id())
    }

    /// Number of gradients held.
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Whether no gradient is held.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }
}

/// Recorded nodes reachable from `root`, each after all of its inputs (post-order).
fn topo_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        if let Some(op) = t.op() {
            let inputs: Vec<Tensor> = op
                .inputs()
                .into_iter()
                .filter(|i| i.tracks_grad())
                .cloned()
                .collect();
            stack.push((t, true));
            for i in inputs {
                if !seen.contains(&i.id()) {
                    stack.push((i, false));
                }
            }
        }
    }
    order
}

fn accumulate(grads: &mut HashMap<u64, Tensor>, t: &Tensor, g: Tensor) -> Result<()> {
    let g = if g.shape() == t.shape() {
        g
    } else {
        g.reshape(t.shape())?
    };
    let merged = match grads.remove(&t.id()) {
        Some(prev) => prev.add(&g)?,
        None => g,
    };
    grads.insert(t.id(), merged);
    Ok(())
}

/// Input gradients of one recorded node, given the node (its output) and its gradient.
fn node_backward(node: &Tensor, op: &Op, g: &Tensor) -> Result<Vec<(Tensor, Tensor)>> {
    let tracked = |t: &Tensor| t.tracks_grad();
    let mut out = Vec::new();
    match op {
        Op::Unary { x, op } => out.push((x.clone(), arith::unary_backward(x, *op, node, g)?)),
        Op::Binary { a, b, op } => {
            if tracked(a) {
                out.push((a.clone(), arith::binary_backward(a, b, *op, g, false)?));
            }
            if tracked(b) {
                out.push((b.clone(), arith::binary_backward(a, b, *op, g, true)?));
            }
        }
        Op::Matmul {
            a,
            b,
            trans_a,
            trans_b,
        } => {
            if tracked(a) {
                out.push((
                    a.clone(),
                    matmul::matmul_backward(a, b, *trans_a, *trans_b, g, false)?,
                ));
            }
            if tracked(b) {
                out.push((
                    b.clone(),
                    matmul::matmul_backward(a, b, *trans_a, *trans_b, g, true)?,
                ));
            }
        }
        Op::Reduce {
            x,
            op,
            axis,
            argmax,
        } => {
            let idx = if *op == ReduceOp::Max {
                argmax.as_ref()
            } else {
                None
            };
            out.push((x.clone(), reduce::reduce_backward(x, *op, *axis, idx, g)?));
        }
        Op::Softmax { x, log } => out.push((x.clone(), loss::softmax_backward(node, *log, g)?)),
        Op::SoftmaxXent {
            logits,
            targets,
            probs,
        } => out.push((
            logits.clone(),
            loss::xent_backward(logits, targets, probs, g)?,
        )),
        Op::Linear { x, w, bias, act } => {
            // y = act(z), z = x w + b: dz = g act'(z); then dx, dw as for matmul, db = sum dz.
            let dz = arith::act_backward(node, *act, g)?;
            if tracked(x) {
                let dx = matmul::matmul_backward(x, w, false, false, &dz, false)?;
                out.push((x.clone(), dx));
            }
            if tracked(w) {
                let dw = matmul::matmul_backward(x, w, false, false, &dz, true)?;
                out.push((w.clone(), dw));
            }
            if let Some(b) = bias.as_ref().filter(|b| tracked(b)) {
                out.push((b.clone(), matmul::bias_backward(&dz)?));
            }
        }
        Op::Conv2d {
            x,
            w,
            bias,
            dims,
            act,
        } => {
            // y = act(z): the convolution's gradients start from dz = g act'(z).
            let dz = arith::act_backward(node, *act, g)?;
            for (i, t) in [Some(x), Some(w), bias.as_ref()].into_iter().enumerate() {
                if let Some(t) = t.filter(|t| tracked(t)) {
                    out.push((t.clone(), conv::conv2d_backward(i, x, w, dims, &dz)?));
                }
            }
        }
        Op::MaxPool2d { x, dims, argmax } => {
            out.push((x.clone(), conv::pool_backward(x, dims, Some(argmax), g)?))
        }
        Op::AvgPool2d { x, dims } => out.push((x.clone(), conv::pool_backward(x, dims, None, g)?)),
        Op::Reshape { x } => out.push((x.clone(), g.reshape(x.shape())?)),
        Op::Permute { x, perm } => out.push((x.clone(), shape::permute_backward(perm, g)?)),
        Op::Slice { x, axis, start } => {
            out.push((x.clone(), shape::slice_backward(x, *axis, *start, g)?))
        }
        Op::Concat { xs, axis } => {
            let mut at = 0;
            for x in xs {
                let len = x.shape()[*axis];
                if tracked(x) {
                    out.push((x.clone(), g.slice(*axis, at, at + len)?));
                }
                at += len;
            }
        }
        Op::Dropout { x, mask } => {
            // y = x * mask  =>  dx = g * mask
            let m = Tensor::from_parts(
                x.device(),
                mask.clone(),
                x.shape().to_vec(),
                crate::tensor::DType::F32,
                None,
            );
            out.push((x.clone(), g.mul(&m)?));
        }
    }
    Ok(out.into_iter().filter(|(t, _)| tracked(t)).collect())
}

impl Tensor {
    /// Gradients of this tensor with respect to every `requires_grad` leaf it depends on. A
    /// non-scalar root is seeded with ones (the gradient of its sum).
    pub fn backward(&self) -> Result<Gradients> {
        if !self.tracks_grad() {
            return Err(GraphError::Backward(format!(
                "{self:?} does not depend on any tensor that requires grad (or was computed under no_grad)"
            )));
        }
        no_grad(|| {
            let order = topo_order(self);
            let mut grads: HashMap<u64, Tensor> = HashMap::new();
            grads.insert(self.id(), Tensor::full(self.device(), self.shape(), 1.0)?);
            let mut leaves = Gradients::default();
            for node in order.iter().rev() {
                let Some(g) = grads.remove(&node.id()) else {
                    continue;
                };
                match node.op() {
                    Some(op) => {
                        for (input, gi) in node_backward(node, op, &g)? {
                            accumulate(&mut grads, &input, gi)?;
                        }
                    }
                    None => {
                        leaves.grads.insert(node.id(), g);
                    }
                }
            }
            // Leaves reached only as inputs are still in `grads`.
            for (id, g) in grads {
                leaves.grads.entry(id).or_insert(g);
            }
            Ok(leaves)
        })
    }
}
