//! Sessions: creation, reads that expire overdue sessions on the way ([`load_session`]),
//! the generic conditional change ([`modify_session`]), state-machine transitions, merge
//! patches, lists and event logs.
//!
//! No path ever acts on, or shows, an overdue session as live: reads expire it (one extra
//! write, only then), lists show it as the expiry would leave it ([`as_seen`]).

use time::Duration;

use super::{Attempts, Change, WorkflowError};
use crate::domain::client_token::accepts_applicant_data;
use crate::domain::event::{Actor, Event};
use crate::domain::ids::{DeviceId, SessionId};
use crate::domain::session::{Action, DomainError, Session, SessionStatus};
use crate::domain::validation::Problems;
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::write::SessionWriteError;
use crate::store::{Store, StoreError};

pub use crate::store::query::{Page, PageRequest, Total};
pub use crate::store::sessions::SessionFilter;

/// Creates a session with its `session.created` event (one transaction; with an account,
/// checked to exist and take sessions in the same transaction).
pub async fn create(
    store: &Store,
    tenancy: &Tenancy,
    session: &Session,
    actor: Actor,
) -> Result<(), WorkflowError> {
    let event = Event::change(session, "session.created", None, actor, None);
    Ok(store
        .create_session(tenancy, session, &event, session.account_id)
        .await?)
}

/// Applies a merge patch (`patch` gives the patched session and the fields it changed, or
/// `None` when it changes nothing) to an open session, recording `session.updated`. For
/// the applicant (`applicant`: a client token) the session must also still await their
/// data (`created` or `started`), checked against the version the write is conditioned on.
pub async fn update<P>(
    store: &Store,
    tenancy: &Tenancy,
    id: SessionId,
    actor: &Actor,
    now: Timestamp,
    applicant: bool,
    patch: P,
) -> Result<Session, WorkflowError>
where
    P: Fn(&Session, Timestamp) -> Result<Option<(Session, Vec<String>)>, Problems>,
{
    modify_session(store, tenancy, id, now, |current| {
        // 409 session_redacted, or invalid_transition once decided or expired.
        current.ensure_open("update")?;
        if applicant && !accepts_applicant_data(current.status()) {
            return Err(DomainError::Closed {
                status: current.status(),
                action: "update",
            }
            .into());
        }
        let Some((next, fields)) = patch(current, now).map_err(WorkflowError::Invalid)? else {
            return Ok(None);
        };
        let event = Event::change(
            &next,
            "session.updated",
            Some(current.status()),
            actor.clone(),
            Some(fields),
        );
        Ok(Some(Change {
            next,
            events: vec![event],
            extra: Vec::new(),
        }))
    })
    .await
}

/// One page of sessions as users see them at `now`. With `device`, the one session that
/// device belongs to (if it passes `filter`): a device is looked up, not filtered for.
pub async fn list(
    store: &Store,
    tenancy: &Tenancy,
    filter: &SessionFilter,
    device: Option<DeviceId>,
    page: &PageRequest,
    now: Timestamp,
) -> Result<Page<Session>, StoreError> {
    let Some(device) = device else {
        let mut page = store.list_sessions(tenancy, filter, now, page).await?;
        for (_, s) in &mut page.items {
            *s = as_seen(s.clone(), now);
        }
        return Ok(page);
    };
    let found = match store.device_session(tenancy, device).await? {
        Some(id) if page.cursor.is_none() => store.get_session(tenancy, id).await?,
        _ => None,
    };
    let items: Vec<_> = found
        .map(|s| as_seen(s, now))
        .filter(|s| s.session_device_id == Some(device) && filter.matches(s))
        .map(|s| (crate::store::keys::position(s.created_at, &s.id), s))
        .into_iter()
        .collect();
    let total = page.total.then_some(Total {
        count: items.len() as u64,
        lower_bound: false,
    });
    Ok(Page {
        items,
        next: None,
        previous: None,
        total,
    })
}

/// One page of a session's events, oldest first; `None` when the session does not exist
/// here. Every session has its `session.created` event, so only an empty first page needs
/// the session read.
pub async fn events(
    store: &Store,
    tenancy: &Tenancy,
    id: SessionId,
    page: &PageRequest,
) -> Result<Option<Page<Event>>, StoreError> {
    let page = store.list_events(tenancy, id, page).await?;
    if page.items.is_empty() && store.get_session(tenancy, id).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(page))
}

/// The actor recorded for automatic expiry.
pub fn expiry_actor() -> Actor {
    Actor::system("expiry")
}

/// The automatic expiry of an overdue session, stamped at its deadline so every path that
/// notices (stream, sweep, read) writes the same `expired_at`.
pub fn overdue_expiry(session: &Session) -> Option<Change> {
    let deadline = session.expires_at?;
    if !session.status().is_expirable() {
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
    let mut attempts = Attempts::new();
    while attempts.next().await {
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
            // An expiry writes nothing else: no other write can refuse it.
            Err(
                SessionWriteError::AccountMissing
                | SessionWriteError::AccountRedacted
                | SessionWriteError::Refused(_),
            ) => return Ok(Some(session)),
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
    let mut attempts = Attempts::new();
    while attempts.next().await {
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
    current.ensure_open(action)?;
    if current.status() == SessionStatus::Created {
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
        Some(current.status()),
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
        let mut t = current.apply(action, now, lifetime)?;
        let event = Event::transition(&t, actor.clone(), comment.map(str::to_owned));
        if comment.is_some() {
            t.next
                .commented_events
                .get_or_insert_with(Vec::new)
                .push(event.seq);
        }
        Ok(Some(Change {
            next: t.next,
            events: vec![event],
            extra: Vec::new(),
        }))
    })
    .await
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
