//! Handlers of the events endpoints: extract → one `workflow::feed` call → render.
//!
//! DynamoDB round trips (besides the cached key lookup): list 1 Query (+ ≤ 10 COUNT Queries
//! with `page[total]`), show 1 GetItem, redeliver 2 in parallel (the event, the endpoints)
//! plus one SQS batch.

use axum::extract::State;
use axum::response::Response;
use idv::domain::auth::Permission;
use idv::domain::ids::EventId;
use idv::domain::values::Timestamp;
use idv::http::extract::{Auth, PathId, RawQuery};
use idv::http::jsonapi::{ok, respond};
use idv::http::middleware::BasePath;
use idv::http::pagination::{collection, Cursors, ListParams};
use idv::http::{render, ApiError, AppState};
use idv::workflow::{feed, webhooks};

use crate::input;

/// `GET /events`, newest first.
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::EventsRead)?;
    let params = ListParams::parse(query.as_deref(), &input::LIST_FILTERS)?;
    let filter = input::list_filter(&params)?;
    let cursors = Cursors::new(
        &st.config.cursor_secret,
        &principal.tenancy,
        "events",
        &params,
    );
    let page_req = cursors.page_request(&params)?;
    let now = Timestamp::now();
    let page = feed::list(&st.store, &principal.tenancy, &filter, now, &page_req).await?;
    let data = page
        .items
        .iter()
        .map(|(_, e)| render::feed_event(e))
        .collect();
    let doc = collection(&base, "/v1/identity/events", &params, &cursors, &page, data);
    Ok(respond(http::StatusCode::OK, &doc))
}

/// `GET /events/{id}`: unknown, malformed, foreign and expired ids all answer 404.
pub async fn show(
    State(st): State<AppState>,
    auth: Auth,
    PathId(id): PathId<EventId>,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::EventsRead)?;
    let event = feed::get(&st.store, &principal.tenancy, id, Timestamp::now())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ok(render::feed_event(&event)))
}

/// `POST /events/{id}/redeliver` → 202: the event is queued again, as a new sequence of
/// attempts (same `webhook-id`, so receivers dedupe), to every enabled endpoint subscribed
/// to its type.
pub async fn redeliver(
    State(st): State<AppState>,
    axum::Extension(hooks): axum::Extension<std::sync::Arc<idv::webhooks::Webhooks>>,
    auth: Auth,
    PathId(id): PathId<EventId>,
    body: idv::http::extract::Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::WebhooksWrite)?;
    if let Some(v) = body.optional_json()? {
        idv::http::jsonapi::empty_action(&v)?;
    }
    let now = Timestamp::now();
    let endpoints = webhooks::redeliver(&st.store, &hooks, &principal.tenancy, id, now).await?;
    Ok(respond(
        http::StatusCode::ACCEPTED,
        &serde_json::json!({"meta": {"status": "accepted", "event_id": id.to_string(), "webhook_endpoints": endpoints}}),
    ))
}
