//! The pending batch: every launch between two submits is recorded here (not encoded yet) and
//! `submit` encodes the lot into one command encoder and calls `queue.submit` once. So one
//! training step is one submit, whatever the number of kernels.
//!
//! Per-dispatch parameters go to a host-side arena, one `PARAMS_SLOT` per dispatch, uploaded with
//! a single `write_buffer` at submit and bound with a dynamic offset. (Several `write_buffer`s to
//! one shared uniform before a submit would all land before any dispatch ran, so every dispatch
//! would see the last one.)

use std::sync::Arc;

use crate::buffer::{GpuBuffer, Range};
use crate::context::{Device, TEXTURE_MIN_WORDS, TextureInputs, lock};
use crate::counters::AtomicCounters;
use crate::error::{DeviceError, Result, launch_err};
use crate::kernels::Kernel;
use crate::pipelines::{PARAMS_SLOT, Pipeline};
use crate::staging_texture::SLOTS;

/// Past this many recorded commands the batch is submitted early, so eager code that never
/// reads back still frees its quarantined buffers.
const AUTO_SUBMIT: usize = 4096;

/// One binding of a dispatch (bindings 1.. in order).
pub(crate) enum Bind {
    Buffer(Range),
    Texture(wgpu::TextureView),
}

pub(crate) enum Command {
    Dispatch {
        pipeline: Arc<Pipeline>,
        offset: u32,
        bindings: Vec<Bind>,
        groups: [u32; 3],
    },
    /// Words `0..4 * texels` of `src` into a flat rgba32f texture (see `staging_texture.rs`).
    CopyToTexture {
        src: wgpu::Buffer,
        src_offset: u64,
        texture: wgpu::Texture,
        texels: u32,
    },
    Copy {
        src: wgpu::Buffer,
        src_offset: u64,
        dst: wgpu::Buffer,
        dst_offset: u64,
        size: u64,
    },
    Clear {
        buffer: wgpu::Buffer,
        offset: u64,
        size: u64,
    },
}

#[derive(Default)]
pub(crate) struct Pending {
    pub commands: Vec<Command>,
    pub arena: Vec<u8>,
    /// Buffers dropped since the last submit: (size class, buffer).
    pub quarantine: Vec<(u64, wgpu::Buffer)>,
}

impl Device {
    /// Records one dispatch of `kernel`. `buffers` are the kernel's inputs then outputs, in
    /// binding order; `groups` is the workgroup grid (see `grid`). Nothing runs until `submit`.
    pub fn dispatch<P: bytemuck::Pod>(
        &self,
        kernel: Kernel,
        params: &P,
        buffers: &[&GpuBuffer],
        groups: [u32; 3],
    ) -> Result<()> {
        let spec = kernel.spec();
        let op = spec.entry_point;
        if buffers.len() != (spec.inputs + spec.outputs) as usize {
            return Err(launch_err(
                op,
                format!(
                    "expects {} buffers, got {}",
                    spec.inputs + spec.outputs,
                    buffers.len()
                ),
            ));
        }
        let bytes = bytemuck::bytes_of(params);
        if bytes.len() as u64 > PARAMS_SLOT {
            return Err(launch_err(
                op,
                format!(
                    "params of {} bytes exceed the {PARAMS_SLOT}-byte slot",
                    bytes.len()
                ),
            ));
        }
        let max = self.info().max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(launch_err(
                op,
                format!("grid {groups:?} exceeds {max} workgroups per dimension"),
            ));
        }
        // An output bound twice (or also as an input) is a write hazard wgpu rejects.
        for (i, out) in buffers.iter().enumerate().skip(spec.inputs as usize) {
            if let Some(j) = buffers
                .iter()
                .enumerate()
                .position(|(j, b)| j != i && b.raw() == out.raw())
            {
                return Err(launch_err(
                    op,
                    format!(
                        "output buffer {i} is also bound as buffer {j} (views of one packed \
                         buffer count as one buffer)"
                    ),
                ));
            }
        }
        if groups.contains(&0) {
            return Ok(());
        }
        let inputs = &buffers[..spec.inputs as usize];
        if !self.textured_inputs(kernel, inputs) {
            let bindings = buffers.iter().map(|b| Bind::Buffer(b.range()));
            return self.record_dispatch(kernel, false, bytes, bindings.collect(), groups);
        }
        let staged: Vec<(&GpuBuffer, usize)> = inputs.iter().map(|b| (*b, b.words())).collect();
        let outputs = &buffers[inputs.len()..];
        self.record_textured(kernel, true, bytes, &staged, outputs, groups)
    }

    /// Whether `dispatch` runs the texture flavour of `kernel` for these inputs (see
    /// `TextureInputs`).
    fn textured_inputs(&self, kernel: Kernel, inputs: &[&GpuBuffer]) -> bool {
        let spec = kernel.spec();
        let possible = !spec.texture_inputs
            && spec.stageable
            && !inputs.is_empty()
            && inputs.len() <= SLOTS
            && inputs.iter().all(|b| self.fits_staging(b.words()));
        let words: usize = inputs.iter().map(|b| b.words()).sum();
        possible
            && match self.inner.texture_inputs {
                TextureInputs::Auto => self.info().is_cpu() && words >= TEXTURE_MIN_WORDS,
                TextureInputs::Always => true,
                TextureInputs::Never => false,
            }
    }

    /// Records a dispatch whose bindings are already resolved (checked by the caller);
    /// `textured` selects the texture flavour of the kernel's file.
    pub(crate) fn record_dispatch(
        &self,
        kernel: Kernel,
        textured: bool,
        params: &[u8],
        bindings: Vec<Bind>,
        groups: [u32; 3],
    ) -> Result<()> {
        let pipeline = self.pipeline(kernel, textured)?;
        let mut pending = lock(&self.inner.pending);
        let offset = pending.arena.len();
        pending.arena.extend_from_slice(params);
        pending.arena.resize(offset + PARAMS_SLOT as usize, 0);
        AtomicCounters::bump(&self.inner.counters.dispatches);
        let command = Command::Dispatch {
            pipeline,
            offset: offset as u32,
            bindings,
            groups,
        };
        self.push_locked(&mut pending, command);
        Ok(())
    }

    pub(crate) fn record(&self, command: Command) -> Result<()> {
        let mut pending = lock(&self.inner.pending);
        self.push_locked(&mut pending, command);
        Ok(())
    }

    /// Appends a command; past `AUTO_SUBMIT` commands the batch is submitted early.
    pub(crate) fn push_locked(&self, pending: &mut Pending, command: Command) {
        pending.commands.push(command);
        if pending.commands.len() >= AUTO_SUBMIT {
            self.submit_locked(pending, |_| {});
        }
    }

    /// Submits everything recorded since the last submit, in one `queue.submit`. Does not wait.
    pub fn submit(&self) {
        let mut pending = lock(&self.inner.pending);
        self.submit_locked(&mut pending, |_| {});
    }

    /// Encodes the pending commands, lets `tail` append more (the readback's copies), submits
    /// once, and releases the quarantined buffers to the pool.
    pub(crate) fn submit_locked(
        &self,
        pending: &mut Pending,
        tail: impl FnOnce(&mut wgpu::CommandEncoder),
    ) {
        let dev = self.raw();
        let uniform = self.params_buffer(pending.arena.len() as u64);
        if !pending.arena.is_empty() {
            self.inner.queue.write_buffer(&uniform, 0, &pending.arena);
        }
        let mut encoder = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("kiln step"),
        });
        let mut i = 0;
        let commands = std::mem::take(&mut pending.commands);
        while i < commands.len() {
            match &commands[i] {
                Command::Dispatch { .. } => {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    while let Some(Command::Dispatch {
                        pipeline,
                        offset,
                        bindings,
                        groups,
                    }) = commands.get(i)
                    {
                        let mut entries = vec![wgpu::BindGroupEntry {
                            binding: 0,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &uniform,
                                offset: 0,
                                size: wgpu::BufferSize::new(PARAMS_SLOT),
                            }),
                        }];
                        for (k, b) in bindings.iter().enumerate() {
                            entries.push(wgpu::BindGroupEntry {
                                binding: 1 + k as u32,
                                resource: match b {
                                    Bind::Buffer(r) => {
                                        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                            buffer: &r.buffer,
                                            offset: r.offset,
                                            size: r.size,
                                        })
                                    }
                                    Bind::Texture(v) => wgpu::BindingResource::TextureView(v),
                                },
                            });
                        }
                        let bg = dev.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: None,
                            layout: &pipeline.layout,
                            entries: &entries,
                        });
                        pass.set_pipeline(&pipeline.pipeline);
                        pass.set_bind_group(0, &bg, &[*offset]);
                        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                        i += 1;
                    }
                }
                Command::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    size,
                } => {
                    encoder.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *size);
                    i += 1;
                }
                Command::CopyToTexture {
                    src,
                    src_offset,
                    texture,
                    texels,
                } => {
                    crate::staging_texture::encode_copy(
                        &mut encoder,
                        src,
                        *src_offset,
                        texture,
                        *texels,
                    );
                    i += 1;
                }
                Command::Clear {
                    buffer,
                    offset,
                    size,
                } => {
                    encoder.clear_buffer(buffer, *offset, Some(*size));
                    i += 1;
                }
            }
        }
        tail(&mut encoder);
        self.inner.queue.submit([encoder.finish()]);
        AtomicCounters::bump(&self.inner.counters.submits);
        pending.arena.clear();
        let mut pool = lock(&self.inner.pool);
        for (class, buf) in pending.quarantine.drain(..) {
            pool.entry(class).or_default().push(buf);
        }
    }

    /// The params uniform, grown (doubling) to hold `len` bytes plus one slot.
    fn params_buffer(&self, len: u64) -> wgpu::Buffer {
        let mut slot = lock(&self.inner.uniform);
        let need = (len + PARAMS_SLOT).next_power_of_two().max(64 << 10);
        match slot.as_ref() {
            Some(b) if b.size() >= need => b.clone(),
            _ => {
                // The old buffer stays alive for submissions still using it (wgpu refcounts it).
                let b = self.raw().create_buffer(&wgpu::BufferDescriptor {
                    label: Some("kiln params arena"),
                    size: need,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                *slot = Some(b.clone());
                b
            }
        }
    }

    /// Takes the error wgpu reported outside an error scope since the last check, if any.
    pub(crate) fn take_gpu_error(&self) -> Result<()> {
        match lock(&self.inner.gpu_error).take() {
            Some(msg) => Err(DeviceError::Gpu(msg)),
            None => Ok(()),
        }
    }
}
