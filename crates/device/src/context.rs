//! `Device`: the wgpu instance, adapter, device and queue, chosen once and shared (cheap to
//! clone, `Arc` inside). Adapter choice: a hardware adapter when there is one (discrete before
//! integrated), else a software one (lavapipe/llvmpipe, WARP); `KILN_ADAPTER=<substring>` and
//! `KILN_BACKEND=vulkan|metal|dx12|gl` choose explicitly. The device gets the adapter's own
//! limits, not downlevel defaults.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::autotune::{Autotune, TuneCache};

use crate::counters::{AtomicCounters, Counters};
use crate::error::{DeviceError, Result};
use crate::pending::Pending;
use crate::pipelines::Pipelines;

/// What kiln is running on.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    /// Adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Graphics API: Vulkan, Metal, Dx12 or Gl.
    pub backend: String,
    /// Discrete, integrated, virtual GPU, or CPU (software) adapter.
    pub device_type: wgpu::DeviceType,
    /// Driver name and version.
    pub driver: String,
    /// Largest storage buffer binding in bytes (bounds the largest tensor).
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer in bytes.
    pub max_buffer_size: u64,
    /// Workgroups per grid dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Storage buffers one kernel may bind.
    pub max_storage_buffers_per_shader_stage: u32,
    /// Largest 2-D texture side in texels.
    pub max_texture_dimension_2d: u32,
    /// Subgroup operations are enabled and every subgroup has at least 8 invocations (what
    /// `matmul_texture.wgsl` needs: its 8-invocation workgroup must be one subgroup).
    pub subgroups: bool,
}

impl DeviceInfo {
    /// True for software (CPU) adapters such as lavapipe, where kernel trade-offs differ.
    pub fn is_cpu(&self) -> bool {
        self.device_type == wgpu::DeviceType::Cpu
    }
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:?}, {}, driver {})",
            self.name, self.device_type, self.backend, self.driver
        )
    }
}

pub(crate) struct Inner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: DeviceInfo,
    pub pipelines: Pipelines,
    pub pool: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
    pub pending: Mutex<Pending>,
    pub counters: AtomicCounters,
    /// Errors wgpu reported outside an error scope; surfaced by the next readback.
    pub gpu_error: Arc<Mutex<Option<String>>>,
    pub staging: Mutex<Option<wgpu::Buffer>>,
    /// Staging textures, one per slot (see `staging_texture.rs`).
    pub staging_textures: Mutex<[Option<wgpu::Texture>; crate::staging_texture::SLOTS]>,
    pub texture_inputs: TextureInputs,
    pub uniform: Mutex<Option<wgpu::Buffer>>,
    pub autotune: Autotune,
    pub tune: TuneCache,
}

/// A GPU to run kernels on. Cheap to clone; pass it explicitly (there is no global device).
#[derive(Clone)]
pub struct Device {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({})", self.inner.info)
    }
}

/// How to choose the adapter; `Default` means "best available".
#[derive(Clone, Debug, Default)]
pub struct DeviceOptions {
    /// Case-insensitive substring the adapter name must contain.
    pub adapter: Option<String>,
    /// Restrict to one graphics API.
    pub backend: Option<wgpu::Backends>,
    /// When kernels read their inputs from staging textures (see `texture_flavor.rs`).
    pub texture_inputs: TextureInputs,
    /// When launchers measure their variants (see `autotune.rs`).
    pub autotune: Autotune,
    /// File that keeps autotune choices across processes.
    pub autotune_cache: Option<PathBuf>,
}

/// When `Device::dispatch` runs a kernel's texture flavour (inputs copied into staging
/// textures) instead of reading storage buffers. `KILN_TEXTURE_INPUTS=auto|always|never`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextureInputs {
    /// On CPU-type adapters, for kernels whose inputs hold at least `TEXTURE_MIN_WORDS` words:
    /// there a per-lane storage load stalls, while copying a small input costs more than it saves.
    #[default]
    Auto,
    /// Whenever the inputs fit a texture (tests use it to run every kernel's flavour).
    Always,
    /// Never.
    Never,
}

/// Input size (words, all inputs together) from which `TextureInputs::Auto` stages textures.
pub const TEXTURE_MIN_WORDS: usize = 4096;

impl DeviceOptions {
    /// Reads `KILN_ADAPTER`, `KILN_BACKEND`, `KILN_TEXTURE_INPUTS`, `KILN_AUTOTUNE` and
    /// `KILN_AUTOTUNE_CACHE`.
    pub fn from_env() -> Result<Self> {
        let var = |name| std::env::var(name).ok().filter(|s: &String| !s.is_empty());
        let backend = match var("KILN_BACKEND") {
            Some(v) => Some(parse_backend(&v)?),
            None => None,
        };
        let texture_inputs = match auto_always_never("KILN_TEXTURE_INPUTS")? {
            1 => TextureInputs::Always,
            2 => TextureInputs::Never,
            _ => TextureInputs::Auto,
        };
        let autotune = match auto_always_never("KILN_AUTOTUNE")? {
            1 => Autotune::Always,
            2 => Autotune::Never,
            _ => Autotune::Auto,
        };
        Ok(Self {
            adapter: var("KILN_ADAPTER"),
            backend,
            texture_inputs,
            autotune,
            autotune_cache: var("KILN_AUTOTUNE_CACHE").map(PathBuf::from),
        })
    }
}

/// 0 for auto (or unset), 1 for always, 2 for never.
fn auto_always_never(var: &'static str) -> Result<u8> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => match v.to_ascii_lowercase().as_str() {
            "auto" => Ok(0),
            "always" => Ok(1),
            "never" => Ok(2),
            _ => Err(DeviceError::BadEnv {
                var,
                value: v,
                expected: "one of auto, always, never",
            }),
        },
        _ => Ok(0),
    }
}

fn parse_backend(v: &str) -> Result<wgpu::Backends> {
    match v.to_ascii_lowercase().as_str() {
        "vulkan" => Ok(wgpu::Backends::VULKAN),
        "metal" => Ok(wgpu::Backends::METAL),
        "dx12" => Ok(wgpu::Backends::DX12),
        "gl" => Ok(wgpu::Backends::GL),
        _ => Err(DeviceError::BadEnv {
            var: "KILN_BACKEND",
            value: v.to_string(),
            expected: "one of vulkan, metal, dx12, gl",
        }),
    }
}

/// Preference order: discrete > integrated > virtual > other > CPU; native APIs before GL.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let ty = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    (ty, u8::from(info.backend == wgpu::Backend::Gl))
}

/// Index of the adapter to use among `infos`, or why none fits.
pub(crate) fn choose_adapter(
    infos: &[wgpu::AdapterInfo],
    name: Option<&str>,
) -> std::result::Result<usize, String> {
    let wanted = name.map(str::to_lowercase);
    let candidates = infos.iter().enumerate().filter(|(_, i)| match &wanted {
        Some(w) => i.name.to_lowercase().contains(w.as_str()),
        None => true,
    });
    match candidates.min_by_key(|(_, i)| rank(i)) {
        Some((idx, _)) => Ok(idx),
        None if infos.is_empty() => Err(String::new()),
        None => {
            let names: Vec<String> = infos
                .iter()
                .map(|i| format!("'{}' ({:?})", i.name, i.backend))
                .collect();
            Err(format!(
                ": KILN_ADAPTER={:?} matches none of the adapters present: {}",
                name.unwrap_or_default(),
                names.join(", ")
            ))
        }
    }
}

impl Device {
    /// Opens the best adapter, honouring `KILN_ADAPTER` and `KILN_BACKEND`.
    pub fn new() -> Result<Device> {
        Self::with_options(&DeviceOptions::from_env()?)
    }

    /// Opens an adapter chosen by `options`.
    pub fn with_options(options: &DeviceOptions) -> Result<Device> {
        // Native APIs first; GL only when asked for or when no native adapter exists (probing
        // GL needs a display connection and is noisy on headless machines).
        let mut adapters = Vec::new();
        let tries = match options.backend {
            Some(b) => vec![b],
            None => vec![wgpu::Backends::PRIMARY, wgpu::Backends::GL],
        };
        for backends in tries {
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends,
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            });
            adapters = pollster::block_on(instance.enumerate_adapters(backends));
            let wanted = options.adapter.as_deref().map(str::to_lowercase);
            let matched = adapters.iter().any(|a| {
                wanted
                    .as_ref()
                    .is_none_or(|w| a.get_info().name.to_lowercase().contains(w))
            });
            if matched {
                break;
            }
        }
        let infos: Vec<wgpu::AdapterInfo> = adapters.iter().map(|a| a.get_info()).collect();
        let idx = choose_adapter(&infos, options.adapter.as_deref())
            .map_err(|detail| DeviceError::NoAdapter { detail })?;
        let adapter = &adapters[idx];
        let a_info = &infos[idx];
        let limits = adapter.limits();
        let subgroups =
            adapter.features().contains(wgpu::Features::SUBGROUP) && a_info.subgroup_min_size >= 8;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("kiln"),
            required_features: if subgroups {
                wgpu::Features::SUBGROUP
            } else {
                wgpu::Features::empty()
            },
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| DeviceError::RequestDevice {
            adapter: a_info.name.clone(),
            message: e.to_string(),
        })?;
        let gpu_error = Arc::new(Mutex::new(None::<String>));
        let sink = gpu_error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        let info = DeviceInfo {
            name: a_info.name.clone(),
            backend: format!("{:?}", a_info.backend),
            device_type: a_info.device_type,
            driver: format!("{} {}", a_info.driver, a_info.driver_info)
                .trim()
                .to_string(),
            max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
            max_buffer_size: limits.max_buffer_size,
            max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
            max_storage_buffers_per_shader_stage: limits.max_storage_buffers_per_shader_stage,
            max_texture_dimension_2d: limits.max_texture_dimension_2d,
            subgroups,
        };
        // llvmpipe drops out-of-range storage accesses itself (LAVAPIPE_PERF.md), and naga's
        // bounds-check clamping costs 10-40% there; everywhere else keep checked modules.
        let unchecked = info.is_cpu() && info.name.contains("llvmpipe");
        Ok(Device {
            inner: Arc::new(Inner {
                pipelines: Pipelines::new(unchecked),
                device,
                queue,
                info,
                pool: Mutex::new(HashMap::new()),
                pending: Mutex::new(Pending::default()),
                counters: AtomicCounters::default(),
                gpu_error,
                staging: Mutex::new(None),
                staging_textures: Mutex::new(Default::default()),
                texture_inputs: options.texture_inputs,
                uniform: Mutex::new(None),
                autotune: options.autotune,
                tune: TuneCache::open(options.autotune_cache.as_deref()),
            }),
        })
    }

    /// Adapter name, backend, type and limits.
    pub fn info(&self) -> &DeviceInfo {
        &self.inner.info
    }

    /// Snapshot of the dispatch / submit / wait / allocation / pipeline counters.
    pub fn counters(&self) -> Counters {
        self.inner.counters.snapshot()
    }

    pub(crate) fn raw(&self) -> &wgpu::Device {
        &self.inner.device
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data half-updated in a way that
    // matters more than the panic itself; keep going rather than poisoning every later call.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, ty: wgpu::DeviceType, backend: wgpu::Backend) -> wgpu::AdapterInfo {
        wgpu::AdapterInfo {
            name: name.into(),
            vendor: 0,
            device: 0,
            device_type: ty,
            device_pci_bus_id: String::new(),
            driver: String::new(),
            driver_info: String::new(),
            backend,
            subgroup_min_size: 0,
            subgroup_max_size: 0,
            transient_saves_memory: None,
            limit_bucket: None,
        }
    }

    #[test]
    fn hardware_is_preferred_over_software_and_native_over_gl() {
        use wgpu::{Backend as B, DeviceType as T};
        let infos = [
            info("llvmpipe", T::Cpu, B::Vulkan),
            info("Intel Iris (GL)", T::IntegratedGpu, B::Gl),
            info("Intel Iris", T::IntegratedGpu, B::Vulkan),
        ];
        assert_eq!(choose_adapter(&infos, None), Ok(2));
        assert_eq!(choose_adapter(&infos[..1], None), Ok(0));
    }

    #[test]
    fn adapter_filter_is_a_case_insensitive_substring() {
        use wgpu::{Backend as B, DeviceType as T};
        let infos = [
            info("NVIDIA H100", T::DiscreteGpu, B::Vulkan),
            info("llvmpipe (LLVM 15)", T::Cpu, B::Vulkan),
        ];
        assert_eq!(choose_adapter(&infos, Some("LLVMPIPE")), Ok(1));
        let err = choose_adapter(&infos, Some("radeon")).unwrap_err();
        assert!(
            err.contains("radeon") && err.contains("NVIDIA H100"),
            "{err}"
        );
    }

    #[test]
    fn bad_backend_names_the_variable_and_choices() {
        let e = parse_backend("cuda").unwrap_err().to_string();
        assert!(e.contains("KILN_BACKEND") && e.contains("vulkan"), "{e}");
        assert_eq!(parse_backend("Vulkan").unwrap(), wgpu::Backends::VULKAN);
    }
}
