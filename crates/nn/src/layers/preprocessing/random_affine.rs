//! `RandomTranslation`, `RandomRotation` and `RandomZoom`: in training each image gets its own
//! draw and the affine transform Keras 3 builds for it (translation by a fraction of the size,
//! rotation about the centre with Keras's offsets, zoom about the centre), sampled with Keras's
//! fill modes (reflect by default) and interpolation; at inference they pass images through.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::{FillMode, Interpolation, Tensor};

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::preprocessing::warp_helpers::{
    bilinear, dims, image_layer, reflect, sampling, sampling_builders, warp,
};
use crate::layers::preprocessing::{Factor, call_rng, image_shape, uniform};
use crate::layers::registry::{config_of, typed_config};

/// `RandomTranslation`'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomTranslationConfig {
    /// Vertical shift as a fraction of the height.
    pub height_factor: Factor,
    /// Horizontal shift as a fraction of the width.
    pub width_factor: Factor,
    /// Outside the image.
    #[serde(default = "reflect")]
    pub fill_mode: FillMode,
    /// Sampling.
    #[serde(default = "bilinear")]
    pub interpolation: Interpolation,
    /// Seed of the draws.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The constant fill.
    #[serde(default)]
    pub fill_value: f32,
}

/// Shifts each image by a random fraction of its size in training.
pub struct RandomTranslation {
    config: RandomTranslationConfig,
}

impl RandomTranslation {
    /// `RandomTranslation(height_factor, width_factor)` with Keras's defaults (reflect, bilinear).
    pub fn new(height_factor: Factor, width_factor: Factor) -> Self {
        RandomTranslation {
            config: RandomTranslationConfig {
                height_factor,
                width_factor,
                fill_mode: FillMode::Reflect,
                interpolation: Interpolation::Bilinear,
                seed: None,
                fill_value: 0.0,
            },
        }
    }

    sampling_builders!("RandomTranslation");

    fn check(&self) -> Result<()> {
        self.config
            .height_factor
            .bounds("RandomTranslation", "height_factor")?;
        self.config
            .width_factor
            .bounds("RandomTranslation", "width_factor")?;
        Ok(())
    }
}

impl Layer for RandomTranslation {
    image_layer!("RandomTranslation");

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        if !ctx.training {
            return Ok(x.clone());
        }
        let c = &self.config;
        let (hl, hh) = c
            .height_factor
            .bounds("RandomTranslation", "height_factor")?;
        let (wl, wh) = c.width_factor.bounds("RandomTranslation", "width_factor")?;
        let (n, h, w) = dims("RandomTranslation", x)?;
        let mut rng = call_rng(c.seed, ctx.seed, 0x7247);
        let t: Vec<[f32; 6]> = (0..n)
            .map(|_| {
                let dy = uniform(&mut rng, hl, hh) * h;
                let dx = uniform(&mut rng, wl, wh) * w;
                [1.0, 0.0, -dx, 0.0, 1.0, -dy]
            })
            .collect();
        let size = (h as usize, w as usize);
        warp(
            x,
            &t,
            size,
            sampling(c.fill_mode, c.fill_value, c.interpolation),
        )
    }
}

/// `RandomRotation`'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomRotationConfig {
    /// The angle as a fraction of a full turn.
    pub factor: Factor,
    /// Outside the image.
    #[serde(default = "reflect")]
    pub fill_mode: FillMode,
    /// Sampling.
    #[serde(default = "bilinear")]
    pub interpolation: Interpolation,
    /// Seed of the draws.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The constant fill.
    #[serde(default)]
    pub fill_value: f32,
}

/// Rotates each image about its centre by a random angle in training.
pub struct RandomRotation {
    config: RandomRotationConfig,
}

impl RandomRotation {
    /// `RandomRotation(factor)` with Keras's defaults (reflect, bilinear).
    pub fn new(factor: Factor) -> Self {
        RandomRotation {
            config: RandomRotationConfig {
                factor,
                fill_mode: FillMode::Reflect,
                interpolation: Interpolation::Bilinear,
                seed: None,
                fill_value: 0.0,
            },
        }
    }

    sampling_builders!("RandomRotation");

    fn check(&self) -> Result<()> {
        self.config
            .factor
            .bounds("RandomRotation", "factor")
            .map(|_| ())
    }
}

impl Layer for RandomRotation {
    image_layer!("RandomRotation");

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        if !ctx.training {
            return Ok(x.clone());
        }
        let c = &self.config;
        let (lo, hi) = c.factor.bounds("RandomRotation", "factor")?;
        let (n, h, w) = dims("RandomRotation", x)?;
        let mut rng = call_rng(c.seed, ctx.seed, 0x2074);
        let tau = std::f32::consts::TAU;
        let t: Vec<[f32; 6]> = (0..n)
            .map(|_| {
                let angle = uniform(&mut rng, lo * tau, hi * tau);
                let (cos, sin) = (angle.cos(), angle.sin());
                // Keras 3's rotation matrix: about the centre ((w - 1) / 2, (h - 1) / 2).
                let x_offset = ((w - 1.0) - (cos * (w - 1.0) - sin * (h - 1.0))) / 2.0;
                let y_offset = ((h - 1.0) - (sin * (w - 1.0) + cos * (h - 1.0))) / 2.0;
                [cos, -sin, x_offset, sin, cos, y_offset]
            })
            .collect();
        let size = (h as usize, w as usize);
        warp(
            x,
            &t,
            size,
            sampling(c.fill_mode, c.fill_value, c.interpolation),
        )
    }
}

/// `RandomZoom`'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomZoomConfig {
    /// Vertical zoom: a draw z gives scale 1 + z (negative zooms in).
    pub height_factor: Factor,
    /// Horizontal zoom; `None` keeps the aspect ratio (the vertical draw).
    #[serde(default)]
    pub width_factor: Option<Factor>,
    /// Outside the image.
    #[serde(default = "reflect")]
    pub fill_mode: FillMode,
    /// Sampling.
    #[serde(default = "bilinear")]
    pub interpolation: Interpolation,
    /// Seed of the draws.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The constant fill.
    #[serde(default)]
    pub fill_value: f32,
}

/// Zooms each image about its centre by a random factor in training.
pub struct RandomZoom {
    config: RandomZoomConfig,
}

impl RandomZoom {
    /// `RandomZoom(height_factor, width_factor)` with Keras's defaults (reflect, bilinear).
    pub fn new(height_factor: Factor, width_factor: Option<Factor>) -> Self {
        RandomZoom {
            config: RandomZoomConfig {
                height_factor,
                width_factor,
                fill_mode: FillMode::Reflect,
                interpolation: Interpolation::Bilinear,
                seed: None,
                fill_value: 0.0,
            },
        }
    }

    sampling_builders!("RandomZoom");

    fn check(&self) -> Result<()> {
        let (lo, _) = self
            .config
            .height_factor
            .bounds("RandomZoom", "height_factor")?;
        let wlo = match self.config.width_factor {
            Some(f) => f.bounds("RandomZoom", "width_factor")?.0,
            None => lo,
        };
        if lo <= -1.0 || wlo <= -1.0 {
            return Err(NnError::Config(format!(
                "RandomZoom: factors must stay above -1 (a scale of 1 + factor), got {:?}",
                self.config
            )));
        }
        Ok(())
    }
}

impl Layer for RandomZoom {
    image_layer!("RandomZoom");

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        if !ctx.training {
            return Ok(x.clone());
        }
        let c = &self.config;
        let (hl, hh) = c.height_factor.bounds("RandomZoom", "height_factor")?;
        let width = c
            .width_factor
            .map(|f| f.bounds("RandomZoom", "width_factor"))
            .transpose()?;
        let (n, h, w) = dims("RandomZoom", x)?;
        let mut rng = call_rng(c.seed, ctx.seed, 0x2003);
        let t: Vec<[f32; 6]> = (0..n)
            .map(|_| {
                let zy = 1.0 + uniform(&mut rng, hl, hh);
                let zx = match width {
                    Some((wl, wh)) => 1.0 + uniform(&mut rng, wl, wh),
                    None => zy,
                };
                // Keras 3's zoom matrix: scale about the centre.
                [
                    zx,
                    0.0,
                    (w - 1.0) / 2.0 * (1.0 - zx),
                    0.0,
                    zy,
                    (h - 1.0) / 2.0 * (1.0 - zy),
                ]
            })
            .collect();
        let size = (h as usize, w as usize);
        warp(
            x,
            &t,
            size,
            sampling(c.fill_mode, c.fill_value, c.interpolation),
        )
    }
}
