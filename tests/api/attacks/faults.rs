//! Attacks: faults (see `attacks/mod.rs`). A dependency that hangs, refuses connections or
//! throttles must cost a request a bounded time, answer `503 service_unavailable` with
//! `Retry-After`, and leave nothing half written; a write whose answer was lost must not be
//! applied twice.
//!
//! The routers' clients are pointed ([`TestApp::with_dependencies_at`]) at a listener that
//! accepts and never answers, at a closed port, or at a proxy in front of the real DynamoDB
//! Local that holds, drops or throttles chosen operations. They are built with the
//! production limits (`AwsTimeouts::PRODUCTION`), so the times measured here are the ones a
//! deployed function would see. What was written is checked afterwards on the real table
//! and bucket with the harness's own clients.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use idv::config::AwsTimeouts;
use idv::domain::ids::SessionId;
use idv_tests::{jpeg_bytes, put_upload, Reply, TestApp};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The promise: a request whose dependency is down answers 503 within one operation
/// timeout (5 s in production) plus this much for the request's own work and a loaded
/// test machine.
const SLACK: Duration = Duration::from_millis(1500);

fn bound() -> Duration {
    AwsTimeouts::PRODUCTION.operation + SLACK
}

/// Connections a fake server holds at most; past that it closes new ones at once (a test
/// makes a handful).
const MAX_HELD: usize = 64;

/// A TCP listener on 127.0.0.1 that accepts connections and never answers (reads nothing,
/// writes nothing, keeps them open). Stops when dropped.
struct Silent {
    url: String,
    task: JoinHandle<()>,
}

impl Silent {
    async fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                if held.len() < MAX_HELD {
                    held.push(socket);
                }
            }
        });
        Silent { url, task }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A URL on 127.0.0.1 where nothing listens: connections are refused.
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// What the proxy does to a matching DynamoDB operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Never forwards it and never answers.
    Hold,
    /// Forwards it (DynamoDB applies it) and never answers: the answer is lost.
    LoseAnswer,
    /// Answers `400 ThrottlingException` without forwarding.
    Throttle,
    /// Answers `500 InternalServerError` without forwarding.
    ServerError,
}

/// The proxy's rule: `fault` for operations whose `X-Amz-Target` ends with `.{op}`, the
/// first `times` of them (then they pass).
struct Rule {
    op: &'static str,
    fault: Fault,
    times: AtomicUsize,
}

/// An HTTP/1.1 proxy on 127.0.0.1 in front of the real DynamoDB Local that applies a
/// [`Rule`] and forwards everything else. Stops when dropped.
struct Proxy {
    url: String,
    rule: Arc<Mutex<Option<Arc<Rule>>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let rule: Arc<Mutex<Option<Arc<Rule>>>> = Arc::default();
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("DynamoDB Local endpoint is http://ip:port");
        let shared = rule.clone();
        let task = tokio::spawn(async move {
            let open = Arc::new(AtomicUsize::new(0));
            while let Ok((socket, _)) = listener.accept().await {
                if open.load(Ordering::SeqCst) >= MAX_HELD {
                    continue;
                }
                open.fetch_add(1, Ordering::SeqCst);
                let (rule, open) = (shared.clone(), open.clone());
                tokio::spawn(async move {
                    let _ = serve(socket, upstream, rule).await;
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Proxy { url, rule, task }
    }

    /// Applies `fault` to the next `times` calls of `op`.
    fn fault(&self, op: &'static str, fault: Fault, times: usize) {
        *self.rule.lock().expect("lock") = Some(Arc::new(Rule {
            op,
            fault,
            times: AtomicUsize::new(times),
        }));
    }

    /// Forwards everything again.
    fn heal(&self) {
        *self.rule.lock().expect("lock") = None;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one HTTP/1.1 message (head and a `Content-Length` or chunked body) from `s`;
/// `None` at a clean end of stream.
async fn read_message(s: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await? == 0 {
            return Ok(None);
        }
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
    };
    if let Some(n) = header("content-length:").and_then(|v| v.parse::<usize>().ok()) {
        let mut body = vec![0u8; n];
        s.read_exact(&mut body).await?;
        raw.extend(body);
    } else if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut line = Vec::new();
            while !line.ends_with(b"\r\n") {
                s.read_exact(&mut byte).await?;
                line.push(byte[0]);
            }
            raw.extend(&line);
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&line)
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or("0"),
                16,
            )
            .unwrap_or(0);
            let mut chunk = vec![0u8; size + 2];
            s.read_exact(&mut chunk).await?;
            raw.extend(chunk);
            if size == 0 {
                break;
            }
        }
    }
    Ok(Some((head, raw)))
}

/// One client connection: request by request, forward or fault.
async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    rule: Arc<Mutex<Option<Arc<Rule>>>>,
) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream).await?;
    while let Some((head, request)) = read_message(&mut client).await? {
        let target = head
            .lines()
            .find_map(|l| l.strip_prefix("x-amz-target:"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        let current = rule.lock().expect("lock").clone();
        let fault = current.and_then(|r| {
            let hit = target.ends_with(&format!(".{}", r.op.to_ascii_lowercase()))
                && r.times
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
            hit.then_some(r.fault)
        });
        match fault {
            Some(Fault::Hold) => return hold(client).await,
            Some(f @ (Fault::Throttle | Fault::ServerError)) => {
                let (status, body) = if f == Fault::Throttle {
                    (
                        "400 Bad Request",
                        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
                    )
                } else {
                    (
                        "500 Internal Server Error",
                        r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#,
                    )
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                client.write_all(answer.as_bytes()).await?;
            }
            Some(Fault::LoseAnswer) => {
                server.write_all(&request).await?;
                read_message(&mut server).await?;
                return hold(client).await;
            }
            None => {
                server.write_all(&request).await?;
                let Some((_, answer)) = read_message(&mut server).await? else {
                    return Ok(());
                };
                client.write_all(&answer).await?;
            }
        }
    }
    Ok(())
}

/// Keeps a connection open without answering until the client gives up on it.
async fn hold(mut client: TcpStream) -> std::io::Result<()> {
    let mut sink = [0u8; 1024];
    while client.read(&mut sink).await? > 0 {}
    Ok(())
}

/// An app whose key cache trusts its key for the whole test, primed with one request, so
/// requests reach their handler's own calls even when DynamoDB is down.
async fn primed_app() -> TestApp {
    let app = TestApp::with_key_cache(Duration::from_secs(600)).await;
    let r = app.get("/v1/identity/sessions").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    app
}

/// Sends a request and measures it. A request still running at twice the bound has hung
/// (on AWS the function's timeout would end it with API Gateway's own 504): fail then
/// rather than wait.
async fn timed(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (Reply, Duration) {
    let start = Instant::now();
    let call = app.call(method.clone(), path, &app.key, body, headers);
    match tokio::time::timeout(bound() * 2, call).await {
        Ok(r) => (r, start.elapsed()),
        Err(_) => panic!("{method} {path} had not answered after {:?}", bound() * 2),
    }
}

/// The answer a request gets when its dependency is down.
fn assert_unavailable(what: &str, (r, took): &(Reply, Duration)) {
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
        "{what}: {}",
        r.json
    );
    assert!(
        r.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some(),
        "{what}: Retry-After in seconds"
    );
    let body = r.json.to_string();
    for leak in ["dispatch", "timeout", "connection", "127.0.0.1", "SdkError"] {
        assert!(
            !body.contains(leak),
            "{what}: the body names {leak}: {body}"
        );
    }
    assert!(
        *took <= bound(),
        "{what} took {took:?}, more than the promised {:?}",
        bound()
    );
    eprintln!("{what}: 503 after {took:?}");
}

fn session_body() -> Value {
    json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}})
}

/// A read, a create and a transition against `app`, at the same time. `session` is a
/// completed session (approvable).
async fn read_create_transition(app: &TestApp, session: &str) -> [(Reply, Duration); 3] {
    let body = session_body();
    let show = format!("/v1/identity/sessions/{session}");
    let approve = format!("/v1/identity/sessions/{session}/approve");
    let (read, create, transition) = tokio::join!(
        timed(app, Method::GET, &show, None, &[]),
        timed(app, Method::POST, "/v1/identity/sessions", Some(&body), &[]),
        timed(app, Method::POST, &approve, None, &[]),
    );
    [read, create, transition]
}

/// Checks on the real table, with the harness's own client, that the faulty requests
/// wrote nothing: the same items, and the session still `completed`.
async fn assert_nothing_written(app: &TestApp, before: usize, session: &str) {
    assert_eq!(app.scan_all().await.len(), before, "items were written");
    let stored = app
        .store
        .get_session(&app.tenancy, SessionId::parse(session).expect("id"))
        .await
        .expect("read")
        .expect("session");
    assert_eq!(stored.status().as_str(), "completed");
}

#[tokio::test]
async fn dynamodb_that_never_answers_gives_503_in_bounded_time() {
    let app = primed_app().await;
    let session = app.create_session(None).await;
    app.complete_session(&session).await;
    let before = app.scan_all().await.len();
    let silent = Silent::start().await;
    let faulty = primed_app_pointed(app, Some(&silent.url), None);

    let [read, create, transition] = read_create_transition(&faulty, &session).await;
    assert_unavailable("read", &read);
    assert_unavailable("create", &create);
    assert_unavailable("transition", &transition);
    // Ended by the limits, not by luck: one attempt alone is 2 s.
    assert!(read.1 >= AwsTimeouts::PRODUCTION.attempt, "{:?}", read.1);
    assert_nothing_written(&faulty, before, &session).await;
}

#[tokio::test]
async fn dynamodb_refusing_connections_gives_503() {
    let app = primed_app().await;
    let session = app.create_session(None).await;
    app.complete_session(&session).await;
    let before = app.scan_all().await.len();
    let closed = closed_port().await;
    let faulty = primed_app_pointed(app, Some(&closed), None);

    let [read, create, transition] = read_create_transition(&faulty, &session).await;
    assert_unavailable("read", &read);
    assert_unavailable("create", &create);
    assert_unavailable("transition", &transition);
    assert_nothing_written(&faulty, before, &session).await;
}

#[tokio::test]
async fn dynamodb_that_throttles_gives_503() {
    let app = primed_app().await;
    let session = app.create_session(None).await;
    app.complete_session(&session).await;
    let before = app.scan_all().await.len();
    let proxy = Proxy::start(idv_tests::dynamodb_endpoint()).await;
    let faulty = primed_app_pointed(app, Some(&proxy.url), None);

    let show = format!("/v1/identity/sessions/{session}");
    let approve = format!("/v1/identity/sessions/{session}/approve");
    proxy.fault("GetItem", Fault::Throttle, usize::MAX);
    let (read, transition) = tokio::join!(
        timed(&faulty, Method::GET, &show, None, &[]),
        timed(&faulty, Method::POST, &approve, None, &[]),
    );
    assert_unavailable("read, reads throttled", &read);
    assert_unavailable("transition, reads throttled", &transition);

    proxy.fault("TransactWriteItems", Fault::Throttle, usize::MAX);
    let body = session_body();
    let (create, transition) = tokio::join!(
        timed(
            &faulty,
            Method::POST,
            "/v1/identity/sessions",
            Some(&body),
            &[]
        ),
        timed(&faulty, Method::POST, &approve, None, &[]),
    );
    assert_unavailable("create, writes throttled", &create);
    assert_unavailable("transition, writes throttled", &transition);
    proxy.heal();
    assert_nothing_written(&faulty, before, &session).await;
}

#[tokio::test]
async fn dynamodb_answering_server_errors_gives_503() {
    let app = primed_app().await;
    let session = app.create_session(None).await;
    app.complete_session(&session).await;
    let before = app.scan_all().await.len();
    let proxy = Proxy::start(idv_tests::dynamodb_endpoint()).await;
    let faulty = primed_app_pointed(app, Some(&proxy.url), None);

    let show = format!("/v1/identity/sessions/{session}");
    let approve = format!("/v1/identity/sessions/{session}/approve");
    proxy.fault("GetItem", Fault::ServerError, usize::MAX);
    let read = timed(&faulty, Method::GET, &show, None, &[]).await;
    assert_unavailable("read, reads failing with 500", &read);

    proxy.fault("TransactWriteItems", Fault::ServerError, usize::MAX);
    let body = session_body();
    let (create, transition) = tokio::join!(
        timed(
            &faulty,
            Method::POST,
            "/v1/identity/sessions",
            Some(&body),
            &[]
        ),
        timed(&faulty, Method::POST, &approve, None, &[]),
    );
    assert_unavailable("create, writes failing with 500", &create);
    assert_unavailable("transition, writes failing with 500", &transition);
    proxy.heal();
    assert_nothing_written(&faulty, before, &session).await;
}

/// The write itself never answers, after the request claimed its idempotency key: the
/// write may have happened, so the key stays claimed and a retry gets 409 instead of
/// running again.
#[tokio::test]
async fn dynamodb_that_never_answers_a_write_keeps_the_idempotency_key() {
    let app = primed_app().await;
    let before = app.scan_all().await;
    let proxy = Proxy::start(idv_tests::dynamodb_endpoint()).await;
    let faulty = primed_app_pointed(app, Some(&proxy.url), None);
    proxy.fault("TransactWriteItems", Fault::Hold, usize::MAX);

    let key = [("idempotency-key", "create-once")];
    let first = timed(
        &faulty,
        Method::POST,
        "/v1/identity/sessions",
        Some(&session_body()),
        &key,
    )
    .await;
    assert_unavailable("create", &first);
    proxy.heal();
    let retry = faulty
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &faulty.key,
            Some(&session_body()),
            &key,
        )
        .await;
    assert_eq!(
        (retry.status, retry.code()),
        (StatusCode::CONFLICT, "conflict"),
        "the first may have committed: {}",
        retry.json
    );
    // Only the claim was written: no session, no event.
    let entity =
        |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>| {
            format!(
                "{} {}",
                i.get("entity")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default(),
                i.get("pk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            )
        };
    let old: std::collections::HashSet<String> = before.iter().map(entity).collect();
    let added: Vec<String> = faulty
        .scan_all()
        .await
        .iter()
        .map(entity)
        .filter(|e| !old.contains(e))
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert!(added[0].starts_with("idempotency "), "{added:?}");
    let listed = faulty.get("/v1/identity/sessions").await;
    assert_eq!(listed.json["data"], json!([]), "{}", listed.json);
}

/// A request that failed before writing anything gives its key back: the retry runs.
#[tokio::test]
async fn read_that_fails_before_any_write_releases_the_idempotency_key() {
    let app = primed_app().await;
    let session = app.create_session(None).await;
    app.complete_session(&session).await;
    let proxy = Proxy::start(idv_tests::dynamodb_endpoint()).await;
    let faulty = primed_app_pointed(app, Some(&proxy.url), None);
    proxy.fault("GetItem", Fault::Hold, usize::MAX);

    let key = [("idempotency-key", "approve-once")];
    let path = format!("/v1/identity/sessions/{session}/approve");
    let first = timed(&faulty, Method::POST, &path, None, &key).await;
    assert_unavailable("approve", &first);
    proxy.heal();
    let retry = faulty
        .call(Method::POST, &path, &faulty.key, None, &key)
        .await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.json);
    assert_eq!(retry.attr("status"), "approved");
}

/// DynamoDB applied the transaction but its answer was lost: the SDK's retry carries the
/// same `ClientRequestToken`, so the transition is applied once and the request succeeds.
#[tokio::test]
async fn transaction_whose_answer_is_lost_is_applied_once() {
    let app = primed_app().await;
    let session = app.create_session(None).await;
    app.complete_session(&session).await;
    let proxy = Proxy::start(idv_tests::dynamodb_endpoint()).await;
    let faulty = primed_app_pointed(app, Some(&proxy.url), None);
    proxy.fault("TransactWriteItems", Fault::LoseAnswer, 1);

    let (r, took) = timed(
        &faulty,
        Method::POST,
        &format!("/v1/identity/sessions/{session}/approve"),
        None,
        &[],
    )
    .await;
    eprintln!("approve with a lost answer: {} after {took:?}", r.status);
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.attr("status"), "approved");
    let events = faulty
        .get(&format!("/v1/identity/sessions/{session}/events"))
        .await;
    let approvals = events.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["attributes"]["type"] == "session.approved")
        .count();
    assert_eq!(approvals, 1, "{}", events.json);
}

/// A document whose upload event was lost: submit asks S3 about the file.
async fn document_awaiting_submit(app: &TestApp) -> String {
    let bytes = jpeg_bytes(800, 5);
    let created = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&json!({"data": {"type": "document/idv", "attributes": {
                "document_type": "driving_license",
                "files": [{"filename": "f.jpg", "content_type": "image/jpeg",
                           "byte_size": bytes.len(), "side": "front"}]}}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    created.id()
}

async fn assert_document_untouched(app: &TestApp, doc: &str) {
    let r = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(r.attr("status"), "pending", "{}", r.json);
    assert_eq!(r.attr("files")[0]["status"], "pending_upload", "{}", r.json);
}

#[tokio::test]
async fn s3_that_never_answers_gives_503() {
    let app = primed_app().await;
    let doc = document_awaiting_submit(&app).await;
    let silent = Silent::start().await;
    let faulty = primed_app_pointed(app, None, Some(&silent.url));

    let submit = timed(
        &faulty,
        Method::POST,
        &format!("/v1/identity/documents/idvs/{doc}/submit"),
        None,
        &[],
    )
    .await;
    assert_unavailable("submit", &submit);
    assert_document_untouched(&faulty, &doc).await;
}

#[tokio::test]
async fn s3_refusing_connections_gives_503() {
    let app = primed_app().await;
    let doc = document_awaiting_submit(&app).await;
    let closed = closed_port().await;
    let faulty = primed_app_pointed(app, None, Some(&closed));

    let submit = timed(
        &faulty,
        Method::POST,
        &format!("/v1/identity/documents/idvs/{doc}/submit"),
        None,
        &[],
    )
    .await;
    assert_unavailable("submit", &submit);
    assert_document_untouched(&faulty, &doc).await;
}

/// `app` with its routers' clients at the given endpoints, production limits.
fn primed_app_pointed(app: TestApp, dynamodb: Option<&str>, s3: Option<&str>) -> TestApp {
    app.with_dependencies_at(dynamodb, s3, &AwsTimeouts::PRODUCTION)
}
