//! Read–decide–write loops over sessions and accounts, shared by every function.
//!
//! Each operation reads the session, lets the domain decide the next state, and writes it
//! conditionally on the status and version it read. When the condition fails DynamoDB hands
//! back the session as it is now, and the decision is taken again on that: a decision that
//! raced another one is refused by the state machine (409), not silently applied twice.
//!
//! Reads expire overdue sessions on the way ([`load_session`]), so no path ever acts on, or
//! shows, an overdue session as live.

use aws_sdk_dynamodb::types::TransactWriteItem;
use time::Duration;

use crate::domain::account::Account;
use crate::domain::event::{Actor, Event};
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Action, DomainError, Session};
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::accounts::AccountWriteError;
use crate::store::objects::Objects;
use crate::store::sessions::SessionWriteError;
use crate::store::{Store, StoreError};

/// How often a write is retried after losing a race before answering `409 conflict`.
const ATTEMPTS: usize = 8;

/// Why a session operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// No such session or account in this tenancy.
    #[error("not found")]
    NotFound,
    /// The state machine refuses the action.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The session no longer accepts this kind of change in its status (`action` names the
    /// change: `update`, `attach_document`, `register_device`).
    #[error("the session is closed for changes")]
    Closed {
        /// Its status.
        status: crate::domain::session::SessionStatus,
        /// What was refused.
        action: &'static str,
    },
    /// The requested change is invalid against the current state.
    #[error("the change is invalid")]
    Invalid(crate::domain::validation::Problems),
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
            // Only create links an account; other writes never see this.
            SessionWriteError::AccountMissing | SessionWriteError::Stale(_) => {
                WorkflowError::Conflict
            }
        }
    }
}

/// A change decided on a session.
pub struct Change {
    /// The session as it must be written.
    pub next: Session,
    /// Events recording it (their `seq` is `next.version`).
    pub events: Vec<Event>,
    /// Further writes that must happen atomically with it.
    pub extra: Vec<TransactWriteItem>,
}

/// The actor recorded for automatic expiry.
pub fn expiry_actor() -> Actor {
    Actor::system("expiry")
}

/// The automatic expiry of an overdue session, stamped at its deadline so every path that
/// notices (stream, sweep, read) writes the same `expired_at`.
pub fn overdue_expiry(session: &Session) -> Option<Change> {
    let deadline = session.expires_at?;
    if !session.status.is_expirable() {
        return None;
    }
    let t = session
        .apply(Action::Expire, deadline, Duration::ZERO)
        .ok()?;
    let event = Event::transition(&t, expiry_actor(), None);
    Some(Change {
        next: t.next,
        events: vec![event],
        extra: Vec::new(),
    })
}

/// Reads a session; if it is overdue, expires it first (one extra write, only then).
pub async fn load_session(
    store: &Store,
    tenancy: &Tenancy,
    id: SessionId,
    now: Timestamp,
) -> Result<Option<Session>, StoreError> {
    let mut current = store.get_session(tenancy, id).await?;
    for _ in 0..ATTEMPTS {
        let Some(session) = current.take() else {
            return Ok(None);
        };
        if !session.is_overdue(now) {
            return Ok(Some(session));
        }
        let Some(change) = overdue_expiry(&session) else {
            return Ok(Some(session));
        };
        match store
            .replace_session(tenancy, &session, &change.next, &change.events, Vec::new())
            .await
        {
            Ok(()) => return Ok(Some(change.next)),
            Err(SessionWriteError::Stale(Some(now_stored))) => current = Some(*now_stored),
            Err(SessionWriteError::Stale(None)) => current = store.get_session(tenancy, id).await?,
            Err(SessionWriteError::Store(e)) => return Err(e),
            Err(SessionWriteError::AccountMissing) => return Ok(Some(session)),
        }
    }
    // Still contended after several attempts: show it as the expiry would leave it.
    Ok(store
        .get_session(tenancy, id)
        .await?
        .map(|s| overdue_expiry(&s).map_or(s, |c| c.next)))
}

/// Reads a session (expiring it if overdue), decides a change with `decide`, and writes it
/// conditionally; on a lost race decides again on the stored state. `decide` returning
/// `Ok(None)` means nothing to write, and the current session is returned.
pub async fn modify_session<F>(
    store: &Store,
    tenancy: &Tenancy,
    id: SessionId,
    now: Timestamp,
    mut decide: F,
) -> Result<Session, WorkflowError>
where
    F: FnMut(&Session) -> Result<Option<Change>, WorkflowError>,
{
    let mut current = load_session(store, tenancy, id, now)
        .await?
        .ok_or(WorkflowError::NotFound)?;
    for _ in 0..ATTEMPTS {
        let Some(change) = decide(&current)? else {
            return Ok(current);
        };
        match store
            .replace_session(
                tenancy,
                &current,
                &change.next,
                &change.events,
                change.extra,
            )
            .await
        {
            Ok(()) => return Ok(change.next),
            Err(SessionWriteError::Stale(stored)) => {
                let stored = match stored {
                    Some(s) => Some(*s),
                    None => store.get_session(tenancy, id).await?,
                };
                let stored = stored.ok_or(WorkflowError::NotFound)?;
                current = match overdue_expiry(&stored) {
                    Some(_) if stored.is_overdue(now) => load_session(store, tenancy, id, now)
                        .await?
                        .ok_or(WorkflowError::NotFound)?,
                    _ => stored,
                };
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(WorkflowError::Conflict)
}

/// Attaching a document or a device to a session: a `created` session starts (and gets its
/// `expires_at`), any other open session records a `session.updated`; `mutate` adds the
/// reference. Redacted, decided and expired sessions refuse (409).
pub fn attach_change(
    current: &Session,
    action: &'static str,
    field: &str,
    actor: &Actor,
    now: Timestamp,
    lifetime: Duration,
    mutate: impl FnOnce(&mut Session),
) -> Result<Change, WorkflowError> {
    use crate::domain::session::SessionStatus as S;
    if current.redacted_at.is_some() {
        return Err(WorkflowError::Domain(DomainError::Redacted));
    }
    if matches!(current.status, S::Approved | S::Declined | S::Expired) {
        return Err(WorkflowError::Closed {
            status: current.status,
            action,
        });
    }
    if current.status == S::Created {
        let t = current.apply(Action::Start, now, lifetime)?;
        let event = Event::transition(&t, actor.clone(), None);
        let mut next = t.next;
        mutate(&mut next);
        return Ok(Change {
            next,
            events: vec![event],
            extra: Vec::new(),
        });
    }
    let mut next = current.clone();
    mutate(&mut next);
    next.version += 1;
    next.updated_at = now.at_least(current.updated_at);
    let event = Event::change(
        &next,
        "session.updated",
        Some(current.status),
        actor.clone(),
        Some(vec![field.to_owned()]),
    );
    Ok(Change {
        next,
        events: vec![event],
        extra: Vec::new(),
    })
}

/// Applies a state-machine action, recording its event with `actor` (and a reviewer's
/// `comment` for decisions).
#[allow(clippy::too_many_arguments)]
pub async fn transition(
    store: &Store,
    tenancy: &Tenancy,
    id: SessionId,
    action: Action,
    actor: &Actor,
    comment: Option<&str>,
    now: Timestamp,
    lifetime: Duration,
) -> Result<Session, WorkflowError> {
    modify_session(store, tenancy, id, now, |current| {
        let t = current.apply(action, now, lifetime)?;
        let event = Event::transition(&t, actor.clone(), comment.map(str::to_owned));
        Ok(Some(Change {
            next: t.next,
            events: vec![event],
            extra: Vec::new(),
        }))
    })
    .await
}

/// Redacts a session: its personal data becomes null (one conditional write with a
/// `session.redacted` event, its device's data nulled in the same transaction), then its
/// documents' files are deleted from S3 and their names and extracted data nulled, and
/// reviewers' comments are stripped from its event log. Safe to repeat: a second call
/// changes nothing but finishes an interrupted cascade.
pub async fn redact_session(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    id: SessionId,
    actor: &Actor,
    now: Timestamp,
) -> Result<Session, WorkflowError> {
    let device = match store
        .get_session(tenancy, id)
        .await?
        .and_then(|s| s.session_device_id)
    {
        Some(dev) => store.get_device(tenancy, dev).await?,
        None => None,
    };
    let session = modify_session(store, tenancy, id, now, |current| {
        let Some(next) = current.redacted(now) else {
            return Ok(None);
        };
        let event = Event::change(
            &next,
            "session.redacted",
            Some(current.status),
            actor.clone(),
            None,
        );
        let mut extra = Vec::new();
        if let Some(d) = device
            .as_ref()
            .filter(|d| Some(d.id) == current.session_device_id)
        {
            if let Some(clean) = d.redacted(now) {
                extra.push(crate::store::devices::put_device(store, tenancy, &clean)?);
            }
        }
        Ok(Some(Change {
            next,
            events: vec![event],
            extra,
        }))
    })
    .await?;
    for doc in &session.documents {
        redact_document(store, objects, tenancy, doc.id, now).await?;
    }
    for v in &session.verifications {
        redact_verification(store, tenancy, v.id, now).await?;
    }
    // After redaction no decision (and so no comment) can be added, so one pass suffices.
    let events = store.events_with_comments(tenancy, id).await?;
    for chunk in events.chunks(100) {
        let mut ops = Vec::with_capacity(chunk.len());
        for event in chunk {
            let mut clean = event.clone();
            clean.data.comment = None;
            ops.push(store.overwrite_event(tenancy, &clean)?);
        }
        store.transact("removing comments", ops).await?;
    }
    store.scrub_idempotency(tenancy, &id.to_string()).await?;
    Ok(session)
}

/// Deletes a document's files from S3 and nulls its file names and extracted data.
/// Objects are deleted first: if the write then fails, a retry finds the document not yet
/// redacted and deletes (already absent) objects again.
pub async fn redact_document(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    id: crate::domain::ids::DocumentId,
    now: Timestamp,
) -> Result<(), WorkflowError> {
    for _ in 0..ATTEMPTS {
        let Some(current) = store.get_document(tenancy, id).await? else {
            return Ok(());
        };
        for file in &current.files {
            objects.delete(&file.object_key).await?;
        }
        for v in &current.verification_ids {
            redact_verification(store, tenancy, *v, now).await?;
        }
        let Some(next) = current.redacted(now) else {
            return Ok(());
        };
        if store.replace_document(tenancy, &current, &next).await? {
            return Ok(());
        }
    }
    Err(WorkflowError::Conflict)
}

/// Nulls what a verification extracted (and its checks' metadata, which echo it). A
/// verification is never changed otherwise, so an unconditional write is safe.
pub async fn redact_verification(
    store: &Store,
    tenancy: &Tenancy,
    id: crate::domain::ids::VerificationId,
    now: Timestamp,
) -> Result<(), WorkflowError> {
    let Some(current) = store.get_verification(tenancy, id).await? else {
        return Ok(());
    };
    if let Some(next) = current.redacted(now) {
        let op = crate::store::verifications::put_verification(store, tenancy, &next)?;
        store.transact("redacting a verification", vec![op]).await?;
    }
    Ok(())
}

/// Redacts an account and, first, every one of its sessions and documents.
pub async fn redact_account(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    id: AccountId,
    actor: &Actor,
    now: Timestamp,
) -> Result<Account, WorkflowError> {
    if store.get_account(tenancy, id).await?.is_none() {
        return Err(WorkflowError::NotFound);
    }
    // Sessions first: if this is interrupted, the account is not yet marked redacted and a
    // retry redoes the cascade.
    for session in store.account_sessions(tenancy, id).await? {
        match redact_session(store, objects, tenancy, session.id, actor, now).await {
            Ok(_) | Err(WorkflowError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    for doc in store.account_documents(tenancy, id).await? {
        redact_document(store, objects, tenancy, doc.id, now).await?;
    }
    for _ in 0..ATTEMPTS {
        let current = store
            .get_account(tenancy, id)
            .await?
            .ok_or(WorkflowError::NotFound)?;
        let Some(next) = current.redacted(now) else {
            store.scrub_idempotency(tenancy, &id.to_string()).await?;
            return Ok(current);
        };
        match store.replace_account(tenancy, &current, &next).await {
            Ok(()) => {
                store.scrub_idempotency(tenancy, &id.to_string()).await?;
                return Ok(next);
            }
            Err(AccountWriteError::Stale) => continue,
            Err(AccountWriteError::Store(e)) => return Err(e.into()),
            Err(AccountWriteError::ExternalIdTaken) => return Err(WorkflowError::Conflict),
        }
    }
    Err(WorkflowError::Conflict)
}

/// The status a session shows at `now` without writing anything (for lists): an overdue
/// session shows as expired.
pub fn as_seen(session: Session, now: Timestamp) -> Session {
    if session.is_overdue(now) {
        if let Some(change) = overdue_expiry(&session) {
            return change.next;
        }
    }
    session
}
