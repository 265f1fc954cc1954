//! kiln-nn: the Keras-style API. Layers (`Dense`, `Conv2D`, `MaxPooling2D`, ...), `Sequential`
//! with `compile` / `fit` / `evaluate` / `predict` / `summary`, optimizers with learning-rate
//! schedules, losses, GPU-resident metrics, callbacks (including TensorBoard), and data loading
//! (IDX files, Fashion-MNIST).
//!
//! It builds on kiln-graph's tensors, shape rules and row tables; only the optimizers
//! (`optimizers.rs`, `packing.rs`) and the metrics (`metrics.rs`) call kiln-device directly, to
//! launch their own kernels on GPU-resident state.
//!
//! ```no_run
//! use kiln_nn::prelude::*;
//! let dev = Device::new()?;
//! let data = FashionMnist::load()?;
//! let mut model = Sequential::new(&dev);
//! model.add(Flatten::new())?;
//! model.add(Dense::new(128).activation("relu")?)?;
//! model.add(Dense::new(10))?;
//! model.build(&[28, 28])?;
//! println!("{}", model.summary());
//! model.compile(Optimizer::adam(1e-3), Loss::SparseCategoricalCrossentropy { from_logits: true }, &[MetricKind::Accuracy])?;
//! model.fit(&data.train_images, &data.train_labels, FitConfig::epochs(10))?;
//! # Ok::<(), kiln_nn::NnError>(())
//! ```

#![warn(missing_docs)]

pub mod applications;
mod array;
pub mod callbacks;
pub mod checkpoint;
pub mod data;
pub mod dataset;
pub mod distributed;
mod error;
mod evaluate;
mod fit;
mod fit_config;
mod fit_data;
mod fit_feed;
mod functional;
pub mod init;
mod inspect;
mod layer;
pub mod layers;
mod logs;
pub mod losses;
pub mod metrics;
mod model;
mod model_build;
mod model_layer;
mod optimizer_packed;
pub mod optimizers;
mod packing;
mod progress;
mod resident;
pub mod schedules;
mod sequential;
mod summary_table;
mod trackers;
mod train_step;

pub use array::{Array, Data};
pub use checkpoint::{LayerFactory, WeightDtype, load_model, load_model_with};
pub use dataset::{Cardinality, Dataset, Element};
pub use error::{NnError, Result};
pub use fit_config::FitConfig;
pub use fit_data::IntoArrays;
pub use functional::{Input, LayerExt, Shared, SymbolicTensor};
pub use layer::{BuildCtx, CallCtx, Layer, Weight};
pub use logs::{History, Logs};
pub use model::{Compiled, Model, OutputSpec};
pub use packing::PackedWeights;
pub use resident::DeviceDataset;
pub use sequential::Sequential;
pub use trackers::{OutputTrackers, Trackers};

/// Everything a training script needs.
pub mod prelude {
    pub use crate::callbacks::{Callback, TensorBoard, UpdateFreq};
    pub use crate::data::{FASHION_MNIST_CLASSES, FashionMnist, Npz, image_dataset_from_directory};
    pub use crate::dataset::{Cardinality, Dataset, Element};
    pub use crate::layers::*;
    pub use crate::losses::Loss;
    pub use crate::metrics::{ConfusionMatrix, Metric, MetricKind};
    pub use crate::optimizers::Optimizer;
    pub use crate::schedules::LearningRate;
    pub use crate::{
        Array, DeviceDataset, FitConfig, History, Input, Layer, LayerExt, Logs, Model, NnError,
        OutputSpec, Sequential, Shared, SymbolicTensor, WeightDtype, load_model,
    };
    pub use kiln_graph::{Activation, Device, Tensor, no_grad};
}
