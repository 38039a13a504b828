//! Documents (`document/idv`, `document/address`) and their files.
//!
//! File bytes never pass through the API: a file is *declared* (name, type, size, optional
//! checksum), the client uploads it straight to S3 through a presigned URL, and the service
//! then checks what arrived against the declaration ([`check_upload`]). A file is
//! `pending_upload` until that check marks it `uploaded` or `rejected`.
//!
//! A document changes status only in [`Document::apply`] (the lifecycle is drawn on
//! [`DocumentAction`]); a refused edge is [`DomainError::DocumentTransition`].

use serde::{Deserialize, Serialize};

use super::ids::{AccountId, DocumentId, FileId, SessionId, VerificationId};
use super::session::DomainError;
use super::values::{Tenancy, Timestamp};

/// Largest file accepted (10 MiB).
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Most files per document.
pub const MAX_FILES: usize = 4;
/// Most verifications recorded on one document (a standalone document can be verified
/// again and again; a linked one is bounded by its session's cap as well).
pub const MAX_VERIFICATIONS: usize = 100;
/// Largest image the upload check accepts, in pixels (width × height read from the
/// header). The same cap as the check engine's default `image.max_pixels`.
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// Largest image side the upload check accepts (the engine's `image.max_dimension`).
pub const MAX_IMAGE_DIMENSION: u32 = 16_384;

/// The two kinds of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A government ID: passport, driving licence, identity card, residence permit.
    Idv,
    /// A proof of address: utility bill, bank statement.
    Address,
}

impl DocumentKind {
    /// The JSON:API type (`document/idv`).
    pub fn resource_type(&self) -> &'static str {
        match self {
            DocumentKind::Idv => "document/idv",
            DocumentKind::Address => "document/address",
        }
    }

    /// The path segment (`idvs`, `addresses`).
    pub fn path_segment(&self) -> &'static str {
        match self {
            DocumentKind::Idv => "idvs",
            DocumentKind::Address => "addresses",
        }
    }

    /// From a path segment.
    pub fn from_path_segment(s: &str) -> Option<DocumentKind> {
        match s {
            "idvs" => Some(DocumentKind::Idv),
            "addresses" => Some(DocumentKind::Address),
            _ => None,
        }
    }

    /// From a JSON:API type.
    pub fn from_resource_type(s: &str) -> Option<DocumentKind> {
        match s {
            "document/idv" => Some(DocumentKind::Idv),
            "document/address" => Some(DocumentKind::Address),
            _ => None,
        }
    }

    /// The content types a file of this kind may have: photos for IDs; photos or PDF for
    /// proofs of address.
    pub fn accepts(&self, content_type: ContentType) -> bool {
        match self {
            DocumentKind::Idv => content_type != ContentType::Pdf,
            DocumentKind::Address => true,
        }
    }

    /// `document_type` hints this kind accepts.
    pub fn document_types(&self) -> &'static [&'static str] {
        match self {
            DocumentKind::Idv => &[
                "passport",
                "driving_license",
                "id_card",
                "residence_permit",
                "visa",
            ],
            DocumentKind::Address => &["utility_bill", "bank_statement", "other"],
        }
    }
}

/// The file types the service accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContentType {
    /// `image/jpeg`.
    #[serde(rename = "image/jpeg")]
    Jpeg,
    /// `image/png`.
    #[serde(rename = "image/png")]
    Png,
    /// `application/pdf`.
    #[serde(rename = "application/pdf")]
    Pdf,
}

impl ContentType {
    /// The MIME type.
    pub fn as_str(&self) -> &'static str {
        match self {
            ContentType::Jpeg => "image/jpeg",
            ContentType::Png => "image/png",
            ContentType::Pdf => "application/pdf",
        }
    }

    /// Parses a MIME type.
    pub fn parse(s: &str) -> Option<ContentType> {
        match s {
            "image/jpeg" => Some(ContentType::Jpeg),
            "image/png" => Some(ContentType::Png),
            "application/pdf" => Some(ContentType::Pdf),
            _ => None,
        }
    }

    /// True if `head` (the first bytes of a file) starts with this type's signature.
    pub fn matches(&self, head: &[u8]) -> bool {
        match self {
            ContentType::Jpeg => head.starts_with(&[0xFF, 0xD8, 0xFF]),
            ContentType::Png => head.starts_with(b"\x89PNG\r\n\x1a\n"),
            ContentType::Pdf => head.starts_with(b"%PDF-"),
        }
    }
}

/// Which side of a card a photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The front.
    Front,
    /// The back (where North-American licences carry their barcode).
    Back,
}

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Declared; nothing valid has arrived yet.
    PendingUpload,
    /// Arrived and matched its declaration.
    Uploaded,
    /// Arrived and did not match; the object was deleted.
    Rejected,
}

impl FileStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            FileStatus::PendingUpload => "pending_upload",
            FileStatus::Uploaded => "uploaded",
            FileStatus::Rejected => "rejected",
        }
    }
}

/// Why an uploaded object was refused (stable codes, shown as `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Its size differs from `byte_size`.
    SizeMismatch,
    /// Its first bytes are not those of `content_type`.
    ContentTypeMismatch,
    /// Its SHA-256 differs from `checksum`.
    ChecksumMismatch,
    /// Its bytes do not parse as the declared image type (no valid header).
    NotDecodable,
    /// Its header promises more pixels, or a longer side, than the service decodes
    /// (a decompression bomb, or simply too large a photo).
    ImageTooLarge,
    /// It was checked and later read with other bytes than the ones checked (the object
    /// was replaced behind the upload URL): nothing of it is used.
    ObjectReplaced,
}

/// A declared file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentFile {
    /// Its id.
    pub id: FileId,
    /// The client's name for it (personal data: nulled by redaction).
    pub filename: Option<String>,
    /// Declared type.
    pub content_type: ContentType,
    /// Declared size in bytes.
    pub byte_size: u64,
    /// Card side.
    pub side: Option<Side>,
    /// Declared base64 SHA-256.
    pub checksum: Option<String>,
    /// Upload state.
    pub status: FileStatus,
    /// Why it was rejected.
    pub reason: Option<RejectReason>,
    /// The S3 object key.
    pub object_key: String,
    /// When it was found valid.
    pub uploaded_at: Option<Timestamp>,
    /// Base64 SHA-256 of the bytes the upload checker checked; every later read recomputes
    /// it and refuses other bytes (`object_replaced`). `None` on files checked before it
    /// was recorded.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// Where a document is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Awaiting files.
    Pending,
    /// Submitted for processing.
    Submitted,
    /// A verification processed it.
    Processed,
    /// Processing failed.
    Failed,
    /// Its files and extracted data were removed.
    Redacted,
}

impl DocumentStatus {
    /// Every status.
    pub const ALL: [DocumentStatus; 5] = [
        DocumentStatus::Pending,
        DocumentStatus::Submitted,
        DocumentStatus::Processed,
        DocumentStatus::Failed,
        DocumentStatus::Redacted,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DocumentStatus::Pending => "pending",
            DocumentStatus::Submitted => "submitted",
            DocumentStatus::Processed => "processed",
            DocumentStatus::Failed => "failed",
            DocumentStatus::Redacted => "redacted",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<DocumentStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Something that changes a document (its lifecycle, enforced by [`Document::apply`]):
///
/// ```text
/// pending ──add_file──▶ pending ──submit──▶ submitted
/// pending | submitted | processed | failed ──process──▶ processed
/// pending | submitted | processed | failed ──fail──▶ failed   (re-verification after requires_retry)
/// any status but redacted ──redact──▶ redacted
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentAction {
    /// One more file is declared (only while pending; the status stays).
    AddFile,
    /// The applicant submits it (`pending → submitted`).
    Submit,
    /// A verification ended (`passed` or `failed`) with it (`→ processed`).
    Process,
    /// A verification asked for a retry (`→ failed`); it may be verified again.
    Fail,
    /// Its personal data is removed (`→ redacted`).
    Redact,
}

impl DocumentAction {
    /// Every action.
    pub const ALL: [DocumentAction; 5] = [
        DocumentAction::AddFile,
        DocumentAction::Submit,
        DocumentAction::Process,
        DocumentAction::Fail,
        DocumentAction::Redact,
    ];

    /// The wire name (as in `meta.action` of a 409).
    pub fn as_str(&self) -> &'static str {
        match self {
            DocumentAction::AddFile => "add_file",
            DocumentAction::Submit => "submit",
            DocumentAction::Process => "process",
            DocumentAction::Fail => "fail",
            DocumentAction::Redact => "redact",
        }
    }
}

impl DocumentStatus {
    /// The status `action` leads to from this one, or why the lifecycle refuses it.
    pub fn after(self, action: DocumentAction) -> Result<DocumentStatus, DomainError> {
        use DocumentAction as A;
        use DocumentStatus as S;
        match (self, action) {
            (S::Pending, A::AddFile) => Ok(S::Pending),
            (S::Pending, A::Submit) => Ok(S::Submitted),
            (S::Pending | S::Submitted | S::Processed | S::Failed, A::Process) => Ok(S::Processed),
            (S::Pending | S::Submitted | S::Processed | S::Failed, A::Fail) => Ok(S::Failed),
            (S::Pending | S::Submitted | S::Processed | S::Failed, A::Redact) => Ok(S::Redacted),
            (S::Submitted | S::Processed | S::Failed | S::Redacted, A::AddFile | A::Submit)
            | (S::Redacted, A::Process | A::Fail | A::Redact) => {
                Err(DomainError::DocumentTransition {
                    status: self,
                    action,
                })
            }
        }
    }
}

/// A document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Its id.
    pub id: DocumentId,
    /// ID or proof of address.
    pub kind: DocumentKind,
    /// Incremented by every write; writes are conditional on it.
    pub version: u64,
    /// Its status: changed only by [`Document::apply`] (read it with [`Document::status`]).
    status: DocumentStatus,
    /// The declared hint, replaced by what processing found.
    pub document_type: Option<String>,
    /// The hint as the uploader declared it (an input of the checks, so kept apart from
    /// what processing later writes into `document_type`).
    #[serde(default)]
    pub declared_type: Option<String>,
    /// The session it belongs to.
    pub session_id: Option<SessionId>,
    /// The account it belongs to.
    pub account_id: Option<AccountId>,
    /// Its files, in declaration order.
    pub files: Vec<DocumentFile>,
    /// Data extracted by processing (personal data: nulled by redaction). Stored as JSON
    /// text so it reads back byte for byte.
    #[serde(with = "super::values::json_text")]
    pub extracted: Option<serde_json::Value>,
    /// Verifications that processed it.
    pub verification_ids: Vec<VerificationId>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Submission time.
    pub submitted_at: Option<Timestamp>,
    /// Processing time.
    pub processed_at: Option<Timestamp>,
    /// Redaction time.
    pub redacted_at: Option<Timestamp>,
    /// When redaction finished deleting its files from S3 (after `redacted_at`): a re-run
    /// of the redaction skips a document that has it, so nothing is deleted twice.
    #[serde(default)]
    pub files_deleted_at: Option<Timestamp>,
}

impl Document {
    /// A new `pending` document, version 1, created at `now`, with its declared `files`.
    #[allow(clippy::too_many_arguments)]
    pub fn pending(
        id: DocumentId,
        kind: DocumentKind,
        declared_type: Option<String>,
        session_id: Option<SessionId>,
        account_id: Option<AccountId>,
        files: Vec<DocumentFile>,
        now: Timestamp,
    ) -> Document {
        Document {
            id,
            kind,
            version: 1,
            status: DocumentStatus::Pending,
            document_type: declared_type.clone(),
            declared_type,
            session_id,
            account_id,
            files,
            extracted: None,
            verification_ids: Vec::new(),
            created_at: now,
            updated_at: now,
            submitted_at: None,
            processed_at: None,
            redacted_at: None,
            files_deleted_at: None,
        }
    }

    /// Its status (changed only by [`Document::apply`]).
    pub fn status(&self) -> DocumentStatus {
        self.status
    }

    /// Applies `action` at `now`: the document with its next status, the action's timestamp
    /// (`submitted_at`, `processed_at`, `redacted_at`), `updated_at` and a new version; or
    /// why the lifecycle refuses it. The only place a document changes status.
    pub fn apply(&self, action: DocumentAction, now: Timestamp) -> Result<Document, DomainError> {
        let to = self.status.after(action)?;
        // Never write a timestamp earlier than one already stored, whatever the clock says.
        let now = now.at_least(self.updated_at);
        let mut next = self.clone();
        match action {
            DocumentAction::AddFile => {}
            DocumentAction::Submit => next.submitted_at = Some(now),
            DocumentAction::Process | DocumentAction::Fail => next.processed_at = Some(now),
            DocumentAction::Redact => next.redacted_at = Some(now),
        }
        next.status = to;
        next.updated_at = now;
        next.version = self.version + 1;
        Ok(next)
    }

    /// The file with this id.
    pub fn file(&self, id: FileId) -> Option<&DocumentFile> {
        self.files.iter().find(|f| f.id == id)
    }

    /// Declares one more file; refused once the document holds [`MAX_FILES`]. Written
    /// conditionally on the version read, so racing additions cannot pass the cap together.
    pub fn add_file(&mut self, file: DocumentFile) -> Result<(), DomainError> {
        if self.files.len() >= MAX_FILES {
            return Err(DomainError::LimitExceeded {
                limit: "files_per_document",
                max: MAX_FILES as u64,
            });
        }
        self.files.push(file);
        Ok(())
    }

    /// Records a verification of this document; refused once it holds
    /// [`MAX_VERIFICATIONS`].
    pub fn add_verification(&mut self, id: VerificationId) -> Result<(), DomainError> {
        self.can_add_verification()?;
        self.verification_ids.push(id);
        Ok(())
    }

    /// Whether [`Document::add_verification`] would accept one more.
    pub fn can_add_verification(&self) -> Result<(), DomainError> {
        if self.verification_ids.len() >= MAX_VERIFICATIONS {
            return Err(DomainError::LimitExceeded {
                limit: "verifications_per_document",
                max: MAX_VERIFICATIONS as u64,
            });
        }
        Ok(())
    }

    /// True when every declared file arrived and passed.
    pub fn all_uploaded(&self) -> bool {
        !self.files.is_empty() && self.files.iter().all(|f| f.status == FileStatus::Uploaded)
    }

    /// The document with file `id` marked as `outcome` decided at `now` (`Ok` holds the
    /// base64 SHA-256 of the bytes checked), or `None` if the file is not pending any more
    /// (a redelivered event, or a race with `submit`).
    pub fn with_file_outcome(
        &self,
        id: FileId,
        outcome: Result<String, RejectReason>,
        now: Timestamp,
    ) -> Option<Document> {
        let idx = self.files.iter().position(|f| f.id == id)?;
        if self.files[idx].status != FileStatus::PendingUpload || self.redacted_at.is_some() {
            return None;
        }
        let now = now.at_least(self.updated_at);
        let mut next = self.clone();
        let file = &mut next.files[idx];
        match outcome {
            Ok(sha256) => {
                file.status = FileStatus::Uploaded;
                file.uploaded_at = Some(now);
                file.reason = None;
                file.sha256 = Some(sha256);
            }
            Err(reason) => {
                file.status = FileStatus::Rejected;
                file.reason = Some(reason);
            }
        }
        next.updated_at = now;
        next.version += 1;
        Some(next)
    }

    /// The document with the uploaded files `ids` rejected as `object_replaced` (their bytes
    /// are no longer the ones checked), or `None` if none of them is uploaded any more or
    /// the document was redacted.
    pub fn with_files_replaced(&self, ids: &[FileId], now: Timestamp) -> Option<Document> {
        if self.redacted_at.is_some() {
            return None;
        }
        let mut next = self.clone();
        let mut changed = false;
        for f in &mut next.files {
            if ids.contains(&f.id) && f.status == FileStatus::Uploaded {
                f.status = FileStatus::Rejected;
                f.reason = Some(RejectReason::ObjectReplaced);
                changed = true;
            }
        }
        if !changed {
            return None;
        }
        next.updated_at = now.at_least(self.updated_at);
        next.version += 1;
        Some(next)
    }

    /// The document with its files' names and its extracted data removed, marked redacted;
    /// `None` if it already was.
    pub fn redacted(&self, now: Timestamp) -> Option<Document> {
        if self.redacted_at.is_some() {
            return None;
        }
        let mut next = self.apply(DocumentAction::Redact, now).ok()?;
        for f in &mut next.files {
            f.filename = None;
            f.checksum = None;
            f.sha256 = None;
        }
        next.extracted = None;
        Some(next)
    }
}

/// The S3 key of a file: tenant-scoped, and unguessable through the 80 random bits of the
/// document and file ids.
pub fn object_key(tenancy: &Tenancy, document: DocumentId, file: FileId) -> String {
    format!(
        "t/{}/{}/{document}/{file}",
        tenancy.tenant, tenancy.environment
    )
}

/// Reads an object key back into its tenancy, document and file.
pub fn parse_object_key(key: &str) -> Option<(Tenancy, DocumentId, FileId)> {
    let mut parts = key.split('/');
    let (Some("t"), Some(tenant), Some(env), Some(doc), Some(file), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some((
        Tenancy {
            tenant: super::values::TenantId::parse(tenant)?,
            environment: super::values::Environment::parse(env)?,
        },
        DocumentId::parse(doc).ok()?,
        FileId::parse(file).ok()?,
    ))
}

/// An uploaded object as the upload checker read it (one read: every check below and the
/// recorded hash are of these same bytes).
pub struct Arrival<'a> {
    /// Its bytes.
    pub bytes: &'a [u8],
    /// Their SHA-256 in base64.
    pub sha256_base64: &'a str,
}

/// Width and height from a JPEG's or PNG's header, `None` when the bytes are not a
/// well-formed header of `content_type` (PDFs have none: `None`). Reads markers and
/// chunks only, never pixels, so it costs the same for a bomb as for a thumbnail.
pub fn image_dimensions(content_type: ContentType, bytes: &[u8]) -> Option<(u32, u32)> {
    let be16 = |i: usize| -> Option<u32> {
        Some(u32::from(u16::from_be_bytes([
            *bytes.get(i)?,
            *bytes.get(i + 1)?,
        ])))
    };
    let be32 = |i: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(i..i + 4)?.try_into().ok()?))
    };
    match content_type {
        ContentType::Pdf => None,
        ContentType::Png => {
            // Signature, then IHDR first: length 13, the type, width, height.
            if !content_type.matches(bytes) || be32(8)? != 13 || bytes.get(12..16)? != b"IHDR" {
                return None;
            }
            Some((be32(16)?, be32(20)?))
        }
        ContentType::Jpeg => {
            if !bytes.starts_with(&[0xFF, 0xD8]) {
                return None;
            }
            let mut i = 2;
            loop {
                if *bytes.get(i)? != 0xFF {
                    return None;
                }
                // Fill bytes: any number of 0xFF before a marker.
                while *bytes.get(i + 1)? == 0xFF {
                    i += 1;
                }
                let marker = *bytes.get(i + 1)?;
                match marker {
                    // Standalone markers carry no length.
                    0x01 | 0xD0..=0xD7 => i += 2,
                    // End of image or start of scan before any frame header.
                    0xD9 | 0xDA => return None,
                    // Start of frame (every coding process): P, height, width.
                    0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                        return Some((be16(i + 7)?, be16(i + 5)?));
                    }
                    _ => {
                        let len = usize::try_from(be16(i + 2)?).ok()?;
                        if len < 2 {
                            return None;
                        }
                        i += 2 + len;
                    }
                }
            }
        }
    }
}

/// Checks an arrived object against its declaration: size, type by its bytes (an image's
/// header must parse, within [`MAX_IMAGE_PIXELS`] and [`MAX_IMAGE_DIMENSION`]; a PDF
/// must start like one; its pages are read at verification), then the checksum.
pub fn check_upload(file: &DocumentFile, arrival: &Arrival<'_>) -> Result<(), RejectReason> {
    if u64::try_from(arrival.bytes.len()).ok() != Some(file.byte_size) {
        return Err(RejectReason::SizeMismatch);
    }
    if !file.content_type.matches(arrival.bytes) {
        return Err(RejectReason::ContentTypeMismatch);
    }
    if file.content_type != ContentType::Pdf {
        let (w, h) =
            image_dimensions(file.content_type, arrival.bytes).ok_or(RejectReason::NotDecodable)?;
        if w == 0 || h == 0 {
            return Err(RejectReason::NotDecodable);
        }
        if u64::from(w) * u64::from(h) > MAX_IMAGE_PIXELS
            || w > MAX_IMAGE_DIMENSION
            || h > MAX_IMAGE_DIMENSION
        {
            return Err(RejectReason::ImageTooLarge);
        }
    }
    if let Some(declared) = &file.checksum {
        if arrival.sha256_base64 != declared.as_str() {
            return Err(RejectReason::ChecksumMismatch);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::values::{Environment, TenantId};

    fn file(ct: ContentType, size: u64, checksum: Option<&str>) -> DocumentFile {
        DocumentFile {
            id: FileId::new(time::OffsetDateTime::now_utc()),
            filename: Some("front.jpg".into()),
            content_type: ct,
            byte_size: size,
            side: None,
            checksum: checksum.map(str::to_owned),
            status: FileStatus::PendingUpload,
            reason: None,
            object_key: "k".into(),
            uploaded_at: None,
            sha256: None,
        }
    }

    fn document(status: DocumentStatus) -> Document {
        let now = Timestamp::from_datetime(time::macros::datetime!(2025-01-15 10:30:00 UTC));
        let mut d = Document::pending(
            DocumentId::new(now.datetime()),
            DocumentKind::Idv,
            None,
            None,
            None,
            vec![file(ContentType::Jpeg, 10, None)],
            now,
        );
        // A fixture in any status: the tests below check `apply` from each of them.
        d.status = status;
        d
    }

    /// Today's document lifecycle, written out independently of `apply`.
    fn legal(from: DocumentStatus, action: DocumentAction) -> Option<DocumentStatus> {
        use DocumentAction as A;
        use DocumentStatus as S;
        let table = [
            (S::Pending, A::AddFile, S::Pending),
            (S::Pending, A::Submit, S::Submitted),
            (S::Pending, A::Process, S::Processed),
            (S::Submitted, A::Process, S::Processed),
            (S::Processed, A::Process, S::Processed),
            (S::Failed, A::Process, S::Processed),
            (S::Pending, A::Fail, S::Failed),
            (S::Submitted, A::Fail, S::Failed),
            (S::Processed, A::Fail, S::Failed),
            (S::Failed, A::Fail, S::Failed),
            (S::Pending, A::Redact, S::Redacted),
            (S::Submitted, A::Redact, S::Redacted),
            (S::Processed, A::Redact, S::Redacted),
            (S::Failed, A::Redact, S::Redacted),
        ];
        table
            .iter()
            .find(|(f, a, _)| *f == from && *a == action)
            .map(|(_, _, to)| *to)
    }

    #[test]
    fn every_document_edge_and_nothing_else() {
        let now = Timestamp::from_datetime(time::macros::datetime!(2025-01-16 08:00:00 UTC));
        let mut legal_edges = 0;
        for status in DocumentStatus::ALL {
            for action in DocumentAction::ALL {
                let d = document(status);
                match (d.apply(action, now), legal(status, action)) {
                    (Ok(next), Some(to)) => {
                        legal_edges += 1;
                        assert_eq!(next.status, to, "{status:?} + {action:?}");
                        assert_eq!(next.version, d.version + 1);
                        assert_eq!(next.updated_at, now);
                        let stamp = match action {
                            DocumentAction::AddFile => Some(now),
                            DocumentAction::Submit => next.submitted_at,
                            DocumentAction::Process | DocumentAction::Fail => next.processed_at,
                            DocumentAction::Redact => next.redacted_at,
                        };
                        assert_eq!(stamp, Some(now), "{action:?} sets its timestamp");
                    }
                    (
                        Err(DomainError::DocumentTransition {
                            status: st,
                            action: a,
                        }),
                        None,
                    ) => assert_eq!((st, a), (status, action)),
                    (got, want) => panic!("{status:?} + {action:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(legal_edges, 14);
    }

    #[test]
    fn redacting_scrubs_once() {
        let now = Timestamp::now();
        let d = document(DocumentStatus::Processed);
        let r = d.redacted(now).expect("first");
        assert_eq!(r.status, DocumentStatus::Redacted);
        assert_eq!(r.files[0].filename, None);
        assert!(r.redacted(now).is_none(), "twice is a no-op");
    }

    fn action() -> impl proptest::strategy::Strategy<Value = DocumentAction> {
        proptest::sample::select(DocumentAction::ALL.to_vec())
    }

    proptest::proptest! {
        /// Random walks: `redacted` absorbs everything, versions count writes, and no
        /// timestamp goes backwards even when the clock does.
        #[test]
        fn document_random_walks(
            steps in proptest::collection::vec((action(), -5_000i64..60_000), 1..40)
        ) {
            use proptest::prelude::*;
            let mut d = document(DocumentStatus::Pending);
            let mut clock = d.created_at;
            for (action, delta_ms) in steps {
                clock = clock.add(time::Duration::milliseconds(delta_ms));
                match d.apply(action, clock) {
                    Ok(next) => {
                        prop_assert!(d.status != DocumentStatus::Redacted, "left redacted");
                        prop_assert_eq!(Some(next.status), legal(d.status, action));
                        prop_assert!(next.updated_at >= d.updated_at);
                        prop_assert_eq!(next.version, d.version + 1);
                        if let Some(b) = d.submitted_at {
                            prop_assert_eq!(Some(b), next.submitted_at);
                        }
                        d = next;
                    }
                    Err(e) => {
                        prop_assert_eq!(legal(d.status, action), None);
                        prop_assert_eq!(
                            e,
                            DomainError::DocumentTransition { status: d.status, action }
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn magic_bytes_decide_the_type() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
        let png = *b"\x89PNG\r\n\x1a\n\0\0";
        assert!(ContentType::Jpeg.matches(&jpeg));
        assert!(!ContentType::Jpeg.matches(&png), "a PNG declared as JPEG");
        assert!(ContentType::Png.matches(&png));
        assert!(ContentType::Pdf.matches(b"%PDF-1.7\n"));
        assert!(!ContentType::Pdf.matches(b""));
    }

    /// A JPEG header: SOI, an APP0 segment, SOF0 of `w` × `h`, EOI, padded to `n` bytes.
    fn jpeg(w: u16, h: u16, n: usize) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xC0, 0, 11, 8];
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&[1, 1, 0x11, 0, 0xFF, 0xD9]);
        v.resize(n, 0);
        v
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    #[test]
    fn headers_give_dimensions_without_pixels() {
        assert_eq!(
            image_dimensions(ContentType::Jpeg, &jpeg(800, 600, 64)),
            Some((800, 600))
        );
        assert_eq!(
            image_dimensions(ContentType::Png, &png(60_000, 60_000)),
            Some((60_000, 60_000))
        );
        // Typed text, a truncated header, a scan before any frame: no image.
        assert_eq!(
            image_dimensions(ContentType::Jpeg, b"P<UTOERIKSSON<<ANNA"),
            None
        );
        assert_eq!(
            image_dimensions(ContentType::Jpeg, &[0xFF, 0xD8, 0xFF, 0xE0, 0, 9]),
            None
        );
        assert_eq!(
            image_dimensions(ContentType::Jpeg, &[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]),
            None
        );
        assert_eq!(image_dimensions(ContentType::Png, &png(1, 1)[..20]), None);
    }

    fn arrival(bytes: &[u8]) -> Arrival<'_> {
        Arrival {
            bytes,
            sha256_base64: "abc=",
        }
    }

    #[test]
    fn uploads_are_checked_against_the_declaration() {
        let bytes = jpeg(800, 600, 64);
        let f = file(ContentType::Jpeg, 64, None);
        assert_eq!(check_upload(&f, &arrival(&bytes)), Ok(()));
        assert_eq!(
            check_upload(&file(ContentType::Jpeg, 65, None), &arrival(&bytes)),
            Err(RejectReason::SizeMismatch)
        );
        let png_ok = png(800, 600);
        let n = png_ok.len() as u64;
        assert_eq!(
            check_upload(&file(ContentType::Jpeg, n, None), &arrival(&png_ok)),
            Err(RejectReason::ContentTypeMismatch)
        );
        let f_png = file(ContentType::Png, n, None);
        assert_eq!(check_upload(&f_png, &arrival(&png_ok)), Ok(()));
        assert_eq!(
            check_upload(&f_png, &arrival(&png(60_000, 60_000))),
            Err(RejectReason::ImageTooLarge)
        );
        let mut broken = bytes.clone();
        broken[5] = 0xFF; // the APP0 segment's length runs past the end
        assert_eq!(
            check_upload(&f, &arrival(&broken)),
            Err(RejectReason::NotDecodable)
        );
        assert_eq!(
            check_upload(&file(ContentType::Jpeg, 64, Some("abd=")), &arrival(&bytes)),
            Err(RejectReason::ChecksumMismatch)
        );
        assert_eq!(
            check_upload(&file(ContentType::Jpeg, 64, Some("abc=")), &arrival(&bytes)),
            Ok(())
        );
        assert_eq!(
            check_upload(&file(ContentType::Pdf, 9, None), &arrival(b"%PDF-1.7\n")),
            Ok(())
        );
    }

    #[test]
    fn object_keys_round_trip() {
        let t = Tenancy {
            tenant: TenantId::parse("acme").expect("tenant"),
            environment: Environment::Staging,
        };
        let d = DocumentId::new(time::OffsetDateTime::now_utc());
        let f = FileId::new(time::OffsetDateTime::now_utc());
        let key = object_key(&t, d, f);
        assert!(key.starts_with("t/acme/staging/"));
        assert_eq!(parse_object_key(&key), Some((t, d, f)));
        assert_eq!(parse_object_key("t/acme/staging/x/y"), None);
        assert_eq!(parse_object_key(&format!("{key}/extra")), None);
        assert_eq!(parse_object_key("other"), None);
    }
}
