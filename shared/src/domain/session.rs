//! The verification session and its state machine.
//!
//! [`Session::apply`] is the only place a session changes status: its `match` lists every
//! legal edge of the contract's transition table and the last arm rejects everything else.
//! The store turns the returned [`Transition`] into one conditional write (status and
//! version), so two racing transitions can never both succeed. Read `store::sessions` next.

use serde::{Deserialize, Serialize};
use time::Duration;

use super::applicant::ApplicantData;
use super::ids::{AccountId, DeviceId, DocumentId, SessionId};
use super::values::Timestamp;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Created, nothing happened yet.
    Created,
    /// The applicant began (a document was linked or a device registered).
    Started,
    /// Information was submitted and is being processed.
    Pending,
    /// All verification steps are complete.
    Completed,
    /// A verification failed.
    Failed,
    /// A reviewer must look at it.
    MarkedForReview,
    /// A reviewer approved it.
    Approved,
    /// A reviewer declined it.
    Declined,
    /// It expired before completion.
    Expired,
}

impl SessionStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [SessionStatus; 9] = [
        SessionStatus::Created,
        SessionStatus::Started,
        SessionStatus::Pending,
        SessionStatus::Completed,
        SessionStatus::Failed,
        SessionStatus::MarkedForReview,
        SessionStatus::Approved,
        SessionStatus::Declined,
        SessionStatus::Expired,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionStatus::Created => "created",
            SessionStatus::Started => "started",
            SessionStatus::Pending => "pending",
            SessionStatus::Completed => "completed",
            SessionStatus::Failed => "failed",
            SessionStatus::MarkedForReview => "marked_for_review",
            SessionStatus::Approved => "approved",
            SessionStatus::Declined => "declined",
            SessionStatus::Expired => "expired",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The statuses from which a session expires once `expires_at` has passed.
    pub fn is_expirable(&self) -> bool {
        use SessionStatus as S;
        match self {
            S::Created | S::Started | S::Pending => true,
            S::Completed
            | S::Failed
            | S::MarkedForReview
            | S::Approved
            | S::Declined
            | S::Expired => false,
        }
    }

    /// Statuses in which the applicant data may no longer be edited, nor documents,
    /// devices or verifications attached.
    pub fn is_closed_for_edits(&self) -> bool {
        use SessionStatus as S;
        match self {
            S::Approved | S::Declined | S::Expired => true,
            S::Created
            | S::Started
            | S::Pending
            | S::Completed
            | S::Failed
            | S::MarkedForReview => false,
        }
    }

    /// Statuses no transition leaves (the session has ended).
    pub fn is_terminal(&self) -> bool {
        use SessionStatus as S;
        match self {
            S::Approved | S::Declined | S::Expired | S::Failed => true,
            S::Created | S::Started | S::Pending | S::Completed | S::MarkedForReview => false,
        }
    }

    /// Statuses from which `submit` moves the session to `pending` (nothing submitted yet).
    pub fn awaits_submission(&self) -> bool {
        use SessionStatus as S;
        match self {
            S::Created | S::Started => true,
            S::Pending
            | S::Completed
            | S::Failed
            | S::MarkedForReview
            | S::Approved
            | S::Declined
            | S::Expired => false,
        }
    }
}

/// Something that moves a session from one status to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A document was linked or a device registered (`created → started`).
    Start,
    /// A verification was created or a linked document submitted (`→ pending`).
    Submit,
    /// Every verification ended well (`pending → completed`).
    Complete,
    /// A verification failed (`pending → failed`).
    Fail,
    /// A reviewer approved.
    Approve,
    /// A reviewer declined.
    Decline,
    /// A reviewer asked for manual review.
    MarkForReview,
    /// `/expire`, or `expires_at` passed.
    Expire,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 8] = [
        Action::Start,
        Action::Submit,
        Action::Complete,
        Action::Fail,
        Action::Approve,
        Action::Decline,
        Action::MarkForReview,
        Action::Expire,
    ];

    /// The wire name (as in `meta.action` of a 409).
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Submit => "submit",
            Action::Complete => "complete",
            Action::Fail => "fail",
            Action::Approve => "approve",
            Action::Decline => "decline",
            Action::MarkForReview => "mark_for_review",
            Action::Expire => "expire",
        }
    }
}

/// Whether the session is about a person or a business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// A natural person.
    Person,
    /// A company.
    Business,
}

impl EntityType {
    /// Parses `person` or `business`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "person" => Some(Self::Person),
            "business" => Some(Self::Business),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            EntityType::Person => "person",
            EntityType::Business => "business",
        }
    }
}

/// Who created a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creator {
    /// `api` for sessions made with an API key.
    #[serde(rename = "type")]
    pub kind: String,
    /// The key's id for `api`.
    pub id: Option<String>,
}

/// A linked document: its id and kind (the kind is part of its JSON:API type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// The document.
    pub id: DocumentId,
    /// ID or proof of address.
    pub kind: super::document::DocumentKind,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The transition table has no edge for this status and action.
    #[error("cannot {} a session that is {}", action.as_str(), status.as_str())]
    InvalidTransition {
        /// The current status.
        status: SessionStatus,
        /// The refused action.
        action: Action,
    },
    /// The document lifecycle has no edge for this status and action.
    #[error("cannot {} a document that is {}", action.as_str(), status.as_str())]
    DocumentTransition {
        /// The document's current status.
        status: super::document::DocumentStatus,
        /// The refused action.
        action: super::document::DocumentAction,
    },
    /// The session is approved, declined or expired and refuses `action`, a change that is
    /// not itself a transition (`update`, `attach_document`, `submit_document`, `verify`, …).
    #[error("cannot {action} a session that is {}", status.as_str())]
    Closed {
        /// The session's status.
        status: SessionStatus,
        /// The refused change.
        action: &'static str,
    },
    /// The session was redacted; only expiry still applies.
    #[error("the session was redacted")]
    Redacted,
    /// A cap on what one item may hold (API.md §4) was reached.
    #[error("the cap {limit} ({max}) was reached")]
    LimitExceeded {
        /// The cap's stable name, e.g. `documents_per_session`.
        limit: &'static str,
        /// Its value.
        max: u64,
    },
}

/// Most documents one session links (API.md §4): with the verification cap, keeps the
/// session item far below DynamoDB's 400 KB (README, "Bounds").
pub const MAX_DOCUMENTS: usize = 50;
/// Most verifications one session records (API.md §4).
pub const MAX_VERIFICATIONS: usize = 100;

/// A verification session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// Its status: changed only by [`Session::apply`] (read it with [`Session::status`]).
    status: SessionStatus,
    /// Incremented by every write; writes are conditional on it.
    pub version: u64,
    /// Who created it.
    pub creator: Creator,
    /// Person or business.
    pub entity_type: EntityType,
    /// The account it belongs to, if any.
    pub account_id: Option<AccountId>,
    /// The applicant's personal data.
    pub data: ApplicantData,
    /// Device signals copied from the session device (read-only through the API).
    pub behavior_analysis: Option<serde_json::Value>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// `created → started`.
    pub started_at: Option<Timestamp>,
    /// When it expires if still `created`, `started` or `pending`.
    pub expires_at: Option<Timestamp>,
    /// `pending → completed`.
    pub completed_at: Option<Timestamp>,
    /// `pending → failed`.
    pub failed_at: Option<Timestamp>,
    /// `completed → marked_for_review`.
    pub marked_for_review_at: Option<Timestamp>,
    /// Approval or decline.
    pub decisioned_at: Option<Timestamp>,
    /// Expiry.
    pub expired_at: Option<Timestamp>,
    /// Redaction.
    pub redacted_at: Option<Timestamp>,
    /// Linked documents, oldest first.
    pub documents: Vec<DocumentRef>,
    /// Its verifications, oldest first.
    pub verifications: Vec<super::verification::VerificationRef>,
    /// The registered device.
    pub session_device_id: Option<DeviceId>,
    /// The `seq` of every event carrying a reviewer's comment, so redaction strips them by
    /// key instead of reading the whole log (decisions are the only events with comments, so
    /// the state machine bounds this to two). `None` on sessions written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commented_events: Option<Vec<u64>>,
}

/// The outcome of [`Session::apply`]: the session as it must be written, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Status before.
    pub from: SessionStatus,
    /// Status after.
    pub to: SessionStatus,
    /// What caused it.
    pub action: Action,
    /// The session after the transition (version already incremented).
    pub next: Session,
}

impl Session {
    /// Its status (changed only by [`Session::apply`]).
    pub fn status(&self) -> SessionStatus {
        self.status
    }

    /// A new session in `created`.
    pub fn new(
        id: SessionId,
        creator: Creator,
        entity_type: EntityType,
        account_id: Option<AccountId>,
        data: ApplicantData,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Session {
        Session {
            id,
            status: SessionStatus::Created,
            version: 1,
            creator,
            entity_type,
            account_id,
            data,
            behavior_analysis: None,
            created_at: now,
            updated_at: now,
            started_at: None,
            expires_at,
            completed_at: None,
            failed_at: None,
            marked_for_review_at: None,
            decisioned_at: None,
            expired_at: None,
            redacted_at: None,
            documents: Vec::new(),
            verifications: Vec::new(),
            session_device_id: None,
            commented_events: Some(Vec::new()),
        }
    }

    /// Applies `action` at `now`. `lifetime` sets `expires_at` when a session starts without
    /// one. Returns the next state, or why the transition table refuses it.
    pub fn apply(
        &self,
        action: Action,
        now: Timestamp,
        lifetime: Duration,
    ) -> Result<Transition, DomainError> {
        use Action as A;
        use SessionStatus as S;

        if self.redacted_at.is_some() && action != A::Expire {
            return Err(DomainError::Redacted);
        }
        // Never write a timestamp earlier than one already stored, whatever the clock says.
        let now = now.at_least(self.updated_at);
        let mut next = self.clone();
        let to = match (self.status, action) {
            (S::Created, A::Start) => {
                next.started_at = Some(now);
                if next.expires_at.is_none() {
                    next.expires_at = Some(now.add(lifetime));
                }
                S::Started
            }
            (S::Created | S::Started, A::Submit) => S::Pending,
            (S::Pending, A::Complete) => {
                next.completed_at = Some(now);
                S::Completed
            }
            (S::Pending, A::Fail) => {
                next.failed_at = Some(now);
                S::Failed
            }
            (S::Completed | S::MarkedForReview, A::Approve) => {
                next.decisioned_at = Some(now);
                S::Approved
            }
            (S::Completed | S::MarkedForReview, A::Decline) => {
                next.decisioned_at = Some(now);
                S::Declined
            }
            (S::Completed, A::MarkForReview) => {
                next.marked_for_review_at = Some(now);
                S::MarkedForReview
            }
            (S::Created | S::Started | S::Pending, A::Expire) => {
                next.expired_at = Some(now);
                S::Expired
            }
            (status, action) => return Err(DomainError::InvalidTransition { status, action }),
        };
        next.status = to;
        next.version = self.version + 1;
        next.updated_at = now;
        Ok(Transition {
            from: self.status,
            to,
            action,
            next,
        })
    }

    /// The automatic transition the session's verifications call for, if any (API.md §3):
    /// `fail` once a verification failed; `complete` once every verification has ended,
    /// none failed, and at least one `verification/idv` passed (any passed verification for a
    /// business). A `requires_retry` is superseded by a later verification of the same kind;
    /// until then it keeps the session pending so the applicant can retry.
    pub fn settle(&self) -> Option<Action> {
        use super::verification::{VerificationKind, VerificationStatus as V};
        if self.status != SessionStatus::Pending || self.verifications.is_empty() {
            return None;
        }
        let live: Vec<_> = self
            .verifications
            .iter()
            .enumerate()
            .filter(|(i, v)| {
                v.status != V::RequiresRetry
                    || !self.verifications[i + 1..]
                        .iter()
                        .any(|later| later.kind == v.kind)
            })
            .map(|(_, v)| v)
            .collect();
        if live.iter().any(|v| v.status == V::Failed) {
            return Some(Action::Fail);
        }
        if live.iter().any(|v| v.status == V::RequiresRetry) {
            return None;
        }
        let enough = match self.entity_type {
            EntityType::Person => live
                .iter()
                .any(|v| v.kind == VerificationKind::Idv && v.status == V::Passed),
            EntityType::Business => live.iter().any(|v| v.status == V::Passed),
        };
        enough.then_some(Action::Complete)
    }

    /// Links a document (nothing to do if it already is); refused once the session holds
    /// [`MAX_DOCUMENTS`]. The caller writes the result conditionally on the version it read,
    /// so racing links cannot pass the cap together.
    pub fn link_document(&mut self, doc: DocumentRef) -> Result<(), DomainError> {
        if self.documents.iter().any(|d| d.id == doc.id) {
            return Ok(());
        }
        self.can_link_document(doc.id)?;
        self.documents.push(doc);
        Ok(())
    }

    /// Whether [`Session::link_document`] would accept `doc`.
    pub fn can_link_document(&self, doc: DocumentId) -> Result<(), DomainError> {
        if self.documents.len() >= MAX_DOCUMENTS && !self.documents.iter().any(|d| d.id == doc) {
            return Err(DomainError::LimitExceeded {
                limit: "documents_per_session",
                max: MAX_DOCUMENTS as u64,
            });
        }
        Ok(())
    }

    /// Records a verification; refused once the session holds [`MAX_VERIFICATIONS`].
    pub fn add_verification(
        &mut self,
        v: super::verification::VerificationRef,
    ) -> Result<(), DomainError> {
        self.can_add_verification()?;
        self.verifications.push(v);
        Ok(())
    }

    /// Whether [`Session::add_verification`] would accept one more.
    pub fn can_add_verification(&self) -> Result<(), DomainError> {
        if self.verifications.len() >= MAX_VERIFICATIONS {
            return Err(DomainError::LimitExceeded {
                limit: "verifications_per_session",
                max: MAX_VERIFICATIONS as u64,
            });
        }
        Ok(())
    }

    /// Refuses `action` (a change that is not a transition) once the session is closed for
    /// edits ([`SessionStatus::is_closed_for_edits`]) or redacted.
    pub fn ensure_open(&self, action: &'static str) -> Result<(), DomainError> {
        if self.redacted_at.is_some() {
            return Err(DomainError::Redacted);
        }
        if self.status.is_closed_for_edits() {
            return Err(DomainError::Closed {
                status: self.status,
                action,
            });
        }
        Ok(())
    }

    /// When the session reached its terminal status, if it has (`updated_at` for one
    /// written before the status had its own timestamp).
    pub fn ended_at(&self) -> Option<Timestamp> {
        use SessionStatus as S;
        let at = match self.status {
            S::Approved | S::Declined => self.decisioned_at,
            S::Expired => self.expired_at,
            S::Failed => self.failed_at,
            S::Created | S::Started | S::Pending | S::Completed | S::MarkedForReview => {
                return None
            }
        };
        Some(at.unwrap_or(self.updated_at))
    }

    /// True when `expires_at` has passed while the session could still expire: such a
    /// session is expired, whichever path notices first (see `store::sessions`).
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.status.is_expirable() && self.expires_at.is_some_and(|at| at <= now)
    }

    /// The session with its personal data removed: applicant data and device signals become
    /// null, `redacted_at` is set; status and timestamps stay. Redacting twice returns the
    /// session unchanged.
    pub fn redacted(&self, now: Timestamp) -> Option<Session> {
        if self.redacted_at.is_some() {
            return None;
        }
        let now = now.at_least(self.updated_at);
        let mut next = self.clone();
        next.data = ApplicantData::default();
        next.behavior_analysis = None;
        next.redacted_at = Some(now);
        next.updated_at = now;
        next.version = self.version + 1;
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn session(status: SessionStatus) -> Session {
        let now = Timestamp::from_datetime(datetime!(2025-01-15 10:30:00 UTC));
        let mut s = Session::new(
            SessionId::new(now.datetime()),
            Creator {
                kind: "api".into(),
                id: None,
            },
            EntityType::Person,
            None,
            ApplicantData::default(),
            None,
            now,
        );
        s.status = status;
        s
    }

    /// The contract's table (API.md §3), written out independently of `apply`.
    fn legal(from: SessionStatus, action: Action) -> Option<SessionStatus> {
        use Action as A;
        use SessionStatus as S;
        let table = [
            (S::Created, A::Start, S::Started),
            (S::Created, A::Submit, S::Pending),
            (S::Started, A::Submit, S::Pending),
            (S::Pending, A::Complete, S::Completed),
            (S::Pending, A::Fail, S::Failed),
            (S::Completed, A::Approve, S::Approved),
            (S::Completed, A::Decline, S::Declined),
            (S::Completed, A::MarkForReview, S::MarkedForReview),
            (S::MarkedForReview, A::Approve, S::Approved),
            (S::MarkedForReview, A::Decline, S::Declined),
            (S::Created, A::Expire, S::Expired),
            (S::Started, A::Expire, S::Expired),
            (S::Pending, A::Expire, S::Expired),
        ];
        table
            .iter()
            .find(|(f, a, _)| *f == from && *a == action)
            .map(|(_, _, to)| *to)
    }

    #[test]
    fn every_edge_of_the_table_and_nothing_else() {
        let now = Timestamp::now();
        let mut legal_edges = 0;
        for status in SessionStatus::ALL {
            for action in Action::ALL {
                let s = session(status);
                match (
                    s.apply(action, now, Duration::hours(24)),
                    legal(status, action),
                ) {
                    (Ok(t), Some(to)) => {
                        legal_edges += 1;
                        assert_eq!((t.from, t.to, t.next.status), (status, to, to));
                        assert_eq!(t.next.version, s.version + 1);
                    }
                    (
                        Err(DomainError::InvalidTransition {
                            status: st,
                            action: a,
                        }),
                        None,
                    ) => {
                        assert_eq!((st, a), (status, action));
                    }
                    (got, want) => panic!("{status:?} + {action:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(legal_edges, 13);
    }

    #[test]
    fn each_transition_sets_its_timestamp() {
        let now = Timestamp::now();
        let day = Duration::hours(24);
        let started = session(SessionStatus::Created)
            .apply(Action::Start, now, day)
            .expect("start")
            .next;
        assert_eq!(started.started_at, Some(now));
        assert_eq!(
            started.expires_at,
            Some(now.add(day)),
            "lifetime applies on start"
        );

        let mut with_deadline = session(SessionStatus::Created);
        let deadline = now.add(Duration::hours(2));
        with_deadline.expires_at = Some(deadline);
        let t = with_deadline.apply(Action::Start, now, day).expect("start");
        assert_eq!(
            t.next.expires_at,
            Some(deadline),
            "an explicit deadline is kept"
        );

        let cases = [
            (SessionStatus::Pending, Action::Complete),
            (SessionStatus::Pending, Action::Fail),
            (SessionStatus::Completed, Action::Approve),
            (SessionStatus::MarkedForReview, Action::Decline),
            (SessionStatus::Completed, Action::MarkForReview),
            (SessionStatus::Started, Action::Expire),
        ];
        for (from, action) in cases {
            let n = session(from).apply(action, now, day).expect("legal").next;
            let stamp = match action {
                Action::Complete => n.completed_at,
                Action::Fail => n.failed_at,
                Action::Approve | Action::Decline => n.decisioned_at,
                Action::MarkForReview => n.marked_for_review_at,
                Action::Expire => n.expired_at,
                _ => unreachable!(),
            };
            assert_eq!(stamp, Some(now), "{action:?}");
        }
    }

    #[test]
    fn redacted_sessions_only_expire() {
        let now = Timestamp::now();
        let s = session(SessionStatus::Completed)
            .redacted(now)
            .expect("first");
        assert!(s.redacted(now).is_none(), "twice is a no-op");
        assert_eq!(
            s.apply(Action::Approve, now, Duration::hours(1)),
            Err(DomainError::Redacted)
        );
        let started = session(SessionStatus::Started)
            .redacted(now)
            .expect("first");
        assert!(started
            .apply(Action::Expire, now, Duration::hours(1))
            .is_ok());
    }

    #[test]
    fn links_stop_at_the_caps() {
        use crate::domain::document::DocumentKind;
        use crate::domain::ids::VerificationId;
        use crate::domain::verification::{VerificationKind, VerificationRef, VerificationStatus};
        let mut s = session(SessionStatus::Started);
        let doc = || DocumentRef {
            id: DocumentId::new(time::OffsetDateTime::now_utc()),
            kind: DocumentKind::Idv,
        };
        for _ in 0..MAX_DOCUMENTS {
            assert_eq!(s.link_document(doc()), Ok(()));
        }
        let first = s.documents[0];
        assert_eq!(
            s.link_document(first),
            Ok(()),
            "an already linked one is no new link"
        );
        assert_eq!(s.documents.len(), MAX_DOCUMENTS);
        assert_eq!(
            s.link_document(doc()),
            Err(DomainError::LimitExceeded {
                limit: "documents_per_session",
                max: 50
            })
        );
        let v = || VerificationRef {
            id: VerificationId::new(time::OffsetDateTime::now_utc()),
            kind: VerificationKind::Idv,
            status: VerificationStatus::Passed,
        };
        for _ in 0..MAX_VERIFICATIONS {
            assert_eq!(s.add_verification(v()), Ok(()));
        }
        assert_eq!(
            s.add_verification(v()),
            Err(DomainError::LimitExceeded {
                limit: "verifications_per_session",
                max: 100
            })
        );
        assert_eq!(
            s.verifications.len(),
            MAX_VERIFICATIONS,
            "nothing added past it"
        );
    }

    #[test]
    fn settle_applies_the_completion_rule() {
        use crate::domain::ids::VerificationId;
        use crate::domain::verification::{
            VerificationKind as K, VerificationRef, VerificationStatus as V,
        };
        let r = |kind, status| VerificationRef {
            id: VerificationId::new(time::OffsetDateTime::now_utc()),
            kind,
            status,
        };
        let mut s = session(SessionStatus::Pending);
        assert_eq!(s.settle(), None, "no verification yet");
        s.verifications = vec![r(K::Address, V::Passed)];
        assert_eq!(s.settle(), None, "a person needs a passed ID verification");
        s.verifications.push(r(K::Idv, V::RequiresRetry));
        assert_eq!(s.settle(), None, "a retry keeps it pending");
        s.verifications.push(r(K::Idv, V::Passed));
        assert_eq!(
            s.settle(),
            Some(Action::Complete),
            "the retry was superseded"
        );
        s.verifications.push(r(K::Address, V::Failed));
        assert_eq!(s.settle(), Some(Action::Fail));
        let mut b = session(SessionStatus::Pending);
        b.entity_type = EntityType::Business;
        b.verifications = vec![r(K::Address, V::Passed)];
        assert_eq!(
            b.settle(),
            Some(Action::Complete),
            "a business needs any passed verification"
        );
        b.status = SessionStatus::Completed;
        assert_eq!(b.settle(), None, "only pending sessions settle");
    }

    #[test]
    fn status_sets_agree_with_the_table() {
        let now = Timestamp::now();
        for status in SessionStatus::ALL {
            let s = session(status);
            let leaves = Action::ALL
                .into_iter()
                .any(|a| s.apply(a, now, Duration::hours(1)).is_ok());
            assert_eq!(status.is_terminal(), !leaves, "{status:?}");
            assert_eq!(s.ended_at().is_some(), status.is_terminal(), "{status:?}");
            assert_eq!(
                status.is_expirable(),
                s.apply(Action::Expire, now, Duration::hours(1)).is_ok(),
                "{status:?}"
            );
            assert_eq!(
                status.awaits_submission(),
                s.apply(Action::Submit, now, Duration::hours(1)).is_ok(),
                "{status:?}"
            );
            assert_eq!(
                s.ensure_open("update").is_err(),
                status.is_closed_for_edits(),
                "{status:?}"
            );
        }
    }

    #[test]
    fn overdue_only_while_expirable() {
        let now = Timestamp::now();
        let mut s = session(SessionStatus::Started);
        s.expires_at = Some(now);
        assert!(s.is_overdue(now));
        s.status = SessionStatus::Completed;
        assert!(!s.is_overdue(now));
        s.status = SessionStatus::Pending;
        s.expires_at = None;
        assert!(!s.is_overdue(now));
    }

    fn action() -> impl Strategy<Value = Action> {
        prop::sample::select(Action::ALL.to_vec())
    }

    proptest! {
        /// Random walks: terminal statuses absorb everything, versions count writes, and no
        /// timestamp ever goes backwards even when the clock does.
        #[test]
        fn random_walks(steps in prop::collection::vec((action(), -5_000i64..60_000), 1..40)) {
            let mut s = session(SessionStatus::Created);
            let mut clock = s.created_at;
            for (action, delta_ms) in steps {
                clock = clock.add(Duration::milliseconds(delta_ms));
                match s.apply(action, clock, Duration::hours(24)) {
                    Ok(t) => {
                        prop_assert!(!t.from.is_terminal(), "left a terminal status");
                        prop_assert_eq!(Some(t.to), legal(t.from, action));
                        prop_assert!(t.next.updated_at >= s.updated_at);
                        prop_assert_eq!(t.next.version, s.version + 1);
                        for (before, after) in [
                            (s.started_at, t.next.started_at),
                            (s.completed_at, t.next.completed_at),
                            (s.decisioned_at, t.next.decisioned_at),
                            (s.expired_at, t.next.expired_at),
                        ] {
                            if let Some(b) = before {
                                prop_assert_eq!(Some(b), after, "a timestamp was overwritten");
                            }
                        }
                        s = t.next;
                    }
                    Err(_) => prop_assert_eq!(legal(s.status, action), None),
                }
            }
        }
    }
}
