//! Bytes to an RGB image: format sniffed from the content (never the file name), EXIF
//! orientation applied, hard limits checked before any pixel buffer is allocated.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, RgbImage};

use crate::error::{Error, Result};

/// Ceilings on what a decode may allocate, so a decompression bomb is an error, not an OOM.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    pub max_width: u32,
    pub max_height: u32,
    /// Width x height; the pixel buffers scale with this, not with the file size.
    pub max_pixels: u64,
    /// Bytes the decoder itself may allocate.
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_width: 20_000,
            max_height: 20_000,
            // PIL warns at ~89 Mpx; 64 Mpx keeps an RGBA16 decode under 512 MiB.
            max_pixels: 64_000_000,
            max_alloc: 1 << 30,
        }
    }
}

/// Decodes PNG, JPEG, WebP, GIF (first frame), BMP or TIFF into 8-bit RGB, like
/// `PIL.ImageOps.exif_transpose(img).convert("RGB")` in `transformers.image_utils.load_image`.
pub fn decode_rgb8(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::UnknownImageFormat("empty file (0 bytes)".into()));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::ImageDecode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(Error::UnknownImageFormat(sniff_unsupported(bytes)));
    }
    let mut reader = reader;
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_width);
    l.max_image_height = Some(limits.max_height);
    l.max_alloc = Some(limits.max_alloc);
    reader.limits(l);
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        // Say how large the file claims to be: the header alone is read for that.
        ImageError::Limits(_) => match declared_size(bytes) {
            Some((w, h)) => Error::ImageTooLarge(format!(
                "{w}x{h} declared; the limit is {}x{} and {} megapixels",
                limits.max_width,
                limits.max_height,
                limits.max_pixels / 1_000_000
            )),
            None => map_image_error(e),
        },
        e => map_image_error(e),
    })?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::ImageDecode(format!("image has zero size ({w}x{h})")));
    }
    if u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(Error::ImageTooLarge(format!(
            "{w}x{h} is {} megapixels, the limit is {}",
            u64::from(w) * u64::from(h) / 1_000_000,
            limits.max_pixels / 1_000_000
        )));
    }
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img.into_rgb8())
}

/// Width and height from the header, with no limits (nothing is decoded).
fn declared_size(bytes: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

fn map_image_error(e: ImageError) -> Error {
    // The decoders' messages may end in a newline; ours are one line.
    match e {
        ImageError::Limits(l) => Error::ImageTooLarge(l.to_string().trim().to_string()),
        ImageError::Unsupported(u) => Error::UnknownImageFormat(u.to_string().trim().to_string()),
        other => Error::ImageDecode(other.to_string().trim().to_string()),
    }
}

/// Names common formats we do not decode, so the message says what the file is.
fn sniff_unsupported(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = String::from_utf8_lossy(&head[8..12]).to_string();
        if ["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"].contains(&brand.as_str()) {
            return "HEIC/HEIF images are not supported; convert to JPEG or PNG".into();
        }
        if brand.starts_with("avi") {
            return "AVIF images are not supported; convert to JPEG or PNG".into();
        }
    }
    if text.contains("<svg") {
        return "SVG (vector) images are not supported; export a PNG".into();
    }
    if head
        .iter()
        .all(|b| b.is_ascii() && (*b >= 0x20 || b"\n\r\t".contains(b)))
    {
        return "the file is text, not an image".into();
    }
    "unknown or unsupported format (supported: PNG, JPEG, WebP, GIF, BMP, TIFF)".into()
}
