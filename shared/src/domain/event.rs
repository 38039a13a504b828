//! The session event log: every change of a session, oldest first.
//!
//! Events are written in the same transaction as the change they describe, so the log and
//! the session can never disagree. They hold no personal data except a reviewer's comment,
//! which redaction removes.

use serde::{Deserialize, Serialize};

use super::ids::{EventId, SessionId};
use super::session::{Session, SessionStatus, Transition};
use super::values::Timestamp;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `api_key`, `system` or `client_token`.
    #[serde(rename = "type")]
    pub kind: ActorKind,
    /// The key's id for `api_key`, the token's (`ctk_…`) for `client_token`; the component
    /// for `system` (e.g. `expiry`).
    pub id: Option<String>,
}

/// The kinds of actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A request made with an API key.
    ApiKey,
    /// The service itself (expiry, automatic processing).
    System,
    /// The hosted capture page acting with a session's client token (API.md §9).
    ClientToken,
}

impl Actor {
    /// The actor for a request made with key `key_id`.
    pub fn api_key(key_id: impl Into<String>) -> Actor {
        Actor {
            kind: ActorKind::ApiKey,
            id: Some(key_id.into()),
        }
    }

    /// The applicant's browser, acting with client token `token_id` (`ctk_…`).
    pub fn client_token(token_id: impl Into<String>) -> Actor {
        Actor {
            kind: ActorKind::ClientToken,
            id: Some(token_id.into()),
        }
    }

    /// The service itself; `component` names the part that acted.
    pub fn system(component: &str) -> Actor {
        Actor {
            kind: ActorKind::System,
            id: Some(component.to_owned()),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventData {
    /// Status before (null for `session.created`).
    pub from: Option<SessionStatus>,
    /// Status after.
    pub to: Option<SessionStatus>,
    /// A reviewer's comment on a decision (removed by redaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// For `session.updated`: the names of the attributes that changed (never their values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
}

/// One entry of a session's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Its id.
    pub id: EventId,
    /// The session it belongs to.
    pub session_id: SessionId,
    /// The session version this event produced; orders the log exactly.
    pub seq: u64,
    /// `session.created`, `session.approved`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Who.
    pub actor: Actor,
    /// When.
    pub occurred_at: Timestamp,
    /// What.
    pub data: EventData,
}

/// The event type for a transition's target status.
pub fn transition_event_type(to: SessionStatus) -> String {
    format!("session.{}", to.as_str())
}

impl Event {
    /// The event recording `t`, stamped with the transition's own time and version.
    pub fn transition(t: &Transition, actor: Actor, comment: Option<String>) -> Event {
        Event {
            id: EventId::new(t.next.updated_at.datetime()),
            session_id: t.next.id,
            seq: t.next.version,
            kind: transition_event_type(t.to),
            actor,
            occurred_at: t.next.updated_at,
            data: EventData {
                from: Some(t.from),
                to: Some(t.to),
                comment,
                fields: None,
            },
        }
    }

    /// An event that does not change the status (`session.created`, `session.updated`,
    /// `session.redacted`), describing `next`, the session as written.
    pub fn change(
        next: &Session,
        kind: &str,
        from: Option<SessionStatus>,
        actor: Actor,
        fields: Option<Vec<String>>,
    ) -> Event {
        Event {
            id: EventId::new(next.updated_at.datetime()),
            session_id: next.id,
            seq: next.version,
            kind: kind.to_owned(),
            actor,
            occurred_at: next.updated_at,
            data: EventData {
                from,
                to: Some(next.status()),
                comment: None,
                fields,
            },
        }
    }
}
