//! First-use measurement of kernel variants. Where more than one design can run an op (matmul:
//! texture, register tile, shared tiles), its launcher asks `Device::tuned` which to use for the
//! op's shape class on this adapter. The first time, every candidate runs once to warm up
//! (pipeline creation, staging textures) and then `REPS` times, each timing ending with a GPU
//! wait; the fastest is remembered for the device's life, and across processes when a cache file
//! is given (`KILN_AUTOTUNE_CACHE`, JSON, keyed by adapter, driver and kiln version). A candidate
//! that fails (a feature the adapter lacks) is skipped.
//!
//! `Autotune::Auto` (the default) measures on GPUs and keeps the measured rules on CPU adapters,
//! where the texture designs win by 5-8x (README's tables) and measuring would only add waits.
//! Measuring is not the default everywhere because variants sum in different orders: a choice
//! that flipped between two runs would make their results differ in the last bits, and the cache
//! file is what keeps GPU choices stable across runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use crate::context::{Device, lock};
use crate::error::{Result, launch_err};

/// Timed runs per candidate after its warm-up run.
const REPS: usize = 3;

/// When launchers measure variants. `KILN_AUTOTUNE=auto|always|never`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Autotune {
    /// On GPUs; CPU adapters keep the measured rules.
    #[default]
    Auto,
    /// On every adapter.
    Always,
    /// Never: the rules everywhere.
    Never,
}

/// Choices made so far (key -> variant name) and the file they persist to.
pub(crate) struct TuneCache {
    choices: Mutex<HashMap<String, String>>,
    path: Option<PathBuf>,
}

impl TuneCache {
    /// Loads `path` when given. A missing file is an empty cache; an unreadable or corrupt one
    /// is reported on stderr and replaced at the next choice (a cache is not worth failing for).
    pub(crate) fn open(path: Option<&Path>) -> TuneCache {
        let mut choices = HashMap::new();
        if let Some(p) = path {
            match std::fs::read_to_string(p) {
                Ok(text) => match serde_json::from_str::<HashMap<String, String>>(&text) {
                    Ok(map) => choices = map,
                    Err(e) => eprintln!(
                        "kiln: ignoring the autotune cache {} ({e}); it will be rewritten",
                        p.display()
                    ),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => eprintln!("kiln: cannot read the autotune cache {}: {e}", p.display()),
            }
        }
        TuneCache {
            choices: Mutex::new(choices),
            path: path.map(Path::to_path_buf),
        }
    }

    fn save(&self, choices: &HashMap<String, String>) {
        let Some(path) = &self.path else { return };
        // Write a sibling file and rename it over the cache, so a killed process never leaves a
        // half-written cache behind.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let text = serde_json::to_string_pretty(choices).unwrap_or_default();
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&tmp, text))
            .and_then(|_| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            eprintln!(
                "kiln: cannot write the autotune cache {}: {e}",
                path.display()
            );
        }
    }
}

impl Device {
    /// Whether launchers measure their variants on this device (see `Autotune`).
    pub fn autotunes(&self) -> bool {
        match self.inner.autotune {
            Autotune::Auto => !self.info().is_cpu(),
            Autotune::Always => true,
            Autotune::Never => false,
        }
    }

    /// The index of the fastest of `candidates` for `key` (an op and its shape class; the
    /// candidate list is part of the key, since a shape's alignment can rule a design out): the
    /// remembered choice, or a measurement of each with `run(i)`.
    pub(crate) fn tuned(
        &self,
        key: &str,
        candidates: &[&str],
        mut run: impl FnMut(usize) -> Result<()>,
    ) -> Result<usize> {
        if candidates.len() == 1 {
            return Ok(0); // nothing to choose
        }
        let info = self.info();
        let key = format!(
            "{} | {} | kiln {} | {key} | {}",
            info.name,
            info.driver,
            env!("CARGO_PKG_VERSION"),
            candidates.join(", ")
        );
        let known = lock(&self.inner.tune.choices).get(&key).cloned();
        if let Some(i) = known.and_then(|name| candidates.iter().position(|&c| c == name)) {
            return Ok(i);
        }
        // Sync: the batch recorded so far runs first, outside the timings.
        self.synchronize()?;
        let mut best: Option<(f64, usize)> = None;
        let mut last_err = None;
        for i in 0..candidates.len() {
            // Sync: the warm-up run (pipeline creation included) stays out of the timing.
            if let Err(e) = run(i).and_then(|_| self.synchronize()) {
                last_err = Some(e);
                continue;
            }
            let t = Instant::now();
            for _ in 0..REPS {
                run(i)?;
            }
            self.synchronize()?; // Sync: the timed region ends with a GPU wait.
            let s = t.elapsed().as_secs_f64();
            if best.is_none_or(|(b, _)| s < b) {
                best = Some((s, i));
            }
        }
        let Some((_, i)) = best else {
            return Err(last_err.unwrap_or_else(|| launch_err("autotune", "no candidate design")));
        };
        let mut choices = lock(&self.inner.tune.choices);
        choices.insert(key, candidates[i].to_string());
        self.inner.tune.save(&choices);
        Ok(i)
    }

    /// The choices measured or loaded so far, as (key, variant) pairs sorted by key.
    pub fn autotune_choices(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = lock(&self.inner.tune.choices)
            .iter()
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect();
        v.sort();
        v
    }
}
