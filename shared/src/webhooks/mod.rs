//! The machinery of webhooks (API.md §8) that is not a rule: sealing signing secrets
//! ([`seal`]), the SSRF guard ([`guard`]), sending one delivery ([`send`]) and the
//! deliveries queue ([`queue`]). The rules are in `domain::webhook`, the use cases in
//! `workflow::webhooks`.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `IDV_WEBHOOK_QUEUE_URL` | the deliveries queue | required |
//! | `IDV_WEBHOOK_KEY` / `IDV_WEBHOOK_KEY_ARN` / `IDV_WEBHOOK_KEY_FILE` | the sealing key ([`seal`]) | required |
//! | `IDV_WEBHOOK_RETRY_DELAYS` | seconds between attempts, comma-separated | `5,300,1800,7200,18000,36000,36000` |
//! | `IDV_WEBHOOK_DISABLE_AFTER` | failing this long disables an endpoint (`5d`, `30s`) | `5d` |
//! | `IDV_WEBHOOK_ROTATION_OVERLAP` | a rotated secret signs this long (`24h`) | `24h` |
//! | `IDV_WEBHOOK_TIMEOUT_MS` | one attempt, connect to answer | `10000` |
//!
//! Tests compress time with the last four.

pub mod guard;
pub mod queue;
pub mod seal;
pub mod send;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{parse_duration, ConfigError};
use crate::domain::webhook::RetryPolicy;

/// What the webhook use cases need besides the table. Built once per cold start.
#[derive(Debug, Clone)]
pub struct Webhooks {
    /// Seals and opens signing secrets; `None` in functions that never touch a secret
    /// (the fan-out, redelivery), which are not given the key at all.
    pub key: Option<Arc<seal::SealingKey>>,
    /// The deliveries queue.
    pub queue: queue::Queue,
    /// Sends deliveries.
    pub sender: send::Sender,
    /// Backoff, disabling and rotation windows.
    pub policy: RetryPolicy,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Webhooks {
    /// The sealing key, if this function has it.
    pub fn sealing_key(&self) -> Option<&seal::SealingKey> {
        self.key.as_deref()
    }

    /// From the environment (see the module's table); `with_key` reads the sealing key,
    /// which only the functions that create, rotate or send need.
    pub async fn from_env(with_key: bool) -> Result<Webhooks, ConfigError> {
        let (policy, timeout) = policy_from(var)?;
        let key = if with_key {
            Some(Arc::new(seal::SealingKey::from_env()?))
        } else {
            None
        };
        Ok(Webhooks {
            key,
            queue: queue::Queue::from_env().await?,
            sender: send::Sender::new(timeout),
            policy,
        })
    }
}

/// The retry policy and attempt timeout from a variable lookup.
pub fn policy_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(RetryPolicy, Duration), ConfigError> {
    let mut policy = RetryPolicy::default();
    if let Some(v) = lookup("IDV_WEBHOOK_RETRY_DELAYS") {
        policy.delays = v
            .split(',')
            .map(|s| s.trim().parse::<u32>().ok().filter(|n| *n > 0))
            .map(|n| n.map(|n| time::Duration::seconds(i64::from(n))))
            .collect::<Option<Vec<_>>>()
            .filter(|d| !d.is_empty() && d.len() <= 20)
            .ok_or(ConfigError::Invalid("IDV_WEBHOOK_RETRY_DELAYS"))?;
    }
    if let Some(v) = lookup("IDV_WEBHOOK_DISABLE_AFTER") {
        policy.disable_after =
            parse_duration(&v).ok_or(ConfigError::Invalid("IDV_WEBHOOK_DISABLE_AFTER"))?;
    }
    if let Some(v) = lookup("IDV_WEBHOOK_ROTATION_OVERLAP") {
        policy.rotation_overlap =
            parse_duration(&v).ok_or(ConfigError::Invalid("IDV_WEBHOOK_ROTATION_OVERLAP"))?;
    }
    let timeout = match lookup("IDV_WEBHOOK_TIMEOUT_MS") {
        Some(v) => Duration::from_millis(
            v.parse::<u64>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or(ConfigError::Invalid("IDV_WEBHOOK_TIMEOUT_MS"))?,
        ),
        None => Duration::from_secs(10),
    };
    Ok((policy, timeout))
}
