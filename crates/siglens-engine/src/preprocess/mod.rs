//! Image preprocessing as `SiglipImageProcessor` does it: decode, resize straight to the
//! model's square (no crop, aspect not kept) with the configured PIL filter, rescale,
//! normalise, channels first.

mod decode;
mod resample;

pub use decode::{decode_rgb8, DecodeLimits};
pub use resample::resize_rgb8;

use image::RgbImage;

use crate::config::PreprocessConfig;
use crate::error::Result;

/// A preprocessed image: `3 x height x width` floats, channels first.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelValues {
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

/// Turns a decoded RGB image into the model's input.
pub fn pixel_values(img: &RgbImage, cfg: &PreprocessConfig) -> PixelValues {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (ow, oh) = if cfg.do_resize {
        (cfg.width, cfg.height)
    } else {
        (w, h)
    };
    let resized;
    let rgb: &[u8] = if (ow, oh) == (w, h) {
        img.as_raw()
    } else {
        resized = resize_rgb8(img.as_raw(), w, h, ow, oh, cfg.resample);
        &resized
    };
    // transformers rescales in f64 and casts to f32 before normalising.
    let scale = if cfg.do_rescale {
        cfg.rescale_factor
    } else {
        1.0
    };
    let plane = ow * oh;
    let mut data = vec![0f32; 3 * plane];
    for c in 0..3 {
        let (mean, std) = if cfg.do_normalize {
            (cfg.mean[c] as f32, cfg.std[c] as f32)
        } else {
            (0.0, 1.0)
        };
        let out = &mut data[c * plane..(c + 1) * plane];
        for (i, o) in out.iter_mut().enumerate() {
            let v = (f64::from(rgb[i * 3 + c]) * scale) as f32;
            *o = (v - mean) / std;
        }
    }
    PixelValues {
        height: oh,
        width: ow,
        data,
    }
}

/// Encoded file bytes to model input, with decode limits.
pub fn preprocess_bytes(
    bytes: &[u8],
    cfg: &PreprocessConfig,
    limits: &DecodeLimits,
) -> Result<PixelValues> {
    let img = decode_rgb8(bytes, limits)?;
    Ok(pixel_values(&img, cfg))
}
