//! The `.npy` header: magic, version, length, and the dict (a Python literal) that gives the
//! dtype, the order and the shape, parsed with `py_literal` and checked before anything is
//! allocated.

/// NumPy's own limit on a header (`np.load(max_header_size=10000)`).
const MAX_HEADER: usize = 10_000;

/// What a `.npy` header says.
pub(crate) struct Header {
    /// Type character (f, i, u, b) and item size in bytes.
    pub(crate) kind: char,
    pub(crate) size: usize,
    pub(crate) big_endian: bool,
    pub(crate) descr: String,
    pub(crate) fortran: bool,
    pub(crate) shape: Vec<usize>,
}

/// Splits a `.npy` file into its header dict and its data: magic, version, header length
/// (2 bytes in version 1, 4 in versions 2 and 3), the header.
pub(crate) fn split(bytes: &[u8]) -> std::result::Result<(&str, &[u8]), String> {
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
pub(crate) fn parse_header(text: &str) -> std::result::Result<Header, String> {
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
