//! Configuration read once per cold start from the environment.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `IDV_TABLE` | the DynamoDB table | `idv` |
//! | `IDV_BUCKET` | the documents bucket | `idv-documents` |
//! | `IDV_S3_FORCE_PATH_STYLE` | `true` for local S3 servers (no bucket subdomains) | `false` |
//! | `IDV_CURSOR_SECRET` | HMAC key that signs pagination cursors (≥ 16 bytes) | required by API functions |
//! | `IDV_SESSION_LIFETIME_SECONDS` | `expires_at` = `started_at` + this, unless given | `86400` |
//! | `IDV_KEY_CACHE_SECONDS` | how long a warm Lambda trusts a key lookup | `5` |
//! | `IDV_RETENTION_PRODUCTION`, `IDV_RETENTION_STAGING` | redact sessions this long after they end (`90d`, `12h`, `30m`, `45s`) | unset: keep |
//! | `AWS_ENDPOINT_URL_DYNAMODB` | DynamoDB endpoint override (DynamoDB Local) | AWS |
//! | `AWS_ENDPOINT_URL_S3` | S3 endpoint override (the local S3 server) | AWS |

use std::time::Duration;

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable is required.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable does not parse.
    #[error("{0} is not valid")]
    Invalid(&'static str),
}

/// The settings every function shares.
#[derive(Debug, Clone)]
pub struct Config {
    /// The table.
    pub table: String,
    /// The documents bucket.
    pub bucket: String,
    /// Key for signing cursors.
    pub cursor_secret: Vec<u8>,
    /// Default session lifetime after start.
    pub session_lifetime: time::Duration,
    /// How long a key lookup is cached.
    pub key_cache_ttl: Duration,
    /// How long sessions are kept after they end, per environment. Every function that
    /// writes sessions must see the same policy: it decides their retention timers.
    pub retention: crate::store::timers::Retention,
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn seconds(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match var(name) {
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid(name)),
        None => Ok(default),
    }
}

impl Config {
    /// Reads the environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        // Only the API functions sign cursors; they check the secret in `AppState::from_env`.
        let secret = var("IDV_CURSOR_SECRET").unwrap_or_default();
        let lifetime = seconds("IDV_SESSION_LIFETIME_SECONDS", 86_400)?;
        Ok(Config {
            table: var("IDV_TABLE").unwrap_or_else(|| "idv".to_owned()),
            bucket: var("IDV_BUCKET").unwrap_or_else(|| "idv-documents".to_owned()),
            cursor_secret: secret.into_bytes(),
            session_lifetime: time::Duration::seconds(
                i64::try_from(lifetime)
                    .map_err(|_| ConfigError::Invalid("IDV_SESSION_LIFETIME_SECONDS"))?,
            ),
            key_cache_ttl: Duration::from_secs(seconds("IDV_KEY_CACHE_SECONDS", 5)?),
            retention: crate::store::timers::Retention {
                production: retention("IDV_RETENTION_PRODUCTION")?,
                staging: retention("IDV_RETENTION_STAGING")?,
            },
        })
    }
}

/// An optional retention variable: unset or empty keeps sessions forever.
fn retention(name: &'static str) -> Result<Option<time::Duration>, ConfigError> {
    var(name)
        .map(|v| parse_duration(&v).ok_or(ConfigError::Invalid(name)))
        .transpose()
}

/// Parses a positive whole number of seconds, minutes, hours or days: `45s`, `30m`,
/// `12h`, `90d`.
pub fn parse_duration(text: &str) -> Option<time::Duration> {
    let unit = text.chars().last()?;
    let count: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    if count <= 0 || !text.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let seconds_per_unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    count
        .checked_mul(seconds_per_unit)
        .map(time::Duration::seconds)
}

/// Builds the DynamoDB client from the standard AWS configuration chain (region,
/// credentials, `AWS_ENDPOINT_URL_DYNAMODB`). Call once per cold start.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_clients().await.0
}

/// Both clients from one load of the AWS configuration chain. Call once per cold start.
pub async fn aws_clients() -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(var("IDV_S3_FORCE_PATH_STYLE").is_some_and(|v| v == "true"))
        .build();
    (
        aws_sdk_dynamodb::Client::new(&shared),
        aws_sdk_s3::Client::from_conf(s3),
    )
}

/// Installs JSON logging (CloudWatch-friendly, no ANSI colours). `RUST_LOG` filters.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_ansi(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_count_and_a_unit() {
        assert_eq!(parse_duration("45s"), Some(time::Duration::seconds(45)));
        assert_eq!(parse_duration("30m"), Some(time::Duration::minutes(30)));
        assert_eq!(parse_duration("12h"), Some(time::Duration::hours(12)));
        assert_eq!(parse_duration("90d"), Some(time::Duration::days(90)));
        for bad in [
            "",
            "d",
            "90",
            "0d",
            "-1d",
            "+1d",
            "1.5d",
            "1w",
            "1 d",
            "99999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
