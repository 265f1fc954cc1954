//! PNG encoding for image summaries (the `png` crate): grayscale, RGB or RGBA from u8 or [0, 1]
//! f32 pixels in HWC order.

use crate::error::{Result, SummaryError};

/// Pixels of one image, height x width x channels (1, 3 or 4), row-major HWC.
#[derive(Clone, Copy, Debug)]
pub enum Pixels<'a> {
    /// 0..=255.
    U8(&'a [u8]),
    /// 0.0..=1.0 (clamped), as Keras and tf.summary.image take floats.
    F32(&'a [f32]),
}

/// PNG bytes of an `h` x `w` x `c` image.
pub fn encode_png(pixels: Pixels<'_>, h: usize, w: usize, c: usize) -> Result<Vec<u8>> {
    let invalid = |message: String| SummaryError::Invalid {
        op: "add_image",
        message,
    };
    let color = match c {
        1 => png::ColorType::Grayscale,
        3 => png::ColorType::Rgb,
        4 => png::ColorType::Rgba,
        _ => {
            return Err(invalid(format!(
                "{c} channels: images need 1 (gray), 3 (RGB) or 4 (RGBA)"
            )));
        }
    };
    let bytes: Vec<u8> = match pixels {
        Pixels::U8(p) => p.to_vec(),
        Pixels::F32(p) => p
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect(),
    };
    if bytes.len() != h * w * c || h == 0 || w == 0 {
        return Err(invalid(format!(
            "{} pixel values do not make a {h}x{w}x{c} image",
            bytes.len()
        )));
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| invalid(e.to_string()))?;
        writer
            .write_image_data(&bytes)
            .map_err(|e| invalid(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_through_the_decoder() {
        let px: Vec<u8> = (0..6 * 4).map(|i| (i * 10) as u8).collect();
        let bytes = encode_png(Pixels::U8(&px), 4, 6, 1).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let mut dec = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; dec.output_buffer_size().unwrap()];
        let info = dec.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (6, 4));
        assert_eq!(&buf[..info.buffer_size()], &px[..]);
    }

    #[test]
    fn float_pixels_scale_and_clamp() {
        let bytes = encode_png(Pixels::F32(&[0.0, 0.5, 1.0, 2.0]), 1, 4, 1).unwrap();
        let mut dec = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; dec.output_buffer_size().unwrap()];
        dec.next_frame(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[0, 128, 255, 255]);
        assert!(encode_png(Pixels::U8(&[0; 5]), 2, 2, 1).is_err());
        assert!(encode_png(Pixels::U8(&[0; 8]), 2, 2, 2).is_err());
    }
}
