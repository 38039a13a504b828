//! Problems found in a request document, each with the JSON pointer that locates it, and the
//! small readers that walk a `serde_json::Value` while collecting them.
//!
//! Request bodies are checked by walking the parsed JSON rather than by `serde` derive so
//! that every problem is reported at once, each with an exact pointer, and an unknown key is
//! an error instead of being silently dropped. The HTTP layer turns [`Problems`] into
//! JSON:API error objects (`http::error`).

use serde_json::{Map, Value};
use time::Date;

use super::values::{parse_date, Timestamp};

/// What kind of problem, mapped one to one onto the contract's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// `invalid_attribute`: present but not acceptable.
    Invalid,
    /// `missing_attribute`: required and absent (or null).
    Missing,
    /// `unknown_attribute`: a key the resource does not have.
    Unknown,
    /// `invalid_relationship`: a relationship that is malformed or names nothing we know.
    Relationship,
}

impl ProblemKind {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ProblemKind::Invalid => "invalid_attribute",
            ProblemKind::Missing => "missing_attribute",
            ProblemKind::Unknown => "unknown_attribute",
            ProblemKind::Relationship => "invalid_relationship",
        }
    }
}

/// One problem with a request document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Its kind.
    pub kind: ProblemKind,
    /// RFC 6901 pointer into the request document, e.g. `/data/attributes/person/birth_date`.
    pub pointer: String,
    /// A sentence for humans. Never echoes the submitted value: it may be personal data.
    pub detail: String,
}

/// The problems found so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Records one problem.
    pub fn push(&mut self, kind: ProblemKind, pointer: &str, detail: impl Into<String>) {
        self.0.push(Problem {
            kind,
            pointer: pointer.to_owned(),
            detail: detail.into(),
        });
    }

    /// Shorthand for an [`ProblemKind::Invalid`] problem.
    pub fn invalid(&mut self, pointer: &str, detail: impl Into<String>) {
        self.push(ProblemKind::Invalid, pointer, detail);
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` if no problem was recorded.
    pub fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// Joins a pointer and a key (escaping `~` and `/` as RFC 6901 asks).
pub fn child(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// A JSON object being read: remembers which keys were asked for so that the rest can be
/// reported as unknown.
pub struct ObjectReader<'a> {
    map: &'a Map<String, Value>,
    pointer: String,
    known: Vec<&'static str>,
}

impl<'a> ObjectReader<'a> {
    /// Reads `value` as an object; records a problem and returns `None` otherwise.
    pub fn new(value: &'a Value, pointer: &str, problems: &mut Problems) -> Option<Self> {
        match value.as_object() {
            Some(map) => Some(Self {
                map,
                pointer: pointer.to_owned(),
                known: Vec::new(),
            }),
            None => {
                problems.invalid(pointer, "must be an object");
                None
            }
        }
    }

    /// The pointer of this object.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The pointer of one of its keys.
    pub fn pointer_of(&self, key: &str) -> String {
        child(&self.pointer, key)
    }

    /// The value under `key`, treating JSON `null` like an absent key.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// True if `key` is present, even as null.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A string of 1..=`max` characters without control characters, surrounding white space
    /// trimmed.
    pub fn text(&mut self, key: &'static str, max: usize, p: &mut Problems) -> Option<String> {
        let ptr = self.pointer_of(key);
        self.get(key).and_then(|v| text(v, &ptr, max, p))
    }

    /// A calendar date `YYYY-MM-DD` that exists.
    pub fn date(&mut self, key: &'static str, p: &mut Problems) -> Option<Date> {
        let ptr = self.pointer_of(key);
        let v = self.get(key)?;
        match v.as_str().and_then(parse_date) {
            Some(d) => Some(d),
            None => {
                p.invalid(&ptr, "must be a date that exists, written YYYY-MM-DD");
                None
            }
        }
    }

    /// An RFC 3339 timestamp.
    pub fn timestamp(&mut self, key: &'static str, p: &mut Problems) -> Option<Timestamp> {
        let ptr = self.pointer_of(key);
        let v = self.get(key)?;
        match v.as_str().and_then(Timestamp::parse) {
            Some(t) => Some(t),
            None => {
                p.invalid(
                    &ptr,
                    "must be an RFC 3339 timestamp such as 2025-01-15T10:30:00Z",
                );
                None
            }
        }
    }

    /// A string parsed by `parse`; `what` names the expected form in the error.
    pub fn parsed<T>(
        &mut self,
        key: &'static str,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
        p: &mut Problems,
    ) -> Option<T> {
        let ptr = self.pointer_of(key);
        let v = self.get(key)?;
        match v.as_str().and_then(parse) {
            Some(t) => Some(t),
            None => {
                p.invalid(&ptr, format!("must be {what}"));
                None
            }
        }
    }

    /// Reports every key that was not asked for.
    pub fn finish(self, p: &mut Problems) {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.known.iter().any(|known| known == k))
            .collect();
        unknown.sort();
        for key in unknown {
            p.push(
                ProblemKind::Unknown,
                &child(&self.pointer, key),
                format!("`{key}` is not an attribute of this object"),
            );
        }
    }
}

/// Reads a bounded, trimmed, non-empty string without control characters.
pub fn text(v: &Value, pointer: &str, max: usize, p: &mut Problems) -> Option<String> {
    let Some(s) = v.as_str() else {
        p.invalid(pointer, "must be a string");
        return None;
    };
    let s = s.trim();
    if s.is_empty() {
        p.invalid(pointer, "must not be empty; send null to clear it");
        None
    } else if s.chars().count() > max {
        p.invalid(pointer, format!("must be at most {max} characters"));
        None
    } else if s.chars().any(char::is_control) {
        p.invalid(pointer, "must not contain control characters");
        None
    } else {
        Some(s.to_owned())
    }
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes, anything else
/// replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(patch_map) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(target_map) = target {
                for (k, v) in patch_map {
                    if v.is_null() {
                        target_map.remove(k);
                    } else {
                        merge_patch(target_map.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386_examples() {
        // The examples of RFC 7386 appendix A.
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (mut target, patch, expected) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expected);
        }
    }

    #[test]
    fn reader_reports_unknown_keys_with_pointers() {
        let v = json!({"first": "Jane", "frist": "x", "a/b": 1});
        let mut p = Problems::default();
        let mut r = ObjectReader::new(&v, "/data/attributes/person/name", &mut p).expect("object");
        assert_eq!(r.text("first", 100, &mut p).as_deref(), Some("Jane"));
        r.finish(&mut p);
        let pointers: Vec<_> = p.0.iter().map(|x| (x.kind, x.pointer.as_str())).collect();
        assert_eq!(
            pointers,
            [
                (ProblemKind::Unknown, "/data/attributes/person/name/a~1b"),
                (ProblemKind::Unknown, "/data/attributes/person/name/frist"),
            ]
        );
    }

    #[test]
    fn text_rules() {
        let mut p = Problems::default();
        assert_eq!(
            text(&json!("  Jane "), "/x", 10, &mut p).as_deref(),
            Some("Jane")
        );
        assert!(text(&json!(""), "/x", 10, &mut p).is_none());
        assert!(text(&json!(12), "/x", 10, &mut p).is_none());
        assert!(text(&json!("abcdefghijk"), "/x", 10, &mut p).is_none());
        assert!(text(&json!("a\u{0}b"), "/x", 10, &mut p).is_none());
        assert_eq!(p.0.len(), 4);
    }
}
