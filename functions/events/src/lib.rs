//! `/v1/identity/events`: the tenancy's events feed (API.md §7), and
//! `POST /events/{id}/redeliver`, which queues an event again for every webhook endpoint
//! subscribed to it (API.md §8).
//!
//! Handlers are thin: [`input`] turns the query string into a feed filter,
//! `idv::workflow::feed` reads, `idv::http::render::feed_event` draws each event. The feed is
//! written elsewhere, always in the transaction of the change it reports (`idv::store::feed`).

pub mod handlers;
pub mod input;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Router};
use idv::http::AppState;
use idv::webhooks::Webhooks;

/// The function's routes wrapped in the common layers.
pub fn router(state: AppState, hooks: Arc<Webhooks>) -> Router {
    let routes = Router::new()
        .route("/v1/identity/events", get(handlers::list))
        .route("/v1/identity/events/{id}", get(handlers::show))
        .route(
            "/v1/identity/events/{id}/redeliver",
            post(handlers::redeliver),
        )
        .layer(Extension(hooks))
        .with_state(state.clone());
    idv::http::app(routes, state)
}
