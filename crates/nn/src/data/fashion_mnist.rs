//! Fashion-MNIST from the Debian package (or `KILN_DATA`): images scaled to [0, 1], labels,
//! class names.

use std::path::{Path, PathBuf};

use crate::array::Array;
use crate::data::data_err;
use crate::data::idx::read_idx;
use crate::error::Result;

/// Fashion-MNIST's class names, index = label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The Debian package's location.
pub const DEBIAN_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST: images [n, 28, 28] scaled to [0, 1], labels [n] (u32).
pub struct FashionMnist {
    /// 60,000 training images.
    pub train_images: Array,
    /// Their labels.
    pub train_labels: Array,
    /// 10,000 test images.
    pub test_images: Array,
    /// Their labels.
    pub test_labels: Array,
}

fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    [format!("{stem}.gz"), stem.to_string()]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
}

impl FashionMnist {
    /// Loads from `$KILN_DATA` (a directory holding the four IDX files), else from the Debian
    /// package's directory; otherwise fails with the install command.
    pub fn load() -> Result<Self> {
        let dir = match std::env::var_os("KILN_DATA") {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(DEBIAN_FASHION_MNIST),
        };
        Self::load_from(&dir)
    }

    /// Loads the four IDX files from `dir`.
    pub fn load_from(dir: &Path) -> Result<Self> {
        let stems = [
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        ];
        let mut paths = Vec::new();
        for stem in stems {
            paths.push(find(dir, stem).ok_or_else(|| {
                data_err(dir, format!("Fashion-MNIST file {stem}[.gz] not found. Install the dataset with `apt-get install -y dataset-fashion-mnist` (it goes to {DEBIAN_FASHION_MNIST}), or set KILN_DATA to a directory holding the four IDX files"))
            })?);
        }
        let images = |p: &Path| -> Result<Array> {
            let idx = read_idx(p)?;
            if idx.dims.len() != 3 || idx.dims[1..] != [28, 28] {
                return Err(data_err(
                    p,
                    format!("expected images [n, 28, 28], found {:?}", idx.dims),
                ));
            }
            Array::f32(
                idx.data.iter().map(|&b| b as f32 / 255.0).collect(),
                &idx.dims,
            )
        };
        let labels = |p: &Path, n: usize| -> Result<Array> {
            let idx = read_idx(p)?;
            if idx.dims != [n] {
                return Err(data_err(
                    p,
                    format!("expected {n} labels, found {:?}", idx.dims),
                ));
            }
            if let Some(bad) = idx.data.iter().find(|&&l| l > 9) {
                return Err(data_err(p, format!("label {bad} is outside 0..=9")));
            }
            Array::u32(idx.data.iter().map(|&b| b as u32).collect(), &[n])
        };
        let train_images = images(&paths[0])?;
        let train_labels = labels(&paths[1], train_images.len())?;
        let test_images = images(&paths[2])?;
        let test_labels = labels(&paths[3], test_images.len())?;
        Ok(Self {
            train_images,
            train_labels,
            test_images,
            test_labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_dataset_names_the_install_command() {
        let err = FashionMnist::load_from(Path::new("/nonexistent/kiln-data"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("apt-get install -y dataset-fashion-mnist") && err.contains("KILN_DATA"),
            "{err}"
        );
    }
}
