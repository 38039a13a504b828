//! The registry of named checks: each document kind lists its checks in output order, each
//! entry with its stable name, its default requirement, whether its failure means
//! `requires_retry`, and the function that runs it. Adding a check is one entry in
//! [`super::idv::CHECKS`] or [`super::address::CHECKS`] plus its test. Also owns the status
//! rule that turns the checks into a verification status.

use serde_json::{json, Value};
use time::Date;

use super::types::{Check, CheckStatus, Config, Requirement, VerificationStatus};
use super::{address, idv};
use crate::types::format_date;

/// What a check function found.
pub(crate) enum Verdict {
    /// The check ran: passed when `reasons` is empty, else failed.
    Ran(Vec<&'static str>, Value),
    /// The check could not run on this input.
    NotApplicable(Value),
}

impl Verdict {
    /// Ran with these reasons.
    pub(crate) fn of(reasons: Vec<&'static str>, metadata: Value) -> Self {
        Verdict::Ran(reasons, metadata)
    }

    /// Not applicable, with empty metadata.
    pub(crate) fn na() -> Self {
        Verdict::NotApplicable(json!({}))
    }
}

/// A check function over the facts `F` of one document kind.
pub(crate) type Run<F> = fn(&F) -> Verdict;

/// One registered check; `R` is its function type over the facts of its document kind,
/// `for<'a> fn(&Facts<'a>) -> Verdict`.
pub(crate) struct Spec<R> {
    /// Stable name (README table).
    pub(crate) name: &'static str,
    /// Requirement unless the configuration overrides it.
    pub(crate) default: Requirement,
    /// A failure means the files could not be read well enough: `requires_retry`.
    pub(crate) retry: bool,
    /// Runs the check.
    pub(crate) run: R,
}

impl<R> Spec<R> {
    /// A required check.
    pub(crate) const fn required(name: &'static str, run: R) -> Self {
        Spec {
            name,
            default: Requirement::Required,
            retry: false,
            run,
        }
    }

    /// A check reported only, unless the configuration requires it.
    pub(crate) const fn optional(name: &'static str, run: R) -> Self {
        Spec {
            name,
            default: Requirement::NotRequired,
            retry: false,
            run,
        }
    }

    /// A required readability check: its failure means `requires_retry`.
    pub(crate) const fn retry(name: &'static str, run: R) -> Self {
        Spec {
            name,
            default: Requirement::Required,
            retry: true,
            run,
        }
    }
}

/// Default requirement of each check, from the registry. Every check is required except
/// `duplicate_document`: the same document in another session is most often the same
/// person retrying or holding two accounts on purpose, which a reviewer should see rather
/// than an automatic decline. Tenants that forbid it set it to `required`. A name no
/// check carries is `required`.
pub fn default_requirement(check: &str) -> Requirement {
    idv::CHECKS
        .iter()
        .map(|s| (s.name, s.default))
        .chain(address::CHECKS.iter().map(|s| (s.name, s.default)))
        .find(|(name, _)| *name == check)
        .map_or(Requirement::Required, |(_, r)| r)
}

/// Runs every check of `specs` in order and applies the status rule: a failed retry check
/// → `requires_retry`; else any failed `required` check → `failed`; else `passed`.
pub(crate) fn run_all<F>(
    specs: &[Spec<Run<F>>],
    facts: &F,
    config: &Config,
) -> (VerificationStatus, Vec<Check>) {
    let mut checks = Vec::with_capacity(specs.len());
    let mut retry = false;
    for spec in specs {
        let (status, reasons, metadata) = match (spec.run)(facts) {
            Verdict::Ran(reasons, metadata) if reasons.is_empty() => {
                (CheckStatus::Passed, reasons, metadata)
            }
            Verdict::Ran(reasons, metadata) => (CheckStatus::Failed, reasons, metadata),
            Verdict::NotApplicable(metadata) => (CheckStatus::NotApplicable, Vec::new(), metadata),
        };
        retry |= spec.retry && status == CheckStatus::Failed;
        checks.push(Check {
            name: spec.name,
            status,
            reasons,
            requirement: config.requirement(spec.name),
            metadata: if metadata.is_object() {
                metadata
            } else {
                json!({})
            },
        });
    }
    let status = if retry {
        VerificationStatus::RequiresRetry
    } else if checks
        .iter()
        .any(|c| c.status == CheckStatus::Failed && c.requirement == Requirement::Required)
    {
        VerificationStatus::Failed
    } else {
        VerificationStatus::Passed
    };
    (status, checks)
}

/// Appends `r` unless it is already there.
pub(crate) fn push_unique(v: &mut Vec<&'static str>, r: &'static str) {
    if !v.contains(&r) {
        v.push(r);
    }
}

/// A date as metadata: `YYYY-MM-DD` or `null`.
pub(crate) fn date_json(d: Option<Date>) -> Value {
    d.map_or(Value::Null, |d| Value::String(format_date(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_kind_and_only_duplicate_document_is_optional() {
        let idv: Vec<&str> = idv::CHECKS.iter().map(|s| s.name).collect();
        let address: Vec<&str> = address::CHECKS.iter().map(|s| s.name).collect();
        for names in [&idv, &address] {
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{names:?}");
        }
        for name in idv.iter().chain(&address) {
            let expected = if *name == "duplicate_document" {
                Requirement::NotRequired
            } else {
                Requirement::Required
            };
            assert_eq!(default_requirement(name), expected, "{name}");
        }
        assert_eq!(default_requirement("no_such_check"), Requirement::Required);
    }
}
