//! Sending one delivery: an HTTP/1.1 POST over a connection to the address the guard
//! vetted (`guard::resolve`), never to a name resolved again. TLS checks the certificate
//! against the host as written in the URL (the platform's roots). Redirects are not followed
//! (a 3xx is a failure), the whole attempt — connect, TLS, request, answer — must finish
//! within the timeout (10 s), and only the first [`RESPONSE_BODY_MAX`] bytes of the answer
//! are read.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;

use super::guard::Target;
use crate::domain::webhook::RESPONSE_BODY_MAX;

/// What one attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// The first bytes of its answer (lossy UTF-8).
    pub body: Option<String>,
    /// Milliseconds the attempt took.
    pub duration_ms: u64,
    /// Why it failed (`None`: a 2xx in time).
    pub error: Option<&'static str>,
}

impl Outcome {
    /// Whether the receiver accepted the delivery.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// Sends deliveries. Built once per cold start; the platform's root certificates are loaded
/// at the first HTTPS delivery, not at the cold start: reading them (a bundle, and every
/// file of a directory of certificates) takes milliseconds, and of the functions that hold a
/// sender only the delivery worker sends.
#[derive(Clone)]
pub struct Sender {
    tls: Arc<OnceLock<tokio_rustls::TlsConnector>>,
    timeout: Duration,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Sender {
    /// A sender whose attempts end after `timeout`.
    pub fn new(timeout: Duration) -> Sender {
        Sender {
            tls: Arc::default(),
            timeout,
        }
    }

    /// The TLS client: the platform's roots, ring's TLS 1.2 and 1.3 (built once per process).
    fn tls(&self) -> &tokio_rustls::TlsConnector {
        self.tls.get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth());
            let config = match config {
                Ok(c) => c,
                // The provider's defaults always include TLS 1.2 and 1.3; keep a working
                // client rather than panic should that ever change.
                Err(_) => rustls::ClientConfig::builder()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            };
            tokio_rustls::TlsConnector::from(Arc::new(config))
        })
    }

    /// POSTs `body` with `headers` to `target` over a connection to `addr`.
    pub async fn post(
        &self,
        target: &Target,
        addr: SocketAddr,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Outcome {
        let started = Instant::now();
        let attempt = async {
            let tcp = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|_| "connect_failed")?;
            let _ = tcp.set_nodelay(true);
            if target.https {
                let name = ServerName::try_from(target.host.clone()).map_err(|_| "tls_failed")?;
                let tls = self
                    .tls()
                    .connect(name, tcp)
                    .await
                    .map_err(|_| "tls_failed")?;
                exchange(TokioIo::new(tls), target, headers, body).await
            } else {
                exchange(TokioIo::new(tcp), target, headers, body).await
            }
        };
        let result = tokio::time::timeout(self.timeout, attempt).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Err(_) => Outcome {
                status: None,
                body: None,
                duration_ms,
                error: Some("timeout"),
            },
            Ok(Err(code)) => Outcome {
                status: None,
                body: None,
                duration_ms,
                error: Some(code),
            },
            Ok(Ok((status, text))) => Outcome {
                status: Some(status),
                body: Some(text),
                duration_ms,
                error: match status {
                    200..=299 => None,
                    300..=399 => Some("redirect"),
                    _ => Some("http_status"),
                },
            },
        }
    }
}

/// One request and the head of its answer over an open connection.
async fn exchange<I>(
    io: I,
    target: &Target,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> Result<(u16, String), &'static str>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|_| "connect_failed")?;
    let driver = tokio::spawn(conn);
    let mut request = http::Request::post(target.path.as_str())
        .header(http::header::HOST, target.authority())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "idv-webhooks/1");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| "request_failed")?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|_| "request_failed")?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut head = Vec::new();
    while head.len() < RESPONSE_BODY_MAX {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    head.extend_from_slice(data);
                }
            }
            // An answer cut short still has its status; what arrived is kept.
            Some(Err(_)) | None => break,
        }
    }
    head.truncate(RESPONSE_BODY_MAX);
    driver.abort();
    Ok((status, String::from_utf8_lossy(&head).into_owned()))
}
