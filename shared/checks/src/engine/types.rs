//! The engine's public vocabulary: configuration, contexts, extractions, checks, outcomes
//! and the rule-set version. Data only; the rules live in [`super::idv`] and
//! [`super::address`], the names and default requirements in `registry`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Date;

use super::registry::default_requirement;
use crate::aamva::Aamva;
use crate::address_doc::AddressDocument;
use crate::image_quality::{ImageLimits, QualityReport};
use crate::mrz::Mrz;
use crate::types::{Address, DocumentType, PersonName, Sex, Side};

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

/// What the caller found in its database for [`document_fingerprint`](super::document_fingerprint).
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
    /// The MRZ band read from this photo, when one was: its own quality measures replace
    /// the whole image's in `image_quality`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrz_band: Option<MrzBand>,
}

/// Quality of an MRZ band read from a photo (see [`crate::ocr`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MrzBand {
    /// Measures of the band.
    pub quality: crate::ocr::BandQuality,
    /// Rotation of the text in the photo, degrees counter-clockwise.
    pub rotation_degrees: f32,
    /// The photo is greyscale: read anyway, only reported.
    pub greyscale: bool,
    /// Failed band measures: `resolution_too_low`, `image_blurry`, `image_glare`.
    pub reasons: Vec<&'static str>,
}

/// An MRZ read from a photo: what the reader saw and what the check digits proved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoMrz {
    /// Index of the file it was read from.
    pub file: usize,
    /// Layout.
    pub format: crate::mrz::MrzFormat,
    /// The lines exactly as the classifier read them (before any correction).
    pub lines_read: Vec<String>,
    /// Per line, the lowest character confidence.
    pub min_confidence: Vec<f32>,
    /// Characters read with a confidence below `ocr::correct::UNSURE`.
    pub unsure: usize,
    /// Replacements the check digits proved.
    pub corrections: Vec<crate::ocr::correct::Correction>,
    /// Per check-digit field: as read, confidence, candidates.
    pub fields: Vec<crate::ocr::correct::FieldVerdict>,
    /// Corrections found but undone because the composite digit then failed.
    pub reverted: bool,
}

/// Result of [`extract_idv`](super::extract_idv): the sources found, before any rule is applied.
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
    /// Where the MRZ came from: `text`, `barcode` or `photo`.
    pub mrz_source: Option<&'static str>,
    /// The photo reading behind an MRZ whose source is `photo`.
    pub mrz_photo: Option<PhotoMrz>,
    /// Why the photo reader found no MRZ (`ocr::ReadError::code`), when it ran and did not.
    pub mrz_photo_error: Option<&'static str>,
    /// The MRZ text that parsed, kept so [`evaluate_idv`](super::evaluate_idv) re-reads its dates with the
    /// evaluation date's century rule (`mrz` above used a fixed 2000-01-01 reference,
    /// good for the fingerprint, which holds no dates).
    pub mrz_text: Option<String>,
}

/// Result of [`extract_address`](super::extract_address).
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
