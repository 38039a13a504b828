//! `/v1/identity/sessions`, `/v1/identity/session-devices` and `/v1/identity/client-token`:
//! create, read, list, update (JSON merge patch), the decide and expire actions, redaction,
//! `/simulate`, the event log, and client tokens for the applicant's side (API.md §9).
//!
//! Handlers are thin: [`input`] turns request documents into domain values, `idv::workflow`
//! decides and writes, `idv::http::render` draws the response.

pub mod devices;
pub mod handlers;
pub mod input;

use axum::routing::{get, post};
use axum::Router;
use idv::http::AppState;

/// The function's routes wrapped in the common layers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(
            "/v1/identity/sessions",
            post(handlers::create).get(handlers::list),
        )
        .route(
            "/v1/identity/sessions/{id}",
            get(handlers::show).patch(handlers::update),
        )
        .route(
            "/v1/identity/sessions/{id}/approve",
            post(handlers::approve),
        )
        .route(
            "/v1/identity/sessions/{id}/decline",
            post(handlers::decline),
        )
        .route(
            "/v1/identity/sessions/{id}/mark-for-review",
            post(handlers::mark_for_review),
        )
        .route("/v1/identity/sessions/{id}/expire", post(handlers::expire))
        .route("/v1/identity/sessions/{id}/redact", post(handlers::redact))
        .route(
            "/v1/identity/sessions/{id}/simulate",
            post(handlers::simulate),
        )
        .route("/v1/identity/sessions/{id}/events", get(handlers::events))
        .route(
            "/v1/identity/sessions/{id}/client-token",
            post(handlers::issue_client_token),
        )
        .route(
            "/v1/identity/client-token",
            get(handlers::current_client_token),
        )
        .route("/v1/identity/session-devices", post(devices::register))
        .route("/v1/identity/session-devices/{id}", get(devices::show))
        .with_state(state.clone());
    idv::http::app(routes, state)
}
