//! Request documents of the sessions endpoints, turned into domain values. Every problem is
//! reported with its pointer; nothing is written unless the whole document is valid.

use idv::domain::applicant::{normalize_address_aliases, ApplicantData, APPLICANT_FIELDS};
use idv::domain::client_token::{
    CaptureStep, DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MIN_TTL_SECONDS,
};
use idv::domain::ids::AccountId;
use idv::domain::session::{Action, EntityType, Session};
use idv::domain::validation::{merge_patch, text, ObjectReader, ProblemKind, Problems};
use idv::domain::values::Timestamp;
use idv::http::jsonapi::{action_meta, RequestDoc};
use serde_json::{Map, Value};
use time::Duration;

pub mod devices;

/// Longest `expires_at` accepted, from now.
pub const MAX_LIFETIME: Duration = Duration::days(30);
/// Longest reviewer comment.
pub const MAX_COMMENT: usize = 1000;

/// Attributes a client can see but not set.
const READ_ONLY: [&str; 17] = [
    "status",
    "creator_type",
    "creator_id",
    "behavior_analysis",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
    "failed_at",
    "marked_for_review_at",
    "decisioned_at",
    "expired_at",
    "redacted_at",
    "documents",
    "verifications",
    "session_device",
    "account_id",
];

fn reject_read_only(attrs: &Value, extra: &[&str], p: &mut Problems) {
    if let Some(map) = attrs.as_object() {
        for key in READ_ONLY.iter().chain(extra) {
            if map.contains_key(*key) {
                p.invalid(&format!("/data/attributes/{key}"), "is read-only");
            }
        }
    }
}

/// Keys already reported as read-only, so that `finish` does not report them again.
fn skip_read_only(r: &mut ObjectReader<'_>, extra: &[&'static str]) {
    for key in READ_ONLY.iter().chain(extra) {
        let _ = r.get(key);
    }
}

/// A valid new-session request.
pub struct NewSession {
    /// Person or business.
    pub entity_type: EntityType,
    /// Initial personal data.
    pub data: ApplicantData,
    /// Explicit deadline.
    pub expires_at: Option<Timestamp>,
    /// The account to link.
    pub account: Option<AccountId>,
}

fn check_expires_at(at: Option<Timestamp>, now: Timestamp, p: &mut Problems) -> Option<Timestamp> {
    let at = at?;
    if at <= now {
        p.invalid("/data/attributes/expires_at", "must be in the future");
        None
    } else if at > now.add(MAX_LIFETIME) {
        p.invalid(
            "/data/attributes/expires_at",
            "must be at most 30 days from now",
        );
        None
    } else {
        Some(at)
    }
}

/// Reads `POST /sessions`.
pub fn new_session(mut body: Value, now: Timestamp) -> Result<NewSession, Problems> {
    let mut p = Problems::default();
    if let Some(attrs) = body.pointer_mut("/data/attributes") {
        normalize_address_aliases(attrs, "/data/attributes", &mut p);
    }
    let Some(doc) = RequestDoc::read(&body, "session", None, &mut p) else {
        return Err(p);
    };
    reject_read_only(doc.attributes, &[], &mut p);
    let Some(mut attrs) = ObjectReader::new(doc.attributes, "/data/attributes", &mut p) else {
        return Err(p);
    };
    let entity_type = attrs.parsed(
        "entity_type",
        "`person` or `business`",
        EntityType::parse,
        &mut p,
    );
    if entity_type.is_none() && !attrs.has("entity_type") {
        p.push(
            ProblemKind::Missing,
            "/data/attributes/entity_type",
            "is required: `person` or `business`",
        );
    }
    let data = ApplicantData::read(&mut attrs, now.date(), &mut p);
    let expires_at = attrs.timestamp("expires_at", &mut p);
    let expires_at = check_expires_at(expires_at, now, &mut p);
    skip_read_only(&mut attrs, &[]);
    attrs.finish(&mut p);

    let account =
        doc.to_one("account", "account", &mut p)
            .and_then(|id| match AccountId::parse(&id) {
                Ok(a) => Some(a),
                Err(_) => {
                    p.push(
                        ProblemKind::Relationship,
                        "/data/relationships/account/data/id",
                        "is not an account id",
                    );
                    None
                }
            });
    doc.only_relationships(&["account"], &mut p);
    doc.meta.only(&[], &mut p);
    match entity_type {
        Some(entity_type) if p.is_empty() => Ok(NewSession {
            entity_type,
            data,
            expires_at,
            account,
        }),
        _ => Err(p),
    }
}

/// A checked PATCH document: the merge patch over the writable attributes.
pub struct SessionPatch {
    patch: Map<String, Value>,
}

/// Reads `PATCH /sessions/{id}` up to the point where the current session is needed.
pub fn session_patch(mut body: Value, path_id: &str) -> Result<SessionPatch, Problems> {
    let mut p = Problems::default();
    if let Some(attrs) = body.pointer_mut("/data/attributes") {
        normalize_address_aliases(attrs, "/data/attributes", &mut p);
    }
    let Some(doc) = RequestDoc::read(&body, "session", Some(path_id), &mut p) else {
        return Err(p);
    };
    reject_read_only(doc.attributes, &["entity_type"], &mut p);
    doc.only_relationships(&[], &mut p);
    // Like the create, a PATCH takes no meta; sent anyway (at either level) it is refused
    // rather than silently dropped.
    doc.meta.only(&[], &mut p);
    let mut patch = Map::new();
    if let Some(map) = doc.attributes.as_object() {
        for (k, v) in map {
            let writable = APPLICANT_FIELDS.contains(&k.as_str()) || k == "expires_at";
            if writable {
                patch.insert(k.clone(), v.clone());
            } else if !READ_ONLY.contains(&k.as_str()) && k != "entity_type" {
                p.push(
                    ProblemKind::Unknown,
                    &format!("/data/attributes/{k}"),
                    format!("`{k}` is not an attribute of this object"),
                );
            }
        }
    }
    p.into_result(SessionPatch { patch })
}

impl SessionPatch {
    /// Applies the patch to `current` at `now`: the next session and the names of the
    /// attributes that changed, or `None` when nothing changes.
    pub fn apply(
        &self,
        current: &Session,
        now: Timestamp,
    ) -> Result<Option<(Session, Vec<String>)>, Problems> {
        let mut merged = Value::Object(current.data.to_json());
        merged["expires_at"] = current
            .expires_at
            .map_or(Value::Null, |t| Value::String(t.to_string()));
        merge_patch(&mut merged, &Value::Object(self.patch.clone()));

        let mut p = Problems::default();
        let Some(mut r) = ObjectReader::new(&merged, "/data/attributes", &mut p) else {
            return Err(p);
        };
        let data = ApplicantData::read(&mut r, now.date(), &mut p);
        let expires_at = r.timestamp("expires_at", &mut p);
        r.finish(&mut p);
        let expires_at = if expires_at != current.expires_at {
            check_expires_at(expires_at, now, &mut p)
        } else {
            expires_at
        };
        if !p.is_empty() {
            return Err(p);
        }
        let before = current.data.to_json();
        let after = data.to_json();
        let mut fields: Vec<String> = APPLICANT_FIELDS
            .iter()
            .filter(|f| before.get(**f) != after.get(**f))
            .map(|f| (*f).to_owned())
            .collect();
        if expires_at != current.expires_at {
            fields.push("expires_at".into());
        }
        if fields.is_empty() {
            return Ok(None);
        }
        let now = now.at_least(current.updated_at);
        let mut next = current.clone();
        next.data = data;
        next.expires_at = expires_at;
        next.updated_at = now;
        next.version += 1;
        Ok(Some((next, fields)))
    }
}

/// Reads the optional body of a decide action: `{"meta": {"comment": "…"}}`, the comment
/// also accepted in `data.meta` (API.md §1 "Meta"; `data.type`, if sent, must be `session`).
pub fn decision_comment(body: Option<Value>) -> Result<Option<String>, Problems> {
    let mut p = Problems::default();
    if body.is_none() {
        return Ok(None);
    }
    let meta = action_meta(body.as_ref(), "session", &mut p);
    meta.only(&["comment"], &mut p);
    let comment = meta
        .get("comment")
        .and_then(|c| text(c, &meta.pointer("comment"), MAX_COMMENT, &mut p));
    p.into_result(comment)
}

/// A client token's request: lifetime and capture steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// Seconds it stays valid.
    pub ttl_seconds: u32,
    /// What the capture page asks for (`idv` first, no repeats).
    pub steps: Vec<CaptureStep>,
}

/// Reads `POST /sessions/{id}/client-token`: an optional `{"meta": {"ttl_seconds": 60…3600,
/// "steps": ["idv"] | ["idv", "address"]}}` (API.md §9).
pub fn client_token_request(body: Option<Value>) -> Result<TokenRequest, Problems> {
    let mut p = Problems::default();
    let meta = action_meta(body.as_ref(), "client_token", &mut p);
    meta.only(&["ttl_seconds", "steps"], &mut p);
    let ttl_seconds = match meta.get("ttl_seconds") {
        None | Some(Value::Null) => DEFAULT_TTL_SECONDS,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&n) => n,
            _ => {
                p.invalid(
                    &meta.pointer("ttl_seconds"),
                    format!("must be a whole number of seconds from {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS}"),
                );
                DEFAULT_TTL_SECONDS
            }
        },
    };
    let steps = match meta.get("steps") {
        None | Some(Value::Null) => vec![CaptureStep::Idv],
        Some(v) => {
            let parsed: Option<Vec<CaptureStep>> = v.as_array().and_then(|a| {
                a.iter()
                    .map(|s| s.as_str().and_then(CaptureStep::parse))
                    .collect()
            });
            match parsed {
                Some(steps)
                    if steps == [CaptureStep::Idv]
                        || steps == [CaptureStep::Idv, CaptureStep::Address] =>
                {
                    steps
                }
                _ => {
                    p.invalid(
                        &meta.pointer("steps"),
                        "must be [\"idv\"] or [\"idv\", \"address\"]",
                    );
                    Vec::new()
                }
            }
        }
    };
    p.into_result(TokenRequest { ttl_seconds, steps })
}

/// The attributes a client token may patch: the applicant's own data (API.md §9).
pub const APPLICANT_PATCHABLE: [&str; 3] = ["person", "contact", "address"];

/// The pointer of the first attribute of a PATCH body a client token may not change.
pub fn attribute_beyond_applicant(body: &Value) -> Option<String> {
    body["data"]["attributes"].as_object().and_then(|attrs| {
        attrs
            .keys()
            .find(|k| !APPLICANT_PATCHABLE.contains(&k.as_str()))
            .map(|k| {
                format!(
                    "/data/attributes/{}",
                    k.replace('~', "~0").replace('/', "~1")
                )
            })
    })
}

/// Reads `/simulate`: `{"data": {"attributes": {"action": "start" | "submit" | "complete" |
/// "fail"}}}` (`data.type`, if sent, must be `session`).
pub fn simulate_action(body: Value) -> Result<Action, Problems> {
    let mut p = Problems::default();
    let Some(mut top) = ObjectReader::new(&body, "", &mut p) else {
        return Err(p);
    };
    let data = top.get("data");
    top.finish(&mut p);
    let Some(data) = data else {
        p.push(ProblemKind::Missing, "/data", "is required");
        return Err(p);
    };
    let Some(mut d) = ObjectReader::new(data, "/data", &mut p) else {
        return Err(p);
    };
    if let Some(t) = d.get("type") {
        if t.as_str() != Some("session") {
            p.invalid("/data/type", "must be `session` when given");
        }
    }
    let attrs = d.get("attributes");
    d.finish(&mut p);
    let Some(attrs) = attrs else {
        p.push(
            ProblemKind::Missing,
            "/data/attributes/action",
            "is required",
        );
        return Err(p);
    };
    let Some(mut a) = ObjectReader::new(attrs, "/data/attributes", &mut p) else {
        return Err(p);
    };
    let action = a.parsed(
        "action",
        "one of start, submit, complete, fail",
        |s| match s {
            "start" => Some(Action::Start),
            "submit" => Some(Action::Submit),
            "complete" => Some(Action::Complete),
            "fail" => Some(Action::Fail),
            _ => None,
        },
        &mut p,
    );
    if action.is_none() && !a.has("action") {
        p.push(
            ProblemKind::Missing,
            "/data/attributes/action",
            "is required",
        );
    }
    a.finish(&mut p);
    match action {
        Some(action) if p.is_empty() => Ok(action),
        _ => Err(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_create_body_is_accepted() {
        let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person"},
            "relationships": {"account": {"data": {"type": "account", "id": "acc_01HQ0000000000000000000000"}}}}});
        let s = new_session(body, Timestamp::now())
            .map_err(|p| p.0)
            .expect("valid");
        assert_eq!(s.entity_type, EntityType::Person);
        assert!(s.account.is_some());
    }

    #[test]
    fn create_and_patch_take_no_meta_at_either_level() {
        let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person"},
            "meta": {"auto_update_session": true}}});
        let p = new_session(body, Timestamp::now()).err().expect("no meta");
        assert_eq!(p.0[0].pointer, "/data/meta/auto_update_session");
        let body = json!({"data": {"type": "session", "id": "sess_1", "attributes": {}},
            "meta": {"note": "x"}});
        let p = session_patch(body, "sess_1").err().expect("no meta");
        assert_eq!(p.0[0].pointer, "/meta/note");
    }

    #[test]
    fn create_problems_have_pointers() {
        let body = json!({"data": {"type": "session", "attributes": {"status": "approved", "colour": "red",
            "expires_at": "2001-01-01T00:00:00Z"},
            "relationships": {"account": {"data": {"type": "account", "id": "acc_nope"}}}}});
        let p = new_session(body, Timestamp::now()).err().expect("invalid");
        let got: Vec<(&str, &str)> =
            p.0.iter()
                .map(|x| (x.kind.code(), x.pointer.as_str()))
                .collect();
        assert!(got.contains(&("invalid_attribute", "/data/attributes/status")));
        assert!(got.contains(&("unknown_attribute", "/data/attributes/colour")));
        assert!(got.contains(&("missing_attribute", "/data/attributes/entity_type")));
        assert!(got.contains(&("invalid_attribute", "/data/attributes/expires_at")));
        assert!(got.contains(&(
            "invalid_relationship",
            "/data/relationships/account/data/id"
        )));
    }

    #[test]
    fn comments_and_simulate() {
        assert_eq!(decision_comment(None).ok(), Some(None));
        assert_eq!(
            decision_comment(Some(json!({"meta": {"comment": "ok"}}))).ok(),
            Some(Some("ok".into()))
        );
        assert!(decision_comment(Some(json!({"meta": {"comment": "x".repeat(1001)}}))).is_err());
        assert!(decision_comment(Some(json!({"meta": {"note": "x"}}))).is_err());
        assert_eq!(
            decision_comment(Some(json!({"data": {"meta": {"comment": "in data"}}}))).ok(),
            Some(Some("in data".into()))
        );
        let p = decision_comment(Some(
            json!({"meta": {"comment": "a"}, "data": {"type": "session", "meta": {"comment": "b"}}}),
        ))
        .expect_err("differ");
        assert_eq!(p.0[0].pointer, "/data/meta/comment");
        assert!(decision_comment(Some(json!({"data": {"type": "account", "meta": {}}}))).is_err());
        assert_eq!(
            simulate_action(json!({"data": {"attributes": {"action": "complete"}}})).ok(),
            Some(Action::Complete)
        );
        assert!(simulate_action(json!({"data": {"attributes": {"action": "approve"}}})).is_err());
    }
}
