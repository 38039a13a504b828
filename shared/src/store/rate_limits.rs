//! Per-key rate limits: one counter item per API key, counting that key's requests in the
//! current one-second window (fixed windows of wall-clock seconds).
//!
//! One conditional UpdateItem per admitted request: `SET n = n + 1` if the item is in this
//! window and `n` is below the limit. When it fails, DynamoDB returns the item as it was
//! (`ReturnValuesOnConditionCheckFailure`), which tells the two cases apart without a read:
//! the same window at the limit (refused: `429` with `Retry-After`), or an older window
//! (the first request of a new second starts it over with a second conditional write, so
//! that second costs two round trips). Two Lambdas starting the same window race on that
//! condition; the loser counts in the winner's window.
//!
//! The item is keyed by the key's id alone (no tenancy in the key, like the key items: the
//! id is global). One item per key, overwritten in place, so there is nothing to expire:
//! no TTL, and therefore no index keys (DynamoDB Local's TTL needs those on every TTL'd
//! item, and on AWS each index holding the item would be written on every request too). A
//! key that was revoked leaves one small item behind.
//!
//! A single item takes at most 1,000 writes a second (a DynamoDB partition's limit), which
//! bounds a key's useful limit at about that; keys are meant to be limited far below it.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::keys::{rate_limit_pk, RATE_LIMIT_SK};
use super::{n, s, Item, Store, StoreError};
use crate::domain::ids::ApiKeyId;
use crate::domain::values::Timestamp;

/// Entity name of counter items.
pub const ENTITY: &str = "rate_limit";
/// Length of a window, in seconds.
pub const WINDOW_SECONDS: i64 = 1;
/// The window `now` falls in: its first second since the epoch.
pub fn window_of(now: Timestamp) -> i64 {
    now.unix().div_euclid(WINDOW_SECONDS) * WINDOW_SECONDS
}

/// Whole seconds from `now` until `window` ends (at least 1: `Retry-After` of 0 would
/// invite an immediate retry into the same window).
pub fn seconds_left(window: i64, now: Timestamp) -> u64 {
    let end = time::OffsetDateTime::from_unix_timestamp(window + WINDOW_SECONDS)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let left = (end - now.datetime()).as_seconds_f64().ceil();
    if left.is_finite() && left >= 1.0 {
        left as u64
    } else {
        1
    }
}

/// What the counter says about one more request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted; let it through.
    Admitted,
    /// The key used its limit in `window`; the next request may pass in `retry_after`
    /// seconds.
    Limited {
        /// The window that is full.
        window: i64,
        /// Seconds until it ends.
        retry_after: u64,
    },
}

/// Attempts before a contended admission gives up deciding (each attempt is one round
/// trip, and only a window change racing other Lambdas needs more than two).
const ATTEMPTS: usize = 4;

impl Store {
    /// Counts one request of `key` against `limit` requests per window.
    pub async fn admit(
        &self,
        key: ApiKeyId,
        limit: u32,
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        let mut window = window_of(now);
        for _ in 0..ATTEMPTS {
            let old = match self.count(key, window, limit).await? {
                None => return Ok(Admission::Admitted),
                Some(old) => old,
            };
            match old {
                Some((w, _)) if w == window => {
                    return Ok(Admission::Limited {
                        window,
                        retry_after: seconds_left(window, now),
                    })
                }
                // Another Lambda's clock is ahead and started a later window: count in it.
                Some((w, _)) if w > window => window = w,
                // No counter yet, or an older window: start this one.
                _ => {
                    if self.start_window(key, window).await? {
                        return Ok(Admission::Admitted);
                    }
                }
            }
        }
        // Only a pathological race gets here; the request is let through rather than
        // refused for a limit it may not have reached.
        tracing::warn!(%key, "rate limit undecided after {ATTEMPTS} attempts; admitting");
        Ok(Admission::Admitted)
    }

    /// `n = n + 1` in `window` below `limit`. `None` when counted; otherwise the counter as
    /// it was (`(window, n)`, or `None` if there is no counter).
    async fn count(
        &self,
        key: ApiKeyId,
        window: i64,
        limit: u32,
    ) -> Result<Option<Option<(i64, u64)>>, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Store::key(rate_limit_pk(key), RATE_LIMIT_SK)))
            .update_expression("SET #n = #n + :one")
            .condition_expression("#w = :w AND #n < :limit")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#w", "window")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":w", n(window))
            .expression_attribute_values(":limit", n(limit))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                let old = match e.err() {
                    UpdateItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                };
                Ok(Some(old.as_ref().and_then(counter)))
            }
            Err(e) => Err(super::sdk_error("counting a request", e)),
        }
    }

    /// Starts `window` with this request counted, unless some Lambda already started it
    /// (or a later one): then `false`.
    async fn start_window(&self, key: ApiKeyId, window: i64) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Store::key(rate_limit_pk(key), RATE_LIMIT_SK)))
            .update_expression("SET #w = :w, #n = :one, entity = :entity, schema_version = :v")
            .condition_expression("attribute_not_exists(#w) OR #w < :w")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#w", "window")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":w", n(window))
            .expression_attribute_values(":entity", s(ENTITY))
            .expression_attribute_values(":v", n(super::items::SCHEMA_VERSION))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(super::sdk_error("starting a rate-limit window", e)),
        }
    }
}

/// `(window, n)` of a counter item.
fn counter(item: &Item) -> Option<(i64, u64)> {
    let number = |name: &str| match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse::<i64>().ok(),
        _ => None,
    };
    Some((number("window")?, u64::try_from(number("n")?).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_whole_seconds_and_retry_after_is_at_least_one() {
        let t = |text: &str| Timestamp::parse(text).expect("timestamp");
        let now = t("2026-01-01T00:00:10.250Z");
        assert_eq!(window_of(now), now.unix());
        assert_eq!(seconds_left(window_of(now), now), 1);
        // A window another Lambda started early still answers a positive delay.
        assert_eq!(seconds_left(window_of(now) - 5, now), 1);
        assert_eq!(seconds_left(window_of(now) + 3, now), 4);
    }
}
