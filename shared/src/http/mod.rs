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
pub mod request_id;

use std::sync::Arc;

use crate::config::Config;
use crate::store::objects::Objects;
use crate::store::Store;

pub use error::ApiError;
pub use middleware::app;

/// What every handler can reach. Built once per cold start.
#[derive(Clone)]
pub struct AppState {
    /// The table.
    pub store: Store,
    /// The documents bucket.
    pub objects: Objects,
    /// Settings.
    pub config: Arc<Config>,
    /// Recent key lookups.
    pub keys: Arc<auth::KeyCache>,
}

impl AppState {
    /// Everything a function needs, from the environment and its secrets (one batched call
    /// for all of them, [`crate::store::secrets::load`]). Call once per cold start.
    pub async fn from_env() -> Result<AppState, crate::config::ConfigError> {
        crate::store::secrets::load().await?;
        let config = Config::from_env()?;
        if config.cursor_secret.len() < 16 {
            return Err(crate::config::ConfigError::Missing(
                "IDV_CURSOR_SECRET (at least 16 bytes)",
            ));
        }
        let (dynamodb, s3) = crate::config::aws_clients().await;
        let store = Store::new(dynamodb, config.table.clone());
        let objects = Objects::new(s3, config.bucket.clone());
        Ok(AppState::new(store, objects, config))
    }

    /// State over `store` and `objects` with `config`. The store takes its retention policy from `config`, so that every session write of
    /// the API agrees on retention timers.
    pub fn new(store: Store, objects: Objects, config: Config) -> AppState {
        let keys = Arc::new(auth::KeyCache::new(config.key_cache_ttl));
        AppState {
            store: store.with_retention(config.retention),
            objects,
            config: Arc::new(config),
            keys,
        }
    }
}
