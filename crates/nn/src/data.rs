//! Data: the IDX format (MNIST / Fashion-MNIST files, gzip or raw) with magic-number and size
//! checks, the Fashion-MNIST loader, and seeded shuffled batching as Keras's `fit` does it.

use std::io::Read;
use std::path::{Path, PathBuf};

use kiln_graph::Rng;

use crate::array::Array;
use crate::error::{NnError, Result};

/// An IDX file's contents: dims and unsigned bytes (type 0x08, the only one MNIST uses).
#[derive(Debug)]
pub struct Idx {
    /// Dimensions, e.g. [60000, 28, 28].
    pub dims: Vec<usize>,
    /// Row-major bytes.
    pub data: Vec<u8>,
}

fn data_err(path: &Path, message: impl Into<String>) -> NnError {
    NnError::Data {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Reads an IDX file (gzip-compressed when it starts with the gzip magic).
pub fn read_idx(path: &Path) -> Result<Idx> {
    let raw = std::fs::read(path).map_err(|e| data_err(path, format!("cannot read: {e}")))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| data_err(path, format!("corrupt or truncated gzip data: {e}")))?;
        out
    } else {
        raw
    };
    parse_idx(&bytes).map_err(|m| data_err(path, m))
}

/// Parses IDX bytes: magic 0x00 0x00 type ndims, then big-endian u32 dims, then the data.
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<Idx, String> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err("not an IDX file (bad magic number)".into());
    }
    if bytes[2] != 0x08 {
        return Err(format!(
            "IDX element type {:#04x} is not supported (expected 0x08, unsigned bytes)",
            bytes[2]
        ));
    }
    let nd = bytes[3] as usize;
    let header = 4 + 4 * nd;
    if nd == 0 || bytes.len() < header {
        return Err(format!(
            "IDX header declares {nd} dimensions but the file is only {} bytes",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let n: usize = dims.iter().product();
    let have = bytes.len() - header;
    if have != n {
        return Err(format!(
            "IDX header declares {dims:?} = {n} values but the file holds {have} (truncated or wrong file)"
        ));
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

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

/// Batches of sample indices for one epoch: shuffled with the seeded RNG when asked; the last
/// batch holds the remainder (Keras keeps the partial batch).
pub fn epoch_batches(n: usize, batch_size: usize, shuffle: Option<&mut Rng>) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    if let Some(rng) = shuffle {
        rng.shuffle(&mut order);
    }
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(data);
        v
    }

    #[test]
    fn idx_parses_and_rejects_bad_headers_and_truncation() {
        let ok = parse_idx(&idx(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!((ok.dims, ok.data), (vec![2, 3], vec![1, 2, 3, 4, 5, 6]));
        assert!(parse_idx(b"\x1f\x8bxx").unwrap_err().contains("magic"));
        assert!(
            parse_idx(&idx(&[2, 3], &[1, 2, 3]))
                .unwrap_err()
                .contains("truncated")
        );
        let mut wrong_type = idx(&[1], &[0]);
        wrong_type[2] = 0x0d;
        assert!(parse_idx(&wrong_type).unwrap_err().contains("0x0d"));
    }

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

    #[test]
    fn batches_cover_every_sample_once_and_shuffle_reproducibly() {
        let plain = epoch_batches(10, 4, None);
        assert_eq!(
            plain.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        let a = epoch_batches(100, 32, Some(&mut Rng::new(5)));
        let b = epoch_batches(100, 32, Some(&mut Rng::new(5)));
        assert_eq!(a, b);
        let mut all: Vec<usize> = a.concat();
        assert_ne!(all, (0..100).collect::<Vec<_>>());
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }
}
