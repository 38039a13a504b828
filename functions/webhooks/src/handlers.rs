//! Handlers of the webhook-endpoints API: extract → one `workflow::webhooks` call → render.
//!
//! DynamoDB round trips (besides the cached key lookup): create 1 transaction; get 1
//! GetItem; list 1 Query; patch 2 (read, conditional put); delete 2 (read, transaction);
//! rotate-secret 2; deliveries 2 in parallel (the endpoint, its attempts); replay 1 (plus
//! one SQS message; the pages run in the background).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use idv::domain::auth::Permission;
use idv::domain::ids::WebhookEndpointId;
use idv::domain::values::Timestamp;
use idv::http::extract::{Auth, Body, PathId, RawQuery};
use idv::http::jsonapi::{created, ok, respond};
use idv::http::middleware::BasePath;
use idv::http::pagination::{collection, Cursors, ListParams};
use idv::http::{ApiError, AppState};
use idv::webhooks::Webhooks;
use idv::workflow::webhooks as flow;
use serde_json::json;

use crate::{input, render};

/// `POST /webhook-endpoints`: the answer carries the secret, this once.
pub async fn create(
    State(st): State<AppState>,
    Extension(hooks): Extension<Arc<Webhooks>>,
    auth: Auth,
    Extension(base): Extension<BasePath>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::WebhooksWrite)?;
    let env = principal.tenancy.environment;
    let new = input::new_endpoint(&body.json()?, env)?;
    input::vet(&new.url, env).await?;
    let now = Timestamp::now();
    let (endpoint, secret) = flow::create(&st.store, &hooks, &principal.tenancy, new, now).await?;
    let location = format!("{}/v1/identity/webhook-endpoints/{}", base.0, endpoint.id);
    Ok(created(
        render::endpoint(&endpoint, Some(&secret)),
        &location,
    ))
}

/// `GET /webhook-endpoints/{id}`.
pub async fn show(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<WebhookEndpointId>,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::WebhooksRead)?;
    let endpoint = flow::get(&st.store, &principal.tenancy, id).await?;
    Ok(ok(render::endpoint(&endpoint, None)))
}

/// `GET /webhook-endpoints`, newest first.
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    Extension(base): Extension<BasePath>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::WebhooksRead)?;
    let params = ListParams::parse(query.as_deref(), &[])?;
    let cursors = Cursors::new(
        &st.config.cursor_secret,
        &principal.tenancy,
        "webhook-endpoints",
        &params,
    );
    let page = flow::list(
        &st.store,
        &principal.tenancy,
        &cursors.page_request(&params)?,
    )
    .await?;
    let data = page
        .items
        .iter()
        .map(|(_, e)| render::endpoint(e, None))
        .collect();
    let doc = collection(
        &base,
        "/v1/identity/webhook-endpoints",
        &params,
        &cursors,
        &page,
        data,
    );
    Ok(respond(http::StatusCode::OK, &doc))
}

/// `PATCH /webhook-endpoints/{id}`: url (vetted again), enabled_events, status,
/// description.
pub async fn update(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<WebhookEndpointId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::WebhooksWrite)?;
    let env = principal.tenancy.environment;
    let patch = input::patch(&body.json()?, &id.to_string(), env)?;
    if let Some(url) = &patch.url {
        input::vet(url, env).await?;
    }
    let endpoint =
        flow::update(&st.store, &principal.tenancy, id, &patch, Timestamp::now()).await?;
    Ok(ok(render::endpoint(&endpoint, None)))
}

/// `DELETE /webhook-endpoints/{id}` → 204.
pub async fn delete(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<WebhookEndpointId>,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::WebhooksWrite)?;
    flow::delete(&st.store, &principal.tenancy, id).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}

/// `POST /webhook-endpoints/{id}/rotate-secret`: the new secret, this once; the old one
/// signs alongside it for 24 h.
pub async fn rotate(
    State(st): State<AppState>,
    Extension(hooks): Extension<Arc<Webhooks>>,
    auth: Auth,
    PathId(id): PathId<WebhookEndpointId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::WebhooksWrite)?;
    if let Some(v) = body.optional_json()? {
        // A meta-only body is allowed (API.md §1); nothing in it is understood.
        idv::http::jsonapi::empty_action(&v)?;
    }
    let (endpoint, secret) =
        flow::rotate(&st.store, &hooks, &principal.tenancy, id, Timestamp::now()).await?;
    Ok(ok(render::endpoint(&endpoint, Some(&secret))))
}

/// `GET /webhook-endpoints/{id}/deliveries`, newest first.
pub async fn deliveries(
    State(st): State<AppState>,
    auth: Auth,
    Extension(base): Extension<BasePath>,
    PathId(id): PathId<WebhookEndpointId>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::WebhooksRead)?;
    let params = ListParams::parse(query.as_deref(), &input::DELIVERY_FILTERS)?;
    let filter = input::delivery_filter(&params)?;
    let list_name = format!("deliveries:{id}");
    let cursors = Cursors::new(
        &st.config.cursor_secret,
        &principal.tenancy,
        &list_name,
        &params,
    );
    let page_req = cursors.page_request(&params)?;
    let page = flow::deliveries(&st.store, &principal.tenancy, id, &filter, &page_req).await?;
    let data = page
        .items
        .iter()
        .map(|(_, d)| render::delivery(d))
        .collect();
    let path = format!("/v1/identity/webhook-endpoints/{id}/deliveries");
    let doc = collection(&base, &path, &params, &cursors, &page, data);
    Ok(respond(http::StatusCode::OK, &doc))
}

/// `POST /webhook-endpoints/{id}/replay` → 202; the events are queued in the background,
/// a page at a time.
pub async fn replay(
    State(st): State<AppState>,
    Extension(hooks): Extension<Arc<Webhooks>>,
    auth: Auth,
    PathId(id): PathId<WebhookEndpointId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::WebhooksWrite)?;
    let r = input::replay(body.optional_json()?)?;
    let now = Timestamp::now();
    let types = r.types.clone();
    let sequence = flow::replay(
        &st.store,
        &hooks,
        &principal.tenancy,
        id,
        (r.from, r.to),
        r.types,
        now,
    )
    .await?;
    Ok(respond(
        http::StatusCode::ACCEPTED,
        &json!({"meta": {
            "status": "accepted",
            "sequence": sequence,
            "webhook_endpoint_id": id.to_string(),
            "from": r.from.to_string(),
            "to": r.to.to_string(),
            "types": types,
        }}),
    ))
}
