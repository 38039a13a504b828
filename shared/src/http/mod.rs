//! The HTTP edge shared by every API function: JSON:API documents, the error type,
//! extractors for auth, bodies, ids and pages, and the common middleware.
//!
//! Handlers stay thin: extract (here) → decide (`domain`, `workflow`) → write (`store`) →
//! render (`render`).

pub mod auth;
pub mod error;
pub mod extract;
pub mod jsonapi;
pub mod middleware;
pub mod pagination;
pub mod render;

use std::sync::Arc;

use crate::config::Config;
use crate::store::Store;

pub use error::ApiError;
pub use middleware::app;

/// What every handler can reach. Built once per cold start.
#[derive(Clone)]
pub struct AppState {
    /// The table.
    pub store: Store,
    /// Settings.
    pub config: Arc<Config>,
    /// Recent key lookups.
    pub keys: Arc<auth::KeyCache>,
}

impl AppState {
    /// State over `store` with `config`.
    pub fn new(store: Store, config: Config) -> AppState {
        let keys = Arc::new(auth::KeyCache::new(config.key_cache_ttl));
        AppState {
            store,
            config: Arc::new(config),
            keys,
        }
    }
}
