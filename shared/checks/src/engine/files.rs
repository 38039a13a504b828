//! Reading uploaded files, shared by both document kinds: what the bytes are (magic bytes
//! against the declared media type), the verification's pixel budget, the per-file
//! report, and the `image_quality` check over those reports.

use serde_json::json;

use super::registry::{push_unique, Verdict};
use super::types::{Config, FileReport};
use crate::image_quality;
use crate::pdf_text;
use crate::types::InputFile;

/// What the bytes are, from their magic bytes: `jpeg`, `png`, `pdf` or `unknown`. Bytes are
/// `text` (an MRZ typed out, a barcode payload) only when the caller declares
/// `text/plain` explicitly: the API declares only images and PDFs, so no upload is ever
/// read as text, however ASCII its bytes.
fn sniffed(file: &InputFile) -> &'static str {
    let b = &file.bytes;
    match image_quality::sniff(b) {
        Some(image::ImageFormat::Png) => "png",
        Some(_) => "jpeg",
        None if pdf_text::looks_like_pdf(b) => "pdf",
        None if file.content_type == "text/plain" && !b.is_empty() => "text",
        None => "unknown",
    }
}

/// [`sniffed`], and whether that is what was declared: a file is used only as the type
/// it was declared as (`image/jpeg` must be a JPEG, …). An undeclared or unknown media
/// type is taken as sniffed, never as text.
fn detect(file: &InputFile) -> (&'static str, bool) {
    let found = sniffed(file);
    let declared = match file.content_type.as_str() {
        "image/jpeg" => "jpeg",
        "image/png" => "png",
        "application/pdf" => "pdf",
        "text/plain" => "text",
        _ => return (found, found != "text"),
    };
    (found, found == declared)
}

/// Counts decoded pixels against the verification's budget, file after file.
pub(super) struct PixelBudget(u64);

impl PixelBudget {
    fn of(cfg: &Config) -> Self {
        PixelBudget(cfg.image.max_total_pixels)
    }

    pub(super) fn inspect(
        &mut self,
        bytes: &[u8],
        cfg: &Config,
    ) -> Result<image_quality::DecodedImage, image_quality::ImageError> {
        image_quality::inspect_within(bytes, &cfg.image, &mut self.0)
    }
}

/// Reads `inputs` in order and returns one report each. A file not of the type it was
/// declared as is not read (`content_type_mismatch`); every other file goes to `read` with
/// its fresh report and the verification's pixel budget.
pub(super) fn read_each(
    inputs: &[InputFile],
    cfg: &Config,
    mut read: impl FnMut(&InputFile, &mut FileReport, &mut PixelBudget),
) -> Vec<FileReport> {
    let mut budget = PixelBudget::of(cfg);
    let mut reports = Vec::with_capacity(inputs.len());
    for (index, file) in inputs.iter().enumerate() {
        let (detected, as_declared) = if file.bytes.is_empty() {
            ("unknown", true)
        } else {
            detect(file)
        };
        let mut report = FileReport {
            index,
            detected,
            side: file.side,
            error: None,
            quality: None,
            barcode_view: None,
            mrz_band: None,
        };
        if as_declared {
            read(file, &mut report, &mut budget);
        } else {
            report.error = Some("content_type_mismatch");
        }
        reports.push(report);
    }
    reports
}

/// Why a file of no usable type was not read.
pub(super) fn unusable(file: &InputFile) -> &'static str {
    if file.bytes.is_empty() {
        "empty_file"
    } else {
        "unsupported_format"
    }
}

/// `image_quality`: every image's decoding errors and quality reasons.
pub(super) fn image_quality_check(files: &[FileReport]) -> Verdict {
    let images: Vec<&FileReport> = files
        .iter()
        .filter(|f| matches!(f.detected, "jpeg" | "png") || f.error.is_some())
        .collect();
    if images.is_empty() {
        return Verdict::NotApplicable(json!({ "files": files }));
    }
    let mut reasons = Vec::new();
    // When a photo's MRZ was read, greyscale is only reported, on every file of the
    // document (a card's front and back are shot alike).
    let mrz_read = images.iter().any(|f| f.mrz_band.is_some());
    for f in &images {
        if let Some(e) = f.error {
            push_unique(&mut reasons, e);
        }
        // A photo whose MRZ was read is judged on the band itself: the rest of the frame
        // (a desk, a blurred background, a greyscale scan) does not matter.
        if let Some(band) = &f.mrz_band {
            for r in &band.reasons {
                push_unique(&mut reasons, r);
            }
        } else if let Some(q) = &f.quality {
            for r in q
                .reasons
                .iter()
                .filter(|r| !(mrz_read && **r == "greyscale_image"))
            {
                push_unique(&mut reasons, r);
            }
        }
    }
    Verdict::of(reasons, json!({ "files": files }))
}
