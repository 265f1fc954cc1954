//! `DeviceDataset`: a training set kept on the GPU (what `tf.data` prefetching to the device
//! does for Keras). Both arrays are uploaded once, each epoch's shuffled order once (as u32 row
//! numbers), and every batch is made on the GPU by `Tensor::gather_rows`, so a training step
//! uploads nothing. One binding is limited (128 MiB on lavapipe, less than Fashion-MNIST's
//! 188 MB of f32 pixels), so an array is split into up to `GATHER_CHUNKS` buffers that each fit.
//! `fit` uses it on GPUs whenever the data fit that way, and otherwise gathers each batch on the
//! host and uploads it: on CPU adapters by default (there device memory is host memory, and a
//! host gather and copy beats the kernel; see `FitConfig::keep_data_on_gpu`). A gathered batch
//! holds exactly the host gather's values, so both paths train alike.

use kiln_device::ops::shape::GATHER_CHUNKS;
use kiln_device::rng::Rng;
use kiln_graph::{Device, Tensor};

use crate::array::Array;
use crate::data::epoch_batches;
use crate::error::{NnError, Result};

/// Inputs and targets resident on the GPU, and the current epoch's order.
pub struct DeviceDataset {
    x: Vec<Tensor>,
    y: Vec<Tensor>,
    len: usize,
    order: Option<Tensor>,
}

/// `a` split into as few row chunks as fit one binding each (at most `GATHER_CHUNKS`), or
/// `None` when even that many do not.
fn chunked(dev: &Device, a: &Array) -> Result<Option<Vec<Tensor>>> {
    let (n, row_bytes) = (a.len(), (a.row_size() * 4) as u64);
    for k in 1..=GATHER_CHUNKS {
        let rows = n.div_ceil(k).max(1);
        if dev.fits_buffer(rows as u64 * row_bytes) {
            if rows >= n {
                return Ok(Some(vec![a.to_tensor(dev)?]));
            }
            let chunks = (0..n)
                .step_by(rows)
                .map(|s| a.slice(s, (s + rows).min(n)).to_tensor(dev))
                .collect::<Result<_>>()?;
            return Ok(Some(chunks));
        }
    }
    Ok(None)
}

impl DeviceDataset {
    /// Uploads `x` and `y` (same sample count); errors when either is larger than one kernel
    /// may bind on this adapter (then gather batches on the host: `Array::gather`).
    pub fn new(dev: &Device, x: &Array, y: &Array) -> Result<DeviceDataset> {
        Self::try_new(dev, x, y)?.ok_or_else(|| {
            NnError::Input(format!(
                "DeviceDataset: {} samples of {} and {} values do not fit {GATHER_CHUNKS} buffers \
                 of this adapter's storage-binding limit ({} bytes); gather batches on the host \
                 with Array::gather instead",
                x.len(),
                x.row_size(),
                y.row_size(),
                dev.info().max_storage_buffer_binding_size
            ))
        })
    }

    /// Like `new`, but `None` when the data does not fit.
    pub(crate) fn try_new(dev: &Device, x: &Array, y: &Array) -> Result<Option<DeviceDataset>> {
        if x.len() != y.len() {
            return Err(NnError::Input(format!(
                "DeviceDataset: x has {} samples but y has {}",
                x.len(),
                y.len()
            )));
        }
        if x.len() > u32::MAX as usize {
            return Ok(None);
        }
        let (Some(xc), Some(yc)) = (chunked(dev, x)?, chunked(dev, y)?) else {
            return Ok(None);
        };
        Ok(Some(DeviceDataset {
            x: xc,
            y: yc,
            len: x.len(),
            order: None,
        }))
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One epoch's batches of `batch_size` (the last one partial, as Keras), shuffled by `rng`
    /// when given: uploads the order once and yields each (x, y) batch gathered on the GPU.
    pub fn epoch(
        &mut self,
        batch_size: usize,
        shuffle: Option<&mut Rng>,
    ) -> Result<impl Iterator<Item = Result<(Tensor, Tensor)>> + '_> {
        let batches = epoch_batches(self.len(), batch_size, shuffle);
        self.set_epoch(&batches)?;
        let mut start = 0;
        Ok(batches.into_iter().map(move |b| {
            start += b.len();
            self.batch(start - b.len(), b.len())
        }))
    }

    /// Uploads one epoch's batches of sample indices; their concatenation is the epoch's order,
    /// so batch i starts where batch i - 1 ended.
    pub(crate) fn set_epoch(&mut self, batches: &[Vec<usize>]) -> Result<()> {
        let n = self.len();
        let order: Vec<u32> = batches.iter().flatten().map(|&i| i as u32).collect();
        if let Some(bad) = order.iter().find(|&&i| i as usize >= n) {
            return Err(NnError::Input(format!(
                "DeviceDataset: sample index {bad} is out of range for {n} samples"
            )));
        }
        let dev = self.x[0].device();
        self.order = Some(Tensor::from_u32(dev, &order, &[order.len()])?);
        Ok(())
    }

    /// The batch of `len` samples starting at position `start` of the epoch's order.
    pub(crate) fn batch(&self, start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        let order = self.order.as_ref().ok_or_else(|| {
            NnError::Config("DeviceDataset: no epoch order was uploaded before a batch".into())
        })?;
        Ok((
            Tensor::gather_rows(&self.x, order, start, len)?,
            Tensor::gather_rows(&self.y, order, start, len)?,
        ))
    }
}
