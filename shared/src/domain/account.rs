//! Accounts: the integrator's user, the anchor sessions and documents hang off.

use serde::{Deserialize, Serialize};

use super::applicant::ApplicantData;
use super::ids::AccountId;
use super::session::EntityType;
use super::values::Timestamp;

/// An account's standing, set by the integrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// In good standing (the default).
    Active,
    /// Awaiting something on the integrator's side.
    Pending,
    /// No longer used.
    Inactive,
    /// Blocked.
    Suspended,
}

impl AccountStatus {
    /// Every status.
    pub const ALL: [AccountStatus; 4] = [
        AccountStatus::Active,
        AccountStatus::Pending,
        AccountStatus::Inactive,
        AccountStatus::Suspended,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Pending => "pending",
            AccountStatus::Inactive => "inactive",
            AccountStatus::Suspended => "suspended",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Incremented by every write; writes are conditional on it.
    pub version: u64,
    /// Its standing.
    pub status: AccountStatus,
    /// The integrator's own reference, unique per tenant and environment. Kept on
    /// redaction: it is the integrator's key, not the applicant's data.
    pub external_id: Option<String>,
    /// Person or business.
    pub entity_type: EntityType,
    /// Personal data.
    pub data: ApplicantData,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Redaction time (set once the redaction has reached every session and document).
    pub redacted_at: Option<Timestamp>,
    /// A redaction in progress: the account's own data is already gone, and nothing new
    /// may be attached to it, while its sessions and documents are being redacted.
    #[serde(default)]
    pub redaction: Option<RedactionProgress>,
}

/// How far an account's redaction has got (shown as the account's `meta.redaction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionProgress {
    /// When it started.
    pub started_at: Timestamp,
    /// Sessions redacted so far.
    pub sessions_redacted: u64,
    /// Documents linked to the account directly redacted so far.
    pub documents_redacted: u64,
}

impl Account {
    /// True once a redaction has started (or finished): nothing new may be attached to the
    /// account, and its data cannot change.
    pub fn is_redacting_or_redacted(&self) -> bool {
        self.redacted_at.is_some() || self.redaction.is_some()
    }

    /// The first step of a redaction: the account's own personal data removed and the
    /// redaction marked in progress; `None` if one already started (or finished).
    pub fn redaction_started(&self, now: Timestamp) -> Option<Account> {
        if self.is_redacting_or_redacted() {
            return None;
        }
        let now = now.at_least(self.updated_at);
        let mut next = self.clone();
        next.data = ApplicantData::default();
        next.redaction = Some(RedactionProgress {
            started_at: now,
            sessions_redacted: 0,
            documents_redacted: 0,
        });
        next.updated_at = now;
        next.version += 1;
        Some(next)
    }

    /// The account with `sessions` and `documents` more counted as redacted; `None` if no
    /// redaction is in progress or nothing was added.
    pub fn redaction_progressed(&self, sessions: u64, documents: u64) -> Option<Account> {
        let progress = self.redaction.as_ref()?;
        if sessions == 0 && documents == 0 {
            return None;
        }
        let mut next = self.clone();
        next.redaction = Some(RedactionProgress {
            started_at: progress.started_at,
            sessions_redacted: progress.sessions_redacted + sessions,
            documents_redacted: progress.documents_redacted + documents,
        });
        next.version += 1;
        Some(next)
    }

    /// The last step: every session and document is redacted; `redacted_at` is set and the
    /// progress removed. `None` if it already was (or none started).
    pub fn redaction_finished(&self, now: Timestamp) -> Option<Account> {
        if self.redacted_at.is_some() {
            return None;
        }
        let now = now.at_least(self.updated_at);
        let mut next = self.clone();
        // An account marked before this code existed has no progress: finish it alike.
        next.data = ApplicantData::default();
        next.redaction = None;
        next.redacted_at = Some(now);
        next.updated_at = now;
        next.version += 1;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_starts_once_then_progresses_then_finishes_once() {
        let now = Timestamp::parse("2025-01-15T10:30:00Z").expect("ts");
        let account = Account {
            id: AccountId::parse("acc_01HQ0000000000000000000000").expect("id"),
            version: 1,
            status: AccountStatus::Active,
            external_id: Some("user-1".into()),
            entity_type: EntityType::Person,
            data: ApplicantData::default(),
            created_at: now,
            updated_at: now,
            redacted_at: None,
            redaction: None,
        };
        assert!(!account.is_redacting_or_redacted());
        let started = account.redaction_started(now).expect("starts");
        assert!(started.is_redacting_or_redacted());
        assert!(started.redaction_started(now).is_none(), "only once");
        let more = started.redaction_progressed(2, 1).expect("progress");
        let p = more.redaction.as_ref().expect("in progress");
        assert_eq!((p.sessions_redacted, p.documents_redacted), (2, 1));
        assert_eq!(more.version, started.version + 1);
        let done = more.redaction_finished(now).expect("finishes");
        assert!(done.redaction.is_none() && done.redacted_at.is_some());
        assert!(done.redaction_finished(now).is_none());
        assert!(done.redaction_started(now).is_none());
        assert_eq!(done.external_id.as_deref(), Some("user-1"), "kept");
    }
}
