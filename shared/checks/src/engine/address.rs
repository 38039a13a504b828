//! Proofs of address (utility bills, bank statements): phase 1 reads the first PDF's text
//! layer ([`extract_address`]), phase 2 ([`evaluate_address`]) runs the registered address
//! checks (`CHECKS`) against the session's name and address.

use serde_json::json;

use super::files;
use super::registry::{date_json, push_unique, run_all, Spec, Verdict};
use super::types::{
    AddressContext, AddressExtracted, AddressExtraction, Config, Extracted, Outcome,
    RULE_SET_VERSION,
};
use crate::address_doc::{self, AddressDocument};
use crate::compare::{compare_addresses, compare_names, TruncationHints};
use crate::types::{InputFile, PersonName};

/// Phase 1 for proof-of-address documents: reads the first PDF with a text layer.
/// Images are reported (quality measured) but carry no text layer: this crate does no OCR.
pub fn extract_address(files: &[InputFile], cfg: &Config) -> AddressExtraction {
    let mut out = AddressExtraction {
        files: Vec::new(),
        document: None,
    };
    let reports = files::read_each(files, cfg, |file, report, budget| match report.detected {
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
        _ => report.error = Some(files::unusable(file)),
    });
    out.files = reports;
    out
}

/// What every address check reads.
pub(crate) struct AddressFacts<'a> {
    ext: &'a AddressExtraction,
    ctx: &'a AddressContext<'a>,
}

impl AddressFacts<'_> {
    fn document(&self) -> Option<&AddressDocument> {
        self.ext.document.as_ref()
    }
}

/// Phase 2 for proof-of-address documents: runs `CHECKS` (README table).
pub fn evaluate_address(ext: &AddressExtraction, ctx: &AddressContext) -> Outcome {
    let facts = AddressFacts { ext, ctx };
    let (status, checks) = run_all(CHECKS, &facts, ctx.config);
    let doc = ext.document.as_ref();
    let extracted = AddressExtracted {
        name: doc.and_then(|d| d.name.clone()),
        address: doc.map(|d| d.address.clone()).filter(|a| !a.is_empty()),
        issue_date: doc.and_then(|d| d.issue_date),
        issuer: doc.and_then(|d| d.issuer.clone()),
    };
    Outcome {
        status,
        checks,
        extracted: Extracted::Address(extracted),
        rule_set_version: RULE_SET_VERSION,
    }
}

/// A registered check over [`AddressFacts`].
pub(crate) type AddressCheck = Spec<for<'a> fn(&AddressFacts<'a>) -> Verdict>;

/// The proof-of-address checks in output order (README table), with their default
/// requirements.
pub(crate) const CHECKS: &[AddressCheck] = &[
    AddressCheck::retry("document_readable", document_readable),
    AddressCheck::required("document_recent", document_recent),
    AddressCheck::required("name_comparison", name_comparison),
    AddressCheck::required("address_comparison", address_comparison),
];

fn document_readable(f: &AddressFacts) -> Verdict {
    let (ext, doc) = (f.ext, f.document());
    let mut reasons = Vec::new();
    if doc.is_none() {
        if ext.files.is_empty() {
            reasons.push("no_files");
        }
        for file in &ext.files {
            if let Some(e) = file.error {
                push_unique(&mut reasons, e);
            }
        }
        if reasons.is_empty() {
            reasons.push("no_text_layer");
        }
    }
    Verdict::of(
        reasons,
        json!({
            "files": ext.files,
            "document_type": doc.map(|d| d.document_type),
            "issuer_recognised": doc.map(|d| d.issuer_recognised),
            "issue_date_label": doc.and_then(|d| d.issue_date_label.clone()),
            "line_count": doc.map(|d| d.line_count),
        }),
    )
}

fn document_recent(f: &AddressFacts) -> Verdict {
    let Some(d) = f.document() else {
        return Verdict::na();
    };
    let max = f.ctx.config.max_address_age_days;
    let (r, age): (Vec<&'static str>, Option<i64>) = match d.issue_date {
        None => (vec!["issue_date_not_found"], None),
        Some(i) => {
            let age = (f.ctx.evaluated_on - i).whole_days();
            if age < 0 {
                (vec!["issue_date_in_future"], Some(age))
            } else if age > i64::from(max) {
                (vec!["document_too_old"], Some(age))
            } else {
                (Vec::new(), Some(age))
            }
        }
    };
    Verdict::of(
        r,
        json!({ "issue_date": date_json(d.issue_date), "age_days": age, "max_age_days": max }),
    )
}

fn name_comparison(f: &AddressFacts) -> Verdict {
    let session_name = f.ctx.session.as_ref().and_then(|s| s.name.as_ref());
    match (f.document(), session_name) {
        (Some(d), Some(name)) => {
            let r = match &d.name {
                None => vec!["name_not_found"],
                Some(n) => {
                    // The addressee line is free text: split it like a person's name.
                    let doc_name = split_free_name(n);
                    compare_names(name, &doc_name, TruncationHints::default()).reasons
                }
            };
            Verdict::of(r, json!({ "document_name": d.name }))
        }
        _ => Verdict::na(),
    }
}

fn address_comparison(f: &AddressFacts) -> Verdict {
    let session_address = f.ctx.session.as_ref().and_then(|s| s.address.as_ref());
    match (f.document(), session_address) {
        (Some(d), Some(a)) => {
            let cmp = compare_addresses(a, &d.address);
            Verdict::of(cmp.reasons.clone(), json!({ "compared": cmp.compared }))
        }
        _ => Verdict::na(),
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
