//! `.npz` archives (`np.savez`, `np.savez_compressed`): a zip of `.npy` files, read with the
//! `zip` crate, each entry read to its real end (the CRC is checked there) and parsed as a
//! `.npy` file.

use std::io::{Cursor, Read};
use std::path::Path;

use crate::array::Array;
use crate::checkpoint::atomic_write;
use crate::data::data_err;
use crate::data::npy::{Target, npy_bytes, parse_npy};
use crate::error::Result;

/// The arrays of a `.npz` archive (`np.savez` / `np.savez_compressed`), in archive order.
#[derive(Clone, Debug, PartialEq)]
pub struct Npz {
    /// (name without `.npy`, array).
    pub arrays: Vec<(String, Array)>,
}

impl Npz {
    /// Loads every array of the archive, as `Array::load_npy` would each.
    pub fn load(path: impl AsRef<Path>) -> Result<Npz> {
        load_npz(path.as_ref(), Target::Natural)
    }

    /// Loads every array as f32.
    pub fn load_f32(path: impl AsRef<Path>) -> Result<Npz> {
        load_npz(path.as_ref(), Target::F32)
    }

    /// The array called `name`; the error lists the names there are.
    pub fn get(&self, name: &str) -> Result<&Array> {
        self.arrays
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
            .ok_or_else(|| {
                let names: Vec<&str> = self.arrays.iter().map(|(n, _)| n.as_str()).collect();
                crate::error::NnError::Input(format!(
                    "the .npz archive has no array {name:?}; it has {names:?}"
                ))
            })
    }

    /// The names, in archive order.
    pub fn names(&self) -> Vec<&str> {
        self.arrays.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Saves `arrays` as an uncompressed `.npz` (what `np.savez` writes), atomically.
    pub fn save(path: impl AsRef<Path>, arrays: &[(&str, &Array)]) -> Result<()> {
        let path = path.as_ref();
        let fail = |e: String| data_err(path, format!("cannot write the archive: {e}"));
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true);
        for (name, array) in arrays {
            zip.start_file(format!("{name}.npy"), options)
                .map_err(|e| fail(e.to_string()))?;
            let bytes = npy_bytes(array).map_err(|e| fail(e.to_string()))?;
            std::io::Write::write_all(&mut zip, &bytes).map_err(|e| fail(e.to_string()))?;
        }
        let cursor = zip.finish().map_err(|e| fail(e.to_string()))?;
        atomic_write(path, &cursor.into_inner())
    }
}

fn load_npz(path: &Path, target: Target) -> Result<Npz> {
    let file =
        std::fs::File::open(path).map_err(|e| data_err(path, format!("cannot read: {e}")))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| {
        data_err(
            path,
            format!("not a readable .npz (zip) archive, truncated or corrupt: {e}"),
        )
    })?;
    let mut arrays = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| data_err(path, format!("archive entry {i} is unreadable: {e}")))?;
        let entry_name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        if entry.is_dir() {
            continue;
        }
        let Some(name) = entry_name.strip_suffix(".npy") else {
            return Err(data_err(
                path,
                format!("entry {entry_name:?} is not a .npy array (an .npz holds only those)"),
            ));
        };
        // Read what the entry really holds (growing as data arrives, not trusting its declared
        // size); the zip reader checks the CRC at the end, so truncation is an error here.
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| {
            data_err(
                path,
                format!("entry {entry_name:?} is truncated or corrupt: {e}"),
            )
        })?;
        let array = parse_npy(&bytes, target)
            .map_err(|m| data_err(path, format!("entry {entry_name:?}: {m}")))?;
        arrays.push((name.to_string(), array));
    }
    Ok(Npz { arrays })
}
