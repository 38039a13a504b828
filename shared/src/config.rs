//! Configuration read once per cold start from the environment.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `IDV_TABLE` | the DynamoDB table | `idv` |
//! | `IDV_BUCKET` | the documents bucket | `idv-documents` |
//! | `IDV_S3_FORCE_PATH_STYLE` | `true` for local S3 servers (no bucket subdomains) | `false` |
//! | `IDV_CURSOR_SECRET` | HMAC key that signs pagination cursors (≥ 16 bytes); on AWS `IDV_CURSOR_SECRET_ARN` names it instead ([`crate::secrets`]) | required by API functions |
//! | `IDV_SESSION_LIFETIME_SECONDS` | `expires_at` = `started_at` + this, unless given | `86400` |
//! | `IDV_KEY_CACHE_SECONDS` | how long a warm Lambda trusts a key lookup | `5` |
//! | `IDV_RATE_LIMIT_PER_SECOND` | requests per second of a key without a limit of its own | unset: no default limit |
//! | `IDV_RETENTION_PRODUCTION`, `IDV_RETENTION_STAGING` | redact sessions this long after they end (`90d`, `12h`, `30m`, `45s`) | unset: keep |
//! | `AWS_ENDPOINT_URL_DYNAMODB` | DynamoDB endpoint override (DynamoDB Local) | AWS |
//! | `AWS_ENDPOINT_URL_S3` | S3 endpoint override (the local S3 server) | AWS |
//! | `RUST_LOG` | log filter: `level` or `target=level` directives, comma-separated ([`init_tracing`]) | `info` |

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
    /// The secret a variable names could not be read (see the log for why).
    #[error("the secret {0} names could not be read")]
    Unreadable(&'static str),
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
    /// Requests per second a key may send unless it has a limit of its own; `None` leaves
    /// such keys unlimited.
    pub rate_limit: Option<u32>,
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
    /// Reads the environment (and the secrets [`crate::store::secrets::load`] read).
    pub fn from_env() -> Result<Config, ConfigError> {
        // Only the API functions sign cursors; they check the secret in `AppState::from_env`.
        let secret = crate::store::secrets::get(crate::store::secrets::CURSOR).unwrap_or_default();
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
            rate_limit: match seconds("IDV_RATE_LIMIT_PER_SECOND", 0)? {
                0 => None,
                n => Some(
                    u32::try_from(n)
                        .map_err(|_| ConfigError::Invalid("IDV_RATE_LIMIT_PER_SECOND"))?,
                ),
            },
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

/// How long any one AWS call (DynamoDB, S3, or any other client built from
/// [`aws_shared_config`]) may take, so that a dependency that hangs, refuses connections or
/// throttles ends the call with an error the API answers as `503 service_unavailable`, well
/// inside the function's own timeout (15 s for the API functions in `template.yaml`; API
/// Gateway gives up at 29 s) instead of running into it.
///
/// The SDK's retries happen inside `operation`: attempts × `attempt` plus back-off is cut
/// off there. A request whose dependency is down therefore fails within one `operation`
/// (two when the dependency goes down after the request claimed its idempotency key:
/// giving the key back is one more call).
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `IDV_AWS_CONNECT_TIMEOUT_MS` | TCP and TLS connect | `1000` |
/// | `IDV_AWS_ATTEMPT_TIMEOUT_MS` | one attempt: request sent to response headers read | `2000` |
/// | `IDV_AWS_OPERATION_TIMEOUT_MS` | one call, all attempts and back-off included | `5000` |
/// | `IDV_AWS_MAX_ATTEMPTS` | attempts per call (the SDK's standard retry mode) | `3` |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// Connect timeout.
    pub connect: Duration,
    /// Timeout of one attempt.
    pub attempt: Duration,
    /// Timeout of one operation, retries included.
    pub operation: Duration,
    /// Attempts per operation (1 = no retry).
    pub max_attempts: u32,
}

impl AwsTimeouts {
    /// The values production runs with. DynamoDB answers in milliseconds and S3's first
    /// byte comes well under a second, so a 2 s attempt only cuts off a dependency that is
    /// not answering; 5 s per call leaves room for three calls in the 15 s function timeout.
    pub const PRODUCTION: AwsTimeouts = AwsTimeouts {
        connect: Duration::from_secs(1),
        attempt: Duration::from_secs(2),
        operation: Duration::from_secs(5),
        max_attempts: 3,
    };

    /// [`AwsTimeouts::PRODUCTION`], with any `IDV_AWS_*` variable overriding its value.
    pub fn from_env() -> Result<AwsTimeouts, ConfigError> {
        Self::from_lookup(var)
    }

    /// [`AwsTimeouts::from_env`] over any variable lookup (testable without touching the
    /// process environment).
    pub fn from_lookup(
        lookup: impl Fn(&'static str) -> Option<String>,
    ) -> Result<AwsTimeouts, ConfigError> {
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match lookup(name) {
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(ConfigError::Invalid(name)),
                },
                None => Ok(default),
            }
        };
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let p = Self::PRODUCTION;
        let t = AwsTimeouts {
            connect: Duration::from_millis(number("IDV_AWS_CONNECT_TIMEOUT_MS", ms(p.connect))?),
            attempt: Duration::from_millis(number("IDV_AWS_ATTEMPT_TIMEOUT_MS", ms(p.attempt))?),
            operation: Duration::from_millis(number(
                "IDV_AWS_OPERATION_TIMEOUT_MS",
                ms(p.operation),
            )?),
            max_attempts: u32::try_from(number("IDV_AWS_MAX_ATTEMPTS", u64::from(p.max_attempts))?)
                .map_err(|_| ConfigError::Invalid("IDV_AWS_MAX_ATTEMPTS"))?,
        };
        if t.attempt > t.operation {
            return Err(ConfigError::Invalid("IDV_AWS_ATTEMPT_TIMEOUT_MS"));
        }
        Ok(t)
    }

    /// The SDK's timeout settings.
    pub fn timeout_config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    /// The SDK's retry settings: standard mode, `max_attempts`, back-off starting at a
    /// quarter of an attempt (the SDK's 1 s default would spend a fifth of the operation
    /// budget waiting).
    pub fn retry_config(&self) -> aws_config::retry::RetryConfig {
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.attempt / 4)
            .with_max_backoff(self.attempt)
    }
}

/// The timeouts of this process: the environment's, or production's if a variable does not
/// parse (logged: a client without limits is what this guards against).
fn process_timeouts() -> AwsTimeouts {
    AwsTimeouts::from_env().unwrap_or_else(|e| {
        tracing::error!(error = %e, "AWS timeouts misconfigured; using the production values");
        AwsTimeouts::PRODUCTION
    })
}

/// The HTTPS client of every AWS SDK client in this process: the SDK's own hyper 1 / rustls
/// client, with ring as rustls's crypto. The SDK's `default-https-client` feature builds the
/// same client over aws-lc, a larger crypto library: about 2 MB of each bootstrap (sessions
/// went from 12.6 to 10.1 MB with this and [`log_filter`]). Like the SDK's default, it
/// honours `HTTPS_PROXY`/`NO_PROXY` and the connect timeout of the client's configuration.
/// A new client (its own connection pool) per call: clients built from one `SdkConfig`
/// share it. Not a process-wide static: a pool's connection tasks live on the tokio runtime
/// that first used them, and a process with more than one runtime (every `#[tokio::test]`)
/// would find them gone ("dispatch task is gone").
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::{proxy::ProxyConfig, tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The standard AWS configuration chain (region, credentials, `AWS_ENDPOINT_URL_*`) with
/// this process's [`AwsTimeouts`], so every client built from it is bounded. Call once per
/// cold start.
pub async fn aws_shared_config() -> aws_config::SdkConfig {
    let t = process_timeouts();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(t.timeout_config())
        .retry_config(t.retry_config())
        .load()
        .await
}

/// A DynamoDB client from `builder` with `timeouts` (production and the tests build their
/// clients through here).
pub fn dynamodb_from(
    builder: aws_sdk_dynamodb::config::Builder,
    timeouts: &AwsTimeouts,
) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        builder
            .http_client(https_client())
            .timeout_config(timeouts.timeout_config())
            .retry_config(timeouts.retry_config())
            .build(),
    )
}

/// An S3 client from `builder` with `timeouts` (production and the tests build their
/// clients through here).
pub fn s3_from(builder: aws_sdk_s3::config::Builder, timeouts: &AwsTimeouts) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        builder
            .http_client(https_client())
            .timeout_config(timeouts.timeout_config())
            .retry_config(timeouts.retry_config())
            .build(),
    )
}

/// Builds the DynamoDB client from the standard AWS configuration chain (region,
/// credentials, `AWS_ENDPOINT_URL_DYNAMODB`). Call once per cold start.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_clients().await.0
}

/// Both clients from one load of the AWS configuration chain, each bounded by
/// [`AwsTimeouts`]. Call once per cold start.
pub async fn aws_clients() -> (aws_sdk_dynamodb::Client, aws_sdk_s3::Client) {
    let shared = aws_shared_config().await;
    let t = process_timeouts();
    let s3 = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(var("IDV_S3_FORCE_PATH_STYLE").is_some_and(|v| v == "true"));
    (
        dynamodb_from(aws_sdk_dynamodb::config::Builder::from(&shared), &t),
        s3_from(s3, &t),
    )
}

/// Installs JSON logging (CloudWatch-friendly, no ANSI colours), filtered by `RUST_LOG`
/// (see [`log_filter`]).
pub fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_ansi(false)
        // Everything reaches the filter below, which decides.
        .with_max_level(tracing::Level::TRACE)
        .finish()
        .with(log_filter(var("RUST_LOG").as_deref()))
        .try_init();
}

/// The log filter for a `RUST_LOG` value: comma-separated `level` and `target=level`
/// directives (`info`, `warn,idv=debug,aws_smithy_runtime=off`), the most specific target
/// winning; `info` when unset or when it does not parse. This is `EnvFilter`'s syntax
/// without its span and field directives (`[span{field=value}]`): `EnvFilter` compiles
/// those with `regex`, whose engine and Unicode tables cost each bootstrap about 0.5 MB
/// (capture: 3.48 -> 3.00 MB), for a feature no function's configuration uses.
pub fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::filter::Targets {
    rust_log
        // `Targets` would take `[span]` for a target's name and match nothing.
        .filter(|v| !v.contains(['[', '{']))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_sets_levels_by_target_and_defaults_to_info() {
        use tracing::Level;
        use tracing_subscriber::filter::LevelFilter;
        let info = log_filter(None);
        assert!(info.would_enable("idv::store", &Level::INFO));
        assert!(!info.would_enable("idv::store", &Level::DEBUG));
        let f = log_filter(Some("warn,idv::store=debug,aws_smithy_runtime=off"));
        assert!(f.would_enable("idv::store::sessions", &Level::DEBUG));
        assert!(!f.would_enable("idv::http", &Level::INFO));
        assert!(f.would_enable("idv::http", &Level::WARN));
        assert!(!f.would_enable("aws_smithy_runtime::client", &Level::ERROR));
        assert_eq!(
            log_filter(Some("debug")).default_level(),
            Some(LevelFilter::DEBUG)
        );
        // What does not parse (here an EnvFilter span directive) falls back to `info`.
        for bad in ["[request]=debug", "idv=loud"] {
            assert_eq!(
                log_filter(Some(bad)).default_level(),
                Some(LevelFilter::INFO),
                "{bad}"
            );
        }
    }

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

    /// The smallest `Timeout:` of the template's functions (the Globals value and every
    /// per-function override).
    fn shortest_function_timeout() -> Duration {
        include_str!("../../template.yaml")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Timeout:"))
            .filter_map(|v| v.trim().parse::<u64>().ok())
            .min()
            .map(Duration::from_secs)
            .expect("template.yaml sets function timeouts")
    }

    #[test]
    fn production_timeouts_end_a_call_well_inside_the_function_timeout() {
        let p = AwsTimeouts::PRODUCTION;
        let function = shortest_function_timeout();
        assert_eq!(function, Duration::from_secs(15));
        // A request to a dependency that went down mid-request makes at most two calls
        // that run into the limit (the failing one, and giving its idempotency key back);
        // a third fits too, before the function's timeout and API Gateway's 29 s.
        assert!(p.operation * 3 <= function, "{p:?}");
        assert!(p.attempt < p.operation && p.connect < p.attempt, "{p:?}");
        assert!(
            p.max_attempts >= 2,
            "the SDK still retries a dropped connection"
        );
        assert_eq!(AwsTimeouts::from_lookup(|_| None).expect("defaults"), p);
    }

    #[tokio::test]
    async fn clients_are_built_with_the_timeouts() {
        let p = AwsTimeouts::PRODUCTION;
        let ddb = dynamodb_from(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest()),
            &p,
        );
        let s3 = s3_from(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest()),
            &p,
        );
        for (timeouts, retries) in [
            (ddb.config().timeout_config(), ddb.config().retry_config()),
            (s3.config().timeout_config(), s3.config().retry_config()),
        ] {
            let t = timeouts.expect("timeouts set");
            assert_eq!(t.connect_timeout(), Some(p.connect));
            assert_eq!(t.operation_attempt_timeout(), Some(p.attempt));
            assert_eq!(t.operation_timeout(), Some(p.operation));
            assert_eq!(retries.expect("retries set").max_attempts(), p.max_attempts);
        }
    }

    #[test]
    fn timeouts_are_configurable_and_checked() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &'static str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let t = AwsTimeouts::from_lookup(env(&[
            ("IDV_AWS_CONNECT_TIMEOUT_MS", "100"),
            ("IDV_AWS_ATTEMPT_TIMEOUT_MS", "200"),
            ("IDV_AWS_OPERATION_TIMEOUT_MS", "500"),
            ("IDV_AWS_MAX_ATTEMPTS", "2"),
        ]))
        .expect("valid");
        assert_eq!(
            t,
            AwsTimeouts {
                connect: Duration::from_millis(100),
                attempt: Duration::from_millis(200),
                operation: Duration::from_millis(500),
                max_attempts: 2,
            }
        );
        for bad in [
            &[("IDV_AWS_ATTEMPT_TIMEOUT_MS", "0")][..],
            &[("IDV_AWS_OPERATION_TIMEOUT_MS", "5s")][..],
            &[("IDV_AWS_MAX_ATTEMPTS", "-1")][..],
            // An attempt longer than the whole call is a typo, not a setting.
            &[("IDV_AWS_ATTEMPT_TIMEOUT_MS", "9000")][..],
        ] {
            assert!(AwsTimeouts::from_lookup(env(bad)).is_err(), "{bad:?}");
        }
    }
}
