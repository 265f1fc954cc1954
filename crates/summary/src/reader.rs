//! `EventReader`: reads an event file back, verifying both CRCs of every record. A file that ends
//! inside a record yields `Truncated` (normal while a writer appends); a CRC mismatch yields
//! `CrcMismatch` with the record's byte offset, and reading stops there, as TensorBoard does.

use std::path::Path;

use prost::Message;

use crate::error::{Result, SummaryError, io_err};
use crate::proto::{Event, TensorProto, dtype, event::What};
use crate::record::{Decoded, decode_record};

/// Iterator over the events of one file.
pub struct EventReader {
    path: String,
    data: Vec<u8>,
    offset: usize,
    done: bool,
    /// The file offset `data` starts at.
    base: u64,
}

impl EventReader {
    /// Opens (reads) an event file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_at(path, 0)
    }

    /// Reads the file from byte `offset` on (an `offset()` returned earlier), for following a
    /// file a writer is still appending to: only the new records are read and decoded.
    pub fn open_at(path: impl AsRef<Path>, offset: u64) -> Result<Self> {
        use std::io::{Read, Seek, SeekFrom};
        let p = path.as_ref();
        let mut file = std::fs::File::open(p).map_err(io_err(p))?;
        file.seek(SeekFrom::Start(offset)).map_err(io_err(p))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(io_err(p))?;
        Ok(Self {
            path: p.display().to_string(),
            data,
            offset: 0,
            done: false,
            base: offset,
        })
    }

    /// The byte offset just after the last complete record read so far (where to resume).
    pub fn offset(&self) -> u64 {
        self.base + self.offset as u64
    }
}

impl Iterator for EventReader {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        if self.done || self.offset >= self.data.len() {
            return None;
        }
        let offset = self.base + self.offset as u64;
        let path = self.path.clone();
        let item = match decode_record(&self.data[self.offset..]) {
            Decoded::Record(payload, size) => {
                self.offset += size;
                return Some(Event::decode(payload).map_err(|e| {
                    self.done = true;
                    SummaryError::Decode {
                        path,
                        offset,
                        message: e.to_string(),
                    }
                }));
            }
            Decoded::Truncated => SummaryError::Truncated { path, offset },
            Decoded::BadCrc(what, stored, computed) => SummaryError::CrcMismatch {
                path,
                offset,
                what,
                stored,
                computed,
            },
        };
        self.done = true;
        Some(Err(item))
    }
}

/// Every event of a file; fails on the first damaged record.
pub fn read_events(path: impl AsRef<Path>) -> Result<Vec<Event>> {
    EventReader::open(path)?.collect()
}

/// (step, value) of every scalar with `tag`, in either the TF2 tensor or legacy simple_value form.
pub fn scalars(events: &[Event], tag: &str) -> Vec<(i64, f32)> {
    let mut out = Vec::new();
    for e in events {
        let Some(What::Summary(s)) = &e.what else {
            continue;
        };
        for v in s.value.iter().filter(|v| v.tag == tag) {
            let value = match (&v.tensor, v.simple_value) {
                (Some(t), _) => match tensor_f32(t)[..] {
                    [x] => x,
                    _ => continue,
                },
                (None, Some(x)) => x,
                _ => continue,
            };
            out.push((e.step, value));
        }
    }
    out
}

/// The values of a DT_FLOAT tensor, from its packed content or its repeated field (empty for
/// any other dtype).
pub fn tensor_f32(t: &TensorProto) -> Vec<f32> {
    if t.dtype != dtype::FLOAT {
        return Vec::new();
    }
    if t.tensor_content.is_empty() {
        return t.float_val.clone();
    }
    t.tensor_content
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
