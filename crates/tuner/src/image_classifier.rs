//! `ImageClassifier`: AutoKeras's `ak.ImageClassifier(max_trials=...)` on kiln. It searches a
//! predefined space over image models, then keeps the best:
//!
//! - `block_type`: "cnn" (`conv_blocks` 1-3 of 3x3 or 5x5 'same' Conv2D + relu + 2x2 max
//!   pooling, `filters` 16/32/64 doubling per block) or "resnet" (kiln's `SmallResNet` with
//!   `resnet_blocks` 1-2 basic blocks per stage and `resnet_filters` 8/16/32, average pooled);
//! - `augment`: a horizontal `RandomFlip` and a 10% `RandomTranslation` in training;
//! - `normalize`: a `Normalization` with the training images' per-channel mean and variance;
//! - `dropout` 0-0.5 before the classifier; `optimizer` adam/sgd/adamw; `learning_rate` 1e-4 to
//!   1e-2, log scale.
//!
//! The model takes the images as given (`[n, h, w]` grey or `[n, h, w, c]`, f32) and outputs
//! logits; `predict` answers class probabilities. Labels are integer classes (u32).

use std::path::PathBuf;

use kiln_graph::{Device, FillMode};
use kiln_nn::applications::{Pooling, SmallResNet};
use kiln_nn::layers::*;
use kiln_nn::losses::Loss;
use kiln_nn::metrics::MetricKind;
use kiln_nn::optimizers::Optimizer;
use kiln_nn::{Array, FitConfig, Input, LayerExt, Logs, Model, NnError, SymbolicTensor};

use crate::error::{Result, TunerError};
use crate::hp::HyperParameters;
use crate::objective::Objective;
use crate::oracle::Oracle;
use crate::space::Sampling;
use crate::tuner::Tuner;

/// The predefined space's build function.
type BuildFn<'a> = dyn Fn(&mut HyperParameters) -> kiln_nn::Result<Model> + 'a;

/// AutoKeras's image classifier.
pub struct ImageClassifier {
    device: Device,
    oracle: Oracle,
    directory: PathBuf,
    objective: Objective,
    seed: u64,
    overwrite: bool,
    verbose: bool,
    best: Option<Model>,
}

/// What the search learned about the data, for the build function.
#[derive(Clone)]
struct DataSpec {
    shape: Vec<usize>,
    classes: usize,
    mean: Vec<f32>,
    variance: Vec<f32>,
}

impl ImageClassifier {
    /// A classifier that tries `max_trials` models (Bayesian optimisation, random at first),
    /// writing its search under "image_classifier" (see `directory`).
    pub fn new(device: &Device, max_trials: usize) -> Self {
        ImageClassifier {
            device: device.clone(),
            oracle: Oracle::bayesian(max_trials),
            directory: PathBuf::from("image_classifier"),
            objective: Objective::min("val_loss"),
            seed: 0,
            overwrite: false,
            verbose: true,
            best: None,
        }
    }
    /// Where the trials go (AutoKeras's `directory/project_name`).
    pub fn directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.directory = dir.into();
        self
    }
    /// Another oracle (`Oracle::random`, `Oracle::hyperband`).
    pub fn oracle(mut self, oracle: Oracle) -> Self {
        self.oracle = oracle;
        self
    }
    /// The objective (default "val_loss", min).
    pub fn objective(mut self, objective: Objective) -> Self {
        self.objective = objective;
        self
    }
    /// Seeds the search and the models.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Start afresh instead of resuming a search in the directory.
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }
    /// Prints a line per trial (default on).
    pub fn verbose(mut self, yes: bool) -> Self {
        self.verbose = yes;
        self
    }

    /// Searches on images `x` and integer labels `y` (`validation_split` of them, from the end,
    /// held out to score trials; `fit` may set epochs, batch size and callbacks), then keeps the
    /// best model.
    pub fn fit(&mut self, x: &Array, y: &Array, fit: impl Fn() -> FitConfig) -> Result<()> {
        let spec = data_spec(x, y)?;
        self.search_space(spec, |tuner| tuner.search(x, y, fit))
    }

    /// Searches on a `Dataset` of (images, integer labels) batches, such as
    /// `image_dataset_from_directory(...).load()`; the validation dataset goes in `fit`'s
    /// configuration (`validation_dataset`). The normalisation statistics come from up to 64
    /// of its batches; the class count from its class names, else from those batches' labels.
    pub fn fit_dataset(
        &mut self,
        train: &kiln_nn::Dataset,
        fit: impl Fn() -> FitConfig,
    ) -> Result<()> {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for e in train.iter(0)?.take(64) {
            let e = e?;
            let (Some(x), Some(y)) = (e.x.into_iter().next(), e.y.into_iter().next()) else {
                return Err(TunerError::Nn(NnError::Input(
                    "ImageClassifier::fit_dataset needs (images, labels) batches".into(),
                )));
            };
            xs.push(x);
            ys.push(y);
        }
        let (xr, yr): (Vec<&Array>, Vec<&Array>) = (xs.iter().collect(), ys.iter().collect());
        let (x, y) = (Array::concat(&xr)?, Array::concat(&yr)?);
        let mut spec = data_spec(&x, &y)?;
        spec.classes = spec.classes.max(train.class_names().len());
        self.search_space(spec, |tuner| tuner.search_dataset(train, fit))
    }

    /// Runs `search` with a tuner over the predefined space for `spec`'s data, then keeps the
    /// best model.
    fn search_space(
        &mut self,
        spec: DataSpec,
        search: impl FnOnce(&mut Tuner<&BuildFn<'_>>) -> Result<()>,
    ) -> Result<()> {
        let (device, seed) = (self.device.clone(), self.seed);
        let space = move |hp: &mut HyperParameters| build(&device, &spec, hp, seed);
        let mut tuner = Tuner::new(
            &self.directory,
            self.oracle.clone(),
            self.objective.clone(),
            &space as &BuildFn<'_>,
        )
        .seed(self.seed)
        .overwrite(self.overwrite)
        .verbose(self.verbose);
        self.overwrite = false;
        search(&mut tuner)?;
        self.keep_best(&tuner)
    }

    fn keep_best<B, M>(&mut self, tuner: &Tuner<B>) -> Result<()>
    where
        B: Fn(&mut HyperParameters) -> kiln_nn::Result<M>,
        M: Into<Model>,
    {
        self.best = tuner.get_best_models(1)?.into_iter().next();
        if self.best.is_none() {
            return Err(TunerError::Config(format!(
                "no trial of the search in {} completed:\n{}",
                self.directory.display(),
                tuner.results_summary(0)
            )));
        }
        Ok(())
    }

    fn best(&mut self) -> Result<&mut Model> {
        self.best.as_mut().ok_or_else(|| {
            TunerError::Config("the ImageClassifier has no model yet: call fit first".into())
        })
    }

    /// Loss and accuracy of the best model.
    pub fn evaluate(&mut self, x: &Array, y: &Array) -> Result<Logs> {
        Ok(self.best()?.evaluate(x, y, 32)?)
    }

    /// Class probabilities of the best model, `[n, classes]`.
    pub fn predict(&mut self, x: &Array) -> Result<Array> {
        let logits = self.best()?.predict(x, 32)?;
        let classes = logits.row_size();
        let v = logits.as_f32().unwrap_or_default();
        let mut p = Vec::with_capacity(v.len());
        for row in v.chunks(classes.max(1)) {
            let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = row.iter().map(|z| (z - m).exp()).collect();
            let s: f32 = e.iter().sum();
            p.extend(e.iter().map(|z| z / s));
        }
        Ok(Array::f32(p, &[logits.len(), classes])?)
    }

    /// The best model (AutoKeras's `export_model`): save it with `save`, load it with
    /// `load_model`.
    pub fn export_model(&mut self) -> Result<Model> {
        self.best.take().ok_or_else(|| {
            TunerError::Config("the ImageClassifier has no model yet: call fit first".into())
        })
    }
}

fn data_spec(x: &Array, y: &Array) -> Result<DataSpec> {
    let bad = |m: String| TunerError::Nn(NnError::Input(m));
    let shape = x.shape[1..].to_vec();
    if !(shape.len() == 2 || shape.len() == 3) {
        return Err(bad(format!(
            "ImageClassifier needs images [n, height, width] or [n, height, width, channels], got {:?}",
            x.shape
        )));
    }
    let pixels = x
        .as_f32()
        .ok_or_else(|| bad("ImageClassifier needs f32 images (scale u8 pixels first)".into()))?;
    let labels = y
        .as_u32()
        .ok_or_else(|| bad("ImageClassifier needs u32 class labels".into()))?;
    if labels.len() != x.len() || labels.is_empty() {
        return Err(bad(format!(
            "{} images but {} labels",
            x.len(),
            labels.len()
        )));
    }
    let classes = *labels.iter().max().unwrap_or(&0) as usize + 1;
    let channels = if shape.len() == 3 { shape[2] } else { 1 };
    let (mut sum, mut sq) = (vec![0f64; channels], vec![0f64; channels]);
    for (i, &v) in pixels.iter().enumerate() {
        sum[i % channels] += v as f64;
        sq[i % channels] += (v as f64).powi(2);
    }
    let n = (pixels.len() / channels) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let variance = sq
        .iter()
        .zip(&sum)
        .map(|(q, s)| ((q / n) - (s / n).powi(2)).max(0.0) as f32)
        .collect();
    Ok(DataSpec {
        shape,
        classes,
        mean,
        variance,
    })
}

/// The predefined space (module docs).
fn build(
    device: &Device,
    spec: &DataSpec,
    hp: &mut HyperParameters,
    seed: u64,
) -> kiln_nn::Result<Model> {
    let block = hp.choice("block_type", &["cnn", "resnet"]);
    let augment = hp.boolean("augment");
    let normalize = hp.boolean("normalize");
    let input = Input::named("input_layer", &spec.shape);
    let mut x = input.clone();
    if spec.shape.len() == 2 {
        x = Reshape::new(&[spec.shape[0], spec.shape[1], 1]).apply(&x);
    }
    if normalize {
        x = Normalization::with_stats(spec.mean.clone(), spec.variance.clone())?.apply(&x);
    }
    if augment {
        x = RandomFlip::new(FlipMode::Horizontal, Some(seed)).apply(&x);
        x = RandomTranslation::new(Factor::Symmetric(0.1), Factor::Symmetric(0.1))
            .fill(FillMode::Constant, 0.0)
            .seed(seed + 1)
            .apply(&x);
    }
    let channels = if spec.shape.len() == 3 {
        spec.shape[2]
    } else {
        1
    };
    let image = [spec.shape[0], spec.shape[1], channels];
    let cnn = hp.conditional_scope("block_type", &["cnn"], |hp| {
        (
            hp.int("conv_blocks", 1, 3, 1) as usize,
            hp.choice("filters", &[16i64, 32, 64]) as usize,
            hp.choice("kernel_size", &[3i64, 5]) as usize,
        )
    });
    let resnet = hp.conditional_scope("block_type", &["resnet"], |hp| {
        (
            hp.int("resnet_blocks", 1, 2, 1) as usize,
            hp.choice("resnet_filters", &[8i64, 16, 32]) as usize,
        )
    });
    let features = match (cnn, resnet) {
        (Some((blocks, filters, kernel)), _) => conv_blocks(x, image, blocks, filters, kernel)?,
        (None, Some((blocks, filters))) => {
            let backbone = SmallResNet::new()
                .input_shape(&image)
                .blocks(blocks)
                .filters(filters)
                .include_top(false)
                .pooling(Pooling::Avg)
                .seed(hp.execution_seed())
                .build(device)?;
            backbone.apply(&x)
        }
        (None, None) => {
            return Err(NnError::Config(format!("unknown block_type {block:?}")));
        }
    };
    let dropout = hp.float("dropout", 0.0, 0.5, Sampling::Linear);
    let mut y = features;
    if dropout > 0.0 {
        y = Dropout::new(dropout as f32)?.apply(&y);
    }
    let out = Dense::new(spec.classes)
        .named("classification_head")
        .apply(&y);
    let mut model = Model::with_seed(device, hp.execution_seed(), &[&input], &[&out])?;
    let lr = hp.float("learning_rate", 1e-4, 1e-2, Sampling::Log) as f32;
    let optimizer = match hp.choice("optimizer", &["adam", "sgd", "adamw"]) {
        "sgd" => Optimizer::sgd_momentum(lr, 0.9, false),
        "adamw" => Optimizer::adamw(lr, 0.004),
        _ => Optimizer::adam(lr),
    };
    model.compile(
        optimizer,
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )?;
    Ok(model)
}

/// `blocks` of Conv2D + relu + 2x2 max pooling (while the image is at least 4 pixels), the
/// filters doubling per block, then flattened.
fn conv_blocks(
    mut x: SymbolicTensor,
    image: [usize; 3],
    blocks: usize,
    filters: usize,
    kernel: usize,
) -> kiln_nn::Result<SymbolicTensor> {
    let (mut h, mut w) = (image[0], image[1]);
    for b in 0..blocks {
        let conv = Conv2D::new(filters << b, kernel)
            .padding("same")?
            .activation("relu")?;
        x = conv.apply(&x);
        if h >= 4 && w >= 4 {
            x = MaxPooling2D::new(2).apply(&x);
            (h, w) = (h / 2, w / 2);
        }
    }
    Ok(Flatten::new().apply(&x))
}
