//! The tuner: which of an op's designs is fastest for a shape class, measured once and
//! remembered (for the device's life, and across processes in a JSON cache file named by
//! `KILN_AUTOTUNE_CACHE`, keyed by adapter, driver and kiln version). It owns its state and
//! its lock; the timing itself is a closure (`Device::choose` passes one that runs the design
//! between GPU waits), so the bookkeeping is tested without an adapter.
//!
//! `Autotune::Auto` (the default) measures on GPUs and keeps the measured rules on CPU
//! adapters, where the texture designs win by 5-8x (README's tables) and measuring would only
//! add waits. Measuring is not the default everywhere because designs sum in different orders:
//! a choice that flipped between two runs would make their results differ in the last bits,
//! and the cache file is what keeps GPU choices stable across runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Result, launch_err};
use crate::lock::lock;

/// When launchers measure their designs. `KILN_AUTOTUNE=auto|always|never`.
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

/// Remembered choices (full key -> design name) and the file they persist to.
pub(crate) struct Tuner {
    mode: Autotune,
    /// Adapter, driver and kiln version: the part of every key that names this device.
    scope: String,
    choices: Mutex<HashMap<String, String>>,
    path: Option<PathBuf>,
}

impl Tuner {
    /// A tuner for the device described by `scope`, loading `path` when given. A missing file
    /// is an empty cache; an unreadable or corrupt one is reported on stderr and replaced at
    /// the next choice (a cache is not worth failing for).
    pub fn open(mode: Autotune, scope: String, path: Option<&Path>) -> Tuner {
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
        Tuner {
            mode,
            scope,
            choices: Mutex::new(choices),
            path: path.map(Path::to_path_buf),
        }
    }

    /// Whether designs are measured on a device of this kind (see `Autotune`).
    pub fn measures(&self, cpu_adapter: bool) -> bool {
        match self.mode {
            Autotune::Auto => !cpu_adapter,
            Autotune::Always => true,
            Autotune::Never => false,
        }
    }

    /// The cache key: device scope, op shape class, and the designs that could run (a shape's
    /// alignment can rule a design out, so the candidate list is part of the key).
    fn full_key(&self, key: &str, names: &[&str]) -> String {
        format!("{} | {key} | {}", self.scope, names.join(", "))
    }

    /// The remembered choice for `key` among `names`, if any.
    pub fn known(&self, key: &str, names: &[&str]) -> Option<usize> {
        let name = lock(&self.choices)
            .get(&self.full_key(key, names))
            .cloned()?;
        names.iter().position(|&n| n == name)
    }

    /// Measures every design with `time(i)` (seconds; an error skips that design, such as a
    /// feature the adapter lacks), remembers and saves the fastest, and returns its index.
    pub fn measure(
        &self,
        key: &str,
        names: &[&str],
        mut time: impl FnMut(usize) -> Result<f64>,
    ) -> Result<usize> {
        let mut best: Option<(f64, usize)> = None;
        let mut last_err = None;
        for i in 0..names.len() {
            match time(i) {
                Ok(s) if best.is_none_or(|(b, _)| s < b) => best = Some((s, i)),
                Ok(_) => {}
                Err(e) => last_err = Some(e),
            }
        }
        let Some((_, i)) = best else {
            return Err(last_err.unwrap_or_else(|| launch_err("autotune", "no candidate design")));
        };
        let mut choices = lock(&self.choices);
        choices.insert(self.full_key(key, names), names[i].to_string());
        self.save(&choices);
        Ok(i)
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

    /// The choices measured or loaded so far, as (key, design) pairs sorted by key.
    pub fn choices(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = lock(&self.choices)
            .iter()
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kiln-tuner-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("cache.json")
    }

    #[test]
    fn the_fastest_working_design_is_kept_and_survives_a_restart() {
        let path = tmp("restart");
        let t = Tuner::open(Autotune::Always, "gpu".into(), Some(&path));
        let names = ["a", "b", "c"];
        assert_eq!(t.known("mm 64", &names), None);
        let time = |i| match i {
            1 => Err(launch_err("b", "no subgroups")),
            0 => Ok(3.0),
            _ => Ok(2.0),
        };
        let i = t.measure("mm 64", &names, time).unwrap();
        assert_eq!(i, 2, "c is the fastest design that ran");
        assert_eq!(t.known("mm 64", &names), Some(2));
        assert_eq!(
            t.known("mm 64", &names[..2]),
            None,
            "other candidates: other key"
        );
        let again = Tuner::open(Autotune::Always, "gpu".into(), Some(&path));
        assert_eq!(again.known("mm 64", &names), Some(2));
        let other = Tuner::open(Autotune::Always, "another gpu".into(), Some(&path));
        assert_eq!(
            other.known("mm 64", &names),
            None,
            "choices are per adapter"
        );
    }

    #[test]
    fn no_working_design_is_an_error_and_a_corrupt_cache_is_ignored() {
        let path = tmp("corrupt");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{ not json").unwrap();
        let t = Tuner::open(Autotune::Auto, "cpu".into(), Some(&path));
        assert!(t.choices().is_empty());
        let e = t
            .measure("k", &["x"], |_| Err(launch_err("x", "fails")))
            .unwrap_err();
        assert!(e.to_string().contains("fails"), "{e}");
        assert!(t.measures(false) && !t.measures(true));
        assert!(!Tuner::open(Autotune::Never, String::new(), None).measures(false));
    }
}
