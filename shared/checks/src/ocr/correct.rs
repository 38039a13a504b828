//! Correction with proof: the only way a character read from a photo is changed.
//!
//! A character may be replaced only when
//! 1. the classifier was unsure of it (confidence below [`UNSURE`]),
//! 2. by one of its classifier alternatives that is also an OCR confusion of it
//!    ([`CONFUSABLE`]) and fits the position (digits where ICAO allows only digits),
//! 3. at most one replacement per check-digit field (its check digit included),
//! 4. when exactly one such candidate satisfies the field's check digit, and
//! 5. the composite check digit (where the layout has one) holds after every replacement;
//!    otherwise every replacement is undone.
//!
//! A field whose characters were all read confidently and whose check digit fails is never
//! touched: it stays a failed check digit. The result is then parsed by
//! [`crate::mrz::parse_strict`], which repairs nothing further.

use serde::Serialize;

use super::ReadChar;
use crate::mrz::{check_digit, MrzFormat};

/// Below this confidence a character counts as unsure.
pub const UNSURE: f32 = 0.5;

/// Groups of characters OCR-B readers confuse; a replacement stays inside its group.
pub const CONFUSABLE: [&str; 7] = ["O0DQU", "I1LTJ", "B8", "S5", "Z27", "G6", "A4"];

/// One replacement the check digits proved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correction {
    /// The check-digit field (`document_number`, `birth_date`, `expiry_date`,
    /// `optional_data` or `composite`).
    pub field: &'static str,
    /// 0-based line and column.
    pub line: usize,
    /// 0-based column.
    pub column: usize,
    /// Character read.
    pub from: char,
    /// Character kept.
    pub to: char,
    /// The classifier's confidence in `from`.
    pub confidence: f32,
}

/// What happened to one check-digit field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldVerdict {
    /// Field name as in [`Correction::field`].
    pub field: &'static str,
    /// The check digit held on the characters as read.
    pub passed_as_read: bool,
    /// Every character of the field (and its check digit) was read confidently.
    pub confident: bool,
    /// Single confusable replacements that satisfied the check digit (0, 1, or more:
    /// only exactly one is applied).
    pub candidates: usize,
}

/// The corrected text with its proof.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Corrected {
    /// Lines after correction.
    pub lines: Vec<String>,
    /// Replacements kept.
    pub corrections: Vec<Correction>,
    /// Per check-digit field.
    pub fields: Vec<FieldVerdict>,
    /// Replacements were found but undone because the composite digit failed after them.
    pub reverted: bool,
}

/// A check-digit field: value cells, the check-digit cell, digits only or not, and
/// whether `<` is an acceptable check digit (an empty TD3 personal number).
struct Field {
    name: &'static str,
    cells: Vec<(usize, usize)>,
    cd: (usize, usize),
    numeric: bool,
    filler_cd: bool,
}

fn span(line: usize, a: usize, b: usize) -> impl Iterator<Item = (usize, usize)> {
    (a..b).map(move |c| (line, c))
}

fn field(name: &'static str, line: usize, a: usize, b: usize, numeric: bool) -> Field {
    Field {
        name,
        cells: span(line, a, b).collect(),
        cd: (line, b),
        numeric,
        filler_cd: false,
    }
}

/// The check-digit fields of a layout and its composite (data cells, check cell).
fn layout(format: MrzFormat, text: &[Vec<char>]) -> (Vec<Field>, Option<Field>) {
    match format {
        MrzFormat::Td1 => {
            let mut f = vec![
                field("birth_date", 1, 0, 6, true),
                field("expiry_date", 1, 8, 14, true),
            ];
            // A `<` check digit announces a long number continued in the optional data:
            // that number is left to the strict parse, uncorrected.
            if text.first().and_then(|l| l.get(14)) != Some(&'<') {
                f.insert(0, field("document_number", 0, 5, 14, false));
            }
            let cells = span(0, 5, 30)
                .chain(span(1, 0, 7))
                .chain(span(1, 8, 15))
                .chain(span(1, 18, 29))
                .collect();
            (
                f,
                Some(Field {
                    name: "composite",
                    cells,
                    cd: (1, 29),
                    numeric: false,
                    filler_cd: false,
                }),
            )
        }
        MrzFormat::Td3 | MrzFormat::Td2 | MrzFormat::MrvA | MrzFormat::MrvB => {
            let long = format == MrzFormat::Td2 && text.get(1).and_then(|l| l.get(9)) == Some(&'<');
            let mut f = Vec::new();
            if !long {
                f.push(field("document_number", 1, 0, 9, false));
            }
            f.push(field("birth_date", 1, 13, 19, true));
            f.push(field("expiry_date", 1, 21, 27, true));
            let composite = match format {
                MrzFormat::Td3 => {
                    f.push(Field {
                        filler_cd: true,
                        ..field("optional_data", 1, 28, 42, false)
                    });
                    let cells = span(1, 0, 10)
                        .chain(span(1, 13, 20))
                        .chain(span(1, 21, 43))
                        .collect();
                    Some(Field {
                        name: "composite",
                        cells,
                        cd: (1, 43),
                        numeric: false,
                        filler_cd: false,
                    })
                }
                MrzFormat::Td2 => {
                    let cells = span(1, 0, 10)
                        .chain(span(1, 13, 20))
                        .chain(span(1, 21, 35))
                        .collect();
                    Some(Field {
                        name: "composite",
                        cells,
                        cd: (1, 35),
                        numeric: false,
                        filler_cd: false,
                    })
                }
                _ => None,
            };
            (f, composite)
        }
    }
}

fn at(text: &[Vec<char>], (l, c): (usize, usize)) -> char {
    text.get(l).and_then(|r| r.get(c)).copied().unwrap_or('?')
}

/// The field's check digit holds on `text`.
fn holds(f: &Field, text: &[Vec<char>]) -> bool {
    let value: String = f.cells.iter().map(|p| at(text, *p)).collect();
    let expected = match at(text, f.cd) {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '<' if f.filler_cd => Some(0),
        _ => None,
    };
    expected.is_some() && check_digit(&value) == expected
}

fn confusable(a: char, b: char) -> bool {
    a != b && CONFUSABLE.iter().any(|g| g.contains(a) && g.contains(b))
}

/// Whether `c` may stand at a cell: digits only in numeric fields and check digits.
fn fits(c: char, numeric: bool) -> bool {
    if numeric {
        c.is_ascii_digit()
    } else {
        c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<'
    }
}

/// Applies the rules of the module docs to a reading.
pub fn correct(format: MrzFormat, read: &[Vec<ReadChar>]) -> Corrected {
    let original: Vec<Vec<char>> = read
        .iter()
        .map(|l| l.iter().map(|c| c.ch).collect())
        .collect();
    let mut text = original.clone();
    let (fields, composite) = layout(format, &original);
    let cell = |(l, c): (usize, usize)| read.get(l).and_then(|r| r.get(c));
    let mut corrections = Vec::new();
    let mut verdicts = Vec::new();
    let mut all: Vec<&Field> = fields.iter().collect();
    all.extend(composite.iter());
    for f in &all {
        let is_composite = f.name == "composite";
        let passed_as_read = holds(f, &original);
        // The composite's own data cells belong to other fields: only its check digit
        // may be replaced on its behalf.
        let positions: Vec<((usize, usize), bool)> = if is_composite {
            vec![(f.cd, true)]
        } else {
            f.cells
                .iter()
                .map(|p| (*p, f.numeric))
                .chain(std::iter::once((f.cd, true)))
                .collect()
        };
        let confident = f
            .cells
            .iter()
            .chain(std::iter::once(&f.cd))
            .all(|p| cell(*p).is_some_and(|c| c.confidence >= UNSURE));
        let mut candidates: Vec<Correction> = Vec::new();
        if !passed_as_read && (!is_composite || fields.iter().all(|g| holds(g, &text))) {
            for (p, numeric) in positions {
                let Some(rc) = cell(p) else { continue };
                if rc.confidence >= UNSURE {
                    continue;
                }
                for (alt, _) in &rc.alternatives {
                    if !confusable(rc.ch, *alt) || !fits(*alt, numeric) {
                        continue;
                    }
                    let mut trial = text.clone();
                    if let Some(slot) = trial.get_mut(p.0).and_then(|r| r.get_mut(p.1)) {
                        *slot = *alt;
                    }
                    if holds(f, &trial) {
                        candidates.push(Correction {
                            field: f.name,
                            line: p.0,
                            column: p.1,
                            from: rc.ch,
                            to: *alt,
                            confidence: rc.confidence,
                        });
                    }
                }
            }
        }
        verdicts.push(FieldVerdict {
            field: f.name,
            passed_as_read,
            confident,
            candidates: candidates.len(),
        });
        if let [only] = candidates.as_slice() {
            if let Some(slot) = text.get_mut(only.line).and_then(|r| r.get_mut(only.column)) {
                *slot = only.to;
            }
            corrections.push(only.clone());
        }
    }
    let mut reverted = false;
    if let Some(c) = &composite {
        if !corrections.is_empty() && !holds(c, &text) {
            text = original;
            corrections.clear();
            reverted = true;
        }
    }
    Corrected {
        lines: text.iter().map(|l| l.iter().collect()).collect(),
        corrections,
        fields: verdicts,
        reverted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TD3: [&str; 2] = [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ];

    /// A reading of `lines` with every character sure.
    fn sure(lines: &[&str]) -> Vec<Vec<ReadChar>> {
        lines
            .iter()
            .map(|l| {
                l.chars()
                    .map(|ch| ReadChar {
                        ch,
                        confidence: 0.95,
                        alternatives: vec![(ch, 0.9)],
                    })
                    .collect()
            })
            .collect()
    }

    fn set(r: &mut [Vec<ReadChar>], line: usize, col: usize, ch: char, conf: f32, alts: &[char]) {
        let c = &mut r[line][col];
        c.ch = ch;
        c.confidence = conf;
        c.alternatives = std::iter::once(ch)
            .chain(alts.iter().copied())
            .map(|a| (a, 0.8))
            .collect();
    }

    #[test]
    fn clean_reading_is_untouched() {
        let c = correct(MrzFormat::Td3, &sure(&TD3));
        assert!(c.corrections.is_empty());
        assert!(c.fields.iter().all(|f| f.passed_as_read && f.confident));
        assert_eq!(c.lines, TD3);
    }

    #[test]
    fn unsure_confusable_is_replaced_when_the_check_digit_proves_it() {
        let mut r = sure(&TD3);
        set(&mut r, 1, 15, 'O', 0.2, &['0', 'D']); // birth date 740812 read as 74O812
        let c = correct(MrzFormat::Td3, &r);
        assert_eq!(c.lines, TD3);
        assert_eq!(c.corrections.len(), 1);
        assert_eq!(
            (
                c.corrections[0].field,
                c.corrections[0].from,
                c.corrections[0].to
            ),
            ("birth_date", 'O', '0')
        );
    }

    #[test]
    fn a_confident_wrong_character_is_never_repaired() {
        let mut r = sure(&TD3);
        set(&mut r, 1, 15, 'O', 0.9, &['0']);
        let c = correct(MrzFormat::Td3, &r);
        assert!(c.corrections.is_empty());
        let bd = c.fields.iter().find(|f| f.field == "birth_date").unwrap();
        assert!(!bd.passed_as_read && bd.confident);
        assert_eq!(c.lines[1].chars().nth(15), Some('O'));
    }

    #[test]
    fn a_printed_wrong_check_digit_of_a_confident_field_stays_wrong() {
        // Birth date check digit printed 3 instead of 2, all read confidently.
        let mut lines = TD3.map(String::from);
        lines[1].replace_range(19..20, "3");
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let c = correct(MrzFormat::Td3, &sure(&refs));
        assert!(c.corrections.is_empty());
        assert_eq!(c.lines[1], lines[1]);
    }

    #[test]
    fn only_confusable_alternatives_are_tried() {
        let mut r = sure(&TD3);
        // '0' read as 'X' (not a confusion of 0): alternatives include '0' but may not be used.
        set(&mut r, 1, 15, 'X', 0.1, &['0']);
        assert!(correct(MrzFormat::Td3, &r).corrections.is_empty());
        // A letter alternative in a digits-only field is refused too.
        set(&mut r, 1, 15, '0', 0.1, &['O']);
        let c = correct(MrzFormat::Td3, &r);
        assert!(c.corrections.is_empty());
        assert_eq!(c.lines, TD3);
    }

    /// TD3 line 2 of the specimen with another birth date, every check digit right.
    fn line2_with_birth(birth: &str) -> String {
        let cd = |s: &str| (b'0' + check_digit(s).unwrap()) as char;
        let mut l = format!("L898902C36UTO{birth}{}F1204159ZE184226B<<<<<1", cd(birth));
        let composite: String = format!("{}{}{}", &l[0..10], &l[13..20], &l[21..43]);
        l.push(cd(&composite));
        l
    }

    #[test]
    fn unique_candidate_in_a_field_is_applied() {
        // Truth 720101 (check 3); read 220101 with the first cell unsure, alternative 7.
        let truth = line2_with_birth("720101");
        let mut read = truth.clone();
        read.replace_range(13..14, "2");
        let mut r = sure(&[TD3[0], &read]);
        set(&mut r, 1, 13, '2', 0.2, &['7']);
        let c = correct(MrzFormat::Td3, &r);
        assert_eq!(c.lines[1], truth);
        let bd = c.fields.iter().find(|f| f.field == "birth_date").unwrap();
        assert_eq!((bd.passed_as_read, bd.candidates), (false, 1));
    }

    #[test]
    fn ambiguous_candidates_are_refused() {
        // 2→7 adds 5 to the weighted sum whatever the weight (7, 3 or 1), so with two unsure
        // '2's both single replacements satisfy the same check digit: refuse both.
        let truth = line2_with_birth("720101");
        let mut read = truth.clone();
        read.replace_range(13..14, "2");
        let mut r = sure(&[TD3[0], &read]);
        set(&mut r, 1, 13, '2', 0.2, &['7']);
        set(&mut r, 1, 14, '2', 0.2, &['7']);
        let c = correct(MrzFormat::Td3, &r);
        let bd = c.fields.iter().find(|f| f.field == "birth_date").unwrap();
        assert_eq!(bd.candidates, 2);
        assert!(c.corrections.iter().all(|x| x.field != "birth_date"));
        assert_eq!(c.lines[1], read);
    }

    #[test]
    fn corrections_are_undone_when_the_composite_fails() {
        // Birth date fixed by a unique candidate, but the composite digit is wrong as
        // printed (and read confidently): nothing is kept.
        let mut lines = TD3.map(String::from);
        lines[1].replace_range(43..44, "5");
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut r = sure(&refs);
        set(&mut r, 1, 15, 'O', 0.2, &['0']);
        let c = correct(MrzFormat::Td3, &r);
        assert!(c.reverted);
        assert!(c.corrections.is_empty());
        assert_eq!(c.lines[1].chars().nth(15), Some('O'));
    }

    #[test]
    fn at_most_one_replacement_per_field() {
        let mut r = sure(&TD3);
        set(&mut r, 1, 15, 'O', 0.2, &['0']);
        set(&mut r, 1, 17, 'I', 0.2, &['1']); // two wrong cells in the birth date
        let c = correct(MrzFormat::Td3, &r);
        assert!(c.corrections.iter().all(|x| x.field != "birth_date"));
        assert_ne!(c.lines[1], TD3[1]);
    }
}
