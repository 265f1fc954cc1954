//! What the random geometric layers share: Keras's default fill mode and interpolation, the
//! warp of a batch by one transform per image, the `Layer` methods every one of them writes
//! alike (class name, a shape-keeping build that checks its factors, the config) and the
//! builder methods of the ones that sample between pixels.

use kiln_graph::{FillMode, Interpolation, Sampling, Tensor};

use crate::error::Result;
use crate::layers::preprocessing::{batch_dims, upload_transforms};

pub(crate) fn reflect() -> FillMode {
    FillMode::Reflect
}

pub(crate) fn bilinear() -> Interpolation {
    Interpolation::Bilinear
}

pub(crate) fn sampling(fill: FillMode, fill_value: f32, interpolation: Interpolation) -> Sampling {
    Sampling {
        fill,
        fill_value,
        interpolation,
    }
}

/// Warps `x` ([n, h, w, c]) by one transform per image, to `size`.
pub(crate) fn warp(
    x: &Tensor,
    t: &[[f32; 6]],
    size: (usize, usize),
    s: Sampling,
) -> Result<Tensor> {
    Ok(x.warp_affine(&upload_transforms(x.device(), t)?, size, s)?)
}

/// (n, h, w) of the batch `class` is called on (an error for any other rank).
pub(crate) fn dims(class: &str, x: &Tensor) -> Result<(usize, f32, f32)> {
    let (n, h, w) = batch_dims(class, x)?;
    Ok((n, h as f32, w as f32))
}

/// The `Layer` methods of a shape-keeping image layer with a `check()` and a `config`.
macro_rules! image_layer {
    ($class:literal) => {
        fn class_name(&self) -> &'static str {
            $class
        }

        fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
            image_shape($class, input_shape)?;
            self.check()?;
            Ok(input_shape.to_vec())
        }

        fn get_config(&self) -> Value {
            config_of(&self.config)
        }
    };
}

pub(crate) use image_layer;

/// The builder methods of a layer whose config has `seed`, `fill_mode`, `fill_value` and
/// `interpolation`, and its `from_config`.
macro_rules! sampling_builders {
    ($class:literal) => {
        /// The seed.
        pub fn seed(mut self, seed: u64) -> Self {
            self.config.seed = Some(seed);
            self
        }

        /// The fill mode (and constant).
        pub fn fill(mut self, mode: FillMode, value: f32) -> Self {
            (self.config.fill_mode, self.config.fill_value) = (mode, value);
            self
        }

        /// The interpolation.
        pub fn interpolation(mut self, i: Interpolation) -> Self {
            self.config.interpolation = i;
            self
        }

        /// From a `get_config()` object.
        pub fn from_config(config: &Value) -> Result<Self> {
            Ok(Self {
                config: typed_config($class, config)?,
            })
        }
    };
}

pub(crate) use sampling_builders;
