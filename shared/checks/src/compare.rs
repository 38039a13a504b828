//! Comparing what a document says with what the session holds: names token by token,
//! addresses field by field. Read `engine` for how the results become checks.
//!
//! Names are folded (Unicode NFKD, combining marks dropped, upper case, punctuation,
//! hyphens and apostrophes ignored) and also transliterated the ICAO 9303 way (Ä→AE,
//! ß→SS, Ø→OE, Å→AA, Þ→TH, …); two tokens match when any form of one equals any form of
//! the other, so `Müller` matches both `MUELLER` (MRZ) and `MULLER` (barcode). A document
//! name flagged or suspected truncated matches when it is a prefix. Middle names are
//! optional: when both sides have them they must agree (an initial agrees with a name).

use serde::Serialize;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::types::{Address, PersonName};

/// ICAO 9303 Part 3 transliteration of Latin letters with no plain decomposition.
fn icao_transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'Ä' | 'ä' => "AE",
        'Ö' | 'ö' => "OE",
        'Ü' | 'ü' => "UE",
        'ß' => "SS",
        'Æ' | 'æ' => "AE",
        'Ø' | 'ø' => "OE",
        'Å' | 'å' => "AA",
        'Þ' | 'þ' => "TH",
        'Œ' | 'œ' => "OE",
        'Ĳ' | 'ĳ' => "IJ",
        'Ð' | 'ð' | 'Đ' | 'đ' => "D",
        'Ł' | 'ł' => "L",
        'Ħ' | 'ħ' => "H",
        'ı' => "I",
        _ => return None,
    })
}

/// Letters that NFKD does not decompose but that fold to a plain letter.
fn simple_fold(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "SS",
        'Æ' | 'æ' => "AE",
        'Ø' | 'ø' => "O",
        'Þ' | 'þ' => "TH",
        'Œ' | 'œ' => "OE",
        'Ð' | 'ð' | 'Đ' | 'đ' => "D",
        'Ł' | 'ł' => "L",
        'Ħ' | 'ħ' => "H",
        'ı' => "I",
        _ => return None,
    })
}

fn fold_with(s: &str, special: fn(char) -> Option<&'static str>) -> String {
    let mut pre = String::with_capacity(s.len());
    for c in s.chars() {
        match special(c) {
            Some(r) => pre.push_str(r),
            None => pre.push(c),
        }
    }
    let mut out = String::with_capacity(pre.len());
    for c in pre.nfkd() {
        if is_combining_mark(c) || c == '\'' || c == '’' || c == '`' || c == '.' {
            continue;
        }
        if c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(' ');
        }
    }
    out
}

/// Folded tokens: NFKD without marks, upper case, punctuation as separators.
pub fn fold_tokens(s: &str) -> Vec<String> {
    fold_with(s, simple_fold)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Tokens after ICAO transliteration.
pub fn icao_tokens(s: &str) -> Vec<String> {
    fold_with(s, icao_transliterate)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Both token forms of a name part (identical when the text has no special letters).
fn forms(s: &str) -> [Vec<String>; 2] {
    [fold_tokens(s), icao_tokens(s)]
}

fn token_eq(a: &str, b: &str, prefix_ok: bool) -> bool {
    a == b || (prefix_ok && !a.is_empty() && b.starts_with(a))
}

/// Does the document's name part `doc` match the session's `session`?
/// `truncated`: the document's value may be cut short.
pub fn part_matches(session: &str, doc: &str, truncated: bool) -> bool {
    let s_forms = forms(session);
    let d_forms = forms(doc);
    s_forms.iter().any(|s| {
        d_forms.iter().any(|d| {
            if s.is_empty() || d.is_empty() {
                return false;
            }
            let (sj, dj) = (s.concat(), d.concat());
            // Spacing differs between sources ("MC DONALD" vs "MCDONALD").
            sj == dj
                || (truncated && !dj.is_empty() && sj.starts_with(&dj))
                || (s.len() == d.len() && s.iter().zip(d).all(|(a, b)| a == b))
        })
    })
}

/// Given names as a token list in both forms: first then middle.
fn given(name: &PersonName) -> [Vec<String>; 2] {
    let joined = format!(
        "{} {}",
        name.first.as_deref().unwrap_or(""),
        name.middle.as_deref().unwrap_or("")
    );
    forms(&joined)
}

/// Result of a name comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameComparison {
    /// Everything compared agrees.
    pub matched: bool,
    /// `last_name_mismatch`, `first_name_mismatch`, `middle_name_mismatch`,
    /// `name_missing`.
    pub reasons: Vec<&'static str>,
}

/// Truncation hints from the document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TruncationHints {
    /// Family name may be cut.
    pub last: bool,
    /// Given names may be cut.
    pub given: bool,
}

/// Compares a session name with a document name (see module docs).
pub fn compare_names(
    session: &PersonName,
    doc: &PersonName,
    hints: TruncationHints,
) -> NameComparison {
    let mut reasons = Vec::new();
    match (session.last.as_deref(), doc.last.as_deref()) {
        (Some(s), Some(d)) => {
            if !part_matches(s, d, hints.last) {
                reasons.push("last_name_mismatch");
            }
        }
        _ => reasons.push("name_missing"),
    }
    let s_given = given(session);
    let d_given = given(doc);
    let any_given = |g: &[Vec<String>; 2]| g.iter().any(|t| !t.is_empty());
    if !any_given(&s_given) || !any_given(&d_given) {
        reasons.push("name_missing");
    } else {
        let mut first_ok = false;
        let mut middle_ok = false;
        for s in &s_given {
            for d in &d_given {
                let (Some(sf), Some(df)) = (s.first(), d.first()) else {
                    continue;
                };
                let last_tok = d.len() == 1;
                if !token_eq(df, sf, hints.given && last_tok) && !token_eq(sf, df, false) {
                    continue;
                }
                first_ok = true;
                if middles_agree(
                    s.get(1..).unwrap_or(&[]),
                    d.get(1..).unwrap_or(&[]),
                    hints.given,
                ) {
                    middle_ok = true;
                }
            }
        }
        if !first_ok {
            reasons.push("first_name_mismatch");
        } else if !middle_ok {
            reasons.push("middle_name_mismatch");
        }
    }
    reasons.dedup();
    NameComparison {
        matched: reasons.is_empty(),
        reasons,
    }
}

/// Middle names are optional; when both sides have some, the shorter list must appear in
/// the longer in order, a single letter standing for a name.
fn middles_agree(a: &[String], b: &[String], truncated: bool) -> bool {
    if a.is_empty() || b.is_empty() {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut it = long.iter();
    short.iter().all(|t| {
        it.any(|l| {
            l == t
                || (t.chars().count() == 1 && l.starts_with(t.as_str()))
                || (l.chars().count() == 1 && t.starts_with(l.as_str()))
                || (truncated && l.starts_with(t.as_str()))
        })
    })
}

/// Canonical short forms of street-address words (USPS-style and a few European ones).
fn canonical(token: &str) -> &str {
    match token {
        "STREET" | "STR" | "ST" => "ST",
        "AVENUE" | "AVE" | "AV" => "AVE",
        "ROAD" | "RD" => "RD",
        "BOULEVARD" | "BLVD" => "BLVD",
        "DRIVE" | "DR" => "DR",
        "LANE" | "LN" => "LN",
        "COURT" | "CT" => "CT",
        "PLACE" | "PL" => "PL",
        "HIGHWAY" | "HWY" => "HWY",
        "PARKWAY" | "PKWY" => "PKWY",
        "CIRCLE" | "CIR" => "CIR",
        "TERRACE" | "TER" => "TER",
        "SQUARE" | "SQ" => "SQ",
        "APARTMENT" | "APT" | "UNIT" | "NO" | "NUMBER" => "APT",
        "SUITE" | "STE" => "STE",
        "FLOOR" | "FL" => "FL",
        "NORTH" | "N" => "N",
        "SOUTH" | "S" => "S",
        "EAST" | "E" => "E",
        "WEST" | "W" => "W",
        "NORTHEAST" | "NE" => "NE",
        "NORTHWEST" | "NW" => "NW",
        "SOUTHEAST" | "SE" => "SE",
        "SOUTHWEST" | "SW" => "SW",
        "STRASSE" | "STRAßE" => "STR",
        "MOUNT" | "MT" => "MT",
        "SAINT" => "ST",
        other => other,
    }
}

/// Normalised address tokens: folded, `#` read as "apartment", abbreviations canonical,
/// and a "STRASSE" suffix split off (`HAUPTSTRASSE` → `HAUPT STR`).
pub fn address_tokens(s: &str) -> Vec<String> {
    let s = s.replace('#', " APT ");
    let mut out = Vec::new();
    for t in fold_tokens(&s) {
        let stem = t
            .strip_suffix("STRASSE")
            .or_else(|| t.strip_suffix("STR").filter(|x| x.len() >= 3));
        if let Some(stem) = stem.filter(|x| !x.is_empty()) {
            out.push(stem.to_string());
            out.push("STR".to_string());
            continue;
        }
        out.push(canonical(&t).to_string());
    }
    out
}

fn postal_norm(p: &str) -> String {
    p.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// Result of an address comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressComparison {
    /// Everything compared agrees and at least the street plus a postal code or city was
    /// compared.
    pub matched: bool,
    /// Fields that were compared.
    pub compared: Vec<&'static str>,
    /// `postal_code_mismatch`, `city_mismatch`, `street_mismatch`, `country_mismatch`,
    /// `address_incomplete`.
    pub reasons: Vec<&'static str>,
}

/// Compares a session address with a document address.
pub fn compare_addresses(session: &Address, doc: &Address) -> AddressComparison {
    let mut compared = Vec::new();
    let mut reasons = Vec::new();
    if let (Some(s), Some(d)) = (&session.postal_code, &doc.postal_code) {
        compared.push("postal_code");
        let (s, d) = (postal_norm(s), postal_norm(d));
        let us = |p: &str| p.len() >= 5 && p.chars().take(5).all(|c| c.is_ascii_digit());
        // US ZIP+4 against ZIP5: the first five digits decide.
        let same = if us(&s) && us(&d) {
            s.get(..5) == d.get(..5)
        } else {
            s == d
        };
        if !same {
            reasons.push("postal_code_mismatch");
        }
    }
    if let (Some(s), Some(d)) = (&session.city, &doc.city) {
        compared.push("city");
        if fold_tokens(s).concat() != fold_tokens(d).concat() {
            reasons.push("city_mismatch");
        }
    }
    if let (Some(s), Some(d)) = (&session.country_code, &doc.country_code) {
        compared.push("country_code");
        if !s.eq_ignore_ascii_case(d) {
            reasons.push("country_mismatch");
        }
    }
    let street = |a: &Address| {
        let mut t = address_tokens(a.line1.as_deref().unwrap_or(""));
        t.extend(address_tokens(a.line2.as_deref().unwrap_or("")));
        t
    };
    let (s_street, d_street) = (street(session), street(doc));
    if !s_street.is_empty() && !d_street.is_empty() {
        compared.push("line1");
        // House numbers must agree, and the shorter street must be contained in the longer
        // (one side may omit the apartment).
        let numbers = |t: &[String]| -> Vec<String> {
            t.iter()
                .filter(|x| x.chars().any(|c| c.is_ascii_digit()))
                .cloned()
                .collect()
        };
        let (sn, dn) = (numbers(&s_street), numbers(&d_street));
        let number_ok = sn.first() == dn.first();
        let (short, long) = if s_street.len() <= d_street.len() {
            (&s_street, &d_street)
        } else {
            (&d_street, &s_street)
        };
        let words_ok = short
            .iter()
            .filter(|t| t.as_str() != "APT")
            .all(|t| long.contains(t));
        if !number_ok || !words_ok {
            reasons.push("street_mismatch");
        }
    }
    let enough = compared.contains(&"line1")
        && (compared.contains(&"postal_code") || compared.contains(&"city"));
    if !enough {
        reasons.push("address_incomplete");
    }
    AddressComparison {
        matched: reasons.is_empty(),
        compared,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(first: &str, middle: Option<&str>, last: &str) -> PersonName {
        PersonName {
            first: Some(first.into()),
            middle: middle.map(Into::into),
            last: Some(last.into()),
        }
    }

    #[test]
    fn folding_and_transliteration() {
        assert_eq!(
            fold_tokens("Jean-Luc O'Brien"),
            vec!["JEAN", "LUC", "OBRIEN"]
        );
        assert_eq!(icao_tokens("Müller"), vec!["MUELLER"]);
        assert_eq!(fold_tokens("Müller"), vec!["MULLER"]);
        assert_eq!(
            icao_tokens("Strauß Ørsted Åsa Þór"),
            vec!["STRAUSS", "OERSTED", "AASA", "THOR"]
        );
        assert!(part_matches("Müller", "MUELLER", false));
        assert!(part_matches("Müller", "MULLER", false));
        assert!(part_matches("José", "JOSE", false));
        assert!(!part_matches("Miller", "MUELLER", false));
    }

    #[test]
    fn names_match_token_wise() {
        let doc = name("ANNA", Some("MARIA"), "ERIKSSON");
        let session = name("Anna Maria", None, "Eriksson");
        assert!(compare_names(&session, &doc, TruncationHints::default()).matched);
        // Middle names optional.
        assert!(
            compare_names(
                &name("Anna", None, "Eriksson"),
                &doc,
                TruncationHints::default()
            )
            .matched
        );
        // Initial.
        assert!(
            compare_names(
                &name("Anna", Some("M."), "Eriksson"),
                &doc,
                TruncationHints::default()
            )
            .matched
        );
        let r = compare_names(
            &name("Anna", Some("Louise"), "Eriksson"),
            &doc,
            TruncationHints::default(),
        );
        assert_eq!(r.reasons, vec!["middle_name_mismatch"]);
        let r = compare_names(
            &name("Anne", None, "Eriksson"),
            &doc,
            TruncationHints::default(),
        );
        assert_eq!(r.reasons, vec!["first_name_mismatch"]);
        let r = compare_names(
            &name("Anna", None, "Erikson"),
            &doc,
            TruncationHints::default(),
        );
        assert_eq!(r.reasons, vec!["last_name_mismatch"]);
    }

    #[test]
    fn truncated_names_match_as_prefix() {
        let doc = name("MAXIMILIA", None, "WOLFESCHLEGELSTEINHAUS");
        let session = name("Maximilian", None, "Wolfeschlegelsteinhausen");
        assert!(!compare_names(&session, &doc, TruncationHints::default()).matched);
        let hints = TruncationHints {
            last: true,
            given: true,
        };
        assert!(compare_names(&session, &doc, hints).matched);
    }

    #[test]
    fn addresses_normalise_abbreviations() {
        let doc = Address {
            line1: Some("2300 WEST BROAD STREET".into()),
            city: Some("RICHMOND".into()),
            subdivision: Some("VA".into()),
            postal_code: Some("23269-0000".into()),
            country_code: Some("US".into()),
            ..Address::default()
        };
        let session = Address {
            line1: Some("2300 W. Broad St".into()),
            line2: Some("Apt #4".into()),
            city: Some("Richmond".into()),
            postal_code: Some("23269".into()),
            country_code: Some("US".into()),
            ..Address::default()
        };
        let r = compare_addresses(&session, &doc);
        assert!(r.matched, "{r:?}");
        let moved = Address {
            line1: Some("12 Elm Road".into()),
            postal_code: Some("10001".into()),
            city: Some("New York".into()),
            ..session.clone()
        };
        let r = compare_addresses(&moved, &doc);
        assert_eq!(
            r.reasons,
            vec!["postal_code_mismatch", "city_mismatch", "street_mismatch"]
        );
        let r = compare_addresses(&Address::default(), &doc);
        assert_eq!(r.reasons, vec!["address_incomplete"]);
    }

    #[test]
    fn german_street_suffix() {
        assert_eq!(address_tokens("Hauptstraße 5"), vec!["HAUPT", "STR", "5"]);
        assert_eq!(address_tokens("Hauptstr. 5"), vec!["HAUPT", "STR", "5"]);
    }
}
