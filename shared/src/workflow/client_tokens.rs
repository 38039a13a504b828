//! Issuing client tokens (API.md §9). Using one is authentication (`http::auth`); what a
//! token may do is decided where each endpoint checks its scope (`http::extract::Auth`).

use super::sessions::load_session;
use super::WorkflowError;
use crate::domain::auth::{hash_secret, Principal};
use crate::domain::client_token::{self, admits_tokens, CaptureStep, ClientToken};
use crate::domain::ids::{ClientTokenId, SessionId};
use crate::domain::session::DomainError;
use crate::domain::values::Timestamp;
use crate::store::Store;

/// A token just issued: the record as stored and the secret, shown once.
#[derive(Debug)]
pub struct Issued {
    /// The stored record.
    pub token: ClientToken,
    /// `ct_…`, never stored.
    pub secret: String,
}

/// Issues a token for session `id` on behalf of `issuer` (an API key), valid for
/// `ttl_seconds`. Refused (409) for a session that no longer admits tokens: decided,
/// expired (an overdue one is expired on the way) or redacted. Two round trips: the
/// session read and one conditional Put; older tokens stay valid.
pub async fn issue(
    store: &Store,
    issuer: &Principal,
    id: SessionId,
    ttl_seconds: u32,
    steps: Vec<CaptureStep>,
    now: Timestamp,
) -> Result<Issued, WorkflowError> {
    let tenancy = &issuer.tenancy;
    let session = load_session(store, tenancy, id, now)
        .await?
        .ok_or(WorkflowError::NotFound)?;
    if session.redacted_at.is_some() {
        return Err(DomainError::Redacted.into());
    }
    if !admits_tokens(&session, now) {
        return Err(DomainError::Closed {
            status: session.status(),
            action: "issue_client_token",
        }
        .into());
    }
    // No randomness, no token: a 500 rather than a guessable secret.
    let secret = client_token::new_secret().map_err(|_| {
        WorkflowError::Store(crate::store::StoreError::Dynamo {
            context: "drawing a client token",
            source: "the OS random source failed".into(),
        })
    })?;
    let token = ClientToken {
        id: ClientTokenId::new(now.datetime()),
        tenant: tenancy.tenant.clone(),
        environment: tenancy.environment,
        session_id: id,
        steps,
        issued_by: issuer.key_id,
        created_at: now,
        expires_at: now.add(time::Duration::seconds(i64::from(ttl_seconds))),
    };
    store
        .put_client_token(&hash_secret(&secret), &token)
        .await?;
    Ok(Issued { token, secret })
}
