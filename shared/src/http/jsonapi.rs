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
    /// The request's `meta`: the top level's and `data.meta` together.
    pub meta: Meta,
}

/// A request's `meta` (API.md §1 "Meta"): members may sit at the document's top level or in
/// `data.meta` (a resource object's meta, as the seed's verification body writes it). Both
/// mean the same; the same member in both with different values is refused. Each member
/// remembers where it was sent, so a problem with it points there.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Meta {
    members: std::collections::BTreeMap<String, (Value, String)>,
}

/// `key` escaped as one JSON-pointer token (RFC 6901).
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Meta {
    /// Merges the top-level `meta` and `data.meta` (either may be absent). A `meta` that is
    /// not an object, or a member sent twice with different values, is a problem in `p`.
    pub fn read(top: Option<&Value>, in_data: Option<&Value>, p: &mut Problems) -> Meta {
        let mut meta = Meta::default();
        for (base, value) in [("/meta", top), ("/data/meta", in_data)] {
            let Some(value) = value else { continue };
            let Some(obj) = value.as_object() else {
                p.invalid(base, "must be an object");
                continue;
            };
            for (k, v) in obj {
                let pointer = format!("{base}/{}", pointer_token(k));
                match meta.members.get(k) {
                    Some((earlier, _)) if earlier == v => {}
                    Some((_, at)) => p.invalid(
                        &pointer,
                        format!("differs from {at}; send it once, or the same value in both"),
                    ),
                    None => {
                        meta.members.insert(k.clone(), (v.clone(), pointer));
                    }
                }
            }
        }
        meta
    }

    /// The member `key`, wherever it was sent.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.members.get(key).map(|(v, _)| v)
    }

    /// Where `key` was sent (`/meta/<key>` if it was not).
    pub fn pointer(&self, key: &str) -> String {
        self.members.get(key).map_or_else(
            || format!("/meta/{}", pointer_token(key)),
            |(_, at)| at.clone(),
        )
    }

    /// True if no member was sent.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Reports every member not in `known` as `unknown_attribute` at the pointer it was
    /// sent at.
    pub fn only(&self, known: &[&str], p: &mut Problems) {
        for (k, (_, at)) in &self.members {
            if !known.contains(&k.as_str()) {
                p.push(
                    ProblemKind::Unknown,
                    at,
                    "is not a meta member of this request",
                );
            }
        }
    }
}

/// Reads the body of an action that takes `meta` only (a decision's comment, a replay's
/// range, a client token's lifetime): `{"meta": {…}}`, or the same keys in `data.meta`
/// (API.md §1), where `data.type`, if sent, must be `resource_type` and `data.id` is
/// ignored. No body reads as an empty meta. The caller then names the keys it knows with
/// [`Meta::only`].
pub fn action_meta(body: Option<&Value>, resource_type: &str, p: &mut Problems) -> Meta {
    let Some(mut top) = body.and_then(|b| ObjectReader::new(b, "", p)) else {
        return Meta::read(None, None, p);
    };
    let top_meta = top.get("meta");
    let data = top.get("data");
    top.finish(p);
    let mut data_meta = None;
    if let Some(mut d) = data.and_then(|d| ObjectReader::new(d, "/data", p)) {
        match d.get("type") {
            Some(Value::String(t)) if t == resource_type => {}
            None => {}
            Some(_) => p.invalid("/data/type", format!("must be `{resource_type}`")),
        }
        let _ = d.get("id");
        data_meta = d.get("meta");
        d.finish(p);
    }
    Meta::read(top_meta, data_meta, p)
}

/// Checks the body of an action that takes no members: nothing, `{}` or `{"meta": {}}`
/// (API.md §1 lets any action carry a meta-only body); anything else is named as unknown.
pub fn empty_action(body: &Value) -> Result<(), Problems> {
    let mut p = Problems::default();
    if let Some(mut top) = ObjectReader::new(body, "", &mut p) {
        let meta = Meta::read(top.get("meta"), None, &mut p);
        top.finish(&mut p);
        meta.only(&[], &mut p);
    }
    p.into_result(())
}

static EMPTY: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| json!({}));

impl<'a> RequestDoc<'a> {
    /// Reads `{"data": {"type": kind, "id"?, "attributes", "relationships", "meta"?},
    /// "meta"?}` (see [`Meta`] for the two places of `meta`).
    /// `path_id` is the id of the resource in the path (PATCH), whose `data.id` must match;
    /// without one, `data.id` is refused (ids are minted by the service).
    pub fn read(
        body: &'a Value,
        kind: &str,
        path_id: Option<&str>,
        p: &mut Problems,
    ) -> Option<RequestDoc<'a>> {
        let mut top = ObjectReader::new(body, "", p)?;
        let top_meta = top.get("meta");
        let _ = top.get("jsonapi");
        let data = top.get("data");
        top.finish(p);
        let Some(data) = data else {
            p.push(ProblemKind::Missing, "/data", "is required");
            return None;
        };
        let mut d = ObjectReader::new(data, "/data", p)?;
        let meta = Meta::read(top_meta, d.get("meta"), p);
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

#[cfg(test)]
mod meta_tests {
    use super::*;

    fn read(body: Value) -> (Option<Meta>, Vec<String>) {
        let mut p = Problems::default();
        let doc = RequestDoc::read(&body, "thing", None, &mut p).map(|d| d.meta);
        (doc, p.0.iter().map(|x| x.pointer.clone()).collect())
    }

    #[test]
    fn meta_may_sit_at_the_top_or_in_data_and_must_agree() {
        let (m, problems) = read(json!({"data": {"type": "thing", "meta": {"a": true}}}));
        let m = m.expect("read");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(m.get("a"), Some(&json!(true)));
        assert_eq!(m.pointer("a"), "/data/meta/a");
        let (m, problems) = read(json!({"data": {"type": "thing"}, "meta": {"a/b": 1}}));
        assert!(problems.is_empty());
        assert_eq!(m.expect("read").pointer("a/b"), "/meta/a~1b");
        let (_, problems) = read(json!({"data": {"type": "thing", "meta": {"a": 1, "b": 2}},
                                        "meta": {"a": 1, "b": 3}}));
        assert_eq!(problems, vec!["/data/meta/b".to_owned()]);
        let (_, problems) = read(json!({"data": {"type": "thing", "meta": []}}));
        assert_eq!(problems, vec!["/data/meta".to_owned()]);
    }
}
