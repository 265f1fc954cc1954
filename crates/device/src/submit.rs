//! Recording commands other than dispatches, and `submit`: the pending batch is drained, the
//! pool's quarantine sealed, everything encoded and submitted in one `queue.submit`, and the
//! sealed buffers returned to the free lists. One training step is one submit, whatever the
//! number of kernels.

use crate::batch::BatchMark;
use crate::context::Device;
use crate::encode::Command;
use crate::error::{DeviceError, Result};
use crate::lock::lock;

impl Device {
    /// Records a copy or clear; past `AUTO_SUBMIT` commands the batch is submitted early. A
    /// buffer range it writes is no longer what any staging texture holds.
    pub(crate) fn record(&self, command: Command) {
        match &command {
            Command::Copy {
                dst,
                dst_offset,
                size,
                ..
            } => self
                .inner
                .staging
                .written(dst, *dst_offset, dst_offset + size),
            Command::Clear {
                buffer,
                offset,
                size,
            } => self.inner.staging.written(buffer, *offset, offset + size),
            Command::CopyToTexture { .. } | Command::Dispatch { .. } => {}
        }
        if self.inner.batch.record(command) {
            self.submit();
        }
    }

    /// Submits everything recorded since the last submit, in one `queue.submit`. Does not wait.
    pub fn submit(&self) {
        self.submit_with(|_| {});
    }

    /// `submit`, with `tail` appending commands to the same encoder (the readback's copies).
    pub(crate) fn submit_with(&self, tail: impl FnOnce(&mut wgpu::CommandEncoder)) {
        let inner = &self.inner;
        inner.batch.drain(|taken| {
            // Every command that can reference a buffer quarantined so far is in `taken`.
            let sealed = inner.pool.seal();
            inner.encoder.submit(taken, tail);
            inner.pool.release(sealed);
        });
    }

    /// Where the pending batch stands now, for `rollback`.
    pub fn mark(&self) -> BatchMark {
        self.inner.batch.mark()
    }

    /// Drops every command recorded since `mark` (from any thread), so that work which failed
    /// halfway (a training step whose later launch was refused) leaves no half of itself to
    /// run: weights, optimizer slots and metrics stay as they were. Staging textures forget
    /// what they hold (their copies may be among the dropped commands). False, dropping
    /// nothing, when a submit happened since the mark (a readback, or a batch past
    /// `AUTO_SUBMIT` commands): those commands have run. A buffer made since the mark and
    /// initialised by a recorded command (`zeros`, `write`) must not outlive the rollback;
    /// the caller makes such state before taking the mark.
    pub fn rollback(&self, mark: BatchMark) -> bool {
        self.inner
            .batch
            .rollback(mark, || self.inner.staging.forget_all())
    }

    /// Takes the error wgpu reported outside an error scope since the last check, if any.
    pub(crate) fn take_gpu_error(&self) -> Result<()> {
        match lock(&self.inner.gpu_error).take() {
            Some(msg) => Err(DeviceError::Gpu(msg)),
            None => Ok(()),
        }
    }
}
