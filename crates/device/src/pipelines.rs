//! The pipeline cache, owned here with its locks: shader modules (one per WGSL file and flavour)
//! and compute pipelines (one per `Kernel`, flavour and override values) are created on first
//! use and kept. A flavour is the texture rewrite (`texture_flavor.rs`), the wide one
//! (`wide_flavor.rs`), both, or neither; a file without a wide flavour runs its plain module
//! where the wide one was asked for.
//! Creation runs inside a wgpu validation error scope, so a bad shader becomes
//! `DeviceError::ShaderValidation` instead of a panic. Bind-group layouts are explicit (uniform
//! with dynamic offset, then read-only storage or textures, then read-write storage) and shared
//! by every kernel with the same signature. Where the backend has a pipeline cache, pipelines
//! are created through it and it is kept on disk (`disk_cache.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::counters::AtomicCounters;
use crate::disk_cache::DiskCache;
use crate::error::{DeviceError, Result};
use crate::kernels::{Kernel, ShaderFile};
use crate::lock::lock;
use crate::overrides::Overrides;
use crate::texture_flavor::texture_flavor;

/// Which rewrites of its file a kernel runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Flavour {
    /// Storage inputs read from staging textures (`texture_flavor.rs`).
    pub textures: bool,
    /// Vec4 storage arrays moved as 64-bit words (`wide_flavor.rs`), where the file has it.
    pub wide: bool,
}

/// A compiled kernel and the layout its bind groups are made with.
pub(crate) struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    /// Its entry point (the profiler's name for it).
    pub name: &'static str,
}

/// A binding signature: (inputs, outputs, inputs are textures).
type LayoutKey = (u32, u32, bool);

pub(crate) struct PipelineCache {
    device: wgpu::Device,
    counters: Arc<AtomicCounters>,
    /// Modules skip naga's bounds-check clamping (see `context.rs`).
    unchecked: bool,
    /// Keyed by file and flavour.
    modules: Mutex<HashMap<(ShaderFile, Flavour), wgpu::ShaderModule>>,
    layouts: Mutex<HashMap<LayoutKey, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>>,
    /// Keyed by kernel, flavour and the values of its overrides (`overrides.rs`).
    pipelines: Mutex<HashMap<(Kernel, Flavour, Overrides), Arc<Pipeline>>>,
    /// Whether each file (plain, or its texture flavour) has a wide flavour, once asked.
    wide_files: Mutex<HashMap<(ShaderFile, bool), bool>>,
    /// The pipeline cache kept on disk, where the backend has one.
    pub disk: Option<DiskCache>,
}

/// The WGSL of `file` in `flavour`: the texture rewrite first (it turns read-only inputs into
/// textures), then the wide one over the storage arrays left.
fn flavoured_source(file: ShaderFile, flavour: Flavour) -> std::result::Result<String, String> {
    let mut src = file.source();
    if flavour.textures {
        src = texture_flavor(&src).map_err(|e| format!("no texture flavour: {e}"))?;
    }
    if flavour.wide {
        src = file
            .wide_flavour_of(&src)
            .map_err(|e| format!("no wide flavour: {e}"))?;
    }
    Ok(src)
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

impl PipelineCache {
    pub fn new(
        device: wgpu::Device,
        counters: Arc<AtomicCounters>,
        unchecked: bool,
        disk: Option<DiskCache>,
    ) -> Self {
        PipelineCache {
            device,
            counters,
            unchecked,
            modules: Mutex::new(HashMap::new()),
            layouts: Mutex::new(HashMap::new()),
            pipelines: Mutex::new(HashMap::new()),
            wide_files: Mutex::new(HashMap::new()),
            disk,
        }
    }

    /// The pipeline for `kernel`, created (and validated) on first use; `flavour` picks the
    /// rewrites of its file (`textures`: inputs bound as textures), `overrides` the values of
    /// its pipeline-overridable constants.
    pub fn get(
        &self,
        kernel: Kernel,
        flavour: Flavour,
        overrides: Overrides,
    ) -> Result<Arc<Pipeline>> {
        if let Some(p) = lock(&self.pipelines).get(&(kernel, flavour, overrides)) {
            return Ok(p.clone());
        }
        let spec = kernel.spec();
        if flavour.wide && !self.has_wide(spec.file, flavour.textures) {
            let plain = Flavour {
                wide: false,
                ..flavour
            };
            let p = self.get(kernel, plain, overrides)?;
            lock(&self.pipelines).insert((kernel, flavour, overrides), p.clone());
            return Ok(p);
        }
        if !overrides.fit(kernel) {
            return Err(DeviceError::ShaderValidation {
                kernel: spec.entry_point,
                message: format!(
                    "override values {:?} given, but the kernel names only {:?}",
                    overrides.0,
                    Overrides::names(kernel)
                ),
            });
        }
        let constants = overrides.constants(kernel);
        let textures = spec.texture_inputs || flavour.textures;
        let cached = lock(&self.modules).get(&(spec.file, flavour)).cloned();
        // The source (and the flavour rewrites) only when the module is first made, and before
        // the error scope opens, so a file without a flavour cannot leave the scope pushed.
        let source = match cached {
            Some(_) => None,
            None => Some(flavoured_source(spec.file, flavour).map_err(|message| {
                DeviceError::ShaderValidation {
                    kernel: spec.entry_point,
                    message,
                }
            })?),
        };
        let dev = &self.device;
        let scope = dev.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = match cached {
            Some(m) => m,
            None => {
                let desc = wgpu::ShaderModuleDescriptor {
                    label: Some(spec.file.file_name()),
                    source: wgpu::ShaderSource::Wgsl(source.unwrap_or_default().into()),
                };
                let m = if self.unchecked {
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
                lock(&self.modules).insert((spec.file, flavour), m.clone());
                m
            }
        };
        let (bgl, pl) = self.layout((spec.inputs, spec.outputs, textures));
        let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(spec.entry_point),
            layout: Some(&pl),
            module: &module,
            entry_point: Some(spec.entry_point),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                ..Default::default()
            },
            cache: self.disk.as_ref().map(|d| &d.cache),
        });
        if let Some(err) = pollster::block_on(scope.pop()) {
            // Drop the module too: a module that failed validation must not be reused.
            lock(&self.modules).remove(&(spec.file, flavour));
            return Err(DeviceError::ShaderValidation {
                kernel: spec.entry_point,
                message: err.to_string(),
            });
        }
        AtomicCounters::bump(&self.counters.pipelines);
        if let Some(d) = &self.disk {
            d.touched();
        }
        let p = Arc::new(Pipeline {
            pipeline,
            layout: bgl,
            name: spec.entry_point,
        });
        lock(&self.pipelines).insert((kernel, flavour, overrides), p.clone());
        Ok(p)
    }

    /// Whether `file` has a wide flavour, over its texture flavour where `textures` (the
    /// rewrite is tried once per file and kept).
    fn has_wide(&self, file: ShaderFile, textures: bool) -> bool {
        *lock(&self.wide_files)
            .entry((file, textures))
            .or_insert_with(|| {
                let wide = Flavour {
                    textures,
                    wide: true,
                };
                flavoured_source(file, wide).is_ok()
            })
    }

    /// The bind-group and pipeline layouts of one binding signature.
    fn layout(&self, key: LayoutKey) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        let (inputs, outputs, textures) = key;
        let mut layouts = lock(&self.layouts);
        let made = layouts.entry(key).or_insert_with(|| {
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
            for i in 0..inputs + outputs {
                entries.push(if textures && i < inputs {
                    texture_entry(1 + i)
                } else {
                    storage_entry(1 + i, i < inputs)
                });
            }
            let bgl = self
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some("kiln"),
                    entries: &entries,
                });
            let pl = self
                .device
                .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some("kiln"),
                    bind_group_layouts: &[Some(&bgl)],
                    immediate_size: 0,
                });
            (bgl, pl)
        });
        made.clone()
    }
}

impl Drop for PipelineCache {
    fn drop(&mut self) {
        if let Some(d) = &self.disk {
            d.save();
        }
    }
}
