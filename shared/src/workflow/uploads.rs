//! Checking uploaded objects against their declarations.
//!
//! Called by the S3 event function for every `ObjectCreated` record and again, lazily, by
//! `submit` for files still `pending_upload`, so a lost event cannot strand a document. The
//! check is idempotent: a file that is no longer pending is left as it is, and a redelivered
//! event changes nothing.
//!
//! The object is read once; its size, type, header and checksum are checked on those bytes
//! and their SHA-256 is recorded on the file. Every later read (the verification, or a new
//! event for an already uploaded file, which a write behind the upload URL would send)
//! hashes the bytes it reads again: other bytes reject the file as `object_replaced`.
//!
//! Every decision is written with its `document.file_checked` feed event (`domain::feed`)
//! in the document's own transaction.

use super::{Attempts, WorkflowError};
use crate::domain::document::{
    check_upload, parse_object_key, Arrival, Document, FileStatus, RejectReason,
};
use crate::domain::event::Actor;
use crate::domain::feed::FeedEvent;
use crate::domain::ids::{DocumentId, FileId};
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::objects::{sha256_base64, Fetched, Objects};
use crate::store::{Store, Write};

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadCheck {
    /// No object yet.
    NotArrived,
    /// The object matches; the file is now `uploaded`.
    Uploaded,
    /// The object does not match; the file is `rejected` and the object deleted.
    Rejected(RejectReason),
    /// The file was decided before (redelivery, or `submit` got there first).
    AlreadyDecided(FileStatus),
    /// Nobody declared this object (or its document was redacted); it was deleted.
    Undeclared,
}

/// Checks the object of file `file` of document `doc` and records the outcome.
pub async fn check_file(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    doc: DocumentId,
    file: FileId,
    now: Timestamp,
) -> Result<UploadCheck, WorkflowError> {
    let key = crate::domain::document::object_key(tenancy, doc, file);
    // Past the last attempt the check gives up on a contended document (409; the S3
    // event is then retried).
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let Some(current) = store.get_document(tenancy, doc).await? else {
            objects.delete(&key).await?;
            return Ok(UploadCheck::Undeclared);
        };
        let Some(declared) = current.file(file).cloned() else {
            objects.delete(&key).await?;
            return Ok(UploadCheck::Undeclared);
        };
        if current.redacted_at.is_some() {
            objects.delete(&key).await?;
            return Ok(UploadCheck::Undeclared);
        }
        if declared.status == FileStatus::Uploaded {
            // A new event for an uploaded file: a redelivery (same bytes, nothing to do) or
            // a write behind our back, which the recorded hash tells.
            let Some(recorded) = declared.sha256.as_deref() else {
                return Ok(UploadCheck::AlreadyDecided(declared.status));
            };
            let Some(bytes) = objects.get(&key).await? else {
                return Ok(UploadCheck::AlreadyDecided(declared.status));
            };
            if sha256_base64(&bytes) == recorded {
                return Ok(UploadCheck::AlreadyDecided(declared.status));
            }
            let Some(next) = current.with_files_replaced(&[file], now) else {
                continue;
            };
            if !write_checked(store, tenancy, &current, next).await? {
                continue;
            }
            objects.delete(&key).await?;
            return Ok(UploadCheck::Rejected(RejectReason::ObjectReplaced));
        }
        if declared.status != FileStatus::PendingUpload {
            if declared.status == FileStatus::Rejected {
                // A second PUT to a still-valid URL: the file stays rejected, the bytes go.
                objects.delete(&key).await?;
            }
            return Ok(UploadCheck::AlreadyDecided(declared.status));
        }
        let outcome = match objects.fetch_sized(&key, declared.byte_size).await? {
            Fetched::Missing => return Ok(UploadCheck::NotArrived),
            Fetched::OtherSize(_) => Err(RejectReason::SizeMismatch),
            Fetched::Bytes(bytes) => {
                let sha = sha256_base64(&bytes);
                check_upload(
                    &declared,
                    &Arrival {
                        bytes: &bytes,
                        sha256_base64: &sha,
                    },
                )
                .map(|()| sha)
            }
        };
        let Some(next) = current.with_file_outcome(file, outcome.clone(), now) else {
            continue;
        };
        if !write_checked(store, tenancy, &current, next).await? {
            continue;
        }
        return Ok(match outcome {
            Ok(_) => UploadCheck::Uploaded,
            Err(reason) => {
                objects.delete(&key).await?;
                UploadCheck::Rejected(reason)
            }
        });
    }
    Err(WorkflowError::Conflict)
}

/// The actor of the upload check's feed events.
pub fn upload_check_actor() -> Actor {
    Actor::system("upload_check")
}

/// Writes the document as the check left it, with a `document.file_checked` feed event per
/// file it decided, in one transaction; false if the document changed since it was read.
async fn write_checked(
    store: &Store,
    tenancy: &Tenancy,
    current: &Document,
    next: Document,
) -> Result<bool, WorkflowError> {
    let mut writes: Vec<Write> = FeedEvent::file_checks(current, &next, &upload_check_actor())
        .into_iter()
        .map(Write::PutFeedEvent)
        .collect();
    writes.insert(
        0,
        Write::PutDocument {
            read: current.clone(),
            next,
        },
    );
    match store
        .write(tenancy, "recording an upload check", writes)
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if e.is_race() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Checks the object at `key`, whatever it is: objects outside the document layout are
/// deleted (nothing else may live in the bucket).
pub async fn check_object(
    store: &Store,
    objects: &Objects,
    key: &str,
    now: Timestamp,
) -> Result<UploadCheck, WorkflowError> {
    match parse_object_key(key) {
        Some((tenancy, doc, file)) => check_file(store, objects, &tenancy, doc, file, now).await,
        None => {
            objects.delete(key).await?;
            Ok(UploadCheck::Undeclared)
        }
    }
}
