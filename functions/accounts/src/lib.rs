//! `/v1/identity/accounts`: create, read, list, update, and redaction cascading to the
//! account's sessions.

pub mod handlers;
pub mod input;

use axum::routing::{get, post};
use axum::Router;
use idv::http::AppState;

/// The function's routes wrapped in the common layers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(
            "/v1/identity/accounts",
            post(handlers::create).get(handlers::list),
        )
        .route(
            "/v1/identity/accounts/{id}",
            get(handlers::show).patch(handlers::update),
        )
        .route("/v1/identity/accounts/{id}/redact", post(handlers::redact))
        .with_state(state.clone());
    idv::http::app(routes, state)
}
