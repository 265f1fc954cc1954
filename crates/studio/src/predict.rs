//! Live prediction (the Gradio `Image` -> `Label` panel): an uploaded image is decoded with
//! size limits, converted to the model's input (grey or colour, resized to its height and
//! width with bilinear filtering, scaled to [0, 1] unless the model's first layer is a
//! `Rescaling` that expects raw 0-255 pixels), and classified on the GPU.
//!
//! The model and its device live on one worker thread that takes requests from a channel, one
//! forward pass and one readback each; decoding runs on the request's blocking task, so a large
//! upload never holds up the GPU queue.

use std::io::Cursor;
use std::path::Path;
use std::sync::mpsc;

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits};
use kiln_graph::Device;
use kiln_nn::{Array, load_model};
use serde::Serialize;
use tokio::sync::oneshot;

/// Largest decoded image side (pixels) and decoder allocation accepted.
const MAX_SIDE: u32 = 8192;
const MAX_ALLOC: u64 = 512 << 20;

/// What the model takes, as an image.
#[derive(Clone, Debug, Serialize)]
pub struct InputSpec {
    /// The model's per-sample input shape.
    pub shape: Vec<usize>,
    /// Image height and width.
    pub height: u32,
    /// Image width.
    pub width: u32,
    /// 1 (grey), 3 (RGB) or 4 (RGBA).
    pub channels: u32,
    /// Pixels are fed as 0-255 (the model rescales them itself) rather than 0-1.
    pub raw_pixels: bool,
}

impl InputSpec {
    fn of(shape: &[usize], raw_pixels: bool) -> Option<InputSpec> {
        let side = |n: usize| {
            let s = (n as f64).sqrt().round() as usize;
            (s * s == n).then_some(s)
        };
        let (h, w, c) = match *shape {
            [h, w] => (h, w, 1),
            [h, w, c] if matches!(c, 1 | 3 | 4) => (h, w, c),
            [n] => match (side(n), side(n / 3)) {
                (Some(s), _) => (s, s, 1),
                (None, Some(s)) if n % 3 == 0 => (s, s, 3),
                _ => return None,
            },
            _ => return None,
        };
        Some(InputSpec {
            shape: shape.to_vec(),
            height: u32::try_from(h).ok()?,
            width: u32::try_from(w).ok()?,
            channels: c as u32,
            raw_pixels,
        })
    }

    /// Decodes `bytes` (any format the image crate reads) into one input sample.
    pub fn convert(&self, bytes: &[u8]) -> Result<Array, String> {
        let mut reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| format!("cannot read the upload: {e}"))?;
        if reader.format().is_none() {
            return Err("the upload is not an image (send a PNG, JPEG, BMP or GIF)".into());
        }
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        limits.max_alloc = Some(MAX_ALLOC);
        reader.limits(limits);
        let img = reader
            .decode()
            .map_err(|e| format!("the image cannot be decoded: {e}"))?;
        let img = img.resize_exact(self.width, self.height, FilterType::Triangle);
        let bytes = match self.channels {
            1 => DynamicImage::ImageLuma8(img.to_luma8()).into_bytes(),
            3 => DynamicImage::ImageRgb8(img.to_rgb8()).into_bytes(),
            _ => DynamicImage::ImageRgba8(img.to_rgba8()).into_bytes(),
        };
        let scale = if self.raw_pixels { 1.0 } else { 1.0 / 255.0 };
        let values = bytes.iter().map(|&b| b as f32 * scale).collect();
        let mut shape = vec![1];
        shape.extend_from_slice(&self.shape);
        Array::f32(values, &shape).map_err(|e| e.to_string())
    }
}

/// A prediction: `classes[i]` has probability `probabilities[i]`.
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    /// Class names, in class order.
    pub classes: Vec<String>,
    /// Probabilities, summing to 1.
    pub probabilities: Vec<f32>,
}

type Job = (Array, oneshot::Sender<Result<Vec<f32>, String>>);

/// The model on its worker thread.
pub struct Predictor {
    jobs: mpsc::Sender<Job>,
    /// Its input.
    pub input: InputSpec,
    /// Class names (indices when none were given).
    pub classes: Vec<String>,
}

impl Predictor {
    /// Loads a model saved with `Model::save` onto a new device; `classes` names the outputs
    /// (their count must match the model's).
    pub fn load(path: &Path, classes: Option<Vec<String>>) -> anyhow::Result<Predictor> {
        let path = path.to_path_buf();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (jobs, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kiln-studio-predict".into())
            .spawn(move || {
                let loaded = (|| -> anyhow::Result<_> {
                    let dev = Device::new()?;
                    let model = load_model(&path, &dev)
                        .map_err(|e| anyhow::anyhow!("--model {}: {e}", path.display()))?;
                    Ok(model)
                })();
                let mut model = match loaded {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let raw = model
                    .layer_names()
                    .first()
                    .and_then(|n| model.get_layer(n))
                    .is_some_and(|l| l.class_name() == "Rescaling");
                let input = model.input_shape().map(<[usize]>::to_vec);
                let classes = model.output_shape().and_then(|s| s.last().copied());
                let _ = ready_tx.send(Ok((input, classes, raw)));
                for (x, reply) in rx {
                    let out = model.probabilities(&x).map_err(|e| e.to_string());
                    let _ = reply.send(out.map(|a| a.as_f32().unwrap_or_default().to_vec()));
                }
            })?;
        let (input, n, raw) = ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the prediction thread stopped while loading"))??;
        let input = input
            .as_deref()
            .and_then(|s| InputSpec::of(s, raw))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the model's input {input:?} is not an image ([h, w], [h, w, c] or a square \
                     [h*w]): live prediction needs an image classifier"
                )
            })?;
        let n = n.ok_or_else(|| anyhow::anyhow!("the model has no single output"))?;
        let classes = match classes {
            Some(c) if c.len() == n => c,
            Some(c) => anyhow::bail!(
                "{} class names given but the model has {n} outputs",
                c.len()
            ),
            None => (0..n).map(|i| i.to_string()).collect(),
        };
        Ok(Predictor {
            jobs,
            input,
            classes,
        })
    }

    /// Class probabilities of one converted sample.
    pub async fn predict(&self, x: Array) -> Result<Prediction, String> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send((x, tx))
            .map_err(|_| "the prediction thread has stopped".to_string())?;
        let probabilities = rx
            .await
            .map_err(|_| "the prediction thread has stopped".to_string())??;
        Ok(Prediction {
            classes: self.classes.clone(),
            probabilities,
        })
    }
}

/// Class names for `--data`: Fashion-MNIST's, or an image folder's (as
/// `image_dataset_from_directory` labels it).
pub fn class_names(data: &str) -> anyhow::Result<Vec<String>> {
    if data == "fashion-mnist" {
        return Ok(kiln_nn::data::FASHION_MNIST_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect());
    }
    kiln_nn::data::image_dataset_from_directory(data)
        .class_names()
        .map_err(|e| anyhow::anyhow!("--data {data}: {e} (give fashion-mnist or an image folder)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_specs_and_conversion() {
        let s = InputSpec::of(&[28, 28], false).unwrap();
        assert_eq!((s.height, s.width, s.channels), (28, 28, 1));
        assert_eq!(InputSpec::of(&[784], false).unwrap().height, 28);
        assert_eq!(InputSpec::of(&[12], false).unwrap().channels, 3);
        assert!(InputSpec::of(&[7], false).is_none());
        assert!(InputSpec::of(&[4, 4, 2], false).is_none());
        // A 2x2 white PNG becomes a 28x28 grey sample of ones.
        let mut png = Vec::new();
        image::RgbImage::from_pixel(2, 2, image::Rgb([255, 255, 255]))
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let x = s.convert(&png).unwrap();
        assert_eq!(x.shape, [1, 28, 28]);
        assert!(x.as_f32().unwrap().iter().all(|&v| (v - 1.0).abs() < 1e-6));
        let raw = InputSpec::of(&[28, 28, 3], true)
            .unwrap()
            .convert(&png)
            .unwrap();
        assert_eq!(raw.as_f32().unwrap()[0], 255.0);
        assert!(
            s.convert(b"hello, not an image")
                .unwrap_err()
                .contains("not an image")
        );
        let mut broken = png.clone();
        broken.truncate(30);
        assert!(s.convert(&broken).is_err());
    }
}
