//! Turning a taken batch into wgpu work: the recorded commands (`Command`), one command encoder,
//! one compute pass per run of consecutive dispatches, bind groups made here (at submit time),
//! the params arena uploaded with one `write_buffer`, and one `queue.submit`. Owns the params
//! uniform buffer and its lock; takes the raw wgpu device and queue.

use std::sync::{Arc, Mutex};

use crate::batch::{PARAMS_SLOT, Taken};
use crate::counters::AtomicCounters;
use crate::lock::lock;
use crate::pipelines::Pipeline;

/// One storage-buffer binding: a whole pool allocation, or a view's range.
#[derive(Clone)]
pub(crate) struct Range {
    pub buffer: wgpu::Buffer,
    pub offset: u64,
    /// `None` binds to the end of the allocation.
    pub size: Option<wgpu::BufferSize>,
}

/// One binding of a dispatch (bindings 1.. in order).
pub(crate) enum Bind {
    Buffer(Range),
    Texture(wgpu::TextureView),
}

/// A recorded command.
pub(crate) enum Command {
    Dispatch {
        pipeline: Arc<Pipeline>,
        /// Byte offset of its params in the arena.
        offset: u32,
        bindings: Vec<Bind>,
        groups: [u32; 3],
    },
    /// Words `0..4 * texels` of `src` into a flat rgba32f texture (see `staging.rs`).
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

pub(crate) struct Encoder {
    device: wgpu::Device,
    queue: wgpu::Queue,
    counters: Arc<AtomicCounters>,
    uniform: Mutex<Option<wgpu::Buffer>>,
}

impl Encoder {
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, counters: Arc<AtomicCounters>) -> Self {
        Encoder {
            device,
            queue,
            counters,
            uniform: Mutex::new(None),
        }
    }

    /// Encodes `taken`, lets `tail` append more (the readback's copies), and submits once.
    /// Does not wait.
    pub fn submit(&self, taken: Taken<Command>, tail: impl FnOnce(&mut wgpu::CommandEncoder)) {
        let uniform = self.params_buffer(taken.arena.len() as u64);
        if !taken.arena.is_empty() {
            self.queue.write_buffer(&uniform, 0, &taken.arena);
        }
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("kiln step"),
            });
        let mut commands = taken.commands.iter().peekable();
        while let Some(command) = commands.next() {
            match command {
                Command::Dispatch { .. } => {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    self.dispatch(&mut pass, &uniform, command);
                    while let Some(next @ Command::Dispatch { .. }) = commands.peek() {
                        self.dispatch(&mut pass, &uniform, next);
                        commands.next();
                    }
                }
                Command::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    size,
                } => encoder.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *size),
                Command::CopyToTexture {
                    src,
                    src_offset,
                    texture,
                    texels,
                } => crate::staging::encode_copy(&mut encoder, src, *src_offset, texture, *texels),
                Command::Clear {
                    buffer,
                    offset,
                    size,
                } => encoder.clear_buffer(buffer, *offset, Some(*size)),
            }
        }
        tail(&mut encoder);
        self.queue.submit([encoder.finish()]);
        AtomicCounters::bump(&self.counters.submits);
    }

    /// Encodes one dispatch into `pass` (its bind group is made here).
    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>, uniform: &wgpu::Buffer, c: &Command) {
        let Command::Dispatch {
            pipeline,
            offset,
            bindings,
            groups,
        } = c
        else {
            return;
        };
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: uniform,
                offset: 0,
                size: wgpu::BufferSize::new(PARAMS_SLOT),
            }),
        }];
        for (k, b) in bindings.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: 1 + k as u32,
                resource: match b {
                    Bind::Buffer(r) => wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &r.buffer,
                        offset: r.offset,
                        size: r.size,
                    }),
                    Bind::Texture(v) => wgpu::BindingResource::TextureView(v),
                },
            });
        }
        let bg = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.layout,
            entries: &entries,
        });
        pass.set_pipeline(&pipeline.pipeline);
        pass.set_bind_group(0, &bg, &[*offset]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }

    /// The params uniform, grown (doubling) to hold `len` bytes plus one slot.
    fn params_buffer(&self, len: u64) -> wgpu::Buffer {
        let mut slot = lock(&self.uniform);
        let need = (len + PARAMS_SLOT).next_power_of_two().max(64 << 10);
        match slot.as_ref() {
            Some(b) if b.size() >= need => b.clone(),
            _ => {
                // The old buffer stays alive for submissions still using it (wgpu refcounts it).
                let b = self.device.create_buffer(&wgpu::BufferDescriptor {
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
}
