//! kiln-summary: TensorBoard event files, written and read back, with no GPU dependency.
//!
//! An event file is a sequence of TFRecords (length, masked CRC-32C, payload, masked CRC-32C)
//! whose payloads are `Event` protobufs. `EventWriter` writes scalars, histograms, images and
//! text the way TF2 and Keras do, so runs open in a stock TensorBoard; `EventReader` reads them
//! back and checks every CRC.
//!
//! ```no_run
//! let mut w = kiln_summary::EventWriter::create("runs/demo/train")?;
//! for step in 0..10 {
//!     w.add_scalar("epoch_loss", 1.0 / (step + 1) as f32, step)?;
//! }
//! w.flush()?;
//! # Ok::<(), kiln_summary::SummaryError>(())
//! ```

#![warn(missing_docs)]

mod error;
pub mod graph;
pub mod histogram;
pub mod hparams;
pub mod image;
pub mod proto;
mod reader;
pub mod record;
mod writer;

pub use error::{Result, SummaryError};
pub use graph::GraphNode;
pub use hparams::HParam;
pub use image::Pixels;
pub use reader::{EventReader, read_events, scalars, tensor_f32};
pub use writer::{Clock, EventWriter, Image};
