//! Handlers of the sessions endpoints: extract → decide → write → render.
//!
//! DynamoDB round trips (besides the cached key lookup): create 1, get 1 (2 when an
//! overdue session is expired on the way), list 1 per partition read, patch and each action
//! 2 (read, conditional write), events 1, redact 3 (read, write, comment sweep).

use axum::extract::State;
use axum::response::Response;
use idv::domain::auth::Permission;
use idv::domain::ids::{AccountId, DeviceId, SessionId};
use idv::domain::session::{Action, Creator, EntityType, Session, SessionStatus};
use idv::domain::values::{Environment, Timestamp};
use idv::http::extract::{Auth, Body, PathId, RawQuery};
use idv::http::jsonapi::{created, ok, respond};
use idv::http::middleware::{BasePath, ClientSession};
use idv::http::pagination::{collection, Cursors, ListParams};
use idv::http::{render, ApiError, AppState};
use idv::workflow;
use idv::workflow::client_tokens;
use idv::workflow::sessions::{self, SessionFilter};
use serde_json::json;

use crate::input;

/// The filters `GET /sessions` accepts.
const LIST_FILTERS: [&str; 7] = [
    "filter[account_id]",
    "filter[account]",
    "filter[status]",
    "filter[entity_type]",
    "filter[session_device]",
    "filter[created_at_from]",
    "filter[created_at_to]",
];

/// `POST /sessions`.
pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsWrite)?;
    let now = Timestamp::now();
    let input = input::new_session(body.json()?, now)?;
    let session = Session::new(
        SessionId::new(now.datetime()),
        Creator {
            kind: "api".into(),
            id: Some(principal.key_id.to_string()),
        },
        input.entity_type,
        input.account,
        input.data,
        input.expires_at,
        now,
    );
    let actor = principal.actor();
    sessions::create(&st.store, &principal.tenancy, &session, actor).await?;
    let location = format!("{}/v1/identity/sessions/{}", base.0, session.id);
    Ok(created(render::session(&session), &location))
}

/// `GET /sessions/{id}`; a client token reads its own session (the one the auth layer just
/// read for it: no second round trip), as the applicant sees it.
pub async fn show(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SessionId>,
    client_session: Option<axum::Extension<ClientSession>>,
) -> Result<Response, ApiError> {
    let principal = auth.require_allowing_client(Permission::SessionsRead)?;
    if !principal.reaches(Some(id)) {
        return Err(ApiError::NotFound);
    }
    if let Some(axum::Extension(ClientSession(session))) = client_session {
        return Ok(ok(render::session_for_applicant(&session)));
    }
    let session = workflow::load_session(&st.store, &principal.tenancy, id, Timestamp::now())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ok(render::session(&session)))
}

fn parse_filter(params: &ListParams) -> Result<SessionFilter, ApiError> {
    let mut f = SessionFilter::default();
    if let Some((name, v)) = params.filter(&["filter[account_id]", "filter[account]"]) {
        f.account_id = Some(
            AccountId::parse(v)
                .map_err(|_| ApiError::parameter(name, "must be an account id (acc_…)"))?,
        );
    }
    f.statuses = params.filter_list(
        &["filter[status]"],
        "session statuses",
        SessionStatus::parse,
    )?;
    if let Some((name, v)) = params.filter(&["filter[entity_type]"]) {
        f.entity_type = Some(
            EntityType::parse(v)
                .ok_or_else(|| ApiError::parameter(name, "must be person or business"))?,
        );
    }
    (f.created_from, f.created_to) = params.created_range()?;
    Ok(f)
}

/// `GET /sessions`.
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsRead)?;
    let params = ListParams::parse(query.as_deref(), &LIST_FILTERS)?;
    let filter = parse_filter(&params)?;
    let cursors = Cursors::new(
        &st.config.cursor_secret,
        &principal.tenancy,
        "sessions",
        &params,
    );
    let page = cursors.page_request(&params)?;
    let device = match params.filter(&["filter[session_device]"]) {
        Some((name, v)) => Some(
            DeviceId::parse(v)
                .map_err(|_| ApiError::parameter(name, "must be a session device id (dev_…)"))?,
        ),
        None => None,
    };
    let tenancy = &principal.tenancy;
    let page = sessions::list(&st.store, tenancy, &filter, device, &page, Timestamp::now()).await?;
    let data = page.items.iter().map(|(_, s)| render::session(s)).collect();
    let doc = collection(
        &base,
        "/v1/identity/sessions",
        &params,
        &cursors,
        &page,
        data,
    );
    Ok(respond(http::StatusCode::OK, &doc))
}

/// `PATCH /sessions/{id}`: a JSON merge patch over the applicant attributes and
/// `expires_at`.
pub async fn update(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SessionId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require_allowing_client(Permission::SessionsWrite)?;
    if !principal.reaches(Some(id)) {
        return Err(ApiError::NotFound);
    }
    let body = body.json()?;
    // The applicant changes their own data only: person, contact, address.
    if let Some(pointer) = principal
        .is_client()
        .then(|| input::attribute_beyond_applicant(&body))
        .flatten()
    {
        return Err(ApiError::ClientTokenRefused {
            scope: Permission::SessionsWrite,
            pointer: Some(pointer),
        });
    }
    let patch = input::session_patch(body, &id.to_string())?;
    let now = Timestamp::now();
    let actor = principal.actor();
    let tenancy = &principal.tenancy;
    let applicant = principal.is_client();
    let session = sessions::update(
        &st.store,
        tenancy,
        id,
        &actor,
        now,
        applicant,
        |current, now| patch.apply(current, now),
    )
    .await?;
    Ok(ok(if applicant {
        render::session_for_applicant(&session)
    } else {
        render::session(&session)
    }))
}

/// `POST /sessions/{id}/client-token`: a token for the applicant's side of this session
/// and the hosted page's link (API.md §9). The secret is shown in this answer only.
pub async fn issue_client_token(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    headers: http::HeaderMap,
    PathId(id): PathId<SessionId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsWrite)?;
    let request = input::client_token_request(body.optional_json()?)?;
    let issued = client_tokens::issue(
        &st.store,
        &principal,
        id,
        request.ttl_seconds,
        request.steps,
        Timestamp::now(),
    )
    .await?;
    let capture_url = format!(
        "{}{}/v1/identity/capture#token={}",
        public_origin(&headers),
        base.0,
        issued.secret
    );
    let doc = json!({
        "data": render::client_token(&issued.token, Some(&issued.secret), Some(&capture_url)),
        "meta": {"ttl_seconds": request.ttl_seconds},
    });
    Ok(respond(http::StatusCode::CREATED, &doc))
}

/// `GET /client-token`: what the presented client token is for (its session, steps and
/// expiry), so the capture page, which holds only the token, finds its session. An API key
/// has no token to describe (404).
pub async fn current_client_token(auth: Auth) -> Result<Response, ApiError> {
    let principal = auth.require_allowing_client(Permission::SessionsRead)?;
    // A key presents no token: there is nothing here for it.
    let token = principal.client.ok_or(ApiError::NotFound)?;
    Ok(ok(render::client_token(&token, None, None)))
}

/// The scheme and host the caller reached us at: API Gateway says `X-Forwarded-Proto:
/// https`; a local server is plain http.
fn public_origin(headers: &http::HeaderMap) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host = header("host").unwrap_or("localhost");
    let scheme = match header("x-forwarded-proto") {
        Some("http") => "http",
        Some(_) => "https",
        None if is_loopback_host(host) => "http",
        None => "https",
    };
    format!("{scheme}://{host}")
}

fn is_loopback_host(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    name == "localhost" || name.starts_with("127.") || name == "[::1]"
}

async fn act(
    st: &AppState,
    principal: &idv::domain::auth::Principal,
    id: SessionId,
    action: Action,
    body: Option<serde_json::Value>,
) -> Result<Response, ApiError> {
    let comment = input::decision_comment(body)?;
    let session = workflow::transition(
        &st.store,
        &principal.tenancy,
        id,
        action,
        &principal.actor(),
        comment.as_deref(),
        Timestamp::now(),
        st.config.session_lifetime,
    )
    .await?;
    Ok(ok(render::session(&session)))
}

/// `POST /sessions/{id}/approve`.
pub async fn approve(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SessionId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsDecide)?;
    act(&st, &principal, id, Action::Approve, body.optional_json()?).await
}

/// `POST /sessions/{id}/decline`.
pub async fn decline(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SessionId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsDecide)?;
    act(&st, &principal, id, Action::Decline, body.optional_json()?).await
}

/// `POST /sessions/{id}/mark-for-review`.
pub async fn mark_for_review(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SessionId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsDecide)?;
    act(
        &st,
        &principal,
        id,
        Action::MarkForReview,
        body.optional_json()?,
    )
    .await
}

/// `POST /sessions/{id}/expire`.
pub async fn expire(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SessionId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsWrite)?;
    act(&st, &principal, id, Action::Expire, body.optional_json()?).await
}

/// `POST /sessions/{id}/redact`.
pub async fn redact(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SessionId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsRedact)?;
    if let Some(v) = body.optional_json()? {
        idv::http::jsonapi::empty_action(&v)?;
    }
    let session = workflow::redact_session(
        &st.store,
        &st.objects,
        &principal.tenancy,
        id,
        &principal.actor(),
        Timestamp::now(),
    )
    .await?;
    Ok(ok(render::session(&session)))
}

/// `POST /sessions/{id}/simulate` (staging keys only).
pub async fn simulate(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<SessionId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsWrite)?;
    if principal.tenancy.environment != Environment::Staging {
        return Err(ApiError::SandboxOnly);
    }
    let action = input::simulate_action(body.json()?).map_err(ApiError::Validation)?;
    act(&st, &principal, id, action, None).await
}

/// `GET /sessions/{id}/events`, oldest first.
pub async fn events(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    PathId(id): PathId<SessionId>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::EventsRead)?;
    let params = ListParams::parse(query.as_deref(), &[])?;
    let list = format!("events:{id}");
    let cursors = Cursors::new(&st.config.cursor_secret, &principal.tenancy, &list, &params);
    let page_req = cursors.page_request(&params)?;
    let page = sessions::events(&st.store, &principal.tenancy, id, &page_req)
        .await?
        .ok_or(ApiError::NotFound)?;
    let data = page.items.iter().map(|(_, e)| render::event(e)).collect();
    let path = format!("/v1/identity/sessions/{id}/events");
    let doc = collection(&base, &path, &params, &cursors, &page, data);
    Ok(respond(http::StatusCode::OK, &doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_refuse_garbage() {
        let p = ListParams::parse(
            Some("filter[status]=created,approved&filter[entity_type]=person&filter[account]=acc_01HQ0000000000000000000000"),
            &LIST_FILTERS,
        )
        .expect("params");
        let f = parse_filter(&p).expect("filter");
        assert_eq!(
            f.statuses,
            vec![SessionStatus::Created, SessionStatus::Approved]
        );
        assert!(f.account_id.is_some());
        for bad in [
            "filter[status]=done",
            "filter[account_id]=sess_01HQ0000000000000000000000",
            "filter[created_at_from]=yesterday",
            "filter[entity_type]=robot",
            "filter[created_at_from]=2025-02-01T00:00:00Z&filter[created_at_to]=2025-01-01T00:00:00Z",
        ] {
            let p = ListParams::parse(Some(bad), &LIST_FILTERS).expect("params");
            assert!(parse_filter(&p).is_err(), "{bad}");
        }
    }
}
