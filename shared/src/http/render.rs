//! How sessions, accounts and events look in responses. One function per resource, used
//! by every endpoint that returns it, so shapes cannot drift apart.

use serde_json::{json, Map, Value};

use super::jsonapi::{resource, to_many, to_one};
use super::pagination::query_pair;
use crate::domain::account::Account;
use crate::domain::event::Event;
use crate::domain::session::Session;

fn ts(t: Option<crate::domain::values::Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_string()))
}

/// A session resource, in the seed's shape.
pub fn session(s: &Session) -> Value {
    let mut attrs = Map::new();
    attrs.insert("status".into(), json!(s.status().as_str()));
    attrs.insert("creator_type".into(), json!(s.creator.kind));
    attrs.insert("creator_id".into(), json!(s.creator.id));
    attrs.insert("entity_type".into(), json!(s.entity_type.as_str()));
    attrs.extend(s.data.to_json());
    attrs.insert(
        "behavior_analysis".into(),
        s.behavior_analysis.clone().unwrap_or(Value::Null),
    );
    attrs.insert("created_at".into(), json!(s.created_at.to_string()));
    attrs.insert("updated_at".into(), json!(s.updated_at.to_string()));
    for (name, value) in [
        ("started_at", s.started_at),
        ("expires_at", s.expires_at),
        ("completed_at", s.completed_at),
        ("failed_at", s.failed_at),
        ("marked_for_review_at", s.marked_for_review_at),
        ("decisioned_at", s.decisioned_at),
        ("expired_at", s.expired_at),
        ("redacted_at", s.redacted_at),
    ] {
        attrs.insert(name.into(), ts(value));
    }
    let relationships = json!({
        "account": to_one("account", s.account_id.map(|a| a.to_string())),
        "documents": documents(&s.documents),
        "verifications": verifications(&s.verifications),
        "session_device": to_one("session_device", s.session_device_id.map(|d| d.to_string())),
    });
    resource(
        "session",
        &s.id.to_string(),
        Value::Object(attrs),
        Some(relationships),
    )
}

/// A session as its applicant sees it through a client token (API.md §9): status, their
/// own data and the session's documents and verifications; not who created it, its
/// account, or the device signals measured about them.
pub fn session_for_applicant(s: &Session) -> Value {
    let mut doc = session(s);
    if let Some(attrs) = doc["attributes"].as_object_mut() {
        for hidden in ["creator_type", "creator_id", "behavior_analysis"] {
            attrs.remove(hidden);
        }
    }
    if let Some(rels) = doc["relationships"].as_object_mut() {
        rels.remove("account");
    }
    doc
}

/// A verification as its applicant sees it through a client token: status and each check's
/// name, status, reasons and requirement, enough to say what to retake; not the data read
/// from the document nor the checks' metadata (the lines as read, the comparisons).
pub fn verification_for_applicant(v: &crate::domain::verification::Verification) -> Value {
    let mut doc = verification(v);
    let attrs = &mut doc["attributes"];
    attrs["extracted"] = Value::Null;
    if let Some(checks) = attrs["checks"].as_array_mut() {
        for check in checks {
            if let Some(c) = check.as_object_mut() {
                c.remove("metadata");
            }
        }
    }
    doc
}

/// A client token: `token` and `capture_url` only when just issued, else null.
pub fn client_token(
    t: &crate::domain::client_token::ClientToken,
    secret: Option<&str>,
    capture_url: Option<&str>,
) -> Value {
    let steps: Vec<&str> = t.steps.iter().map(|s| s.as_str()).collect();
    let attrs = json!({
        "token": secret,
        "capture_url": capture_url,
        "expires_at": t.expires_at.to_string(),
        "session_id": t.session_id.to_string(),
        "steps": steps,
        "created_at": t.created_at.to_string(),
    });
    let relationships = json!({"session": to_one("session", Some(t.session_id.to_string()))});
    resource(
        "client_token",
        &t.id.to_string(),
        attrs,
        Some(relationships),
    )
}

/// Verification linkage: each with its own type (`verification/idv`, …).
fn verifications(refs: &[crate::domain::verification::VerificationRef]) -> Value {
    let data: Vec<Value> = refs
        .iter()
        .map(|v| json!({"type": v.kind.resource_type(), "id": v.id.to_string()}))
        .collect();
    json!({ "data": data })
}

/// Document linkage: each with its own type (`document/idv`, `document/address`).
fn documents(docs: &[crate::domain::session::DocumentRef]) -> Value {
    let data: Vec<Value> = docs
        .iter()
        .map(|d| json!({"type": d.kind.resource_type(), "id": d.id.to_string()}))
        .collect();
    json!({ "data": data })
}

/// An account resource with its newest sessions and documents as linkage.
pub fn account(
    a: &Account,
    sessions: &[String],
    docs: &[crate::domain::session::DocumentRef],
    base_path: &str,
) -> Value {
    let mut attrs = Map::new();
    attrs.insert("status".into(), json!(a.status.as_str()));
    attrs.insert("external_id".into(), json!(a.external_id));
    attrs.insert("entity_type".into(), json!(a.entity_type.as_str()));
    attrs.extend(a.data.to_json());
    attrs.insert("created_at".into(), json!(a.created_at.to_string()));
    attrs.insert("updated_at".into(), json!(a.updated_at.to_string()));
    attrs.insert("redacted_at".into(), ts(a.redacted_at));
    let mut sessions_rel = to_many("session", sessions.iter().cloned());
    sessions_rel["links"] = json!({
        "related": format!(
            "{base_path}/v1/identity/sessions?{}",
            query_pair("filter[account_id]", &a.id.to_string())
        )
    });
    let mut documents_rel = documents(docs);
    documents_rel["links"] = json!({
        "related": format!(
            "{base_path}/v1/identity/documents/idvs?{}",
            query_pair("filter[account_id]", &a.id.to_string())
        )
    });
    let relationships = json!({"sessions": sessions_rel, "documents": documents_rel});
    resource(
        "account",
        &a.id.to_string(),
        Value::Object(attrs),
        Some(relationships),
    )
}

/// An event of a session's log.
pub fn event(e: &Event) -> Value {
    let mut data =
        json!({"from": e.data.from.map(|s| s.as_str()), "to": e.data.to.map(|s| s.as_str())});
    if let Some(c) = &e.data.comment {
        data["comment"] = json!(c);
    }
    if let Some(f) = &e.data.fields {
        data["fields"] = json!(f);
    }
    json!({
        "type": "event",
        "id": e.id.to_string(),
        "attributes": {
            "type": e.kind,
            "actor": {"type": e.actor.kind, "id": e.actor.id},
            "occurred_at": e.occurred_at.to_string(),
            "data": data,
        }
    })
}

/// An event of the feed (API.md §7): ids and statuses only.
pub fn feed_event(e: &crate::domain::feed::FeedEvent) -> Value {
    let d = &e.data;
    json!({
        "type": "event",
        "id": e.id.to_string(),
        "attributes": {
            "type": e.kind,
            "created_at": e.created_at.to_string(),
            "actor": {"type": e.actor.kind, "id": e.actor.id},
            "data": {
                "object": {"type": d.object.kind, "id": d.object.id, "status": d.object.status},
                "previous_status": d.previous_status,
                "session_id": d.session_id.map(|s| s.to_string()),
                "document_id": d.document_id.map(|s| s.to_string()),
            },
        }
    })
}

/// A document resource. `urls` holds a presigned download URL per uploaded file (by index)
/// for callers allowed to read documents.
pub fn document(d: &crate::domain::document::Document, urls: &[Option<String>]) -> Value {
    let files: Vec<Value> = d
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({
                "id": f.id.to_string(),
                "filename": f.filename,
                "content_type": f.content_type.as_str(),
                "byte_size": f.byte_size,
                "side": f.side,
                "status": f.status,
                "reason": f.reason,
                "url": urls.get(i).cloned().flatten(),
            })
        })
        .collect();
    let attrs = json!({
        "status": d.status().as_str(),
        "document_type": d.document_type,
        "files": files,
        "extracted": d.extracted,
        "created_at": d.created_at.to_string(),
        "updated_at": d.updated_at.to_string(),
        "submitted_at": ts(d.submitted_at),
        "processed_at": ts(d.processed_at),
        "redacted_at": ts(d.redacted_at),
    });
    let relationships = json!({
        "session": to_one("session", d.session_id.map(|s| s.to_string())),
        "account": to_one("account", d.account_id.map(|a| a.to_string())),
        "verifications": to_many(
            match d.kind {
                crate::domain::document::DocumentKind::Idv => "verification/idv",
                crate::domain::document::DocumentKind::Address => "verification/address",
            },
            d.verification_ids.iter().map(ToString::to_string),
        ),
    });
    resource(
        d.kind.resource_type(),
        &d.id.to_string(),
        attrs,
        Some(relationships),
    )
}

/// A session device resource.
pub fn device(d: &crate::domain::device::Device) -> Value {
    let attrs = json!({
        "user_agent": d.user_agent,
        "platform": d.platform,
        "locale": d.locale,
        "ip_address": d.ip_address,
        "sdk_version": d.sdk_version,
        "behavior_analysis": d.behavior_analysis,
        "created_at": d.created_at.to_string(),
        "redacted_at": ts(d.redacted_at),
    });
    let relationships = json!({"session": to_one("session", Some(d.session_id.to_string()))});
    resource(
        "session_device",
        &d.id.to_string(),
        attrs,
        Some(relationships),
    )
}

/// A verification resource.
pub fn verification(v: &crate::domain::verification::Verification) -> Value {
    let attrs = json!({
        "status": v.status.as_str(),
        "checks": v.checks,
        "extracted": v.extracted,
        "rule_set_version": v.rule_set_version,
        "evaluated_on": v.evaluated_on.map(crate::domain::values::format_date),
        "created_at": v.created_at.to_string(),
        "completed_at": ts(v.completed_at),
        "redacted_at": ts(v.redacted_at),
    });
    let relationships = json!({
        "document": {"data": {"type": v.kind.document_kind().resource_type(), "id": v.document_id.to_string()}},
        "session": to_one("session", v.session_id.map(|s| s.to_string())),
    });
    resource(
        v.kind.resource_type(),
        &v.id.to_string(),
        attrs,
        Some(relationships),
    )
}
