//! Verifications: one run of the document checks over a document, with the session data it
//! was compared against, and its result. They are immutable once written, except that
//! redaction nulls what they extracted.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Date;

use super::ids::{DocumentId, SessionId, VerificationId};
use super::values::{opt_date, Timestamp};

/// What a verification checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationKind {
    /// A government ID (`verification/idv`, on a `document/idv`).
    Idv,
    /// A proof of address (`verification/address`, on a `document/address`).
    Address,
}

impl VerificationKind {
    /// The JSON:API type.
    pub fn resource_type(&self) -> &'static str {
        match self {
            VerificationKind::Idv => "verification/idv",
            VerificationKind::Address => "verification/address",
        }
    }

    /// From a JSON:API type.
    pub fn from_resource_type(s: &str) -> Option<VerificationKind> {
        match s {
            "verification/idv" => Some(VerificationKind::Idv),
            "verification/address" => Some(VerificationKind::Address),
            _ => None,
        }
    }

    /// The document kind it needs.
    pub fn document_kind(&self) -> super::document::DocumentKind {
        match self {
            VerificationKind::Idv => super::document::DocumentKind::Idv,
            VerificationKind::Address => super::document::DocumentKind::Address,
        }
    }
}

/// The result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Every required check passed.
    Passed,
    /// A required check failed.
    Failed,
    /// The images or the document could not be read: the applicant should try again.
    RequiresRetry,
}

impl VerificationStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            VerificationStatus::Passed => "passed",
            VerificationStatus::Failed => "failed",
            VerificationStatus::RequiresRetry => "requires_retry",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<VerificationStatus> {
        match s {
            "passed" => Some(VerificationStatus::Passed),
            "failed" => Some(VerificationStatus::Failed),
            "requires_retry" => Some(VerificationStatus::RequiresRetry),
            _ => None,
        }
    }
}

/// A verification as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// Its id.
    pub id: VerificationId,
    /// ID or address.
    pub kind: VerificationKind,
    /// The result.
    pub status: VerificationStatus,
    /// Every check: `{name, status, reasons, requirement, metadata}` (stored as JSON text
    /// so a re-read renders byte for byte what the engine produced).
    #[serde(with = "super::values::json_text")]
    pub checks: Value,
    /// What the documents said (personal data: nulled by redaction).
    #[serde(with = "super::values::json_text")]
    pub extracted: Option<Value>,
    /// The version of the rules that produced it.
    pub rule_set_version: String,
    /// The date the rules were evaluated against (expiry, age, recency).
    #[serde(with = "opt_date")]
    pub evaluated_on: Option<Date>,
    /// The document checked.
    pub document_id: DocumentId,
    /// The session it belongs to.
    pub session_id: Option<SessionId>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Completion time (processing is synchronous: equal to `created_at`'s request).
    pub completed_at: Option<Timestamp>,
    /// Redaction time.
    pub redacted_at: Option<Timestamp>,
}

impl Verification {
    /// The verification with its extracted data and its checks' metadata (which echo the
    /// parsed MRZ and barcode) removed; `None` if it already was.
    pub fn redacted(&self, now: Timestamp) -> Option<Verification> {
        if self.redacted_at.is_some() {
            return None;
        }
        let mut next = self.clone();
        next.extracted = None;
        if let Value::Array(checks) = &mut next.checks {
            for check in checks {
                if let Some(o) = check.as_object_mut() {
                    o.insert("metadata".into(), Value::Object(serde_json::Map::new()));
                }
            }
        }
        next.redacted_at = Some(now);
        Some(next)
    }
}

/// What a session remembers of each of its verifications: enough to apply the completion
/// rule without reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRef {
    /// The verification.
    pub id: VerificationId,
    /// Its kind.
    pub kind: VerificationKind,
    /// Its result.
    pub status: VerificationStatus,
}
