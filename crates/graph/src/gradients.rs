//! What a backward pass returns and where it writes: `Gradients`, the leaves' gradients by
//! tensor, and `GradTargets`, the buffers a caller wants them in (views of one packed gradient
//! buffer, so one optimizer dispatch updates every weight). A target may also carry the leaf's
//! Adam moments and the step to take: the pass then applies that step where it makes the
//! gradient (`matmul_adam`, on CPU adapters), and the leaf is reported as `applied` instead of
//! having a gradient.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kiln_device::GpuBuffer;
use kiln_device::ops::optim::AdamStep;

use crate::error::{GraphError, Result};
use crate::tensor::Tensor;

/// Gradients of one backward pass, by tensor id. Only tensors that were marked
/// `requires_grad` (the leaves: parameters) are kept.
#[derive(Default)]
pub struct Gradients {
    pub(crate) grads: HashMap<u64, Tensor>,
    pub(crate) applied: HashSet<u64>,
}

impl Gradients {
    /// The gradient of `t`, if it took part in the pass (and its step was not `applied`).
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.grads.get(&t.id())
    }

    /// Removes and returns the gradient of `t`.
    pub fn remove(&mut self, t: &Tensor) -> Option<Tensor> {
        self.grads.remove(&t.id())
    }

    /// Whether the pass applied `t`'s optimizer step itself (`GradTargets::adam_in_place`): `t`
    /// is already updated and has no gradient here.
    pub fn applied(&self, t: &Tensor) -> bool {
        self.applied.contains(&t.id())
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

/// Where leaf gradients should land, by leaf: typically views of one packed gradient buffer
/// (`Device::pack`), so one optimizer dispatch can update every parameter. A leaf used by one
/// op gets its gradient written there by that op's backward kernel; a leaf used more than once
/// gets its summed gradient copied there at the end of the pass. The buffers are overwritten by
/// every pass that reaches their leaf (a gradient returned earlier then shows the new values).
#[derive(Clone, Default)]
pub struct GradTargets {
    by_id: HashMap<u64, Arc<GpuBuffer>>,
    /// Adam's (m, v) of the leaves whose step the pass may apply where it makes the gradient.
    adam: HashMap<u64, (Arc<GpuBuffer>, Arc<GpuBuffer>)>,
    step: Option<AdamStep>,
}

/// A leaf's Adam step to apply in place: the step and the leaf's moments.
pub(crate) struct InPlaceAdam {
    pub step: AdamStep,
    pub m: Arc<GpuBuffer>,
    pub v: Arc<GpuBuffer>,
}

impl GradTargets {
    /// Routes the gradient of `leaf` into `buffer`, which must hold exactly its element count.
    pub fn insert(&mut self, leaf: &Tensor, buffer: Arc<GpuBuffer>) -> Result<()> {
        Self::check(leaf, &buffer, "gradient target")?;
        self.by_id.insert(leaf.id(), buffer);
        Ok(())
    }

    /// Lets the pass apply Adam to `leaf` (which has a target) where its gradient is made, with
    /// moments `m` and `v` (as many values as the leaf), once a step is set (`set_adam_step`).
    /// Where the pass does (a Dense kernel used once, whose weight-gradient product the fused
    /// design takes: `kiln_device::ops::matmul_adam::applies`), the leaf is updated in place,
    /// its target is not written, and `Gradients::applied` says so; the caller's optimizer must
    /// then leave it out. Elsewhere the gradient goes to the target as usual.
    pub fn adam_in_place(
        &mut self,
        leaf: &Tensor,
        m: Arc<GpuBuffer>,
        v: Arc<GpuBuffer>,
    ) -> Result<()> {
        if !self.by_id.contains_key(&leaf.id()) {
            return Err(GraphError::Backward(format!(
                "{leaf:?} has no gradient target: insert one before adam_in_place"
            )));
        }
        Self::check(leaf, &m, "Adam's m")?;
        Self::check(leaf, &v, "Adam's v")?;
        self.adam.insert(leaf.id(), (m, v));
        Ok(())
    }

    /// The Adam step the next pass applies to the `adam_in_place` leaves (`None`: none).
    pub fn set_adam_step(&mut self, step: Option<AdamStep>) {
        self.step = step;
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub(crate) fn target_of(&self, id: u64) -> Option<&Arc<GpuBuffer>> {
        self.by_id.get(&id)
    }

    /// `leaf`'s in-place Adam step, when it has moments and a step is set.
    pub(crate) fn adam_of(&self, leaf: &Tensor) -> Option<InPlaceAdam> {
        let step = self.step?;
        let (m, v) = self.adam.get(&leaf.id())?;
        Some(InPlaceAdam {
            step,
            m: m.clone(),
            v: v.clone(),
        })
    }

    fn check(leaf: &Tensor, buffer: &GpuBuffer, what: &str) -> Result<()> {
        if buffer.words() != leaf.numel() {
            return Err(GraphError::Backward(format!(
                "{what} of {} words for {leaf:?}, which has {} elements",
                buffer.words(),
                leaf.numel()
            )));
        }
        Ok(())
    }
}
