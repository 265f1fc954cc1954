//! Pipeline cache: shader modules (one per WGSL file) and compute pipelines (one per `Kernel`)
//! are created on first use and kept. Creation runs inside a wgpu validation error scope, so a
//! bad shader becomes `DeviceError::ShaderValidation` instead of a panic. Bind-group layouts are
//! explicit (uniform with dynamic offset, then read-only storage or textures, then read-write
//! storage) and shared by every kernel with the same signature.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::context::{Device, lock};
use crate::counters::AtomicCounters;
use crate::error::{DeviceError, Result};
use crate::kernels::{Kernel, ShaderFile};
use crate::texture_flavor::texture_flavor;

/// Bytes reserved per dispatch in the params arena; every params struct fits in it and it is a
/// multiple of every adapter's `min_uniform_buffer_offset_alignment` (at most 256).
pub const PARAMS_SLOT: u64 = 256;

pub(crate) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// A binding signature: (inputs, outputs, inputs are textures).
type LayoutKey = (u32, u32, bool);

pub(crate) struct Pipelines {
    unchecked: bool,
    /// Keyed by file and flavour (true: the texture flavour, see `texture_flavor.rs`).
    modules: Mutex<HashMap<(ShaderFile, bool), wgpu::ShaderModule>>,
    layouts: Mutex<HashMap<LayoutKey, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>>,
    pipelines: Mutex<HashMap<(Kernel, bool), Arc<Pipeline>>>,
}

impl Pipelines {
    pub fn new(unchecked: bool) -> Self {
        Self {
            unchecked,
            modules: Mutex::new(HashMap::new()),
            layouts: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
        }
    }
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

fn texture_entry(binding: u32) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Float { filterable: false },
            view_dimension: wgpu::TextureViewDimension::D2,
            multisampled: false,
        },
        count: None,
    }
}

impl Device {
    /// The cached pipeline for `kernel`, created (and validated) on first use; `textured` picks
    /// the texture flavour of its file (inputs bound as textures).
    pub(crate) fn pipeline(&self, kernel: Kernel, textured: bool) -> Result<Arc<Pipeline>> {
        let cache = &self.inner.pipelines;
        if let Some(p) = lock(&cache.pipelines).get(&(kernel, textured)) {
            return Ok(p.clone());
        }
        let mut spec = kernel.spec();
        spec.texture_inputs |= textured;
        let cached = lock(&cache.modules).get(&(spec.file, textured)).cloned();
        // The source (and the flavour rewrite) only when the module is first made, and before
        // the error scope opens, so a file without a flavour cannot leave the scope pushed.
        let source: Option<Cow<'static, str>> = match (&cached, textured) {
            (Some(_), _) => None,
            (None, true) => Some(
                texture_flavor(spec.file.source())
                    .map_err(|message| DeviceError::ShaderValidation {
                        kernel: spec.entry_point,
                        message: format!("no texture flavour: {message}"),
                    })?
                    .into(),
            ),
            (None, false) => Some(spec.file.source().into()),
        };
        let dev = self.raw();
        let scope = dev.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = match (cached, source) {
            (Some(m), _) => m,
            // No module cached: `source` was made above.
            (None, source) => {
                let desc = wgpu::ShaderModuleDescriptor {
                    label: Some(spec.file.file_name()),
                    source: wgpu::ShaderSource::Wgsl(source.unwrap_or_default()),
                };
                let m = if cache.unchecked {
                    // SAFETY: only on llvmpipe, which drops out-of-range storage accesses
                    // itself; every kiln kernel also guards or clamps its own indices.
                    unsafe {
                        dev.create_shader_module_trusted(
                            desc,
                            wgpu::ShaderRuntimeChecks::unchecked(),
                        )
                    }
                } else {
                    dev.create_shader_module(desc)
                };
                lock(&cache.modules).insert((spec.file, textured), m.clone());
                m
            }
        };
        let (bgl, pl) = {
            let mut layouts = lock(&cache.layouts);
            layouts
                .entry((spec.inputs, spec.outputs, spec.texture_inputs))
                .or_insert_with(|| {
                    let mut entries = vec![wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: true,
                            min_binding_size: None,
                        },
                        count: None,
                    }];
                    for i in 0..spec.inputs + spec.outputs {
                        entries.push(if spec.texture_inputs && i < spec.inputs {
                            texture_entry(1 + i)
                        } else {
                            storage_entry(1 + i, i < spec.inputs)
                        });
                    }
                    let bgl = dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: Some("kiln"),
                        entries: &entries,
                    });
                    let pl = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some("kiln"),
                        bind_group_layouts: &[Some(&bgl)],
                        immediate_size: 0,
                    });
                    (bgl, pl)
                })
                .clone()
        };
        let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(spec.entry_point),
            layout: Some(&pl),
            module: &module,
            entry_point: Some(spec.entry_point),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(err) = pollster::block_on(scope.pop()) {
            // Drop the module too: a module that failed validation must not be reused.
            lock(&cache.modules).remove(&(spec.file, textured));
            return Err(DeviceError::ShaderValidation {
                kernel: spec.entry_point,
                message: err.to_string(),
            });
        }
        AtomicCounters::bump(&self.inner.counters.pipelines);
        let p = Arc::new(Pipeline {
            pipeline,
            layout: bgl,
        });
        lock(&cache.pipelines).insert((kernel, textured), p.clone());
        Ok(p)
    }

    /// Creates every pipeline now, so the first training step does not pay for compilation.
    pub fn warm_up(&self, kernels: &[Kernel]) -> Result<()> {
        for &k in kernels {
            self.pipeline(k, false)?;
        }
        Ok(())
    }
}
