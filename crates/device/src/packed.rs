//! Packed buffers: several tensors in one allocation, each a view at an aligned offset. A model's
//! parameters, their gradients and the optimizer's moments are packed with one layout, so one
//! optimizer dispatch over the whole allocation updates every parameter (instead of one
//! dispatch per parameter), while each view still binds on its own like any buffer.
//!
//! Layout: part `i` starts at a multiple of the adapter's storage-binding offset alignment (at
//! least 256 bytes, which is also a multiple of the 16 bytes a texture copy needs) and reserves
//! its size rounded up to 16 bytes, so a kernel's trailing vec4 store stays in its own padding.
//! The whole buffer starts zeroed; the padding between parts is never written by a view's
//! kernels, and an elementwise update over the whole buffer maps zeros to zeros there (Adam,
//! SGD and RMSprop all do), so it stays finite.

use std::sync::Arc;

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};

/// Several tensors in one buffer (see the module doc).
pub struct Packed {
    whole: Arc<GpuBuffer>,
    parts: Vec<Arc<GpuBuffer>>,
    words: Vec<usize>,
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Packed({:?} words in {:?})", self.words, self.whole)
    }
}

impl Packed {
    /// The whole allocation (parts and padding).
    pub fn whole(&self) -> &Arc<GpuBuffer> {
        &self.whole
    }

    /// The views, in the order their sizes were given.
    pub fn parts(&self) -> &[Arc<GpuBuffer>] {
        &self.parts
    }

    /// Words per part, as given to `Device::pack`: two packs with equal `part_words` made by one
    /// device have the same layout.
    pub fn part_words(&self) -> &[usize] {
        &self.words
    }

    /// One view over the parts `range` (from the first part's start to the last one's end, the
    /// padding between them included), so one elementwise update covers those parts only; the
    /// same parts of two packs with one layout span the same words. `None` for an empty or
    /// out-of-range `range`.
    pub fn span(&self, range: std::ops::Range<usize>) -> Option<GpuBuffer> {
        let parts: Vec<&GpuBuffer> = self.parts.get(range)?.iter().map(|p| &**p).collect();
        GpuBuffer::covering(&parts).map(|(view, _)| view)
    }
}

/// Byte offset of each part and the total size, for parts of `words` words.
fn layout(words: &[usize], align: u64) -> (Vec<u64>, u64) {
    let mut offsets = Vec::with_capacity(words.len());
    let mut end = 0u64;
    for &w in words {
        let at = end.next_multiple_of(align);
        offsets.push(at);
        end = at + (w as u64 * 4).max(16).next_multiple_of(16);
    }
    (offsets, end.max(16))
}

impl Device {
    fn pack_alignment(&self) -> u64 {
        u64::from(self.info().min_storage_buffer_offset_alignment).max(256)
    }

    /// Whether `pack(words)` fits one buffer binding of this adapter.
    pub fn pack_fits(&self, words: &[usize]) -> bool {
        self.fits_buffer(layout(words, self.pack_alignment()).1)
    }

    /// One zero-filled buffer holding a view of `words[i]` words for each `i` (module doc).
    pub fn pack(&self, words: &[usize]) -> Result<Packed> {
        let (offsets, total) = layout(words, self.pack_alignment());
        if !self.fits_buffer(total) {
            return Err(launch_err(
                "pack",
                format!(
                    "{} tensors of {} words in all need a {total}-byte buffer, more than this adapter \
                     binds in one buffer; keep them in separate buffers",
                    words.len(),
                    words.iter().sum::<usize>()
                ),
            ));
        }
        let whole = Arc::new(self.zeros(total)?);
        let parts = offsets
            .iter()
            .zip(words)
            .map(|(&at, &w)| Arc::new(GpuBuffer::view(&whole, at, w as u64 * 4)))
            .collect();
        Ok(Packed {
            whole,
            parts,
            words: words.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::layout;

    #[test]
    fn parts_are_aligned_and_keep_their_vec4_padding() {
        let (offsets, total) = layout(&[10, 64, 1, 0], 256);
        assert_eq!(offsets, vec![0, 256, 512, 768]);
        assert_eq!(total, 784);
        let (offsets, total) = layout(&[100, 3], 256);
        assert_eq!(offsets, vec![0, 512]);
        assert_eq!(total, 528);
    }
}
