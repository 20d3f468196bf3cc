//! Previews of uploaded pictures. The input is whatever a user uploaded, so
//! decoding is bounded: pictures over [`MAX_PIXELS`] or whose decoding
//! would need more than [`MAX_ALLOC`] bytes are refused before any pixel is
//! decoded (a small file can declare a huge canvas).

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// The most pixels a source picture may have (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;

/// The most bytes decoding one picture may allocate.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// The longest side a source picture may have.
const MAX_SIDE: u32 = 20_000;

/// The JPEG quality of previews.
const JPEG_QUALITY: u8 = 80;

/// A preview of a PNG, JPEG, GIF (first frame) or WebP picture whose longest
/// side is at most `max_side`, keeping the aspect ratio (a smaller picture
/// keeps its size). Returns the encoded preview and its content type:
/// `image/png` when the source has an alpha channel, else `image/jpeg`.
///
/// `None` when `content_type` is not `image/…`, the bytes are not one of
/// those formats (whatever the content type says, the bytes decide), they do
/// not decode, the picture is too large to decode safely, or `max_side` is 0.
pub fn thumbnail(
    bytes: &[u8],
    content_type: &str,
    max_side: u32,
) -> Option<(Vec<u8>, &'static str)> {
    let is_image = content_type
        .get(..6)
        .is_some_and(|t| t.eq_ignore_ascii_case("image/"));
    if !is_image || max_side == 0 {
        return None;
    }
    let image = decode(bytes)?;
    let (width, height) = (image.width(), image.height());
    let small = if width.max(height) > max_side {
        image.thumbnail(max_side, max_side)
    } else {
        image
    };
    encode(&small)
}

/// Decodes the first frame, within the limits.
fn decode(bytes: &[u8]) -> Option<DynamicImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let supported = [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
    ];
    if !supported.contains(&reader.format()?) {
        return None;
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let decoder = reader.into_decoder().ok()?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS || decoder.total_bytes() > MAX_ALLOC {
        return None;
    }
    DynamicImage::from_decoder(decoder).ok()
}

/// PNG (RGBA) when there is alpha, JPEG (RGB) otherwise.
fn encode(image: &DynamicImage) -> Option<(Vec<u8>, &'static str)> {
    let mut out = Vec::new();
    if image.color().has_alpha() {
        image
            .to_rgba8()
            .write_with_encoder(PngEncoder::new(&mut out))
            .ok()?;
        Some((out, "image/png"))
    } else {
        image
            .to_rgb8()
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))
            .ok()?;
        Some((out, "image/jpeg"))
    }
}
