//! `DeviceInfo`: what kiln is running on — the adapter, its backend, the limits kiln checks
//! every allocation and launch against, and the optional features kernels choose their
//! designs by (`Display` prints all of it; `examples/device_info.rs` shows it per backend).

use std::fmt;

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
    /// Sampled textures one kernel may bind.
    pub max_sampled_textures_per_shader_stage: u32,
    /// Largest 2-D texture side in texels.
    pub max_texture_dimension_2d: u32,
    /// Alignment of a storage binding's offset (packed views start at multiples of it).
    pub min_storage_buffer_offset_alignment: u32,
    /// Subgroup operations are enabled and every subgroup has at least 8 invocations (what
    /// `matmul_texture.wgsl` needs: its 8-invocation workgroup must be one subgroup).
    pub subgroups: bool,
    /// The adapter offers GPU timestamp queries (`wgpu::Features::TIMESTAMP_QUERY`).
    pub timestamp_queries: bool,
    /// The adapter offers 16-bit floats in shaders (`wgpu::Features::SHADER_F16`; kiln's
    /// kernels are f32 and do not need it).
    pub shader_f16: bool,
    /// 64-bit integers in shaders are enabled (`wgpu::Features::SHADER_INT64`, unless
    /// `DeviceOptions::wide_storage` turned them off): the kernels of `shaders/wide.wgsl`'s files,
    /// which move f32s through storage as 64-bit words, can run.
    pub shader_int64: bool,
    /// The backend can cache compiled pipelines on disk (`wgpu::Features::PIPELINE_CACHE`).
    pub pipeline_cache: bool,
}

impl DeviceInfo {
    /// True for software (CPU) adapters such as lavapipe, where kernel trade-offs differ.
    pub fn is_cpu(&self) -> bool {
        self.device_type == wgpu::DeviceType::Cpu
    }

    /// Whether storage kernels run their wide flavour (`wide_flavor.rs`: vec4 storage arrays
    /// moved as 64-bit words): on CPU adapters with 64-bit shader integers, where a storage
    /// access is a per-lane loop per component. A GPU loads a vec4 in one instruction already.
    pub fn wide_storage(&self) -> bool {
        self.is_cpu() && self.shader_int64
    }

    /// The optional features kiln looks at, each with whether this adapter has it.
    pub fn features(&self) -> [(&'static str, bool); 5] {
        [
            ("subgroups (texture matmul)", self.subgroups),
            ("timestamp queries", self.timestamp_queries),
            ("shader f16", self.shader_f16),
            ("shader int64 (wide storage words)", self.shader_int64),
            ("pipeline cache", self.pipeline_cache),
        ]
    }
}

impl fmt::Display for DeviceInfo {
    /// One line: name, type, backend and driver. The alternate form (`{:#}`) adds the limits
    /// and features, one per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:?}, {}, driver {})",
            self.name, self.device_type, self.backend, self.driver
        )?;
        if !f.alternate() {
            return Ok(());
        }
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        writeln!(f)?;
        writeln!(
            f,
            "  largest storage binding: {:.0} MiB, largest buffer: {:.0} MiB",
            mib(self.max_storage_buffer_binding_size),
            mib(self.max_buffer_size)
        )?;
        writeln!(
            f,
            "  per kernel: {} storage buffers, {} textures, {} workgroups per grid dimension",
            self.max_storage_buffers_per_shader_stage,
            self.max_sampled_textures_per_shader_stage,
            self.max_compute_workgroups_per_dimension
        )?;
        writeln!(
            f,
            "  2-D textures up to {} texels a side; storage offsets aligned to {} bytes",
            self.max_texture_dimension_2d, self.min_storage_buffer_offset_alignment
        )?;
        let list = |want: bool| -> Vec<&str> {
            self.features()
                .iter()
                .filter(|(_, has)| *has == want)
                .map(|(n, _)| *n)
                .collect()
        };
        let none = |v: Vec<&str>| {
            if v.is_empty() {
                "none".into()
            } else {
                v.join(", ")
            }
        };
        writeln!(f, "  features: {}", none(list(true)))?;
        write!(f, "  missing: {}", none(list(false)))
    }
}
