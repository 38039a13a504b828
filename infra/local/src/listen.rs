//! `idv-local listen`: webhooks for an integrator developing against the local stack.
//!
//! ```text
//! idv-local listen --key sk_staging_… --forward-to http://localhost:3000/hook
//! ```
//!
//! It listens on a loopback port (`--port`, default 9400), registers a webhook endpoint for
//! that URL with the key's tenancy (every event, `*`) — or reuses the one it registered
//! before, whose id and secret it keeps in a private state file — prints the secret, then
//! prints every delivery as it arrives (checking its signature) and forwards it, byte for
//! byte and with its `webhook-*` headers, to `--forward-to`. The receiver's answer goes back
//! to the service, so the delivery log and retries behave as they will in production.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What `listen` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The API key (its tenancy receives the endpoint).
    pub key: String,
    /// Where deliveries are forwarded.
    pub forward_to: String,
    /// The API (`cargo lambda watch`).
    pub api: String,
    /// The loopback port deliveries arrive on.
    pub port: u16,
    /// Where the endpoint id and secret are kept.
    pub state_dir: PathBuf,
}

/// The endpoint `listen` uses, as kept between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// `whe_…`.
    pub id: String,
    /// `whsec_…`.
    pub secret: String,
}

fn api_call(
    method: &str,
    url: &str,
    key: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let request = ureq::request(method, url)
        .set("x-api-key", key)
        .timeout(Duration::from_secs(30));
    let result = match body {
        Some(b) => request.send_json(b.clone()),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(format!("{method} {url}: {e}")),
    };
    let status = response.status();
    Ok((status, response.into_json().unwrap_or(Value::Null)))
}

/// The state file of this key and port (the key itself is never written: only a hash
/// names the file).
fn state_file(options: &Options) -> PathBuf {
    let digest = hex::encode(&Sha256::digest(options.key.as_bytes())[..8]);
    options
        .state_dir
        .join(format!("listen-{digest}-{}.json", options.port))
}

/// Reuses the endpoint registered before for this key and port, if it still exists and
/// still points here; registers a new one otherwise.
pub fn register(options: &Options, url: &str) -> Result<(Registration, bool), String> {
    let file = state_file(options);
    let endpoints = format!("{}/v1/identity/webhook-endpoints", options.api);
    if let Ok(text) = std::fs::read_to_string(&file) {
        if let Ok(saved) = serde_json::from_str::<Value>(&text) {
            if let (Some(id), Some(secret)) = (saved["id"].as_str(), saved["secret"].as_str()) {
                let (status, got) =
                    api_call("GET", &format!("{endpoints}/{id}"), &options.key, None)?;
                if status == 200 && got["data"]["attributes"]["url"] == url {
                    if got["data"]["attributes"]["status"] != "enabled" {
                        let patch = json!({"data": {"type": "webhook_endpoint", "attributes": {"status": "enabled"}}});
                        api_call(
                            "PATCH",
                            &format!("{endpoints}/{id}"),
                            &options.key,
                            Some(&patch),
                        )?;
                    }
                    return Ok((
                        Registration {
                            id: id.to_owned(),
                            secret: secret.to_owned(),
                        },
                        true,
                    ));
                }
            }
        }
    }
    let body = json!({"data": {"type": "webhook_endpoint", "attributes": {
        "url": url, "enabled_events": ["*"], "description": "idv-local listen"}}});
    let (status, created) = api_call("POST", &endpoints, &options.key, Some(&body))?;
    if status != 201 {
        return Err(format!(
            "registering the endpoint answered {status}: {created}"
        ));
    }
    let reg = Registration {
        id: created["data"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        secret: created["data"]["attributes"]["secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    std::fs::create_dir_all(&options.state_dir).map_err(|e| e.to_string())?;
    write_private(
        &file,
        &json!({"id": reg.id, "secret": reg.secret}).to_string(),
    )?;
    Ok((reg, false))
}

/// Writes a file only its owner can read.
fn write_private(path: &PathBuf, text: &str) -> Result<(), String> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options.open(path).map_err(|e| e.to_string())?;
    f.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

/// One line describing a delivery: time, type, object and status, signature verdict.
pub fn describe(body: &[u8], signature_ok: bool) -> String {
    let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let a = &event["data"]["attributes"];
    let o = &a["data"]["object"];
    format!(
        "{} {:<24} {} {} {} {}",
        a["created_at"].as_str().unwrap_or("?"),
        a["type"].as_str().unwrap_or("?"),
        o["type"].as_str().unwrap_or("?"),
        o["id"].as_str().unwrap_or("?"),
        o["status"].as_str().unwrap_or("-"),
        if signature_ok {
            "(signature ok)"
        } else {
            "(SIGNATURE INVALID)"
        }
    )
}

/// Whether any `v1,` signature of `header` was made with `secret` over this delivery.
pub fn signature_ok(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let (Some(key), Ok(ts)) = (
        idv::domain::webhook::secret_bytes(secret),
        timestamp.parse::<i64>(),
    ) else {
        return false;
    };
    let expected = idv::domain::webhook::sign(&key, id, ts, body);
    header.split(' ').any(|s| s == expected)
}

/// Serves deliveries on `listener` until the process stops.
pub async fn serve(
    listener: tokio::net::TcpListener,
    secret: String,
    forward_to: String,
) -> std::io::Result<()> {
    let shared = Arc::new((secret, forward_to));
    loop {
        let (stream, _) = listener.accept().await?;
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(delivery(&shared.0, &shared.1, request).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

fn answer(status: u16, text: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    r
}

async fn delivery(
    secret: &str,
    forward_to: &str,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let Ok(body) = request.into_body().collect().await.map(|b| b.to_bytes()) else {
        return answer(400, "unreadable body".into());
    };
    let ok = signature_ok(secret, &id, &timestamp, &body, &signature);
    println!("{}", describe(&body, ok));
    let url = forward_to.to_owned();
    // The receiver's status and body, or why it could not be reached.
    let forwarded = tokio::task::spawn_blocking(move || -> Result<(u16, String), String> {
        let sent = ureq::post(&url)
            .timeout(Duration::from_secs(10))
            .set("content-type", "application/json")
            .set("webhook-id", &id)
            .set("webhook-timestamp", &timestamp)
            .set("webhook-signature", &signature)
            .send_bytes(&body);
        match sent {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                let status = r.status();
                Ok((status, r.into_string().unwrap_or_default()))
            }
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .unwrap_or_else(|_| Err("the forwarding task failed".into()));
    match forwarded {
        Ok((status, text)) => {
            println!("  → {status} from {forward_to}");
            answer(status, text)
        }
        Err(e) => {
            println!("  → not forwarded: {e}");
            answer(502, format!("forwarding failed: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_described_and_their_signatures_checked() {
        let secret = idv::domain::webhook::secret_text(&[7u8; 32]);
        let body = br#"{"data": {"type": "event", "id": "evt_1", "attributes": {"type": "session.approved", "created_at": "2025-01-15T10:30:00.000Z", "data": {"object": {"type": "session", "id": "sess_1", "status": "approved"}}}}}"#;
        let sig = idv::domain::webhook::sign(&[7u8; 32], "evt_1", 5, body);
        assert!(signature_ok(
            &secret,
            "evt_1",
            "5",
            body,
            &format!("v1,bogus {sig}")
        ));
        assert!(!signature_ok(&secret, "evt_1", "6", body, &sig));
        assert!(!signature_ok(&secret, "evt_2", "5", body, &sig));
        let line = describe(body, true);
        assert!(
            line.contains("session.approved")
                && line.contains("sess_1")
                && line.contains("approved")
        );
        assert!(describe(b"junk", false).contains("SIGNATURE INVALID"));
    }
}
