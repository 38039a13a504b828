//! Image intake and quality: refuse oversized images before decoding them, decode JPEG and
//! PNG under allocation limits, then measure resolution, blur, glare and colour.
//!
//! The measures run on a greyscale copy downscaled to fit [`ANALYSIS_SIZE`], so their
//! thresholds do not depend on the camera's resolution and the cost is bounded. Thresholds
//! live in [`ImageLimits`]; the defaults were calibrated on the crate's own fixtures
//! (see `tests/calibration.rs` and the README).

use std::io::Cursor;

use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest side of the copy the blur/glare/colour measures run on.
pub const ANALYSIS_SIZE: u32 = 1024;

/// Image limits and quality thresholds (part of the engine `Config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageLimits {
    /// Largest width × height accepted, read from the header before decoding.
    pub max_pixels: u64,
    /// Largest single dimension accepted.
    pub max_dimension: u32,
    /// Most pixels decoded per verification, summed over its files (each file's header
    /// is read, and its pixels taken from the budget, before it is decoded): bounds a
    /// verification's work whatever its number of files. The default holds four
    /// 12-megapixel phone photos, or one photo at `max_pixels` and a smaller one.
    pub max_total_pixels: u64,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc_bytes: u64,
    /// Shortest side must be at least this many pixels.
    pub min_short_side: u32,
    /// Variance of the Laplacian (on the analysis copy) below which the image is blurry.
    pub min_sharpness: f64,
    /// Share of saturated pixels above which there is glare.
    pub max_glare_fraction: f64,
    /// A pixel whose channels all lie within this many levels counts as grey.
    pub greyscale_tolerance: u8,
    /// Share of grey pixels from which the whole image is a greyscale copy.
    pub greyscale_fraction: f64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits {
            max_pixels: 40_000_000,
            max_dimension: 16_384,
            max_total_pixels: 50_000_000,
            max_alloc_bytes: 512 * 1024 * 1024,
            min_short_side: 600,
            min_sharpness: 100.0,
            max_glare_fraction: 0.04,
            greyscale_tolerance: 6,
            greyscale_fraction: 0.995,
        }
    }
}

/// Why bytes are not a usable image. `code()` is the stable reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ImageError {
    /// Zero bytes.
    #[error("empty file")]
    Empty,
    /// Not JPEG or PNG by its magic bytes.
    #[error("not a JPEG or PNG image")]
    UnsupportedFormat,
    /// Header dimensions over the pixel cap (decompression bomb or simply too big).
    #[error("image of {width}x{height} exceeds the pixel limit")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// The decoder failed or hit an allocation limit.
    #[error("image could not be decoded")]
    Corrupt,
    /// Decoding it would take the verification past `max_total_pixels`.
    #[error("image of {width}x{height} exceeds what is left of the verification's pixel budget")]
    OverBudget {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
}

impl ImageError {
    /// Stable snake_case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::Empty => "empty_file",
            ImageError::UnsupportedFormat => "unsupported_format",
            ImageError::TooLarge { .. } => "image_too_large",
            ImageError::Corrupt => "corrupt_image",
            ImageError::OverBudget { .. } => "pixel_budget_exceeded",
        }
    }
}

/// What the quality measures found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityReport {
    /// `jpeg` or `png`.
    pub format: &'static str,
    /// Decoded width (after EXIF orientation).
    pub width: u32,
    /// Decoded height.
    pub height: u32,
    /// Variance of the Laplacian on the analysis copy (higher is sharper).
    pub sharpness: f64,
    /// Share of saturated pixels.
    pub glare_fraction: f64,
    /// Share of pixels whose channels are equal within tolerance.
    pub grey_fraction: f64,
    /// Failed measures: `resolution_too_low`, `image_blurry`, `image_glare`,
    /// `greyscale_image`. Empty when the image is fine.
    pub reasons: Vec<&'static str>,
}

/// A decoded image ready for barcode reading.
#[derive(Debug, Clone)]
pub struct DecodedImage {
    /// Full-resolution greyscale.
    pub gray: GrayImage,
    /// Quality measures.
    pub report: QualityReport,
}

/// Sniffs JPEG/PNG from magic bytes (the declared content type is not trusted).
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else {
        None
    }
}

/// Decodes and measures an image. Dimensions are read from the header and checked against
/// the limits first, so a decompression bomb costs a header parse, not a decode.
pub fn inspect(bytes: &[u8], limits: &ImageLimits) -> Result<DecodedImage, ImageError> {
    let mut unlimited = u64::MAX;
    inspect_within(bytes, limits, &mut unlimited)
}

/// [`inspect`] against a pixel budget shared by several images: the image's header
/// dimensions are taken from `budget` before anything is decoded, and an image that does
/// not fit is refused (`pixel_budget_exceeded`) without decoding.
pub fn inspect_within(
    bytes: &[u8],
    limits: &ImageLimits,
    budget: &mut u64,
) -> Result<DecodedImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let format = sniff(bytes).ok_or(ImageError::UnsupportedFormat)?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| ImageError::Corrupt)?;
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt);
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_dimension
        || height > limits.max_dimension
    {
        return Err(ImageError::TooLarge { width, height });
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > *budget {
        return Err(ImageError::OverBudget { width, height });
    }
    *budget -= pixels;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_dimension);
    decoder_limits.max_image_height = Some(limits.max_dimension);
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|_| ImageError::Corrupt)?;
    // Phones store portrait shots as landscape pixels plus an EXIF rotation.
    let orientation = decoder.orientation().ok();
    let img = DynamicImage::from_decoder(decoder).map_err(|_| ImageError::Corrupt)?;
    // Only the two copies the checks use are kept and turned upright: the analysis
    // thumbnail and the full-size greyscale (one byte a pixel). Rotating the decoded image
    // itself would hold a second copy of it, up to 8 bytes a pixel.
    let has_color = img.color().has_color();
    let mut small = if img.width().max(img.height()) > ANALYSIS_SIZE {
        DynamicImage::ImageRgb8(img.thumbnail(ANALYSIS_SIZE, ANALYSIS_SIZE).to_rgb8())
    } else {
        DynamicImage::ImageRgb8(img.to_rgb8())
    };
    let mut gray = DynamicImage::ImageLuma8(img.to_luma8());
    drop(img);
    if let Some(o) = orientation {
        small.apply_orientation(o);
        gray.apply_orientation(o);
    }
    let gray = gray.into_luma8();
    let report = measure(
        &small.into_rgb8(),
        gray.dimensions(),
        has_color,
        format,
        limits,
    );
    Ok(DecodedImage { gray, report })
}

/// The quality measures on the upright analysis copy `small` of an image of `size`.
fn measure(
    small: &RgbImage,
    (width, height): (u32, u32),
    has_color: bool,
    format: ImageFormat,
    limits: &ImageLimits,
) -> QualityReport {
    let gray = DynamicImage::ImageRgb8(small.clone()).to_luma8();
    let sharpness = laplacian_variance(&gray);
    let total = (small.width() as usize * small.height() as usize).max(1) as f64;
    let mut saturated = 0usize;
    let mut grey = 0usize;
    let tol = limits.greyscale_tolerance;
    for p in small.pixels() {
        let [r, g, b] = p.0;
        if r >= 250 && g >= 250 && b >= 250 {
            saturated += 1;
        }
        if r.abs_diff(g) <= tol && g.abs_diff(b) <= tol && r.abs_diff(b) <= tol {
            grey += 1;
        }
    }
    let glare_fraction = saturated as f64 / total;
    // A decoder that produced a single channel is a greyscale file by construction.
    let grey_fraction = if has_color { grey as f64 / total } else { 1.0 };
    let mut reasons = Vec::new();
    if width.min(height) < limits.min_short_side {
        reasons.push("resolution_too_low");
    }
    if sharpness < limits.min_sharpness {
        reasons.push("image_blurry");
    }
    if glare_fraction > limits.max_glare_fraction {
        reasons.push("image_glare");
    }
    if grey_fraction >= limits.greyscale_fraction {
        reasons.push("greyscale_image");
    }
    QualityReport {
        format: if format == ImageFormat::Png {
            "png"
        } else {
            "jpeg"
        },
        width,
        height,
        sharpness: round2(sharpness),
        glare_fraction: round4(glare_fraction),
        grey_fraction: round4(grey_fraction),
        reasons,
    }
}

/// Rounded so serialized metadata is short and stable across platforms' float printing.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Variance of the 4-neighbour Laplacian over the interior pixels.
pub fn laplacian_variance(gray: &GrayImage) -> f64 {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let px = gray.as_raw();
    let at = |x: usize, y: usize| f64::from(px.get(y * w + x).copied().unwrap_or(0));
    let mut sum = 0.0;
    let mut sum_sq = 0.0;
    let mut n = 0.0;
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let l = at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y);
            sum += l;
            sum_sq += l * l;
            n += 1.0;
        }
    }
    let mean = sum / n;
    (sum_sq / n - mean * mean).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb};

    fn png(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img.clone())
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn checker(w: u32, h: u32) -> RgbImage {
        ImageBuffer::from_fn(w, h, |x, y| {
            if (x / 4 + y / 4) % 2 == 0 {
                Rgb([240, 200, 40])
            } else {
                Rgb([30, 90, 160])
            }
        })
    }

    #[test]
    fn empty_and_garbage_are_refused() {
        let l = ImageLimits::default();
        assert_eq!(inspect(&[], &l).unwrap_err().code(), "empty_file");
        assert_eq!(
            inspect(b"GIF89a", &l).unwrap_err().code(),
            "unsupported_format"
        );
        assert_eq!(
            inspect(&[0xFF, 0xD8, 0xFF, 0, 1, 2], &l)
                .unwrap_err()
                .code(),
            "corrupt_image"
        );
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn pixel_cap_applies_before_decoding() {
        // A valid PNG header claiming 50000 x 50000: refused from the header alone.
        let mut bytes = png(&checker(8, 8));
        bytes[16..20].copy_from_slice(&50_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&50_000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let l = ImageLimits {
            max_dimension: 100_000,
            ..ImageLimits::default()
        };
        assert_eq!(
            inspect(&bytes, &l).unwrap_err(),
            ImageError::TooLarge {
                width: 50_000,
                height: 50_000
            }
        );
    }

    #[test]
    fn small_sharp_colour_image_only_fails_resolution() {
        let d = inspect(&png(&checker(400, 300)), &ImageLimits::default()).unwrap();
        assert_eq!(d.report.reasons, vec!["resolution_too_low"]);
        assert!(d.report.sharpness > 1000.0);
    }

    #[test]
    fn flat_grey_white_image_is_blurry_glary_grey() {
        let img: RgbImage = ImageBuffer::from_pixel(800, 700, Rgb([255, 255, 255]));
        let d = inspect(&png(&img), &ImageLimits::default()).unwrap();
        assert_eq!(
            d.report.reasons,
            vec!["image_blurry", "image_glare", "greyscale_image"]
        );
    }
}
