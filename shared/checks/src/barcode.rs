//! PDF417 reading from photos, through `rxing` (a pure-Rust port of ZXing).
//!
//! [`read_pdf417`] tries a fixed, deterministic list of views of the image — as is, half
//! size, rotated 90/180/270°, then binarised with Otsu's threshold — and stops at the
//! first view that decodes. The view that worked is reported so a reviewer can see how
//! hard the read was. Read `aamva` and `mrz` for what is done with the text.

use image::imageops::{self, FilterType};
use image::GrayImage;
use rxing::{BarcodeFormat, DecodeHints};
use serde::Serialize;

/// Images larger than this many pixels are downscaled before the first attempt: PDF417
/// modules on a licence photo stay several pixels wide at this size, and the reader's cost
/// grows with the pixel count.
const MAX_DECODE_PIXELS: u64 = 3_000_000;

/// A decoded barcode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BarcodeRead {
    /// Always `pdf417` for now.
    pub format: &'static str,
    /// The payload text as the reader returned it (control characters included).
    pub text: String,
    /// Which view decoded: `as_is`, `half_size`, `rotated_90`, `rotated_180`,
    /// `rotated_270`, `binarised`.
    pub view: &'static str,
}

fn try_decode(img: &GrayImage) -> Option<String> {
    let (w, h) = img.dimensions();
    if w < 16 || h < 16 {
        return None;
    }
    let mut hints = DecodeHints {
        TryHarder: Some(true),
        ..DecodeHints::default()
    };
    rxing::helpers::detect_in_luma_with_hints(
        img.as_raw().clone(),
        w,
        h,
        Some(BarcodeFormat::PDF_417),
        &mut hints,
    )
    .ok()
    .map(|r| r.getText().to_string())
    .filter(|t| !t.is_empty())
}

/// Otsu's global threshold, for photos whose uneven light defeats the local binariser.
fn otsu(img: &GrayImage) -> GrayImage {
    let mut hist = [0u64; 256];
    for p in img.as_raw() {
        if let Some(h) = hist.get_mut(usize::from(*p)) {
            *h += 1;
        }
    }
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, c)| i as f64 * *c as f64)
        .sum();
    let (mut w_b, mut sum_b, mut best, mut threshold) = (0f64, 0f64, 0f64, 128u8);
    for (t, c) in hist.iter().enumerate() {
        w_b += *c as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total as f64 - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += t as f64 * *c as f64;
        let m_b = sum_b / w_b;
        let m_f = (sum_all - sum_b) / w_f;
        let between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            threshold = u8::try_from(t).unwrap_or(128);
        }
    }
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0[0] = if p.0[0] > threshold { 255 } else { 0 };
    }
    out
}

/// Reads the first PDF417 found in a greyscale image (see module docs for the views).
pub fn read_pdf417(gray: &GrayImage) -> Option<BarcodeRead> {
    let (w, h) = gray.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    let base = if pixels > MAX_DECODE_PIXELS {
        let scale = (MAX_DECODE_PIXELS as f64 / pixels as f64).sqrt();
        let nw = ((f64::from(w) * scale) as u32).max(1);
        let nh = ((f64::from(h) * scale) as u32).max(1);
        imageops::resize(gray, nw, nh, FilterType::Triangle)
    } else {
        gray.clone()
    };
    let found = |text: String, view| {
        Some(BarcodeRead {
            format: "pdf417",
            text,
            view,
        })
    };
    if let Some(t) = try_decode(&base) {
        return found(t, "as_is");
    }
    let half = imageops::resize(
        &base,
        (base.width() / 2).max(1),
        (base.height() / 2).max(1),
        FilterType::Triangle,
    );
    if let Some(t) = try_decode(&half) {
        return found(t, "half_size");
    }
    if let Some(t) = try_decode(&imageops::rotate90(&half)) {
        return found(t, "rotated_90");
    }
    if let Some(t) = try_decode(&imageops::rotate180(&half)) {
        return found(t, "rotated_180");
    }
    if let Some(t) = try_decode(&imageops::rotate270(&half)) {
        return found(t, "rotated_270");
    }
    if let Some(t) = try_decode(&otsu(&base)) {
        return found(t, "binarised");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn blank_and_tiny_images_read_nothing() {
        assert!(read_pdf417(&GrayImage::from_pixel(400, 300, Luma([200]))).is_none());
        assert!(read_pdf417(&GrayImage::from_pixel(3, 3, Luma([0]))).is_none());
    }

    #[test]
    fn otsu_splits_two_levels() {
        let img = GrayImage::from_fn(10, 10, |x, _| Luma([if x < 5 { 40 } else { 210 }]));
        let b = otsu(&img);
        assert_eq!(b.get_pixel(0, 0).0[0], 0);
        assert_eq!(b.get_pixel(9, 0).0[0], 255);
    }
}
