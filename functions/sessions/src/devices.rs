//! `/v1/identity/session-devices`: the applicant's device registers itself for a session.
//! Registering starts a `created` session, becomes the session's `session_device` (a newer
//! registration replaces and deletes the older device), and copies `behavior_analysis` onto
//! the session, all in one transaction.

use axum::extract::State;
use axum::response::Response;
use idv::domain::auth::Permission;
use idv::domain::device::{read_behavior_analysis, Device};
use idv::domain::event::Actor;
use idv::domain::ids::{DeviceId, SessionId};
use idv::domain::validation::{ObjectReader, ProblemKind, Problems};
use idv::domain::values::Timestamp;
use idv::http::extract::{Auth, Body, ClientIp, PathId};
use idv::http::jsonapi::{created, ok, RequestDoc};
use idv::http::middleware::BasePath;
use idv::http::{render, ApiError, AppState};
use idv::store::devices::{delete_device, put_device};
use idv::workflow::{self, WorkflowError};
use serde_json::Value;

/// A valid registration.
struct Registration {
    session: SessionId,
    user_agent: Option<String>,
    platform: Option<String>,
    locale: Option<String>,
    ip_address: Option<String>,
    sdk_version: Option<String>,
    behavior_analysis: Option<Value>,
}

fn read(body: &Value) -> Result<Registration, Problems> {
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

/// `POST /session-devices`.
pub async fn register(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    ClientIp(client_ip): ClientIp,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsWrite)?;
    let input = read(&body.json()?)?;
    let tenancy = &principal.tenancy;
    let now = Timestamp::now();
    let device = Device {
        id: DeviceId::new(now.datetime()),
        session_id: input.session,
        user_agent: input.user_agent,
        platform: input.platform,
        locale: input.locale,
        ip_address: input.ip_address.or(client_ip),
        sdk_version: input.sdk_version,
        behavior_analysis: input.behavior_analysis,
        created_at: now,
        redacted_at: None,
    };
    let actor = Actor::api_key(principal.key_id.to_string());
    let result = workflow::modify_session(&st.store, tenancy, input.session, now, |current| {
        let mut change = workflow::attach_change(
            current,
            "register_device",
            "session_device",
            &actor,
            now,
            st.config.session_lifetime,
            |s| {
                s.session_device_id = Some(device.id);
                s.behavior_analysis = device.behavior_analysis.clone();
            },
        )?;
        change.extra.push(put_device(&st.store, tenancy, &device)?);
        if let Some(old) = current.session_device_id {
            change.extra.push(delete_device(&st.store, tenancy, old)?);
        }
        Ok(Some(change))
    })
    .await;
    match result {
        Ok(_) => {}
        Err(WorkflowError::NotFound) => {
            return Err(ApiError::invalid(
                ProblemKind::Relationship,
                "/data/relationships/session/data/id",
                "no such session",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let location = format!("{}/v1/identity/session-devices/{}", base.0, device.id);
    Ok(created(render::device(&device), &location))
}

/// `GET /session-devices/{id}`.
pub async fn show(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<DeviceId>,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsRead)?;
    let device = st
        .store
        .get_device(&principal.tenancy, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ok(render::device(&device)))
}
