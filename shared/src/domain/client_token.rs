//! Client tokens (API.md §9): what lets an applicant's browser act on one session, and
//! nothing else.
//!
//! A token is `ct_` and 43 base-62 characters (~256 bits); like an API key, only its SHA-256
//! is stored. It names one session of one tenancy and carries a fixed set of scopes, the
//! applicant's side of the session; every endpoint refuses a token unless it opted in
//! (`http::extract::Auth::require_allowing_client`), and an endpoint that did opts in only
//! for the token's own session. A token stops working when it expires, or for good once its
//! session is decided, expired or redacted ([`admits_tokens`]): revocation follows from the
//! session itself, so no decision has to find and revoke the tokens it ends.

use serde::{Deserialize, Serialize};

use super::auth::Permission;
use super::ids::{ApiKeyId, ClientTokenId, SessionId};
use super::session::{Session, SessionStatus};
use super::values::{Environment, Tenancy, TenantId, Timestamp};

/// Shortest lifetime a token may be given (`meta.ttl_seconds`).
pub const MIN_TTL_SECONDS: u32 = 60;
/// Longest lifetime (60 minutes).
pub const MAX_TTL_SECONDS: u32 = 3600;
/// The lifetime unless one is asked for (30 minutes).
pub const DEFAULT_TTL_SECONDS: u32 = 1800;

/// The scopes a token holds. They are checked like a key's, but only by the endpoints of
/// the applicant's side, each for the token's own session: reading the session, changing
/// its applicant data, registering its device (`sessions:read`, `sessions:write`), creating,
/// uploading and submitting its documents (`documents:*`) and reading its verifications.
pub const SCOPES: [Permission; 5] = [
    Permission::SessionsRead,
    Permission::SessionsWrite,
    Permission::DocumentsRead,
    Permission::DocumentsWrite,
    Permission::VerificationsRead,
];

/// A step of the hosted capture page the integrator asks for (`meta.steps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureStep {
    /// The identity document (always asked for).
    Idv,
    /// A proof of address.
    Address,
}

impl CaptureStep {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CaptureStep::Idv => "idv",
            CaptureStep::Address => "address",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<CaptureStep> {
        [CaptureStep::Idv, CaptureStep::Address]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A stored client token (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientToken {
    /// Public id (the actor of the events it causes).
    pub id: ClientTokenId,
    /// The tenancy of its session.
    pub tenant: TenantId,
    /// The environment of its session.
    pub environment: Environment,
    /// The one session it acts on.
    pub session_id: SessionId,
    /// What the capture page asks the applicant for.
    pub steps: Vec<CaptureStep>,
    /// The API key that issued it (its requests count against that key's rate limit).
    pub issued_by: ApiKeyId,
    /// Issue time.
    pub created_at: Timestamp,
    /// It stops working at this time.
    pub expires_at: Timestamp,
}

impl ClientToken {
    /// The tenancy its requests are confined to.
    pub fn tenancy(&self) -> Tenancy {
        Tenancy {
            tenant: self.tenant.clone(),
            environment: self.environment,
        }
    }

    /// True before its expiry (its session must admit tokens as well: [`admits_tokens`]).
    pub fn is_current(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// True when `session` still lets its applicant act: it is neither decided, nor expired
/// (or overdue), nor redacted. A completed or failed session still admits tokens, so the
/// page can show the outcome.
pub fn admits_tokens(session: &Session, now: Timestamp) -> bool {
    use SessionStatus as S;
    let open = match session.status() {
        S::Created | S::Started | S::Pending | S::Completed | S::Failed => true,
        S::MarkedForReview | S::Approved | S::Declined | S::Expired => false,
    };
    open && session.redacted_at.is_none() && !session.is_overdue(now)
}

/// True while the applicant may change the session's person, contact and address.
pub fn accepts_applicant_data(status: SessionStatus) -> bool {
    matches!(status, SessionStatus::Created | SessionStatus::Started)
}

/// Length of the random part of a token.
const SECRET_CHARS: usize = 43;

/// A new token: `ct_` and 43 base-62 characters. Fails only if the operating system refuses
/// randomness, in which case no token must be minted.
pub fn new_secret() -> Result<String, getrandom::Error> {
    Ok(format!("ct_{}", super::auth::random_base62(SECRET_CHARS)?))
}

/// True when `presented` has a token's shape; anything else is refused without a lookup.
pub fn has_token_shape(presented: &str) -> bool {
    presented.strip_prefix("ct_").is_some_and(|rest| {
        rest.len() == SECRET_CHARS && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::applicant::ApplicantData;
    use crate::domain::session::{Action, Creator, EntityType};

    fn session(now: Timestamp) -> Session {
        Session::new(
            SessionId::new(now.datetime()),
            Creator {
                kind: "api".into(),
                id: None,
            },
            EntityType::Person,
            None,
            ApplicantData::default(),
            None,
            now,
        )
    }

    #[test]
    fn tokens_have_the_documented_shape() {
        let a = new_secret().expect("random");
        let b = new_secret().expect("random");
        assert_ne!(a, b);
        assert!(has_token_shape(&a) && has_token_shape(&b));
        for bad in [
            "",
            "ct_",
            "ct_abc",
            "sk_staging_abc",
            &format!("{a}x"),
            &a.replace("ct_", "cx_"),
        ] {
            assert!(!has_token_shape(bad), "{bad}");
        }
        assert_eq!(CaptureStep::parse("address"), Some(CaptureStep::Address));
        assert_eq!(CaptureStep::parse("selfie"), None);
    }

    /// Deciding, expiring or redacting a session ends every token of it; completing or
    /// failing does not (the page shows the outcome).
    #[test]
    fn the_session_decides_whether_tokens_work() {
        let now = Timestamp::now();
        let day = time::Duration::days(1);
        let step = |s: &Session, a: Action| s.apply(a, now, day).expect("allowed").next;
        let s = session(now);
        assert!(admits_tokens(&s, now));
        let started = step(&s, Action::Start);
        let pending = step(&started, Action::Submit);
        let completed = step(&pending, Action::Complete);
        assert!(admits_tokens(&completed, now));
        assert!(admits_tokens(&step(&pending, Action::Fail), now));
        for action in [Action::Approve, Action::Decline, Action::MarkForReview] {
            assert!(!admits_tokens(&step(&completed, action), now));
        }
        assert!(!admits_tokens(&step(&started, Action::Expire), now));
        assert!(!admits_tokens(&s.redacted(now).expect("redact"), now));
        // Overdue but not yet swept: already over.
        assert!(!admits_tokens(&started, now.add(day + day)));
        assert!(accepts_applicant_data(started.status()));
        assert!(!accepts_applicant_data(pending.status()));
    }
}
