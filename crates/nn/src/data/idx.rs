//! The IDX format (MNIST / Fashion-MNIST files, gzip or raw) with magic-number and size checks.

use std::io::Read;
use std::path::Path;

use crate::data::data_err;
use crate::error::Result;

/// An IDX file's contents: dims and unsigned bytes (type 0x08, the only one MNIST uses).
#[derive(Debug)]
pub struct Idx {
    /// Dimensions, e.g. [60000, 28, 28].
    pub dims: Vec<usize>,
    /// Row-major bytes.
    pub data: Vec<u8>,
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
}
