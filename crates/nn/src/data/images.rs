//! Reading one image file as Keras's `image_dataset_from_directory` does: decoded by the
//! `image` crate (PNG, JPEG, BMP, GIF's first frame; its default limits refuse decompression
//! bombs), converted to the colour mode (grayscale with ITU-R 601 luma weights, as libjpeg and
//! TensorFlow's decoders use; alpha dropped for RGB), optionally centre-cropped to the target
//! aspect ratio, and resized the way `tf.image.resize` does (half-pixel centres, no
//! antialiasing), to f32 values in [0, 255].

use std::path::Path;

use crate::data::data_err;
use crate::error::Result;

/// Channels of the decoded images (Keras's `color_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorMode {
    /// 1 channel.
    Grayscale,
    /// 3 channels.
    Rgb,
    /// 4 channels.
    Rgba,
}

impl ColorMode {
    /// Channels per pixel.
    pub fn channels(self) -> usize {
        match self {
            ColorMode::Grayscale => 1,
            ColorMode::Rgb => 3,
            ColorMode::Rgba => 4,
        }
    }
}

/// How images are resized (Keras's `interpolation`): the GPU warp's enum, shared.
pub use kiln_graph::Interpolation;

/// An image as HWC f32 values.
#[derive(Clone, Debug, PartialEq)]
pub struct Pixels {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Channels per pixel.
    pub channels: usize,
    /// height * width * channels values, row-major, channels last.
    pub values: Vec<f32>,
}

/// Decodes `path` into `mode`'s channels, values 0..255.
pub fn decode(path: &Path, mode: ColorMode) -> Result<Pixels> {
    let bad = |e: &dyn std::fmt::Display| {
        data_err(
            path,
            format!("cannot decode the image (truncated, corrupt or not an image): {e}"),
        )
    };
    let image = image::ImageReader::open(path)
        .map_err(|e| data_err(path, format!("cannot read: {e}")))?
        .with_guessed_format()
        .map_err(|e| bad(&e))?
        .decode()
        .map_err(|e| bad(&e))?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let values: Vec<f32> = match mode {
        ColorMode::Rgba => image
            .to_rgba8()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect(),
        ColorMode::Rgb => image
            .to_rgb8()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect(),
        ColorMode::Grayscale if image.color().has_color() => image
            .to_rgb8()
            .into_raw()
            .chunks_exact(3)
            .map(|p| (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).round())
            .collect(),
        ColorMode::Grayscale => image
            .to_luma8()
            .into_raw()
            .into_iter()
            .map(f32::from)
            .collect(),
    };
    Ok(Pixels {
        height: h,
        width: w,
        channels: mode.channels(),
        values,
    })
}

impl Pixels {
    /// The largest centred window with the aspect ratio of `height` x `width` (Keras's
    /// `crop_to_aspect_ratio`, its arithmetic).
    pub fn crop_to_aspect(&self, height: usize, width: usize) -> Pixels {
        let (h, w) = (self.height, self.width);
        let crop_h = ((w * height) as f64 / width as f64) as usize;
        let crop_h = crop_h.min(h).max(1);
        let crop_w = ((h * width) as f64 / height as f64) as usize;
        let crop_w = crop_w.min(w).max(1);
        let (top, left) = ((h - crop_h) / 2, (w - crop_w) / 2);
        let c = self.channels;
        let mut values = Vec::with_capacity(crop_h * crop_w * c);
        for y in top..top + crop_h {
            let row = (y * w + left) * c;
            values.extend_from_slice(&self.values[row..row + crop_w * c]);
        }
        Pixels {
            height: crop_h,
            width: crop_w,
            channels: c,
            values,
        }
    }

    /// Resized to `height` x `width` as `tf.image.resize` does (half-pixel centres).
    pub fn resize(&self, height: usize, width: usize, how: Interpolation) -> Pixels {
        if (height, width) == (self.height, self.width) {
            return self.clone();
        }
        let c = self.channels;
        let rows = axis(self.height, height, how);
        let cols = axis(self.width, width, how);
        let mut values = Vec::with_capacity(height * width * c);
        for &(y0, y1, fy) in &rows {
            for &(x0, x1, fx) in &cols {
                for k in 0..c {
                    let at = |y: usize, x: usize| self.values[(y * self.width + x) * c + k];
                    let top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * fx;
                    let bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * fx;
                    values.push(top + (bottom - top) * fy);
                }
            }
        }
        Pixels {
            height,
            width,
            channels: c,
            values,
        }
    }
}

/// For each output index along an axis of `from` -> `to`: the two input indices and the
/// weight of the second (TensorFlow's `compute_interpolation_weights` with the half-pixel
/// scaler; nearest takes floor((i + 0.5) * scale) with weight 0).
fn axis(from: usize, to: usize, how: Interpolation) -> Vec<(usize, usize, f32)> {
    let scale = from as f32 / to as f32;
    (0..to)
        .map(|i| match how {
            Interpolation::Bilinear => {
                let at = (i as f32 + 0.5) * scale - 0.5;
                let lo = at.floor();
                let lower = (lo.max(0.0) as usize).min(from - 1);
                let upper = (at.ceil().max(0.0) as usize).min(from - 1);
                (lower, upper, at - lo)
            }
            Interpolation::Nearest => {
                let at = (((i as f32 + 0.5) * scale).floor() as usize).min(from - 1);
                (at, at, 0.0)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(h: usize, w: usize) -> Pixels {
        Pixels {
            height: h,
            width: w,
            channels: 1,
            values: (0..h * w).map(|i| i as f32).collect(),
        }
    }

    #[test]
    fn resize_matches_tensorflow_half_pixel_bilinear() {
        // tf.image.resize(np.arange(4.).reshape(1, 4, 1), (1, 2)) = [[0.5], [2.5]] along the
        // row; upsampling 2 -> 4 gives [0, 0.25, 0.75, 1] of the pair.
        let down = ramp(1, 4).resize(1, 2, Interpolation::Bilinear);
        assert_eq!(down.values, [0.5, 2.5]);
        let up = ramp(1, 2).resize(1, 4, Interpolation::Bilinear);
        assert_eq!(up.values, [0.0, 0.25, 0.75, 1.0]);
        let nearest = ramp(1, 4).resize(1, 2, Interpolation::Nearest);
        assert_eq!(nearest.values, [1.0, 3.0]);
    }

    #[test]
    fn crop_keeps_the_centred_window_of_the_target_ratio() {
        let wide = ramp(2, 6).crop_to_aspect(1, 1);
        assert_eq!((wide.height, wide.width), (2, 2));
        assert_eq!(wide.values, [2.0, 3.0, 8.0, 9.0]);
        let tall = ramp(5, 2).crop_to_aspect(1, 2);
        assert_eq!((tall.height, tall.width), (1, 2));
        assert_eq!(tall.values, [4.0, 5.0]);
    }
}
