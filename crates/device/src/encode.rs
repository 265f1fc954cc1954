//! Turning a taken batch into wgpu work: the recorded commands (`Command`), one command encoder,
//! one compute pass per run of consecutive dispatches, bind groups made here (at submit time),
//! the params arena uploaded with one `write_buffer`, and one `queue.submit`. Owns the params
//! uniform buffer and its lock, and the profiler (`profile.rs`: when on, one timed pass per
//! dispatch and a wait for the timestamps); takes the raw wgpu device and queue.

use std::sync::{Arc, Mutex};

use crate::batch::{PARAMS_SLOT, Taken};
use crate::counters::AtomicCounters;
use crate::lock::lock;
use crate::pipelines::Pipeline;
use crate::profile::{Between, Profiler};

/// wgpu's limit on the queries of one query set: a profiled submit times its first 2,048
/// dispatches.
const MAX_QUERIES: u32 = 4096;

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
    pub profiler: Profiler,
}

impl Encoder {
    pub fn new(
        device: wgpu::Device,
        queue: wgpu::Queue,
        counters: Arc<AtomicCounters>,
        timestamp_period_ns: Option<f32>,
    ) -> Self {
        Encoder {
            device,
            queue,
            counters,
            uniform: Mutex::new(None),
            profiler: Profiler::new(timestamp_period_ns),
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
        let profiling = self.profiler.on();
        let started = profiling.then(|| self.profiler.submit_started());
        let timed = profiling && self.profiler.period_ns.is_some();
        let queries = timed.then(|| {
            self.device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("kiln profile"),
                ty: wgpu::QueryType::Timestamp,
                count: MAX_QUERIES,
            })
        });
        let mut names: Vec<&'static str> = Vec::new();
        // What the encoder holds between one profiled dispatch and the next (its time is the
        // gap between their passes' timestamps: profile.rs).
        let (mut gaps, mut between) = (Vec::new(), Between::default());
        let mut commands = taken.commands.iter().peekable();
        while let Some(command) = commands.next() {
            match command {
                Command::Dispatch { pipeline, .. } if profiling => {
                    // One pass per dispatch, timed at its start and end.
                    let i = names.len() as u32;
                    let writes = queries
                        .as_ref()
                        .filter(|_| 2 * i + 1 < MAX_QUERIES)
                        .map(|q| wgpu::ComputePassTimestampWrites {
                            query_set: q,
                            beginning_of_pass_write_index: Some(2 * i),
                            end_of_pass_write_index: Some(2 * i + 1),
                        });
                    if writes.is_some() || !timed {
                        names.push(pipeline.name);
                        gaps.push(between.take());
                    }
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: writes,
                    });
                    self.dispatch(&mut pass, &uniform, command);
                }
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
                } => {
                    between.buffer_copies = true;
                    encoder.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *size);
                }
                Command::CopyToTexture {
                    src,
                    src_offset,
                    texture,
                    texels,
                } => {
                    between.staging_copies = true;
                    crate::staging::encode_copy(&mut encoder, src, *src_offset, texture, *texels);
                }
                Command::Clear {
                    buffer,
                    offset,
                    size,
                } => {
                    between.clears = true;
                    encoder.clear_buffer(buffer, *offset, Some(*size));
                }
            }
        }
        tail(&mut encoder);
        let resolved = match (&queries, names.is_empty()) {
            (Some(q), false) => Some(self.resolve(&mut encoder, q, names.len() as u32)),
            _ => None,
        };
        self.queue.submit([encoder.finish()]);
        AtomicCounters::bump(&self.counters.submits);
        if let Some(started) = started {
            let ticks = resolved.and_then(|b| self.read_ticks(&b));
            self.profiler
                .submit_ended(started, &names, &gaps, ticks.as_deref());
        }
    }

    /// Resolves the first `n` dispatches' timestamps into a mappable buffer.
    fn resolve(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        q: &wgpu::QuerySet,
        n: u32,
    ) -> wgpu::Buffer {
        let bytes = 2 * n as u64 * 8;
        let usage = wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC;
        let resolve = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kiln profile resolve"),
            size: bytes,
            usage,
            mapped_at_creation: false,
        });
        let read = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("kiln profile read"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        encoder.resolve_query_set(q, 0..2 * n, &resolve, 0);
        encoder.copy_buffer_to_buffer(&resolve, 0, &read, 0, bytes);
        read
    }

    /// The timestamps of a profiled submit. Profiling's own wait (not counted in `waits`):
    /// the totals need the GPU to have finished the submit.
    fn read_ticks(&self, read: &wgpu::Buffer) -> Option<Vec<u64>> {
        let bytes = crate::wait::map_and_wait(&self.device, read, read.size(), || Ok(())).ok()?;
        Some(bytemuck::pod_collect_to_vec(&bytes))
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
