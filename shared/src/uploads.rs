//! Checking uploaded objects against their declarations.
//!
//! Called by the S3 event function for every `ObjectCreated` record and again, lazily, by
//! `submit` for files still `pending_upload`, so a lost event cannot strand a document. The
//! check is idempotent: a file that is no longer pending is left as it is, and a redelivered
//! event changes nothing.

use crate::domain::document::{check_upload, parse_object_key, Arrival, FileStatus, RejectReason};
use crate::domain::ids::{DocumentId, FileId};
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::objects::{Objects, HEAD_BYTES};
use crate::store::Store;
use crate::workflow::WorkflowError;

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

/// Attempts before a check gives up on a contended document (the event is then retried).
const ATTEMPTS: usize = 8;

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
    for _ in 0..ATTEMPTS {
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
        if declared.status != FileStatus::PendingUpload {
            if declared.status == FileStatus::Rejected {
                // A second PUT to a still-valid URL: the file stays rejected, the bytes go.
                objects.delete(&key).await?;
            }
            return Ok(UploadCheck::AlreadyDecided(declared.status));
        }
        let Some(size) = objects.size(&key).await? else {
            return Ok(UploadCheck::NotArrived);
        };
        let outcome = if size != declared.byte_size {
            Err(RejectReason::SizeMismatch)
        } else {
            let Some(head) = objects.head_bytes(&key, HEAD_BYTES).await? else {
                return Ok(UploadCheck::NotArrived);
            };
            let sha = match declared.checksum {
                Some(_) => objects.sha256_base64(&key).await?,
                None => None,
            };
            check_upload(
                &declared,
                &Arrival {
                    size,
                    head: &head,
                    sha256_base64: sha.as_deref(),
                },
            )
        };
        let Some(next) = current.with_file_outcome(file, outcome, now) else {
            continue;
        };
        if !store.replace_document(tenancy, &current, &next).await? {
            continue;
        }
        return Ok(match outcome {
            Ok(()) => UploadCheck::Uploaded,
            Err(reason) => {
                objects.delete(&key).await?;
                UploadCheck::Rejected(reason)
            }
        });
    }
    Err(WorkflowError::Conflict)
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
