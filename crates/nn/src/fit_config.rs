//! `FitConfig`: the arguments of Keras's `fit` (epochs, batch size, seeded shuffling,
//! validation, initial epoch, verbosity, callbacks) with Keras's defaults, plus kiln's choice of
//! where batches are gathered.

use crate::array::Array;
use crate::callbacks::Callback;

/// Keras's `fit` arguments.
pub struct FitConfig {
    /// Epochs to train up to (exclusive of `initial_epoch`'s offset, as Keras).
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Shuffle every epoch (seeded by `seed`).
    pub shuffle: bool,
    /// Seed of the shuffling.
    pub seed: u64,
    /// Fraction of the samples (taken from the end, before shuffling) held out for validation.
    pub validation_split: f32,
    /// Explicit validation data, one array per input and per output (takes precedence over
    /// `validation_split`).
    pub validation_data: Option<(Vec<Array>, Vec<Array>)>,
    /// Validate every this many epochs.
    pub validation_freq: usize,
    /// Epoch to start at (resuming).
    pub initial_epoch: usize,
    /// 0 silent, 1 progress bar, 2 one line per epoch.
    pub verbose: u8,
    /// Callbacks, called in order.
    pub callbacks: Vec<Box<dyn Callback>>,
    /// Keep the training set on the GPU for the whole fit and gather each batch there (when it
    /// fits, see `DeviceDataset`); `Some(false)` gathers each batch on the host and uploads it.
    /// `None` (the default) decides by adapter: on the GPU for GPUs, on the host for CPU
    /// adapters (lavapipe), whose "device memory" is host memory: there a host gather and copy
    /// of a batch costs microseconds and the gather kernel 0.2 ms (README's training table).
    pub keep_data_on_gpu: Option<bool>,
    /// `fit_dataset`: batches per epoch; the dataset's stream then runs on across epochs (as
    /// Keras's does), and fit stops with a warning when it runs out. `None`: one full pass
    /// per epoch.
    pub steps_per_epoch: Option<usize>,
    /// `fit_dataset`: validation batches (takes precedence over `validation_data`).
    pub validation_dataset: Option<crate::dataset::Dataset>,
    /// Validation batches to use per validation (`None`: a full pass).
    pub validation_steps: Option<usize>,
    /// Data-parallel training over several processes (`distributed`): `batch_size` is then
    /// per rank, the global batch `batch_size x world_size`.
    pub data_parallel: Option<std::rc::Rc<crate::distributed::DataParallel>>,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            validation_split: 0.0,
            validation_data: None,
            validation_freq: 1,
            initial_epoch: 0,
            verbose: 1,
            callbacks: Vec::new(),
            keep_data_on_gpu: None,
            steps_per_epoch: None,
            validation_dataset: None,
            validation_steps: None,
            data_parallel: None,
        }
    }
}

impl FitConfig {
    /// Defaults with `epochs`.
    pub fn epochs(epochs: usize) -> Self {
        Self {
            epochs,
            ..Self::default()
        }
    }
    /// Sets the batch size.
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Sets the verbosity.
    pub fn verbose(mut self, v: u8) -> Self {
        self.verbose = v;
        self
    }
    /// Sets the shuffle seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets validation data of a one-input, one-output model.
    pub fn validation_data(mut self, x: Array, y: Array) -> Self {
        self.validation_data = Some((vec![x], vec![y]));
        self
    }
    /// Sets validation data: one array per model input, one per output.
    pub fn validation_data_many(mut self, xs: Vec<Array>, ys: Vec<Array>) -> Self {
        self.validation_data = Some((xs, ys));
        self
    }
    /// Sets the validation split.
    pub fn validation_split(mut self, f: f32) -> Self {
        self.validation_split = f;
        self
    }
    /// Adds a callback.
    pub fn callback(mut self, cb: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(cb));
        self
    }

    /// Sets `steps_per_epoch` (datasets).
    pub fn steps_per_epoch(mut self, n: usize) -> Self {
        self.steps_per_epoch = Some(n);
        self
    }
    /// Sets the validation dataset (and, optionally, its steps).
    pub fn validation_dataset(
        mut self,
        data: crate::dataset::Dataset,
        steps: Option<usize>,
    ) -> Self {
        self.validation_dataset = Some(data);
        self.validation_steps = steps;
        self
    }

    /// Trains data-parallel with `strategy` (one process per GPU, `mpirun`).
    pub fn data_parallel(
        mut self,
        strategy: &std::rc::Rc<crate::distributed::DataParallel>,
    ) -> Self {
        self.data_parallel = Some(strategy.clone());
        self
    }

    /// Forces where batches are gathered (see `keep_data_on_gpu`).
    pub fn keep_data_on_gpu(mut self, on: bool) -> Self {
        self.keep_data_on_gpu = Some(on);
        self
    }
}
