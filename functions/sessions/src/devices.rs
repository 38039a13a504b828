//! `/v1/identity/session-devices`: the applicant's device registers itself for a session.
//! Registering starts a `created` session, becomes the session's `session_device` (a newer
//! registration replaces and deletes the older device), and copies `behavior_analysis` onto
//! the session, all in one transaction.

use axum::extract::State;
use axum::response::Response;
use idv::domain::auth::Permission;
use idv::domain::device::Device;
use idv::domain::ids::DeviceId;
use idv::domain::validation::ProblemKind;
use idv::domain::values::Timestamp;
use idv::http::extract::{Auth, Body, ClientIp, PathId};
use idv::http::jsonapi::{created, ok};
use idv::http::middleware::BasePath;
use idv::http::{render, ApiError, AppState};
use idv::workflow::devices;

use crate::input;

/// `POST /session-devices`.
pub async fn register(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    ClientIp(client_ip): ClientIp,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require_allowing_client(Permission::SessionsWrite)?;
    let input = input::devices::registration(&body.json()?)?;
    // A client token registers its own session's device only; another session reads as
    // unknown.
    if !principal.reaches(Some(input.session)) {
        return Err(ApiError::invalid(
            ProblemKind::Relationship,
            "/data/relationships/session/data/id",
            "no such session",
        ));
    }
    // The applicant's browser cannot say where it is: its address is the one it came from.
    let ip_address = if principal.is_client() {
        client_ip
    } else {
        input.ip_address.or(client_ip)
    };
    let tenancy = &principal.tenancy;
    let now = Timestamp::now();
    let device = Device {
        id: DeviceId::new(now.datetime()),
        session_id: input.session,
        user_agent: input.user_agent,
        platform: input.platform,
        locale: input.locale,
        ip_address,
        sdk_version: input.sdk_version,
        behavior_analysis: input.behavior_analysis,
        created_at: now,
        redacted_at: None,
    };
    let actor = principal.actor();
    let lifetime = st.config.session_lifetime;
    devices::register(&st.store, tenancy, &device, &actor, now, lifetime).await?;
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
