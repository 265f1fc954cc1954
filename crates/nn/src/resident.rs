//! `DeviceDataset`: a training set kept on the GPU (what `tf.data` prefetching to the device
//! does for Keras). Both arrays are uploaded once, each epoch's shuffled order once (as u32 row
//! numbers), and every batch is made on the GPU by `Tensor::gather_rows`, so a training step
//! uploads nothing. One binding is limited (128 MiB on lavapipe, less than Fashion-MNIST's
//! 188 MB of f32 pixels), so each array is kept as graph's `Rows`, split into as few chunks as
//! fit.
//! `fit` uses it on GPUs whenever the data fit that way, and otherwise gathers each batch on the
//! host and uploads it: on CPU adapters by default (there device memory is host memory, and a
//! host gather and copy beats the kernel; see `FitConfig::keep_data_on_gpu`). A gathered batch
//! holds exactly the host gather's values, so both paths train alike.

use std::borrow::Borrow;

use kiln_graph::{Device, Rng, Rows, Tensor};

use crate::array::Array;
use crate::data::epoch_batches;
use crate::error::{NnError, Result};

/// Inputs and targets resident on the GPU, and the current epoch's order.
pub struct DeviceDataset {
    device: Device,
    /// One table per model input, then one per target.
    x: Vec<Rows>,
    y: Vec<Rows>,
    order: Option<Tensor>,
}

/// `a` on the GPU as row chunks that each fit one binding, or `None` when it does not fit the
/// most chunks a gather binds.
fn upload_rows(dev: &Device, a: &Array) -> Result<Option<Rows>> {
    let n = a.len();
    let Some(per) = Rows::rows_per_chunk(dev, n, (a.row_size() * 4) as u64) else {
        return Ok(None);
    };
    if per >= n {
        return Ok(Some(Rows::new(vec![a.to_tensor(dev)?])?));
    }
    let chunks = (0..n)
        .step_by(per)
        .map(|s| a.slice(s, (s + per).min(n)).to_tensor(dev))
        .collect::<Result<_>>()?;
    Ok(Some(Rows::new(chunks)?))
}

impl DeviceDataset {
    /// Uploads `x` and `y` (same sample count); errors when either is larger than one kernel
    /// may bind on this adapter (then gather batches on the host: `Array::gather`).
    pub fn new(dev: &Device, x: &Array, y: &Array) -> Result<DeviceDataset> {
        let (xs, ys) = (std::slice::from_ref(x), std::slice::from_ref(y));
        Self::try_new(dev, xs, ys)?.ok_or_else(|| {
            NnError::Input(format!(
                "DeviceDataset: {} samples of {} and {} values do not fit the buffers a batch \
                 gather binds on this adapter (storage-binding limit {} bytes); gather batches on \
                 the host with Array::gather instead",
                x.len(),
                x.row_size(),
                y.row_size(),
                dev.info().max_storage_buffer_binding_size
            ))
        })
    }

    /// Like `new` for one array per model input and per target, but `None` when the data do
    /// not fit.
    pub(crate) fn try_new<A: Borrow<Array>>(
        dev: &Device,
        xs: &[A],
        ys: &[A],
    ) -> Result<Option<DeviceDataset>> {
        let (xs, ys): (Vec<&Array>, Vec<&Array>) = (
            xs.iter().map(Borrow::borrow).collect(),
            ys.iter().map(Borrow::borrow).collect(),
        );
        let n = xs.first().map_or(0, |a| a.len());
        let named = |v: &[&Array], name: &str| -> Vec<(String, usize)> {
            v.iter()
                .enumerate()
                .map(|(i, a)| match v.len() {
                    1 => (name.to_string(), a.len()),
                    _ => (format!("{name}[{i}]"), a.len()),
                })
                .collect()
        };
        let all = named(&xs, "x").into_iter().chain(named(&ys, "y"));
        if let Some((name, len)) = all.into_iter().find(|(_, len)| *len != n) {
            return Err(NnError::Input(format!(
                "DeviceDataset: x has {n} samples but {name} has {len}"
            )));
        }
        if n > u32::MAX as usize {
            return Ok(None);
        }
        let upload = |v: &[&Array]| -> Result<Option<Vec<Rows>>> {
            v.iter().map(|a| upload_rows(dev, a)).collect()
        };
        let (Some(x), Some(y)) = (upload(&xs)?, upload(&ys)?) else {
            return Ok(None);
        };
        Ok(Some(DeviceDataset {
            device: dev.clone(),
            x,
            y,
            order: None,
        }))
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.first().map_or(0, Rows::len)
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
        self.order = Some(Tensor::from_u32(&self.device, &order, &[order.len()])?);
        Ok(())
    }

    /// The batch of `len` samples starting at position `start` of the epoch's order (the
    /// first input and target).
    pub(crate) fn batch(&self, start: usize, len: usize) -> Result<(Tensor, Tensor)> {
        let (mut x, mut y) = self.batch_all(start, len)?;
        Ok((x.swap_remove(0), y.swap_remove(0)))
    }

    /// The batch of every input and target.
    pub(crate) fn batch_all(&self, start: usize, len: usize) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let order = self.order.as_ref().ok_or_else(|| {
            NnError::Config("DeviceDataset: no epoch order was uploaded before a batch".into())
        })?;
        let gather = |v: &[Rows]| -> Result<Vec<Tensor>> {
            v.iter().map(|r| Ok(r.gather(order, start, len)?)).collect()
        };
        Ok((gather(&self.x)?, gather(&self.y)?))
    }
}
