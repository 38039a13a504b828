//! Proof-of-address documents (utility bills, bank statements) with a text layer.
//!
//! Heuristics, in order, over the lines `pdf_text` extracts:
//! * **issuer**: the first line of the page (letterheads come first); `issuer_recognised`
//!   says whether it contains a known issuer word (Energy, Electric, Bank, …);
//! * **type**: "statement" with bank words → `bank_statement`; bill/utility words (bill,
//!   amount due, kWh, meter, electricity, gas, water) → `utility_bill`; else `other`;
//! * **issue date**: the date after a label — `Statement date:`, `Bill date:`, `Billing
//!   date:`, `Invoice date:`, `Issue date:`, `Date of issue:`, `Issued on:`, `Date:` — on
//!   the same line or the next. Formats: `May 2, 2025`, `2 May 2025`, `2025-05-02`,
//!   `05/02/2025` (US month first unless the first number exceeds 12), `02.05.2025`
//!   (day first). Without a label, no date: a due date or period end must not pass for one;
//! * **name**: the value after `Account holder:`, `Customer name:`, `Account name:`,
//!   `Name:`; else the first line shaped like a person's name (2–5 words, letters only)
//!   directly followed by a line starting with a house number;
//! * **address**: the lines after the name: street, optional second line, then a city line
//!   (`City, ST 12345[-6789]`, `City, PR A1A 1A1`, `12345 City`, `City SW1A 1AA`), then an
//!   optional country line.

use serde::Serialize;
use time::Date;

use crate::pdf_text::{self, PdfError};
use crate::types::{make_date, Address, AddressDocumentType};

/// What was read from a proof-of-address document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressDocument {
    /// Bill, statement or other.
    pub document_type: AddressDocumentType,
    /// Letterhead line.
    pub issuer: Option<String>,
    /// The issuer line contains a known issuer word.
    pub issuer_recognised: bool,
    /// Addressee.
    pub name: Option<String>,
    /// Postal address.
    pub address: Address,
    /// Statement or bill date.
    #[serde(with = "crate::types::opt_date")]
    pub issue_date: Option<Date>,
    /// The label the date was found after.
    pub issue_date_label: Option<String>,
    /// Lines of text read.
    pub line_count: usize,
}

/// Reads a PDF and applies the heuristics.
pub fn read(bytes: &[u8]) -> Result<AddressDocument, PdfError> {
    let lines = pdf_text::extract_lines(bytes)?;
    Ok(parse_lines(&lines))
}

const ISSUER_WORDS: &[&str] = &[
    "ENERGY",
    "ELECTRIC",
    "POWER",
    "GAS",
    "WATER",
    "UTILIT",
    "BANK",
    "CREDIT UNION",
    "TELECOM",
    "WIRELESS",
    "BROADBAND",
    "MOBILE",
    "SAVINGS",
    "TRUST",
    "FINANCIAL",
    "COUNCIL",
    "INSURANCE",
];
const DATE_LABELS: &[&str] = &[
    "STATEMENT DATE",
    "BILL DATE",
    "BILLING DATE",
    "INVOICE DATE",
    "ISSUE DATE",
    "DATE OF ISSUE",
    "ISSUED ON",
    "DATE",
];
const NAME_LABELS: &[&str] = &["ACCOUNT HOLDER", "CUSTOMER NAME", "ACCOUNT NAME", "NAME"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Longest line the heuristics look at, in characters. Every extracted value is one line
/// or part of one, and is stored in the document, the verification and (auto-update) the
/// session: without a bound, a PDF with one 100,000-character line would push those items
/// past DynamoDB's 400 KB and make the verification fail. Real bills print far shorter
/// lines; the rest of a longer one is cut off.
pub const MAX_LINE_CHARS: usize = 200;

/// Applies the heuristics to already extracted lines.
pub fn parse_lines(lines: &[String]) -> AddressDocument {
    let cut: Vec<String>;
    let lines = if lines
        .iter()
        .any(|l| l.chars().nth(MAX_LINE_CHARS).is_some())
    {
        cut = lines
            .iter()
            .map(|l| l.chars().take(MAX_LINE_CHARS).collect())
            .collect();
        &cut[..]
    } else {
        lines
    };
    let upper: Vec<String> = lines.iter().map(|l| l.to_uppercase()).collect();
    let issuer = lines.first().cloned();
    let issuer_recognised = upper
        .first()
        .is_some_and(|l| ISSUER_WORDS.iter().any(|w| l.contains(w)));
    let all = upper.join("\n");
    let has = |w: &str| all.contains(w);
    let document_type =
        if has("STATEMENT") && (has("BANK") || has("BALANCE") || has("ACCOUNT STATEMENT")) {
            AddressDocumentType::BankStatement
        } else if [
            "BILL",
            "AMOUNT DUE",
            "KWH",
            "METER",
            "ELECTRICITY",
            "UTILITY",
            "GAS",
            "WATER",
        ]
        .iter()
        .any(|w| has(w))
        {
            AddressDocumentType::UtilityBill
        } else {
            AddressDocumentType::Other
        };

    let (issue_date, issue_date_label) = find_labelled_date(lines, &upper);
    let (name, name_at) = find_name(lines, &upper);
    let address = name_at
        .map(|i| read_address(lines, i + 1))
        .unwrap_or_default();
    AddressDocument {
        document_type,
        issuer,
        issuer_recognised,
        name,
        address,
        issue_date,
        issue_date_label,
        line_count: lines.len(),
    }
}

/// The text after `label` at the start of `line` (an optional colon skipped).
fn after_label<'a>(upper: &str, line: &'a str, label: &str) -> Option<&'a str> {
    if !upper.starts_with(label) {
        return None;
    }
    let rest = line.get(label.len()..)?;
    let rest = rest.trim_start();
    // "Date" must be a label, not the start of "Dated …" or "Date range".
    let rest = rest
        .strip_prefix(':')
        .or(if label == "DATE" { None } else { Some(rest) })?;
    Some(rest.trim())
}

fn find_labelled_date(lines: &[String], upper: &[String]) -> (Option<Date>, Option<String>) {
    for label in DATE_LABELS {
        for (i, (line, up)) in lines.iter().zip(upper).enumerate() {
            let Some(rest) = after_label(up, line, label) else {
                continue;
            };
            let candidate = if rest.is_empty() {
                lines.get(i + 1).map(String::as_str).unwrap_or("")
            } else {
                rest
            };
            if let Some(d) = parse_date(candidate) {
                return (Some(d), Some(label.to_ascii_lowercase()));
            }
        }
    }
    (None, None)
}

fn month_index(word: &str) -> Option<u8> {
    let w = word.trim_end_matches('.').to_ascii_uppercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| w.starts_with(m))
        .and_then(|i| u8::try_from(i + 1).ok())
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn ymd(y: u32, m: u32, d: u32) -> Option<Date> {
    if !(1900..=2999).contains(&y) {
        return None;
    }
    make_date(
        i32::try_from(y).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(d).ok()?,
    )
}

/// Parses the first date at the start of `s` (formats in the module docs).
pub fn parse_date(s: &str) -> Option<Date> {
    let words: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .take(3)
        .collect();
    if let [a, b, c, ..] = words.as_slice() {
        // "May 2, 2025"
        if let (Some(m), Some(d), Some(y)) = (month_index(a), num(b), num(c)) {
            return ymd(y, u32::from(m), d);
        }
        // "2 May 2025"
        if let (Some(d), Some(m), Some(y)) = (num(a), month_index(b), num(c)) {
            return ymd(y, u32::from(m), d);
        }
    }
    let first = words.first()?;
    let parts: Vec<&str> = first.split(['-', '/', '.']).collect();
    if let [a, b, c] = parts.as_slice() {
        let (a, b, c) = (num(a)?, num(b)?, num(c)?);
        if a >= 1000 {
            return ymd(a, b, c);
        }
        if first.contains('.') || a > 12 {
            return ymd(c, b, a);
        }
        return ymd(c, a, b);
    }
    None
}

fn looks_like_name(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    (2..=5).contains(&words.len())
        && words.iter().all(|w| {
            w.chars()
                .all(|c| c.is_alphabetic() || matches!(c, '.' | '\'' | '-' | '’'))
        })
}

fn starts_with_number(line: &str) -> bool {
    line.chars().next().is_some_and(|c| c.is_ascii_digit())
}

fn find_name(lines: &[String], upper: &[String]) -> (Option<String>, Option<usize>) {
    for label in NAME_LABELS {
        for (i, (line, up)) in lines.iter().zip(upper).enumerate() {
            if let Some(rest) = after_label(up, line, label) {
                if !rest.is_empty() && looks_like_name(rest) {
                    // The address block may follow the label line.
                    let at = lines
                        .get(i + 1)
                        .filter(|l| starts_with_number(l))
                        .map(|_| i);
                    return (
                        Some(rest.to_string()),
                        at.or_else(|| find_name_block(lines).map(|(_, j)| j)),
                    );
                }
            }
        }
    }
    match find_name_block(lines) {
        Some((name, i)) => (Some(name), Some(i)),
        None => (None, None),
    }
}

fn find_name_block(lines: &[String]) -> Option<(String, usize)> {
    lines.iter().enumerate().skip(1).find_map(|(i, l)| {
        let next = lines.get(i + 1)?;
        (looks_like_name(l) && starts_with_number(next)).then(|| (l.clone(), i))
    })
}

/// A parsed "city line": city, subdivision, postal code, implied country.
fn city_line(line: &str) -> Option<(String, Option<String>, String, Option<&'static str>)> {
    let line = line.trim();
    // "City, ST 12345[-6789]" / "City, QC H2X 1Y4"
    if let Some((city, rest)) = line.rsplit_once(',') {
        let mut parts = rest.split_whitespace();
        let st = parts.next()?;
        let postal: Vec<&str> = parts.collect();
        let postal = postal.join(" ");
        let is_state = st.len() == 2 && st.chars().all(|c| c.is_ascii_alphabetic());
        if is_state && is_us_zip(&postal) {
            return Some((
                city.trim().into(),
                Some(st.to_ascii_uppercase()),
                postal,
                Some("US"),
            ));
        }
        if is_state && is_ca_postal(&postal) {
            return Some((
                city.trim().into(),
                Some(st.to_ascii_uppercase()),
                postal.to_ascii_uppercase(),
                Some("CA"),
            ));
        }
    }
    // "12345 City"
    let (first, rest) = line.split_once(' ')?;
    if (4..=5).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_digit())
        && !rest.trim().is_empty()
    {
        return Some((rest.trim().into(), None, first.into(), None));
    }
    // "City SW1A 1AA"
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.len() >= 3 {
        let pc = words.get(words.len() - 2..)?.join(" ");
        if is_uk_postcode(&pc) {
            let city = words.get(..words.len() - 2)?.join(" ");
            return Some((city, None, pc.to_ascii_uppercase(), Some("GB")));
        }
    }
    None
}

fn is_us_zip(p: &str) -> bool {
    let b = p.as_bytes();
    (b.len() == 5 && b.iter().all(u8::is_ascii_digit))
        || (b.len() == 10
            && b.get(5) == Some(&b'-')
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 5 || c.is_ascii_digit()))
}

fn is_ca_postal(p: &str) -> bool {
    let c: Vec<char> = p.chars().filter(|c| !c.is_whitespace()).collect();
    c.len() == 6
        && c.iter().enumerate().all(|(i, ch)| {
            if i % 2 == 0 {
                ch.is_ascii_alphabetic()
            } else {
                ch.is_ascii_digit()
            }
        })
}

fn is_uk_postcode(p: &str) -> bool {
    let mut parts = p.split(' ');
    let (Some(out), Some(inw), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let inb = inw.as_bytes();
    (2..=4).contains(&out.len())
        && out.chars().all(|c| c.is_ascii_alphanumeric())
        && out.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && inb.len() == 3
        && inb.first().is_some_and(u8::is_ascii_digit)
        && inb
            .get(1..)
            .is_some_and(|r| r.iter().all(u8::is_ascii_alphabetic))
}

fn country_from_line(line: &str) -> Option<&'static str> {
    let up = line.trim().trim_end_matches('.').to_uppercase();
    Some(match up.as_str() {
        "UNITED STATES" | "UNITED STATES OF AMERICA" | "USA" | "U.S.A" | "US" => "US",
        "CANADA" => "CA",
        "UNITED KINGDOM" | "UK" | "GREAT BRITAIN" | "ENGLAND" | "SCOTLAND" | "WALES" => "GB",
        "IRELAND" => "IE",
        "GERMANY" | "DEUTSCHLAND" => "DE",
        "FRANCE" => "FR",
        "SPAIN" | "ESPAÑA" => "ES",
        "ITALY" | "ITALIA" => "IT",
        "NETHERLANDS" | "NEDERLAND" => "NL",
        "BELGIUM" => "BE",
        "AUSTRIA" | "ÖSTERREICH" => "AT",
        "SWITZERLAND" | "SCHWEIZ" | "SUISSE" => "CH",
        "SWEDEN" | "SVERIGE" => "SE",
        "NORWAY" | "NORGE" => "NO",
        "DENMARK" | "DANMARK" => "DK",
        "FINLAND" | "SUOMI" => "FI",
        "PORTUGAL" => "PT",
        "POLAND" | "POLSKA" => "PL",
        "AUSTRALIA" => "AU",
        "NEW ZEALAND" => "NZ",
        "MEXICO" | "MÉXICO" => "MX",
        _ => return None,
    })
}

fn read_address(lines: &[String], start: usize) -> Address {
    let mut a = Address::default();
    let Some(line1) = lines.get(start) else {
        return a;
    };
    a.line1 = Some(line1.clone());
    for offset in 1..=2 {
        let Some(l) = lines.get(start + offset) else {
            break;
        };
        if let Some((city, sub, postal, country)) = city_line(l) {
            a.city = Some(city);
            a.subdivision = sub;
            a.postal_code = Some(postal);
            a.country_code = lines
                .get(start + offset + 1)
                .and_then(|l| country_from_line(l))
                .or(country)
                .map(str::to_string);
            if offset == 2 {
                a.line2 = lines.get(start + 1).cloned();
            }
            return a;
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn utility_bill_layout() {
        let d = parse_lines(&lines(&[
            "Dominion Energy",
            "Customer Service 1-800-555-0199",
            "Your Electricity Bill",
            "Michael J. Sample",
            "2300 W Broad St",
            "Apt 4",
            "Richmond, VA 23269",
            "United States",
            "Bill date: May 2, 2025",
            "Amount due: $84.12",
        ]));
        assert_eq!(d.document_type, AddressDocumentType::UtilityBill);
        assert_eq!(d.issuer.as_deref(), Some("Dominion Energy"));
        assert!(d.issuer_recognised);
        assert_eq!(d.name.as_deref(), Some("Michael J. Sample"));
        assert_eq!(d.address.line1.as_deref(), Some("2300 W Broad St"));
        assert_eq!(d.address.line2.as_deref(), Some("Apt 4"));
        assert_eq!(d.address.city.as_deref(), Some("Richmond"));
        assert_eq!(d.address.subdivision.as_deref(), Some("VA"));
        assert_eq!(d.address.postal_code.as_deref(), Some("23269"));
        assert_eq!(d.address.country_code.as_deref(), Some("US"));
        assert_eq!(d.issue_date, Some(date!(2025 - 05 - 02)));
        assert_eq!(d.issue_date_label.as_deref(), Some("bill date"));
    }

    #[test]
    fn bank_statement_with_labels() {
        let d = parse_lines(&lines(&[
            "First Example Bank",
            "Account Statement",
            "Account holder: Anna Maria Eriksson",
            "Statement date:",
            "02.05.2025",
            "Closing balance: 10.00",
        ]));
        assert_eq!(d.document_type, AddressDocumentType::BankStatement);
        assert_eq!(d.name.as_deref(), Some("Anna Maria Eriksson"));
        assert_eq!(d.issue_date, Some(date!(2025 - 05 - 02)));
    }

    #[test]
    fn date_formats() {
        assert_eq!(parse_date("May 2, 2025"), Some(date!(2025 - 05 - 02)));
        assert_eq!(parse_date("2 May 2025"), Some(date!(2025 - 05 - 02)));
        assert_eq!(parse_date("2025-05-02"), Some(date!(2025 - 05 - 02)));
        assert_eq!(parse_date("05/02/2025"), Some(date!(2025 - 05 - 02)));
        assert_eq!(parse_date("25/02/2025"), Some(date!(2025 - 02 - 25)));
        assert_eq!(parse_date("02.05.2025"), Some(date!(2025 - 05 - 02)));
        assert_eq!(parse_date("31/02/2025"), None);
        assert_eq!(parse_date("soon"), None);
    }

    #[test]
    fn other_city_lines() {
        assert_eq!(city_line("10115 Berlin").unwrap().0, "Berlin");
        assert_eq!(city_line("London SW1A 1AA").unwrap().2, "SW1A 1AA");
        assert_eq!(city_line("Montreal, QC H2X 1Y4").unwrap().3, Some("CA"));
        assert!(city_line("Hello world").is_none());
    }
}
