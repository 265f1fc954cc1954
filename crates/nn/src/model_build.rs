//! Building a model's graph (each layer built once, in topological order, for the shapes its
//! first call sees; a shared layer's later calls must see the same shapes), the forward pass
//! over the nodes, and the weights as the model names them (`<layer>/<weight>`, nested models
//! adding their own layer's name).

use std::collections::HashMap;

use kiln_graph::Tensor;

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Weight};
use crate::model::Model;

impl Model {
    /// Builds every layer not built yet, for inputs of `input_shapes` (per sample, no batch
    /// dimension) when the inputs' shapes are not known yet. Each weight is checked against
    /// `expected` (name -> shape) before it is allocated when given (`load_model` passes the
    /// file's tensors).
    pub(crate) fn build_graph(
        &mut self,
        input_shapes: Option<&[Vec<usize>]>,
        expected: Option<&HashMap<String, Vec<usize>>>,
    ) -> Result<()> {
        if let Some(shapes) = input_shapes {
            if shapes.len() != self.inputs.len() {
                return Err(NnError::Config(format!(
                    "the model has {} inputs, not {}",
                    self.inputs.len(),
                    shapes.len()
                )));
            }
            for (&i, s) in self.inputs.iter().zip(shapes) {
                match &self.nodes[i].shape {
                    Some(known) if known != s => {
                        return Err(NnError::Config(format!(
                            "input {:?} was built for samples {known:?}, not {s:?}",
                            self.nodes[i].name
                        )));
                    }
                    _ => self.nodes[i].shape = Some(s.clone()),
                }
            }
        }
        for k in 0..self.nodes.len() {
            let Some(l) = self.nodes[k].layer else {
                continue;
            };
            if self.nodes[k].shape.is_some() {
                continue;
            }
            let ins: Option<Vec<Vec<usize>>> = self.nodes[k]
                .inputs
                .iter()
                .map(|&j| self.nodes[j].shape.clone())
                .collect();
            let Some(ins) = ins else {
                return Ok(()); // an input's shape is not known yet (an unbuilt Sequential)
            };
            let slot = &mut self.slots[l];
            let out = match &slot.built {
                Some((built_ins, out)) if *built_ins == ins => out.clone(),
                Some((built_ins, _)) => {
                    return Err(NnError::Config(format!(
                        "layer {:?} is called on inputs {ins:?} but was built for {built_ins:?}: \
                         a layer called twice shares its weights, so it takes the same shapes",
                        slot.name
                    )));
                }
                None => {
                    let mut ctx = BuildCtx::new(&self.device, &mut self.rng, &slot.name, expected);
                    let out = slot.layer.build_inputs(&ins, &mut ctx).map_err(|e| {
                        NnError::Config(format!("building layer {:?}: {e}", slot.name))
                    })?;
                    slot.built = Some((ins, out.clone()));
                    out
                }
            };
            self.nodes[k].shape = Some(out);
        }
        Ok(())
    }

    /// Builds the model for inputs of these per-sample shapes if it is not built yet (a
    /// `Sequential` builds for the first data it sees); a built model checks them.
    pub fn build_for(&mut self, input_shapes: &[Vec<usize>]) -> Result<()> {
        self.build_or_undo(input_shapes, None)
    }

    /// `build_graph` for `input_shapes`, leaving the model as it was when a layer cannot take
    /// what reaches it (layers it built in the attempt are rebuilt by the next one).
    pub(crate) fn build_or_undo(
        &mut self,
        input_shapes: &[Vec<usize>],
        expected: Option<&HashMap<String, Vec<usize>>>,
    ) -> Result<()> {
        if let Some(known) = self.input_shapes() {
            if known != input_shapes {
                let one = |v: &[Vec<usize>]| match v {
                    [s] => format!("{s:?}"),
                    _ => format!("{v:?}"),
                };
                return Err(NnError::Config(format!(
                    "the model was built for inputs {}, not {}",
                    one(&known),
                    one(input_shapes)
                )));
            }
            if self.is_built() {
                return Ok(());
            }
        }
        let was_input: Vec<bool> = self.nodes.iter().map(|n| n.shape.is_some()).collect();
        let unbuilt: Vec<bool> = self.slots.iter().map(|s| s.built.is_none()).collect();
        let result = self.build_graph(Some(input_shapes), expected);
        if result.is_err() {
            for (node, was) in self.nodes.iter_mut().zip(was_input) {
                if !was {
                    node.shape = None;
                }
            }
            for (slot, was) in self.slots.iter_mut().zip(unbuilt) {
                if was {
                    slot.built = None;
                }
            }
        }
        result
    }

    /// Forward pass on a batch of each input (`[batch, *input_shape]`), one tensor per output.
    pub fn call_many(&self, xs: &[Tensor], training: bool) -> Result<Vec<Tensor>> {
        let shapes = self.input_shapes().ok_or_else(|| {
            NnError::Config("the model is not built: call build(input_shape) or fit first".into())
        })?;
        if xs.len() != shapes.len() {
            return Err(NnError::Input(format!(
                "the model takes {} inputs, got {}",
                shapes.len(),
                xs.len()
            )));
        }
        for ((x, want), &node) in xs.iter().zip(&shapes).zip(&self.inputs) {
            if x.shape().len() != want.len() + 1 || &x.shape()[1..] != want.as_slice() {
                let dims: Vec<String> = want.iter().map(|d| d.to_string()).collect();
                return Err(NnError::Input(format!(
                    "the model expects inputs [batch, {}]{}, got {:?}",
                    dims.join(", "),
                    if shapes.len() > 1 {
                        format!(" for {:?}", self.nodes[node].name)
                    } else {
                        String::new()
                    },
                    x.shape()
                )));
            }
        }
        let n = self.calls.get();
        self.calls.set(n.wrapping_add(1));
        let seed = (self.rng.state() as u32) ^ n.wrapping_mul(0x9E37_79B9);
        self.forward(xs, training, true, seed)
    }

    /// Forward pass on a batch of a one-input, one-output model.
    pub fn call(&self, x: &Tensor, training: bool) -> Result<Tensor> {
        let mut out = self.call_many(std::slice::from_ref(x), training)?;
        match out.len() {
            1 => Ok(out.remove(0)),
            n => Err(NnError::Config(format!(
                "the model has {n} outputs: use call_many"
            ))),
        }
    }

    /// The nodes in order; `seed` varies per call, `trainable` is false inside a frozen model.
    pub(crate) fn forward(
        &self,
        xs: &[Tensor],
        training: bool,
        trainable: bool,
        seed: u32,
    ) -> Result<Vec<Tensor>> {
        Ok(self.forward_tapped(xs, training, trainable, seed, &[])?.0)
    }

    /// `forward`, also keeping the values of the nodes `taps` (the activations a callback
    /// inspects): (outputs, tapped values in `taps` order).
    pub(crate) fn forward_tapped(
        &self,
        xs: &[Tensor],
        training: bool,
        trainable: bool,
        seed: u32,
        taps: &[usize],
    ) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let mut values: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        for (&node, x) in self.inputs.iter().zip(xs) {
            values[node] = Some(x.clone());
        }
        // The last node that reads each value: it is dropped there (outputs are kept).
        let mut last = vec![usize::MAX; self.nodes.len()];
        for (k, node) in self.nodes.iter().enumerate() {
            for &j in &node.inputs {
                last[j] = k;
            }
        }
        let mut call_index = 0u32;
        for (k, node) in self.nodes.iter().enumerate() {
            let Some(l) = node.layer else {
                continue;
            };
            let ins: Vec<Tensor> = node
                .inputs
                .iter()
                .map(|&j| values[j].clone())
                .collect::<Option<_>>()
                .ok_or_else(|| NnError::Config("internal: a node ran before its inputs".into()))?;
            let slot = &self.slots[l];
            let ctx = CallCtx {
                training,
                seed: seed ^ call_index.wrapping_mul(0x85EB_CA6B),
                trainable: trainable && slot.trainable,
            };
            call_index += 1;
            let y = slot
                .layer
                .call_inputs(&ins, &ctx)
                .map_err(|e| NnError::Config(format!("layer {:?}: {e}", slot.name)))?;
            values[k] = Some(y);
            for &j in &node.inputs {
                if last[j] == k && !self.outputs.contains(&j) && !taps.contains(&j) {
                    values[j] = None;
                }
            }
        }
        let take = |nodes: &[usize]| -> Result<Vec<Tensor>> {
            nodes
                .iter()
                .map(|&o| {
                    values[o].clone().ok_or_else(|| {
                        NnError::Config("internal: an output was not computed".into())
                    })
                })
                .collect()
        };
        Ok((take(&self.outputs)?, take(taps)?))
    }

    /// Every weight as ("layer/weight", weight), layers in order, kernel before bias.
    pub fn weights(&self) -> Vec<(String, Weight)> {
        self.slots
            .iter()
            .flat_map(|s| {
                s.layer
                    .weights()
                    .into_iter()
                    .map(move |w| (format!("{}/{}", s.name, w.name), w))
            })
            .collect()
    }

    /// The weights the optimizer updates: trainable weights of trainable layers (a nested
    /// model's frozen layers left out).
    pub fn trainable_weights(&self) -> Vec<(String, Tensor)> {
        self.slots
            .iter()
            .filter(|s| s.trainable)
            .flat_map(|s| {
                s.layer
                    .trainable_weights()
                    .into_iter()
                    .map(move |w| (format!("{}/{}", s.name, w.name), w.value))
            })
            .collect()
    }

    /// Freezes (`false`) or unfreezes a layer by name ("outer/inner" inside a nested model): a
    /// frozen layer gets no gradient and no update but keeps (and saves) its weights, and a
    /// frozen BatchNormalization runs in inference mode. Freezing a nested model freezes every
    /// layer in it, as in Keras.
    pub fn set_trainable(&mut self, layer: &str, trainable: bool) -> Result<()> {
        let (head, rest) = match layer.split_once('/') {
            Some((h, r)) => (h, Some(r)),
            None => (layer, None),
        };
        let slot = self
            .slots
            .iter_mut()
            .find(|s| s.name == head)
            .ok_or_else(|| NnError::Config(format!("no layer named {head:?}")))?;
        match rest {
            Some(rest) => slot
                .layer
                .as_model_mut()
                .ok_or_else(|| NnError::Config(format!("layer {head:?} is not a model")))?
                .set_trainable(rest, trainable),
            None => {
                slot.trainable = trainable;
                slot.layer.set_trainable(trainable);
                Ok(())
            }
        }
    }

    /// Freezes or unfreezes every layer (Keras's `model.trainable = ...`).
    pub fn set_all_trainable(&mut self, trainable: bool) {
        for slot in &mut self.slots {
            slot.trainable = trainable;
            slot.layer.set_trainable(trainable);
        }
    }

    /// (total, trainable, non-trainable) parameter counts.
    pub fn count_params(&self) -> (usize, usize, usize) {
        let total: usize = self.weights().iter().map(|(_, w)| w.value.numel()).sum();
        let trainable: usize = self
            .trainable_weights()
            .iter()
            .map(|(_, t)| t.numel())
            .sum();
        (total, trainable, total - trainable)
    }
}
