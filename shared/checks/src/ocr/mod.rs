//! Reading a machine-readable zone from a photo: pure Rust, deterministic, offline.
//!
//! [`read_mrz`] owns the pipeline: [`locate`] finds the band of two or three long, evenly
//! pitched text rows anywhere in the frame (any rotation), [`segment`] samples each line
//! upright at full resolution and cuts it into its fixed number of cells, [`classify`]
//! compares each cell with the committed OCR-B templates ([`glyphs`]), and [`correct`]
//! replaces an unsure character only when the check digits prove the replacement.
//!
//! The reader never decides whether the document is valid: it returns what it saw, with a
//! confidence per character, and [`crate::mrz`] judges the text.

use serde::Serialize;
use thiserror::Error;

use crate::mrz::MrzFormat;

pub mod classify;
pub mod correct;
pub mod glyphs;
pub mod locate;
pub mod segment;

#[cfg(test)]
mod tests;

/// One character as read, with how sure the classifier was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadChar {
    /// The best candidate.
    pub ch: char,
    /// 0–1: the margin between the best and the next different candidate, scaled; below
    /// [`correct::UNSURE`] the character may be replaced by a check-digit-proven alternative.
    pub confidence: f32,
    /// The next candidates (best first) with their template scores (normalised
    /// correlation, −1–1); the best candidate's own score comes first.
    pub alternatives: Vec<(char, f32)>,
}

/// Measures of the MRZ band itself (not the whole photo).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandQuality {
    /// Character height in pixels of the original image.
    pub char_height_px: f32,
    /// Variance of the Laplacian of the upright band, on a 0–255 scale.
    pub sharpness: f64,
    /// Fraction of band pixels that are saturated (≥ 250).
    pub glare_fraction: f64,
    /// Ink/paper contrast of the band, 0–255.
    pub contrast: f64,
    /// Mean template score of the characters read (−1–1).
    pub mean_score: f32,
}

/// What [`read_mrz`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MrzReading {
    /// Layout, from the number of lines and characters per line (and `V` for visas).
    pub format: MrzFormat,
    /// Characters per line, top line first.
    pub lines: Vec<Vec<ReadChar>>,
    /// The band's quality.
    pub quality: BandQuality,
    /// Angle in degrees (counter-clockwise, 0–360) by which the text baseline is rotated in
    /// the image: 0 for an upright document, 180 for one upside down.
    pub rotation_degrees: f32,
    /// The nearest right angle of [`Self::rotation_degrees`] (0, 90, 180 or 270).
    pub quarter_turns: u8,
    /// The remainder after the right angle, degrees (−45–45).
    pub skew_degrees: f32,
}

impl MrzReading {
    /// The lines as text, joined by `\n`.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.iter().map(|c| c.ch).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Characters read with a confidence below [`correct::UNSURE`].
    pub fn unsure_count(&self) -> usize {
        self.lines
            .iter()
            .flatten()
            .filter(|c| c.confidence < correct::UNSURE)
            .count()
    }
}

/// Why no MRZ was read. `code()` is the stable reason string.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReadError {
    /// The image is too small to hold a readable MRZ.
    #[error("image too small to hold an MRZ")]
    ImageTooSmall,
    /// No band of two or three long, evenly pitched text rows.
    #[error("no MRZ found in the image")]
    NotFound,
    /// A band was found but its characters could not be read as an MRZ.
    #[error("MRZ found but not readable")]
    Unreadable,
}

impl ReadError {
    /// Stable snake_case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::ImageTooSmall => "mrz_image_too_small",
            ReadError::NotFound => "mrz_not_found",
            ReadError::Unreadable => "mrz_unreadable",
        }
    }
}

/// Mean template score at which the first band read is taken without trying the others.
const GOOD_ENOUGH: f32 = 0.8;

/// Finds and reads the MRZ of a greyscale photo or scan. Deterministic; never panics.
pub fn read_mrz(image: &image::GrayImage) -> Result<MrzReading, ReadError> {
    if image.width() < 64 || image.height() < 32 {
        return Err(ReadError::ImageTooSmall);
    }
    let candidates = locate::find_bands(image);
    if candidates.is_empty() {
        return Err(ReadError::NotFound);
    }
    let mut best: Option<MrzReading> = None;
    for band in candidates.iter().take(locate::MAX_CANDIDATES) {
        if let Some(r) = segment::read_band(image, band) {
            let better = best
                .as_ref()
                .is_none_or(|b| r.quality.mean_score > b.quality.mean_score);
            if better {
                best = Some(r);
            }
            // A band read this well is the MRZ: the weaker candidates are not worth the time.
            if best
                .as_ref()
                .is_some_and(|b| b.quality.mean_score >= GOOD_ENOUGH)
            {
                break;
            }
        }
    }
    best.ok_or(ReadError::Unreadable)
}
