//! The one GPU wait: map a readback buffer whose copies are submitted, and block until the GPU
//! has finished them. `read_back` waits here, and so do the profiler's timestamps (only while
//! profiling, `encode.rs`). Depends on wgpu alone, so subsystems and `Device` can both use it.

use std::sync::{Arc, Mutex};

use crate::error::{DeviceError, Result};
use crate::lock::lock;

/// Maps the first `len` bytes of `buffer` (a MAP_READ buffer whose copies are submitted), waits
/// for the GPU, runs `after_wait` (the caller's error check), and returns them.
pub(crate) fn map_and_wait(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    len: u64,
    after_wait: impl FnOnce() -> Result<()>,
) -> Result<Vec<u8>> {
    let status: Arc<Mutex<Option<std::result::Result<(), wgpu::BufferAsyncError>>>> =
        Arc::new(Mutex::new(None));
    let sink = status.clone();
    buffer.map_async(wgpu::MapMode::Read, 0..len, move |r| *lock(&sink) = Some(r));
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| DeviceError::Gpu(format!("waiting for the GPU failed: {e}")))?;
    after_wait()?;
    match lock(&status).take() {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            return Err(DeviceError::Gpu(format!(
                "mapping the readback buffer failed: {e}"
            )));
        }
        None => return Err(DeviceError::Gpu("the readback map never completed".into())),
    }
    let out = buffer
        .get_mapped_range(0..len)
        .map_err(|e| DeviceError::Gpu(format!("reading the mapped buffer failed: {e}")))?
        .to_vec();
    buffer.unmap();
    Ok(out)
}
