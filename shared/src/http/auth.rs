//! API-key authentication with a short per-Lambda cache.
//!
//! A warm Lambda remembers a key lookup (found or not) for `IDV_KEY_CACHE_SECONDS` (5 s by
//! default), so a busy client costs one GetItem per key every few seconds rather than one per
//! request. The price is the revocation bound: a revoked key keeps working on a warm Lambda
//! for at most that long. Expiry is checked on every request against the cached record, so
//! it is exact.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::ApiError;
use super::AppState;
use crate::domain::auth::{claimed_environment, hash_secret, ApiKey, Principal};
use crate::domain::values::Timestamp;

/// Most entries kept; past this the cache is cleared rather than grown (keys are few, and a
/// flood of random keys must not exhaust memory).
const MAX_ENTRIES: usize = 10_000;

/// Recently looked-up keys, by the hash of their secret.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Option<ApiKey>)>>,
}

impl KeyCache {
    /// A cache trusting lookups for `ttl`.
    pub fn new(ttl: Duration) -> KeyCache {
        KeyCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, hash: &str) -> Option<Option<ApiKey>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(hash)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, key)| key.clone())
    }

    fn put(&self, hash: String, key: Option<ApiKey>) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(hash, (Instant::now(), key));
        }
    }
}

/// The principal for a presented `X-Api-Key`, or 401.
pub async fn authenticate(state: &AppState, presented: &str) -> Result<Principal, ApiError> {
    // Malformed keys are refused without a lookup.
    let claimed = claimed_environment(presented).ok_or(ApiError::Unauthorized)?;
    let hash = hash_secret(presented);
    let key = match state.keys.get(&hash) {
        Some(cached) => cached,
        None => {
            let found = state.store.api_key_by_hash(&hash).await?;
            state.keys.put(hash, found.clone());
            found
        }
    };
    let key = key.ok_or(ApiError::Unauthorized)?;
    if !key.is_usable(Timestamp::now()) || key.environment != claimed {
        return Err(ApiError::Unauthorized);
    }
    Ok(Principal {
        key_id: key.id,
        tenancy: key.tenancy(),
        scopes: key.scopes.clone(),
    })
}
