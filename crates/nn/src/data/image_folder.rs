//! `image_dataset_from_directory`: Keras's function, argument for argument. The folder is
//! indexed as Keras indexes it (one subfolder per class, class names sorted, files with an
//! image extension found by a sorted walk), shuffled with NumPy's `RandomState(seed)` as Keras
//! does before it takes the validation split off the end, so a seed selects the same files
//! for each subset as in Keras. Images are decoded lazily, on worker threads, into batches.

use std::path::{Path, PathBuf};

use crate::array::Array;
use crate::data::data_err;
use crate::data::images::{ColorMode, Interpolation, decode};
use crate::dataset::{Dataset, Element};
use crate::error::{NnError, Result};

/// Where labels come from (Keras's `labels`).
#[derive(Clone, Debug, PartialEq)]
pub enum Labels {
    /// One subfolder per class.
    Inferred,
    /// One integer per image file, in the sorted order of the files.
    Given(Vec<u32>),
    /// No labels.
    None,
}

/// How labels are encoded (Keras's `label_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelMode {
    /// u32 class indices (for sparse categorical cross-entropy).
    Int,
    /// f32 one-hot vectors.
    Categorical,
    /// f32 0 or 1, shape [1] (exactly two classes).
    Binary,
    /// No labels.
    None,
}

/// Which part of a validation split (Keras's `subset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subset {
    /// All but the last `validation_split` of the (shuffled) files.
    Training,
    /// The last `validation_split` of them.
    Validation,
}

/// What to do with an image that cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBadImage {
    /// Fail the pass with an error naming the file (the default).
    Error,
    /// Leave it out, with a warning naming it.
    Skip,
}

/// Keras's `image_dataset_from_directory` arguments; `image_dataset_from_directory(dir)`
/// starts from Keras's defaults.
#[derive(Clone, Debug)]
pub struct ImageFolder {
    /// The folder.
    pub directory: PathBuf,
    /// Where labels come from.
    pub labels: Labels,
    /// How they are encoded.
    pub label_mode: LabelMode,
    /// The classes (subfolder names) in label order; `None` takes every subfolder, sorted.
    pub class_names: Option<Vec<String>>,
    /// Channels.
    pub color_mode: ColorMode,
    /// Images per batch; `None` yields single images.
    pub batch_size: Option<usize>,
    /// (height, width) every image is resized to.
    pub image_size: (usize, usize),
    /// Shuffle the files (and each pass's order).
    pub shuffle: bool,
    /// Seed of the shuffles.
    pub seed: Option<u64>,
    /// Fraction held out for validation.
    pub validation_split: Option<f32>,
    /// Resize method.
    pub interpolation: Interpolation,
    /// Follow symbolic links to folders.
    pub follow_links: bool,
    /// Centre-crop to the target aspect ratio before resizing.
    pub crop_to_aspect_ratio: bool,
    /// What an undecodable image does.
    pub on_bad_image: OnBadImage,
    /// Decoding threads (the adapter's cores by default).
    pub threads: usize,
}

/// Keras's defaults for `directory`: inferred int labels, RGB, batches of 32, 256x256,
/// bilinear, shuffled.
pub fn image_dataset_from_directory(directory: impl AsRef<Path>) -> ImageFolder {
    ImageFolder {
        directory: directory.as_ref().to_path_buf(),
        labels: Labels::Inferred,
        label_mode: LabelMode::Int,
        class_names: None,
        color_mode: ColorMode::Rgb,
        batch_size: Some(32),
        image_size: (256, 256),
        shuffle: true,
        seed: None,
        validation_split: None,
        interpolation: Interpolation::Bilinear,
        follow_links: false,
        crop_to_aspect_ratio: false,
        on_bad_image: OnBadImage::Error,
        threads: std::thread::available_parallelism().map_or(2, usize::from),
    }
}

impl ImageFolder {
    /// Sets `image_size` (height, width).
    pub fn image_size(mut self, height: usize, width: usize) -> Self {
        self.image_size = (height, width);
        self
    }
    /// Sets the colour mode.
    pub fn color_mode(mut self, mode: ColorMode) -> Self {
        self.color_mode = mode;
        self
    }
    /// Sets the batch size (`None`: single images).
    pub fn batch_size(mut self, size: Option<usize>) -> Self {
        self.batch_size = size;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// Sets the validation fraction.
    pub fn validation_split(mut self, fraction: f32) -> Self {
        self.validation_split = Some(fraction);
        self
    }
    /// Sets the label encoding.
    pub fn label_mode(mut self, mode: LabelMode) -> Self {
        self.label_mode = mode;
        self
    }
    /// Sets whether to shuffle.
    pub fn shuffle(mut self, yes: bool) -> Self {
        self.shuffle = yes;
        self
    }

    /// The class names the folder's labels stand for, in label order: its class subfolders
    /// sorted, hidden ones skipped (or `class_names`, checked against them), as Keras's
    /// `dataset.class_names`.
    pub fn class_names(&self) -> Result<Vec<String>> {
        self.class_folders()
    }

    /// The whole folder (no `validation_split`).
    pub fn load(&self) -> Result<Dataset> {
        if self.validation_split.is_some() {
            return Err(self.err(
                "validation_split is set: load a subset with load_subset(...) or load_both()",
            ));
        }
        let index = self.index()?;
        self.dataset(index.files, index.labels, index.class_names, true)
    }

    /// One subset of a validation split.
    pub fn load_subset(&self, subset: Subset) -> Result<Dataset> {
        let (train, val) = self.split()?;
        Ok(match subset {
            Subset::Training => train,
            Subset::Validation => val,
        })
    }

    /// Both subsets (Keras's `subset="both"`), training first.
    pub fn load_both(&self) -> Result<(Dataset, Dataset)> {
        self.split()
    }

    pub(crate) fn err(&self, message: impl Into<String>) -> NnError {
        data_err(
            &self.directory,
            format!("image_dataset_from_directory: {}", message.into()),
        )
    }

    fn split(&self) -> Result<(Dataset, Dataset)> {
        let Some(fraction) = self.validation_split else {
            return Err(self.err("a subset needs validation_split"));
        };
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(self.err(format!(
                "validation_split must be between 0 and 1, got {fraction}"
            )));
        }
        if self.shuffle && self.seed.is_none() {
            return Err(self.err(
                "with validation_split and shuffle, give a seed, so the training and validation \
                 subsets do not overlap (Keras asks the same)",
            ));
        }
        let index = self.index()?;
        let n = index.files.len();
        let val = (fraction as f64 * n as f64) as usize;
        let (tf, vf) = index.files.split_at(n - val);
        let (tl, vl) = index.labels.split_at(n - val);
        let names = index.class_names;
        Ok((
            self.dataset(tf.to_vec(), tl.to_vec(), names.clone(), true)?,
            self.dataset(vf.to_vec(), vl.to_vec(), names, false)?,
        ))
    }

    fn dataset(
        &self,
        files: Vec<PathBuf>,
        labels: Vec<u32>,
        names: Vec<String>,
        training: bool,
    ) -> Result<Dataset> {
        let (h, w) = self.image_size;
        if h == 0 || w == 0 {
            return Err(self.err(format!(
                "image_size must be positive, got {:?}",
                self.image_size
            )));
        }
        let n = files.len();
        let classes = names.len();
        let shared = std::sync::Arc::new((files.clone(), labels));
        let indices = Array::u32((0..n as u32).collect(), &[n])?;
        let mut ds = Dataset::from_tensor_slices(vec![indices], vec![])?;
        if self.shuffle && training {
            let buffer = self.batch_size.unwrap_or(1) * 8;
            ds = ds.shuffle(buffer, self.seed.unwrap_or(0));
        }
        // Keras: no labels means no label mode.
        let label_mode = match self.labels {
            Labels::None => LabelMode::None,
            _ => self.label_mode,
        };
        let (mode, how, crop, skip) = (
            self.color_mode,
            self.interpolation,
            self.crop_to_aspect_ratio,
            self.on_bad_image,
        );
        // Batches of indices go to the decode threads, so a thread hands over a whole batch
        // at a time (per image, the channel handoffs cost more than decoding a small PNG).
        ds = ds.batch(self.batch_size.unwrap_or(1), false)?;
        ds = ds.map_parallel(self.threads, move |e| {
            let mut images = Vec::new();
            let mut labels = Vec::new();
            for &i in e.x[0].as_u32().unwrap_or_default() {
                let path = &shared.0[i as usize];
                let pixels = match decode(path, mode) {
                    Ok(p) => p,
                    Err(e) if skip == OnBadImage::Skip => {
                        eprintln!("kiln: skipping {} ({e})", path.display());
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let pixels = if crop {
                    pixels.crop_to_aspect(h, w)
                } else {
                    pixels
                };
                images.push(Array::f32(
                    pixels.resize(h, w, how).values,
                    &[1, h, w, mode.channels()],
                )?);
                labels.extend(label(shared.1[i as usize], classes, label_mode)?);
            }
            if images.is_empty() {
                return Ok(Element {
                    x: vec![],
                    y: vec![],
                });
            }
            let x = Array::concat(&images.iter().collect::<Vec<_>>())?;
            let y = match labels.is_empty() {
                true => vec![],
                false => vec![Array::concat(&labels.iter().collect::<Vec<_>>())?],
            };
            Ok(Element { x: vec![x], y })
        });
        if skip == OnBadImage::Skip {
            ds = ds.filter(|e| !e.x.is_empty());
        }
        Ok(ds.prefetch(2).with_files(names, files))
    }
}

fn label(class: u32, classes: usize, mode: LabelMode) -> Result<Vec<Array>> {
    Ok(match mode {
        LabelMode::Int => vec![Array::u32(vec![class], &[1])?],
        LabelMode::Categorical => {
            let mut one_hot = vec![0.0; classes.max(class as usize + 1)];
            one_hot[class as usize] = 1.0;
            let c = one_hot.len();
            vec![Array::f32(one_hot, &[1, c])?]
        }
        LabelMode::Binary => vec![Array::f32(vec![class as f32], &[1, 1])?],
        LabelMode::None => vec![],
    })
}
