//! The tenancy's events feed (API.md §7): one entry per change an integrator may want to
//! hear about — session transitions and changes, file checks, completed verifications,
//! accounts created and redacted — the pull side of webhooks.
//!
//! A feed event names objects by id and status only, never by content: no names, dates,
//! addresses, file names or reviewer comments, so the feed (and every webhook payload built
//! from it) needs no redaction. The per-session log (`event`) stays as it is; each of its
//! entries is also a feed event with the same `evt_` id (see `store::sessions`, which writes
//! both in the session's transaction). `store::feed` keeps them for [`RETENTION`].

use serde::{Deserialize, Serialize};
use time::Duration;

use super::account::Account;
use super::document::{Document, FileStatus};
use super::event::{Actor, Event};
use super::ids::{DocumentId, EventId, SessionId};
use super::values::Timestamp;
use super::verification::Verification;

/// How long the feed keeps an event (API.md §7).
pub const RETENTION: Duration = Duration::days(30);

/// The event types other than `session.<status>` (which [`is_known_type`] also accepts).
pub const OTHER_TYPES: [&str; 7] = [
    "session.created",
    "session.updated",
    "session.redacted",
    "document.file_checked",
    "verification.completed",
    "account.created",
    "account.redacted",
];

/// The groups a type filter may name as a prefix (`session.*`).
pub const GROUPS: [&str; 4] = ["session", "document", "verification", "account"];

/// Whether `t` is a type the feed can hold.
pub fn is_known_type(t: &str) -> bool {
    OTHER_TYPES.contains(&t)
        || super::session::SessionStatus::ALL
            .iter()
            .any(|s| t == super::event::transition_event_type(*s))
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedObject {
    /// Its resource type (`session`, `file`, `verification/idv`, `account`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its status after the change.
    pub status: Option<String>,
}

/// What an event says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedData {
    /// The object.
    pub object: FeedObject,
    /// Its status before, when the change moved it.
    pub previous_status: Option<String>,
    /// The session the object belongs to, if any.
    pub session_id: Option<SessionId>,
    /// For a file: its document (a file id alone would leave an integrator guessing).
    pub document_id: Option<DocumentId>,
}

/// One entry of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// Its id (for a session event, the log entry's own id).
    pub id: EventId,
    /// `session.approved`, `document.file_checked`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// When the change happened.
    pub created_at: Timestamp,
    /// Who caused it.
    pub actor: Actor,
    /// What changed.
    pub data: FeedData,
}

impl FeedEvent {
    fn new(kind: &str, at: Timestamp, actor: Actor, data: FeedData) -> FeedEvent {
        FeedEvent {
            id: EventId::new(at.datetime()),
            kind: kind.to_owned(),
            created_at: at,
            actor,
            data,
        }
    }

    /// The feed entry of a session log entry: same id, type, actor and time; its comment and
    /// changed field names stay in the log.
    pub fn of_session_event(e: &Event) -> FeedEvent {
        let status = e.data.to.map(|s| s.as_str().to_owned());
        // Only a change of status has a previous one worth telling.
        let previous_status = e
            .data
            .from
            .filter(|from| Some(*from) != e.data.to)
            .map(|s| s.as_str().to_owned());
        FeedEvent {
            id: e.id,
            kind: e.kind.clone(),
            created_at: e.occurred_at,
            actor: e.actor.clone(),
            data: FeedData {
                object: FeedObject {
                    kind: "session".to_owned(),
                    id: e.session_id.to_string(),
                    status,
                },
                previous_status,
                session_id: Some(e.session_id),
                document_id: None,
            },
        }
    }

    /// One `document.file_checked` per file of `next` that left `pending_upload` or stopped
    /// being `uploaded` (a replaced object) since `read`.
    pub fn file_checks(read: &Document, next: &Document, actor: &Actor) -> Vec<FeedEvent> {
        next.files
            .iter()
            .filter(|f| matches!(f.status, FileStatus::Uploaded | FileStatus::Rejected))
            .filter_map(|f| {
                let before = read.file(f.id)?.status;
                (before != f.status).then(|| {
                    FeedEvent::new(
                        "document.file_checked",
                        next.updated_at,
                        actor.clone(),
                        FeedData {
                            object: FeedObject {
                                kind: "file".to_owned(),
                                id: f.id.to_string(),
                                status: Some(f.status.as_str().to_owned()),
                            },
                            previous_status: Some(before.as_str().to_owned()),
                            session_id: next.session_id,
                            document_id: Some(next.id),
                        },
                    )
                })
            })
            .collect()
    }

    /// `verification.completed`, with the verification's result as the object's status.
    pub fn verification_completed(v: &Verification, actor: &Actor) -> FeedEvent {
        FeedEvent::new(
            "verification.completed",
            v.completed_at.unwrap_or(v.created_at),
            actor.clone(),
            FeedData {
                object: FeedObject {
                    kind: v.kind.resource_type().to_owned(),
                    id: v.id.to_string(),
                    status: Some(v.status.as_str().to_owned()),
                },
                previous_status: None,
                session_id: v.session_id,
                document_id: Some(v.document_id),
            },
        )
    }

    /// `account.created` or `account.redacted` (`kind`), describing `a` as written.
    pub fn account(kind: &str, a: &Account, actor: &Actor) -> FeedEvent {
        FeedEvent::new(
            kind,
            a.updated_at,
            actor.clone(),
            FeedData {
                object: FeedObject {
                    kind: "account".to_owned(),
                    id: a.id.to_string(),
                    status: Some(a.status.as_str().to_owned()),
                },
                previous_status: None,
                session_id: None,
                document_id: None,
            },
        )
    }

    /// The TTL (Unix seconds) after which the table drops it.
    pub fn expires(&self) -> i64 {
        self.created_at.add(RETENTION).unix()
    }
}

/// Which types a `filter[type]` entry asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeFilter {
    /// Exactly this type.
    Exact(String),
    /// Every type starting with `group.` (`session.*`).
    Prefix(String),
}

impl TypeFilter {
    /// Parses one entry: a known type, or a known group followed by `.*`.
    pub fn parse(s: &str) -> Option<TypeFilter> {
        if let Some(group) = s.strip_suffix(".*") {
            return GROUPS
                .contains(&group)
                .then(|| TypeFilter::Prefix(format!("{group}.")));
        }
        is_known_type(s).then(|| TypeFilter::Exact(s.to_owned()))
    }

    /// Whether `t` passes.
    pub fn matches(&self, t: &str) -> bool {
        match self {
            TypeFilter::Exact(x) => t == x,
            TypeFilter::Prefix(p) => t.starts_with(p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_filters_take_known_types_and_group_prefixes_only() {
        assert_eq!(
            TypeFilter::parse("session.approved"),
            Some(TypeFilter::Exact("session.approved".into()))
        );
        assert_eq!(
            TypeFilter::parse("session.*"),
            Some(TypeFilter::Prefix("session.".into()))
        );
        assert!(TypeFilter::parse("session.*")
            .expect("prefix")
            .matches("session.created"));
        assert!(!TypeFilter::parse("session.*")
            .expect("prefix")
            .matches("sessions.x"));
        for bad in [
            "session.nope",
            "*",
            "webhook.*",
            "",
            "session",
            "session.approved.*",
        ] {
            assert_eq!(TypeFilter::parse(bad), None, "{bad}");
        }
        assert!(is_known_type("account.redacted"));
        assert!(is_known_type("session.expired"));
    }
}
