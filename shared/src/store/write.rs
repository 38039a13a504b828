//! Typed writes: what the application layer asks the store to write in one transaction.
//!
//! A workflow hands [`Store::write`] a list of [`Write`] values (`PutDocument`,
//! `CheckAccount`, `DeleteDevice`, …); only this module turns them into DynamoDB items, so
//! no SDK type crosses into the workflows. When a condition fails, the store answers which
//! write refused and why ([`Refusal`]), by name: callers never count transaction positions.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::accounts::{check_account_open, delete_open_child, put_open_child, OpenChild};
use super::accounts::{OPEN_DOCUMENT, OPEN_SESSION};
use super::devices::{delete_device, put_device};
use super::documents::{put_document_if_unchanged, put_new_document};
use super::feed::put_feed_event;
use super::sessions::session_write_ops;
use super::verifications::{put_sighting, put_verification, Sighting};
use super::{decode, Store, StoreError};
use crate::domain::device::Device;
use crate::domain::document::Document;
use crate::domain::event::Event;
use crate::domain::feed::FeedEvent;
use crate::domain::ids::{AccountId, DeviceId, DocumentId, SessionId};
use crate::domain::session::Session;
use crate::domain::values::Tenancy;
use crate::domain::verification::Verification;

/// One write of a transaction.
// Writes are built once per transaction and moved into it; their size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Write {
    /// A new session (refused if its id exists) with its events and timers.
    NewSession {
        /// The session.
        session: Session,
        /// Its first events.
        events: Vec<Event>,
    },
    /// `next` replacing the session as it was `read` (refused unless the stored status and
    /// version are still `read`'s), with its events; its timers follow `next`.
    PutSession {
        /// The session as read.
        read: Session,
        /// The session as it must be written.
        next: Session,
        /// Events recording the change (their `seq` follows `next.version`).
        events: Vec<Event>,
    },
    /// A new document (refused if its id exists).
    NewDocument(Document),
    /// `next` replacing the document as it was `read` (refused unless its version is
    /// still `read`'s).
    PutDocument {
        /// The document as read.
        read: Document,
        /// The document as it must be written.
        next: Document,
    },
    /// A condition that the account exists in this tenancy and takes new sessions and
    /// documents (no redaction started or finished): see `accounts::check_account_open`.
    CheckAccount(AccountId),
    /// Records a session or document as an open (unredacted) child of an account.
    PutOpenChild(AccountId, OpenChild),
    /// Removes an open-child record (absent already is fine).
    DeleteOpenChild(AccountId, OpenChild),
    /// A device, new or in its redacted form.
    PutDevice(Device),
    /// Deletes a device that a newer registration replaces.
    DeleteDevice(DeviceId),
    /// A verification, new or in its redacted form.
    PutVerification(Verification),
    /// A sighting of a document fingerprint (hex).
    PutSighting(String, Sighting),
    /// Removes the reviewer's comment of event `seq` of a session (redaction).
    StripComment(SessionId, u64),
    /// Overwrites an existing event (redaction of logs written before events were indexed).
    OverwriteEvent(Event),
    /// A new entry of the events feed, reporting a change written in the same transaction.
    /// Session events need none: `NewSession` and `PutSession` add theirs.
    PutFeedEvent(FeedEvent),
}

impl Write {
    /// The writes that link a new child to `account` in the child's own transaction: the
    /// account must take it ([`Write::CheckAccount`]) and it is recorded as open. None
    /// without an account.
    pub fn link_child(account: Option<AccountId>, child: Child) -> Vec<Write> {
        match account {
            None => Vec::new(),
            Some(account) => vec![
                Write::CheckAccount(account),
                Write::PutOpenChild(account, child.open()),
            ],
        }
    }

    /// The write that removes `child`'s open-child record from `account`.
    pub fn unlink_child(account: AccountId, child: Child) -> Write {
        Write::DeleteOpenChild(account, child.open())
    }

    /// A stable name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Write::NewSession { .. } => "new_session",
            Write::PutSession { .. } => "put_session",
            Write::NewDocument(_) => "new_document",
            Write::PutDocument { .. } => "put_document",
            Write::CheckAccount(_) => "check_account",
            Write::PutOpenChild(..) => "put_open_child",
            Write::DeleteOpenChild(..) => "delete_open_child",
            Write::PutDevice(_) => "put_device",
            Write::DeleteDevice(_) => "delete_device",
            Write::PutVerification(_) => "put_verification",
            Write::PutSighting(..) => "put_sighting",
            Write::StripComment(..) => "strip_comment",
            Write::OverwriteEvent(_) => "overwrite_event",
            Write::PutFeedEvent(_) => "put_feed_event",
        }
    }
}

/// A session or document, as a child of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    /// A session.
    Session(SessionId),
    /// A document.
    Document(DocumentId),
}

impl Child {
    fn open(self) -> OpenChild {
        match self {
            Child::Session(id) => OpenChild {
                kind: OPEN_SESSION.to_owned(),
                id: id.to_string(),
            },
            Child::Document(id) => OpenChild {
                kind: OPEN_DOCUMENT.to_owned(),
                id: id.to_string(),
            },
        }
    }

    /// The child an open-child record names, if its id parses.
    pub fn of_open(open: &OpenChild) -> Option<Child> {
        match open.kind.as_str() {
            OPEN_SESSION => SessionId::parse(&open.id).ok().map(Child::Session),
            OPEN_DOCUMENT => DocumentId::parse(&open.id).ok().map(Child::Document),
            _ => None,
        }
    }
}

/// Which write of a transaction refused, and what it tells.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The session changed since it was read (or a new one's id exists); the session as it
    /// is now when DynamoDB returned it.
    Session(Option<Box<Session>>),
    /// The document changed since it was read (or a new one's id exists).
    Document,
    /// The account of a [`Write::CheckAccount`] does not exist in this tenancy.
    AccountMissing,
    /// The account of a [`Write::CheckAccount`] is being or was redacted.
    AccountRedacted,
    /// Another write's condition (named by [`Write::name`]).
    Other(&'static str),
}

/// Why [`Store::write`] did not write.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A write's condition did not hold; nothing was written.
    #[error("a write was refused: {0:?}")]
    Refused(Refusal),
    /// Anything else (a [`StoreError::TransactionConflict`] is safe to retry).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WriteError {
    /// True when reading again and retrying may succeed: a refused condition or a
    /// transaction that collided with another.
    pub fn is_race(&self) -> bool {
        matches!(
            self,
            WriteError::Refused(_) | WriteError::Store(StoreError::TransactionConflict)
        )
    }
}

/// A session write refused, or a store failure (the result of [`Store::replace_session`]
/// and [`Store::create_session`]).
#[derive(Debug, thiserror::Error)]
pub enum SessionWriteError {
    /// Someone else changed the session since it was read; holds it as it is now.
    #[error("the session changed since it was read")]
    Stale(Option<Box<Session>>),
    /// The linked account does not exist in this scope.
    #[error("the account does not exist")]
    AccountMissing,
    /// The linked account's redaction started or finished: it takes no new session.
    #[error("the account is redacted")]
    AccountRedacted,
    /// Another write of the same transaction refused (named by [`Write::name`]).
    #[error("the write {0} was refused")]
    Refused(&'static str),
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<WriteError> for SessionWriteError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Refused(Refusal::Session(now)) => SessionWriteError::Stale(now),
            WriteError::Store(StoreError::TransactionConflict) => SessionWriteError::Stale(None),
            WriteError::Refused(Refusal::AccountMissing) => SessionWriteError::AccountMissing,
            WriteError::Refused(Refusal::AccountRedacted) => SessionWriteError::AccountRedacted,
            WriteError::Refused(Refusal::Document) => SessionWriteError::Refused("put_document"),
            WriteError::Refused(Refusal::Other(name)) => SessionWriteError::Refused(name),
            WriteError::Store(e) => SessionWriteError::Store(e),
        }
    }
}

/// The business metrics of a committed transaction (`crate::metrics`): its session
/// transitions and a verification it recorded (not the rewrite redaction makes).
fn count_committed(tenancy: &Tenancy, writes: &[Write]) {
    for w in writes {
        match w {
            Write::NewSession { events, .. } | Write::PutSession { events, .. } => {
                crate::metrics::session_events(tenancy.environment, events);
            }
            Write::PutVerification(v) if v.redacted_at.is_none() => {
                crate::metrics::verification(tenancy.environment, v);
            }
            _ => {}
        }
    }
}

impl Store {
    /// Writes `writes` in one transaction, all or nothing. A failed condition is reported as
    /// the [`Refusal`] of the first write that refused.
    pub async fn write(
        &self,
        tenancy: &Tenancy,
        context: &'static str,
        writes: Vec<Write>,
    ) -> Result<(), WriteError> {
        // `owner[i]`: which write the i-th item belongs to, and whether it is that write's
        // first item (the one carrying its own condition).
        let mut ops = Vec::with_capacity(writes.len() + 2);
        let mut owner = Vec::with_capacity(writes.len() + 2);
        for (w, write) in writes.iter().enumerate() {
            let items = self.items(tenancy, write)?;
            owner.extend((0..items.len()).map(|k| (w, k == 0)));
            ops.extend(items);
        }
        match self.transact(context, ops).await {
            Ok(()) => {
                count_committed(tenancy, &writes);
                Ok(())
            }
            Err(e @ StoreError::ConditionFailed { .. }) => {
                let Some(at) = (0..owner.len()).find(|&i| e.condition_failed_at(i)) else {
                    return Err(e.into());
                };
                let (w, first) = owner[at];
                Err(WriteError::Refused(refusal(
                    &writes[w],
                    first,
                    e.old_item(at),
                )?))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The DynamoDB items of one write.
    fn items(
        &self,
        tenancy: &Tenancy,
        write: &Write,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        Ok(match write {
            Write::NewSession { session, events } => {
                session_write_ops(self, tenancy, None, session, events)?
            }
            Write::PutSession { read, next, events } => {
                session_write_ops(self, tenancy, Some(read), next, events)?
            }
            Write::NewDocument(doc) => vec![put_new_document(self, tenancy, doc)?],
            Write::PutDocument { read, next } => {
                vec![put_document_if_unchanged(self, tenancy, read, next)?]
            }
            Write::CheckAccount(account) => vec![check_account_open(self, tenancy, *account)?],
            Write::PutOpenChild(account, child) => {
                vec![put_open_child(
                    self,
                    tenancy,
                    *account,
                    &child.kind,
                    &child.id,
                )?]
            }
            Write::DeleteOpenChild(account, child) => {
                vec![delete_open_child(
                    self,
                    tenancy,
                    *account,
                    &child.kind,
                    &child.id,
                )?]
            }
            Write::PutDevice(device) => vec![put_device(self, tenancy, device)?],
            Write::DeleteDevice(id) => vec![delete_device(self, tenancy, *id)?],
            Write::PutVerification(v) => vec![put_verification(self, tenancy, v)?],
            Write::PutSighting(fingerprint, sighting) => {
                vec![put_sighting(self, tenancy, fingerprint, sighting)?]
            }
            Write::StripComment(session, seq) => {
                vec![self.strip_event_comment(tenancy, *session, *seq)?]
            }
            Write::OverwriteEvent(event) => vec![self.overwrite_event(tenancy, event)?],
            Write::PutFeedEvent(event) => vec![put_feed_event(self, tenancy, event)?],
        })
    }
}

/// What a refused write tells: `first` is whether its own (first) item refused, `old` the
/// item as DynamoDB returned it.
fn refusal(write: &Write, first: bool, old: Option<&super::Item>) -> Result<Refusal, StoreError> {
    Ok(match write {
        // The session's own condition returns the stored session; an event that exists
        // already (its key is the version) means the session moved on as well.
        Write::NewSession { .. } | Write::PutSession { .. } => {
            Refusal::Session(match old.filter(|_| first) {
                Some(item) => Some(Box::new(decode::<Session>(
                    "reading a session",
                    item.clone(),
                )?)),
                None => None,
            })
        }
        Write::NewDocument(_) | Write::PutDocument { .. } => Refusal::Document,
        // The check returns the account when it exists (and so failed for its redaction).
        Write::CheckAccount(_) => match old {
            Some(_) => Refusal::AccountRedacted,
            None => Refusal::AccountMissing,
        },
        other => Refusal::Other(other.name()),
    })
}
