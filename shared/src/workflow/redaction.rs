//! Redaction: a session's, a document's, a verification's and an account's personal data
//! made gone, in DynamoDB (items nulled, comments stripped, stored responses scrubbed) and
//! in S3 (files deleted).
//!
//! Every step is resumable and idempotent: it checks what is already done, so a re-run
//! after an interruption (or the sweep) finishes a cascade without repeating it, and calls
//! may overlap.

use super::sessions::load_session;
use super::{Attempts, WorkflowError};
use crate::domain::account::Account;
use crate::domain::event::{Actor, Event};
use crate::domain::feed::FeedEvent;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::Session;
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::accounts::{AccountWriteError, OPEN_DOCUMENT, OPEN_SESSION};
use crate::store::objects::Objects;
use crate::store::write::SessionWriteError;
use crate::store::{Child, Store, StoreError, Write};

/// Redacts a session: its personal data becomes null (one conditional write with a
/// `session.redacted` event, its device's data nulled and its open-child item on the account
/// deleted in the same transaction), then its documents' files are deleted from S3 and their
/// names and extracted data nulled, reviewers' comments are stripped from its event log and
/// stored responses that show it are scrubbed.
///
/// Resumable and idempotent: every step checks what is already done (a redacted session is
/// not written again, a document whose files are deleted is skipped), so a re-run after an
/// interruption finishes the cascade without repeating it.
pub async fn redact_session(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    id: SessionId,
    actor: &Actor,
    now: Timestamp,
) -> Result<Session, WorkflowError> {
    let session = mark_session_redacted(store, tenancy, id, actor, now).await?;
    for doc in &session.documents {
        redact_document(store, objects, tenancy, doc.id, now).await?;
        // Stored answers about a document made before it joined this session are indexed
        // under the document (see `http::middleware::redaction_subject`).
        store
            .scrub_idempotency(tenancy, &doc.id.to_string())
            .await?;
    }
    for v in &session.verifications {
        redact_verification(store, tenancy, v.id, now).await?;
    }
    // After redaction no decision (and so no comment) can be added, so one pass suffices.
    // The session names its commented events (at most two: decisions are the only events
    // with comments), so they are stripped by key in one transaction, however long the log.
    if let Some(seqs) = &session.commented_events {
        if !seqs.is_empty() {
            let writes = seqs
                .iter()
                .map(|seq| Write::StripComment(id, *seq))
                .collect();
            store.write(tenancy, "removing comments", writes).await?;
        }
        store.scrub_idempotency(tenancy, &id.to_string()).await?;
        return Ok(session);
    }
    // Sessions written before `commented_events` existed: find the comments in the log.
    let events = store.events_with_comments(tenancy, id).await?;
    for chunk in events.chunks(100) {
        let writes = chunk
            .iter()
            .map(|event| {
                let mut clean = event.clone();
                clean.data.comment = None;
                Write::OverwriteEvent(clean)
            })
            .collect();
        store.write(tenancy, "removing comments", writes).await?;
    }
    store.scrub_idempotency(tenancy, &id.to_string()).await?;
    Ok(session)
}

/// The first step of [`redact_session`]: the session's personal data nulled, with the data
/// of the device current *at the version written*. The device is read again on every
/// attempt and the write is conditional on the session's version, so a device registered
/// while this runs either makes the write fail (and is then read and redacted) or is itself
/// refused because the session is redacted (`attach_change`): no device keeps its data.
async fn mark_session_redacted(
    store: &Store,
    tenancy: &Tenancy,
    id: SessionId,
    actor: &Actor,
    now: Timestamp,
) -> Result<Session, WorkflowError> {
    let mut current = load_session(store, tenancy, id, now)
        .await?
        .ok_or(WorkflowError::NotFound)?;
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let device = match current.session_device_id {
            Some(dev) => store.get_device(tenancy, dev).await?,
            None => None,
        };
        let Some(next) = current.redacted(now) else {
            // Already redacted. A redaction interrupted before this code existed may have
            // left the device: no device can be registered any more, so a plain write is safe.
            if let Some(clean) = device.and_then(|d| d.redacted(now)) {
                let writes = vec![Write::PutDevice(clean)];
                store.write(tenancy, "redacting a device", writes).await?;
            }
            return Ok(current);
        };
        let event = Event::change(
            &next,
            "session.redacted",
            Some(current.status()),
            actor.clone(),
            None,
        );
        let mut extra = Vec::new();
        if let Some(clean) = device.and_then(|d| d.redacted(now)) {
            extra.push(Write::PutDevice(clean));
        }
        if let Some(account) = current.account_id {
            extra.push(Write::unlink_child(account, Child::Session(current.id)));
        }
        match store
            .replace_session(tenancy, &current, &next, &[event], extra)
            .await
        {
            Ok(()) => return Ok(next),
            Err(SessionWriteError::Stale(Some(stored))) => current = *stored,
            Err(SessionWriteError::Stale(None)) => {
                current = store
                    .get_session(tenancy, id)
                    .await?
                    .ok_or(WorkflowError::NotFound)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(WorkflowError::Conflict)
}

/// Redacts a document in two recorded steps, so a re-run knows what is left:
/// 1. its file names and extracted data are nulled and it is marked `redacted` (and its
///    open-child item on the account deleted), in one conditional write: from then on
///    uploads, processing and verifications refuse it;
/// 2. its verifications' extracted data is nulled, its files are deleted from S3, and
///    `files_deleted_at` is recorded.
///
/// A document with `files_deleted_at` is done: a re-run issues no S3 call for it. One
/// interrupted between the steps is redacted in DynamoDB already and the re-run (the
/// caller's, or the sweep's for a standalone document, which stays due) repeats only step 2,
/// whose deletes are idempotent.
pub async fn redact_document(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    id: crate::domain::ids::DocumentId,
    now: Timestamp,
) -> Result<(), WorkflowError> {
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let Some(mut current) = store.get_document(tenancy, id).await? else {
            return Ok(());
        };
        if current.files_deleted_at.is_some() {
            return Ok(());
        }
        if let Some(next) = current.redacted(now) {
            let mut writes = vec![Write::PutDocument {
                read: current.clone(),
                next: next.clone(),
            }];
            if let Some(account) = current.account_id {
                writes.push(Write::unlink_child(account, Child::Document(current.id)));
            }
            match store.write(tenancy, "redacting a document", writes).await {
                Ok(()) => current = next,
                Err(e) if e.is_race() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        for v in &current.verification_ids {
            redact_verification(store, tenancy, *v, now).await?;
        }
        for file in &current.files {
            objects.delete(&file.object_key).await?;
        }
        let mut done = current.clone();
        done.files_deleted_at = Some(now.at_least(current.updated_at));
        done.version += 1;
        if store.replace_document(tenancy, &current, &done).await? {
            return Ok(());
        }
    }
    Err(WorkflowError::Conflict)
}

/// Redacts a standalone document (one of no session) and scrubs the stored responses that
/// show it. A document of a session is refused with [`WorkflowError::DocumentOfSession`]:
/// it is redacted with its session.
pub async fn redact_standalone_document(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    id: crate::domain::ids::DocumentId,
    now: Timestamp,
) -> Result<crate::domain::document::Document, WorkflowError> {
    let doc = store
        .get_document(tenancy, id)
        .await?
        .ok_or(WorkflowError::NotFound)?;
    if doc.session_id.is_some() {
        return Err(WorkflowError::DocumentOfSession);
    }
    redact_document(store, objects, tenancy, id, now).await?;
    store.scrub_idempotency(tenancy, &id.to_string()).await?;
    store
        .get_document(tenancy, id)
        .await?
        .ok_or(WorkflowError::NotFound)
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
        let writes = vec![Write::PutVerification(next)];
        store
            .write(tenancy, "redacting a verification", writes)
            .await?;
    }
    Ok(())
}

/// Sessions and documents one call of [`redact_account_step`] redacts at most: what one
/// request (or one turn of the sweep) does before it hands over.
pub const ACCOUNT_REDACTION_BATCH: usize = 25;

/// Time after which one call of [`redact_account_step`] takes no further child, whatever is
/// left of its batch: a session may hold 50 documents of 4 files each, and a request must
/// answer well within the function's 15 s timeout (API Gateway's own limit is 29 s).
pub const ACCOUNT_REDACTION_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Where an account's redaction stands after a call of [`redact_account_step`].
#[derive(Debug, Clone)]
pub enum AccountRedaction {
    /// Every session and document is redacted; the account carries `redacted_at`.
    Done(Account),
    /// More is left (the account shows its `redaction` progress); the sweep, or another
    /// call, continues.
    InProgress(Account),
}

/// Starts or continues an account's redaction, redacting at most `batch` of its sessions
/// and documents, and finishes it when none is left.
///
/// 1. The account is marked (conditionally on its version): its own data nulled and
///    `redaction` set. From that write on, every transaction that would attach something
///    to it (a session, a document, a PATCH) fails its condition (`409 account_redacted`),
///    so the set of its children is closed.
/// 2. Its children are found through their open-child items in the account's partition,
///    with a strongly consistent Query: a session created just before the mark is seen even
///    while gsi2 has not caught up. Each is redacted (which deletes its open-child item).
///    Children written before open-child items existed are then found in gsi2.
/// 3. With none left, `redacted_at` is set and `redaction` removed; stored responses that
///    show the account are scrubbed.
///
/// Every step is idempotent, and calls may overlap (a request and the sweep).
pub async fn redact_account_step(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    id: AccountId,
    actor: &Actor,
    now: Timestamp,
    batch: usize,
) -> Result<AccountRedaction, WorkflowError> {
    let mut account = mark_account_redacting(store, tenancy, id, now).await?;
    if account.redacted_at.is_some() {
        store.scrub_idempotency(tenancy, &id.to_string()).await?;
        return Ok(AccountRedaction::Done(account));
    }
    let mut budget = batch;
    let (mut sessions, mut documents) = (0u64, 0u64);
    let stop_at = std::time::Instant::now() + ACCOUNT_REDACTION_TIME;
    let mut out_of_time = false;
    // A child found again in the same call was redacted and yet still listed: its open-child
    // item outlived it (or gsi2 lags). Drop the item rather than loop on it.
    let mut seen = std::collections::HashSet::new();
    while budget > 0 && !out_of_time {
        let limit = i32::try_from(budget).unwrap_or(i32::MAX);
        let mut open = store.open_children(tenancy, id, limit).await?;
        if open.is_empty() {
            // Children from before open-child items: gsi2 (settled long since).
            let prefixes = [
                (crate::store::keys::CHILD_SESSION_PREFIX, OPEN_SESSION),
                (crate::store::keys::CHILD_DOCUMENT_PREFIX, OPEN_DOCUMENT),
            ];
            for (prefix, kind) in prefixes {
                let left = budget - open.len();
                if left == 0 {
                    break;
                }
                for item in store.unredacted_children(tenancy, id, prefix, left).await? {
                    if let Some(child) = item.get("id").and_then(|v| v.as_s().ok()) {
                        open.push(crate::store::accounts::OpenChild {
                            kind: kind.to_owned(),
                            id: child.clone(),
                        });
                    }
                }
            }
            if open.is_empty() {
                break;
            }
        }
        for child in &open {
            if std::time::Instant::now() >= stop_at {
                out_of_time = true;
                break;
            }
            budget -= 1;
            if !seen.insert(child.id.clone()) {
                drop_open_child(store, tenancy, id, child).await?;
                continue;
            }
            match child.kind.as_str() {
                OPEN_SESSION => {
                    let sid = SessionId::parse(&child.id).map_err(|_| corrupt_child())?;
                    match redact_session(store, objects, tenancy, sid, actor, now).await {
                        Ok(_) => {}
                        // A dangling open child (its session never committed): drop it.
                        Err(WorkflowError::NotFound) => {
                            drop_open_child(store, tenancy, id, child).await?
                        }
                        Err(e) => return Err(e),
                    }
                    sessions += 1;
                }
                _ => {
                    let did = crate::domain::ids::DocumentId::parse(&child.id)
                        .map_err(|_| corrupt_child())?;
                    redact_document(store, objects, tenancy, did, now).await?;
                    store.scrub_idempotency(tenancy, &child.id).await?;
                    // A document whose item is gone leaves its open child behind.
                    drop_open_child(store, tenancy, id, child).await?;
                    documents += 1;
                }
            }
        }
    }
    // Record progress, or finish when a query found nothing left.
    let finished = budget > 0 && !out_of_time;
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let next = if finished {
            account.redaction_finished(now)
        } else {
            account.redaction_progressed(sessions, documents)
        };
        let Some(next) = next else {
            break;
        };
        // The write that finishes the redaction is the one the feed hears of.
        let redacted = (finished && next.redacted_at.is_some())
            .then(|| FeedEvent::account("account.redacted", &next, actor));
        match store
            .replace_account(tenancy, &account, &next, redacted.as_ref())
            .await
        {
            Ok(()) => {
                account = next;
                break;
            }
            Err(AccountWriteError::Stale) => {
                account = store
                    .get_account(tenancy, id)
                    .await?
                    .ok_or(WorkflowError::NotFound)?;
            }
            Err(AccountWriteError::Store(e)) => return Err(e.into()),
            Err(AccountWriteError::ExternalIdTaken) => return Err(WorkflowError::Conflict),
        }
    }
    if account.redacted_at.is_some() {
        store.scrub_idempotency(tenancy, &id.to_string()).await?;
        return Ok(AccountRedaction::Done(account));
    }
    Ok(AccountRedaction::InProgress(account))
}

fn corrupt_child() -> WorkflowError {
    WorkflowError::Store(StoreError::Dynamo {
        context: "reading an account's open children",
        source: "an open child with a malformed id".into(),
    })
}

async fn drop_open_child(
    store: &Store,
    tenancy: &Tenancy,
    account: AccountId,
    child: &crate::store::accounts::OpenChild,
) -> Result<(), WorkflowError> {
    let writes = vec![Write::DeleteOpenChild(account, child.clone())];
    store
        .write(tenancy, "removing an open child", writes)
        .await?;
    Ok(())
}

/// Step 1 of [`redact_account_step`]: the account as marked (or as it already was).
async fn mark_account_redacting(
    store: &Store,
    tenancy: &Tenancy,
    id: AccountId,
    now: Timestamp,
) -> Result<Account, WorkflowError> {
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let current = store
            .get_account(tenancy, id)
            .await?
            .ok_or(WorkflowError::NotFound)?;
        let Some(next) = current.redaction_started(now) else {
            return Ok(current);
        };
        match store.replace_account(tenancy, &current, &next, None).await {
            Ok(()) => return Ok(next),
            Err(AccountWriteError::Stale) => continue,
            Err(AccountWriteError::Store(e)) => return Err(e.into()),
            Err(AccountWriteError::ExternalIdTaken) => return Err(WorkflowError::Conflict),
        }
    }
    Err(WorkflowError::Conflict)
}

/// Redacts an account completely, however many sessions it has (for callers with no bound:
/// tools and tests). The API takes one [`redact_account_step`] and leaves the rest to the
/// sweep.
pub async fn redact_account(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    id: AccountId,
    actor: &Actor,
    now: Timestamp,
) -> Result<Account, WorkflowError> {
    loop {
        match redact_account_step(
            store,
            objects,
            tenancy,
            id,
            actor,
            now,
            ACCOUNT_REDACTION_BATCH,
        )
        .await?
        {
            AccountRedaction::Done(account) => return Ok(account),
            AccountRedaction::InProgress(_) => continue,
        }
    }
}
