//! `DeviceOptions`: which adapter to open and the device-wide policies (when kernels read their
//! inputs from staging textures, when launchers measure their designs), from code or from the
//! `KILN_*` environment variables.

use std::path::PathBuf;

use crate::error::{DeviceError, Result};
use crate::tuner::Autotune;

/// How to choose the adapter, and the policies; `Default` means "best adapter, auto policies".
#[derive(Clone, Debug, Default)]
pub struct DeviceOptions {
    /// Case-insensitive substring the adapter name must contain.
    pub adapter: Option<String>,
    /// Which of the matching adapters, in kiln's preference order, modulo their count (one
    /// process per GPU: the data-parallel helper passes the MPI local rank; processes share
    /// an adapter when there are fewer adapters than processes).
    pub adapter_index: Option<usize>,
    /// Restrict to one graphics API.
    pub backend: Option<wgpu::Backends>,
    /// When kernels read their inputs from staging textures (see `texture_flavor.rs`).
    pub texture_inputs: TextureInputs,
    /// Whether kernels may move f32s through storage as 64-bit words (see `WideStorage`).
    pub wide_storage: WideStorage,
    /// When launchers measure their designs (see `tuner.rs`).
    pub autotune: Autotune,
    /// File that keeps autotune choices across processes.
    pub autotune_cache: Option<PathBuf>,
    /// Directory keeping compiled pipelines across processes where the backend has a pipeline
    /// cache (`disk_cache.rs`); None: not kept. `from_env` defaults it to ~/.cache/kiln.
    pub pipeline_cache: Option<PathBuf>,
}

/// When a launch whose input path is not given explicitly runs a storage kernel's texture
/// flavour (inputs copied into staging textures) instead of reading storage buffers.
/// `KILN_TEXTURE_INPUTS=auto|always|never`.
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

/// Whether kiln enables 64-bit integers in shaders where the adapter offers them, so that the
/// kernels of `shaders/wide.wgsl`'s files can move f32s through storage as 64-bit words (half
/// the per-lane storage steps on llvmpipe). `KILN_WIDE_STORAGE=auto|never`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WideStorage {
    /// Wherever the adapter offers them (`DeviceInfo::shader_int64` says whether it did).
    #[default]
    Auto,
    /// Never: the feature stays off and every launcher takes its f32 kernel (tests use it to
    /// run those on an adapter that has the feature).
    Never,
}

/// Input size (words, all inputs together) from which `TextureInputs::Auto` stages textures.
pub const TEXTURE_MIN_WORDS: usize = 4096;

impl DeviceOptions {
    /// Reads `KILN_ADAPTER`, `KILN_ADAPTER_INDEX`, `KILN_BACKEND`, `KILN_TEXTURE_INPUTS`,
    /// `KILN_WIDE_STORAGE`, `KILN_AUTOTUNE`, `KILN_AUTOTUNE_CACHE` (a file, or `off`) and
    /// `KILN_PIPELINE_CACHE` (a directory, or `off`).
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
        let wide_storage = match var("KILN_WIDE_STORAGE") {
            Some(v) => parse_wide_storage(&v)?,
            None => WideStorage::Auto,
        };
        let autotune = match auto_always_never("KILN_AUTOTUNE")? {
            1 => Autotune::Always,
            2 => Autotune::Never,
            _ => Autotune::Auto,
        };
        let adapter_index = match var("KILN_ADAPTER_INDEX") {
            Some(v) => Some(v.parse().map_err(|_| DeviceError::BadEnv {
                var: "KILN_ADAPTER_INDEX",
                value: v.clone(),
                expected: "a non-negative integer",
            })?),
            None => None,
        };
        Ok(Self {
            adapter: var("KILN_ADAPTER"),
            adapter_index,
            backend,
            texture_inputs,
            wide_storage,
            autotune,
            autotune_cache: var("KILN_AUTOTUNE_CACHE").and_then(path_unless_off),
            pipeline_cache: match var("KILN_PIPELINE_CACHE") {
                Some(v) => path_unless_off(v),
                None => crate::disk_cache::default_dir(),
            },
        })
    }
}

/// A cache location from the environment: `off` (any case) keeps nothing, as it does for both
/// cache variables (a file named `off` was written for the autotune cache before).
fn path_unless_off(v: String) -> Option<PathBuf> {
    (!v.eq_ignore_ascii_case("off")).then(|| PathBuf::from(v))
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

fn parse_wide_storage(v: &str) -> Result<WideStorage> {
    match v.to_ascii_lowercase().as_str() {
        "auto" => Ok(WideStorage::Auto),
        "never" => Ok(WideStorage::Never),
        _ => Err(DeviceError::BadEnv {
            var: "KILN_WIDE_STORAGE",
            value: v.to_string(),
            expected: "one of auto, never",
        }),
    }
}

pub(crate) fn parse_backend(v: &str) -> Result<wgpu::Backends> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_backend_names_the_variable_and_choices() {
        let e = parse_backend("cuda").unwrap_err().to_string();
        assert!(e.contains("KILN_BACKEND") && e.contains("vulkan"), "{e}");
        assert_eq!(parse_backend("Vulkan").unwrap(), wgpu::Backends::VULKAN);
    }

    #[test]
    fn wide_storage_takes_auto_or_never() {
        assert_eq!(parse_wide_storage("NEVER").unwrap(), WideStorage::Never);
        assert_eq!(parse_wide_storage("auto").unwrap(), WideStorage::Auto);
        let e = parse_wide_storage("always").unwrap_err().to_string();
        assert!(
            e.contains("KILN_WIDE_STORAGE") && e.contains("never"),
            "{e}"
        );
    }

    #[test]
    fn off_keeps_no_cache_and_anything_else_is_a_path() {
        assert_eq!(path_unless_off("OFF".into()), None);
        assert_eq!(path_unless_off("off".into()), None);
        assert_eq!(
            path_unless_off("/tmp/tune.json".into()),
            Some(PathBuf::from("/tmp/tune.json"))
        );
    }
}
