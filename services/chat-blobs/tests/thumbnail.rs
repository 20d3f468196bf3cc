//! Thumbnails of generated pictures, and inputs that give none.

use chat_blobs::thumbnail;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{GrayImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

fn png_rgb(width: u32, height: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = Vec::new();
    img.write_with_encoder(PngEncoder::new(&mut out)).unwrap();
    out
}

fn png_rgba(width: u32, height: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(width, height, |x, _| Rgba([200, 10, 10, (x % 256) as u8]));
    let mut out = Vec::new();
    img.write_with_encoder(PngEncoder::new(&mut out)).unwrap();
    out
}

fn dimensions(bytes: &[u8], format: ImageFormat) -> (u32, u32) {
    let img = image::load_from_memory_with_format(bytes, format).expect("decodes");
    (img.width(), img.height())
}

#[test]
fn opaque_pictures_become_jpeg_within_the_box() {
    let (thumb, content_type) = thumbnail(&png_rgb(400, 200), "image/png", 100).unwrap();
    assert_eq!(content_type, "image/jpeg");
    assert_eq!(dimensions(&thumb, ImageFormat::Jpeg), (100, 50));

    let (thumb, _) = thumbnail(&png_rgb(90, 300), "image/png", 120).unwrap();
    assert_eq!(dimensions(&thumb, ImageFormat::Jpeg), (36, 120));
}

#[test]
fn pictures_with_alpha_stay_png() {
    let (thumb, content_type) = thumbnail(&png_rgba(300, 300), "image/png", 64).unwrap();
    assert_eq!(content_type, "image/png");
    assert_eq!(dimensions(&thumb, ImageFormat::Png), (64, 64));
}

#[test]
fn small_pictures_keep_their_size() {
    let (thumb, _) = thumbnail(&png_rgb(30, 20), "image/png", 256).unwrap();
    assert_eq!(dimensions(&thumb, ImageFormat::Jpeg), (30, 20));
}

#[test]
fn the_bytes_decide_the_format() {
    // A PNG labelled as JPEG still makes a thumbnail.
    let (thumb, _) = thumbnail(&png_rgb(200, 100), "image/jpeg", 50).unwrap();
    assert_eq!(dimensions(&thumb, ImageFormat::Jpeg), (50, 25));
    // A JPEG source works too.
    let (jpeg, _) = thumbnail(&png_rgb(200, 100), "image/png", 200).unwrap();
    let (thumb, _) = thumbnail(&jpeg, "image/jpeg", 20).unwrap();
    assert_eq!(dimensions(&thumb, ImageFormat::Jpeg), (20, 10));
}

#[test]
fn non_pictures_give_none() {
    assert_eq!(
        thumbnail(b"definitely not a picture", "image/png", 100),
        None
    );
    assert_eq!(thumbnail(&[], "image/png", 100), None);
    assert_eq!(thumbnail(&png_rgb(10, 10), "application/pdf", 100), None);
    assert_eq!(thumbnail(&png_rgb(10, 10), "image/png", 0), None);
    // A truncated PNG.
    let png = png_rgb(64, 64);
    assert_eq!(thumbnail(&png[..png.len() / 2], "image/png", 16), None);
}

fn png_gray(width: u32, height: u32) -> Vec<u8> {
    let img = GrayImage::new(width, height);
    let mut out = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::NoFilter);
    img.write_with_encoder(encoder).unwrap();
    out
}

#[test]
fn decompression_bombs_give_none() {
    // Valid pictures that compress to little but decode to a lot.
    // Over 40 megapixels (6400 x 6400 = 40.96 MP).
    let many_pixels = png_gray(6400, 6400);
    assert!(many_pixels.len() < 1_000_000, "{}", many_pixels.len());
    assert_eq!(thumbnail(&many_pixels, "image/png", 100), None);
    // A side over the limit, few pixels.
    assert_eq!(thumbnail(&png_gray(25_000, 1), "image/png", 100), None);
    // Just under both limits decodes.
    let (thumb, _) = thumbnail(&png_gray(19_000, 2), "image/png", 100).unwrap();
    assert_eq!(dimensions(&thumb, ImageFormat::Jpeg), (100, 1));
}
