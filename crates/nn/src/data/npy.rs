//! NumPy's `.npy` and `.npz` files to and from `Array`, so data prepared in Python feeds `fit`.
//! `py_literal` parses the header (a Python dict literal), `npyz` writes files and `zip` reads
//! and writes archives; kiln checks the header against the bytes that follow before it
//! allocates anything, then decodes the C-order data itself (npyz's reader multiplies the
//! shape unchecked, so a crafted header would overflow it): floats become f32, and integers and booleans become u32
//! (labels) when every value fits, or f32 on request (`load_npy_f32`).

use std::io::{Cursor, Read};
use std::path::Path;

use npyz::{WriteOptions, WriterBuilder};

use crate::array::{Array, Data};
use crate::checkpoint::atomic_write;
use crate::data::data_err;
use crate::error::Result;

/// What an array's integers may become.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Floats to f32, integers and booleans to u32.
    Natural,
    /// Everything to f32.
    F32,
}

/// Decoded values before they become an `Array`.
enum Values {
    Float(Vec<f32>),
    /// Integers and booleans, widened (i64 holds every supported integer but u64's top half,
    /// which is rejected when it occurs).
    Int(Vec<i64>),
}

impl Array {
    /// Loads a `.npy` file: float arrays as f32 (f64 narrowed, as Keras casts to float32),
    /// integer and boolean arrays as u32 (labels). An integer array with a negative value or
    /// one above u32::MAX is an error that names it; `load_npy_f32` loads it as floats.
    pub fn load_npy(path: impl AsRef<Path>) -> Result<Array> {
        load_file(path.as_ref(), Target::Natural)
    }

    /// Loads a `.npy` file as f32 whatever its numeric dtype (uint8 images, say).
    pub fn load_npy_f32(path: impl AsRef<Path>) -> Result<Array> {
        load_file(path.as_ref(), Target::F32)
    }

    /// Saves as `.npy` (`<f4` or `<u4`, C order), atomically; `np.load` reads it.
    pub fn save_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = npy_bytes(self).map_err(|e| data_err(path, format!("cannot encode: {e}")))?;
        atomic_write(path, &bytes)
    }
}

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

fn load_file(path: &Path, target: Target) -> Result<Array> {
    let bytes = std::fs::read(path).map_err(|e| data_err(path, format!("cannot read: {e}")))?;
    parse_npy(&bytes, target).map_err(|m| data_err(path, m))
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

/// What a `.npy` header says.
struct Header {
    /// Type character (f, i, u, b) and item size in bytes.
    kind: char,
    size: usize,
    big_endian: bool,
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
}

/// NumPy's own limit on a header (`np.load(max_header_size=10000)`).
const MAX_HEADER: usize = 10_000;

/// Splits a `.npy` file into its header dict and its data: magic, version, header length
/// (2 bytes in version 1, 4 in versions 2 and 3), the header.
fn split(bytes: &[u8]) -> std::result::Result<(&str, &[u8]), String> {
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize,
            12,
        ),
        v => {
            return Err(format!(
                ".npy format version {v} is not supported (1, 2 and 3 are)"
            ));
        }
    };
    if len > MAX_HEADER {
        return Err(format!(
            "the header is {len} bytes, over NumPy's own limit of {MAX_HEADER}"
        ));
    }
    let end = start + len;
    let header = bytes
        .get(start..end)
        .ok_or_else(|| format!("the file ends inside its {len}-byte header (truncated)"))?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text".to_string())?;
    Ok((header, &bytes[end..]))
}

/// Parses the header dict (a Python literal) with `py_literal`, after refusing nesting no
/// header has (the parser recurses, and a crafted header could exhaust the stack).
fn parse_header(text: &str) -> std::result::Result<Header, String> {
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 8 {
            return Err("the header nests deeper than any NumPy header".into());
        }
    }
    let value: py_literal::Value = text
        .trim()
        .parse()
        .map_err(|e| format!("the header is not a Python dict literal: {e}"))?;
    let py_literal::Value::Dict(entries) = value else {
        return Err("the header is not a dict".into());
    };
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(k, py_literal::Value::String(s) if s == key))
            .map(|(_, v)| v)
            .ok_or_else(|| format!("the header has no {key:?}"))
    };
    let py_literal::Value::String(descr) = get("descr")? else {
        return Err(
            "the header's 'descr' is not a plain dtype string (a structured array?); \
                    save a plain numeric array"
                .into(),
        );
    };
    let py_literal::Value::Boolean(fortran) = *get("fortran_order")? else {
        return Err("the header's 'fortran_order' is not a bool".into());
    };
    let py_literal::Value::Tuple(dims) = get("shape")? else {
        return Err("the header's 'shape' is not a tuple".into());
    };
    let shape = dims
        .iter()
        .map(|d| match d {
            py_literal::Value::Integer(i) => {
                usize::try_from(i).map_err(|_| format!("dimension {i} is out of range"))
            }
            other => Err(format!("dimension {other} is not an integer")),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut chars = descr.chars();
    let (order, kind) = (chars.next(), chars.next());
    let size: Option<usize> = chars.as_str().parse().ok();
    let (Some(order @ ('<' | '>' | '|' | '=')), Some(kind), Some(size)) = (order, kind, size)
    else {
        return Err(format!(
            "dtype {descr:?} is not supported (kiln reads float16/32/64, int8-64, uint8-64 and bool)"
        ));
    };
    Ok(Header {
        kind,
        size,
        big_endian: order == '>',
        descr: descr.clone(),
        fortran,
        shape,
    })
}

/// Parses a whole `.npy` file's bytes.
fn parse_npy(bytes: &[u8], target: Target) -> std::result::Result<Array, String> {
    let (text, data) = split(bytes)?;
    let h = parse_header(text)?;
    let supported = matches!(
        (h.kind, h.size),
        ('f', 2 | 4 | 8) | ('i' | 'u', 1 | 2 | 4 | 8) | ('b', 1)
    );
    if !supported {
        return Err(format!(
            "dtype {:?} is not supported (kiln reads float16/32/64, int8-64, uint8-64 and bool)",
            h.descr
        ));
    }
    if h.fortran && h.shape.len() > 1 {
        return Err("the array is in Fortran order; save it in C order, \
                    np.save(path, np.ascontiguousarray(a))"
            .into());
    }
    let shape = h.shape;
    if shape.is_empty() {
        return Err(
            "the array is a scalar (shape ()); kiln's arrays count samples in their \
                    first dimension, so save at least a 1-D array"
                .into(),
        );
    }
    let sizes = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|n| n.checked_mul(h.size).map(|b| (n, b)));
    let Some((count, need)) = sizes else {
        return Err(format!("shape {shape:?} overflows"));
    };
    if data.len() != need {
        return Err(format!(
            "the header says shape {shape:?} of {} ({count} values, {need} bytes), but {} bytes \
             follow it (truncated or not a NumPy file)",
            h.descr,
            data.len()
        ));
    }
    let values = decode(data, h.kind, h.size, h.big_endian);
    let data = match (values, target) {
        (Values::Float(v), _) => Data::F32(v),
        (Values::Int(v), Target::F32) => Data::F32(v.into_iter().map(|x| x as f32).collect()),
        (Values::Int(v), Target::Natural) => Data::U32(to_u32(v)?),
    };
    Array::from_data(data, &shape).map_err(|e| e.to_string())
}

/// Little- or big-endian words of `size` bytes.
fn words<const N: usize>(data: &[u8], big: bool) -> impl Iterator<Item = [u8; N]> + '_ {
    data.chunks_exact(N).map(move |c| {
        let mut w: [u8; N] = c.try_into().expect("chunks_exact");
        if big {
            w.reverse();
        }
        w
    })
}

fn decode(data: &[u8], kind: char, size: usize, big: bool) -> Values {
    match (kind, size) {
        ('f', 2) => Values::Float(
            words::<2>(data, big)
                .map(|w| half::f16::from_le_bytes(w).to_f32())
                .collect(),
        ),
        ('f', 4) => Values::Float(words::<4>(data, big).map(f32::from_le_bytes).collect()),
        ('f', _) => Values::Float(
            words::<8>(data, big)
                .map(|w| f64::from_le_bytes(w) as f32)
                .collect(),
        ),
        ('b' | 'u', 1) => Values::Int(data.iter().map(|&b| b as i64).collect()),
        ('i', 1) => Values::Int(data.iter().map(|&b| b as i8 as i64).collect()),
        ('u', 2) => Values::Int(
            words::<2>(data, big)
                .map(|w| u16::from_le_bytes(w) as i64)
                .collect(),
        ),
        ('i', 2) => Values::Int(
            words::<2>(data, big)
                .map(|w| i16::from_le_bytes(w) as i64)
                .collect(),
        ),
        ('u', 4) => Values::Int(
            words::<4>(data, big)
                .map(|w| u32::from_le_bytes(w) as i64)
                .collect(),
        ),
        ('i', 4) => Values::Int(
            words::<4>(data, big)
                .map(|w| i32::from_le_bytes(w) as i64)
                .collect(),
        ),
        // u64 above i64::MAX turns negative here, and is refused as out of range below.
        ('u', _) => Values::Int(
            words::<8>(data, big)
                .map(|w| u64::from_le_bytes(w) as i64)
                .collect(),
        ),
        _ => Values::Int(words::<8>(data, big).map(i64::from_le_bytes).collect()),
    }
}

fn to_u32(v: Vec<i64>) -> std::result::Result<Vec<u32>, String> {
    if let Some((i, x)) = v
        .iter()
        .enumerate()
        .find(|(_, x)| !(0..=u32::MAX as i64).contains(*x))
    {
        return Err(format!(
            "value {x} at flat index {i} does not fit a u32 label (kiln loads integer arrays as \
             labels); load it with load_npy_f32 / Npz::load_f32 to get floats"
        ));
    }
    Ok(v.into_iter().map(|x| x as u32).collect())
}

fn npy_bytes(array: &Array) -> std::io::Result<Vec<u8>> {
    let shape: Vec<u64> = array.shape.iter().map(|&d| d as u64).collect();
    let mut out = Vec::new();
    match &array.data {
        Data::F32(v) => {
            let mut w = WriteOptions::<f32>::new()
                .default_dtype()
                .shape(&shape)
                .writer(&mut out)
                .begin_nd()?;
            w.extend(v.iter().copied())?;
            w.finish()?;
        }
        Data::U32(v) => {
            let mut w = WriteOptions::<u32>::new()
                .default_dtype()
                .shape(&shape)
                .writer(&mut out)
                .begin_nd()?;
            w.extend(v.iter().copied())?;
            w.finish()?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A .npy file by hand: magic, version 1.0, header padded to 64 bytes, data.
    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let dict = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        let mut header = dict.into_bytes();
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend((header.len() as u16).to_le_bytes());
        v.extend(header);
        v.extend(data);
        v
    }

    #[test]
    fn dtypes_decode_to_f32_or_u32() {
        let f8: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let a = parse_npy(&npy("<f8", false, "(2,)", &f8), Target::Natural).unwrap();
        assert_eq!(a.as_f32().unwrap(), [1.5, -2.0]);
        let be: Vec<u8> = [7i32, 9].iter().flat_map(|x| x.to_be_bytes()).collect();
        let a = parse_npy(&npy(">i4", false, "(2, 1)", &be), Target::Natural).unwrap();
        assert_eq!(
            (a.as_u32().unwrap(), a.shape.as_slice()),
            (&[7u32, 9][..], &[2usize, 1][..])
        );
        let b = parse_npy(&npy("|b1", false, "(3,)", &[1, 0, 1]), Target::F32).unwrap();
        assert_eq!(b.as_f32().unwrap(), [1.0, 0.0, 1.0]);
        let neg: Vec<u8> = [-1i64].iter().flat_map(|x| x.to_le_bytes()).collect();
        let e = parse_npy(&npy("<i8", false, "(1,)", &neg), Target::Natural).unwrap_err();
        assert!(e.contains("-1") && e.contains("load_npy_f32"), "{e}");
    }

    #[test]
    fn lying_headers_and_unsupported_layouts_are_errors() {
        let e = parse_npy(
            &npy("<f4", false, "(1000000000, 1000)", &[0; 8]),
            Target::Natural,
        )
        .unwrap_err();
        assert!(e.contains("8 bytes follow"), "{e}");
        let e = parse_npy(&npy("<f4", false, "(3,)", &[0; 8]), Target::Natural).unwrap_err();
        assert!(e.contains("12 bytes"), "{e}");
        let e = parse_npy(&npy("<f4", true, "(2, 1)", &[0; 8]), Target::Natural).unwrap_err();
        assert!(e.contains("Fortran"), "{e}");
        let e = parse_npy(&npy("<c8", false, "(1,)", &[0; 8]), Target::Natural).unwrap_err();
        assert!(e.contains("<c8"), "{e}");
        let e = parse_npy(&npy("<f4", false, "()", &[0; 4]), Target::Natural).unwrap_err();
        assert!(e.contains("scalar"), "{e}");
        assert!(
            parse_npy(b"PK\x03\x04", Target::Natural)
                .unwrap_err()
                .contains("magic")
        );
        let deep = npy("<f4", false, "((((((((((1,),),),),),),),),),)", &[0; 4]);
        assert!(
            parse_npy(&deep, Target::Natural)
                .unwrap_err()
                .contains("nests")
        );
        let overflow = npy("<f8", false, "(4294967296, 4294967296, 4294967296)", &[]);
        assert!(
            parse_npy(&overflow, Target::Natural)
                .unwrap_err()
                .contains("overflows")
        );
    }
}
