//! Documents: creation (standalone, or in a session, which it starts), declaring one more
//! file, and submission (which moves a session awaiting it to `pending`).
//!
//! DynamoDB round trips: create 1 (standalone) or 2 (in a session: read the session, then
//! one transaction writing the document, the session and its event, and checking the
//! account); add a file 2; submit 2–3 plus the lazy check of files still pending.

use time::Duration;

use super::sessions::{attach_change, load_session, modify_session};
use super::{uploads, Attempts, WorkflowError};
use crate::domain::document::{
    object_key, ContentType, Document, DocumentAction, DocumentFile, DocumentKind, FileStatus, Side,
};
use crate::domain::event::{Actor, Event};
use crate::domain::ids::{AccountId, DocumentId, FileId, SessionId};
use crate::domain::session::{Action, DocumentRef};
use crate::domain::validation::{ProblemKind, Problems};
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::objects::Objects;
use crate::store::{Child, Store, Write};

pub use crate::store::documents::DocumentFilter;

/// A file the client declares, before it has an id.
#[derive(Debug, Clone)]
pub struct FileDecl {
    /// The client's name for it.
    pub filename: String,
    /// Its type.
    pub content_type: ContentType,
    /// Its exact size.
    pub byte_size: u64,
    /// The card side it shows.
    pub side: Option<Side>,
    /// Base64 SHA-256 the upload must match.
    pub checksum: Option<String>,
}

/// A valid request to create a document.
#[derive(Debug, Clone)]
pub struct NewDocument {
    /// Declared files.
    pub files: Vec<FileDecl>,
    /// The client's type hint.
    pub document_type: Option<String>,
    /// The session to link it to.
    pub session: Option<SessionId>,
    /// The account to link it to.
    pub account: Option<AccountId>,
}

fn problem(kind: ProblemKind, pointer: &str, detail: &str) -> WorkflowError {
    let mut p = Problems::default();
    p.push(kind, pointer, detail);
    WorkflowError::Invalid(p)
}

/// Declared files with their ids and object keys.
fn declare(
    tenancy: &Tenancy,
    doc: DocumentId,
    decls: Vec<FileDecl>,
    now: Timestamp,
) -> Vec<DocumentFile> {
    decls
        .into_iter()
        .map(|d| {
            let id = FileId::new(now.datetime());
            DocumentFile {
                id,
                filename: Some(d.filename),
                content_type: d.content_type,
                byte_size: d.byte_size,
                side: d.side,
                checksum: d.checksum,
                status: FileStatus::PendingUpload,
                reason: None,
                object_key: object_key(tenancy, doc, id),
                uploaded_at: None,
                sha256: None,
            }
        })
        .collect()
}

/// The document a create request describes, not yet written: its files have their ids and
/// object keys, so upload URLs can be presigned before anything is written.
pub fn prepare(
    tenancy: &Tenancy,
    kind: DocumentKind,
    input: NewDocument,
    now: Timestamp,
) -> Document {
    let id = DocumentId::new(now.datetime());
    let files = declare(tenancy, id, input.files, now);
    Document::pending(
        id,
        kind,
        input.document_type,
        input.session,
        input.account,
        files,
        now,
    )
}

/// Writes a [`prepare`]d document; the document as written. In a session it is linked to
/// the session (starting a `created` one) and takes the session's account; with an
/// account, the account must exist and take documents (checked in the same transaction).
pub async fn create(
    store: &Store,
    tenancy: &Tenancy,
    doc: Document,
    actor: &Actor,
    lifetime: Duration,
) -> Result<Document, WorkflowError> {
    let now = doc.created_at;
    let Some(session) = doc.session_id else {
        let mut writes = vec![Write::NewDocument(doc.clone())];
        writes.extend(Write::link_child(doc.account_id, Child::Document(doc.id)));
        store.write(tenancy, "creating a document", writes).await?;
        return Ok(doc);
    };
    let mut written = None;
    let result = modify_session(store, tenancy, session, now, |current| {
        if let (Some(a), Some(b)) = (doc.account_id, current.account_id) {
            if a != b {
                return Err(problem(
                    ProblemKind::Relationship,
                    "/data/relationships/account/data/id",
                    "differs from the session's account",
                ));
            }
        }
        let mut d = doc.clone();
        d.account_id = doc.account_id.or(current.account_id);
        // The cap is checked on the session as read; the write is conditional on its
        // version, so racing creates cannot pass it together.
        let mut linked = Ok(());
        let mut change = attach_change(
            current,
            "attach_document",
            "documents",
            actor,
            now,
            lifetime,
            |s| {
                linked = s.link_document(DocumentRef {
                    id: d.id,
                    kind: d.kind,
                })
            },
        )?;
        linked?;
        change.extra.push(Write::NewDocument(d.clone()));
        change
            .extra
            .extend(Write::link_child(d.account_id, Child::Document(d.id)));
        written = Some(d);
        Ok(Some(change))
    })
    .await;
    match result {
        Ok(_) => Ok(written.unwrap_or(doc)),
        Err(WorkflowError::NotFound) => Err(problem(
            ProblemKind::Relationship,
            "/data/relationships/session/data/id",
            "no such session",
        )),
        Err(e) => Err(e),
    }
}

/// The document `id` if it exists here and is of `kind` (a path naming another kind is
/// not found).
pub async fn load(
    store: &Store,
    tenancy: &Tenancy,
    kind: DocumentKind,
    id: DocumentId,
) -> Result<Document, WorkflowError> {
    match store.get_document(tenancy, id).await? {
        Some(d) if d.kind == kind => Ok(d),
        _ => Err(WorkflowError::NotFound),
    }
}

/// Declares one more file while the document is pending; the document as written and the
/// new file (whose upload URL the caller presigns).
pub async fn add_file(
    store: &Store,
    tenancy: &Tenancy,
    kind: DocumentKind,
    id: DocumentId,
    decl: FileDecl,
) -> Result<(Document, DocumentFile), WorkflowError> {
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let current = load(store, tenancy, kind, id).await?;
        let now = Timestamp::now().at_least(current.updated_at);
        // 409 invalid_transition unless pending.
        let mut next = current.apply(DocumentAction::AddFile, now)?;
        let file = declare(tenancy, id, vec![decl.clone()], now).remove(0);
        // 409 limit_exceeded at the cap; the write is conditional on the version read.
        next.add_file(file.clone())?;
        let writes = vec![Write::PutDocument {
            read: current,
            next: next.clone(),
        }];
        match store.write(tenancy, "adding a file", writes).await {
            Ok(()) => return Ok((next, file)),
            Err(e) if e.is_race() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(WorkflowError::Conflict)
}

/// Submits a pending document: checks its files still pending against S3 (a lost upload
/// event cannot strand a document), needs at least one uploaded file, and moves a linked
/// `created`/`started` session to `pending` in the same transaction.
pub async fn submit(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    kind: DocumentKind,
    id: DocumentId,
    actor: &Actor,
    lifetime: Duration,
) -> Result<Document, WorkflowError> {
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let mut current = load(store, tenancy, kind, id).await?;
        // 409 invalid_transition unless pending, before any file is checked.
        current.status().after(DocumentAction::Submit)?;
        let pending: Vec<FileId> = current
            .files
            .iter()
            .filter(|f| f.status == FileStatus::PendingUpload)
            .map(|f| f.id)
            .collect();
        if !pending.is_empty() {
            for file in pending {
                uploads::check_file(store, objects, tenancy, id, file, Timestamp::now()).await?;
            }
            current = load(store, tenancy, kind, id).await?;
        }
        if !current
            .files
            .iter()
            .any(|f| f.status == FileStatus::Uploaded)
        {
            return Err(problem(
                ProblemKind::Invalid,
                "/data/attributes/files",
                "no file has been uploaded yet",
            ));
        }
        let now = Timestamp::now().at_least(current.updated_at);
        let next = current.apply(DocumentAction::Submit, now)?;
        let mut writes = vec![Write::PutDocument {
            read: current.clone(),
            next: next.clone(),
        }];
        if let Some(sid) = current.session_id {
            let session = load_session(store, tenancy, sid, now)
                .await?
                .ok_or(WorkflowError::NotFound)?;
            // 409 session_redacted, or invalid_transition once decided or expired.
            session.ensure_open("submit_document")?;
            if session.status().awaits_submission() {
                let t = session.apply(Action::Submit, now, lifetime)?;
                let event = Event::transition(&t, actor.clone(), None);
                writes.push(Write::PutSession {
                    read: session,
                    next: t.next,
                    events: vec![event],
                });
            }
        }
        match store.write(tenancy, "submitting a document", writes).await {
            Ok(()) => return Ok(next),
            Err(e) if e.is_race() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(WorkflowError::Conflict)
}
