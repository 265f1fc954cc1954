//! Reverse-mode autodiff: topological order of the recorded graph (explicit stack, no
//! recursion), seed the root with ones, then one line per op calling its backward function.
//! Fan-out accumulates (`+=`); the backward pass itself records nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kiln_device::ops::reduce::ReduceOp;
use kiln_device::ops::softmax::RowGrad;
use kiln_device::{Activation, GpuBuffer};

use crate::error::{GraphError, Result};
use crate::gradients::{GradTargets, Gradients, InPlaceAdam};
use crate::linear::{self, PreActivation};
use crate::op::Op;
use crate::ops::{arith, conv, loss, matmul, norm, pad, reduce, shape};
use crate::tensor::{Tensor, no_grad};

/// Where an input's gradient may be written directly (a gradient target), by input.
pub(crate) type GradInto<'a> = &'a dyn Fn(&Tensor) -> Option<Arc<GpuBuffer>>;

/// Whether a tensor is read by one op only in the pass.
pub(crate) type Once<'a> = &'a dyn Fn(&Tensor) -> bool;

/// The Adam step a leaf's gradient-making kernel may apply in place (`GradTargets::adam_in_place`).
pub(crate) type AdamOf<'a> = &'a dyn Fn(&Tensor) -> Option<InPlaceAdam>;

/// What the pass carries between nodes besides gradients: pre-activation gradients a consumer
/// made ahead of their node's turn (`linear.rs`), and the leaves whose Adam step was applied.
#[derive(Default)]
pub(crate) struct Carry {
    pub pre: PreActivation,
    pub applied: HashSet<u64>,
}

/// Recorded nodes reachable from `root`, each after all of its inputs (post-order), and how
/// many op inputs each tracked tensor is (a leaf used once can take its gradient in place).
fn topo_order(root: &Tensor) -> (Vec<Tensor>, HashMap<u64, usize>) {
    let mut order = Vec::new();
    let mut uses: HashMap<u64, usize> = HashMap::new();
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
            for i in &inputs {
                *uses.entry(i.id()).or_default() += 1;
            }
            stack.push((t, true));
            for i in inputs {
                if !seen.contains(&i.id()) {
                    stack.push((i, false));
                }
            }
        }
    }
    (order, uses)
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

/// dz = g act'(z) for a layer's output `y`, and, when the bias `b` is tracked, its gradient db:
/// from dz's own pass where the kernel applies (`arith::act_bias_backward`), else from
/// `reduce_bias(dz, into(b))` (the layer's reduction of dz).
pub(crate) fn dz_and_db(
    y: &Tensor,
    act: Activation,
    g: &Tensor,
    b: Option<&Tensor>,
    into: GradInto<'_>,
    reduce_bias: impl FnOnce(&Tensor, Option<Arc<GpuBuffer>>) -> Result<Tensor>,
) -> Result<(Tensor, Option<Tensor>)> {
    let Some(b) = b else {
        return Ok((arith::act_backward(y, act, g)?, None));
    };
    if let Some((dz, db)) = arith::act_bias_backward(y, act, g, into(b))? {
        return Ok((dz, Some(db)));
    }
    let dz = arith::act_backward(y, act, g)?;
    let db = reduce_bias(&dz, into(b))?;
    Ok((dz, Some(db)))
}

/// Input gradients of one recorded node, given the node (its output) and its gradient. `into`
/// gives the buffer an input's gradient may be written into directly (weights and biases of
/// matmul, linear and conv2d take it); `once` says whether a tensor is read by one op only;
/// `adam` gives a linear kernel's in-place Adam step. A narrow linear node may leave its input's
/// pre-activation gradients in `carry`, and a linear node records there the kernels it updated.
fn node_backward(
    node: &Tensor,
    op: &Op,
    g: &Tensor,
    (into, once, adam): (GradInto<'_>, Once<'_>, AdamOf<'_>),
    carry: &mut Carry,
) -> Result<Vec<(Tensor, Tensor)>> {
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
            let t = (*trans_a, *trans_b);
            if tracked(a) {
                let da = matmul::matmul_backward(a, b, t, g, false, None)?;
                out.push((a.clone(), da));
            }
            if tracked(b) {
                let db = matmul::matmul_backward(a, b, t, g, true, into(b))?;
                out.push((b.clone(), db));
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
            loss::xent_backward(logits, targets, probs, RowGrad::PerRow(g.buffer()))?,
        )),
        // d loss / d logits = saved * g, g the scalar upstream gradient.
        Op::SoftmaxXentMean { logits, grad } => {
            out.push((logits.clone(), loss::saved_grad(logits, grad).mul(g)?))
        }
        Op::Linear { x, w, bias, act } => {
            let layer = (x, w, bias.as_ref(), *act);
            out.extend(linear::node_backward(
                node,
                layer,
                g,
                (into, once, adam),
                carry,
            )?);
        }
        Op::Conv2d {
            x,
            w,
            bias,
            dims,
            act,
            cols,
        } => {
            // y = act(z): the convolution's gradients start from dz = g act'(z); the bias
            // gradient comes out of dz's pass where the kernel applies.
            let b = bias.as_ref().filter(|b| tracked(b));
            let how = (dims, cols.as_deref());
            let reduce_bias = |dz: &Tensor, into| conv::conv2d_backward(2, x, w, how, dz, into);
            let (dz, db) = dz_and_db(node, *act, g, b, into, reduce_bias)?;
            for (i, t) in [x, w].into_iter().enumerate() {
                if tracked(t) {
                    out.push((
                        t.clone(),
                        conv::conv2d_backward(i, x, w, how, &dz, into(t))?,
                    ));
                }
            }
            out.extend(b.cloned().zip(db));
        }
        Op::MaxPool2d { x, dims, argmax } => {
            out.push((x.clone(), conv::pool_backward(x, dims, Some(argmax), g)?))
        }
        Op::AvgPool2d { x, dims } => out.push((x.clone(), conv::pool_backward(x, dims, None, g)?)),
        Op::Reshape { x } => out.push((x.clone(), g.reshape(x.shape())?)),
        Op::Permute { x, perm } => out.push((x.clone(), shape::permute_backward(perm, g)?)),
        Op::Pad { x, before } => out.push((x.clone(), pad::pad_backward(x, before, g)?)),
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
        Op::BatchNorm {
            x,
            gamma,
            beta,
            stats,
        } => out.extend(norm::batch_norm_backward((x, gamma, beta), stats, g, into)?),
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
        self.backward_into(&GradTargets::default())
    }

    /// `backward` with the gradients of the leaves in `targets` written into their buffers (see
    /// `GradTargets`); `Gradients::get` then returns tensors on those buffers.
    pub fn backward_into(&self, targets: &GradTargets) -> Result<Gradients> {
        if !self.tracks_grad() {
            return Err(GraphError::Backward(format!(
                "{self:?} does not depend on any tensor that requires grad (or was computed under no_grad)"
            )));
        }
        no_grad(|| {
            let (order, uses) = topo_order(self);
            let once = |t: &Tensor| uses.get(&t.id()) == Some(&1);
            // Only a leaf with one use: a second contribution would overwrite the first.
            let into = |t: &Tensor| {
                (t.op().is_none() && once(t))
                    .then(|| targets.target_of(t.id()).cloned())
                    .flatten()
            };
            // The same leaves may take their Adam step where their gradient is made.
            let adam = |t: &Tensor| into(t).and_then(|_| targets.adam_of(t));
            let mut grads: HashMap<u64, Tensor> = HashMap::new();
            // A classifier's mean cross-entropy starts at its logits (loss.rs); the nodes
            // between get no gradient and are skipped below.
            match loss::fused_mean_xent(self, &uses)? {
                Some((logits, g)) => grads.insert(logits.id(), g),
                None => grads.insert(self.id(), Tensor::full(self.device(), self.shape(), 1.0)?),
            };
            let mut carry = Carry::default();
            let mut leaves = Gradients::default();
            for node in order.iter().rev() {
                // A linear node whose one consumer already made its dz and db.
                if let (Some((dz, db)), Some(Op::Linear { x, w, bias, .. })) =
                    (carry.pre.remove(&node.id()), node.op())
                {
                    // No db: the head's dispatch took the bias's Adam step (`applied`).
                    let b = bias.as_ref().zip(db);
                    let sinks = (&into as GradInto<'_>, &adam as AdamOf<'_>);
                    for (input, gi) in linear::from_dz((x, w), b, &dz, sinks, &mut carry.applied)? {
                        accumulate(&mut grads, &input, gi)?;
                    }
                    continue;
                }
                let Some(g) = grads.remove(&node.id()) else {
                    continue;
                };
                match node.op() {
                    Some(op) => {
                        let sinks = (
                            &into as GradInto<'_>,
                            &once as Once<'_>,
                            &adam as AdamOf<'_>,
                        );
                        for (input, gi) in node_backward(node, op, &g, sinks, &mut carry)? {
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
            leaves.applied = carry.applied;
            for (id, g) in leaves.grads.iter_mut() {
                if let Some(target) = targets.target_of(*id)
                    && !Arc::ptr_eq(target, g.shared_buffer())
                {
                    // Summed over several uses (or from an op without an in-place path).
                    let dev = g.device();
                    dev.copy(g.buffer(), 0, target, 0, target.bytes())?;
                    *g = Tensor::from_buffer(dev, target.clone(), g.shape())?;
                }
            }
            Ok(leaves)
        })
    }
}
