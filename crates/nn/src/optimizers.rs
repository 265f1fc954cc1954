//! Optimizers with Keras 3's defaults and update rules (SGD with momentum / Nesterov, Adam,
//! AdamW, RMSprop). Slot variables (moments, velocities) live on the GPU for the whole run.
//! `apply_gradients` records one in-place kernel per parameter; `apply_packed`
//! (`optimizer_packed.rs`) updates a model's packed weights with one kernel over the whole
//! buffer.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use kiln_device::ops::optim::{
    AdamStep, AdamVia, RmspropStep, SgdStep, adam_step, rmsprop_step, sgd_step,
};
use kiln_device::{GpuBuffer, Packed};
use kiln_graph::{Device, GradTargets, Gradients, Tensor};

use crate::error::{NnError, Result};
use crate::packing::PackedWeights;
use crate::schedules::LearningRate;

/// The update rule and its hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// v = momentum v - lr g; p += nesterov ? momentum v - lr g : v.
    Sgd {
        /// Momentum (0 = plain SGD).
        momentum: f32,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// Adam (AdamW when the optimizer's weight decay is set).
    Adam {
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Epsilon.
        epsilon: f32,
    },
    /// RMSprop.
    Rmsprop {
        /// Squared-gradient decay.
        rho: f32,
        /// Momentum.
        momentum: f32,
        /// Epsilon.
        epsilon: f32,
        /// Centered variant.
        centered: bool,
    },
}

/// An optimizer: rule, learning rate (or schedule), decoupled weight decay, iteration count and
/// per-parameter slots keyed by the parameter's name.
pub struct Optimizer {
    pub(crate) rule: Rule,
    pub(crate) learning_rate: LearningRate,
    pub(crate) weight_decay: f32,
    pub(crate) iterations: u64,
    pub(crate) slots: HashMap<String, Vec<Arc<GpuBuffer>>>,
    /// Slots packed like the weights `apply_packed` last saw: (names, one pack per slot).
    pub(crate) packed_slots: Option<(Vec<String>, Vec<Packed>)>,
    /// Gradient targets with Adam applied in place (`step_targets`), for the packed weights
    /// they were made for.
    pub(crate) in_place: Option<(Weak<PackedWeights>, GradTargets)>,
}

impl Optimizer {
    fn with(rule: Rule, lr: impl Into<LearningRate>) -> Self {
        Self {
            rule,
            learning_rate: lr.into(),
            weight_decay: 0.0,
            iterations: 0,
            slots: HashMap::new(),
            packed_slots: None,
            in_place: None,
        }
    }

    /// Keras `SGD(learning_rate=lr)` (Keras's default lr is 0.01).
    pub fn sgd(lr: impl Into<LearningRate>) -> Self {
        Self::with(
            Rule::Sgd {
                momentum: 0.0,
                nesterov: false,
            },
            lr,
        )
    }

    /// SGD with momentum, optionally Nesterov.
    pub fn sgd_momentum(lr: impl Into<LearningRate>, momentum: f32, nesterov: bool) -> Self {
        Self::with(Rule::Sgd { momentum, nesterov }, lr)
    }

    /// Keras `Adam(learning_rate=lr)`: beta1 0.9, beta2 0.999, epsilon 1e-7 (Keras default lr 0.001).
    pub fn adam(lr: impl Into<LearningRate>) -> Self {
        Self::with(
            Rule::Adam {
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-7,
            },
            lr,
        )
    }

    /// Keras `AdamW(learning_rate=lr, weight_decay=wd)` (Keras default wd 0.004).
    pub fn adamw(lr: impl Into<LearningRate>, weight_decay: f32) -> Self {
        Self::adam(lr).weight_decay(weight_decay)
    }

    /// Keras `RMSprop(learning_rate=lr)`: rho 0.9, momentum 0, epsilon 1e-7.
    pub fn rmsprop(lr: impl Into<LearningRate>) -> Self {
        Self::with(
            Rule::Rmsprop {
                rho: 0.9,
                momentum: 0.0,
                epsilon: 1e-7,
                centered: false,
            },
            lr,
        )
    }

    /// Replaces the rule's hyper-parameters.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rule = rule;
        self
    }

    /// Decoupled weight decay: p -= lr * wd * p before each update.
    pub fn weight_decay(mut self, wd: f32) -> Self {
        self.weight_decay = wd;
        self
    }

    /// Keras's class name.
    pub fn name(&self) -> &'static str {
        match (&self.rule, self.weight_decay > 0.0) {
            (Rule::Sgd { .. }, _) => "SGD",
            (Rule::Adam { .. }, false) => "Adam",
            (Rule::Adam { .. }, true) => "AdamW",
            (Rule::Rmsprop { .. }, _) => "RMSprop",
        }
    }

    /// Updates applied so far.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// The learning rate the next update will use.
    pub fn current_learning_rate(&self) -> f32 {
        self.learning_rate.at(self.iterations)
    }

    /// Replaces the learning rate (ReduceLROnPlateau, LearningRateScheduler).
    pub fn set_learning_rate(&mut self, lr: impl Into<LearningRate>) {
        self.learning_rate = lr.into();
    }

    pub(crate) fn slot_count(&self) -> usize {
        match self.rule {
            Rule::Sgd { .. } => 1,
            Rule::Adam { .. } => 2,
            Rule::Rmsprop { .. } => 3,
        }
    }

    /// One update of every `(name, parameter)` from `grads` (Keras `apply_gradients`), one
    /// kernel per parameter. Parameters without a gradient are left alone. Records kernels
    /// only; nothing waits.
    pub fn apply_gradients(
        &mut self,
        device: &Device,
        grads: &Gradients,
        params: &[(String, Tensor)],
    ) -> Result<()> {
        let lr = self.current_learning_rate();
        self.iterations += 1;
        for (name, p) in params {
            let Some(g) = grads.get(p) else { continue };
            if g.shape() != p.shape() {
                return Err(NnError::Config(format!(
                    "gradient of {name} has shape {:?}, the weight {:?}",
                    g.shape(),
                    p.shape()
                )));
            }
            let n = p.numel();
            self.make_slots(device, name, n)?;
            let s: Vec<&GpuBuffer> = self.slots[name].iter().map(|b| &**b).collect();
            self.update(device, lr, g.buffer(), p.buffer(), &s, n)?;
        }
        Ok(())
    }

    /// Zeroed slots for parameter `name` of `n` words, unless it has them.
    fn make_slots(&mut self, device: &Device, name: &str, n: usize) -> Result<()> {
        if !self.slots.contains_key(name) {
            let slots = (0..self.slot_count())
                .map(|_| device.zeros((n * 4) as u64).map(Arc::new))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            self.slots.insert(name.to_string(), slots);
        }
        Ok(())
    }

    /// Makes the state a step over `packed` weights (or else over `params`, one kernel each)
    /// makes on first use: the slots, zeroed or carried over by recorded commands. A training
    /// step calls it before its `Device::mark`, so a rolled-back step keeps that state.
    pub(crate) fn prepare(
        &mut self,
        device: &Device,
        packed: Option<&PackedWeights>,
        params: &[(String, Tensor)],
    ) -> Result<()> {
        match packed {
            Some(w) => self.pack_slots(device, w),
            None => params
                .iter()
                .try_for_each(|(name, p)| self.make_slots(device, name, p.numel())),
        }
    }

    /// Records the rule's in-place kernel over `n` words of g, p and the slots `s`.
    pub(crate) fn update(
        &self,
        device: &Device,
        lr: f32,
        g: &GpuBuffer,
        p: &GpuBuffer,
        s: &[&GpuBuffer],
        n: usize,
    ) -> Result<()> {
        let wd = self.weight_decay;
        match self.rule {
            Rule::Sgd { momentum, nesterov } => {
                let step = SgdStep {
                    lr,
                    momentum,
                    nesterov,
                    weight_decay: wd,
                };
                sgd_step(device, &step, g, p, s[0], n)?
            }
            Rule::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                let step = AdamStep {
                    lr,
                    beta1,
                    beta2,
                    eps: epsilon,
                    weight_decay: wd,
                    t: self.iterations,
                };
                adam_step(device, &step, g, p, s[0], s[1], n, AdamVia::Auto)?
            }
            Rule::Rmsprop {
                rho,
                momentum,
                epsilon,
                centered,
            } => {
                let step = RmspropStep {
                    lr,
                    rho,
                    momentum,
                    eps: epsilon,
                    centered,
                    weight_decay: wd,
                };
                rmsprop_step(device, &step, g, p, s[0], s[1], s[2], n)?
            }
        }
        Ok(())
    }

    /// Slot buffers of a parameter (for saving optimizer state).
    pub fn slots(&self, name: &str) -> Option<&[Arc<GpuBuffer>]> {
        self.slots.get(name).map(Vec::as_slice)
    }
}
