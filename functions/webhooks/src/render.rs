//! Webhook endpoints and deliveries as the API shows them. A secret appears only in the
//! answers to create and rotate, and never in a list, a get or a log.

use idv::domain::webhook::{Delivery, Endpoint};
use idv::http::jsonapi::{resource, to_one};
use serde_json::{json, Value};

/// An endpoint; `secret` only right after it was made.
pub fn endpoint(e: &Endpoint, secret: Option<&str>) -> Value {
    let mut attributes = json!({
        "url": e.url,
        "enabled_events": e.enabled_events,
        "status": e.status.as_str(),
        "disabled_reason": e.disabled_reason,
        "description": e.description,
        "failing_since": e.failing_since.map(|t| t.to_string()),
        "previous_secret_expires_at": e.previous_secret.as_ref().map(|p| p.until.to_string()),
        "created_at": e.created_at.to_string(),
        "updated_at": e.updated_at.to_string(),
    });
    if let Some(secret) = secret {
        attributes["secret"] = json!(secret);
    }
    resource("webhook_endpoint", &e.id.to_string(), attributes, None)
}

/// One delivery attempt.
pub fn delivery(d: &Delivery) -> Value {
    resource(
        "webhook_delivery",
        &d.id.to_string(),
        json!({
            "event_id": d.event_id.to_string(),
            "event_type": d.event_type,
            "origin": d.origin.as_str(),
            "sequence": d.sequence,
            "attempt": d.attempt,
            "status": d.status.as_str(),
            "scheduled_at": d.scheduled_at.to_string(),
            "attempted_at": d.attempted_at.map(|t| t.to_string()),
            "response_status": d.response_status,
            "duration_ms": d.duration_ms,
            "response_body": d.response_body,
            "error": d.error,
            "next_attempt_at": d.next_attempt_at.map(|t| t.to_string()),
        }),
        Some(json!({
            "webhook_endpoint": to_one("webhook_endpoint", Some(d.endpoint_id.to_string())),
            "event": to_one("event", Some(d.event_id.to_string())),
        })),
    )
}
