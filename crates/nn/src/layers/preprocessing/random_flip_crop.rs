//! `RandomFlip` and `RandomCrop`: flips and crops that land on pixel centres, so the warp copies
//! values exactly. In training each image gets its own draw; at inference `RandomFlip` passes
//! images through and `RandomCrop` takes the centre (Keras 3 draws one crop offset per batch;
//! kiln draws one per image).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::{FillMode, Interpolation, Tensor};

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::preprocessing::geometric::center_crop;
use crate::layers::preprocessing::warp_helpers::{dims, image_layer, sampling, warp};
use crate::layers::preprocessing::{batch_dims, call_rng, image_shape};
use crate::layers::registry::{config_of, typed_config};

/// Which flips `RandomFlip` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlipMode {
    /// Left-right.
    Horizontal,
    /// Up-down.
    Vertical,
    /// Each, independently.
    HorizontalAndVertical,
}

/// `RandomFlip`'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomFlipConfig {
    /// Which flips.
    #[serde(default = "both")]
    pub mode: FlipMode,
    /// Seed of the draws.
    #[serde(default)]
    pub seed: Option<u64>,
}

fn both() -> FlipMode {
    FlipMode::HorizontalAndVertical
}

/// Flips each image with probability 1/2 (per direction) in training.
pub struct RandomFlip {
    config: RandomFlipConfig,
}

impl RandomFlip {
    /// `RandomFlip(mode, seed)`.
    pub fn new(mode: FlipMode, seed: Option<u64>) -> Self {
        RandomFlip {
            config: RandomFlipConfig { mode, seed },
        }
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(RandomFlip {
            config: typed_config("RandomFlip", config)?,
        })
    }

    fn check(&self) -> Result<()> {
        Ok(())
    }
}

impl Layer for RandomFlip {
    image_layer!("RandomFlip");

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        if !ctx.training {
            return Ok(x.clone());
        }
        let (n, h, w) = dims("RandomFlip", x)?;
        let mut rng = call_rng(self.config.seed, ctx.seed, 0xF11B);
        let (horizontal, vertical) = match self.config.mode {
            FlipMode::Horizontal => (true, false),
            FlipMode::Vertical => (false, true),
            FlipMode::HorizontalAndVertical => (true, true),
        };
        let t: Vec<[f32; 6]> = (0..n)
            .map(|_| {
                let fx = horizontal && rng.uniform() < 0.5;
                let fy = vertical && rng.uniform() < 0.5;
                let (a0, a2) = if fx { (-1.0, w - 1.0) } else { (1.0, 0.0) };
                let (b1, b2) = if fy { (-1.0, h - 1.0) } else { (1.0, 0.0) };
                [a0, 0.0, a2, 0.0, b1, b2]
            })
            .collect();
        let size = (h as usize, w as usize);
        warp(
            x,
            &t,
            size,
            sampling(FillMode::Constant, 0.0, Interpolation::Nearest),
        )
    }
}

/// `RandomCrop`'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandomCropConfig {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// Seed of the draws.
    #[serde(default)]
    pub seed: Option<u64>,
}

/// A random (height, width) window of each image in training, the centre at inference.
pub struct RandomCrop {
    config: RandomCropConfig,
}

impl RandomCrop {
    /// `RandomCrop(height, width, seed)`.
    pub fn new(height: usize, width: usize, seed: Option<u64>) -> Self {
        RandomCrop {
            config: RandomCropConfig {
                height,
                width,
                seed,
            },
        }
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(RandomCrop {
            config: typed_config("RandomCrop", config)?,
        })
    }
}

impl Layer for RandomCrop {
    fn class_name(&self) -> &'static str {
        "RandomCrop"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let (_, _, c) = image_shape("RandomCrop", input_shape)?;
        if self.config.height == 0 || self.config.width == 0 {
            return Err(NnError::Config(
                "RandomCrop: height and width must be positive".into(),
            ));
        }
        Ok(vec![self.config.height, self.config.width, c])
    }

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        let size = (self.config.height, self.config.width);
        let (n, h, w) = batch_dims("RandomCrop", x)?;
        let (dh, dw) = (h as i64 - size.0 as i64, w as i64 - size.1 as i64);
        if !ctx.training || dh < 0 || dw < 0 {
            return center_crop(x, size);
        }
        let mut rng = call_rng(self.config.seed, ctx.seed, 0xC20F);
        let t: Vec<[f32; 6]> = (0..n)
            .map(|_| {
                let top = rng.below(dh as u64 + 1) as f32;
                let left = rng.below(dw as u64 + 1) as f32;
                [1.0, 0.0, left, 0.0, 1.0, top]
            })
            .collect();
        warp(
            x,
            &t,
            size,
            sampling(FillMode::Constant, 0.0, Interpolation::Nearest),
        )
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
