//! Keras's preprocessing and augmentation layers, run on the GPU inside the model and saved
//! with it: `Rescaling`, `Normalization` (with `adapt`), `Resizing`, `CenterCrop`, and the random
//! ones, active only in training and seeded (`RandomFlip`, `RandomCrop`, `RandomTranslation`,
//! `RandomRotation`, `RandomZoom`, `RandomContrast`). The geometric ones build one affine
//! transform per image with Keras's formulas and run the shared `warp_affine` kernel; their
//! random draws come from the layer's seed and the call's seed, so a run replays exactly.

mod geometric;
mod normalization;
mod random_affine;
mod random_contrast;
mod random_flip_crop;
mod rescaling;
mod warp_helpers;

pub use geometric::{CenterCrop, CenterCropConfig, Resizing, ResizingConfig};
pub use normalization::{Normalization, NormalizationConfig};
pub use random_affine::{
    RandomRotation, RandomRotationConfig, RandomTranslation, RandomTranslationConfig, RandomZoom,
    RandomZoomConfig,
};
pub use random_contrast::{RandomContrast, RandomContrastConfig};
pub use random_flip_crop::{FlipMode, RandomCrop, RandomCropConfig, RandomFlip, RandomFlipConfig};
pub use rescaling::{Rescaling, RescalingConfig};

use serde::{Deserialize, Serialize};

use kiln_graph::{Device, Rng, Tensor};

use crate::error::{NnError, Result};

/// A random range as Keras writes it: one number f for [-f, f], or [lower, upper].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Factor {
    /// [-f, f].
    Symmetric(f32),
    /// [lower, upper].
    Range([f32; 2]),
}

impl Factor {
    /// (lower, upper), checked.
    pub(crate) fn bounds(self, class: &str, what: &str) -> Result<(f32, f32)> {
        let (lo, hi) = match self {
            Factor::Symmetric(f) => (-f.abs(), f.abs()),
            Factor::Range([a, b]) => (a, b),
        };
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(NnError::Config(format!(
                "{class}: {what} must be a number or [lower, upper] with lower <= upper, got {self:?}"
            )));
        }
        Ok((lo, hi))
    }
}

/// The generator of one call: the layer's seed and the call's (fresh per step, replayed by a
/// resumed run).
pub(crate) fn call_rng(layer_seed: Option<u64>, call_seed: u32, salt: u64) -> Rng {
    let seed = layer_seed.unwrap_or(0).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ ((call_seed as u64) << 16)
        ^ salt;
    Rng::new(seed)
}

/// A uniform draw in [lo, hi].
pub(crate) fn uniform(rng: &mut Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.uniform() as f32
}

/// Per-image transforms ([n, 8]) on the device.
pub(crate) fn upload_transforms(device: &Device, t: &[[f32; 6]]) -> Result<Tensor> {
    let flat: Vec<f32> = t
        .iter()
        .flat_map(|r| [r[0], r[1], r[2], r[3], r[4], r[5], 0.0, 0.0])
        .collect();
    Ok(Tensor::from_f32(device, &flat, &[t.len(), 8])?)
}

/// (n, h, w) of the batch of images [n, h, w, c] that `class` is called on. A built model
/// checks its input shape first; a layer called directly on another rank gets this error.
pub(crate) fn batch_dims(class: &str, x: &Tensor) -> Result<(usize, usize, usize)> {
    match *x.shape() {
        [n, h, w, c] if h > 0 && w > 0 && c > 0 => Ok((n, h, w)),
        ref s => Err(NnError::Input(format!(
            "{class} expects a batch of images [batch, height, width, channels], got shape {s:?}"
        ))),
    }
}

/// (height, width, channels) of an image input shape (without the batch).
pub(crate) fn image_shape(class: &str, shape: &[usize]) -> Result<(usize, usize, usize)> {
    match *shape {
        [h, w, c] if h > 0 && w > 0 && c > 0 => Ok((h, w, c)),
        _ => Err(NnError::Config(format!(
            "{class} expects images [height, width, channels] (without the batch), got input shape {shape:?}"
        ))),
    }
}
