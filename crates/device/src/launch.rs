//! The one recording path of every kernel launch. `Device::launch` validates first — binding
//! count, params size, grid against the adapter's workgroup limit, outputs bound twice, every
//! binding's size and the number of storage buffers and textures against the adapter's limits,
//! staged sizes against the texture height — and then records the form the launch resolved to:
//! storage buffers, the texture flavour of a storage kernel (its read-only inputs copied into
//! staging textures, `texture_flavor.rs`), or a kernel written for textures. An explicit
//! `InputPath` means what it says; only `InputPath::Auto` follows the device's
//! `TextureInputs` policy. Nothing is recorded when validation fails.

use crate::batch::PARAMS_SLOT;
use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::counters::AtomicCounters;
use crate::encode::{Bind, Command};
use crate::error::{Result, launch_err};
use crate::kernels::{Kernel, KernelSpec};
use crate::options::{TEXTURE_MIN_WORDS, TextureInputs};
use crate::overrides::Overrides;
use crate::pipelines::Flavour;
use crate::staging::SLOTS;

/// How a storage kernel's read-only inputs are bound. (A kernel written for textures always
/// reads staging textures.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputPath {
    /// The device's `TextureInputs` policy decides (`DeviceOptions::texture_inputs`).
    #[default]
    Auto,
    /// Storage buffers.
    Buffers,
    /// The kernel's texture flavour: inputs copied into staging textures first.
    Textures,
}

/// One kernel launch, checked and recorded by `Device::launch`.
#[derive(Clone, Copy, Debug)]
pub struct Launch<'a> {
    /// The entry point.
    pub kernel: Kernel,
    /// Its params struct as bytes (at most `PARAMS_SLOT`).
    pub params: &'a [u8],
    /// Inputs then outputs, in binding order.
    pub buffers: &'a [&'a GpuBuffer],
    /// Words of each input the kernel reads, which is what a staged copy moves; empty means
    /// every input whole.
    pub input_words: &'a [usize],
    /// Workgroup grid (see `grid`).
    pub groups: [u32; 3],
    /// How read-only inputs are bound.
    pub path: InputPath,
    /// The values of the kernel's pipeline-overridable constants (`overrides.rs`).
    pub overrides: Overrides,
}

impl<'a> Launch<'a> {
    /// A launch of `kernel` with `params`, `buffers` (inputs then outputs) and `groups`,
    /// inputs whole, path `Auto`.
    pub fn new<P: bytemuck::Pod>(
        kernel: Kernel,
        params: &'a P,
        buffers: &'a [&'a GpuBuffer],
        groups: [u32; 3],
    ) -> Self {
        Launch {
            kernel,
            params: bytemuck::bytes_of(params),
            buffers,
            input_words: &[],
            groups,
            path: InputPath::Auto,
            overrides: Overrides::default(),
        }
    }

    /// The same launch with an explicit input path.
    pub fn path(self, path: InputPath) -> Self {
        Launch { path, ..self }
    }

    /// The same launch with the kernel specialized by `overrides`.
    pub fn overrides(self, overrides: Overrides) -> Self {
        Launch { overrides, ..self }
    }

    /// The same launch reading only `words[i]` words of input `i`.
    pub fn input_words(self, words: &'a [usize]) -> Self {
        Launch {
            input_words: words,
            ..self
        }
    }

    fn words(&self, i: usize) -> usize {
        self.input_words
            .get(i)
            .copied()
            .unwrap_or_else(|| self.buffers[i].words())
    }
}

impl Device {
    /// Records one dispatch of `kernel`: `buffers` are its inputs then outputs in binding
    /// order, `groups` the workgroup grid (see `grid`). Nothing runs until `submit`.
    pub fn dispatch<P: bytemuck::Pod>(
        &self,
        kernel: Kernel,
        params: &P,
        buffers: &[&GpuBuffer],
        groups: [u32; 3],
    ) -> Result<()> {
        self.launch(&Launch::new(kernel, params, buffers, groups))
    }

    /// Validates `l` (module doc) and records it in the form it resolves to.
    pub fn launch(&self, l: &Launch<'_>) -> Result<()> {
        let spec = l.kernel.spec();
        self.validate(l, &spec)?;
        let inputs = spec.inputs as usize;
        let textures = self.uses_textures(l, &spec)?;
        // An output that shares its buffer with a storage input, or overlaps another output,
        // is a write hazard (wgpu rejects the first: read-only and read-write usages conflict).
        // Outputs that are disjoint views of one packed buffer are allowed, as WebGPU allows
        // several writable bindings of a buffer in one dispatch. An input staged into a texture
        // is a copy made before the dispatch, so it may alias an output, but only where it is
        // staged whatever the policy (a texture kernel, or an explicit `Textures` path): a
        // launch must not be valid on one adapter and not another.
        let always_staged = spec.texture_inputs || l.path == InputPath::Textures;
        let first = if always_staged { inputs } else { 0 };
        let span = |b: &GpuBuffer| (b.offset(), b.offset() + b.bound_bytes());
        for (i, out) in l.buffers.iter().enumerate().skip(inputs) {
            let (start, end) = span(out);
            let twin = (first..l.buffers.len()).find(|&j| {
                let other = l.buffers[j];
                let (s, e) = span(other);
                j != i && other.raw() == out.raw() && (j < inputs || (s < end && start < e))
            });
            if let Some(j) = twin {
                return Err(launch_err(
                    spec.entry_point,
                    format!(
                        "output buffer {i} is also bound as buffer {j} (an output may share a \
                         packed buffer only with other outputs, in disjoint views)"
                    ),
                ));
            }
        }
        if l.groups.contains(&0) {
            return Ok(());
        }
        // The pipeline first: if it fails to compile, no staging copy has been recorded.
        let flavour = Flavour {
            textures: textures && !spec.texture_inputs,
            wide: self.info().wide_storage(),
        };
        let pipeline = self.inner.pipelines.get(l.kernel, flavour, l.overrides)?;
        let mut bindings = Vec::with_capacity(l.buffers.len());
        if textures {
            self.inner.staging.begin_launch();
        }
        for (i, b) in l.buffers.iter().enumerate() {
            bindings.push(if textures && i < inputs {
                Bind::Texture(self.stage(b, l.words(i)))
            } else {
                Bind::Buffer(b.range())
            });
        }
        // The outputs' earlier staged copies are stale from here on (after this launch's own
        // inputs were staged: an input staged from an output's range is copied before the
        // dispatch writes it).
        for out in &l.buffers[inputs..] {
            let start = out.offset();
            self.inner
                .staging
                .written(out.raw(), start, start + out.bound_bytes());
        }
        AtomicCounters::bump(&self.inner.counters.dispatches);
        let full = self
            .inner
            .batch
            .record_dispatch(l.params, |offset| Command::Dispatch {
                pipeline,
                offset,
                bindings,
                groups: l.groups,
            });
        if full {
            self.submit();
        }
        Ok(())
    }

    /// The checks that hold whatever form the launch takes.
    fn validate(&self, l: &Launch<'_>, spec: &KernelSpec) -> Result<()> {
        let op = spec.entry_point;
        let info = self.info();
        let want = (spec.inputs + spec.outputs) as usize;
        if l.buffers.len() != want || l.input_words.len() > spec.inputs as usize {
            return Err(launch_err(
                op,
                format!("expects {want} buffers, got {}", l.buffers.len()),
            ));
        }
        if l.params.len() as u64 > PARAMS_SLOT {
            return Err(launch_err(
                op,
                format!(
                    "params of {} bytes exceed the {PARAMS_SLOT}-byte slot",
                    l.params.len()
                ),
            ));
        }
        let max = info.max_compute_workgroups_per_dimension;
        if l.groups.iter().any(|&g| g > max) {
            return Err(launch_err(
                op,
                format!("grid {:?} exceeds {max} workgroups per dimension", l.groups),
            ));
        }
        for (i, b) in l.buffers.iter().enumerate() {
            if b.bound_bytes() > info.max_storage_buffer_binding_size {
                return Err(launch_err(
                    op,
                    format!(
                        "buffer {i} binds {} bytes, more than this adapter's \
                         max_storage_buffer_binding_size of {}",
                        b.bound_bytes(),
                        info.max_storage_buffer_binding_size
                    ),
                ));
            }
            if i < l.input_words.len() && l.input_words[i] > b.words() {
                return Err(launch_err(
                    op,
                    format!(
                        "input {i} holds {} words, not {}",
                        b.words(),
                        l.input_words[i]
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether the launch binds its inputs as textures, checked against the adapter's limits:
    /// a kernel written for textures always does; a storage kernel when its path says so.
    fn uses_textures(&self, l: &Launch<'_>, spec: &KernelSpec) -> Result<bool> {
        let op = spec.entry_point;
        let info = self.info();
        let inputs = spec.inputs as usize;
        let why_not = if !spec.texture_inputs && !spec.stageable {
            Some("its inputs are never staged".to_string())
        } else if inputs == 0
            || inputs > SLOTS.min(info.max_sampled_textures_per_shader_stage as usize)
        {
            Some(format!("{inputs} inputs (at most {SLOTS} textures)"))
        } else {
            (0..inputs)
                .find(|&i| !self.inner.staging.fits(l.words(i)))
                .map(|i| {
                    format!(
                        "input {i} ({} words) exceeds a texture of {} rows of 1024 words",
                        l.words(i),
                        info.max_texture_dimension_2d
                    )
                })
        };
        let storage_ok = spec.inputs + spec.outputs <= info.max_storage_buffers_per_shader_stage;
        let textures = spec.texture_inputs
            || match l.path {
                InputPath::Buffers => false,
                InputPath::Textures => true,
                // The flavour is also the fallback where the adapter binds too few storage
                // buffers for the storage form (chosen by feature, not skipped).
                InputPath::Auto => {
                    why_not.is_none() && (!storage_ok || self.prefers_textures(l, inputs))
                }
            };
        if let (true, Some(why)) = (textures, why_not) {
            return Err(launch_err(
                op,
                format!("cannot read its inputs from staging textures: {why}"),
            ));
        }
        let storage = spec.outputs + if textures { 0 } else { spec.inputs };
        if storage > info.max_storage_buffers_per_shader_stage {
            return Err(launch_err(
                op,
                format!(
                    "binds {storage} storage buffers, more than this adapter's {} per kernel",
                    info.max_storage_buffers_per_shader_stage
                ),
            ));
        }
        Ok(textures)
    }

    /// The `TextureInputs` policy for a launch whose path is `Auto`.
    fn prefers_textures(&self, l: &Launch<'_>, inputs: usize) -> bool {
        match self.inner.texture_inputs {
            TextureInputs::Auto => {
                let words: usize = (0..inputs).map(|i| l.words(i)).sum();
                self.info().is_cpu() && words >= TEXTURE_MIN_WORDS
            }
            TextureInputs::Always => true,
            TextureInputs::Never => false,
        }
    }

    /// Records a copy of the first `words` words of `src` (rounded up to whole texels, which
    /// stays inside the buffer's 16-byte-multiple allocation) into a staging texture, unless
    /// one already holds them unchanged, and returns the view to bind.
    fn stage(&self, src: &GpuBuffer, words: usize) -> wgpu::TextureView {
        let texels = words.div_ceil(4) as u32;
        let (texture, copy) = self.inner.staging.texture(src.raw(), src.offset(), texels);
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        if copy && texels > 0 {
            AtomicCounters::bump(&self.inner.counters.staging_copies);
            self.record(Command::CopyToTexture {
                src: src.raw().clone(),
                src_offset: src.offset(),
                texture,
                texels,
            });
        }
        view
    }

    /// Whether `words` words fit one staging texture (its height is the adapter's limit).
    pub fn fits_staging(&self, words: usize) -> bool {
        self.inner.staging.fits(words)
    }

    /// Creates the pipelines of `kernels` now, so a first training step does not pay for them
    /// (with their overrides' defaults: a launch with other values makes its own on first use).
    pub fn warm_up(&self, kernels: &[Kernel]) -> Result<()> {
        let flavour = Flavour {
            textures: false,
            wide: self.info().wide_storage(),
        };
        for &k in kernels {
            self.inner.pipelines.get(k, flavour, Overrides::default())?;
        }
        Ok(())
    }
}
