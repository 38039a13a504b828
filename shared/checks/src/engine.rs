//! The checks engine: turns uploaded files into sources (image quality, barcode, MRZ,
//! PDF text) and sources plus context into named checks and a verification status.
//!
//! Two phases per document kind, so the caller can look up duplicates between them:
//! [`extract_idv`] → [`document_fingerprint`] (caller's database) → [`evaluate_idv`];
//! [`extract_address`] → [`evaluate_address`]. Nothing here reads a clock, the network or
//! the environment: the same input gives byte-identical JSON.
//!
//! Status rule: an image-quality or readability failure → `requires_retry`; else any
//! failed `required` check → `failed`; else `passed`. A check that cannot run is
//! `not_applicable`, never `passed`.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use time::Date;

use crate::aamva::{self, Aamva};
use crate::address_doc::{self, AddressDocument};
use crate::barcode;
use crate::compare::{compare_addresses, compare_names, TruncationHints};
use crate::country::{alpha3_to_alpha2, normalize_country};
use crate::image_quality::{self, ImageLimits, QualityReport};
use crate::mrz::{self, Mrz};
use crate::pdf_text;
use crate::types::{age_on, format_date, Address, DocumentType, InputFile, PersonName, Sex, Side};

/// Version of the rules below. Bumped whenever a check's logic, a default threshold or a
/// reason code changes, so stored results say which rules produced them (README).
pub const RULE_SET_VERSION: &str = "idv-checks/2025.2";

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Ran and passed.
    Passed,
    /// Ran and failed.
    Failed,
    /// Could not run on this input.
    NotApplicable,
}

/// Whether a failed check fails the verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// A failure fails the verification.
    Required,
    /// Reported only.
    NotRequired,
}

/// The verification's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Every required check passed or was not applicable.
    Passed,
    /// A required check failed.
    Failed,
    /// The files could not be read well enough: ask the applicant again.
    RequiresRetry,
}

/// One named check as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable name (README table).
    pub name: &'static str,
    /// Outcome.
    pub status: CheckStatus,
    /// Stable snake_case reason codes; empty when passed.
    pub reasons: Vec<&'static str>,
    /// From the configuration.
    pub requirement: Requirement,
    /// What the check looked at (always a JSON object; keys sorted).
    pub metadata: Value,
}

/// Engine configuration. Deserializes from JSON with every field optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `minimum_age` threshold in whole years.
    pub min_age: u8,
    /// ISO alpha-2 (or alpha-3) issuing countries accepted by `country_allowed`;
    /// `None` makes the check not applicable.
    pub allowed_countries: Option<Vec<String>>,
    /// `document_recent`: the latest issue date age accepted, in days.
    pub max_address_age_days: u32,
    /// Image limits and quality thresholds.
    pub image: ImageLimits,
    /// Requirement overrides by check name (defaults in [`default_requirement`]).
    pub requirements: BTreeMap<String, Requirement>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_age: 18,
            allowed_countries: None,
            max_address_age_days: 90,
            image: ImageLimits::default(),
            requirements: BTreeMap::new(),
        }
    }
}

/// Default requirement of each check. Every check is required except
/// `duplicate_document`: the same document in another session is most often the same
/// person retrying or holding two accounts on purpose, which a reviewer should see rather
/// than an automatic decline. Tenants that forbid it set it to `required`.
pub fn default_requirement(check: &str) -> Requirement {
    match check {
        "duplicate_document" => Requirement::NotRequired,
        _ => Requirement::Required,
    }
}

impl Config {
    /// The requirement for `check`, override first.
    pub fn requirement(&self, check: &str) -> Requirement {
        self.requirements
            .get(check)
            .copied()
            .unwrap_or_else(|| default_requirement(check))
    }
}

/// What the session already holds about the applicant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    /// Name.
    pub name: Option<PersonName>,
    /// Birth date.
    pub birth_date: Option<Date>,
    /// Address.
    pub address: Option<Address>,
}

/// What the caller found in its database for [`document_fingerprint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DuplicateEvidence {
    /// No lookup was made (no fingerprint, or the caller does not check).
    NotChecked,
    /// No other session holds this document.
    Unique,
    /// The document appears in `count` other sessions.
    SeenElsewhere {
        /// Other sessions.
        count: u32,
    },
}

/// Everything an ID evaluation depends on besides the files.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The date rules are evaluated against (expiry, age, century rule).
    pub evaluated_on: Date,
    /// Document type the uploader declared.
    pub declared_type: Option<DocumentType>,
    /// Issuing country the uploader declared (alpha-2 or alpha-3).
    pub declared_country: Option<String>,
    /// Session data to compare with.
    pub session: Option<SessionData>,
    /// Duplicate lookup result.
    pub duplicate: DuplicateEvidence,
    /// Configuration.
    pub config: &'a Config,
}

/// Everything an address evaluation depends on besides the files.
#[derive(Debug, Clone)]
pub struct AddressContext<'a> {
    /// The date recency is measured against.
    pub evaluated_on: Date,
    /// Session data to compare with.
    pub session: Option<SessionData>,
    /// Configuration.
    pub config: &'a Config,
}

/// What happened to one input file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileReport {
    /// Position in the input.
    pub index: usize,
    /// `jpeg`, `png`, `pdf`, `text` or `unknown`, from the bytes.
    pub detected: &'static str,
    /// Declared side.
    pub side: Option<Side>,
    /// Why the file could not be used.
    pub error: Option<&'static str>,
    /// Image quality, for images that decoded.
    pub quality: Option<QualityReport>,
    /// How the barcode was read, when one was.
    pub barcode_view: Option<&'static str>,
}

/// Result of [`extract_idv`]: the sources found, before any rule is applied.
#[derive(Debug, Clone, Serialize)]
pub struct IdvExtraction {
    /// Per file.
    pub files: Vec<FileReport>,
    /// Raw barcode text was decoded (even if it did not parse).
    pub barcode_read: bool,
    /// The parsed AAMVA barcode.
    pub barcode: Option<Aamva>,
    /// Why the barcode did not parse.
    pub barcode_error: Option<&'static str>,
    /// MRZ text was supplied or decoded (even if it did not parse).
    pub mrz_read: bool,
    /// The parsed MRZ.
    pub mrz: Option<Mrz>,
    /// Why the MRZ did not parse.
    pub mrz_error: Option<&'static str>,
    /// Where the MRZ came from: `text` or `barcode`.
    pub mrz_source: Option<&'static str>,
    /// The MRZ text that parsed, kept so [`evaluate_idv`] re-reads its dates with the
    /// evaluation date's century rule (`mrz` above used a fixed 2000-01-01 reference,
    /// good for the fingerprint, which holds no dates).
    pub mrz_text: Option<String>,
}

/// Result of [`extract_address`].
#[derive(Debug, Clone, Serialize)]
pub struct AddressExtraction {
    /// Per file.
    pub files: Vec<FileReport>,
    /// The first document whose text layer was read.
    pub document: Option<AddressDocument>,
}

/// `extracted` of an ID verification (API §5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdvExtracted {
    /// The holder.
    pub person: ExtractedPerson,
    /// The document.
    pub document: ExtractedDocument,
    /// From a licence barcode; `null` otherwise.
    pub address: Option<Address>,
}

/// `extracted.person`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtractedPerson {
    /// Name parts.
    pub name: PersonName,
    /// `YYYY-MM-DD`.
    #[serde(with = "crate::types::opt_date")]
    pub birth_date: Option<Date>,
    /// Sex.
    pub sex: Option<Sex>,
    /// ISO alpha-2.
    pub nationality: Option<String>,
}

/// `extracted.document`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtractedDocument {
    /// Document type.
    #[serde(rename = "type")]
    pub document_type: Option<DocumentType>,
    /// Document number.
    pub number: Option<String>,
    /// ISO alpha-2.
    pub issuing_country_code: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(with = "crate::types::opt_date")]
    pub issue_date: Option<Date>,
    /// `YYYY-MM-DD`.
    #[serde(with = "crate::types::opt_date")]
    pub expiration_date: Option<Date>,
}

/// `extracted` of an address verification (API §5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressExtracted {
    /// Addressee.
    pub name: Option<String>,
    /// Address.
    pub address: Option<Address>,
    /// `YYYY-MM-DD`.
    #[serde(with = "crate::types::opt_date")]
    pub issue_date: Option<Date>,
    /// Letterhead.
    pub issuer: Option<String>,
}

/// Either kind of `extracted`; serializes as the inner object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Extracted {
    /// ID document.
    Idv(IdvExtracted),
    /// Proof of address.
    Address(AddressExtracted),
}

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Verification status.
    pub status: VerificationStatus,
    /// Checks in a fixed order.
    pub checks: Vec<Check>,
    /// Extracted data.
    pub extracted: Extracted,
    /// [`RULE_SET_VERSION`].
    pub rule_set_version: &'static str,
}

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
struct PixelBudget(u64);

impl PixelBudget {
    fn of(cfg: &Config) -> Self {
        PixelBudget(cfg.image.max_total_pixels)
    }

    fn inspect(
        &mut self,
        bytes: &[u8],
        cfg: &Config,
    ) -> Result<image_quality::DecodedImage, image_quality::ImageError> {
        image_quality::inspect_within(bytes, &cfg.image, &mut self.0)
    }
}

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
    };
    let mut mrz_texts: Vec<(String, &'static str)> = Vec::new();
    let mut budget = PixelBudget::of(cfg);
    for (index, file) in files.iter().enumerate() {
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
        };
        if !as_declared {
            report.error = Some("content_type_mismatch");
            ext.files.push(report);
            continue;
        }
        match detected {
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
                    if readable && ext.barcode.is_none() {
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
            _ => {
                report.error = Some(if file.bytes.is_empty() {
                    "empty_file"
                } else {
                    "unsupported_format"
                })
            }
        }
        ext.files.push(report);
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

struct Checks<'a> {
    config: &'a Config,
    list: Vec<Check>,
}

impl Checks<'_> {
    fn add(
        &mut self,
        name: &'static str,
        status: CheckStatus,
        reasons: Vec<&'static str>,
        metadata: Value,
    ) {
        let metadata = if metadata.is_object() {
            metadata
        } else {
            json!({})
        };
        self.list.push(Check {
            name,
            status,
            reasons,
            requirement: self.config.requirement(name),
            metadata,
        });
    }

    fn verdict(&mut self, name: &'static str, reasons: Vec<&'static str>, metadata: Value) {
        let status = if reasons.is_empty() {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        };
        self.add(name, status, reasons, metadata);
    }

    fn na(&mut self, name: &'static str, metadata: Value) {
        self.add(name, CheckStatus::NotApplicable, Vec::new(), metadata);
    }

    fn failed(&self, name: &str) -> bool {
        self.list
            .iter()
            .any(|c| c.name == name && c.status == CheckStatus::Failed)
    }

    /// Applies the status rule; `retry_checks` are the readability checks.
    fn status(&self, retry_checks: &[&str]) -> VerificationStatus {
        if retry_checks.iter().any(|c| self.failed(c)) {
            VerificationStatus::RequiresRetry
        } else if self
            .list
            .iter()
            .any(|c| c.status == CheckStatus::Failed && c.requirement == Requirement::Required)
        {
            VerificationStatus::Failed
        } else {
            VerificationStatus::Passed
        }
    }
}

fn push_unique(v: &mut Vec<&'static str>, r: &'static str) {
    if !v.contains(&r) {
        v.push(r);
    }
}

fn date_json(d: Option<Date>) -> Value {
    d.map_or(Value::Null, |d| Value::String(format_date(d)))
}

/// Image checks shared by both document kinds.
fn image_quality_check(checks: &mut Checks, files: &[FileReport]) {
    let images: Vec<&FileReport> = files
        .iter()
        .filter(|f| matches!(f.detected, "jpeg" | "png") || f.error.is_some())
        .collect();
    if images.is_empty() {
        checks.na("image_quality", json!({ "files": files }));
        return;
    }
    let mut reasons = Vec::new();
    for f in &images {
        if let Some(e) = f.error {
            push_unique(&mut reasons, e);
        }
        if let Some(q) = &f.quality {
            for r in &q.reasons {
                push_unique(&mut reasons, r);
            }
        }
    }
    checks.verdict("image_quality", reasons, json!({ "files": files }));
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

/// Phase 2 for ID documents: applies the rules (README table) to the extraction.
pub fn evaluate_idv(ext: &IdvExtraction, ctx: &Context) -> Outcome {
    let on = ctx.evaluated_on;
    let cfg = ctx.config;
    let mut checks = Checks {
        config: cfg,
        list: Vec::new(),
    };
    // Re-read the MRZ so its two-digit years follow the evaluation date.
    let mrz: Option<Mrz> = ext
        .mrz_text
        .as_deref()
        .and_then(|t| parse_mrz_text(t, on).ok())
        .or_else(|| ext.mrz.clone());
    let mrz_ok = mrz.as_ref().filter(|m| m.is_valid());
    let bc = ext.barcode.as_ref();

    // image_quality
    image_quality_check(&mut checks, &ext.files);

    // document_detected
    let mut reasons = Vec::new();
    if ext.files.is_empty() {
        reasons.push("no_files");
    } else if !ext.barcode_read && !ext.mrz_read {
        reasons.push("no_machine_readable_data");
    }
    checks.verdict(
        "document_detected",
        reasons,
        json!({ "barcode_found": ext.barcode_read, "mrz_found": ext.mrz_read, "mrz_source": ext.mrz_source }),
    );

    // mrz_valid
    match (&mrz, ext.mrz_error) {
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
            checks.verdict(
                "mrz_valid",
                reasons,
                json!({ "source": ext.mrz_source, "mrz": m, "failed_check_digits": m.failed_check_digits() }),
            );
        }
        (None, Some(code)) => checks.verdict("mrz_valid", vec![code], json!({})),
        (None, None) => checks.na("mrz_valid", json!({})),
    }

    // barcode_valid
    match (bc, ext.barcode_error) {
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
            let view = ext.files.iter().find_map(|f| f.barcode_view);
            checks.verdict(
                "barcode_valid",
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
            );
        }
        (None, Some(code)) => checks.verdict("barcode_valid", vec![code], json!({})),
        (None, None) => checks.na("barcode_valid", json!({})),
    }

    // Merged view: a valid MRZ first (it is checksummed), then the barcode, then an
    // invalid MRZ's values are not used at all.
    let extracted = merge(mrz_ok, bc);
    let person = &extracted.person;
    let doc = &extracted.document;

    // document_not_expired
    match doc.expiration_date {
        Some(exp) => {
            let reasons = if exp < on {
                vec!["document_expired"]
            } else {
                Vec::new()
            };
            checks.verdict(
                "document_not_expired",
                reasons,
                json!({ "expiration_date": date_json(Some(exp)), "evaluated_on": format_date(on) }),
            );
        }
        None => checks.na("document_not_expired", json!({})),
    }

    // dates_plausible
    let (birth, issue, expiry) = (person.birth_date, doc.issue_date, doc.expiration_date);
    if birth.is_none() && issue.is_none() && expiry.is_none() {
        checks.na("dates_plausible", json!({}));
    } else {
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
        checks.verdict(
            "dates_plausible",
            r,
            json!({ "birth_date": date_json(birth), "issue_date": date_json(issue), "expiration_date": date_json(expiry) }),
        );
    }

    // minimum_age
    match birth {
        Some(b) => {
            let age = age_on(b, on);
            let r = if age < i32::from(cfg.min_age) {
                vec!["under_minimum_age"]
            } else {
                Vec::new()
            };
            checks.verdict(
                "minimum_age",
                r,
                json!({ "min_age": cfg.min_age, "age": age }),
            );
        }
        None => checks.na("minimum_age", json!({ "min_age": cfg.min_age })),
    }

    // data_consistency
    data_consistency(&mut checks, mrz_ok, bc, ctx);

    // session_comparison
    session_comparison(&mut checks, ctx.session.as_ref(), &extracted, mrz_ok, bc);

    // duplicate_document
    match ctx.duplicate {
        DuplicateEvidence::NotChecked => checks.na("duplicate_document", json!({})),
        DuplicateEvidence::Unique => checks.verdict(
            "duplicate_document",
            Vec::new(),
            json!({ "other_sessions": 0 }),
        ),
        DuplicateEvidence::SeenElsewhere { count } => {
            let r = if count > 0 {
                vec!["document_seen_in_other_sessions"]
            } else {
                Vec::new()
            };
            checks.verdict("duplicate_document", r, json!({ "other_sessions": count }));
        }
    }

    // country_allowed
    match (&cfg.allowed_countries, &doc.issuing_country_code) {
        (Some(list), Some(country)) => {
            let allowed: Vec<String> = list.iter().filter_map(|c| normalize_country(c)).collect();
            let r = if allowed.contains(country) {
                Vec::new()
            } else {
                vec!["country_not_allowed"]
            };
            checks.verdict(
                "country_allowed",
                r,
                json!({ "issuing_country_code": country, "allowed": allowed }),
            );
        }
        _ => checks.na("country_allowed", json!({})),
    }

    Outcome {
        status: checks.status(&["image_quality", "document_detected"]),
        checks: checks.list,
        extracted: Extracted::Idv(extracted),
        rule_set_version: RULE_SET_VERSION,
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

fn data_consistency(checks: &mut Checks, mrz: Option<&Mrz>, bc: Option<&Aamva>, ctx: &Context) {
    let sources = usize::from(mrz.is_some())
        + usize::from(bc.is_some())
        + usize::from(ctx.declared_type.is_some() || ctx.declared_country.is_some());
    if sources < 2 {
        checks.na("data_consistency", json!({ "sources": sources }));
        return;
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
    checks.verdict(
        "data_consistency",
        r,
        json!({ "sources": sources, "document_types": types_json, "issuing_countries": countries_json }),
    );
}

fn session_comparison(
    checks: &mut Checks,
    session: Option<&SessionData>,
    extracted: &IdvExtracted,
    mrz: Option<&Mrz>,
    bc: Option<&Aamva>,
) {
    let Some(s) = session.filter(|s| s.name.is_some() || s.birth_date.is_some()) else {
        checks.na("session_comparison", json!({}));
        return;
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
    checks.verdict("session_comparison", r, json!({ "compared": compared }));
}

/// Phase 1 for proof-of-address documents: reads the first PDF with a text layer.
/// Images are reported (quality measured) but carry no text layer: this crate does no OCR.
pub fn extract_address(files: &[InputFile], cfg: &Config) -> AddressExtraction {
    let mut out = AddressExtraction {
        files: Vec::new(),
        document: None,
    };
    let mut budget = PixelBudget::of(cfg);
    for (index, file) in files.iter().enumerate() {
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
        };
        if !as_declared {
            report.error = Some("content_type_mismatch");
            out.files.push(report);
            continue;
        }
        match detected {
            "pdf" => {
                if out.document.is_none() {
                    match address_doc::read(&file.bytes) {
                        Ok(d) => out.document = Some(d),
                        Err(e) => report.error = Some(e.code()),
                    }
                }
            }
            "jpeg" | "png" => match budget.inspect(&file.bytes, cfg) {
                Ok(img) => {
                    report.quality = Some(img.report);
                    report.error = Some("no_text_layer");
                }
                Err(e) => report.error = Some(e.code()),
            },
            _ => {
                report.error = Some(if file.bytes.is_empty() {
                    "empty_file"
                } else {
                    "unsupported_format"
                })
            }
        }
        out.files.push(report);
    }
    out
}

/// Phase 2 for proof-of-address documents (README table).
pub fn evaluate_address(ext: &AddressExtraction, ctx: &AddressContext) -> Outcome {
    let cfg = ctx.config;
    let on = ctx.evaluated_on;
    let mut checks = Checks {
        config: cfg,
        list: Vec::new(),
    };
    let doc = ext.document.as_ref();

    // document_readable
    let mut reasons = Vec::new();
    if doc.is_none() {
        if ext.files.is_empty() {
            reasons.push("no_files");
        }
        for f in &ext.files {
            if let Some(e) = f.error {
                push_unique(&mut reasons, e);
            }
        }
        if reasons.is_empty() {
            reasons.push("no_text_layer");
        }
    }
    checks.verdict(
        "document_readable",
        reasons,
        json!({
            "files": ext.files,
            "document_type": doc.map(|d| d.document_type),
            "issuer_recognised": doc.map(|d| d.issuer_recognised),
            "issue_date_label": doc.and_then(|d| d.issue_date_label.clone()),
            "line_count": doc.map(|d| d.line_count),
        }),
    );

    // document_recent
    match doc {
        None => checks.na("document_recent", json!({})),
        Some(d) => {
            let max = cfg.max_address_age_days;
            let (r, age): (Vec<&'static str>, Option<i64>) = match d.issue_date {
                None => (vec!["issue_date_not_found"], None),
                Some(i) => {
                    let age = (on - i).whole_days();
                    if age < 0 {
                        (vec!["issue_date_in_future"], Some(age))
                    } else if age > i64::from(max) {
                        (vec!["document_too_old"], Some(age))
                    } else {
                        (Vec::new(), Some(age))
                    }
                }
            };
            checks.verdict(
                "document_recent",
                r,
                json!({ "issue_date": date_json(d.issue_date), "age_days": age, "max_age_days": max }),
            );
        }
    }

    // name_comparison
    let session_name = ctx.session.as_ref().and_then(|s| s.name.as_ref());
    match (doc, session_name) {
        (Some(d), Some(name)) => {
            let r = match &d.name {
                None => vec!["name_not_found"],
                Some(n) => {
                    // The addressee line is free text: split it like a person's name.
                    let doc_name = split_free_name(n);
                    compare_names(name, &doc_name, TruncationHints::default()).reasons
                }
            };
            checks.verdict("name_comparison", r, json!({ "document_name": d.name }));
        }
        _ => checks.na("name_comparison", json!({})),
    }

    // address_comparison
    let session_address = ctx.session.as_ref().and_then(|s| s.address.as_ref());
    match (doc, session_address) {
        (Some(d), Some(a)) => {
            let cmp = compare_addresses(a, &d.address);
            checks.verdict(
                "address_comparison",
                cmp.reasons.clone(),
                json!({ "compared": cmp.compared }),
            );
        }
        _ => checks.na("address_comparison", json!({})),
    }

    let extracted = AddressExtracted {
        name: doc.and_then(|d| d.name.clone()),
        address: doc.map(|d| d.address.clone()).filter(|a| !a.is_empty()),
        issue_date: doc.and_then(|d| d.issue_date),
        issuer: doc.and_then(|d| d.issuer.clone()),
    };
    Outcome {
        status: checks.status(&["document_readable"]),
        checks: checks.list,
        extracted: Extracted::Address(extracted),
        rule_set_version: RULE_SET_VERSION,
    }
}

/// "Michael J. Sample" → first `Michael`, middle `J.`, last `Sample`. Honorifics dropped.
fn split_free_name(s: &str) -> PersonName {
    let words: Vec<&str> = s
        .split_whitespace()
        .filter(|w| {
            !matches!(
                w.to_ascii_uppercase().trim_end_matches('.'),
                "MR" | "MRS" | "MS" | "MISS" | "DR" | "MX"
            )
        })
        .collect();
    match words.as_slice() {
        [] => PersonName::default(),
        [one] => PersonName {
            last: Some((*one).to_string()),
            ..PersonName::default()
        },
        [first, middle @ .., last] => PersonName {
            first: Some((*first).to_string()),
            middle: (!middle.is_empty()).then(|| middle.join(" ")),
            last: Some((*last).to_string()),
        },
    }
}
