//! The application layer: every use case of the service, as a read–decide–write loop.
//!
//! A use case reads what it needs from the store, lets the domain decide (state machines,
//! caps, validation), and hands the store typed [`Write`]s to apply in one conditional
//! transaction. When a condition fails, the store says which write refused; the use case
//! reads again and decides again on the stored state, so a decision that raced another one
//! is refused by the state machine (409), never silently applied twice. Every loop is
//! bounded by the one [`ATTEMPTS`] limit, with a jittered backoff between attempts.
//!
//! Handlers (in `functions/*`) extract a request, call one function here and render its
//! result; they never touch the store's writes.
//!
//! - [`sessions`]: create, read (with lazy expiry), patch, transitions, lists;
//! - [`documents`]: create (standalone or in a session), add a file, submit;
//! - [`devices`]: register a session device;
//! - [`accounts`]: create, patch;
//! - [`feed`]: reading the events feed (each use case writes its own feed events);
//! - [`redaction`]: sessions, documents, verifications and accounts (in steps);
//! - [`uploads`]: checking an uploaded object against its declaration;
//! - `verify` (feature `verify`): running the document checks and recording the result.

pub mod accounts;
pub mod client_tokens;
pub mod devices;
pub mod documents;
pub mod feed;
pub mod redaction;
pub mod sessions;
pub mod uploads;
#[cfg(feature = "verify")]
pub mod verify;
#[cfg(feature = "webhooks")]
pub mod webhooks;

use std::time::Duration as StdDuration;

use crate::domain::event::Event;
use crate::domain::session::{DomainError, Session};
use crate::store::write::SessionWriteError;
use crate::store::{Refusal, StoreError, Write, WriteError};

pub use redaction::{
    redact_account, redact_account_step, redact_document, redact_session,
    redact_standalone_document, redact_verification, AccountRedaction, ACCOUNT_REDACTION_BATCH,
    ACCOUNT_REDACTION_TIME,
};
pub use sessions::{
    as_seen, attach_change, expiry_actor, load_session, modify_session, overdue_expiry, transition,
};

/// How many times any use case reads, decides and writes before answering `409 conflict`.
pub const ATTEMPTS: u32 = 8;

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// No such session, document or account in this tenancy.
    #[error("not found")]
    NotFound,
    /// The domain refuses the change (state machines, closed sessions, caps).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The requested change is invalid against the current state.
    #[error("the change is invalid")]
    Invalid(crate::domain::validation::Problems),
    /// The document belongs to a session; it is redacted with its session, not alone.
    #[error("the document belongs to a session")]
    DocumentOfSession,
    /// The account a new session or document names does not exist in this tenancy.
    #[error("the account does not exist")]
    AccountMissing,
    /// The account's redaction started or finished: nothing new may be attached to it.
    #[error("the account is redacted")]
    AccountRedacted,
    /// The external id is used by another account of the tenancy.
    #[error("the external id is taken")]
    ExternalIdTaken,
    /// Kept losing races; safe to retry.
    #[error("lost a concurrent write")]
    Conflict,
    /// A store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SessionWriteError> for WorkflowError {
    fn from(e: SessionWriteError) -> Self {
        match e {
            SessionWriteError::Store(e) => WorkflowError::Store(e),
            SessionWriteError::AccountRedacted => WorkflowError::AccountRedacted,
            SessionWriteError::AccountMissing => WorkflowError::AccountMissing,
            // Races that outlived every attempt.
            SessionWriteError::Stale(_) | SessionWriteError::Refused(_) => WorkflowError::Conflict,
        }
    }
}

impl From<WriteError> for WorkflowError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Refused(Refusal::AccountRedacted) => WorkflowError::AccountRedacted,
            WriteError::Refused(Refusal::AccountMissing) => WorkflowError::AccountMissing,
            WriteError::Refused(_) => WorkflowError::Conflict,
            WriteError::Store(e) => WorkflowError::Store(e),
        }
    }
}

/// A change decided on a session.
pub struct Change {
    /// The session as it must be written.
    pub next: Session,
    /// Events recording it (their `seq` follows `next.version`).
    pub events: Vec<Event>,
    /// Further writes that must happen atomically with it.
    pub extra: Vec<Write>,
}

/// The attempts of one read–decide–write loop: at most [`ATTEMPTS`], with a jittered,
/// growing pause before each retry so writers that collided do not collide again in
/// lockstep.
///
/// ```ignore
/// let mut attempts = Attempts::new();
/// while attempts.next().await {
///     // read, decide, write; `continue` on a lost race, `return` otherwise
/// }
/// Err(WorkflowError::Conflict)
/// ```
#[derive(Debug, Default)]
pub struct Attempts {
    made: u32,
}

impl Attempts {
    /// A fresh loop.
    pub fn new() -> Attempts {
        Attempts::default()
    }

    /// True while an attempt is left; waits before every attempt but the first.
    pub async fn next(&mut self) -> bool {
        if self.made >= ATTEMPTS {
            return false;
        }
        if self.made > 0 {
            tokio::time::sleep(backoff(self.made, jitter())).await;
        }
        self.made += 1;
        true
    }
}

/// The pause before retry `n` (1-based): between half and all of 2 ms · 2ⁿ⁻¹, capped at
/// 128 ms; `jitter` in `0..=1` picks where. Eight attempts wait at most ~254 ms in all.
fn backoff(n: u32, jitter: f64) -> StdDuration {
    let cap_ms = 2f64 * f64::from(1u32 << n.saturating_sub(1).min(6));
    StdDuration::from_micros((cap_ms * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)) * 1000.0) as u64)
}

/// A uniform number in `0..=1` from the OS (a failure only removes the jitter).
fn jitter() -> f64 {
    let mut b = [0u8; 2];
    match getrandom::fill(&mut b) {
        Ok(()) => f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX),
        Err(_) => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jitter_stays_within_half_to_full() {
        assert_eq!(backoff(1, 1.0), StdDuration::from_millis(2));
        assert_eq!(backoff(1, 0.0), StdDuration::from_millis(1));
        assert_eq!(backoff(3, 1.0), StdDuration::from_millis(8));
        assert_eq!(backoff(7, 1.0), StdDuration::from_millis(128));
        assert_eq!(backoff(30, 1.0), StdDuration::from_millis(128), "capped");
        let total: StdDuration = (1..ATTEMPTS).map(|n| backoff(n, 1.0)).sum();
        assert!(total <= StdDuration::from_millis(260), "{total:?}");
    }

    #[tokio::test]
    async fn attempts_are_bounded_by_the_one_limit() {
        let mut attempts = Attempts::new();
        let mut n = 0;
        while attempts.next().await {
            n += 1;
        }
        assert_eq!(n, ATTEMPTS);
        assert!(!attempts.next().await, "stays exhausted");
    }
}
