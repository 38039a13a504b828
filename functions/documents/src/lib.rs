//! `/v1/identity/documents/idvs` and `/v1/identity/documents/addresses`: declare files and
//! hand out presigned upload URLs, add files, submit, read and list.
//!
//! File bytes never pass through here: clients PUT them to S3, and `document-events` (or
//! `submit`, lazily) checks what arrived (`idv::workflow::uploads`). A client token (the
//! applicant's side, API.md §9) creates, uploads, reads and submits its own session's
//! documents; its submit also runs the document's verification, so the page reaches a
//! result without the integrator's backend.

pub mod handlers;
pub mod input;

use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::Router;
use idv::http::AppState;
use idv::workflow::verify::Settings;

/// State of this function: the common state plus the check settings, for a submit made
/// with a client token, which runs the document's verification (API.md §9).
#[derive(Clone)]
pub struct DocState {
    /// Common state.
    pub app: AppState,
    /// Check configuration and fingerprint key.
    pub settings: Settings,
}

impl FromRef<DocState> for AppState {
    fn from_ref(st: &DocState) -> AppState {
        st.app.clone()
    }
}

/// The function's routes wrapped in the common layers.
pub fn router(state: AppState, settings: Settings) -> Router {
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
        .with_state(DocState {
            app: state.clone(),
            settings,
        });
    idv::http::app(routes, state)
}
