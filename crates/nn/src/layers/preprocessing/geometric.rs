//! `Resizing` and `CenterCrop`, Keras's deterministic geometric layers. `Resizing` resizes as
//! `tf.image.resize` does (half-pixel centres, edge pixels repeated), optionally after the
//! largest centred crop of the target aspect ratio; `CenterCrop` slices the centre, or, for an
//! image smaller than the target, crops to the aspect ratio and resizes (Keras's
//! `smart_resize`). Both run at inference too.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::{FillMode, Interpolation, Sampling, Tensor};

use crate::error::Result;
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::preprocessing::{batch_dims, image_shape, upload_transforms};
use crate::layers::registry::{config_of, typed_config};

/// `Resizing`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResizingConfig {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
    /// Bilinear (Keras's default) or nearest.
    #[serde(default = "bilinear")]
    pub interpolation: Interpolation,
    /// Crop the centre to the output's aspect ratio first.
    #[serde(default)]
    pub crop_to_aspect_ratio: bool,
}

fn bilinear() -> Interpolation {
    Interpolation::Bilinear
}

/// Resizes every image to (height, width).
pub struct Resizing {
    config: ResizingConfig,
}

impl Resizing {
    /// Bilinear, no crop.
    pub fn new(height: usize, width: usize) -> Self {
        Resizing {
            config: ResizingConfig {
                height,
                width,
                interpolation: Interpolation::Bilinear,
                crop_to_aspect_ratio: false,
            },
        }
    }

    /// The interpolation.
    pub fn interpolation(mut self, i: Interpolation) -> Self {
        self.config.interpolation = i;
        self
    }

    /// Crop to the aspect ratio before resizing.
    pub fn crop_to_aspect_ratio(mut self, yes: bool) -> Self {
        self.config.crop_to_aspect_ratio = yes;
        self
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(Resizing {
            config: typed_config("Resizing", config)?,
        })
    }
}

fn positive(class: &str, h: usize, w: usize) -> Result<()> {
    if h == 0 || w == 0 {
        return Err(crate::error::NnError::Config(format!(
            "{class}: height and width must be positive, got {h} x {w}"
        )));
    }
    Ok(())
}

/// The largest centred window of `target`'s aspect ratio in an (h, w) image: (top, left,
/// height, width), with Keras's arithmetic.
pub(crate) fn aspect_window(
    h: usize,
    w: usize,
    (th, tw): (usize, usize),
) -> (usize, usize, usize, usize) {
    let ch = (((w * th) as f64 / tw as f64) as usize).min(h).max(1);
    let cw = (((h * tw) as f64 / th as f64) as usize).min(w).max(1);
    ((h - ch) / 2, (w - cw) / 2, ch, cw)
}

/// The centre window of `x` ([n, h, w, c]) at (top, left) of size (ch, cw), by slicing.
fn window(x: &Tensor, (top, left, ch, cw): (usize, usize, usize, usize)) -> Result<Tensor> {
    let (h, w) = (x.shape()[1], x.shape()[2]);
    let rows = if (top, ch) == (0, h) {
        x.clone()
    } else {
        x.slice(1, top, top + ch)?
    };
    Ok(if (left, cw) == (0, w) {
        rows
    } else {
        rows.slice(2, left, left + cw)?
    })
}

/// `x` resized to `size` as `tf.image.resize` does.
pub(crate) fn resize(
    x: &Tensor,
    size: (usize, usize),
    crop: bool,
    interpolation: Interpolation,
) -> Result<Tensor> {
    let (n, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let x = if crop {
        window(x, aspect_window(h, w, size))?
    } else {
        x.clone()
    };
    let (h, w) = (x.shape()[1], x.shape()[2]);
    if (h, w) == size {
        return Ok(x);
    }
    let (sy, sx) = (h as f32 / size.0 as f32, w as f32 / size.1 as f32);
    let t = [sx, 0.0, 0.5 * sx - 0.5, 0.0, sy, 0.5 * sy - 0.5];
    let transforms = upload_transforms(x.device(), &vec![t; n])?;
    let s = Sampling {
        fill: FillMode::Nearest,
        fill_value: 0.0,
        interpolation,
    };
    Ok(x.warp_affine(&transforms, size, s)?)
}

impl Layer for Resizing {
    fn class_name(&self) -> &'static str {
        "Resizing"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let (_, _, c) = image_shape("Resizing", input_shape)?;
        positive("Resizing", self.config.height, self.config.width)?;
        Ok(vec![self.config.height, self.config.width, c])
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        batch_dims("Resizing", x)?;
        let c = &self.config;
        resize(
            x,
            (c.height, c.width),
            c.crop_to_aspect_ratio,
            c.interpolation,
        )
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}

/// `CenterCrop`'s settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CenterCropConfig {
    /// Output height.
    pub height: usize,
    /// Output width.
    pub width: usize,
}

/// The central (height, width) window of every image.
pub struct CenterCrop {
    config: CenterCropConfig,
}

impl CenterCrop {
    /// `CenterCrop(height, width)`.
    pub fn new(height: usize, width: usize) -> Self {
        CenterCrop {
            config: CenterCropConfig { height, width },
        }
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(CenterCrop {
            config: typed_config("CenterCrop", config)?,
        })
    }
}

/// The centre crop of `x` to `size`: a slice (differentiable) when the image is large enough,
/// else Keras's crop-to-aspect-and-resize.
pub(crate) fn center_crop(x: &Tensor, size: (usize, usize)) -> Result<Tensor> {
    let (h, w) = (x.shape()[1], x.shape()[2]);
    if h < size.0 || w < size.1 {
        return resize(x, size, true, Interpolation::Bilinear);
    }
    window(x, ((h - size.0) / 2, (w - size.1) / 2, size.0, size.1))
}

impl Layer for CenterCrop {
    fn class_name(&self) -> &'static str {
        "CenterCrop"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let (_, _, c) = image_shape("CenterCrop", input_shape)?;
        positive("CenterCrop", self.config.height, self.config.width)?;
        Ok(vec![self.config.height, self.config.width, c])
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        batch_dims("CenterCrop", x)?;
        center_crop(x, (self.config.height, self.config.width))
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
