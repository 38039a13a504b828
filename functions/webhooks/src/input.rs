//! Request documents and query strings of the webhooks API, turned into checked values.
//! Every problem is a 422 (bodies) or 400 (query) naming where it is; a URL is vetted by
//! the SSRF guard, DNS included, before anything is written.

use idv::domain::feed::TypeFilter;
use idv::domain::ids::EventId;
use idv::domain::validation::{ObjectReader, ProblemKind, Problems};
use idv::domain::values::{Environment, Timestamp};
use idv::domain::webhook::{
    DeliveryStatus, EndpointStatus, EventSelector, DESCRIPTION_MAX, URL_MAX,
};
use idv::http::jsonapi::{action_meta, RequestDoc};
use idv::http::pagination::ListParams;
use idv::http::ApiError;
use idv::webhooks::guard;
use idv::workflow::webhooks::{DeliveriesFilter, EndpointPatch, NewEndpoint};
use serde_json::Value;

/// Attributes the service sets; sending one is an error, not silently ignored.
const READ_ONLY: [&str; 6] = [
    "secret",
    "created_at",
    "updated_at",
    "disabled_reason",
    "failing_since",
    "previous_secret_expires_at",
];

/// Most entries of `enabled_events`.
const EVENTS_MAX: usize = 50;

/// The longest replay range (API.md §8).
const REPLAY_MAX: time::Duration = time::Duration::days(30);

/// The filters `GET /webhook-endpoints/{id}/deliveries` accepts.
pub const DELIVERY_FILTERS: [&str; 2] = ["filter[event_id]", "filter[status]"];

const URL_POINTER: &str = "/data/attributes/url";

/// Fields of create and patch, as read.
struct Fields {
    url: Option<String>,
    enabled_events: Option<Vec<String>>,
    status: Option<EndpointStatus>,
    description: Option<Option<String>>,
}

fn read_fields(attrs: &Value, env: Environment, p: &mut Problems) -> Option<Fields> {
    let mut r = ObjectReader::new(attrs, "/data/attributes", p)?;
    for key in READ_ONLY {
        if r.has(key) {
            p.invalid(&r.pointer_of(key), "is read-only");
        }
        let _ = r.get(key);
    }
    let url = r.text("url", URL_MAX, p);
    if let Some(u) = &url {
        if let Err(e) = guard::parse_url(u, env) {
            p.invalid(URL_POINTER, e.to_string());
        }
    }
    let enabled_events = r.get("enabled_events").and_then(|v| events(v, p));
    let status = r.parsed(
        "status",
        "`enabled` or `disabled`",
        EndpointStatus::parse,
        p,
    );
    let description = if r.has("description") {
        Some(r.text("description", DESCRIPTION_MAX, p))
    } else {
        None
    };
    r.finish(p);
    Some(Fields {
        url,
        enabled_events,
        status,
        description,
    })
}

/// `enabled_events`: 1–50 distinct selectors (`*`, a type, or `group.*`).
fn events(v: &Value, p: &mut Problems) -> Option<Vec<String>> {
    let ptr = "/data/attributes/enabled_events";
    let Some(items) = v
        .as_array()
        .filter(|a| !a.is_empty() && a.len() <= EVENTS_MAX)
    else {
        p.invalid(
            ptr,
            "must be an array of 1 to 50 event types (`*`, a type, or a group such as `session.*`)",
        );
        return None;
    };
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str().filter(|s| EventSelector::parse(s).is_some()) {
            Some(s) if !out.iter().any(|o| o == s) => out.push(s.to_owned()),
            Some(_) => {}
            None => p.invalid(
                &format!("{ptr}/{i}"),
                "must be `*`, an event type (API.md §7) or a group such as `session.*`",
            ),
        }
    }
    Some(out)
}

/// Reads `POST /webhook-endpoints` (shape only; [`vet`] resolves the host).
pub fn new_endpoint(body: &Value, env: Environment) -> Result<NewEndpoint, Problems> {
    let mut p = Problems::default();
    let Some(doc) = RequestDoc::read(body, "webhook_endpoint", None, &mut p) else {
        return Err(p);
    };
    doc.only_relationships(&[], &mut p);
    doc.meta.only(&[], &mut p);
    let fields = read_fields(doc.attributes, env, &mut p);
    let Some(f) = fields else { return Err(p) };
    if f.url.is_none() && !p.0.iter().any(|x| x.pointer == URL_POINTER) {
        p.push(ProblemKind::Missing, URL_POINTER, "is required");
    }
    if f.enabled_events.is_none() && doc.attributes.get("enabled_events").is_none() {
        p.push(
            ProblemKind::Missing,
            "/data/attributes/enabled_events",
            "is required",
        );
    }
    match (f.url, f.enabled_events) {
        (Some(url), Some(enabled_events)) if p.is_empty() => Ok(NewEndpoint {
            url,
            enabled_events,
            description: f.description.flatten(),
            status: f.status.unwrap_or(EndpointStatus::Enabled),
        }),
        _ => Err(p),
    }
}

/// Reads `PATCH /webhook-endpoints/{id}` (shape only; [`vet`] resolves a new host).
pub fn patch(body: &Value, id: &str, env: Environment) -> Result<EndpointPatch, Problems> {
    let mut p = Problems::default();
    let Some(doc) = RequestDoc::read(body, "webhook_endpoint", Some(id), &mut p) else {
        return Err(p);
    };
    doc.only_relationships(&[], &mut p);
    doc.meta.only(&[], &mut p);
    let Some(f) = read_fields(doc.attributes, env, &mut p) else {
        return Err(p);
    };
    if doc.attributes.get("url").is_some_and(Value::is_null) {
        p.invalid(URL_POINTER, "cannot be removed");
    }
    p.into_result(EndpointPatch {
        url: f.url,
        enabled_events: f.enabled_events,
        status: f.status,
        description: f.description,
    })
}

/// Resolves the URL's host now and refuses it if any address is internal (API.md §8: 422
/// on create). Deliveries resolve and vet again on every attempt.
pub async fn vet(url: &str, env: Environment) -> Result<(), ApiError> {
    let refuse = |detail: String| {
        let mut p = Problems::default();
        p.invalid(URL_POINTER, detail);
        ApiError::Validation(p)
    };
    let target = guard::parse_url(url, env).map_err(|e| refuse(e.to_string()))?;
    guard::resolve(&target, env)
        .await
        .map(|_| ())
        .map_err(|e| refuse(e.to_string()))
}

/// A replay's range and types, from `{"meta": {"from", "to", "types"?}}`.
pub struct Replay {
    /// Range start.
    pub from: Timestamp,
    /// Range end.
    pub to: Timestamp,
    /// Only these types (empty: everything the endpoint hears).
    pub types: Vec<String>,
}

/// Reads `POST /webhook-endpoints/{id}/replay`.
pub fn replay(body: Option<Value>) -> Result<Replay, Problems> {
    let mut p = Problems::default();
    let Some(body) = body else {
        p.push(
            ProblemKind::Missing,
            "/meta",
            "is required: {\"meta\": {\"from\", \"to\"}}",
        );
        return Err(p);
    };
    let meta = action_meta(Some(&body), "webhook_endpoint", &mut p);
    meta.only(&["from", "to", "types"], &mut p);
    let stamp = |key: &str, p: &mut Problems| -> Option<Timestamp> {
        match meta.get(key) {
            None => {
                p.push(ProblemKind::Missing, &meta.pointer(key), "is required");
                None
            }
            Some(v) => {
                let t = v.as_str().and_then(Timestamp::parse);
                if t.is_none() {
                    p.invalid(
                        &meta.pointer(key),
                        "must be an RFC 3339 timestamp such as 2025-01-15T10:30:00Z",
                    );
                }
                t
            }
        }
    };
    let from = stamp("from", &mut p);
    let to = stamp("to", &mut p);
    let mut types = Vec::new();
    if let Some(v) = meta.get("types") {
        match v.as_array() {
            Some(items) if items.len() <= EVENTS_MAX => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str().filter(|s| TypeFilter::parse(s).is_some()) {
                        Some(s) => types.push(s.to_owned()),
                        None => p.invalid(
                            &format!("{}/{i}", meta.pointer("types")),
                            "must be an event type or a group such as `session.*`",
                        ),
                    }
                }
            }
            _ => p.invalid(&meta.pointer("types"), "must be an array of event types"),
        }
    }
    match (from, to) {
        (Some(from), Some(to)) if p.is_empty() => {
            if from > to {
                p.invalid(&meta.pointer("to"), "must not be before `from`");
            } else if to.datetime() - from.datetime() > REPLAY_MAX {
                p.invalid(&meta.pointer("to"), "the range may span at most 30 days");
            }
            p.into_result(Replay { from, to, types })
        }
        _ => Err(p),
    }
}

/// The filters of an endpoint's deliveries.
pub fn delivery_filter(params: &ListParams) -> Result<DeliveriesFilter, ApiError> {
    let mut f = DeliveriesFilter::default();
    if let Some((name, v)) = params.filter(&["filter[event_id]"]) {
        f.event_id = Some(
            EventId::parse(v)
                .map_err(|_| ApiError::parameter(name, "must be an event id (evt_…)"))?,
        );
    }
    f.statuses = params.filter_list(
        &["filter[status]"],
        "delivery statuses (succeeded, failed, pending)",
        DeliveryStatus::parse,
    )?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn creates_need_a_url_and_events_and_refuse_the_rest() {
        let ok = json!({"data": {"type": "webhook_endpoint", "attributes": {
            "url": "https://hooks.example.com/idv", "enabled_events": ["session.*", "session.*", "*"],
            "description": "prod"}}});
        let e = new_endpoint(&ok, Environment::Production).expect("valid");
        assert_eq!(e.enabled_events, vec!["session.*", "*"]);
        assert_eq!(e.status, EndpointStatus::Enabled);
        for (bad, pointer) in [
            (
                json!({"data": {"type": "webhook_endpoint", "attributes": {"enabled_events": ["*"]}}}),
                "/data/attributes/url",
            ),
            (
                json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://a.example/"}}}),
                "/data/attributes/enabled_events",
            ),
            (
                json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://a.example/", "enabled_events": []}}}),
                "/data/attributes/enabled_events",
            ),
            (
                json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://a.example/", "enabled_events": ["session.nope"]}}}),
                "/data/attributes/enabled_events/0",
            ),
            (
                json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "http://a.example/", "enabled_events": ["*"]}}}),
                "/data/attributes/url",
            ),
            (
                json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://10.0.0.1/", "enabled_events": ["*"]}}}),
                "/data/attributes/url",
            ),
            (
                json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://a.example/", "enabled_events": ["*"], "secret": "whsec_x"}}}),
                "/data/attributes/secret",
            ),
            (
                json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://a.example/", "enabled_events": ["*"], "colour": 1}}}),
                "/data/attributes/colour",
            ),
            (
                json!({"data": {"type": "session", "attributes": {"url": "https://a.example/", "enabled_events": ["*"]}}}),
                "/data/type",
            ),
        ] {
            let p = new_endpoint(&bad, Environment::Production).expect_err("invalid");
            assert!(p.0.iter().any(|x| x.pointer == pointer), "{bad} → {p:?}");
        }
    }

    #[test]
    fn replays_take_a_bounded_range() {
        let r = replay(Some(json!({"meta": {"from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z", "types": ["session.*"]}})))
            .expect("valid");
        assert_eq!(r.types, vec!["session.*"]);
        for bad in [
            None,
            Some(json!({"meta": {"from": "2025-01-01T00:00:00Z"}})),
            Some(json!({"meta": {"from": "2025-01-03T00:00:00Z", "to": "2025-01-02T00:00:00Z"}})),
            Some(json!({"meta": {"from": "2025-01-01T00:00:00Z", "to": "2025-03-01T00:00:00Z"}})),
            Some(json!({"meta": {"from": "yesterday", "to": "2025-01-02T00:00:00Z"}})),
            Some(
                json!({"meta": {"from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z", "types": ["nope"]}}),
            ),
            Some(
                json!({"meta": {"from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z", "limit": 3}}),
            ),
        ] {
            assert!(replay(bad.clone()).is_err(), "{bad:?}");
        }
    }
}
