//! kiln-tuner: hyperparameter search in the manner of KerasTuner and AutoKeras, on kiln's own
//! models and runs. A build function declares its search space as it builds
//! (`hp.int`, `hp.float`, `hp.choice`, `hp.boolean`, `hp.conditional_scope`); an `Oracle`
//! (random search, Hyperband, Bayesian optimisation) picks each trial's values; every trial is
//! a TensorBoard run with an HParams session, so TensorBoard's HParams dashboard compares them;
//! the search state is saved atomically after each trial, so a killed search resumes without
//! re-running a finished trial. `ImageClassifier` is AutoKeras's: a predefined space of small
//! CNNs and ResNets for image data.
//!
//! ```no_run
//! use kiln_nn::prelude::*;
//! use kiln_tuner::{Objective, Oracle, Sampling, Tuner};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dev = Device::new()?;
//! let data = FashionMnist::load()?;
//! let mut tuner = Tuner::new("runs/search", Oracle::random(4), Objective::max("val_accuracy"), |hp| {
//!     let mut m = Sequential::with_seed(&dev, hp.execution_seed());
//!     m.add(Flatten::new())?;
//!     m.add(Dense::new(hp.int("units", 32, 256, 32) as usize).activation("relu")?)?;
//!     m.add(Dense::new(10))?;
//!     m.build(&[28, 28])?;
//!     let lr = hp.float("learning_rate", 1e-4, 1e-2, Sampling::Log);
//!     m.compile(Optimizer::adam(lr as f32), Loss::SparseCategoricalCrossentropy { from_logits: true }, &[MetricKind::Accuracy])?;
//!     Ok(m)
//! });
//! tuner.search(&data.train_images, &data.train_labels, || FitConfig::epochs(2).validation_split(0.2))?;
//! print!("{}", tuner.results_summary(3));
//! # Ok(()) }
//! ```

mod error;
mod executions;
mod gp;
mod hp;
mod hypermodel;
mod image_classifier;
mod objective;
pub mod oracle;
mod results;
mod scoring;
mod search;
mod space;
mod state;
mod trial;
mod tuner;
mod value;

pub use error::{Result, TunerError};
pub use hp::HyperParameters;
pub use hypermodel::{HyperModel, RunContext};
pub use image_classifier::ImageClassifier;
pub use objective::{Direction, Objective};
pub use oracle::{BayesianOptimization, Hyperband, Oracle, RandomSearch};
pub use search::{CHECKPOINT, Search};
pub use space::{Condition, Param, ParamKind, Sampling};
pub use state::STATE_FILE;
pub use trial::{Plan, Trial, TrialStatus};
pub use tuner::Tuner;
pub use value::HpValue;
