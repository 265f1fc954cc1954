//! The backward pass of a linear (Dense) node y = act(x w + b): the general path (the
//! activation and bias gradient, then the two products), the one-dispatch path of a narrow
//! layer on a CPU adapter (`dense_backward.wgsl`), and that path's fold of the layer before it,
//! whose pre-activation and bias gradients then wait in a `PreActivation` map for its turn. A
//! kernel with an in-place Adam step (`GradTargets::adam_in_place`) takes that step in the
//! dispatch that makes its gradient where the fused design applies (`matmul_adam`).

use std::collections::{HashMap, HashSet};

use kiln_device::Activation;

use crate::backward::{AdamOf, Carry, GradInto, Once, dz_and_db};
use crate::error::Result;
use crate::op::Op;
use crate::ops::matmul;
use crate::tensor::Tensor;

/// Gradients a consumer computed for a linear node ahead of its turn, by node id: d loss / dz
/// of its pre-activation z and its bias gradient (made by `node_backward` below; `None` where
/// that dispatch took the bias's Adam step instead).
pub(crate) type PreActivation = HashMap<u64, (Tensor, Option<Tensor>)>;

/// dx, dw (and db when given) of a linear node y = act(x w + b) from dz = d loss / dz. Where
/// `adam` gives w's in-place Adam step and the fused design takes x^T dz, w is updated by that
/// dispatch instead and recorded in `applied` (after dx, which reads w, has been recorded).
pub(crate) fn from_dz(
    (x, w): (&Tensor, &Tensor),
    b: Option<(&Tensor, Tensor)>,
    dz: &Tensor,
    (into, adam): (GradInto<'_>, AdamOf<'_>),
    applied: &mut HashSet<u64>,
) -> Result<Vec<(Tensor, Tensor)>> {
    let mut out = Vec::new();
    let plain = (false, false);
    if x.tracks_grad() {
        let dx = matmul::matmul_backward(x, w, plain, dz, false, None)?;
        out.push((x.clone(), dx));
    }
    if w.tracks_grad() {
        match adam(w) {
            Some(a) if matmul::weight_grad_adam(x, w, dz, &a)? => {
                applied.insert(w.id());
            }
            _ => {
                let dw = matmul::matmul_backward(x, w, plain, dz, true, into(w))?;
                out.push((w.clone(), dw));
            }
        }
    }
    out.extend(b.map(|(b, db)| (b.clone(), db)));
    Ok(out)
}

/// Input gradients of linear node `node` (the layer `(x, w, bias, act)`) from its gradient g.
/// y = act(z), z = x w + b: dz = g act'(z); then dx, dw as for matmul, db = sum dz (in dz's pass
/// where the kernel applies). A narrow layer on a CPU adapter has all of it from one dispatch,
/// which also takes its input's layer, x = act_p(z_p), when nothing else reads x: dz_p and db_p
/// then wait in `carry` for x's turn.
pub(crate) fn node_backward(
    node: &Tensor,
    (x, w, bias, act): (&Tensor, &Tensor, Option<&Tensor>, Activation),
    g: &Tensor,
    (into, once, adam): (GradInto<'_>, Once<'_>, AdamOf<'_>),
    carry: &mut Carry,
) -> Result<Vec<(Tensor, Tensor)>> {
    let tracked = |t: &Tensor| t.tracks_grad();
    let b = bias.filter(|b| tracked(b));
    if let Some(b) = b.filter(|_| tracked(x) && tracked(w)) {
        let prev = match x.op() {
            Some(Op::Linear {
                bias: Some(bp),
                act: ap,
                ..
            }) if tracked(bp) && once(x) => Some((*ap, bp)),
            _ => None,
        };
        let sinks = (into, adam);
        if let Some(f) = matmul::linear_backward_fused((x, w, b), node, act, g, sinks, prev)? {
            if f.applied {
                carry.applied.extend([w.id(), b.id()]);
                carry.applied.extend(prev.map(|(_, bp)| bp.id()));
            }
            let mut out: Vec<(Tensor, Tensor)> = [(w, f.dw), (b, f.db)]
                .into_iter()
                .filter_map(|(t, g)| g.map(|g| (t.clone(), g)))
                .collect();
            if f.folded {
                carry.pre.insert(x.id(), (f.dx, f.db_prev));
            } else {
                out.push((x.clone(), f.dx));
            }
            return Ok(out);
        }
    }
    let (dz, db) = dz_and_db(node, act, g, b, into, matmul::bias_backward)?;
    from_dz((x, w), b.zip(db), &dz, (into, adam), &mut carry.applied)
}
