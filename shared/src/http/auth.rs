//! API-key authentication with a short per-Lambda cache, the per-key rate limit, and
//! client tokens (the applicant's side, API.md §9).
//!
//! A warm Lambda remembers a key lookup (found or not) for `IDV_KEY_CACHE_SECONDS` (5 s by
//! default), so a busy client costs one GetItem per key every few seconds rather than one per
//! request. The price is the revocation bound: a revoked key keeps working on a warm Lambda
//! for at most that long. Expiry is checked on every request against the cached record, so
//! it is exact.
//!
//! The cache is bounded and evicts the least recently used entry, with found keys and
//! unknown ones in separate parts of fixed size: presenting random keys (which anyone can
//! do, one lookup each) only ever evicts other unknown keys, never a valid one.
//!
//! After authentication, a key's requests are counted against its rate limit (its own, or
//! the deployment's default): one conditional UpdateItem per request
//! ([`Store::admit`](crate::store::Store::admit)). Once the table has refused a key in a
//! window, this Lambda refuses that key's further requests in the same window without a
//! round trip: the count only grows within a window, so the answer cannot change.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::ApiError;
use super::AppState;
use crate::domain::auth::{claimed_environment, hash_secret, ApiKey, Principal};
use crate::domain::client_token::{self, admits_tokens, has_token_shape};
use crate::domain::ids::ApiKeyId;
use crate::domain::session::Session;
use crate::domain::values::Timestamp;
use crate::store::rate_limits::{seconds_left, window_of, Admission};
use crate::store::StoreError;

/// Most valid keys remembered (a deployment has far fewer; the bound is for memory).
pub const MAX_KEYS: usize = 10_000;
/// Most unknown keys remembered. Each costs one lookup to add, so a flood of random keys
/// pays a GetItem per key and churns only this part.
pub const MAX_UNKNOWN: usize = 10_000;
/// Most keys whose full rate-limit window is remembered (only valid keys get here).
const MAX_FULL_WINDOWS: usize = 10_000;

/// A bounded map that forgets its least recently used entry first and entries older than
/// a time to live. Recency is a counter; `order` finds the oldest in O(log n).
#[derive(Debug)]
struct Lru<V> {
    capacity: usize,
    tick: u64,
    entries: HashMap<String, Entry<V>>,
    order: BTreeMap<u64, String>,
}

#[derive(Debug)]
struct Entry<V> {
    used: u64,
    stored: Instant,
    value: V,
}

impl<V: Clone> Lru<V> {
    fn new(capacity: usize) -> Lru<V> {
        Lru {
            capacity,
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The value stored under `key` less than `ttl` ago, marking it as just used.
    fn get(&mut self, key: &str, ttl: Duration) -> Option<V> {
        let tick = self.next_tick();
        let entry = self.entries.get_mut(key)?;
        if entry.stored.elapsed() >= ttl {
            self.remove(key);
            return None;
        }
        self.order.remove(&entry.used);
        entry.used = tick;
        self.order.insert(tick, key.to_owned());
        Some(entry.value.clone())
    }

    /// Stores `value` under `key`, evicting the least recently used entry when full.
    fn put(&mut self, key: String, value: V) {
        let tick = self.next_tick();
        self.remove(&key);
        if self.entries.len() >= self.capacity {
            if let Some((_, oldest)) = self.order.pop_first() {
                self.entries.remove(&oldest);
            }
        }
        self.order.insert(tick, key.clone());
        self.entries.insert(
            key,
            Entry {
                used: tick,
                stored: Instant::now(),
                value,
            },
        );
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.order.remove(&old.used);
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[derive(Debug)]
struct Entries {
    known: Lru<ApiKey>,
    unknown: Lru<()>,
    /// Keys the table refused in a window, by the window they filled.
    full: HashMap<ApiKeyId, i64>,
}

/// Recently looked-up keys, by the hash of their secret, and the keys whose rate-limit
/// window is full.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<Entries>,
}

impl KeyCache {
    /// A cache trusting lookups for `ttl`, holding [`MAX_KEYS`] valid and [`MAX_UNKNOWN`]
    /// unknown keys.
    pub fn new(ttl: Duration) -> KeyCache {
        KeyCache::with_capacity(ttl, MAX_KEYS, MAX_UNKNOWN)
    }

    /// A cache with the given bounds (tests use small ones).
    pub fn with_capacity(ttl: Duration, keys: usize, unknown: usize) -> KeyCache {
        KeyCache {
            ttl,
            entries: Mutex::new(Entries {
                known: Lru::new(keys.max(1)),
                unknown: Lru::new(unknown.max(1)),
                full: HashMap::new(),
            }),
        }
    }

    /// The cached lookup of `hash`: `Some(Some(key))` found, `Some(None)` known unknown,
    /// `None` not cached (or no longer trusted).
    fn get(&self, hash: &str) -> Option<Option<ApiKey>> {
        let mut entries = self.entries.lock().ok()?;
        if let Some(key) = entries.known.get(hash, self.ttl) {
            return Some(Some(key));
        }
        entries.unknown.get(hash, self.ttl).map(|()| None)
    }

    fn put(&self, hash: String, key: Option<ApiKey>) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            match key {
                Some(key) => {
                    entries.unknown.remove(&hash);
                    entries.known.put(hash, key);
                }
                None => {
                    entries.known.remove(&hash);
                    entries.unknown.put(hash, ());
                }
            }
        }
    }

    /// The key whose secret hashes to `hash`: from the cache, or from `fetch` (then
    /// cached). The lock is not held while fetching.
    pub async fn lookup<F, Fut>(&self, hash: &str, fetch: F) -> Result<Option<ApiKey>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<ApiKey>, StoreError>>,
    {
        if let Some(cached) = self.get(hash) {
            return Ok(cached);
        }
        let found = fetch().await?;
        self.put(hash.to_owned(), found.clone());
        Ok(found)
    }

    /// How many valid and unknown keys are cached.
    pub fn len(&self) -> (usize, usize) {
        self.entries
            .lock()
            .map(|e| (e.known.len(), e.unknown.len()))
            .unwrap_or_default()
    }

    /// True when the table already refused `key` in `window`.
    fn window_full(&self, key: ApiKeyId, window: i64) -> bool {
        self.entries
            .lock()
            .is_ok_and(|e| e.full.get(&key) == Some(&window))
    }

    fn mark_full(&self, key: ApiKeyId, window: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.full.len() >= MAX_FULL_WINDOWS {
                // Past windows decide nothing any more.
                entries.full.retain(|_, w| *w >= window);
                if entries.full.len() >= MAX_FULL_WINDOWS {
                    entries.full.clear();
                }
            }
            entries.full.insert(key, window);
        }
    }
}

/// The principal for a presented `X-Api-Key`, or 401; 429 when the key is over its rate
/// limit.
pub async fn authenticate(state: &AppState, presented: &str) -> Result<Principal, ApiError> {
    // Malformed keys are refused without a lookup.
    let claimed = claimed_environment(presented).ok_or(ApiError::Unauthorized)?;
    let hash = hash_secret(presented);
    let key = state
        .keys
        .lookup(&hash, || state.store.api_key_by_hash(&hash))
        .await?;
    let key = key.ok_or(ApiError::Unauthorized)?;
    if !key.is_usable(Timestamp::now()) || key.environment != claimed {
        return Err(ApiError::Unauthorized);
    }
    if let Some(limit) = key.rate_limit.or(state.config.rate_limit) {
        rate_limit(state, key.id, limit).await?;
    }
    Ok(Principal {
        key_id: key.id,
        tenancy: key.tenancy(),
        scopes: key.scopes.clone(),
        client: None,
    })
}

/// The principal for a presented client token (`Authorization: Bearer ct_…`), with its
/// session as read now; 401 when the token is unknown or expired, or when its session no
/// longer admits tokens (decided, expired, redacted: that is how they are revoked).
///
/// Two consistent GetItems, the token and its session, neither cached: a token must stop
/// working the moment its session is decided, and a page makes a few dozen requests, not
/// thousands. Requests count against the issuing key's rate limit under the deployment's
/// default, so a leaked link cannot be used to flood the table.
pub async fn authenticate_client_token(
    state: &AppState,
    presented: &str,
) -> Result<(Principal, Session), ApiError> {
    if !has_token_shape(presented) {
        return Err(ApiError::Unauthorized);
    }
    let token = state
        .store
        .client_token_by_hash(&hash_secret(presented))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let now = Timestamp::now();
    if !token.is_current(now) {
        return Err(ApiError::Unauthorized);
    }
    let tenancy = token.tenancy();
    let session = state
        .store
        .get_session(&tenancy, token.session_id)
        .await?
        .filter(|s| admits_tokens(s, now))
        .ok_or(ApiError::Unauthorized)?;
    if let Some(limit) = state.config.rate_limit {
        rate_limit(state, token.issued_by, limit).await?;
    }
    let principal = Principal {
        key_id: token.issued_by,
        tenancy,
        scopes: client_token::SCOPES.to_vec(),
        client: Some(token),
    };
    Ok((principal, session))
}

/// Counts the request against `limit` requests per second of `key`.
async fn rate_limit(state: &AppState, key: ApiKeyId, limit: u32) -> Result<(), ApiError> {
    let now = Timestamp::now();
    let window = window_of(now);
    if state.keys.window_full(key, window) {
        return Err(ApiError::RateLimited {
            retry_after: seconds_left(window, now),
        });
    }
    match state.store.admit(key, limit, now).await? {
        Admission::Admitted => Ok(()),
        Admission::Limited {
            window,
            retry_after,
        } => {
            state.keys.mark_full(key, window);
            Err(ApiError::RateLimited { retry_after })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::domain::values::{Environment, TenantId};

    fn key() -> ApiKey {
        let now = Timestamp::now();
        ApiKey {
            id: ApiKeyId::new(now.datetime()),
            tenant: TenantId::parse("acme").expect("tenant"),
            environment: Environment::Staging,
            name: "valid".into(),
            scopes: vec![],
            created_at: now,
            expires_at: None,
            revoked: false,
            revoked_at: None,
            rate_limit: None,
        }
    }

    /// Attack: present tens of thousands of random keys so the cache drops the valid ones
    /// and every real request pays a lookup again. The valid key is looked up once, before
    /// the flood, and never again; the flood fills only the unknown part, up to its bound.
    #[tokio::test]
    async fn key_flood_does_not_evict_valid_keys() {
        let cache = KeyCache::new(Duration::from_secs(60));
        let valid = hash_secret("sk_staging_valid");
        let valid_lookups = AtomicUsize::new(0);
        let lookup_valid = || async {
            valid_lookups.fetch_add(1, Ordering::Relaxed);
            Ok(Some(key()))
        };
        assert!(cache
            .lookup(&valid, lookup_valid)
            .await
            .expect("ok")
            .is_some());
        let flood_lookups = AtomicUsize::new(0);
        for i in 0..50_000 {
            let found = cache
                .lookup(&hash_secret(&format!("sk_staging_random{i}")), || async {
                    flood_lookups.fetch_add(1, Ordering::Relaxed);
                    Ok(None)
                })
                .await
                .expect("ok");
            assert!(found.is_none());
            if i % 5_000 == 0 {
                // The valid key is used now and then during the flood, as a real client would.
                assert!(cache
                    .lookup(&valid, lookup_valid)
                    .await
                    .expect("ok")
                    .is_some());
            }
        }
        assert!(cache
            .lookup(&valid, lookup_valid)
            .await
            .expect("ok")
            .is_some());
        assert_eq!(
            valid_lookups.load(Ordering::Relaxed),
            1,
            "the valid key was evicted"
        );
        assert_eq!(flood_lookups.load(Ordering::Relaxed), 50_000);
        assert_eq!(cache.len(), (1, MAX_UNKNOWN), "bounded");
    }

    /// Even with the valid part full, the least recently used valid key goes first.
    #[tokio::test]
    async fn valid_keys_are_evicted_least_recently_used_first() {
        let cache = KeyCache::with_capacity(Duration::from_secs(60), 3, 3);
        let lookups = AtomicUsize::new(0);
        let fetch = || async {
            lookups.fetch_add(1, Ordering::Relaxed);
            Ok(Some(key()))
        };
        for name in ["a", "b", "c", "a", "d"] {
            cache.lookup(name, fetch).await.expect("ok");
        }
        // a, b, c fetched; a hit; d evicted b (the least recently used).
        assert_eq!(lookups.load(Ordering::Relaxed), 4);
        for name in ["a", "c", "d"] {
            cache.lookup(name, fetch).await.expect("ok");
        }
        assert_eq!(lookups.load(Ordering::Relaxed), 4);
        cache.lookup("b", fetch).await.expect("ok");
        assert_eq!(lookups.load(Ordering::Relaxed), 5);
        assert_eq!(cache.len(), (3, 0));
    }

    /// A lookup is trusted for the cache's lifetime only (the revocation bound), and a key
    /// issued after it was looked up as unknown is found once that entry ends.
    #[tokio::test]
    async fn entries_end_with_the_cache_lifetime() {
        let cache = KeyCache::new(Duration::from_millis(50));
        assert!(cache
            .lookup("k", || async { Ok(None) })
            .await
            .expect("ok")
            .is_none());
        // Cached as unknown: the new key is not seen yet.
        assert!(cache
            .lookup("k", || async { Ok(Some(key())) })
            .await
            .expect("ok")
            .is_none());
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(cache
            .lookup("k", || async { Ok(Some(key())) })
            .await
            .expect("ok")
            .is_some());
        assert_eq!(cache.len(), (1, 0), "it moved to the valid part");
        // No cache at all with a zero lifetime.
        let none = KeyCache::new(Duration::ZERO);
        none.lookup("k", || async { Ok(Some(key())) })
            .await
            .expect("ok");
        assert_eq!(none.len(), (0, 0));
    }
}
