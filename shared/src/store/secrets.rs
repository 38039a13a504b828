//! Secrets, read once per cold start: from AWS Secrets Manager in one batched call when the
//! function is given their ARNs (the template), from plain environment variables otherwise
//! (the local stack, tests).
//!
//! | secret | on AWS (the template sets the ARN) | locally |
//! |---|---|---|
//! | cursor HMAC key | `IDV_CURSOR_SECRET_ARN` | `IDV_CURSOR_SECRET` |
//! | fingerprint HMAC key | `IDV_FINGERPRINT_SECRET_ARN` | `IDV_FINGERPRINT_SECRET` |
//! | webhook sealing key | `IDV_WEBHOOK_KEY_ARN` | `IDV_WEBHOOK_KEY` or the file `IDV_WEBHOOK_KEY_FILE` |
//!
//! A function's configuration (visible to anyone allowed `lambda:GetFunctionConfiguration`,
//! in the console, in support screenshots) then holds only ARNs. [`load`] reads every secret
//! whose ARN variable is set in one `BatchGetSecretValue` call, however many the function
//! needs (the verifications function needs both), before the configuration is read;
//! [`get`] then answers from memory. A secret whose ARN is set but could not be read is
//! never replaced by the environment's value: the cold start fails instead.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::config::ConfigError;

/// A secret a function may need: the variable holding it locally, and the one holding its
/// Secrets Manager ARN on AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    /// The plain variable (local stacks, tests).
    pub variable: &'static str,
    /// The variable holding the secret's ARN (the template).
    pub arn_variable: &'static str,
}

/// The key that signs pagination cursors (API functions).
pub const CURSOR: Secret = Secret {
    variable: "IDV_CURSOR_SECRET",
    arn_variable: "IDV_CURSOR_SECRET_ARN",
};

/// The key of document fingerprints (functions that verify documents).
pub const FINGERPRINT: Secret = Secret {
    variable: "IDV_FINGERPRINT_SECRET",
    arn_variable: "IDV_FINGERPRINT_SECRET_ARN",
};

/// The key that seals webhook signing secrets (`webhooks::seal`; functions that create,
/// rotate or deliver webhooks). Locally `IDV_WEBHOOK_KEY_FILE` may name a file instead.
pub const WEBHOOK_KEY: Secret = Secret {
    variable: "IDV_WEBHOOK_KEY",
    arn_variable: "IDV_WEBHOOK_KEY_ARN",
};

/// Every secret [`load`] looks for.
pub const ALL: [Secret; 3] = [CURSOR, FINGERPRINT, WEBHOOK_KEY];

/// The values [`load`] read, by plain variable name.
static LOADED: OnceLock<HashMap<&'static str, String>> = OnceLock::new();

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Reads every secret whose ARN variable is set, in one call, and keeps them for [`get`].
/// Without any ARN variable it makes no call. Call it once per cold start before reading
/// the configuration; later calls do nothing.
pub async fn load() -> Result<(), ConfigError> {
    if LOADED.get().is_some() {
        return Ok(());
    }
    let wanted: Vec<(Secret, String)> = ALL
        .iter()
        .filter_map(|s| var(s.arn_variable).map(|arn| (*s, arn)))
        .collect();
    let values = if wanted.is_empty() {
        HashMap::new()
    } else {
        // The same configuration chain (and timeouts) as the other clients.
        let shared = crate::config::aws_shared_config().await;
        fetch(&aws_sdk_secretsmanager::Client::new(&shared), &wanted).await?
    };
    let _ = LOADED.set(values);
    Ok(())
}

/// Reads `wanted` (secret, ARN or name) in one `BatchGetSecretValue` call. Any secret
/// missing from the answer fails the whole read; what failed is logged (ids and error
/// codes only, never a value).
pub async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    wanted: &[(Secret, String)],
) -> Result<HashMap<&'static str, String>, ConfigError> {
    let Some((first, _)) = wanted.first() else {
        return Ok(HashMap::new());
    };
    let out = client
        .batch_get_secret_value()
        .set_secret_id_list(Some(wanted.iter().map(|(_, id)| id.clone()).collect()))
        .send()
        .await
        .map_err(|e| {
            tracing::error!(error = %crate::http::error::chain(&e), "could not read the secrets");
            ConfigError::Unreadable(first.arn_variable)
        })?;
    for e in out.errors() {
        tracing::error!(
            secret = e.secret_id().unwrap_or_default(),
            code = e.error_code().unwrap_or_default(),
            "could not read a secret"
        );
    }
    let mut values = HashMap::new();
    for (secret, id) in wanted {
        let value = out
            .secret_values()
            .iter()
            .find(|v| v.arn() == Some(id.as_str()) || v.name() == Some(id.as_str()))
            .and_then(|v| v.secret_string());
        match value {
            Some(v) => {
                values.insert(secret.variable, v.to_owned());
            }
            None => return Err(ConfigError::Unreadable(secret.arn_variable)),
        }
    }
    Ok(values)
}

/// The value of `secret`: what [`load`] read when its ARN variable is set (`None` if
/// [`load`] has not run), its plain variable otherwise.
pub fn get(secret: Secret) -> Option<String> {
    if var(secret.arn_variable).is_some() {
        return LOADED.get().and_then(|m| m.get(secret.variable)).cloned();
    }
    var(secret.variable)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};

    use super::*;

    /// What the stand-in endpoint received: (`X-Amz-Target`, body) per request.
    type Seen = Arc<Mutex<Vec<(String, String)>>>;

    /// A tiny stand-in for Secrets Manager: answers every `BatchGetSecretValue` with the
    /// given (ARN, value) pairs, as the real service does (JSON 1.1), over plain HTTP.
    fn stand_in(secrets: Vec<(String, String)>) -> (String, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let seen: Seen = Arc::default();
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let (mut target, mut length) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("x-amz-target:") {
                        target = v.trim().to_owned();
                    }
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                record
                    .lock()
                    .expect("lock")
                    .push((target, String::from_utf8_lossy(&body).into_owned()));
                let values: Vec<serde_json::Value> = secrets
                    .iter()
                    .map(|(arn, value)| {
                        serde_json::json!({"ARN": arn, "Name": arn.rsplit(':').next(),
                            "SecretString": value, "VersionId": "v1",
                            "VersionStages": ["AWSCURRENT"], "CreatedDate": 1.7e9})
                    })
                    .collect();
                let answer = serde_json::json!({"SecretValues": values, "Errors": []}).to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        (endpoint, seen)
    }

    fn client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .http_client(crate::config::https_client())
                .endpoint_url(endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("a", "b", None, None, "test"))
                .build(),
        )
    }

    const CURSOR_ARN: &str = "arn:aws:secretsmanager:us-east-1:1:secret:CursorSecret-AbCdEf";
    const FINGERPRINT_ARN: &str = "arn:aws:secretsmanager:us-east-1:1:secret:Fingerprint-GhIjKl";

    #[tokio::test]
    async fn both_secrets_come_in_one_batched_call() {
        let (endpoint, seen) = stand_in(vec![
            (CURSOR_ARN.into(), "cursor-secret-value-0123456789".into()),
            (
                FINGERPRINT_ARN.into(),
                "fingerprint-secret-0123456789".into(),
            ),
        ]);
        let values = fetch(
            &client(&endpoint),
            &[
                (CURSOR, CURSOR_ARN.to_owned()),
                (FINGERPRINT, FINGERPRINT_ARN.to_owned()),
            ],
        )
        .await
        .expect("read");
        assert_eq!(
            values["IDV_CURSOR_SECRET"],
            "cursor-secret-value-0123456789"
        );
        assert_eq!(
            values["IDV_FINGERPRINT_SECRET"],
            "fingerprint-secret-0123456789"
        );
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 1, "one call for both");
        assert_eq!(seen[0].0, "secretsmanager.batchgetsecretvalue");
        let body: serde_json::Value = serde_json::from_str(&seen[0].1).expect("JSON");
        assert_eq!(
            body["SecretIdList"],
            serde_json::json!([CURSOR_ARN, FINGERPRINT_ARN])
        );
    }

    #[tokio::test]
    async fn a_secret_missing_from_the_answer_fails_the_cold_start() {
        let (endpoint, _) = stand_in(vec![(CURSOR_ARN.into(), "cursor-secret-value".into())]);
        let err = fetch(
            &client(&endpoint),
            &[
                (CURSOR, CURSOR_ARN.to_owned()),
                (FINGERPRINT, FINGERPRINT_ARN.to_owned()),
            ],
        )
        .await
        .expect_err("the fingerprint secret is missing");
        assert!(matches!(
            err,
            ConfigError::Unreadable("IDV_FINGERPRINT_SECRET_ARN")
        ));
        // Nothing listening: an error, not a hang (the timeouts of `aws_shared_config`
        // bound it on AWS; here the connection is refused at once).
        let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", closed.local_addr().expect("addr"));
        drop(closed);
        assert!(
            fetch(&client(&endpoint), &[(CURSOR, CURSOR_ARN.to_owned())])
                .await
                .is_err()
        );
    }

    /// Cold init with and without the call: a fresh client (a cold start builds one) and
    /// one `BatchGetSecretValue` for both secrets against the local stand-in, against
    /// reading two environment variables. Run with `--nocapture` to see the numbers (the
    /// README quotes them).
    #[tokio::test]
    async fn cold_init_with_and_without_the_batched_call() {
        let (endpoint, _) = stand_in(vec![
            (CURSOR_ARN.into(), "cursor-secret-value-0123456789".into()),
            (
                FINGERPRINT_ARN.into(),
                "fingerprint-secret-0123456789".into(),
            ),
        ]);
        let wanted = [
            (CURSOR, CURSOR_ARN.to_owned()),
            (FINGERPRINT, FINGERPRINT_ARN.to_owned()),
        ];
        let p50 = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for _ in 0..31 {
            let t = Instant::now();
            let values = fetch(&client(&endpoint), &wanted).await.expect("read");
            with.push(t.elapsed());
            assert_eq!(values.len(), 2);
            let t = Instant::now();
            std::hint::black_box([get(CURSOR), get(FINGERPRINT)]);
            without.push(t.elapsed());
        }
        let (with, without) = (p50(with), p50(without));
        println!(
            "secrets at cold start, p50 of 31: batched call {with:?} (client built + 1 round trip, local stand-in), environment {without:?}"
        );
        assert!(with < Duration::from_secs(2), "{with:?}");
    }
}
