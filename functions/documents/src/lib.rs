//! `/v1/identity/documents/idvs` and `/v1/identity/documents/addresses`: declare files and
//! hand out presigned upload URLs, add files, submit, read and list.
//!
//! File bytes never pass through here: clients PUT them to S3, and `document-events` (or
//! `submit`, lazily) checks what arrived (`idv::workflow::uploads`).

pub mod handlers;
pub mod input;

use axum::routing::{get, post};
use axum::Router;
use idv::http::AppState;

/// The function's routes wrapped in the common layers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(
            "/v1/identity/documents/{kind}",
            post(handlers::create).get(handlers::list),
        )
        .route("/v1/identity/documents/{kind}/{id}", get(handlers::show))
        .route(
            "/v1/identity/documents/{kind}/{id}/files",
            post(handlers::add_file),
        )
        .route(
            "/v1/identity/documents/{kind}/{id}/submit",
            post(handlers::submit),
        )
        .route(
            "/v1/identity/documents/{kind}/{id}/redact",
            post(handlers::redact),
        )
        .with_state(state.clone());
    idv::http::app(routes, state)
}
