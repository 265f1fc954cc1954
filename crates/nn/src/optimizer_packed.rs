//! The optimizer over a model's packed weights (`packing.rs`): one kernel over the whole packed
//! buffer updates every weight, its slots packed with the same layout (each parameter's slots
//! are views of those packs, so both paths and checkpoints see the same state). With Adam on a
//! CPU adapter, a Dense kernel may take its step in its gradient's dispatch instead
//! (`step_targets`, `GradTargets::adam_in_place`); the packed update then covers the runs of
//! weights around it, one kernel per run.

use std::ops::Range;
use std::sync::{Arc, Weak};

use kiln_device::ops::optim::AdamStep;
use kiln_device::{GpuBuffer, Packed};
use kiln_graph::{Device, GradTargets, Gradients};

use crate::error::Result;
use crate::optimizers::{Optimizer, Rule};
use crate::packing::PackedWeights;

impl Optimizer {
    /// Where a training step's backward pass should write the gradients of `weights`: their own
    /// targets, or with Adam the same targets with this step's update applied in place where the
    /// pass can (`GradTargets::adam_in_place`: a Dense kernel's weight-gradient product on a CPU
    /// adapter). `apply_packed` then updates the rest. Not for steps whose gradients must exist
    /// (a data-parallel all-reduce uses `weights.grad_targets()`).
    pub fn step_targets<'a>(
        &'a mut self,
        device: &Device,
        weights: &'a Arc<PackedWeights>,
    ) -> Result<&'a GradTargets> {
        let Rule::Adam {
            beta1,
            beta2,
            epsilon,
        } = self.rule
        else {
            return Ok(weights.grad_targets());
        };
        self.pack_slots(device, weights)?;
        let made_for =
            |(w, _): &(Weak<PackedWeights>, GradTargets)| Weak::ptr_eq(w, &Arc::downgrade(weights));
        if !self.in_place.as_ref().is_some_and(made_for) {
            let mut targets = weights.grad_targets().clone();
            let (_, packs) = self.packed_slots.as_ref().expect("packed above");
            for (i, (_, w)) in weights.pairs().iter().enumerate() {
                let (m, v) = (packs[0].parts()[i].clone(), packs[1].parts()[i].clone());
                targets.adam_in_place(w, m, v)?;
            }
            self.in_place = Some((Arc::downgrade(weights), targets));
        }
        let step = AdamStep {
            lr: self.current_learning_rate(),
            beta1,
            beta2,
            eps: epsilon,
            weight_decay: self.weight_decay,
            t: self.iterations + 1,
        };
        let (_, targets) = self.in_place.as_mut().expect("made above");
        targets.set_adam_step(Some(step));
        Ok(targets)
    }

    /// `apply_gradients` for a model's packed weights, whose gradients `backward_into` wrote
    /// into `weights.grad_targets()` (or `step_targets`): one kernel over the whole packed
    /// buffer updates them all, or one per run of weights the pass did not update itself.
    /// Falls back to one kernel per weight when a gradient is missing or elsewhere.
    pub fn apply_packed(
        &mut self,
        device: &Device,
        grads: &Gradients,
        weights: &PackedWeights,
    ) -> Result<()> {
        if !weights.complete(grads) {
            return self.apply_gradients(device, grads, &weights.pairs());
        }
        self.step_packed(device, weights, &weights.applied(grads))
    }

    /// One update of every packed weight from the packed gradient buffer as it stands (a
    /// data-parallel step writes the all-reduced gradients there), except those `skip` marks
    /// (already updated by the backward pass).
    pub(crate) fn step_packed(
        &mut self,
        device: &Device,
        weights: &PackedWeights,
        skip: &[bool],
    ) -> Result<()> {
        self.pack_slots(device, weights)?;
        let lr = self.current_learning_rate();
        self.iterations += 1;
        let (_, packs) = self.packed_slots.as_ref().expect("packed above");
        let (g, p) = (weights.grads(), weights.params());
        if !skip.contains(&true) {
            let s: Vec<&GpuBuffer> = packs.iter().map(|p| &**p.whole()).collect();
            // Padding between parts is zero in all four buffers and the update keeps it zero.
            return self.update(device, lr, g.whole(), p.whole(), &s, p.whole().words());
        }
        for run in runs(skip) {
            let span = |pack: &Packed| pack.span(run.clone()).expect("a run of the packed parts");
            let s: Vec<GpuBuffer> = packs.iter().map(span).collect();
            let s: Vec<&GpuBuffer> = s.iter().collect();
            let (g, p) = (span(g), span(p));
            self.update(device, lr, &g, &p, &s, p.words())?;
        }
        Ok(())
    }

    /// Packs the slots like `weights` (unless already so), carrying over existing values (from
    /// earlier per-weight steps or a loaded checkpoint); each weight's slots become views.
    pub(crate) fn pack_slots(&mut self, device: &Device, weights: &PackedWeights) -> Result<()> {
        let names = weights.names();
        if self.packed_slots.as_ref().is_some_and(|(n, packs)| {
            n == names && packs.iter().all(|p| p.part_words() == weights.part_words())
        }) {
            return Ok(());
        }
        let packs = (0..self.slot_count())
            .map(|_| device.pack(weights.part_words()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for (i, name) in names.iter().enumerate() {
            let views: Vec<Arc<GpuBuffer>> = packs.iter().map(|p| p.parts()[i].clone()).collect();
            if let Some(old) = self.slots.get(name) {
                for (o, v) in old.iter().zip(&views) {
                    device.copy(o, 0, v, 0, v.bytes().min(o.bytes()))?;
                }
            }
            self.slots.insert(name.clone(), views);
        }
        self.packed_slots = Some((names.to_vec(), packs));
        Ok(())
    }
}

/// The runs of consecutive parts `skip` does not mark, as ranges of part indices.
fn runs(skip: &[bool]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &s) in skip.iter().chain([&true]).enumerate() {
        match (s, start) {
            (false, None) => start = Some(i),
            (true, Some(a)) => {
                out.push(a..i);
                start = None;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_are_the_unskipped_stretches() {
        let runs = |s: &[bool]| super::runs(s);
        assert_eq!(runs(&[true, false, false]), vec![1..3]);
        assert_eq!(runs(&[false, true, false, true]), vec![0..1, 2..3]);
        assert_eq!(runs(&[true, true]), vec![]);
        assert_eq!(runs(&[false, false]), vec![0..2]);
    }
}
