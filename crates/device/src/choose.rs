//! The one chooser of kernel designs. An op with several designs (matmul: texture, register
//! tile, shared tiles; conv2d: column matrix, texture kernels, storage kernels; Adam: textures
//! or buffers) lists the ones that apply to a launch and the one its rule picks, and
//! `Device::choose` returns the design to run: the rule's, unless the device measures
//! (`Device::autotunes`), in which case the first launch of each shape class runs every
//! candidate once to warm up (pipeline creation, staging textures) and then `REPS` times
//! between GPU waits, and the fastest is remembered by the tuner (`tuner.rs`). A caller's
//! explicit design does not come here: it is run as given.

use std::time::Instant;

use crate::context::Device;
use crate::error::Result;

/// Timed runs per candidate after its warm-up run.
const REPS: usize = 3;

impl Device {
    /// Whether launchers measure their designs on this device (see `Autotune`).
    pub fn autotunes(&self) -> bool {
        self.inner.tuner.measures(self.info().is_cpu())
    }

    /// The design to run among `candidates` (design, name), where `rule` is what the op's rule
    /// picks and `key` names the launch's shape class. When measuring, `run(design)` must
    /// launch the op with that design into scratch outputs (it runs `REPS + 1` times).
    pub(crate) fn choose<V: Copy>(
        &self,
        key: impl FnOnce() -> String,
        candidates: &[(V, &'static str)],
        rule: V,
        mut run: impl FnMut(V) -> Result<()>,
    ) -> Result<V> {
        if candidates.len() < 2 || !self.autotunes() {
            return Ok(rule);
        }
        let names: Vec<&str> = candidates.iter().map(|c| c.1).collect();
        let key = key();
        let tuner = &self.inner.tuner;
        if let Some(i) = tuner.known(&key, &names) {
            return Ok(candidates[i].0);
        }
        // Sync: the batch recorded so far runs first, outside the timings.
        self.synchronize()?;
        let i = tuner.measure(&key, &names, |i| {
            let design = candidates[i].0;
            // Sync: the warm-up run (pipeline creation included) stays out of the timing.
            run(design)?;
            self.synchronize()?;
            let t = Instant::now();
            for _ in 0..REPS {
                run(design)?;
            }
            self.synchronize()?; // Sync: the timed region ends with a GPU wait.
            Ok(t.elapsed().as_secs_f64())
        })?;
        Ok(candidates[i].0)
    }

    /// The choices measured or loaded so far, as (key, design) pairs sorted by key.
    pub fn autotune_choices(&self) -> Vec<(String, String)> {
        self.inner.tuner.choices()
    }
}
