//! Running a verification: read the document's uploaded files from S3, run the
//! deterministic checks (`idv-checks`), and write the verification, the processed document,
//! the fingerprint sighting, the session's changes and their feed events (`verification.completed`,
//! `document.file_checked` for files it rejects) in one transaction.
//!
//! Only the functions that verify (the verifications API and the upload checker, which
//! processes standalone ID documents) enable the `verify` feature, so the image, barcode and
//! PDF code is not linked into the others.

use idv_checks::{
    document_fingerprint, evaluate_address, evaluate_idv, extract_address, extract_idv,
    AddressContext, Context, DuplicateEvidence, Extracted, InputFile, Outcome, PersonName,
    SessionData,
};
use time::{Date, Duration};

use super::{sessions, Attempts, WorkflowError};
use crate::config::ConfigError;
use crate::domain::applicant::{Address, ApplicantData, IdentityNumber, Name};
use crate::domain::document::{Document, DocumentAction, FileStatus, RejectReason, Side};
use crate::domain::event::{Actor, Event};
use crate::domain::feed::FeedEvent;
use crate::domain::ids::{DocumentId, FileId, SessionId, VerificationId};
use crate::domain::session::{Action, DocumentRef, Session};
use crate::domain::validation::{ProblemKind, Problems};
use crate::domain::values::{CountryCode, Tenancy, Timestamp};
use crate::domain::verification::{
    Verification, VerificationKind, VerificationRef, VerificationStatus,
};
use crate::store::objects::{sha256_base64, Objects};
use crate::store::verifications::Sighting;
use crate::store::{Store, StoreError, Write};

pub use crate::store::verifications::VerificationFilter;

/// How the checks are configured for this deployment.
#[derive(Clone)]
pub struct Settings {
    /// Engine configuration (`IDV_CHECKS_CONFIG`, JSON; every field optional).
    pub checks: idv_checks::Config,
    /// Key of the document fingerprint HMAC (`IDV_FINGERPRINT_SECRET`, ≥ 16 bytes).
    pub fingerprint_secret: Vec<u8>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("checks", &self.checks)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads `IDV_CHECKS_CONFIG` and `IDV_FINGERPRINT_SECRET`.
    pub fn from_env() -> Result<Settings, ConfigError> {
        let checks = match std::env::var("IDV_CHECKS_CONFIG")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(json) => serde_json::from_str(&json)
                .map_err(|_| ConfigError::Invalid("IDV_CHECKS_CONFIG"))?,
            None => idv_checks::Config::default(),
        };
        // Read by `secrets::load` at cold start on AWS, from the environment locally.
        let secret =
            crate::store::secrets::get(crate::store::secrets::FINGERPRINT).unwrap_or_default();
        if secret.len() < 16 {
            return Err(ConfigError::Missing(
                "IDV_FINGERPRINT_SECRET (at least 16 bytes)",
            ));
        }
        Ok(Settings {
            checks,
            fingerprint_secret: secret.into_bytes(),
        })
    }
}

/// What to verify.
#[derive(Debug, Clone)]
pub struct Request {
    /// ID or address.
    pub kind: VerificationKind,
    /// The document.
    pub document: DocumentId,
    /// The session, when given (else the document's).
    pub session: Option<SessionId>,
    /// Write what was extracted into the session when the verification passes.
    pub auto_update_session: bool,
    /// The date the rules are evaluated against.
    pub evaluated_on: Date,
    /// Whether `evaluated_on` may lie before the day the document's files were uploaded
    /// (staging keys only, API.md §5: else an expired document could be made to pass).
    pub may_backdate: bool,
    /// Who asked (the actor of the session's `pending` transition).
    pub actor: Actor,
    /// Automatic processing: do nothing if the document was already verified.
    pub only_if_unverified: bool,
}

/// Why a verification was not made.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The request names something unusable (422 with pointers).
    #[error("invalid verification request")]
    Invalid(Problems),
    /// The session refuses (409), or a store failure.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// Automatic processing found the document already verified.
    #[error("the document was already verified")]
    AlreadyVerified,
}

impl From<StoreError> for VerifyError {
    fn from(e: StoreError) -> Self {
        VerifyError::Workflow(WorkflowError::Store(e))
    }
}

fn problem(kind: ProblemKind, pointer: &str, detail: &str) -> VerifyError {
    let mut p = Problems::default();
    p.push(kind, pointer, detail);
    VerifyError::Invalid(p)
}

fn session_data(s: &Session) -> Option<SessionData> {
    let person = s.data.person.as_ref();
    let name = person.and_then(|p| p.name.as_ref()).map(|n| PersonName {
        first: n.first.clone(),
        middle: n.middle.clone(),
        last: n.last.clone(),
    });
    let birth_date = person.and_then(|p| p.birth_date);
    let address = s.data.address.as_ref().map(|a| idv_checks::Address {
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        subdivision: a.subdivision.clone(),
        postal_code: a.postal_code.clone(),
        country_code: a.country_code.as_ref().map(|c| c.to_string()),
    });
    (name.is_some() || birth_date.is_some() || address.is_some()).then_some(SessionData {
        name,
        birth_date,
        address,
    })
}

fn declared_type(doc: &Document) -> Option<idv_checks::DocumentType> {
    doc.declared_type
        .as_deref()
        .and_then(|t| serde_json::from_value(serde_json::Value::String(t.to_owned())).ok())
}

fn domain_address(a: &idv_checks::Address) -> Option<Address> {
    if a.is_empty() {
        return None;
    }
    Some(Address {
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        subdivision: a.subdivision.clone(),
        postal_code: a.postal_code.clone(),
        country_code: a.country_code.as_deref().and_then(CountryCode::parse),
    })
}

/// The session data a passed verification writes back (`auto_update_session`): name,
/// birth date and identity number from an ID, and the address from a licence barcode or a
/// proof of address. Returns the names of the attributes that changed.
fn auto_update(data: &mut ApplicantData, extracted: &Extracted) -> Vec<String> {
    let before = data.clone();
    match extracted {
        Extracted::Idv(x) => {
            let mut person = data.person.clone().unwrap_or_default();
            let n = &x.person.name;
            if n.first.is_some() || n.last.is_some() {
                person.name = Some(Name {
                    first: n.first.clone(),
                    middle: n.middle.clone(),
                    last: n.last.clone(),
                });
            }
            if x.person.birth_date.is_some() {
                person.birth_date = x.person.birth_date;
            }
            data.person = Some(person);
            if let (Some(number), Some(kind)) = (&x.document.number, x.document.document_type) {
                let id = IdentityNumber {
                    number: number.clone(),
                    issuing_country_code: x
                        .document
                        .issuing_country_code
                        .as_deref()
                        .and_then(CountryCode::parse),
                    class: kind.as_str().to_owned(),
                };
                let mut numbers = data.identity_numbers.clone().unwrap_or_default();
                numbers.retain(|n| !(n.class == id.class && n.number == id.number));
                numbers.push(id);
                data.identity_numbers = Some(numbers);
            }
            if let Some(a) = x.address.as_ref().and_then(domain_address) {
                data.address = Some(a);
            }
        }
        Extracted::Address(x) => {
            if let Some(a) = x.address.as_ref().and_then(domain_address) {
                data.address = Some(a);
            }
        }
    }
    let (b, a) = (before.to_json(), data.to_json());
    crate::domain::applicant::APPLICANT_FIELDS
        .iter()
        .filter(|f| b.get(**f) != a.get(**f))
        .map(|f| (*f).to_owned())
        .collect()
}

/// Runs the checks for `req` and writes everything in one transaction. Returns the
/// verification and the session as written (if any).
pub async fn run(
    store: &Store,
    objects: &Objects,
    tenancy: &Tenancy,
    settings: &Settings,
    lifetime: Duration,
    req: &Request,
) -> Result<(Verification, Option<Session>), VerifyError> {
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let now = Timestamp::now();
        let doc = store
            .get_document(tenancy, req.document)
            .await?
            .ok_or_else(|| {
                problem(
                    ProblemKind::Relationship,
                    "/data/relationships/document/data/id",
                    "no such document",
                )
            })?;
        if doc.kind != req.kind.document_kind() {
            return Err(problem(
                ProblemKind::Relationship,
                "/data/relationships/document/data/type",
                &format!(
                    "a {} needs a {}",
                    req.kind.resource_type(),
                    req.kind.document_kind().resource_type()
                ),
            ));
        }
        if doc.redacted_at.is_some() {
            return Err(problem(
                ProblemKind::Relationship,
                "/data/relationships/document/data/id",
                "the document was redacted",
            ));
        }
        if req.only_if_unverified && !doc.verification_ids.is_empty() {
            return Err(VerifyError::AlreadyVerified);
        }
        let uploaded: Vec<_> = doc
            .files
            .iter()
            .filter(|f| f.status == FileStatus::Uploaded)
            .collect();
        if uploaded.is_empty() {
            return Err(problem(
                ProblemKind::Relationship,
                "/data/relationships/document/data/id",
                "the document has no uploaded file yet",
            ));
        }
        // The day the last of the files read was uploaded: no earlier date describes the
        // document as checked.
        let uploaded_on = uploaded
            .iter()
            .filter_map(|f| f.uploaded_at.as_ref().map(Timestamp::date))
            .max();
        if let Some(day) = uploaded_on.filter(|d| !req.may_backdate && req.evaluated_on < *d) {
            return Err(problem(
                ProblemKind::Invalid,
                "/data/attributes/evaluated_on",
                &format!(
                    "must not be before {}, the day the document's files were uploaded \
                     (production keys cannot back-date a verification)",
                    crate::domain::values::format_date(day)
                ),
            ));
        }
        let session_id = match (req.session, doc.session_id) {
            (Some(a), Some(b)) if a != b => {
                return Err(problem(
                    ProblemKind::Relationship,
                    "/data/relationships/session/data/id",
                    "the document belongs to another session",
                ))
            }
            (a, b) => a.or(b),
        };
        if req.auto_update_session && session_id.is_none() {
            return Err(problem(
                ProblemKind::Invalid,
                "/meta/auto_update_session",
                "needs a session",
            ));
        }
        let session = match session_id {
            Some(id) => Some(
                sessions::load_session(store, tenancy, id, now)
                    .await?
                    .ok_or_else(|| {
                        problem(
                            ProblemKind::Relationship,
                            "/data/relationships/session/data/id",
                            "no such session",
                        )
                    })?,
            ),
            None => None,
        };
        if let Some(s) = &session {
            s.ensure_open("verify").map_err(WorkflowError::from)?;
        }

        // At a cap (API.md §4), refuse before reading a single file; the caps are enforced
        // again where the references are added, on the versions the transaction checks.
        doc.can_add_verification().map_err(WorkflowError::from)?;
        if let Some(s) = &session {
            s.can_add_verification().map_err(WorkflowError::from)?;
            s.can_link_document(doc.id).map_err(WorkflowError::from)?;
        }

        let mut files = Vec::with_capacity(uploaded.len());
        // Files whose bytes are no longer the ones the upload checker checked.
        let mut replaced: Vec<(FileId, &str)> = Vec::new();
        for f in &uploaded {
            // A file deleted since (redaction in flight) is simply absent: the checks see
            // fewer files, never stale ones.
            if let Some(bytes) = objects.get(&f.object_key).await? {
                // The hash is of the very bytes the checks get. Files checked before hashes
                // were recorded have none and are read as they are.
                if f.sha256
                    .as_deref()
                    .is_some_and(|recorded| sha256_base64(&bytes) != recorded)
                {
                    replaced.push((f.id, f.object_key.as_str()));
                    continue;
                }
                files.push(InputFile {
                    bytes,
                    content_type: f.content_type.as_str().to_owned(),
                    side: f.side.map(|s| match s {
                        Side::Front => idv_checks::Side::Front,
                        Side::Back => idv_checks::Side::Back,
                    }),
                });
            }
        }
        if files.is_empty() && !replaced.is_empty() {
            // Nothing checked is left to verify: the replaced files are rejected (and their
            // objects deleted) and the request is refused like one for a document with no
            // uploaded file; no verification is recorded, the session is unchanged.
            let ids: Vec<FileId> = replaced.iter().map(|(id, _)| *id).collect();
            if let Some(next) = doc.with_files_replaced(&ids, now) {
                let mut writes: Vec<Write> = FeedEvent::file_checks(&doc, &next, &req.actor)
                    .into_iter()
                    .map(Write::PutFeedEvent)
                    .collect();
                writes.insert(
                    0,
                    Write::PutDocument {
                        read: doc.clone(),
                        next,
                    },
                );
                match store
                    .write(tenancy, "rejecting replaced files", writes)
                    .await
                {
                    Ok(()) => {}
                    Err(e) if e.is_race() => continue,
                    Err(e) => return Err(WorkflowError::from(e).into()),
                }
            }
            delete_replaced(objects, &replaced).await;
            return Err(problem(
                ProblemKind::Relationship,
                "/data/relationships/document/data/id",
                "the document's files changed after they were checked (object_replaced): \
                 they were rejected; upload them again in a new document",
            ));
        }
        let data = session.as_ref().and_then(session_data);
        let mut fingerprint = None;
        let outcome: Outcome = match req.kind {
            VerificationKind::Idv => {
                let extraction = extract_idv(&files, &settings.checks);
                fingerprint = document_fingerprint(&settings.fingerprint_secret, &extraction)
                    .map(hex::encode);
                let duplicate = match &fingerprint {
                    None => DuplicateEvidence::NotChecked,
                    Some(fp) => {
                        let elsewhere = store
                            .sightings(tenancy, fp)
                            .await?
                            .into_iter()
                            .filter(|s| {
                                s.document_id != doc.id
                                    && (session_id.is_none() || s.session_id != session_id)
                            })
                            .map(|s| (s.session_id, s.account_id, s.document_id))
                            .collect::<std::collections::BTreeSet<_>>()
                            .len();
                        match u32::try_from(elsewhere).unwrap_or(u32::MAX) {
                            0 => DuplicateEvidence::Unique,
                            count => DuplicateEvidence::SeenElsewhere { count },
                        }
                    }
                };
                evaluate_idv(
                    &extraction,
                    &Context {
                        evaluated_on: req.evaluated_on,
                        declared_type: declared_type(&doc),
                        declared_country: None,
                        session: data,
                        duplicate,
                        config: &settings.checks,
                    },
                )
            }
            VerificationKind::Address => {
                let extraction = extract_address(&files, &settings.checks);
                evaluate_address(
                    &extraction,
                    &AddressContext {
                        evaluated_on: req.evaluated_on,
                        session: data,
                        config: &settings.checks,
                    },
                )
            }
        };
        let status = match outcome.status {
            idv_checks::VerificationStatus::Passed => VerificationStatus::Passed,
            idv_checks::VerificationStatus::Failed => VerificationStatus::Failed,
            idv_checks::VerificationStatus::RequiresRetry => VerificationStatus::RequiresRetry,
        };
        let extracted = serde_json::to_value(&outcome.extracted).ok();
        let now = now.at_least(doc.updated_at);
        let verification = Verification {
            id: VerificationId::new(now.datetime()),
            kind: req.kind,
            status,
            checks: serde_json::to_value(&outcome.checks).unwrap_or_default(),
            extracted: extracted.clone(),
            rule_set_version: outcome.rule_set_version.to_owned(),
            evaluated_on: Some(req.evaluated_on),
            document_id: doc.id,
            session_id,
            created_at: now,
            completed_at: Some(now),
            redacted_at: None,
        };

        // A verification asking for a retry fails the document, which may be verified again.
        let action = if status == VerificationStatus::RequiresRetry {
            DocumentAction::Fail
        } else {
            DocumentAction::Process
        };
        let mut next_doc = doc.apply(action, now).map_err(WorkflowError::from)?;
        // Replaced files were left out of the checks; they are rejected in the same write.
        for f in &mut next_doc.files {
            if replaced.iter().any(|(id, _)| *id == f.id) {
                f.status = FileStatus::Rejected;
                f.reason = Some(RejectReason::ObjectReplaced);
            }
        }
        next_doc.extracted = extracted;
        if let Extracted::Idv(x) = &outcome.extracted {
            if let Some(t) = x.document.document_type {
                next_doc.document_type = Some(t.as_str().to_owned());
            }
        }
        next_doc
            .add_verification(verification.id)
            .map_err(WorkflowError::from)?;
        next_doc.session_id = session_id;
        next_doc.account_id = doc
            .account_id
            .or(session.as_ref().and_then(|s| s.account_id));
        let next_account = next_doc.account_id;

        // The feed hears of the verification and of any file it rejected, in its write.
        let mut writes = vec![Write::PutFeedEvent(FeedEvent::verification_completed(
            &verification,
            &req.actor,
        ))];
        writes.extend(
            FeedEvent::file_checks(&doc, &next_doc, &req.actor)
                .into_iter()
                .map(Write::PutFeedEvent),
        );
        writes.insert(0, Write::PutVerification(verification.clone()));
        writes.insert(
            1,
            Write::PutDocument {
                read: doc.clone(),
                next: next_doc,
            },
        );
        if let Some(fp) = &fingerprint {
            let sighting = Sighting {
                verification_id: verification.id,
                document_id: doc.id,
                session_id,
                account_id: next_account,
                seen_at: now,
            };
            writes.push(Write::PutSighting(fp.clone(), sighting));
        }
        let mut written_session = None;
        if let Some(current) = &session {
            let (next, events) =
                session_changes(current, &doc, &verification, &outcome, req, now, lifetime)?;
            writes.push(Write::PutSession {
                read: current.clone(),
                next: next.clone(),
                events,
            });
            written_session = Some(next);
        }
        match store.write(tenancy, "writing a verification", writes).await {
            Ok(()) => {
                delete_replaced(objects, &replaced).await;
                return Ok((verification, written_session));
            }
            Err(e) if e.is_race() => continue,
            Err(e) => return Err(WorkflowError::from(e).into()),
        }
    }
    Err(WorkflowError::Conflict.into())
}

/// Deletes the objects of files rejected as `object_replaced`. The rejection is already
/// written, so a failed delete only leaves bytes nothing will read again (logged).
async fn delete_replaced(objects: &Objects, replaced: &[(FileId, &str)]) {
    for (_, key) in replaced {
        if let Err(e) = objects.delete(key).await {
            tracing::warn!(error = %crate::http::error::chain(&e), "a replaced object was not deleted");
        }
    }
}

/// What a verification does to its session, event by event: `created`/`started` →
/// `pending` (by the requester); the verification (and the document, if newly linked)
/// recorded; with `auto_update_session`, the extracted data written (by the system);
/// then `completed` or `failed` when the completion rule says so (by the system).
fn session_changes(
    current: &Session,
    doc: &Document,
    verification: &Verification,
    outcome: &Outcome,
    req: &Request,
    now: Timestamp,
    lifetime: Duration,
) -> Result<(Session, Vec<Event>), VerifyError> {
    let system = Actor::system("verification");
    let mut events = Vec::new();
    let mut s = current.clone();
    let reference = VerificationRef {
        id: verification.id,
        kind: verification.kind,
        status: verification.status,
    };
    // The caps (API.md §4) are checked on the session as read; the transaction is
    // conditional on its version.
    let link = |s: &mut Session| -> Result<(), WorkflowError> {
        s.add_verification(reference)?;
        s.link_document(DocumentRef {
            id: doc.id,
            kind: doc.kind,
        })?;
        Ok(())
    };
    if s.status().awaits_submission() {
        let t = s
            .apply(Action::Submit, now, lifetime)
            .map_err(WorkflowError::from)?;
        events.push(Event::transition(&t, req.actor.clone(), None));
        s = t.next;
        link(&mut s)?;
    } else {
        link(&mut s)?;
        s.version += 1;
        s.updated_at = now.at_least(s.updated_at);
        events.push(Event::change(
            &s,
            "session.updated",
            Some(s.status()),
            req.actor.clone(),
            Some(vec!["verifications".into()]),
        ));
    }
    if req.auto_update_session && verification.status == VerificationStatus::Passed {
        let fields = auto_update(&mut s.data, &outcome.extracted);
        if !fields.is_empty() {
            s.version += 1;
            events.push(Event::change(
                &s,
                "session.updated",
                Some(s.status()),
                system.clone(),
                Some(fields),
            ));
        }
    }
    if let Some(action) = s.settle() {
        let t = s
            .apply(action, now, lifetime)
            .map_err(WorkflowError::from)?;
        events.push(Event::transition(&t, system, None));
        s = t.next;
    }
    Ok((s, events))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_check_and_the_engine_share_the_image_caps() {
        let limits = idv_checks::ImageLimits::default();
        assert_eq!(crate::domain::document::MAX_IMAGE_PIXELS, limits.max_pixels);
        assert_eq!(
            crate::domain::document::MAX_IMAGE_DIMENSION,
            limits.max_dimension
        );
    }
    use crate::domain::applicant::Person;

    #[test]
    fn auto_update_writes_name_birth_date_number_and_address() {
        let extracted = Extracted::Idv(idv_checks::IdvExtracted {
            person: idv_checks::engine::ExtractedPerson {
                name: PersonName {
                    first: Some("MICHAEL".into()),
                    middle: Some("JOHN".into()),
                    last: Some("SAMPLE".into()),
                },
                birth_date: Some(time::macros::date!(1986 - 06 - 06)),
                sex: None,
                nationality: None,
            },
            document: idv_checks::engine::ExtractedDocument {
                document_type: Some(idv_checks::DocumentType::DrivingLicense),
                number: Some("T64235789".into()),
                issuing_country_code: Some("US".into()),
                issue_date: None,
                expiration_date: None,
            },
            address: Some(idv_checks::Address {
                line1: Some("2300 WEST BROAD STREET".into()),
                city: Some("RICHMOND".into()),
                subdivision: Some("VA".into()),
                postal_code: Some("23269".into()),
                country_code: Some("US".into()),
                line2: None,
            }),
        });
        let mut data = ApplicantData {
            identity_numbers: Some(vec![IdentityNumber {
                number: "123".into(),
                issuing_country_code: None,
                class: "ssn".into(),
            }]),
            ..ApplicantData::default()
        };
        let fields = auto_update(&mut data, &extracted);
        assert_eq!(fields, ["person", "address", "identity_numbers"]);
        let person: &Person = data.person.as_ref().expect("person");
        assert_eq!(
            person.name.as_ref().and_then(|n| n.last.as_deref()),
            Some("SAMPLE")
        );
        assert_eq!(
            data.identity_numbers.as_ref().map(Vec::len),
            Some(2),
            "other numbers are kept"
        );
        assert_eq!(
            data.address
                .as_ref()
                .and_then(|a| a.country_code.as_ref())
                .map(|c| c.as_str()),
            Some("US")
        );
        assert!(
            auto_update(&mut data, &extracted).is_empty(),
            "a second time changes nothing"
        );
    }
}
