//! AAMVA DL/ID card barcodes (the PDF417 on the back of North-American licences).
//!
//! [`parse`] reads the header (compliance indicator, separators, file type, IIN, AAMVA
//! and jurisdiction versions, entry count), checks every subfile directory entry against
//! the payload (offset and length inside it, subfile starting with its own type), then
//! decodes the `DL` or `ID` subfile's data elements. Structural problems are a typed
//! [`AamvaError`]; element-level problems (bad dates, IIN not matching the jurisdiction) are
//! reported on the parsed [`Aamva`] for the engine to judge.
//!
//! Version differences handled (AAMVA DL/ID Card Design Standard, Annex D):
//! * version 01 has no jurisdiction-version field in the header; names come from `DAA`
//!   (full name, `LAST,FIRST,MIDDLE`), `DAB` (family), `DAC`/`DAD`;
//! * versions 02–03 give names as `DCS` (family) and `DCT` (given names, first then middle,
//!   separated by a comma or space);
//! * versions 04–10 use `DCS`, `DAC`, `DAD` and truncation indicators `DDE`/`DDF`/`DDG`.
//!
//! Dates are `MMDDCCYY` in the USA and `CCYYMMDD` in Canada; the country comes from `DCG`,
//! else from the IIN table, else whichever reading is a valid date (US first).

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;
use time::Date;

use crate::types::{make_date, Address, DocumentType, PersonName, Sex};

/// Why a payload is not a well-formed AAMVA barcode. `code()` is the stable reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AamvaError {
    /// Shorter than a header.
    #[error("payload too short for an AAMVA header")]
    Truncated,
    /// The first byte is not `@`.
    #[error("missing compliance indicator '@'")]
    MissingComplianceIndicator,
    /// Separator bytes that are not control characters.
    #[error("separators must be control characters")]
    BadSeparators,
    /// Neither `ANSI ` nor `AAMVA`.
    #[error("file type is neither 'ANSI ' nor 'AAMVA'")]
    BadFileType,
    /// IIN not 6 digits.
    #[error("issuer identification number is not 6 digits")]
    BadIin,
    /// AAMVA version not 00–10 or not digits.
    #[error("unsupported AAMVA version")]
    UnsupportedVersion,
    /// Entry count or jurisdiction version not digits, or zero entries.
    #[error("bad number of entries")]
    BadEntryCount,
    /// A directory entry that is not `TT` + 4 digits + 4 digits.
    #[error("malformed subfile directory entry {index}")]
    BadDirectory {
        /// 0-based entry.
        index: usize,
    },
    /// A subfile whose offset/length fall outside the payload or inside the header.
    #[error("subfile {index} offset/length outside the payload")]
    SubfileOutOfBounds {
        /// 0-based entry.
        index: usize,
    },
    /// The bytes at a subfile's offset do not start with its type.
    #[error("subfile {index} does not start with its type")]
    SubfileTypeMismatch {
        /// 0-based entry.
        index: usize,
    },
    /// No `DL` or `ID` subfile in the directory.
    #[error("no DL or ID subfile")]
    NoDocumentSubfile,
}

impl AamvaError {
    /// Stable snake_case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            AamvaError::Truncated => "aamva_truncated",
            AamvaError::MissingComplianceIndicator => "aamva_missing_compliance_indicator",
            AamvaError::BadSeparators => "aamva_bad_separators",
            AamvaError::BadFileType => "aamva_bad_file_type",
            AamvaError::BadIin => "aamva_bad_iin",
            AamvaError::UnsupportedVersion => "aamva_unsupported_version",
            AamvaError::BadEntryCount => "aamva_bad_entry_count",
            AamvaError::BadDirectory { .. } => "aamva_bad_directory",
            AamvaError::SubfileOutOfBounds { .. } => "aamva_subfile_out_of_bounds",
            AamvaError::SubfileTypeMismatch { .. } => "aamva_subfile_type_mismatch",
            AamvaError::NoDocumentSubfile => "aamva_no_document_subfile",
        }
    }
}

/// A jurisdiction that AAMVA assigned an IIN to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Jurisdiction {
    /// The 6-digit IIN.
    pub iin: &'static str,
    /// Postal abbreviation as used in `DAJ` (`None` for issuers without one).
    pub code: Option<&'static str>,
    /// Name.
    pub name: &'static str,
    /// ISO alpha-2 country.
    pub country: &'static str,
}

const fn j(
    iin: &'static str,
    code: &'static str,
    name: &'static str,
    country: &'static str,
) -> Jurisdiction {
    Jurisdiction {
        iin,
        code: Some(code),
        name,
        country,
    }
}

/// AAMVA Issuer Identification Numbers of US states and territories, Canadian provinces
/// and territories (and the two Mexican states on the list), sorted by IIN.
pub const IIN_TABLE: &[Jurisdiction] = &[
    j("604426", "PE", "Prince Edward Island", "CA"),
    j("604427", "AS", "American Samoa", "US"),
    j("604428", "QC", "Quebec", "CA"),
    j("604429", "YT", "Yukon", "CA"),
    j("604430", "MP", "Northern Mariana Islands", "US"),
    j("604431", "PR", "Puerto Rico", "US"),
    j("604432", "AB", "Alberta", "CA"),
    j("604433", "NU", "Nunavut", "CA"),
    j("604434", "NT", "Northwest Territories", "CA"),
    j("636000", "VA", "Virginia", "US"),
    j("636001", "NY", "New York", "US"),
    j("636002", "MA", "Massachusetts", "US"),
    j("636003", "MD", "Maryland", "US"),
    j("636004", "NC", "North Carolina", "US"),
    j("636005", "SC", "South Carolina", "US"),
    j("636006", "CT", "Connecticut", "US"),
    j("636007", "LA", "Louisiana", "US"),
    j("636008", "MT", "Montana", "US"),
    j("636009", "NM", "New Mexico", "US"),
    j("636010", "FL", "Florida", "US"),
    j("636011", "DE", "Delaware", "US"),
    j("636012", "ON", "Ontario", "CA"),
    j("636013", "NS", "Nova Scotia", "CA"),
    j("636014", "CA", "California", "US"),
    j("636015", "TX", "Texas", "US"),
    j("636016", "NL", "Newfoundland and Labrador", "CA"),
    j("636017", "NB", "New Brunswick", "CA"),
    j("636018", "IA", "Iowa", "US"),
    j("636019", "GU", "Guam", "US"),
    j("636020", "CO", "Colorado", "US"),
    j("636021", "AR", "Arkansas", "US"),
    j("636022", "KS", "Kansas", "US"),
    j("636023", "OH", "Ohio", "US"),
    j("636024", "VT", "Vermont", "US"),
    j("636025", "PA", "Pennsylvania", "US"),
    j("636026", "AZ", "Arizona", "US"),
    Jurisdiction {
        iin: "636027",
        code: None,
        name: "U.S. Department of State",
        country: "US",
    },
    j("636028", "BC", "British Columbia", "CA"),
    j("636029", "OR", "Oregon", "US"),
    j("636030", "MO", "Missouri", "US"),
    j("636031", "WI", "Wisconsin", "US"),
    j("636032", "MI", "Michigan", "US"),
    j("636033", "AL", "Alabama", "US"),
    j("636034", "ND", "North Dakota", "US"),
    j("636035", "IL", "Illinois", "US"),
    j("636036", "NJ", "New Jersey", "US"),
    j("636037", "IN", "Indiana", "US"),
    j("636038", "MN", "Minnesota", "US"),
    j("636039", "NH", "New Hampshire", "US"),
    j("636040", "UT", "Utah", "US"),
    j("636041", "ME", "Maine", "US"),
    j("636042", "SD", "South Dakota", "US"),
    j("636043", "DC", "District of Columbia", "US"),
    j("636044", "SK", "Saskatchewan", "CA"),
    j("636045", "WA", "Washington", "US"),
    j("636046", "KY", "Kentucky", "US"),
    j("636047", "HI", "Hawaii", "US"),
    j("636048", "MB", "Manitoba", "CA"),
    j("636049", "NV", "Nevada", "US"),
    j("636050", "ID", "Idaho", "US"),
    j("636051", "MS", "Mississippi", "US"),
    j("636052", "RI", "Rhode Island", "US"),
    j("636053", "TN", "Tennessee", "US"),
    j("636054", "NE", "Nebraska", "US"),
    j("636055", "GA", "Georgia", "US"),
    j("636056", "CU", "Coahuila", "MX"),
    j("636057", "HG", "Hidalgo", "MX"),
    j("636058", "OK", "Oklahoma", "US"),
    j("636059", "AK", "Alaska", "US"),
    j("636060", "WY", "Wyoming", "US"),
    j("636061", "WV", "West Virginia", "US"),
    j("636062", "VI", "U.S. Virgin Islands", "US"),
];

/// Looks an IIN up in [`IIN_TABLE`].
pub fn jurisdiction_for_iin(iin: &str) -> Option<&'static Jurisdiction> {
    IIN_TABLE
        .binary_search_by(|j| j.iin.cmp(iin))
        .ok()
        .and_then(|i| IIN_TABLE.get(i))
}

/// One subfile directory entry, as declared and checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubfileEntry {
    /// `DL`, `ID`, or a jurisdiction subfile `Zx`.
    pub subfile_type: String,
    /// Byte offset from the start of the payload.
    pub offset: usize,
    /// Length in bytes.
    pub length: usize,
}

/// Date layout used by the barcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DateFormat {
    /// USA: month, day, century+year.
    #[serde(rename = "MMDDCCYY")]
    MonthDayYear,
    /// Canada: century+year, month, day.
    #[serde(rename = "CCYYMMDD")]
    YearMonthDay,
}

/// Which name parts the issuer flagged as truncated (`DDE`/`DDF`/`DDG` = `T`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Truncation {
    /// Family name.
    pub family: bool,
    /// First name.
    pub first: bool,
    /// Middle name(s).
    pub middle: bool,
}

/// A parsed AAMVA barcode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Aamva {
    /// Issuer identification number.
    pub iin: String,
    /// The IIN's jurisdiction, when the table knows it.
    pub issuer: Option<Jurisdiction>,
    /// AAMVA standard version (`00`–`10`).
    pub aamva_version: u8,
    /// Jurisdiction version (absent in version 01 headers).
    pub jurisdiction_version: Option<u8>,
    /// Subfile directory, as checked against the payload.
    pub subfiles: Vec<SubfileEntry>,
    /// `DL` → driving licence, `ID` → identity card.
    pub document_type: DocumentType,
    /// Every data element of the DL/ID subfile (first occurrence wins), sorted by id.
    pub elements: BTreeMap<String, String>,
    /// `DAQ`.
    pub number: Option<String>,
    /// Name from `DCS`/`DAC`/`DAD` (or the older elements, see module docs).
    pub name: PersonName,
    /// Truncation indicators.
    pub truncation: Truncation,
    /// `DBB`.
    #[serde(with = "crate::types::opt_date")]
    pub birth_date: Option<Date>,
    /// `DBA`.
    #[serde(with = "crate::types::opt_date")]
    pub expiry_date: Option<Date>,
    /// `DBD`.
    #[serde(with = "crate::types::opt_date")]
    pub issue_date: Option<Date>,
    /// `DBC`.
    pub sex: Option<Sex>,
    /// `DAG`, `DAH`, `DAI`, `DAJ`, `DAK`, country.
    pub address: Address,
    /// `DCF`.
    pub document_discriminator: Option<String>,
    /// ISO alpha-2 from `DCG`, else from the IIN.
    pub country: Option<String>,
    /// The date layout used to read dates.
    pub date_format: DateFormat,
    /// The IIN's jurisdiction equals `DAJ` (`None` when either is unknown).
    pub iin_matches_jurisdiction: Option<bool>,
    /// Element-level problems: `missing_number`, `missing_name`, `invalid_birth_date`,
    /// `invalid_expiry_date`, `invalid_issue_date`, `invalid_sex`.
    pub field_errors: Vec<&'static str>,
}

/// The longest payload we look at: PDF417 tops out near 2 KB; anything larger is not a
/// licence barcode and is refused before any work.
const MAX_PAYLOAD: usize = 8192;

/// Parses a payload given as text (as barcode readers return it): characters are mapped
/// back to bytes one to one (Latin-1), so directory offsets stay byte offsets.
pub fn parse_str(payload: &str) -> Result<Aamva, AamvaError> {
    let bytes: Vec<u8> = payload
        .chars()
        .take(MAX_PAYLOAD + 1)
        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
        .collect();
    parse(&bytes)
}

fn digits(b: &[u8]) -> Option<usize> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Parses an AAMVA payload (see module docs).
pub fn parse(payload: &[u8]) -> Result<Aamva, AamvaError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(AamvaError::Truncated);
    }
    let get = |a: usize, b: usize| payload.get(a..b).ok_or(AamvaError::Truncated);
    if payload.first() != Some(&b'@') {
        return Err(if payload.is_empty() {
            AamvaError::Truncated
        } else {
            AamvaError::MissingComplianceIndicator
        });
    }
    let seps = get(1, 4)?;
    if !seps.iter().all(|c| c.is_ascii_control()) {
        return Err(AamvaError::BadSeparators);
    }
    let element_sep = seps.first().copied().unwrap_or(b'\n');
    let segment_term = seps.get(2).copied().unwrap_or(b'\r');
    let file_type = get(4, 9)?;
    if file_type != b"ANSI " && file_type != b"AAMVA" {
        return Err(AamvaError::BadFileType);
    }
    let iin_b = get(9, 15)?;
    if !iin_b.iter().all(u8::is_ascii_digit) {
        return Err(AamvaError::BadIin);
    }
    let iin = latin1(iin_b);
    let version = digits(get(15, 17)?).ok_or(AamvaError::UnsupportedVersion)?;
    if version > 10 {
        return Err(AamvaError::UnsupportedVersion);
    }
    let (jurisdiction_version, entries_at) = if version >= 2 {
        let jv = digits(get(17, 19)?).ok_or(AamvaError::BadEntryCount)?;
        (u8::try_from(jv).ok(), 19)
    } else {
        (None, 17)
    };
    let entries = digits(get(entries_at, entries_at + 2)?).ok_or(AamvaError::BadEntryCount)?;
    if entries == 0 {
        return Err(AamvaError::BadEntryCount);
    }
    let dir_start = entries_at + 2;
    let header_end = dir_start + entries * 10;
    let mut subfiles = Vec::with_capacity(entries);
    for index in 0..entries {
        let e = get(dir_start + index * 10, dir_start + index * 10 + 10)?;
        let (t, rest) = e.split_at(2);
        if !t.iter().all(u8::is_ascii_alphanumeric) {
            return Err(AamvaError::BadDirectory { index });
        }
        let (off, len) = rest.split_at(4);
        let (Some(offset), Some(length)) = (digits(off), digits(len)) else {
            return Err(AamvaError::BadDirectory { index });
        };
        if offset < header_end || length < 2 || offset + length > payload.len() {
            return Err(AamvaError::SubfileOutOfBounds { index });
        }
        if payload.get(offset..offset + 2) != Some(t) {
            return Err(AamvaError::SubfileTypeMismatch { index });
        }
        subfiles.push(SubfileEntry {
            subfile_type: latin1(t),
            offset,
            length,
        });
    }
    let doc = subfiles
        .iter()
        .find(|s| s.subfile_type == "DL" || s.subfile_type == "ID")
        .ok_or(AamvaError::NoDocumentSubfile)?;
    let document_type = if doc.subfile_type == "DL" {
        DocumentType::DrivingLicense
    } else {
        DocumentType::IdCard
    };
    let body = payload
        .get(doc.offset + 2..doc.offset + doc.length)
        .ok_or(AamvaError::Truncated)?;
    let elements = split_elements(body, element_sep, segment_term);
    Ok(decode(
        iin,
        u8::try_from(version).unwrap_or(0),
        jurisdiction_version,
        subfiles,
        document_type,
        elements,
    ))
}

fn split_elements(body: &[u8], element_sep: u8, segment_term: u8) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for raw in body.split(|c| *c == element_sep || *c == segment_term || *c == b'\n' || *c == b'\r')
    {
        if raw.len() < 3 {
            continue;
        }
        let (id, value) = raw.split_at(3);
        if !id.iter().all(u8::is_ascii_uppercase) {
            continue;
        }
        let value = latin1(value).trim().to_string();
        out.entry(latin1(id)).or_insert(value);
    }
    out
}

/// Values that mean "no such name part" on real cards.
fn meaningful(v: Option<&String>) -> Option<String> {
    let v = v?.trim();
    match v.to_ascii_uppercase().as_str() {
        "" | "NONE" | "UNAVL" | "UNAVAILABLE" | "NMN" | "NFN" | "NLN" => None,
        _ => Some(v.to_string()),
    }
}

fn read_date(raw: &str, format: DateFormat) -> Option<Date> {
    let b = raw.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |a: usize, z: usize| digits(b.get(a..z).unwrap_or(&[]));
    let (y, m, d) = match format {
        DateFormat::MonthDayYear => (n(4, 8)?, n(0, 2)?, n(2, 4)?),
        DateFormat::YearMonthDay => (n(0, 4)?, n(4, 6)?, n(6, 8)?),
    };
    make_date(
        i32::try_from(y).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(d).ok()?,
    )
}

fn postal_code(raw: &str, country: Option<&str>) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if compact.is_empty() {
        return None;
    }
    let all_digits = compact.chars().all(|c| c.is_ascii_digit());
    match (country, compact.len(), all_digits) {
        (Some("US") | None, 9, true) => {
            let (zip, plus4) = compact.split_at(5);
            Some(if plus4 == "0000" {
                zip.to_string()
            } else {
                format!("{zip}-{plus4}")
            })
        }
        (Some("CA"), 6, false) => {
            let (a, b) = compact.split_at(3);
            Some(format!(
                "{} {}",
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase()
            ))
        }
        _ => Some(compact),
    }
}

fn decode(
    iin: String,
    aamva_version: u8,
    jurisdiction_version: Option<u8>,
    subfiles: Vec<SubfileEntry>,
    document_type: DocumentType,
    elements: BTreeMap<String, String>,
) -> Aamva {
    let issuer = jurisdiction_for_iin(&iin).copied();
    let el = |k: &str| meaningful(elements.get(k));
    let country = match el("DCG").map(|c| c.to_ascii_uppercase()).as_deref() {
        Some("USA") => Some("US".to_string()),
        Some("CAN") => Some("CA".to_string()),
        Some(other) => crate::country::normalize_country(other),
        None => issuer.map(|i| i.country.to_string()),
    };
    let date_format = match country.as_deref() {
        Some("CA") => DateFormat::YearMonthDay,
        Some(_) => DateFormat::MonthDayYear,
        None => {
            // No country anywhere: take whichever reading gives a real birth date.
            let dbb = el("DBB").unwrap_or_default();
            if read_date(&dbb, DateFormat::MonthDayYear).is_none()
                && read_date(&dbb, DateFormat::YearMonthDay).is_some()
            {
                DateFormat::YearMonthDay
            } else {
                DateFormat::MonthDayYear
            }
        }
    };
    let mut field_errors = Vec::new();
    let mut date = |k: &str, err: &'static str| {
        let raw = el(k)?;
        let d = read_date(&raw, date_format);
        if d.is_none() {
            field_errors.push(err);
        }
        d
    };
    let birth_date = date("DBB", "invalid_birth_date");
    let expiry_date = date("DBA", "invalid_expiry_date");
    let issue_date = date("DBD", "invalid_issue_date");

    // Names across versions (module docs).
    let mut name = PersonName {
        last: el("DCS").or_else(|| el("DAB")),
        first: el("DAC"),
        middle: el("DAD"),
    };
    if name.first.is_none() {
        if let Some(given) = el("DCT") {
            let mut parts = given
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            name.first = parts.next();
            let rest: Vec<String> = parts.collect();
            if name.middle.is_none() && !rest.is_empty() {
                name.middle = Some(rest.join(" "));
            }
        }
    }
    if name.last.is_none() || name.first.is_none() {
        if let Some(full) = el("DAA") {
            let parts: Vec<&str> = full.split(',').map(str::trim).collect();
            if parts.len() >= 2 {
                name.last = name.last.or_else(|| parts.first().map(|s| s.to_string()));
                name.first = name.first.or_else(|| parts.get(1).map(|s| s.to_string()));
                let middle: Vec<&str> = parts
                    .iter()
                    .skip(2)
                    .copied()
                    .filter(|s| !s.is_empty())
                    .collect();
                if name.middle.is_none() && !middle.is_empty() {
                    name.middle = Some(middle.join(" "));
                }
            } else {
                name.last = name.last.or(Some(full));
            }
        }
    }
    if name.last.is_none() {
        field_errors.push("missing_name");
    }
    let number = el("DAQ");
    if number.is_none() {
        field_errors.push("missing_number");
    }
    let sex = match el("DBC").as_deref() {
        None => None,
        Some("1" | "M") => Some(Sex::Male),
        Some("2" | "F") => Some(Sex::Female),
        Some("9" | "X") => Some(Sex::Unspecified),
        Some(_) => {
            field_errors.push("invalid_sex");
            None
        }
    };
    let truncated = |k: &str| el(k).is_some_and(|v| v.eq_ignore_ascii_case("T"));
    let truncation = Truncation {
        family: truncated("DDE"),
        first: truncated("DDF"),
        middle: truncated("DDG"),
    };
    let subdivision = el("DAJ").map(|s| s.to_ascii_uppercase());
    let address = Address {
        line1: el("DAG"),
        line2: el("DAH"),
        city: el("DAI"),
        subdivision: subdivision.clone(),
        postal_code: el("DAK").and_then(|p| postal_code(&p, country.as_deref())),
        country_code: country.clone(),
    };
    let iin_matches_jurisdiction = match (issuer.and_then(|i| i.code), subdivision.as_deref()) {
        (Some(code), Some(daj)) => Some(code == daj),
        _ => None,
    };
    Aamva {
        iin,
        issuer,
        aamva_version,
        jurisdiction_version,
        subfiles,
        document_type,
        number,
        name,
        truncation,
        birth_date,
        expiry_date,
        issue_date,
        sex,
        address,
        document_discriminator: el("DCF"),
        country,
        date_format,
        iin_matches_jurisdiction,
        field_errors,
        elements,
    }
}

/// Builds a payload from subfiles, computing the directory (offsets and lengths) so it
/// is consistent. Each subfile is `(type, body)` where body starts right after the type
/// and includes its own element separators and final segment terminator.
pub fn build_payload(
    iin: &str,
    aamva_version: u8,
    jurisdiction_version: u8,
    subfiles: &[(&str, &str)],
) -> String {
    let mut header = format!("@\n\x1e\rANSI {iin}{aamva_version:02}");
    if aamva_version >= 2 {
        header.push_str(&format!("{jurisdiction_version:02}"));
    }
    header.push_str(&format!("{:02}", subfiles.len()));
    let mut offset = header.len() + 10 * subfiles.len();
    let mut directory = String::new();
    let mut data = String::new();
    for (t, body) in subfiles {
        let len = t.len() + body.len();
        directory.push_str(&format!("{t}{offset:04}{len:04}"));
        data.push_str(t);
        data.push_str(body);
        offset += len;
    }
    format!("{header}{directory}{data}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    /// The body of the DL subfile of the AAMVA DL/ID Card Design Standard (2016) Annex D
    /// example, as reproduced in the brief.
    const SAMPLE_DL: &str = "DAQT64235789\nDCSSAMPLE\nDDEN\nDACMICHAEL\nDDFN\nDADJOHN\nDDGN\nDCUJR\nDCAD\nDCBK\nDCDPH\nDBD06062016\nDBB06061986\nDBA12102024\nDBC1\nDAU068 in\nDAYBRO\nDAG2300 WEST BROAD STREET\nDAIRICHMOND\nDAJVA\nDAK232690000  \nDCF2424244747474786102204\nDCGUSA\nDCK123456789\nDDAF\nDDB06062008\nDDC06062009\nDDD1\r";

    /// The annex sample exactly as published: header `ANSI 636000100002`, directory
    /// `DL00410278ZV03190008`.
    fn annex_d_payload() -> String {
        format!("@\n\x1e\rANSI 636000100002DL00410278ZV03190008DL{SAMPLE_DL}ZVZVA01\r")
    }

    #[test]
    fn annex_d_directory_is_consistent() {
        let p = annex_d_payload();
        // Header 21 bytes + 2 entries of 10 = 41: where the DL subfile begins.
        assert_eq!(p.find("DLDAQ"), Some(41));
        assert_eq!(2 + SAMPLE_DL.len(), 278);
        assert_eq!(p.find("ZVZVA01"), Some(319));
        assert_eq!(p.len(), 319 + 8);
        assert_eq!(
            build_payload("636000", 10, 0, &[("DL", SAMPLE_DL), ("ZV", "ZVA01\r")]),
            p
        );
    }

    #[test]
    fn annex_d_sample_fields() {
        let a = parse_str(&annex_d_payload()).unwrap();
        assert_eq!(a.iin, "636000");
        assert_eq!(a.issuer.unwrap().code, Some("VA"));
        assert_eq!(a.aamva_version, 10);
        assert_eq!(a.jurisdiction_version, Some(0));
        assert_eq!(a.subfiles.len(), 2);
        assert_eq!(a.subfiles[1].subfile_type, "ZV");
        assert_eq!(a.document_type, DocumentType::DrivingLicense);
        assert_eq!(a.number.as_deref(), Some("T64235789"));
        assert_eq!(a.name.last.as_deref(), Some("SAMPLE"));
        assert_eq!(a.name.first.as_deref(), Some("MICHAEL"));
        assert_eq!(a.name.middle.as_deref(), Some("JOHN"));
        assert_eq!(a.truncation, Truncation::default());
        assert_eq!(a.birth_date, Some(date!(1986 - 06 - 06)));
        assert_eq!(a.issue_date, Some(date!(2016 - 06 - 06)));
        assert_eq!(a.expiry_date, Some(date!(2024 - 12 - 10)));
        assert_eq!(a.sex, Some(Sex::Male));
        assert_eq!(a.address.line1.as_deref(), Some("2300 WEST BROAD STREET"));
        assert_eq!(a.address.city.as_deref(), Some("RICHMOND"));
        assert_eq!(a.address.subdivision.as_deref(), Some("VA"));
        assert_eq!(a.address.postal_code.as_deref(), Some("23269"));
        assert_eq!(a.address.country_code.as_deref(), Some("US"));
        assert_eq!(
            a.document_discriminator.as_deref(),
            Some("2424244747474786102204")
        );
        assert_eq!(a.date_format, DateFormat::MonthDayYear);
        assert_eq!(a.iin_matches_jurisdiction, Some(true));
        assert!(a.field_errors.is_empty());
        assert_eq!(a.elements.get("DAU").map(String::as_str), Some("068 in"));
    }

    #[test]
    fn wrong_offsets_and_lengths_are_typed_errors() {
        let p = annex_d_payload();
        let bad_offset = p.replacen("DL00410278", "DL00420278", 1);
        assert_eq!(
            parse_str(&bad_offset).unwrap_err(),
            AamvaError::SubfileTypeMismatch { index: 0 }
        );
        let bad_length = p.replacen("ZV03190008", "ZV03190009", 1);
        assert_eq!(
            parse_str(&bad_length).unwrap_err(),
            AamvaError::SubfileOutOfBounds { index: 1 }
        );
        let in_header = p.replacen("DL00410278", "DL00100278", 1);
        assert_eq!(
            parse_str(&in_header).unwrap_err().code(),
            "aamva_subfile_out_of_bounds"
        );
        let garbage = p.replacen("DL00410278", "DL0041X278", 1);
        assert_eq!(
            parse_str(&garbage).unwrap_err().code(),
            "aamva_bad_directory"
        );
    }

    #[test]
    fn header_errors_are_typed() {
        assert_eq!(parse(b"").unwrap_err().code(), "aamva_truncated");
        assert_eq!(
            parse(b"hello world, this is long enough")
                .unwrap_err()
                .code(),
            "aamva_missing_compliance_indicator"
        );
        let p = annex_d_payload();
        assert_eq!(
            parse_str(&p.replacen("ANSI ", "ANSX ", 1))
                .unwrap_err()
                .code(),
            "aamva_bad_file_type"
        );
        assert_eq!(
            parse_str(&p.replacen("ANSI ", "AAMVA", 1)).unwrap().iin,
            "636000"
        );
        assert_eq!(
            parse_str(&p.replacen("636000", "63600A", 1))
                .unwrap_err()
                .code(),
            "aamva_bad_iin"
        );
        assert_eq!(
            parse_str(&p.replacen("6360001000", "6360001100", 1))
                .unwrap_err()
                .code(),
            "aamva_unsupported_version"
        );
        assert_eq!(parse_str(&p[..30]).unwrap_err().code(), "aamva_truncated");
    }

    #[test]
    fn iin_jurisdiction_mismatch_is_reported() {
        let body = SAMPLE_DL.replace("DAJVA", "DAJMD");
        let a = parse_str(&build_payload("636000", 10, 0, &[("DL", &body)])).unwrap();
        assert_eq!(a.iin_matches_jurisdiction, Some(false));
    }

    #[test]
    fn canadian_dates_are_ccyymmdd() {
        let body =
            "DAQA1234\nDCSTREMBLAY\nDACMARIE\nDBB19860606\nDBA20300101\nDCGCAN\nDAJQC\nDAKH2X1Y4\r";
        let a = parse_str(&build_payload("604428", 9, 0, &[("DL", body)])).unwrap();
        assert_eq!(a.birth_date, Some(date!(1986 - 06 - 06)));
        assert_eq!(a.date_format, DateFormat::YearMonthDay);
        assert_eq!(a.address.postal_code.as_deref(), Some("H2X 1Y4"));
        assert_eq!(a.country.as_deref(), Some("CA"));
        assert_eq!(a.iin_matches_jurisdiction, Some(true));
    }

    #[test]
    fn version_01_names_from_daa() {
        let body = "DAASMITH,JOHN,PAUL\nDAQ999\nDBB01021970\nDBA01022030\nDBCM\nDAJNY\r";
        let a = parse_str(&build_payload("636001", 1, 0, &[("DL", body)])).unwrap();
        assert_eq!(a.jurisdiction_version, None);
        assert_eq!(a.name.last.as_deref(), Some("SMITH"));
        assert_eq!(a.name.first.as_deref(), Some("JOHN"));
        assert_eq!(a.name.middle.as_deref(), Some("PAUL"));
        assert_eq!(a.sex, Some(Sex::Male));
        assert_eq!(a.birth_date, Some(date!(1970 - 01 - 02)));
    }

    #[test]
    fn version_03_given_names_from_dct() {
        let body = "DCSDOE\nDCTJANE ANN\nDAQX1\nDBB12311990\nDBA12312030\r";
        let a = parse_str(&build_payload("636014", 3, 1, &[("ID", body)])).unwrap();
        assert_eq!(a.document_type, DocumentType::IdCard);
        assert_eq!(a.name.first.as_deref(), Some("JANE"));
        assert_eq!(a.name.middle.as_deref(), Some("ANN"));
    }

    #[test]
    fn truncation_and_bad_dates() {
        let body = "DAQ1\nDCSVERYLONGFAMILYNAM\nDDET\nDACJO\nDBB13131990\nDBA12312030\nDBC7\r";
        let a = parse_str(&build_payload("636015", 10, 0, &[("DL", body)])).unwrap();
        assert!(a.truncation.family);
        assert!(a.field_errors.contains(&"invalid_birth_date"));
        assert!(a.field_errors.contains(&"invalid_sex"));
    }

    #[test]
    fn iin_table_sorted_and_complete() {
        for w in IIN_TABLE.windows(2) {
            assert!(w[0].iin < w[1].iin);
        }
        assert_eq!(jurisdiction_for_iin("636014").unwrap().code, Some("CA"));
        assert_eq!(jurisdiction_for_iin("636015").unwrap().name, "Texas");
        assert_eq!(jurisdiction_for_iin("636001").unwrap().name, "New York");
        // 50 states + DC on the list.
        let states = IIN_TABLE
            .iter()
            .filter(|j| j.country == "US" && j.code.is_some())
            .count();
        assert!(states >= 51 + 5, "{states}");
        let provinces = IIN_TABLE.iter().filter(|j| j.country == "CA").count();
        assert_eq!(provinces, 13);
    }
}
