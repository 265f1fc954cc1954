//! `Tensor`: an n-dimensional, contiguous, row-major array on the GPU, plus (when it was computed
//! from tensors that need gradients) the op that produced it. Cheap to clone (`Arc` inside).
//! Transposes are matmul flags or explicit permutes, never strided views.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kiln_device::{Device, GpuBuffer};

use crate::error::{GraphError, Result, shape_err};
use crate::op::Op;

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float (everything differentiable).
    F32,
    /// 32-bit unsigned integer (labels, indices).
    U32,
}

impl DType {
    /// Name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::U32 => "u32",
        }
    }
}

pub(crate) struct Inner {
    pub id: u64,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub buffer: Arc<GpuBuffer>,
    pub device: Device,
    pub op: Option<Op>,
    pub requires_grad: bool,
    /// For a softmax's output, its input: the logits (Keras's `_keras_logits`), kept whatever
    /// the grad mode so the cross-entropies can start from them (`Tensor::softmax_input`).
    pub softmax_input: Option<Tensor>,
}

/// A tensor on the GPU.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The element count of `shape`, or an error naming `op` when it overflows.
pub(crate) fn numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| shape_err(op, "the element count overflows", &[shape]))
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Runs `f` with gradient recording off: ops inside record nothing (evaluation, predict,
/// optimizer updates, the backward pass itself).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let previous = GRAD_ENABLED.with(|g| g.replace(false));
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(previous);
    f()
}

/// Whether ops currently record.
pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = self
            .0
            .op
            .as_ref()
            .map_or("leaf".to_string(), |o| o.to_string());
        write!(
            f,
            "Tensor(#{} {:?} {} {op})",
            self.0.id,
            self.0.shape,
            self.0.dtype.name()
        )
    }
}

impl Tensor {
    pub(crate) fn from_parts(
        device: &Device,
        buffer: Arc<GpuBuffer>,
        shape: Vec<usize>,
        dtype: DType,
        op: Option<Op>,
    ) -> Tensor {
        let requires_grad = op.is_some();
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shape,
            dtype,
            buffer,
            device: device.clone(),
            op,
            requires_grad,
            softmax_input: None,
        }))
    }

    fn check_len(op: &'static str, len: usize, shape: &[usize]) -> Result<()> {
        let n = numel(op, shape)?;
        if n != len {
            return Err(shape_err(
                op,
                format!("{len} values cannot fill shape {shape:?} ({n} elements)"),
                &[shape],
            ));
        }
        Ok(())
    }

    /// An f32 tensor holding `data` (row-major) with `shape`.
    pub fn from_f32(device: &Device, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        Self::check_len("from_f32", data.len(), shape)?;
        Self::check_fits(device, shape, data.len())?;
        Ok(Self::from_parts(
            device,
            Arc::new(device.upload(data)?),
            shape.to_vec(),
            DType::F32,
            None,
        ))
    }

    /// An f32 tensor on existing storage, such as a view of a packed buffer (`Device::pack`):
    /// `buffer` must hold exactly the shape's element count. Writes through either alias show
    /// in both.
    pub fn from_buffer(device: &Device, buffer: Arc<GpuBuffer>, shape: &[usize]) -> Result<Tensor> {
        Self::check_len("from_buffer", buffer.words(), shape)?;
        Ok(Self::from_parts(
            device,
            buffer,
            shape.to_vec(),
            DType::F32,
            None,
        ))
    }

    /// A u32 tensor (labels, indices).
    pub fn from_u32(device: &Device, data: &[u32], shape: &[usize]) -> Result<Tensor> {
        Self::check_len("from_u32", data.len(), shape)?;
        Self::check_fits(device, shape, data.len())?;
        Ok(Self::from_parts(
            device,
            Arc::new(device.upload(data)?),
            shape.to_vec(),
            DType::U32,
            None,
        ))
    }

    /// Whether `n` 32-bit values of `shape` fit the adapter; the error names the shape.
    fn check_fits(device: &Device, shape: &[usize], n: usize) -> Result<()> {
        let bytes = (n as u64).saturating_mul(4);
        device.check_alloc(bytes, || {
            format!("a tensor of shape {shape:?} ({n} values)")
        })?;
        Ok(())
    }

    /// A pooled buffer for an f32 tensor of `shape`, checked against the adapter's limits
    /// (the error names the tensor's shape) before anything is allocated.
    fn storage(op: &'static str, device: &Device, shape: &[usize]) -> Result<(GpuBuffer, usize)> {
        let n = numel(op, shape)?;
        Self::check_fits(device, shape, n)?;
        Ok((device.alloc((n as u64) * 4)?, n))
    }

    /// An f32 tensor of zeros.
    pub fn zeros(device: &Device, shape: &[usize]) -> Result<Tensor> {
        let (buf, _) = Self::storage("zeros", device, shape)?;
        device.clear(&buf)?;
        Ok(Self::from_parts(
            device,
            Arc::new(buf),
            shape.to_vec(),
            DType::F32,
            None,
        ))
    }

    /// An f32 tensor filled with `value`.
    pub fn full(device: &Device, shape: &[usize], value: f32) -> Result<Tensor> {
        let (buf, n) = Self::storage("full", device, shape)?;
        kiln_device::ops::fill::fill(device, &buf, n, value)?;
        Ok(Self::from_parts(
            device,
            Arc::new(buf),
            shape.to_vec(),
            DType::F32,
            None,
        ))
    }

    /// This tensor as a trainable leaf: gradients flow to it. (Same storage.)
    pub fn requires_grad(self) -> Tensor {
        let i = &self.0;
        Tensor(Arc::new(Inner {
            id: i.id,
            shape: i.shape.clone(),
            dtype: i.dtype,
            buffer: i.buffer.clone(),
            device: i.device.clone(),
            op: None,
            requires_grad: true,
            softmax_input: None,
        }))
    }

    /// Same storage, cut from the graph: no gradient flows through the result.
    pub fn detach(&self) -> Tensor {
        let i = &self.0;
        Self::from_parts(&i.device, i.buffer.clone(), i.shape.clone(), i.dtype, None)
    }

    /// The logits this tensor is the softmax of (over the last axis), when `softmax` made it.
    /// Keras's losses do the same with a softmax's output (its `_keras_logits`): a
    /// cross-entropy from the logits is exact where log(clip(p)) caps confident predictions.
    pub fn softmax_input(&self) -> Option<&Tensor> {
        self.0.softmax_input.as_ref()
    }

    /// Whether gradients flow to or through this tensor.
    pub fn tracks_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// Unique id (gradients are looked up by it).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.shape.iter().product()
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    /// The device holding the data.
    pub fn device(&self) -> &Device {
        &self.0.device
    }

    /// The GPU storage (for launchers and in-place optimizer updates).
    pub fn buffer(&self) -> &GpuBuffer {
        &self.0.buffer
    }

    /// The storage, shared: `Arc::ptr_eq` on it tells whether two tensors alias.
    pub fn shared_buffer(&self) -> &Arc<GpuBuffer> {
        &self.0.buffer
    }

    /// The op that produced this tensor, if it was recorded.
    pub fn op(&self) -> Option<&Op> {
        self.0.op.as_ref()
    }

    /// Copies several f32 tensors to the host with one readback (one GPU wait for all).
    pub fn read_many(tensors: &[&Tensor]) -> Result<Vec<Vec<f32>>> {
        let Some(first) = tensors.first() else {
            return Ok(Vec::new());
        };
        for t in tensors {
            t.expect_dtype("read_many", DType::F32)?;
        }
        let bufs: Vec<&GpuBuffer> = tensors.iter().map(|t| t.buffer()).collect();
        Ok(first.device().read_back_f32(&bufs)?)
    }

    /// Copies the values to the host (through the device's one readback).
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.expect_dtype("to_vec", DType::F32)?;
        Ok(self.0.device.read_f32(&self.0.buffer)?)
    }

    /// Copies u32 values to the host.
    pub fn to_vec_u32(&self) -> Result<Vec<u32>> {
        self.expect_dtype("to_vec_u32", DType::U32)?;
        Ok(self.0.device.read_u32(&self.0.buffer)?)
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(shape_err(
                "item",
                "needs exactly one element",
                &[self.shape()],
            ));
        }
        Ok(self.to_vec()?[0])
    }

    pub(crate) fn expect_dtype(&self, op: &'static str, dtype: DType) -> Result<()> {
        if self.0.dtype != dtype {
            return Err(GraphError::DType {
                op,
                expected: dtype.name(),
                got: self.0.dtype.name(),
            });
        }
        Ok(())
    }

    /// This fresh tensor with its softmax input recorded (`softmax_input`).
    pub(crate) fn with_softmax_input(self, logits: Tensor) -> Tensor {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.softmax_input = Some(logits);
                Tensor(Arc::new(inner))
            }
            Err(shared) => Tensor(shared),
        }
    }

    /// Builds an op's output: records `op` when grad is enabled and any input tracks grad.
    pub(crate) fn output(
        device: &Device,
        buffer: Arc<GpuBuffer>,
        shape: Vec<usize>,
        op: Op,
    ) -> Tensor {
        let record = grad_enabled() && op.inputs().iter().any(|t| t.tracks_grad());
        Self::from_parts(device, buffer, shape, DType::F32, record.then_some(op))
    }
}
