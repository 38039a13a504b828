//! `/v1/identity/verifications`: run the deterministic document checks on a document
//! (synchronously: the 201 holds the final result), read and list results.
//!
//! [`input`] turns request documents into domain values, `idv::workflow::verify` runs and records the
//! checks, `idv::http::render` draws the response.

pub mod handlers;
pub mod input;

use axum::routing::{get, post};
use axum::Router;
use idv::http::AppState;
use idv::workflow::verify::Settings;

/// State of this function: the common state plus the check settings.
#[derive(Clone)]
pub struct VerifyState {
    /// Common state.
    pub app: AppState,
    /// Check configuration and fingerprint key.
    pub settings: Settings,
}

/// The function's routes wrapped in the common layers.
pub fn router(app: AppState, settings: Settings) -> Router {
    let routes = Router::new()
        .route(
            "/v1/identity/verifications",
            post(handlers::create).get(handlers::list),
        )
        .route("/v1/identity/verifications/{id}", get(handlers::show))
        .with_state(VerifyState {
            app: app.clone(),
            settings,
        });
    idv::http::app(routes, app)
}
