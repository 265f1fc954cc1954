//! NumPy's `.npy` files to and from `Array`, so data prepared in Python feeds `fit`. The header
//! is parsed and checked against the bytes that follow before anything is allocated
//! (npy_header.rs); kiln then decodes the C-order data itself, because npyz's reader
//! multiplies the shape unchecked and a crafted header would overflow it (npyz writes the
//! files). Floats become f32; integers and booleans become u32 (labels) when every value
//! fits, or f32 on request (`load_npy_f32`).

use std::path::Path;

use npyz::{WriteOptions, WriterBuilder};

use crate::array::{Array, Data};
use crate::checkpoint::atomic_write;
use crate::data::data_err;
use crate::data::npy_header::{parse_header, split};
use crate::error::Result;

/// What an array's integers may become.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
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

fn load_file(path: &Path, target: Target) -> Result<Array> {
    let bytes = std::fs::read(path).map_err(|e| data_err(path, format!("cannot read: {e}")))?;
    parse_npy(&bytes, target).map_err(|m| data_err(path, m))
}

/// Parses a whole `.npy` file's bytes.
pub(crate) fn parse_npy(bytes: &[u8], target: Target) -> std::result::Result<Array, String> {
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

pub(crate) fn npy_bytes(array: &Array) -> std::io::Result<Vec<u8>> {
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
