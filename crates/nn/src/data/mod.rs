//! Data: the IDX format and Fashion-MNIST, NumPy's `.npy` / `.npz` files, folders of images
//! (Keras's `image_dataset_from_directory`), and seeded batching.

use std::path::Path;

use crate::error::NnError;

pub mod batching;
pub mod fashion_mnist;
mod folder_index;
pub mod idx;
pub mod image_folder;
pub mod images;
pub mod npy;
mod npy_header;
pub mod npz;
pub mod numpy_rng;

pub use batching::epoch_batches;
pub use fashion_mnist::{DEBIAN_FASHION_MNIST, FASHION_MNIST_CLASSES, FashionMnist};
pub use idx::{Idx, parse_idx, read_idx};
pub use image_folder::{
    ImageFolder, LabelMode, Labels, OnBadImage, Subset, image_dataset_from_directory,
};
pub use images::{ColorMode, Interpolation};
pub use npz::Npz;

/// An error about the file or folder at `path`.
pub(crate) fn data_err(path: &Path, message: impl Into<String>) -> NnError {
    NnError::Data {
        path: path.display().to_string(),
        message: message.into(),
    }
}
