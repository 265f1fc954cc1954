//! `Dataset`: an input pipeline in the spirit of `tf.data`. A dataset is a recipe that makes a
//! fresh stream of elements for each pass (`iter(pass)`), so every epoch can reshuffle with a
//! seed derived from the pass, and a resumed run sees the batches an uninterrupted one would.
//! An element holds arrays for the model's inputs (`x`) and targets (`y`) whose first
//! dimension counts its samples: 1 for an example, the batch size after `batch`. Stages are
//! lazy: nothing is read or decoded until a stream is pulled, and `prefetch` / `map_parallel`
//! (threads.rs) run the stages above them on worker threads, behind bounded queues.

use std::sync::Arc;

use crate::array::Array;
use crate::error::{NnError, Result};

mod ops;
mod threads;

/// One element: the inputs and the targets of one example or one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    /// One array per model input, samples first.
    pub x: Vec<Array>,
    /// One array per model output (empty for unlabelled data), samples first.
    pub y: Vec<Array>,
}

impl Element {
    /// Samples in this element (the first dimension of its first array).
    pub fn len(&self) -> usize {
        self.x.first().or(self.y.first()).map_or(0, Array::len)
    }

    /// Whether it holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A stream of elements (one pass over a dataset).
pub type Stream = Box<dyn Iterator<Item = Result<Element>> + Send>;

/// How many elements a pass yields, when that is known (`tf.data`'s cardinality).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cardinality {
    /// Exactly this many.
    Known(usize),
    /// Never ends (`repeat()`).
    Infinite,
    /// Not known before the pass ends (a filter, skipped bad images).
    Unknown,
}

impl Cardinality {
    pub(crate) fn map(self, f: impl Fn(usize) -> usize) -> Cardinality {
        match self {
            Cardinality::Known(n) => Cardinality::Known(f(n)),
            other => other,
        }
    }
}

type Source = dyn Fn(u64) -> Result<Stream> + Send + Sync;

/// A lazy input pipeline; cloning shares its stages (and a `cache`).
#[derive(Clone)]
pub struct Dataset {
    source: Arc<Source>,
    cardinality: Cardinality,
    /// Class names, when the data came from an image folder.
    class_names: Vec<String>,
    /// The files behind the elements, in the order of an unshuffled pass (image folders).
    file_paths: Vec<std::path::PathBuf>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("cardinality", &self.cardinality)
            .field("class_names", &self.class_names)
            .finish_non_exhaustive()
    }
}

impl Dataset {
    /// A dataset from a function making pass `pass`'s stream.
    pub fn from_fn(
        cardinality: Cardinality,
        make: impl Fn(u64) -> Result<Stream> + Send + Sync + 'static,
    ) -> Dataset {
        Dataset {
            source: Arc::new(make),
            cardinality,
            class_names: Vec::new(),
            file_paths: Vec::new(),
        }
    }

    /// One example per sample of the arrays (`tf.data.Dataset.from_tensor_slices((x, y))`):
    /// every array must have the same number of samples.
    pub fn from_tensor_slices(x: Vec<Array>, y: Vec<Array>) -> Result<Dataset> {
        let n = x.first().or(y.first()).map_or(0, Array::len);
        if x.is_empty() && y.is_empty() {
            return Err(NnError::Input(
                "Dataset::from_tensor_slices: give at least one array".into(),
            ));
        }
        if let Some(a) = x.iter().chain(&y).find(|a| a.len() != n) {
            return Err(NnError::Input(format!(
                "Dataset::from_tensor_slices: every array needs the same number of samples \
                 ({n}), but one of shape {:?} has {}",
                a.shape,
                a.len()
            )));
        }
        let data = Arc::new((x, y));
        Ok(Dataset::from_fn(Cardinality::Known(n), move |_| {
            let data = data.clone();
            Ok(Box::new((0..n).map(move |i| {
                Ok(Element {
                    x: data.0.iter().map(|a| a.slice(i, i + 1)).collect(),
                    y: data.1.iter().map(|a| a.slice(i, i + 1)).collect(),
                })
            })) as Stream)
        }))
    }

    /// The stream of pass `pass` (fit uses the epoch; shuffles derive their seed from it).
    pub fn iter(&self, pass: u64) -> Result<Stream> {
        (self.source)(pass)
    }

    /// Elements per pass, when known.
    pub fn cardinality(&self) -> Cardinality {
        self.cardinality
    }

    /// The class names of an image-folder dataset (sorted subfolder names, or as given).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The image files behind an image-folder dataset, in unshuffled order (Keras's
    /// `file_paths`).
    pub fn file_paths(&self) -> &[std::path::PathBuf] {
        &self.file_paths
    }

    pub(crate) fn with_files(
        mut self,
        class_names: Vec<String>,
        files: Vec<std::path::PathBuf>,
    ) -> Self {
        self.class_names = class_names;
        self.file_paths = files;
        self
    }

    /// A new stage over this one, keeping its class names and files.
    pub(crate) fn stage(
        &self,
        cardinality: Cardinality,
        make: impl Fn(&Dataset, u64) -> Result<Stream> + Send + Sync + 'static,
    ) -> Dataset {
        let up = self.clone();
        Dataset {
            source: Arc::new(move |pass| make(&up, pass)),
            cardinality,
            class_names: self.class_names.clone(),
            file_paths: self.file_paths.clone(),
        }
    }

    /// Every element of one pass, in memory (the arrays of a small dataset, for tests).
    pub fn collect(&self, pass: u64) -> Result<Vec<Element>> {
        if self.cardinality == Cardinality::Infinite {
            return Err(NnError::Input(
                "Dataset::collect on an infinite dataset (repeat()): take(n) first".into(),
            ));
        }
        self.iter(pass)?.collect()
    }
}

/// The seed of pass `pass` of a stage seeded with `seed` (each pass reshuffles, reproducibly).
pub(crate) fn pass_seed(seed: u64, pass: u64) -> u64 {
    seed ^ (pass.wrapping_add(1)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}
