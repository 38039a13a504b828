//! ID documents (passports, ID cards, licences, visas): phase 1 reads barcodes and MRZ
//! text from the files ([`extract_idv`]), [`document_fingerprint`] names the document for
//! duplicate lookups, phase 2 ([`evaluate_idv`]) runs the registered ID checks
//! (`CHECKS`) over the sources merged with the context.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use time::Date;

use super::files;
use super::registry::{date_json, push_unique, run_all, Spec, Verdict};
use super::types::{
    Config, Context, DuplicateEvidence, Extracted, ExtractedDocument, ExtractedPerson,
    IdvExtracted, IdvExtraction, MrzBand, Outcome, PhotoMrz, RULE_SET_VERSION,
};
use crate::aamva::{self, Aamva};
use crate::barcode;
use crate::compare::{compare_names, TruncationHints};
use crate::country::{alpha3_to_alpha2, normalize_country};
use crate::mrz::{self, Mrz};
use crate::ocr;
use crate::types::{age_on, format_date, DocumentType, InputFile, PersonName};

/// The MRZ century rule needs a reference date at extraction time; this one is replaced by
/// the evaluation date in [`evaluate_idv`], which re-parses the MRZ text.
const EXTRACTION_REFERENCE: Date = time::macros::date!(2000 - 01 - 01);

/// Phase 1 for ID documents: reads every file (image quality, PDF417 barcode, MRZ text).
/// Never fails: problems are recorded per file and become checks in [`evaluate_idv`].
pub fn extract_idv(files: &[InputFile], cfg: &Config) -> IdvExtraction {
    let mut ext = IdvExtraction {
        files: Vec::new(),
        barcode_read: false,
        barcode: None,
        barcode_error: None,
        mrz_read: false,
        mrz: None,
        mrz_error: None,
        mrz_source: None,
        mrz_text: None,
        mrz_photo: None,
        mrz_photo_error: None,
    };
    let mut mrz_texts: Vec<(String, &'static str)> = Vec::new();
    // Text files are read first, whatever their position: a typed MRZ needs no photo.
    let typed = files
        .iter()
        .any(|f| f.content_type == "text/plain" && !f.bytes.is_empty());
    let mut photo: Option<(String, PhotoMrz, MrzBand)> = None;
    let reports = files::read_each(files, cfg, |file, report, budget| {
        match report.detected {
            "jpeg" | "png" => match budget.inspect(&file.bytes, cfg) {
                Err(e) => report.error = Some(e.code()),
                Ok(img) => {
                    // A blurred or tiny image already means a retry; reading it would only
                    // spend time on a result we would not trust.
                    let readable = !img
                        .report
                        .reasons
                        .iter()
                        .any(|r| *r == "image_blurry" || *r == "resolution_too_low");
                    // A printed MRZ first (a passport page, an ID card's back): it is cheap
                    // to look for, and a photo whose MRZ is valid needs no barcode search (the
                    // PDF417 search is the slow part of reading a photo; a card's barcode is
                    // on its other side, read from its own file and cross-checked).
                    let mut valid_mrz_here = false;
                    if !typed && photo.is_none() && mrz_texts.is_empty() {
                        let grey = img.report.reasons.contains(&"greyscale_image");
                        match read_photo_mrz(&img.gray, report.index, grey) {
                            Ok((text, p, band)) => {
                                valid_mrz_here = mrz::parse_strict(&text, EXTRACTION_REFERENCE)
                                    .is_ok_and(|m| m.is_valid());
                                report.mrz_band = Some(band.clone());
                                photo = Some((text, p, band));
                            }
                            Err(code) => {
                                if ext.mrz_photo_error.is_none() {
                                    ext.mrz_photo_error = Some(code);
                                }
                            }
                        }
                    }
                    if readable && ext.barcode.is_none() && !valid_mrz_here {
                        if let Some(read) = barcode::read_pdf417(&img.gray) {
                            report.barcode_view = Some(read.view);
                            take_barcode_text(&mut ext, &mut mrz_texts, &read.text);
                        }
                    }
                    report.quality = Some(img.report);
                }
            },
            "text" => {
                ext.mrz_read = true;
                mrz_texts.push((String::from_utf8_lossy(&file.bytes).into_owned(), "text"));
            }
            "pdf" => report.error = Some("unsupported_format"),
            _ => report.error = Some(files::unusable(file)),
        }
    });
    ext.files = reports;
    if let (true, Some((text, p, _))) = (mrz_texts.is_empty(), photo) {
        ext.mrz_read = true;
        ext.mrz_photo_error = None;
        match mrz::parse_strict(&text, EXTRACTION_REFERENCE) {
            Ok(m) => {
                ext.mrz = Some(m);
                ext.mrz_source = Some("photo");
                ext.mrz_text = Some(text);
            }
            Err(e) => ext.mrz_error = Some(e.code()),
        }
        ext.mrz_photo = Some(p);
    }
    for (text, source) in mrz_texts {
        if ext.mrz.is_some() {
            break;
        }
        match parse_mrz_text(&text, EXTRACTION_REFERENCE) {
            Ok(m) => {
                ext.mrz = Some(m);
                ext.mrz_source = Some(source);
                ext.mrz_error = None;
                ext.mrz_text = Some(text);
            }
            Err(code) => {
                if ext.mrz_error.is_none() {
                    ext.mrz_error = Some(code);
                }
            }
        }
    }
    ext
}

/// Band character height below which the MRZ is too small to trust, pixels.
const MIN_BAND_CHAR_PX: f32 = 12.0;
/// Band sharpness (Laplacian variance of the band resampled to a 26-pixel cap height)
/// below which it is blurred. Measured on the generated photos: sharp and degraded shots
/// (blur σ ≤ 1.5) give 60 and more, σ = 6 defocus gives 1–6.
const MIN_BAND_SHARPNESS: f64 = 20.0;
/// Saturated share of the band above which glare hides characters.
const MAX_BAND_GLARE: f64 = 0.02;

/// Reads the MRZ of a photo ([`crate::ocr::read_mrz`]), corrects it with proof
/// ([`crate::ocr::correct`]) and measures its band. Returns the corrected text, the
/// reading's record and the band; or the reader's reason code.
fn read_photo_mrz(
    gray: &image::GrayImage,
    file: usize,
    greyscale: bool,
) -> Result<(String, PhotoMrz, MrzBand), &'static str> {
    let r = ocr::read_mrz(gray).map_err(|e| e.code())?;
    let fixed = ocr::correct::correct(r.format, &r.lines);
    let q = &r.quality;
    let mut reasons = Vec::new();
    if q.char_height_px < MIN_BAND_CHAR_PX {
        reasons.push("resolution_too_low");
    }
    if q.sharpness < MIN_BAND_SHARPNESS {
        reasons.push("image_blurry");
    }
    if q.glare_fraction > MAX_BAND_GLARE {
        reasons.push("image_glare");
    }
    let band = MrzBand {
        quality: r.quality.clone(),
        rotation_degrees: r.rotation_degrees,
        greyscale,
        reasons,
    };
    let record = PhotoMrz {
        file,
        format: r.format,
        lines_read: r.text().split('\n').map(str::to_string).collect(),
        min_confidence: r
            .lines
            .iter()
            .map(|l| {
                let m = l.iter().map(|c| c.confidence).fold(1.0f32, f32::min);
                (m * 1000.0).round() / 1000.0
            })
            .collect(),
        unsure: r.unsure_count(),
        corrections: fixed.corrections,
        fields: fixed.fields,
        reverted: fixed.reverted,
    };
    Ok((fixed.lines.join("\n"), record, band))
}

/// The whole text as an MRZ, else the first MRZ inside it.
fn parse_mrz_text(text: &str, on: Date) -> Result<Mrz, &'static str> {
    mrz::parse(text, on).or_else(|e| mrz::find_in_text(text, on).ok_or(e.code()))
}

fn take_barcode_text(
    ext: &mut IdvExtraction,
    mrz_texts: &mut Vec<(String, &'static str)>,
    text: &str,
) {
    ext.barcode_read = true;
    match aamva::parse_str(text) {
        Ok(a) => {
            ext.barcode = Some(a);
            ext.barcode_error = None;
        }
        Err(e) => {
            // Passports' and ID cards' 2D codes can carry an MRZ instead of AAMVA data.
            if !text.starts_with('@') && mrz::find_in_text(text, EXTRACTION_REFERENCE).is_some() {
                ext.mrz_read = true;
                mrz_texts.push((text.to_string(), "barcode"));
            } else if ext.barcode_error.is_none() {
                ext.barcode_error = Some(e.code());
            }
        }
    }
}

/// The document's identity for duplicate detection: HMAC-SHA256 under the caller's
/// `secret` of `v1`, the issuing country (alpha-2 when known), the document type and the
/// number (upper case, letters and digits only; for licences prefixed by the
/// jurisdiction, `VA:T64235789`), NUL-separated. A valid MRZ is preferred to a barcode. It holds no readable
/// personal data, so it may outlive redaction. `None` when no number was read.
pub fn document_fingerprint(secret: &[u8], ext: &IdvExtraction) -> Option<[u8; 32]> {
    let (country, doc_type, number) = if let Some(m) = ext.mrz.as_ref().filter(|m| m.is_valid()) {
        (
            alpha3_to_alpha2(&m.issuing_state)
                .map(str::to_string)
                .unwrap_or_else(|| m.issuing_state.clone()),
            m.document_type(),
            m.document_number.clone(),
        )
    } else if let Some(b) = &ext.barcode {
        (
            b.country.clone().unwrap_or_default(),
            Some(b.document_type),
            format!(
                "{}:{}",
                b.address.subdivision.as_deref().unwrap_or(""),
                b.number.clone().unwrap_or_default()
            ),
        )
    } else {
        return None;
    };
    let number: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ':')
        .collect::<String>()
        .to_ascii_uppercase();
    // Licence numbers are unique per jurisdiction only, hence `VA:T64235789`.
    if number.rsplit(':').next().is_none_or(str::is_empty) {
        return None;
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(b"v1\0");
    mac.update(country.to_ascii_uppercase().as_bytes());
    mac.update(b"\0");
    mac.update(doc_type.map_or("unknown", DocumentType::as_str).as_bytes());
    mac.update(b"\0");
    mac.update(number.as_bytes());
    Some(mac.finalize().into_bytes().into())
}

/// What every ID check reads: the extraction, the context, the MRZ re-read with the
/// evaluation date's century rule, and the merged view.
pub(crate) struct IdvFacts<'a> {
    ext: &'a IdvExtraction,
    ctx: &'a Context<'a>,
    mrz: Option<Mrz>,
    extracted: IdvExtracted,
}

impl IdvFacts<'_> {
    /// The MRZ, when every check digit passed.
    fn mrz_ok(&self) -> Option<&Mrz> {
        self.mrz.as_ref().filter(|m| m.is_valid())
    }

    fn barcode(&self) -> Option<&Aamva> {
        self.ext.barcode.as_ref()
    }
}

fn mrz_name(m: &Mrz) -> PersonName {
    let mut given = m.secondary_identifier.split_whitespace();
    let first = given.next().map(str::to_string);
    let middle: Vec<&str> = given.collect();
    PersonName {
        first,
        middle: (!middle.is_empty()).then(|| middle.join(" ")),
        last: (!m.primary_identifier.is_empty()).then(|| m.primary_identifier.clone()),
    }
}

/// Phase 2 for ID documents: applies the rules (`CHECKS`, README table) to the extraction.
pub fn evaluate_idv(ext: &IdvExtraction, ctx: &Context) -> Outcome {
    // Re-read the MRZ so its two-digit years follow the evaluation date.
    // Photo text was corrected with the classifier's confidences already: never repaired
    // again from the text alone.
    let mrz: Option<Mrz> = ext
        .mrz_text
        .as_deref()
        .and_then(|t| {
            if ext.mrz_source == Some("photo") {
                mrz::parse_strict(t, ctx.evaluated_on).ok()
            } else {
                parse_mrz_text(t, ctx.evaluated_on).ok()
            }
        })
        .or_else(|| ext.mrz.clone());
    // Merged view: a valid MRZ first (it is checksummed), then the barcode, then an
    // invalid MRZ's values are not used at all.
    let extracted = merge(mrz.as_ref().filter(|m| m.is_valid()), ext.barcode.as_ref());
    let facts = IdvFacts {
        ext,
        ctx,
        mrz,
        extracted,
    };
    let (status, checks) = run_all(CHECKS, &facts, ctx.config);
    Outcome {
        status,
        checks,
        extracted: Extracted::Idv(facts.extracted),
        rule_set_version: RULE_SET_VERSION,
    }
}

/// A registered check over [`IdvFacts`].
pub(crate) type IdvCheck = Spec<for<'a> fn(&IdvFacts<'a>) -> Verdict>;

/// The ID checks in output order (README table), with their default requirements.
pub(crate) const CHECKS: &[IdvCheck] = &[
    IdvCheck::retry("image_quality", |f| {
        files::image_quality_check(&f.ext.files)
    }),
    IdvCheck::retry("document_detected", document_detected),
    IdvCheck::required("mrz_valid", mrz_valid),
    IdvCheck::required("barcode_valid", barcode_valid),
    IdvCheck::required("document_not_expired", document_not_expired),
    IdvCheck::required("dates_plausible", dates_plausible),
    IdvCheck::required("minimum_age", minimum_age),
    IdvCheck::required("data_consistency", data_consistency),
    IdvCheck::required("session_comparison", session_comparison),
    // Reported for a reviewer, not an automatic decline (see `default_requirement`).
    IdvCheck::optional("duplicate_document", duplicate_document),
    IdvCheck::required("country_allowed", country_allowed),
];

fn document_detected(f: &IdvFacts) -> Verdict {
    let ext = f.ext;
    let mut reasons = Vec::new();
    if ext.files.is_empty() {
        reasons.push("no_files");
    } else if !ext.barcode_read && !ext.mrz_read {
        reasons.push("no_machine_readable_data");
    }
    // A photo MRZ whose failed check digit covers characters the classifier was unsure of
    // is a bad read, not a bad document: ask again rather than decline.
    let mut unsure_fields: Vec<&'static str> = Vec::new();
    if let (Some(p), Some(m)) = (&ext.mrz_photo, &f.mrz) {
        for c in m.check_digits.iter().filter(|c| !c.passed) {
            if p.fields.iter().any(|v| v.field == c.field && !v.confident) {
                unsure_fields.push(c.field);
            }
        }
        // Fields without a check digit of their own (the sex, a date's form, the
        // document code) that do not parse, on a photo read with unsure characters: a bad
        // read as well, never a decline on a guess.
        let unparsed = !m.field_errors.is_empty() || m.document_type().is_none();
        if unparsed && p.unsure > 0 {
            unsure_fields.push("unparsed_fields");
        }
        if !unsure_fields.is_empty() {
            reasons.push("mrz_not_read_confidently");
        }
    }
    let mut meta = json!({ "barcode_found": ext.barcode_read, "mrz_found": ext.mrz_read, "mrz_source": ext.mrz_source });
    if let Some(code) = ext.mrz_photo_error {
        meta["mrz_photo_error"] = json!(code);
    }
    if let Some(p) = &ext.mrz_photo {
        meta["mrz_file"] = json!(p.file);
        if !unsure_fields.is_empty() {
            meta["unsure_fields"] = json!(unsure_fields);
        }
    }
    Verdict::of(reasons, meta)
}

fn mrz_valid(f: &IdvFacts) -> Verdict {
    match (&f.mrz, f.ext.mrz_error) {
        (Some(m), _) => {
            let mut reasons: Vec<&'static str> = Vec::new();
            if m.check_digits.iter().any(|c| !c.passed) {
                reasons.push("check_digit_failed");
            }
            if m.check_digits.iter().any(|c| c.ambiguous) {
                reasons.push("ambiguous_ocr_repair");
            }
            reasons.extend(m.field_errors.iter().copied());
            if m.document_type().is_none() {
                reasons.push("unknown_document_code");
            }
            let mut meta = json!({ "source": f.ext.mrz_source, "mrz": m, "failed_check_digits": m.failed_check_digits() });
            if let Some(p) = &f.ext.mrz_photo {
                meta["format"] = json!(m.format);
                meta["photo"] = json!(p);
            }
            Verdict::of(reasons, meta)
        }
        (None, Some(code)) => Verdict::of(vec![code], json!({})),
        (None, None) => Verdict::na(),
    }
}

fn barcode_valid(f: &IdvFacts) -> Verdict {
    match (f.barcode(), f.ext.barcode_error) {
        (Some(b), _) => {
            let mut reasons: Vec<&'static str> = b.field_errors.clone();
            match (b.issuer, b.iin_matches_jurisdiction) {
                (None, _) => reasons.push("iin_unknown"),
                (Some(_), Some(false)) => reasons.push("iin_jurisdiction_mismatch"),
                _ => {}
            }
            if b.expiry_date.is_none() && !reasons.contains(&"invalid_expiry_date") {
                reasons.push("missing_expiry_date");
            }
            if b.birth_date.is_none() && !reasons.contains(&"invalid_birth_date") {
                reasons.push("missing_birth_date");
            }
            let view = f.ext.files.iter().find_map(|f| f.barcode_view);
            Verdict::of(
                reasons,
                json!({
                    "view": view,
                    "iin": b.iin,
                    "issuer": b.issuer,
                    "aamva_version": b.aamva_version,
                    "jurisdiction_version": b.jurisdiction_version,
                    "subfiles": b.subfiles,
                    "date_format": b.date_format,
                    "iin_matches_jurisdiction": b.iin_matches_jurisdiction,
                    "truncation": b.truncation,
                    "fields": {
                        "number": b.number,
                        "name": b.name,
                        "birth_date": date_json(b.birth_date),
                        "issue_date": date_json(b.issue_date),
                        "expiry_date": date_json(b.expiry_date),
                        "sex": b.sex,
                        "address": b.address,
                        "document_discriminator": b.document_discriminator,
                        "country": b.country,
                    },
                }),
            )
        }
        (None, Some(code)) => Verdict::of(vec![code], json!({})),
        (None, None) => Verdict::na(),
    }
}

fn document_not_expired(f: &IdvFacts) -> Verdict {
    let on = f.ctx.evaluated_on;
    match f.extracted.document.expiration_date {
        Some(exp) => {
            let reasons = if exp < on {
                vec!["document_expired"]
            } else {
                Vec::new()
            };
            Verdict::of(
                reasons,
                json!({ "expiration_date": date_json(Some(exp)), "evaluated_on": format_date(on) }),
            )
        }
        None => Verdict::na(),
    }
}

fn dates_plausible(f: &IdvFacts) -> Verdict {
    let on = f.ctx.evaluated_on;
    let (person, doc) = (&f.extracted.person, &f.extracted.document);
    let (birth, issue, expiry) = (person.birth_date, doc.issue_date, doc.expiration_date);
    if birth.is_none() && issue.is_none() && expiry.is_none() {
        return Verdict::na();
    }
    let mut r = Vec::new();
    if birth.is_some_and(|b| b > on) {
        r.push("birth_date_in_future");
    }
    if issue.is_some_and(|i| i > on) {
        r.push("issue_date_in_future");
    }
    if let (Some(b), Some(i)) = (birth, issue) {
        if b >= i {
            r.push("birth_not_before_issue");
        }
    }
    if let (Some(i), Some(e)) = (issue, expiry) {
        if i >= e {
            r.push("issue_not_before_expiry");
        }
    }
    if let (Some(b), Some(e)) = (birth, expiry) {
        if b >= e {
            r.push("birth_not_before_expiry");
        }
    }
    if birth.is_some_and(|b| age_on(b, on) >= 130) {
        r.push("age_over_130");
    }
    Verdict::of(
        r,
        json!({ "birth_date": date_json(birth), "issue_date": date_json(issue), "expiration_date": date_json(expiry) }),
    )
}

fn minimum_age(f: &IdvFacts) -> Verdict {
    let min_age = f.ctx.config.min_age;
    match f.extracted.person.birth_date {
        Some(b) => {
            let age = age_on(b, f.ctx.evaluated_on);
            let r = if age < i32::from(min_age) {
                vec!["under_minimum_age"]
            } else {
                Vec::new()
            };
            Verdict::of(r, json!({ "min_age": min_age, "age": age }))
        }
        None => Verdict::NotApplicable(json!({ "min_age": min_age })),
    }
}

fn duplicate_document(f: &IdvFacts) -> Verdict {
    match f.ctx.duplicate {
        DuplicateEvidence::NotChecked => Verdict::na(),
        DuplicateEvidence::Unique => Verdict::of(Vec::new(), json!({ "other_sessions": 0 })),
        DuplicateEvidence::SeenElsewhere { count } => {
            let r = if count > 0 {
                vec!["document_seen_in_other_sessions"]
            } else {
                Vec::new()
            };
            Verdict::of(r, json!({ "other_sessions": count }))
        }
    }
}

fn country_allowed(f: &IdvFacts) -> Verdict {
    match (
        &f.ctx.config.allowed_countries,
        &f.extracted.document.issuing_country_code,
    ) {
        (Some(list), Some(country)) => {
            let allowed: Vec<String> = list.iter().filter_map(|c| normalize_country(c)).collect();
            let r = if allowed.contains(country) {
                Vec::new()
            } else {
                vec!["country_not_allowed"]
            };
            Verdict::of(
                r,
                json!({ "issuing_country_code": country, "allowed": allowed }),
            )
        }
        _ => Verdict::na(),
    }
}

fn merge(mrz: Option<&Mrz>, bc: Option<&Aamva>) -> IdvExtracted {
    let m_name = mrz.map(mrz_name);
    let name = match (m_name, bc) {
        (Some(n), _) => n,
        (None, Some(b)) => b.name.clone(),
        (None, None) => PersonName::default(),
    };
    IdvExtracted {
        person: ExtractedPerson {
            name,
            birth_date: mrz
                .and_then(|m| m.birth_date)
                .or_else(|| bc.and_then(|b| b.birth_date)),
            sex: mrz.and_then(|m| m.sex).or_else(|| bc.and_then(|b| b.sex)),
            nationality: mrz
                .and_then(|m| alpha3_to_alpha2(&m.nationality))
                .map(str::to_string),
        },
        document: ExtractedDocument {
            document_type: mrz
                .and_then(Mrz::document_type)
                .or_else(|| bc.map(|b| b.document_type)),
            number: mrz
                .map(|m| m.document_number.clone())
                .or_else(|| bc.and_then(|b| b.number.clone())),
            issuing_country_code: mrz
                .and_then(|m| alpha3_to_alpha2(&m.issuing_state).map(str::to_string))
                .or_else(|| bc.and_then(|b| b.country.clone())),
            issue_date: bc.and_then(|b| b.issue_date),
            expiration_date: mrz
                .and_then(|m| m.expiry_date)
                .or_else(|| bc.and_then(|b| b.expiry_date)),
        },
        address: bc.map(|b| b.address.clone()).filter(|a| !a.is_empty()),
    }
}

fn data_consistency(f: &IdvFacts) -> Verdict {
    let (mrz, bc, ctx) = (f.mrz_ok(), f.barcode(), f.ctx);
    let sources = usize::from(mrz.is_some())
        + usize::from(bc.is_some())
        + usize::from(ctx.declared_type.is_some() || ctx.declared_country.is_some());
    if sources < 2 {
        return Verdict::NotApplicable(json!({ "sources": sources }));
    }
    let mut r = Vec::new();
    let mut types: Vec<(&str, DocumentType)> = Vec::new();
    if let Some(t) = mrz.and_then(Mrz::document_type) {
        types.push(("mrz", t));
    }
    if let Some(b) = bc {
        types.push(("barcode", b.document_type));
    }
    if let Some(t) = ctx.declared_type {
        types.push(("declared", t));
    }
    if types
        .windows(2)
        .any(|w| w.first().map(|x| x.1) != w.get(1).map(|x| x.1))
    {
        r.push("document_type_mismatch");
    }
    let mut countries: Vec<(&str, String)> = Vec::new();
    if let Some(c) = mrz.and_then(|m| alpha3_to_alpha2(&m.issuing_state)) {
        countries.push(("mrz", c.to_string()));
    }
    if let Some(c) = bc.and_then(|b| b.country.clone()) {
        countries.push(("barcode", c));
    }
    if let Some(c) = ctx.declared_country.as_deref() {
        countries.push((
            "declared",
            normalize_country(c).unwrap_or_else(|| c.to_ascii_uppercase()),
        ));
    }
    if countries
        .windows(2)
        .any(|w| w.first().map(|x| &x.1) != w.get(1).map(|x| &x.1))
    {
        r.push("issuing_country_mismatch");
    }
    if let (Some(m), Some(b)) = (mrz, bc) {
        let norm = |s: &str| {
            s.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_uppercase()
        };
        if b.number.as_deref().map(norm) != Some(norm(&m.document_number)) {
            r.push("document_number_mismatch");
        }
        if m.birth_date.is_some() && b.birth_date.is_some() && m.birth_date != b.birth_date {
            r.push("birth_date_mismatch");
        }
        let hints = TruncationHints {
            last: true,
            given: true,
        };
        if !compare_names(&b.name, &mrz_name(m), hints).matched {
            r.push("name_mismatch");
        }
    }
    let types_json: BTreeMap<&str, &str> = types.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let countries_json: BTreeMap<&str, &str> =
        countries.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Verdict::of(
        r,
        json!({ "sources": sources, "document_types": types_json, "issuing_countries": countries_json }),
    )
}

fn session_comparison(f: &IdvFacts) -> Verdict {
    let (session, extracted, mrz, bc) = (
        f.ctx.session.as_ref(),
        &f.extracted,
        f.mrz_ok(),
        f.barcode(),
    );
    let Some(s) = session.filter(|s| s.name.is_some() || s.birth_date.is_some()) else {
        return Verdict::na();
    };
    let mut r = Vec::new();
    let mut compared = Vec::new();
    if let Some(name) = &s.name {
        let doc_name = &extracted.person.name;
        if doc_name.last.is_some() {
            compared.push("name");
            let hints = match (mrz, bc) {
                (Some(m), _) => TruncationHints {
                    last: m.name_truncated,
                    given: m.name_truncated,
                },
                (None, Some(b)) => TruncationHints {
                    last: b.truncation.family,
                    given: b.truncation.first || b.truncation.middle,
                },
                _ => TruncationHints::default(),
            };
            for reason in compare_names(name, doc_name, hints).reasons {
                push_unique(&mut r, reason);
            }
        } else {
            push_unique(&mut r, "name_not_on_document");
        }
    }
    if let Some(b) = s.birth_date {
        match extracted.person.birth_date {
            Some(d) => {
                compared.push("birth_date");
                if d != b {
                    r.push("birth_date_mismatch");
                }
            }
            None => r.push("birth_date_not_on_document"),
        }
    }
    Verdict::of(r, json!({ "compared": compared }))
}
