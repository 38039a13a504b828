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
    /// Redaction time.
    pub redacted_at: Option<Timestamp>,
}

impl Account {
    /// The account with its personal data removed, or `None` if it already was.
    pub fn redacted(&self, now: Timestamp) -> Option<Account> {
        if self.redacted_at.is_some() {
            return None;
        }
        let now = now.at_least(self.updated_at);
        let mut next = self.clone();
        next.data = ApplicantData::default();
        next.redacted_at = Some(now);
        next.updated_at = now;
        next.version += 1;
        Some(next)
    }
}
