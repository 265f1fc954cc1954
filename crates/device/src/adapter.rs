//! Opening an adapter: a hardware adapter when there is one (discrete before integrated), else a
//! software one (lavapipe/llvmpipe, WARP); `KILN_ADAPTER=<substring>` and
//! `KILN_BACKEND=vulkan|metal|dx12|gl` choose explicitly. The device gets the adapter's own
//! limits, not downlevel defaults, and the optional features kiln uses when the adapter has them.

use std::sync::{Arc, Mutex};

use crate::error::{DeviceError, Result};
use crate::info::DeviceInfo;
use crate::options::{DeviceOptions, WideStorage};

/// An opened adapter: the raw device and queue, what they are, and where errors wgpu reports
/// outside an error scope land.
pub(crate) struct Opened {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: DeviceInfo,
    pub gpu_error: Arc<Mutex<Option<String>>>,
    /// wgpu's file name for this adapter's pipeline cache, where the device has one.
    pub cache_key: Option<String>,
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
    index: Option<usize>,
) -> std::result::Result<usize, String> {
    let wanted = name.map(str::to_lowercase);
    let mut candidates: Vec<(usize, &wgpu::AdapterInfo)> = infos
        .iter()
        .enumerate()
        .filter(|(_, i)| match &wanted {
            Some(w) => i.name.to_lowercase().contains(w.as_str()),
            None => true,
        })
        .collect();
    candidates.sort_by_key(|(_, i)| rank(i));
    let pick = match index {
        Some(k) if !candidates.is_empty() => candidates.get(k % candidates.len()).copied(),
        _ => candidates.first().copied(),
    };
    match pick {
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

/// What to tell a user whose machine offered kiln only a GL adapter (none was asked for): GL has
/// no subgroups, so the designs kiln picks for CPU adapters (texture matmul, im2col convolution,
/// the one-dispatch Dense backward) cannot run, and a training step is several times slower
/// (README: GL against Vulkan). `None` when the adapter is native or GL was asked for.
pub(crate) fn gl_fallback_notice(info: &wgpu::AdapterInfo, asked: bool) -> Option<String> {
    if asked || info.backend != wgpu::Backend::Gl {
        return None;
    }
    let driver = if info.device_type == wgpu::DeviceType::Cpu {
        "Mesa's Vulkan driver (lavapipe): apt-get install -y mesa-vulkan-drivers libvulkan1"
    } else {
        "the GPU's Vulkan driver (on Debian and Ubuntu, Mesa's: apt-get install -y \
         mesa-vulkan-drivers libvulkan1)"
    };
    Some(format!(
        "kiln: no Vulkan, Metal or DX12 adapter found; running on '{}' through OpenGL, which \
         has no subgroups, so kiln falls back to slower kernels (several times slower per \
         training step). Install {driver}, or set KILN_BACKEND=gl to choose GL and silence this.",
        info.name
    ))
}

/// Finds and opens the adapter `options` asks for.
pub(crate) fn open(options: &DeviceOptions) -> Result<Opened> {
    // Native APIs first; GL only when asked for or when no native adapter exists (probing
    // GL needs a display connection and is noisy on headless machines).
    let mut adapters = Vec::new();
    let tries = match options.backend {
        Some(b) => vec![b],
        None => vec![wgpu::Backends::PRIMARY, wgpu::Backends::GL],
    };
    let wanted = options.adapter.as_deref().map(str::to_lowercase);
    for backends in tries {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        adapters = pollster::block_on(instance.enumerate_adapters(backends));
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
    let idx = choose_adapter(&infos, options.adapter.as_deref(), options.adapter_index).map_err(
        |detail| {
            let gl_only = options.backend == Some(wgpu::Backends::GL);
            let detail = match (detail.is_empty(), gl_only) {
                // Headless GL goes through EGL; Mesa's provides llvmpipe.
                (true, true) => {
                    ": KILN_BACKEND=gl found no GL adapter (without a display, wgpu reaches \
                GL through EGL: apt-get install -y libegl1 libegl-mesa0 libgl1-mesa-dri)"
                        .to_string()
                }
                _ => detail,
            };
            DeviceError::NoAdapter { detail }
        },
    )?;
    let adapter = &adapters[idx];
    let a_info = &infos[idx];
    if let Some(notice) = gl_fallback_notice(a_info, options.backend.is_some()) {
        // Once per process: tests and tools open many devices.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| eprintln!("{notice}"));
    }
    let limits = adapter.limits();
    let offered = adapter.features();
    let subgroups = offered.contains(wgpu::Features::SUBGROUP) && a_info.subgroup_min_size >= 8;
    let mut features = wgpu::Features::empty();
    if subgroups {
        features |= wgpu::Features::SUBGROUP;
    }
    // For the wide-storage kernels (shaders/wide.wgsl), unless the options turn them off.
    let int64 =
        offered.contains(wgpu::Features::SHADER_INT64) && options.wide_storage == WideStorage::Auto;
    if int64 {
        features |= wgpu::Features::SHADER_INT64;
    }
    // For the profiler's pass timestamps (profile.rs); unused unless profiling.
    if offered.contains(wgpu::Features::TIMESTAMP_QUERY) {
        features |= wgpu::Features::TIMESTAMP_QUERY;
    }
    // Pipelines cached on disk where the backend has a pipeline cache (disk_cache.rs).
    let cache_key = wgpu::util::pipeline_cache_key(a_info)
        .filter(|_| offered.contains(wgpu::Features::PIPELINE_CACHE));
    if cache_key.is_some() {
        features |= wgpu::Features::PIPELINE_CACHE;
    }
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("kiln"),
        required_features: features,
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
        max_sampled_textures_per_shader_stage: limits.max_sampled_textures_per_shader_stage,
        max_texture_dimension_2d: limits.max_texture_dimension_2d,
        min_storage_buffer_offset_alignment: limits.min_storage_buffer_offset_alignment,
        subgroups,
        timestamp_queries: offered.contains(wgpu::Features::TIMESTAMP_QUERY),
        shader_f16: offered.contains(wgpu::Features::SHADER_F16),
        shader_int64: int64,
        pipeline_cache: offered.contains(wgpu::Features::PIPELINE_CACHE),
    };
    Ok(Opened {
        device,
        queue,
        info,
        gpu_error,
        cache_key,
    })
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
        assert_eq!(choose_adapter(&infos, None, None), Ok(2));
        assert_eq!(choose_adapter(&infos[..1], None, None), Ok(0));
    }

    #[test]
    fn falling_back_to_gl_names_the_vulkan_driver_to_install_unless_gl_was_asked_for() {
        use wgpu::{Backend as B, DeviceType as T};
        let gl = info("llvmpipe (LLVM 15.0.6, 256 bits)", T::Cpu, B::Gl);
        let notice = gl_fallback_notice(&gl, false).expect("a GL fallback is told");
        assert!(
            notice.contains("llvmpipe") && notice.contains("mesa-vulkan-drivers"),
            "{notice}"
        );
        assert_eq!(gl_fallback_notice(&gl, true), None);
        let vk = info("llvmpipe (LLVM 15.0.6, 256 bits)", T::Cpu, B::Vulkan);
        assert_eq!(gl_fallback_notice(&vk, false), None);
        let gpu = info("Intel Iris (GL)", T::IntegratedGpu, B::Gl);
        assert!(gl_fallback_notice(&gpu, false).is_some_and(|n| n.contains("GPU's Vulkan driver")));
    }

    #[test]
    fn an_adapter_index_counts_in_preference_order_and_wraps() {
        use wgpu::{Backend as B, DeviceType as T};
        let infos = [
            info("llvmpipe", T::Cpu, B::Vulkan),
            info("GPU A", T::DiscreteGpu, B::Vulkan),
            info("GPU B", T::DiscreteGpu, B::Vulkan),
        ];
        assert_eq!(choose_adapter(&infos, Some("gpu"), Some(0)), Ok(1));
        assert_eq!(choose_adapter(&infos, Some("gpu"), Some(1)), Ok(2));
        // Four ranks on two GPUs: ranks 2 and 3 share them.
        assert_eq!(choose_adapter(&infos, Some("gpu"), Some(2)), Ok(1));
        assert_eq!(choose_adapter(&infos, None, Some(2)), Ok(0));
    }

    #[test]
    fn adapter_filter_is_a_case_insensitive_substring() {
        use wgpu::{Backend as B, DeviceType as T};
        let infos = [
            info("NVIDIA H100", T::DiscreteGpu, B::Vulkan),
            info("llvmpipe (LLVM 15)", T::Cpu, B::Vulkan),
        ];
        assert_eq!(choose_adapter(&infos, Some("LLVMPIPE"), None), Ok(1));
        let err = choose_adapter(&infos, Some("radeon"), None).unwrap_err();
        assert!(
            err.contains("radeon") && err.contains("NVIDIA H100"),
            "{err}"
        );
    }
}
