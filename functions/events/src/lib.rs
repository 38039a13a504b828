//! `/v1/identity/events`: the tenancy's events feed (API.md §7), read-only.
//!
//! Handlers are thin: [`input`] turns the query string into a feed filter,
//! `idv::workflow::feed` reads, `idv::http::render::feed_event` draws each event. The feed is
//! written elsewhere, always in the transaction of the change it reports (`idv::store::feed`).

pub mod handlers;
pub mod input;

use axum::routing::get;
use axum::Router;
use idv::http::AppState;

/// The function's routes wrapped in the common layers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/v1/identity/events", get(handlers::list))
        .route("/v1/identity/events/{id}", get(handlers::show))
        .with_state(state.clone());
    idv::http::app(routes, state)
}
