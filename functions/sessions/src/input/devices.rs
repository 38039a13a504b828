//! Request documents of the session-devices endpoint, turned into domain values.

use idv::domain::device::read_behavior_analysis;
use idv::domain::ids::SessionId;
use idv::domain::validation::{ObjectReader, ProblemKind, Problems};
use idv::http::jsonapi::RequestDoc;
use serde_json::Value;

/// A valid `POST /session-devices` request.
pub struct Registration {
    /// The session the device registers for.
    pub session: SessionId,
    /// `user_agent`, at most 1000 characters.
    pub user_agent: Option<String>,
    /// `platform`, at most 50 characters.
    pub platform: Option<String>,
    /// `locale`, at most 35 characters.
    pub locale: Option<String>,
    /// `ip_address`, normalized (the client's address when absent).
    pub ip_address: Option<String>,
    /// `sdk_version`, at most 50 characters.
    pub sdk_version: Option<String>,
    /// `behavior_analysis`, validated.
    pub behavior_analysis: Option<Value>,
}

/// Reads the request document of `POST /session-devices`.
pub fn registration(body: &Value) -> Result<Registration, Problems> {
    let mut p = Problems::default();
    let Some(doc) = RequestDoc::read(body, "session_device", None, &mut p) else {
        return Err(p);
    };
    let Some(mut a) = ObjectReader::new(doc.attributes, "/data/attributes", &mut p) else {
        return Err(p);
    };
    let user_agent = a.text("user_agent", 1000, &mut p);
    let platform = a.text("platform", 50, &mut p);
    let locale = a.text("locale", 35, &mut p);
    let ip_address = a.parsed(
        "ip_address",
        "an IPv4 or IPv6 address",
        |s| s.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string()),
        &mut p,
    );
    let sdk_version = a.text("sdk_version", 50, &mut p);
    let ba_ptr = a.pointer_of("behavior_analysis");
    let behavior_analysis = a
        .get("behavior_analysis")
        .and_then(|v| read_behavior_analysis(v, &ba_ptr, &mut p));
    a.finish(&mut p);
    doc.only_relationships(&["session"], &mut p);
    let session = match doc.to_one("session", "session", &mut p) {
        Some(id) => match SessionId::parse(&id) {
            Ok(s) => Some(s),
            Err(_) => {
                p.push(
                    ProblemKind::Relationship,
                    "/data/relationships/session/data/id",
                    "is not a session id",
                );
                None
            }
        },
        None => {
            if !doc.relationships.is_some_and(|r| r.contains_key("session")) {
                p.push(
                    ProblemKind::Missing,
                    "/data/relationships/session",
                    "is required",
                );
            }
            None
        }
    };
    match session {
        Some(session) if p.is_empty() => Ok(Registration {
            session,
            user_agent,
            platform,
            locale,
            ip_address,
            sdk_version,
            behavior_analysis,
        }),
        _ => Err(p),
    }
}
