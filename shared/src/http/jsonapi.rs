//! JSON:API documents: reading a request's `data` and writing responses.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};

use crate::domain::validation::{ObjectReader, ProblemKind, Problems};

/// A response with a JSON body and `Content-Type: application/json`.
pub fn respond(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// 200 with `{"data": resource}`.
pub fn ok(resource: Value) -> Response {
    respond(StatusCode::OK, &json!({ "data": resource }))
}

/// 201 with `{"data": resource}` and a `Location` header.
pub fn created(resource: Value, location: &str) -> Response {
    let mut r = respond(StatusCode::CREATED, &json!({ "data": resource }));
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A resource object.
pub fn resource(kind: &str, id: &str, attributes: Value, relationships: Option<Value>) -> Value {
    let mut r = json!({"type": kind, "id": id, "attributes": attributes});
    if let Some(rel) = relationships {
        r["relationships"] = rel;
    }
    r
}

/// A to-one relationship (`{"data": null}` when unset).
pub fn to_one(kind: &str, id: Option<String>) -> Value {
    match id {
        Some(id) => json!({"data": {"type": kind, "id": id}}),
        None => json!({"data": null}),
    }
}

/// A to-many relationship.
pub fn to_many(kind: &str, ids: impl IntoIterator<Item = String>) -> Value {
    let data: Vec<Value> = ids
        .into_iter()
        .map(|id| json!({"type": kind, "id": id}))
        .collect();
    json!({ "data": data })
}

/// The parts of a request document.
pub struct RequestDoc<'a> {
    /// `data.attributes` (an empty object when absent).
    pub attributes: &'a Value,
    /// `data.relationships`, when present.
    pub relationships: Option<&'a Map<String, Value>>,
    /// Top-level `meta`, when present.
    pub meta: Option<&'a Map<String, Value>>,
}

static EMPTY: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| json!({}));

impl<'a> RequestDoc<'a> {
    /// Reads `{"data": {"type": kind, "id"?, "attributes", "relationships"}, "meta"?}`.
    /// `path_id` is the id of the resource in the path (PATCH), whose `data.id` must match;
    /// without one, `data.id` is refused (ids are minted by the service).
    pub fn read(
        body: &'a Value,
        kind: &str,
        path_id: Option<&str>,
        p: &mut Problems,
    ) -> Option<RequestDoc<'a>> {
        let mut top = ObjectReader::new(body, "", p)?;
        let meta = top.get("meta").and_then(|m| {
            let obj = m.as_object();
            if obj.is_none() {
                p.invalid("/meta", "must be an object");
            }
            obj
        });
        let _ = top.get("jsonapi");
        let data = top.get("data");
        top.finish(p);
        let Some(data) = data else {
            p.push(ProblemKind::Missing, "/data", "is required");
            return None;
        };
        let mut d = ObjectReader::new(data, "/data", p)?;
        match d.get("type").map(|t| t.as_str()) {
            None => p.push(
                ProblemKind::Missing,
                "/data/type",
                format!("is required and must be `{kind}`"),
            ),
            Some(Some(t)) if t == kind => {}
            Some(_) => p.invalid("/data/type", format!("must be `{kind}`")),
        }
        match (d.get("id"), path_id) {
            (None, _) => {}
            (Some(Value::String(id)), Some(expected)) if id == expected => {}
            (Some(_), Some(_)) => p.invalid("/data/id", "must equal the id in the path"),
            (Some(_), None) => p.invalid("/data/id", "is assigned by the service; leave it out"),
        }
        let attributes = match d.get("attributes") {
            Some(a) if a.is_object() => a,
            Some(_) => {
                p.invalid("/data/attributes", "must be an object");
                &EMPTY
            }
            None => &EMPTY,
        };
        let relationships = d.get("relationships").and_then(|r| {
            let obj = r.as_object();
            if obj.is_none() {
                p.invalid("/data/relationships", "must be an object");
            }
            obj
        });
        d.finish(p);
        Some(RequestDoc {
            attributes,
            relationships,
            meta,
        })
    }

    /// Reads a to-one relationship `{"data": {"type": kind, "id": …}}` (or `{"data":
    /// null}`), returning the id text. Problems are `invalid_relationship` with the pointer
    /// of the offending part.
    pub fn to_one(&self, name: &'static str, kind: &str, p: &mut Problems) -> Option<String> {
        let rel = self.relationships?.get(name)?;
        let base = format!("/data/relationships/{name}");
        let Some(obj) = rel.as_object() else {
            p.push(
                ProblemKind::Relationship,
                &base,
                "must be an object with `data`",
            );
            return None;
        };
        let data = match obj.get("data") {
            None => {
                p.push(
                    ProblemKind::Relationship,
                    &format!("{base}/data"),
                    "is required",
                );
                return None;
            }
            Some(Value::Null) => return None,
            Some(d) => d,
        };
        let Some(data) = data.as_object() else {
            p.push(
                ProblemKind::Relationship,
                &format!("{base}/data"),
                "must be a resource identifier",
            );
            return None;
        };
        if data.get("type").and_then(Value::as_str) != Some(kind) {
            p.push(
                ProblemKind::Relationship,
                &format!("{base}/data/type"),
                format!("must be `{kind}`"),
            );
            return None;
        }
        match data.get("id").and_then(Value::as_str) {
            Some(id) => Some(id.to_owned()),
            None => {
                p.push(
                    ProblemKind::Relationship,
                    &format!("{base}/data/id"),
                    "must be a string id",
                );
                None
            }
        }
    }

    /// Reports relationships other than `known`.
    pub fn only_relationships(&self, known: &[&str], p: &mut Problems) {
        if let Some(rels) = self.relationships {
            let mut names: Vec<&String> = rels
                .keys()
                .filter(|k| !known.contains(&k.as_str()))
                .collect();
            names.sort();
            for k in names {
                p.push(
                    ProblemKind::Unknown,
                    &format!("/data/relationships/{k}"),
                    "is not a relationship of this resource",
                );
            }
        }
    }
}
