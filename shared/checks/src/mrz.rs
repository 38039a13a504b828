//! Machine-readable zones (ICAO Doc 9303 Parts 3–7): TD1 (3×30), TD2 (2×36), TD3 (2×44),
//! MRV-A (2×44) and MRV-B (2×36).
//!
//! [`parse`] turns OCR or barcode text into an [`Mrz`]. Layout problems (line count,
//! length, alphabet) are a typed [`MrzError`]; check-digit failures are not errors: they are
//! reported per field in [`Mrz::check_digits`] so the engine can say which one failed.
//!
//! OCR confusions (O/0, I/1, B/8, S/5) are repaired only where a check digit confirms the
//! repaired value, and only when exactly one minimal repair does (see [`Repair`]).
//!
//! Century rule (ICAO leaves it to the reader), relative to the caller's `evaluated_on`:
//! * birth date `YY`: `19YY` if `YY` > the two last digits of the evaluation year, else `20YY`
//!   (nobody is born in the future);
//! * expiry date `YY`: `20YY`, unless that lies more than 50 years after the evaluation
//!   date, then `19YY` (no document is valid for 50 years; a 1990s expiry stays readable).

use serde::Serialize;
use thiserror::Error;
use time::Date;

use crate::types::{make_date, DocumentType, Sex};

/// The physical MRZ layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MrzFormat {
    /// ID-1 card, three lines of 30.
    Td1,
    /// ID-2 card, two lines of 36.
    Td2,
    /// Passport booklet, two lines of 44.
    Td3,
    /// Visa on a TD3-size page, two lines of 44.
    MrvA,
    /// Visa sized to leave a margin, two lines of 36.
    MrvB,
}

/// Why text is not an MRZ at all. `code()` is the stable reason string.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MrzError {
    /// Nothing but whitespace.
    #[error("no MRZ text")]
    Empty,
    /// Not 2 or 3 lines.
    #[error("an MRZ has 2 or 3 lines, found {found}")]
    WrongLineCount {
        /// Non-empty lines seen.
        found: usize,
    },
    /// A line whose length fits no layout, or lines of different lengths.
    #[error("MRZ line {line} has {found} characters, expected {expected}")]
    WrongLineLength {
        /// 1-based line number.
        line: usize,
        /// Characters found.
        found: usize,
        /// Characters the layout needs.
        expected: usize,
    },
    /// A character outside `A–Z 0–9 <`.
    #[error("MRZ line {line} has a character outside A-Z, 0-9 and '<' at {position}")]
    BadAlphabet {
        /// 1-based line number.
        line: usize,
        /// 0-based column.
        position: usize,
    },
}

impl MrzError {
    /// Stable snake_case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            MrzError::Empty => "mrz_empty",
            MrzError::WrongLineCount { .. } => "mrz_wrong_line_count",
            MrzError::WrongLineLength { .. } => "mrz_wrong_line_length",
            MrzError::BadAlphabet { .. } => "mrz_bad_alphabet",
        }
    }
}

/// The outcome of one check digit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckDigit {
    /// `document_number`, `birth_date`, `expiry_date`, `optional_data`, `composite`.
    pub field: &'static str,
    /// The digit matched (after any confirmed repair).
    pub passed: bool,
    /// Several single repairs would have validated: we refused to guess.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ambiguous: bool,
}

/// One OCR substitution that a check digit confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repair {
    /// The field repaired (`document_number`, `birth_date`, … or `*_check_digit`).
    pub field: &'static str,
    /// 0-based position inside the field.
    pub position: usize,
    /// Character read.
    pub from: char,
    /// Character kept.
    pub to: char,
}

/// A parsed MRZ. Strings keep the MRZ's own spelling (upper case, fillers removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mrz {
    /// Layout.
    pub format: MrzFormat,
    /// Document code, fillers removed (`P`, `I`, `ID`, `IR`, `V`, …).
    pub document_code: String,
    /// Issuing state or organisation (alpha-3 or ICAO code, fillers removed).
    pub issuing_state: String,
    /// Document number (long TD1/TD2 numbers reassembled), fillers removed.
    pub document_number: String,
    /// Primary identifier (family name), `<` turned into spaces.
    pub primary_identifier: String,
    /// Secondary identifier (given names), `<` turned into spaces.
    pub secondary_identifier: String,
    /// The name field is full to its last character, so the name may be truncated.
    pub name_truncated: bool,
    /// Nationality (alpha-3 or ICAO code).
    pub nationality: String,
    /// Birth date; `None` when unknown (`<<`) or not a calendar date.
    #[serde(with = "crate::types::opt_date")]
    pub birth_date: Option<Date>,
    /// Birth date as printed (`YYMMDD`, after repairs).
    pub birth_date_raw: String,
    /// Sex; `None` for a character that is not `M`, `F`, `X` or `<`.
    pub sex: Option<Sex>,
    /// Expiry date; `None` when not a calendar date.
    #[serde(with = "crate::types::opt_date")]
    pub expiry_date: Option<Date>,
    /// Expiry date as printed.
    pub expiry_date_raw: String,
    /// Optional data (line 2 of TD2/TD3/MRV; TD1 line 1 after the number), fillers removed.
    pub optional_data: String,
    /// TD1 line 2 optional data.
    pub optional_data_2: String,
    /// Every check digit of the layout, in MRZ order.
    pub check_digits: Vec<CheckDigit>,
    /// OCR repairs that check digits confirmed.
    pub repairs: Vec<Repair>,
    /// Field-level problems: `invalid_birth_date`, `invalid_expiry_date`, `invalid_sex`.
    pub field_errors: Vec<&'static str>,
}

impl Mrz {
    /// Every check digit passed and no field is malformed.
    pub fn is_valid(&self) -> bool {
        self.check_digits.iter().all(|c| c.passed) && self.field_errors.is_empty()
    }

    /// Names of the check digits that failed.
    pub fn failed_check_digits(&self) -> Vec<&'static str> {
        self.check_digits
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.field)
            .collect()
    }

    /// Document kind from the document code: `P…` passport, `V…` visa, `IR`/`AR`/`CR`
    /// residence permit, other `I`/`A`/`C` identity cards. `None` for anything else.
    pub fn document_type(&self) -> Option<DocumentType> {
        let mut chars = self.document_code.chars();
        let first = chars.next()?;
        let second = chars.next();
        match (first, second) {
            ('P', _) => Some(DocumentType::Passport),
            ('V', _) => Some(DocumentType::Visa),
            ('I' | 'A' | 'C', Some('R')) => Some(DocumentType::ResidencePermit),
            ('I' | 'A' | 'C', _) => Some(DocumentType::IdCard),
            _ => None,
        }
    }
}

/// Value of an MRZ character for check digits: digits, `A`=10…`Z`=35, `<`=0.
fn char_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        b'<' => Some(0),
        _ => None,
    }
}

/// ICAO 9303 check digit (weights 7-3-1, modulo 10). `None` for a character outside the
/// MRZ alphabet.
pub fn check_digit(s: &str) -> Option<u8> {
    let mut sum: u32 = 0;
    for (i, c) in s.bytes().enumerate() {
        let w = [7, 3, 1][i % 3];
        sum += char_value(c)? * w;
    }
    Some((sum % 10) as u8)
}

/// Letter a digit is commonly misread as, and back.
fn confusable(c: u8) -> Option<u8> {
    match c {
        b'O' => Some(b'0'),
        b'0' => Some(b'O'),
        b'I' => Some(b'1'),
        b'1' => Some(b'I'),
        b'B' => Some(b'8'),
        b'8' => Some(b'B'),
        b'S' => Some(b'5'),
        b'5' => Some(b'S'),
        _ => None,
    }
}

/// A letter misread for a digit, in a place that can only hold a digit.
fn letter_to_digit(c: u8) -> Option<u8> {
    match c {
        b'O' => Some(b'0'),
        b'I' => Some(b'1'),
        b'B' => Some(b'8'),
        b'S' => Some(b'5'),
        _ => None,
    }
}

/// The most confusable positions we try, and the most simultaneous substitutions: keeps
/// the search tiny (≤ C(24,2) candidates) and refuses heroic guesses.
const MAX_REPAIR_POSITIONS: usize = 24;
const MAX_REPAIR_SUBSTITUTIONS: usize = 2;

/// Outcome of validating one field against its check digit.
struct FieldCheck {
    value: Vec<u8>,
    passed: bool,
    ambiguous: bool,
    repairs: Vec<Repair>,
}

/// Reads a check-digit character, repairing a letter misread for a digit.
fn read_check_char(c: u8, field: &'static str, allow_filler: bool) -> Option<(u8, Option<Repair>)> {
    match c {
        b'0'..=b'9' => Some((c - b'0', None)),
        b'<' if allow_filler => Some((0, None)),
        _ => letter_to_digit(c).map(|d| {
            (
                d - b'0',
                Some(Repair {
                    field,
                    position: 0,
                    from: c as char,
                    to: d as char,
                }),
            )
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn check_field(
    field: &'static str,
    cd_field: &'static str,
    value: &[u8],
    cd_char: u8,
    numeric: bool,
    allow_filler_cd: bool,
    strict: bool,
) -> FieldCheck {
    let fail = |ambiguous| FieldCheck {
        value: value.to_vec(),
        passed: false,
        ambiguous,
        repairs: Vec::new(),
    };
    if strict {
        // Text read from a photo was corrected already, with the classifier's confidences
        // (`ocr::correct`): here it is only checked, never repaired again.
        let expected = match cd_char {
            b'0'..=b'9' => Some(cd_char - b'0'),
            b'<' if allow_filler_cd => Some(0),
            _ => None,
        };
        let passed =
            expected.is_some() && std::str::from_utf8(value).ok().and_then(check_digit) == expected;
        return FieldCheck {
            value: value.to_vec(),
            passed,
            ambiguous: false,
            repairs: Vec::new(),
        };
    }
    let Some((expected, cd_repair)) = read_check_char(cd_char, cd_field, allow_filler_cd) else {
        return fail(false);
    };
    let mut repairs: Vec<Repair> = cd_repair.into_iter().collect();
    let digits_of = |v: &[u8]| std::str::from_utf8(v).ok().and_then(check_digit);

    if numeric {
        // A numeric field can only hold digits (and `<` for unknown parts of a birth date),
        // so a letter here has exactly one candidate: its digit look-alike.
        let mut fixed = value.to_vec();
        for (i, c) in fixed.iter_mut().enumerate() {
            if c.is_ascii_digit() || *c == b'<' {
                continue;
            }
            match letter_to_digit(*c) {
                Some(d) => {
                    repairs.push(Repair {
                        field,
                        position: i,
                        from: *c as char,
                        to: d as char,
                    });
                    *c = d;
                }
                None => return fail(false),
            }
        }
        if digits_of(&fixed) == Some(expected) {
            return FieldCheck {
                value: fixed,
                passed: true,
                ambiguous: false,
                repairs,
            };
        }
        return fail(false);
    }

    if digits_of(value) == Some(expected) {
        return FieldCheck {
            value: value.to_vec(),
            passed: true,
            ambiguous: false,
            repairs,
        };
    }
    // Alphanumeric field: try the fewest substitutions first; accept only a unique winner.
    let positions: Vec<usize> = value
        .iter()
        .enumerate()
        .filter(|(_, c)| confusable(**c).is_some())
        .map(|(i, _)| i)
        .take(MAX_REPAIR_POSITIONS)
        .collect();
    for k in 1..=MAX_REPAIR_SUBSTITUTIONS.min(positions.len()) {
        // Each candidate that validates, with the substitutions that made it.
        let mut winners: Vec<(Vec<u8>, Vec<Repair>)> = Vec::new();
        for_each_combination(positions.len(), k, &mut |combo| {
            let mut cand = value.to_vec();
            let mut subs = Vec::with_capacity(combo.len());
            for &p in combo {
                if let Some(pos) = positions.get(p) {
                    if let Some(c) = cand.get_mut(*pos) {
                        let to = confusable(*c).unwrap_or(*c);
                        subs.push(Repair {
                            field,
                            position: *pos,
                            from: *c as char,
                            to: to as char,
                        });
                        *c = to;
                    }
                }
            }
            if digits_of(&cand) == Some(expected) {
                winners.push((cand, subs));
            }
        });
        match winners.as_mut_slice() {
            [] => continue,
            [(cand, subs)] => {
                repairs.append(subs);
                return FieldCheck {
                    value: std::mem::take(cand),
                    passed: true,
                    ambiguous: false,
                    repairs,
                };
            }
            _ => return fail(true),
        }
    }
    fail(false)
}

/// Calls `f` with every k-subset of `0..n` in lexicographic order (deterministic).
fn for_each_combination(n: usize, k: usize, f: &mut dyn FnMut(&[usize])) {
    fn rec(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, f: &mut dyn FnMut(&[usize])) {
        if cur.len() == k {
            f(cur);
            return;
        }
        for i in start..n {
            cur.push(i);
            rec(i + 1, n, k, cur, f);
            cur.pop();
        }
    }
    let mut cur = Vec::with_capacity(k);
    rec(0, n, k, &mut cur, f);
}

/// Splits text into normalised MRZ lines: `\n` or `\r\n`, trimmed, upper-cased, blank
/// lines dropped.
fn normalise_lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|l| l.trim().to_uppercase())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Parses an MRZ. `evaluated_on` anchors the century rule (see module docs).
pub fn parse(text: &str, evaluated_on: Date) -> Result<Mrz, MrzError> {
    parse_with(text, evaluated_on, false)
}

/// Parses an MRZ without any OCR repair: every check digit is judged on the text as given.
/// For text read from a photo, which `ocr::correct` has already corrected where the
/// classifier's confidences and the check digits proved it (a repair of text alone cannot
/// know which characters were read confidently).
pub fn parse_strict(text: &str, evaluated_on: Date) -> Result<Mrz, MrzError> {
    parse_with(text, evaluated_on, true)
}

fn parse_with(text: &str, evaluated_on: Date, strict: bool) -> Result<Mrz, MrzError> {
    let lines = normalise_lines(text);
    if lines.is_empty() {
        return Err(MrzError::Empty);
    }
    let format = match lines.len() {
        3 => MrzFormat::Td1,
        2 => {
            let first_len = lines.first().map(|l| l.chars().count()).unwrap_or(0);
            let is_visa = lines.first().is_some_and(|l| l.starts_with('V'));
            match (first_len, is_visa) {
                (44, false) => MrzFormat::Td3,
                (44, true) => MrzFormat::MrvA,
                (36, false) => MrzFormat::Td2,
                (36, true) => MrzFormat::MrvB,
                (n, _) => {
                    return Err(MrzError::WrongLineLength {
                        line: 1,
                        found: n,
                        expected: if n > 40 { 44 } else { 36 },
                    })
                }
            }
        }
        n => return Err(MrzError::WrongLineCount { found: n }),
    };
    let width = match format {
        MrzFormat::Td1 => 30,
        MrzFormat::Td2 | MrzFormat::MrvB => 36,
        MrzFormat::Td3 | MrzFormat::MrvA => 44,
    };
    let mut rows: Vec<Vec<u8>> = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let found = l.chars().count();
        if found != width {
            return Err(MrzError::WrongLineLength {
                line: i + 1,
                found,
                expected: width,
            });
        }
        if let Some(position) = l
            .chars()
            .position(|c| !matches!(c, 'A'..='Z' | '0'..='9' | '<'))
        {
            return Err(MrzError::BadAlphabet {
                line: i + 1,
                position,
            });
        }
        // All ASCII now, so bytes and chars coincide.
        rows.push(l.as_bytes().to_vec());
    }
    Ok(match format {
        MrzFormat::Td1 => parse_td1(&rows, evaluated_on, strict),
        _ => parse_two_line(format, &rows, evaluated_on, strict),
    })
}

/// Byte range of a validated row; empty when out of range (cannot happen after the
/// length check, but untrusted input never gets to index directly).
fn seg(row: &[u8], a: usize, b: usize) -> &[u8] {
    row.get(a..b).unwrap_or(&[])
}

fn at(row: &[u8], i: usize) -> u8 {
    row.get(i).copied().unwrap_or(b'?')
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches('<')
        .to_string()
}

/// Human text of a name component: `<` to spaces, runs collapsed.
fn name_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split('<')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn split_names(field: &[u8]) -> (String, String, bool) {
    let truncated = field.last().is_some_and(|c| *c != b'<');
    let s = String::from_utf8_lossy(field);
    match s.split_once("<<") {
        Some((primary, secondary)) => (
            name_text(primary.as_bytes()),
            name_text(secondary.as_bytes()),
            truncated,
        ),
        None => (name_text(field), String::new(), truncated),
    }
}

fn parse_sex(c: u8) -> Option<Sex> {
    match c {
        b'M' => Some(Sex::Male),
        b'F' => Some(Sex::Female),
        b'<' | b'X' => Some(Sex::Unspecified),
        _ => None,
    }
}

fn yymmdd(raw: &[u8]) -> Option<(i32, u8, u8)> {
    if raw.len() != 6 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |i: usize| i32::from(raw.get(i).copied().unwrap_or(b'0') - b'0');
    Some((
        n(0) * 10 + n(1),
        (n(2) * 10 + n(3)) as u8,
        (n(4) * 10 + n(5)) as u8,
    ))
}

/// Birth-date century rule: `YY` after this year's two digits → 1900s.
pub fn birth_date(raw: &[u8], evaluated_on: Date) -> Option<Date> {
    let (yy, m, d) = yymmdd(raw)?;
    let this_yy = evaluated_on.year().rem_euclid(100);
    let century = evaluated_on.year() - this_yy;
    let year = if yy > this_yy {
        century - 100 + yy
    } else {
        century + yy
    };
    make_date(year, m, d)
}

/// Expiry-date century rule: `20YY`, or `19YY` when `20YY` is over 50 years ahead.
pub fn expiry_date(raw: &[u8], evaluated_on: Date) -> Option<Date> {
    let (yy, m, d) = yymmdd(raw)?;
    let year = if 2000 + yy > evaluated_on.year() + 50 {
        1900 + yy
    } else {
        2000 + yy
    };
    make_date(year, m, d)
}

struct Collector {
    checks: Vec<CheckDigit>,
    repairs: Vec<Repair>,
    /// No OCR repair at all (see [`parse_strict`]).
    strict: bool,
}

impl Collector {
    fn run(
        &mut self,
        field: &'static str,
        cd_field: &'static str,
        value: &[u8],
        cd: u8,
        numeric: bool,
        allow_filler_cd: bool,
    ) -> Vec<u8> {
        let r = check_field(
            field,
            cd_field,
            value,
            cd,
            numeric,
            allow_filler_cd,
            self.strict,
        );
        self.checks.push(CheckDigit {
            field,
            passed: r.passed,
            ambiguous: r.ambiguous,
        });
        if r.passed {
            self.repairs.extend(r.repairs);
        }
        r.value
    }

    /// Runs a field check whose check digit sits at `cd_pos` of `row`, writing confirmed
    /// repairs back into the row so the composite digit sees them.
    #[allow(clippy::too_many_arguments)]
    fn run_in_row(
        &mut self,
        row: &mut [u8],
        field: &'static str,
        cd_field: &'static str,
        a: usize,
        b: usize,
        cd_pos: usize,
        numeric: bool,
        allow_filler_cd: bool,
    ) -> Vec<u8> {
        let value = seg(row, a, b).to_vec();
        let cd = at(row, cd_pos);
        let before = self.repairs.len();
        let fixed = self.run(field, cd_field, &value, cd, numeric, allow_filler_cd);
        if self.repairs.len() > before {
            if let Some(dst) = row.get_mut(a..b) {
                if dst.len() == fixed.len() {
                    dst.copy_from_slice(&fixed);
                }
            }
            if let Some(c) = row.get_mut(cd_pos) {
                if let Some(d) = letter_to_digit(*c) {
                    *c = d;
                }
            }
        }
        fixed
    }

    /// The document number: nine characters of `row` from `start`, its check digit after
    /// them, and the optional data in `optional` (a range of `row`). With `long` the TD1/TD2
    /// long-number convention applies ([`long_number`]). The number is checked and
    /// OCR-repaired like any alphanumeric field; a confirmed repair of a nine-character
    /// number is written back into `row` so the composite digit sees it. Returns the number
    /// and the optional data left after it.
    fn document_number(
        &mut self,
        row: &mut [u8],
        start: usize,
        optional: (usize, usize),
        long: bool,
    ) -> (Vec<u8>, Vec<u8>) {
        let (main, cd_pos) = (seg(row, start, start + 9), start + 9);
        let rest = seg(row, optional.0, optional.1);
        let (number_raw, number_cd, optional_rest) = if long {
            long_number(main, at(row, cd_pos), rest)
        } else {
            (main.to_vec(), at(row, cd_pos), rest.to_vec())
        };
        let number = self.run(
            "document_number",
            "document_number_check_digit",
            &number_raw,
            number_cd,
            false,
            false,
        );
        if self.checks.last().is_some_and(|d| d.passed) && number_raw.len() == 9 {
            if let Some(dst) = row
                .get_mut(start..cd_pos)
                .filter(|d| d.len() == number.len())
            {
                dst.copy_from_slice(&number);
            }
            if let Some(cd) = row.get_mut(cd_pos) {
                if let Some(d) = letter_to_digit(*cd) {
                    *cd = d;
                }
            }
        }
        (number, optional_rest)
    }

    fn composite(&mut self, data: &[u8], cd: u8) {
        let expected = if self.strict && !cd.is_ascii_digit() {
            None
        } else {
            read_check_char(cd, "composite_check_digit", false).map(|(d, _)| d)
        };
        let passed =
            expected.is_some() && std::str::from_utf8(data).ok().and_then(check_digit) == expected;
        self.checks.push(CheckDigit {
            field: "composite",
            passed,
            ambiguous: false,
        });
        if passed && letter_to_digit(cd).is_some() {
            self.repairs.push(Repair {
                field: "composite_check_digit",
                position: 0,
                from: cd as char,
                to: (b'0' + expected.unwrap_or(0)) as char,
            });
        }
    }
}

/// Document number with the long-number convention: when the check-digit position holds
/// `<`, the number continues in the optional data up to its first `<`, whose last
/// character is the check digit. Returns (number field bytes, check char, rest of optional).
fn long_number(main: &[u8], cd: u8, optional: &[u8]) -> (Vec<u8>, u8, Vec<u8>) {
    if cd != b'<' {
        return (main.to_vec(), cd, optional.to_vec());
    }
    let end = optional
        .iter()
        .position(|c| *c == b'<')
        .unwrap_or(optional.len());
    match end.checked_sub(1) {
        Some(last) if last > 0 || end == 1 => {
            let mut number = main.to_vec();
            number.extend_from_slice(seg(optional, 0, last));
            let check = at(optional, last);
            (number, check, seg(optional, end, optional.len()).to_vec())
        }
        _ => (main.to_vec(), cd, optional.to_vec()),
    }
}

fn parse_td1(rows: &[Vec<u8>], evaluated_on: Date, strict: bool) -> Mrz {
    let mut l1 = rows.first().cloned().unwrap_or_default();
    let mut l2 = rows.get(1).cloned().unwrap_or_default();
    let l3 = rows.get(2).cloned().unwrap_or_default();
    let mut c = Collector {
        checks: Vec::new(),
        repairs: Vec::new(),
        strict,
    };

    let (number, optional_rest) = c.document_number(&mut l1, 5, (15, 30), true);
    let birth = c.run_in_row(
        &mut l2,
        "birth_date",
        "birth_date_check_digit",
        0,
        6,
        6,
        true,
        false,
    );
    let expiry = c.run_in_row(
        &mut l2,
        "expiry_date",
        "expiry_date_check_digit",
        8,
        14,
        14,
        true,
        false,
    );
    let mut composite_data = seg(&l1, 5, 30).to_vec();
    composite_data.extend_from_slice(seg(&l2, 0, 7));
    composite_data.extend_from_slice(seg(&l2, 8, 15));
    composite_data.extend_from_slice(seg(&l2, 18, 29));
    c.composite(&composite_data, at(&l2, 29));

    let (primary, secondary, truncated) = split_names(&l3);
    finish(
        MrzFormat::Td1,
        &l1,
        number,
        (primary, secondary, truncated),
        seg(&l2, 15, 18),
        birth,
        at(&l2, 7),
        expiry,
        text(&optional_rest),
        text(seg(&l2, 18, 29)),
        c,
        evaluated_on,
    )
}

fn parse_two_line(format: MrzFormat, rows: &[Vec<u8>], evaluated_on: Date, strict: bool) -> Mrz {
    let l1 = rows.first().cloned().unwrap_or_default();
    let mut l2 = rows.get(1).cloned().unwrap_or_default();
    let width = l2.len();
    let mut c = Collector {
        checks: Vec::new(),
        repairs: Vec::new(),
        strict,
    };
    // Optional data runs to the end for visas, up to the optional check digit (TD3) or the
    // composite (TD2).
    let optional_end = match format {
        MrzFormat::Td3 => 42,
        MrzFormat::Td2 => 35,
        _ => width,
    };
    let (number, optional_rest) =
        c.document_number(&mut l2, 0, (28, optional_end), format == MrzFormat::Td2);
    let birth = c.run_in_row(
        &mut l2,
        "birth_date",
        "birth_date_check_digit",
        13,
        19,
        19,
        true,
        false,
    );
    let expiry = c.run_in_row(
        &mut l2,
        "expiry_date",
        "expiry_date_check_digit",
        21,
        27,
        27,
        true,
        false,
    );
    if format == MrzFormat::Td3 {
        // The personal-number check digit may be `<` when the field is all fillers.
        let optional = seg(&l2, 28, 42).to_vec();
        c.run(
            "optional_data",
            "optional_data_check_digit",
            &optional,
            at(&l2, 42),
            false,
            true,
        );
    }
    match format {
        MrzFormat::Td3 => {
            let mut data = seg(&l2, 0, 10).to_vec();
            data.extend_from_slice(seg(&l2, 13, 20));
            data.extend_from_slice(seg(&l2, 21, 43));
            c.composite(&data, at(&l2, 43));
        }
        MrzFormat::Td2 => {
            let mut data = seg(&l2, 0, 10).to_vec();
            data.extend_from_slice(seg(&l2, 13, 20));
            data.extend_from_slice(seg(&l2, 21, 35));
            c.composite(&data, at(&l2, 35));
        }
        _ => {}
    }
    let names = split_names(seg(&l1, 5, l1.len()));
    finish(
        format,
        &l1,
        number,
        names,
        seg(&l2, 10, 13),
        birth,
        at(&l2, 20),
        expiry,
        text(&optional_rest),
        String::new(),
        c,
        evaluated_on,
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    format: MrzFormat,
    l1: &[u8],
    number: Vec<u8>,
    names: (String, String, bool),
    nationality: &[u8],
    birth: Vec<u8>,
    sex: u8,
    expiry: Vec<u8>,
    optional_data: String,
    optional_data_2: String,
    c: Collector,
    evaluated_on: Date,
) -> Mrz {
    let mut field_errors = Vec::new();
    let birth_date_v = birth_date(&birth, evaluated_on);
    // `<` in a birth date means "unknown part" (ICAO); anything else that is not a date is
    // an error.
    if birth_date_v.is_none() && !birth.contains(&b'<') {
        field_errors.push("invalid_birth_date");
    }
    let expiry_date_v = expiry_date(&expiry, evaluated_on);
    if expiry_date_v.is_none() {
        field_errors.push("invalid_expiry_date");
    }
    let sex_v = parse_sex(sex);
    if sex_v.is_none() {
        field_errors.push("invalid_sex");
    }
    Mrz {
        format,
        document_code: text(seg(l1, 0, 2)),
        issuing_state: text(seg(l1, 2, 5)),
        document_number: text(&number),
        primary_identifier: names.0,
        secondary_identifier: names.1,
        name_truncated: names.2,
        nationality: text(nationality),
        birth_date: birth_date_v,
        birth_date_raw: String::from_utf8_lossy(&birth).into_owned(),
        sex: sex_v,
        expiry_date: expiry_date_v,
        expiry_date_raw: String::from_utf8_lossy(&expiry).into_owned(),
        optional_data,
        optional_data_2,
        check_digits: c.checks,
        repairs: c.repairs,
        field_errors,
    }
}

/// Finds and parses the first MRZ inside free text (e.g. a barcode payload or OCR output
/// with surrounding lines): tries every window of 2 or 3 consecutive lines.
pub fn find_in_text(text: &str, evaluated_on: Date) -> Option<Mrz> {
    let lines = normalise_lines(text);
    for size in [3usize, 2] {
        for window in lines.windows(size) {
            if let Ok(m) = parse(&window.join("\n"), evaluated_on) {
                return Some(m);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2025 - 06 - 01);

    fn all_passed(m: &Mrz) -> bool {
        m.check_digits.iter().all(|c| c.passed)
    }

    #[test]
    fn check_digit_examples() {
        assert_eq!(check_digit("L898902C3"), Some(6));
        assert_eq!(check_digit("740812"), Some(2));
        assert_eq!(check_digit("120415"), Some(9));
        assert_eq!(check_digit("ZE184226B<<<<<"), Some(1));
        assert_eq!(check_digit("D23145890"), Some(7));
        assert_eq!(check_digit("a"), None);
    }

    /// ICAO Doc 9303 Part 4, Appendix A: the TD3 passport specimen.
    #[test]
    fn icao_td3_specimen() {
        let m = parse(
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n\
             L898902C36UTO7408122F1204159ZE184226B<<<<<10",
            TODAY,
        )
        .unwrap();
        assert_eq!(m.format, MrzFormat::Td3);
        assert_eq!(m.document_code, "P");
        assert_eq!(m.document_type(), Some(DocumentType::Passport));
        assert_eq!(m.issuing_state, "UTO");
        assert_eq!(m.primary_identifier, "ERIKSSON");
        assert_eq!(m.secondary_identifier, "ANNA MARIA");
        assert!(!m.name_truncated);
        assert_eq!(m.document_number, "L898902C3");
        assert_eq!(m.nationality, "UTO");
        assert_eq!(m.birth_date, Some(date!(1974 - 08 - 12)));
        assert_eq!(m.sex, Some(Sex::Female));
        assert_eq!(m.expiry_date, Some(date!(2012 - 04 - 15)));
        assert_eq!(m.optional_data, "ZE184226B");
        let fields: Vec<_> = m.check_digits.iter().map(|c| (c.field, c.passed)).collect();
        assert_eq!(
            fields,
            vec![
                ("document_number", true),
                ("birth_date", true),
                ("expiry_date", true),
                ("optional_data", true),
                ("composite", true)
            ]
        );
        assert!(m.is_valid());
        assert!(m.repairs.is_empty());
    }

    /// ICAO Doc 9303 Part 5, Appendix A: the TD1 identity card specimen.
    #[test]
    fn icao_td1_specimen() {
        let m = parse(
            "I<UTOD231458907<<<<<<<<<<<<<<<\r\n7408122F1204159UTO<<<<<<<<<<<6\r\nERIKSSON<<ANNA<MARIA<<<<<<<<<<",
            TODAY,
        )
        .unwrap();
        assert_eq!(m.format, MrzFormat::Td1);
        assert_eq!(m.document_code, "I");
        assert_eq!(m.document_type(), Some(DocumentType::IdCard));
        assert_eq!(m.document_number, "D23145890");
        assert_eq!(m.birth_date, Some(date!(1974 - 08 - 12)));
        assert_eq!(m.expiry_date, Some(date!(2012 - 04 - 15)));
        assert_eq!(m.nationality, "UTO");
        assert_eq!(m.primary_identifier, "ERIKSSON");
        assert_eq!(m.secondary_identifier, "ANNA MARIA");
        assert!(m.is_valid(), "{:?}", m.check_digits);
        assert_eq!(m.check_digits.len(), 4);
    }

    /// ICAO Doc 9303 Part 5: a 12-character document number continued in optional data.
    #[test]
    fn icao_td1_long_document_number() {
        let m = parse(
            "I<UTOD23145890<7349<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<",
            TODAY,
        )
        .unwrap();
        assert_eq!(m.document_number, "D23145890734");
        assert_eq!(m.optional_data, "");
        assert!(m.is_valid(), "{:?}", m.check_digits);
    }

    /// ICAO Doc 9303 Part 6: the TD2 specimen.
    #[test]
    fn icao_td2_specimen() {
        let m = parse(
            "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6",
            TODAY,
        )
        .unwrap();
        assert_eq!(m.format, MrzFormat::Td2);
        assert_eq!(m.document_number, "D23145890");
        assert_eq!(m.secondary_identifier, "ANNA MARIA");
        assert!(m.is_valid(), "{:?}", m.check_digits);
        assert_eq!(m.check_digits.len(), 4);
    }

    /// ICAO Doc 9303 Part 7: MRV-A and MRV-B specimens (no composite digit).
    #[test]
    fn icao_visa_specimens() {
        let a = parse(
            "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL8988901C4XXX4009078F96121096ZE184226B<<<<<<",
            TODAY,
        )
        .unwrap();
        assert_eq!(a.format, MrzFormat::MrvA);
        assert_eq!(a.document_type(), Some(DocumentType::Visa));
        assert_eq!(a.document_number, "L8988901C");
        assert_eq!(a.nationality, "XXX");
        assert_eq!(a.birth_date, Some(date!(1940 - 09 - 07)));
        assert_eq!(a.expiry_date, Some(date!(1996 - 12 - 10)));
        assert_eq!(a.optional_data, "6ZE184226B");
        assert!(a.is_valid(), "{:?}", a.check_digits);
        assert_eq!(a.check_digits.len(), 3);

        let b = parse(
            "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nL8988901C4XXX4009078F9612109<<<<<<<<",
            TODAY,
        )
        .unwrap();
        assert_eq!(b.format, MrzFormat::MrvB);
        assert!(b.is_valid());
    }

    #[test]
    fn layout_errors_are_typed() {
        assert_eq!(parse("  \n ", TODAY).unwrap_err().code(), "mrz_empty");
        assert_eq!(
            parse("ABC", TODAY).unwrap_err().code(),
            "mrz_wrong_line_count"
        );
        let e = parse(
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<1",
            TODAY,
        )
        .unwrap_err();
        assert_eq!(e.code(), "mrz_wrong_line_length");
        let e = parse(
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<-10",
            TODAY,
        )
        .unwrap_err();
        assert_eq!(
            e,
            MrzError::BadAlphabet {
                line: 2,
                position: 41
            }
        );
        // Lower case is accepted (upper-cased first).
        assert!(parse(
            "p<utoeriksson<<anna<maria<<<<<<<<<<<<<<<<<<<\nl898902c36uto7408122f1204159ze184226b<<<<<10",
            TODAY
        )
        .unwrap()
        .is_valid());
    }

    #[test]
    fn ocr_letter_in_date_is_repaired_when_check_digit_confirms() {
        // Birth date 740812 read as 74O8I2.
        let m = parse(
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO74O8I22F1204159ZE184226B<<<<<10",
            TODAY,
        )
        .unwrap();
        assert!(m.is_valid(), "{:?}", m.check_digits);
        assert_eq!(m.birth_date, Some(date!(1974 - 08 - 12)));
        assert_eq!(m.repairs.len(), 2);
        assert_eq!(m.repairs[0].from, 'O');
        assert_eq!(m.repairs[0].to, '0');
    }

    #[test]
    fn ocr_digit_in_number_repaired_only_if_unique() {
        // L898902C3 read as L898902C3 with the C→... no: replace the B-lookalike '8'→'B'.
        // "LB98902C3": one confusable change back (B→8) validates.
        let m = parse(
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nLB98902C36UTO7408122F1204159ZE184226B<<<<<10",
            TODAY,
        )
        .unwrap();
        // Either the unique repair was found and the composite then passes, or several
        // single repairs validated and we refused: both are acceptable behaviours, but
        // never a silent wrong number.
        if m.check_digits[0].passed {
            assert_eq!(m.document_number, "L898902C3");
            assert!(all_passed(&m));
        } else {
            assert!(m.check_digits[0].ambiguous);
        }
    }

    #[test]
    fn ambiguous_repair_is_refused() {
        // A number made of many confusables with a wrong check digit: several single
        // substitutions validate, so nothing is repaired.
        let number = b"S0I8S0I8S";
        let cd = check_digit(std::str::from_utf8(number).unwrap()).unwrap();
        let wrong = (cd + 1) % 10;
        let r = check_field(
            "document_number",
            "x",
            number,
            b'0' + wrong,
            false,
            false,
            false,
        );
        assert!(!r.passed);
        assert!(r.ambiguous, "expected ambiguity");
        assert_eq!(r.value, number.to_vec());
    }

    #[test]
    fn unrepairable_date_fails_without_repairs() {
        let m = parse(
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408132F1204159ZE184226B<<<<<10",
            TODAY,
        )
        .unwrap();
        assert!(!m.is_valid());
        assert_eq!(m.failed_check_digits(), vec!["birth_date", "composite"]);
        assert!(m.repairs.is_empty());
    }

    #[test]
    fn strict_parse_never_repairs() {
        let t = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO74O8I22F1204159ZE184226B<<<<<10";
        assert!(parse(t, TODAY).unwrap().is_valid());
        let m = parse_strict(t, TODAY).unwrap();
        assert!(!m.is_valid());
        assert!(m.repairs.is_empty());
        assert_eq!(m.failed_check_digits(), vec!["birth_date", "composite"]);
        let ok = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
        assert!(parse_strict(ok, TODAY).unwrap().is_valid());
    }

    #[test]
    fn century_rules() {
        assert_eq!(birth_date(b"250601", TODAY), Some(date!(2025 - 06 - 01)));
        assert_eq!(birth_date(b"260101", TODAY), Some(date!(1926 - 01 - 01)));
        assert_eq!(birth_date(b"000229", TODAY), Some(date!(2000 - 02 - 29)));
        assert_eq!(expiry_date(b"300101", TODAY), Some(date!(2030 - 01 - 01)));
        assert_eq!(expiry_date(b"750101", TODAY), Some(date!(2075 - 01 - 01)));
        assert_eq!(expiry_date(b"760101", TODAY), Some(date!(1976 - 01 - 01)));
        assert_eq!(expiry_date(b"991301", TODAY), None);
    }

    #[test]
    fn finds_mrz_in_noisy_text() {
        let t = "REPUBLIC OF UTOPIA\nP<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10\n";
        assert!(find_in_text(t, TODAY).is_some_and(|m| m.is_valid()));
        assert!(find_in_text("hello\nworld", TODAY).is_none());
    }

    #[test]
    fn residence_permit_code() {
        let mut m = parse(
            "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<",
            TODAY,
        )
        .unwrap();
        m.document_code = "IR".into();
        assert_eq!(m.document_type(), Some(DocumentType::ResidencePermit));
    }
}
