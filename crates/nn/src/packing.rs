//! Packed trainable weights: every trainable weight of a model as a view of one GPU buffer, with
//! a gradient buffer of the same layout (`Device::pack`). The backward pass writes each weight's
//! gradient straight into its view (`Tensor::backward_into`), so the optimizer updates all
//! weights with one dispatch over the two whole buffers instead of one dispatch per weight
//! (`Optimizer::apply_packed`).
//!
//! The model packs lazily (`Model::packed_weights`): on the first training step, and again
//! whenever its set of trainable weights changed (a layer frozen or unfrozen, a layer added).
//! Packing copies each weight into its view and makes the layer hold a tensor on that view; the
//! weights keep their names, shapes and values, and everything that writes weights in place
//! (`set_weights`, loading a checkpoint) writes through the view.

use std::sync::Arc;

use kiln_device::Packed;
use kiln_graph::{GradTargets, Gradients, Tensor};

use crate::error::{NnError, Result};
use crate::model::Model;

/// A model's trainable weights packed into one buffer, and their gradient targets.
pub struct PackedWeights {
    names: Vec<String>,
    tensors: Vec<Tensor>,
    params: Packed,
    grads: Packed,
    targets: GradTargets,
}

impl std::fmt::Debug for PackedWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedWeights({:?} in {:?})", self.names, self.params)
    }
}

impl PackedWeights {
    /// ("layer/weight", tensor) pairs, in `Model::trainable_weights` order.
    pub fn pairs(&self) -> Vec<(String, Tensor)> {
        self.names
            .iter()
            .cloned()
            .zip(self.tensors.clone())
            .collect()
    }

    /// Where `Tensor::backward_into` should write the gradients.
    pub fn grad_targets(&self) -> &GradTargets {
        &self.targets
    }

    /// Names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Words per weight, in order (the layout of every buffer packed like these weights).
    pub fn part_words(&self) -> &[usize] {
        self.params.part_words()
    }

    /// Every weight, packed (padding between them included).
    pub(crate) fn params(&self) -> &Packed {
        &self.params
    }

    /// Every gradient, same layout.
    pub(crate) fn grads(&self) -> &Packed {
        &self.grads
    }

    /// Whether `grads` holds every weight's gradient, each in its target view, or reports its
    /// update as applied by the pass (then updating the rest of the packed buffers is exactly
    /// the per-weight updates).
    pub(crate) fn complete(&self, grads: &Gradients) -> bool {
        self.tensors
            .iter()
            .zip(self.grads.parts())
            .all(|(t, target)| {
                grads.applied(t)
                    || grads
                        .get(t)
                        .is_some_and(|g| Arc::ptr_eq(g.shared_buffer(), target))
            })
    }

    /// Which weights the backward pass already updated (`Gradients::applied`), in order.
    pub(crate) fn applied(&self, grads: &Gradients) -> Vec<bool> {
        self.tensors.iter().map(|t| grads.applied(t)).collect()
    }

    /// Whether these are exactly the model's current trainable weights, in order.
    fn matches(&self, current: &[(String, Tensor)]) -> bool {
        current.len() == self.tensors.len()
            && current
                .iter()
                .zip(&self.tensors)
                .all(|((_, a), b)| a.id() == b.id())
    }
}

impl Model {
    /// The trainable weights packed into one buffer (module doc), packing them first if the set
    /// of trainable weights changed since the last call. Errors when they cannot be packed: a
    /// custom layer's `weights_mut` does not return its weights, or they do not fit one buffer
    /// binding of this adapter. `Optimizer::apply_gradients` then updates them one by one.
    pub fn packed_weights(&mut self) -> Result<Arc<PackedWeights>> {
        self.try_packed_weights()?.ok_or_else(|| {
            let words: usize = self
                .trainable_weights()
                .iter()
                .map(|(_, t)| t.numel())
                .sum();
            NnError::Config(format!(
                "the trainable weights cannot be packed into one buffer: either a layer's \
                 weights_mut() does not return the weights that weights() lists (see \
                 examples/custom_layer.rs), or their {words} values exceed this adapter's \
                 buffer binding limit; use Optimizer::apply_gradients"
            ))
        })
    }

    /// `packed_weights`, with `None` where packing is not possible (checked before anything is
    /// allocated or swapped, so a model that cannot be packed costs nothing per step).
    pub(crate) fn try_packed_weights(&mut self) -> Result<Option<Arc<PackedWeights>>> {
        let current = self.trainable_weights();
        if let Some(p) = self.packed.as_ref().filter(|p| p.matches(&current)) {
            return Ok(Some(p.clone()));
        }
        let dev = self.device().clone();
        let words: Vec<usize> = current.iter().map(|(_, t)| t.numel()).collect();
        let mut reachable = 0;
        for slot in self.slots.iter_mut().filter(|s| s.trainable) {
            let ids: Vec<u64> = slot
                .layer
                .weights_mut()
                .iter()
                .map(|w| w.value.id())
                .collect();
            reachable += current
                .iter()
                .filter(|(_, t)| ids.contains(&t.id()))
                .count();
        }
        if reachable != current.len() || current.is_empty() || !dev.pack_fits(&words) {
            return Ok(None);
        }
        let params = dev.pack(&words)?;
        let grads = dev.pack(&words)?;
        let mut targets = GradTargets::default();
        let mut tensors = Vec::with_capacity(current.len());
        for ((_, old), (view, target)) in
            current.iter().zip(params.parts().iter().zip(grads.parts()))
        {
            dev.copy(old.buffer(), 0, view, 0, view.bytes())?;
            let t = Tensor::from_buffer(&dev, view.clone(), old.shape())?.requires_grad();
            targets.insert(&t, target.clone())?;
            tensors.push(t);
        }
        // Swap each layer's weight for its packed twin, found by the old tensor's id.
        for slot in self.slots.iter_mut().filter(|s| s.trainable) {
            for w in slot.layer.weights_mut() {
                if let Some(i) = current.iter().position(|(_, t)| t.id() == w.value.id()) {
                    w.value = tensors[i].clone();
                }
            }
        }
        let packed = Arc::new(PackedWeights {
            names: current.into_iter().map(|(n, _)| n).collect(),
            tensors,
            params,
            grads,
            targets,
        });
        self.packed = Some(packed.clone());
        Ok(Some(packed))
    }
}
