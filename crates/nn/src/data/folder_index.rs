//! Indexing an image folder as Keras's `index_directory` does: one subfolder per class
//! (hidden ones skipped, names sorted, or `class_names` checked against them), the files with
//! an image extension found by a walk in sorted path order, labels per class or as given, and
//! the list shuffled with NumPy's `RandomState(seed)`, file paths and labels alike.

use std::path::{Path, PathBuf};

use crate::data::data_err;
use crate::data::image_folder::{ImageFolder, LabelMode, Labels};
use crate::data::numpy_rng::RandomState;
use crate::error::Result;

/// Keras's accepted extensions (compared lower-cased).
const FORMATS: [&str; 5] = [".bmp", ".gif", ".jpeg", ".jpg", ".png"];

/// The indexed folder: files and labels in Keras's order, before shuffling.
pub(crate) struct Index {
    pub files: Vec<PathBuf>,
    pub labels: Vec<u32>,
    pub class_names: Vec<String>,
}

impl ImageFolder {
    /// Files and labels in Keras's order: shuffled with `RandomState(seed)` when asked.
    pub(crate) fn index(&self) -> Result<Index> {
        let dir = &self.directory;
        if !dir.is_dir() {
            return Err(self.err("the folder does not exist (or is not a folder)"));
        }
        let subdirs = self.class_folders()?;
        let mut files = Vec::new();
        let mut labels = Vec::new();
        let inferred = self.labels == Labels::Inferred;
        let roots: Vec<PathBuf> = match inferred {
            true => subdirs.iter().map(|s| dir.join(s)).collect(),
            false => vec![dir.clone()],
        };
        for (class, root) in roots.iter().enumerate() {
            let found = walk(root, self.follow_links).map_err(|e| self.err(e))?;
            if inferred && found.is_empty() {
                return Err(data_err(
                    root,
                    "this class folder holds no images (.bmp, .gif, .jpeg, .jpg, .png)",
                ));
            }
            labels.extend(std::iter::repeat_n(class as u32, found.len()));
            files.extend(found);
        }
        if files.is_empty() {
            return Err(self.err("no images (.bmp, .gif, .jpeg, .jpg, .png) found"));
        }
        let mut labels = match &self.labels {
            Labels::Given(given) if given.len() != files.len() => {
                return Err(self.err(format!(
                    "{} labels were given but the folder holds {} images (labels go in the \
                     sorted order of the files)",
                    given.len(),
                    files.len()
                )));
            }
            Labels::Given(given) => given.clone(),
            _ => labels,
        };
        let class_names = match &self.labels {
            Labels::Inferred => subdirs,
            Labels::Given(g) => (0..=g.iter().copied().max().unwrap_or(0))
                .map(|i| i.to_string())
                .collect(),
            Labels::None => Vec::new(),
        };
        if self.label_mode == LabelMode::Binary && class_names.len() != 2 {
            return Err(self.err(format!(
                "label_mode binary needs exactly 2 classes, found {}: {class_names:?}",
                class_names.len()
            )));
        }
        if self.shuffle {
            // Keras: RandomState(seed).shuffle(file_paths), then the same for the labels.
            let seed = self.seed.unwrap_or_else(random_seed) as u32;
            RandomState::new(seed).shuffle(&mut files);
            RandomState::new(seed).shuffle(&mut labels);
        }
        Ok(Index {
            files,
            labels,
            class_names,
        })
    }

    /// The class subfolders, sorted (or `class_names`, checked against them).
    pub(crate) fn class_folders(&self) -> Result<Vec<String>> {
        if self.labels != Labels::Inferred {
            return Ok(Vec::new());
        }
        let mut found: Vec<String> = std::fs::read_dir(&self.directory)
            .map_err(|e| self.err(format!("cannot list: {e}")))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| !n.starts_with('.'))
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(self.err(
                "no class subfolders: labels are inferred from one subfolder per class \
                 (use labels None for a flat folder of images)",
            ));
        }
        match &self.class_names {
            None => Ok(found),
            Some(names) => {
                if let Some(missing) = names.iter().find(|n| !found.contains(n)) {
                    return Err(self.err(format!(
                        "class_names has {missing:?}, which is not a subfolder; subfolders: {found:?}"
                    )));
                }
                Ok(names.clone())
            }
        }
    }
}

fn random_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64 % 1_000_000)
}

/// The image files under `root`, as Keras walks: directories in sorted path order, files
/// sorted within each, extensions compared lower-cased.
fn walk(root: &Path, follow_links: bool) -> std::result::Result<Vec<PathBuf>, String> {
    let mut dirs = vec![root.to_path_buf()];
    let mut listed: Vec<(String, Vec<String>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    while let Some(dir) = dirs.pop() {
        // A link cycle would walk forever: each real folder is listed once.
        if let Ok(real) = std::fs::canonicalize(&dir)
            && !seen.insert(real)
        {
            continue;
        }
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let mut files = Vec::new();
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            if path.is_dir() {
                if !is_link || follow_links {
                    dirs.push(path);
                }
            } else if let Some(name) = entry.file_name().to_str() {
                let lower = name.to_lowercase();
                if FORMATS.iter().any(|f| lower.ends_with(f)) {
                    files.push(name.to_string());
                }
            }
        }
        files.sort();
        listed.push((dir.to_string_lossy().into_owned(), files));
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(listed
        .into_iter()
        .flat_map(|(dir, files)| files.into_iter().map(move |f| Path::new(&dir).join(f)))
        .collect())
}
