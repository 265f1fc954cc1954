//! `RunStore`: every run under the logdir, followed while training writes it. A scan (at most
//! every `RESCAN` apart) finds the directories holding event files; each file is read from the
//! offset its last read stopped at, so only appended records are decoded, and a half-written
//! last record is read again once complete (as TensorBoard does). A damaged record stops that
//! file there and is reported in the run's `problems`.
//!
//! The scan does not follow symbolic links and stays below `MAX_DEPTH` levels, so a link cannot
//! lead it out of the logdir or round in a loop.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kiln_summary::{EventReader, SummaryError};

use crate::run_data::RunData;

/// Minimum time between two directory scans.
const RESCAN: Duration = Duration::from_millis(500);
/// How deep below the logdir runs are looked for.
const MAX_DEPTH: usize = 8;
/// Subdirectories that are splits of their parent's run (Keras's layout).
const SPLITS: [&str; 2] = ["train", "validation"];

/// One run: its directory and what its files said so far.
#[derive(Clone, Debug)]
pub struct Run {
    /// Path relative to the logdir ("." for the logdir itself), '/'-separated.
    pub name: String,
    /// The run directory.
    pub dir: PathBuf,
    /// Its contents.
    pub data: RunData,
}

struct Followed {
    run: Run,
    /// Event file -> (split, offset read up to; None once damaged).
    files: HashMap<PathBuf, (String, Option<u64>)>,
}

struct Inner {
    runs: BTreeMap<String, Followed>,
    scanned: Option<Instant>,
}

/// The runs of a logdir.
pub struct RunStore {
    root: PathBuf,
    inner: Mutex<Inner>,
}

impl RunStore {
    /// Follows the runs under `logdir` (which must be a directory).
    pub fn open(logdir: &Path) -> anyhow::Result<Self> {
        let root = logdir.canonicalize().map_err(|e| {
            anyhow::anyhow!(
                "--logdir {}: {e} (give the directory your TensorBoard callback writes to)",
                logdir.display()
            )
        })?;
        anyhow::ensure!(
            root.is_dir(),
            "--logdir {} is not a directory",
            logdir.display()
        );
        Ok(Self {
            root,
            inner: Mutex::new(Inner {
                runs: BTreeMap::new(),
                scanned: None,
            }),
        })
    }

    /// The canonical logdir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `f` of every run, refreshed (under the store's lock: nothing is copied but what `f`
    /// returns).
    pub fn map_runs<T>(&self, f: impl FnMut(&Run) -> T) -> Vec<T> {
        let inner = self.refreshed();
        inner.runs.values().map(|r| &r.run).map(f).collect()
    }

    /// `f` of one run by name, refreshed.
    pub fn with_run<T>(&self, name: &str, f: impl FnOnce(&Run) -> T) -> Option<T> {
        let inner = self.refreshed();
        inner.runs.get(name).map(|r| f(&r.run))
    }

    /// One run by name, refreshed (a copy).
    pub fn run(&self, name: &str) -> Option<Run> {
        self.with_run(name, Run::clone)
    }

    fn refreshed(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters (a file is at worst read again), so a poisoned lock is taken as is.
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.scanned.is_none_or(|t| t.elapsed() >= RESCAN) {
            let mut found = Vec::new();
            scan(&self.root, &mut found);
            for (dir, file) in found {
                let (run_dir, split) = split_of(&self.root, &dir);
                let name = run_name(&self.root, &run_dir);
                let entry = inner.runs.entry(name.clone()).or_insert_with(|| Followed {
                    run: Run {
                        name,
                        dir: run_dir,
                        data: RunData::default(),
                    },
                    files: HashMap::new(),
                });
                entry.files.entry(file).or_insert((split, Some(0)));
            }
            inner.scanned = Some(Instant::now());
        }
        for f in inner.runs.values_mut() {
            let mut files: Vec<_> = f.files.iter_mut().collect();
            files.sort_by(|a, b| a.0.cmp(b.0));
            for (path, (split, offset)) in files {
                read_new(path, split, offset, &mut f.run.data);
            }
        }
        inner
    }
}

/// Reads the records appended to `path` since `offset`.
fn read_new(path: &Path, split: &str, offset: &mut Option<u64>, data: &mut RunData) {
    let Some(at) = *offset else { return };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > at => {}
        _ => return,
    }
    let mut reader = match EventReader::open_at(path, at) {
        Ok(r) => r,
        Err(e) => {
            data.problems.push(e.to_string());
            *offset = None;
            return;
        }
    };
    for event in reader.by_ref() {
        match event {
            Ok(e) => data.ingest(split, &e),
            Err(SummaryError::Truncated { .. }) => break,
            Err(e) => {
                data.problems.push(e.to_string());
                *offset = None;
                return;
            }
        }
    }
    *offset = Some(reader.offset());
}

/// Directories (not symlinks) under `dir` holding event files, with each file.
fn scan(dir: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
    walk_files(dir, MAX_DEPTH, &mut |parent, file| {
        if file
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."))
        {
            out.push((parent.to_path_buf(), file.to_path_buf()));
        }
    });
}

/// Calls `visit(directory, file)` for every regular file under `dir`, in sorted order, at most
/// `depth` directories down, never following a symbolic link (so a walk cannot leave `dir` or
/// loop).
pub(crate) fn walk_files(dir: &Path, depth: usize, visit: &mut dyn FnMut(&Path, &Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() && depth > 0 {
            walk_files(&e.path(), depth - 1, visit);
        } else if kind.is_file() {
            visit(dir, &e.path());
        }
    }
}

/// (run directory, split) of a directory holding event files.
fn split_of(root: &Path, dir: &Path) -> (PathBuf, String) {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    match (name, dir.parent()) {
        (Some(n), Some(parent)) if SPLITS.contains(&n.as_str()) && dir != root => {
            (parent.to_path_buf(), n)
        }
        _ => (dir.to_path_buf(), String::new()),
    }
}

/// A run directory's name relative to the logdir.
fn run_name(root: &Path, dir: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => dir.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_summary::EventWriter;

    #[test]
    fn runs_are_keras_log_dirs_and_grow_while_written() {
        let root = std::env::temp_dir().join(format!("kiln-studio-runs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut a = EventWriter::create(root.join("a/train")).unwrap();
        let mut b = EventWriter::create(root.join("a/validation")).unwrap();
        let mut c = EventWriter::create(root.join("trial_1/execution0/train")).unwrap();
        a.add_scalar("epoch_loss", 1.0, 0).unwrap();
        b.add_scalar("epoch_loss", 2.0, 0).unwrap();
        c.add_scalar("epoch_loss", 3.0, 0).unwrap();
        for w in [&mut a, &mut b, &mut c] {
            w.flush().unwrap();
        }
        let store = RunStore::open(&root).unwrap();
        let names: Vec<String> = store.map_runs(|r| r.name.clone());
        assert_eq!(names, ["a", "trial_1/execution0"]);
        let run = store.run("a").unwrap();
        assert_eq!(run.data.scalars["train/epoch_loss"].len(), 1);
        assert_eq!(run.data.scalars["validation/epoch_loss"][0].value, 2.0);
        a.add_scalar("epoch_loss", 0.5, 1).unwrap();
        a.flush().unwrap();
        let pts = &store.run("a").unwrap().data.scalars["train/epoch_loss"];
        assert_eq!(pts.iter().map(|p| p.value).collect::<Vec<_>>(), [1.0, 0.5]);
        assert!(store.run("nope").is_none());
        assert!(RunStore::open(&root.join("missing")).is_err());
        let _ = std::fs::remove_dir_all(&root);
    }
}
