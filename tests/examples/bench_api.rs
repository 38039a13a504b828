//! The API's own overhead against DynamoDB Local: for GET session, POST session, approve and
//! a 15-item list, p50/p99 through the sessions router in process (`tower::ServiceExt::oneshot`,
//! the same clients as the tests) next to the bare aws-sdk-dynamodb calls that endpoint makes,
//! interleaved in the same run. The bare calls are the router's own: one request per endpoint
//! is recorded by an SDK interceptor, and each bare iteration sends those operations again as
//! they were (conditions, ConditionChecks, client token), with the ids that request minted
//! minted afresh and, for approve, another session in the same state: the same work for
//! DynamoDB, without the router around it. Also the DynamoDB round trips each request made
//! (key lookup cached as on a warm Lambda), and the process CPU time of one
//! POST /verifications of a licence back.
//!
//! `infra/bench.sh` runs it with the servers it needs. Not a pass/fail test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use axum::body::Body;
use axum::Router;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use idv::http::AppState;
use idv::store::Store;
use idv_checks::fixtures::{licence_back_jpeg, LicenceFields, Variant};
use idv_tests::{put_upload, Operation, Operations, TestApp};
use serde_json::{json, Value};
use tower::ServiceExt;
use ulid::Ulid;

/// Id substitutions for one replay: each (from, to) pair replaced in every string.
type Ids = Vec<(String, String)>;

/// The ULIDs in `ops` (runs of 26 Crockford characters that parse), each once.
fn ulids_in(ops: &[Operation]) -> Vec<Ulid> {
    let text = format!("{ops:?}");
    let mut found: Vec<Ulid> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() == 26)
        .filter_map(|w| Ulid::from_string(w).ok())
        .filter(|u| u.to_string().len() == 26)
        .collect();
    found.sort();
    found.dedup();
    found
}

fn rewrite_str(s: &str, ids: &Ids) -> String {
    ids.iter()
        .fold(s.to_owned(), |s, (from, to)| s.replace(from.as_str(), to))
}

fn rewrite_av(av: &AttributeValue, ids: &Ids) -> AttributeValue {
    match av {
        AttributeValue::S(s) => AttributeValue::S(rewrite_str(s, ids)),
        AttributeValue::Ss(v) => {
            AttributeValue::Ss(v.iter().map(|s| rewrite_str(s, ids)).collect())
        }
        AttributeValue::L(v) => AttributeValue::L(v.iter().map(|a| rewrite_av(a, ids)).collect()),
        AttributeValue::M(m) => AttributeValue::M(rewrite_map(m, ids)),
        other => other.clone(),
    }
}

fn rewrite_map(m: &HashMap<String, AttributeValue>, ids: &Ids) -> HashMap<String, AttributeValue> {
    m.iter()
        .map(|(k, v)| (k.clone(), rewrite_av(v, ids)))
        .collect()
}

fn rewrite_opt(
    m: &Option<HashMap<String, AttributeValue>>,
    ids: &Ids,
) -> Option<HashMap<String, AttributeValue>> {
    m.as_ref().map(|m| rewrite_map(m, ids))
}

/// `op` as it would be sent for another resource: every id in `ids` replaced in its keys,
/// items and expression values; conditions, ConditionChecks and the shape kept as recorded;
/// a transaction gets a fresh client token (DynamoDB refuses a token reused with other
/// parameters).
fn rewrite(op: &Operation, ids: &Ids) -> Operation {
    match op {
        Operation::GetItem(i) => {
            let mut i = i.clone();
            i.key = rewrite_opt(&i.key, ids);
            Operation::GetItem(i)
        }
        Operation::Query(i) => {
            let mut i = i.clone();
            i.expression_attribute_values = rewrite_opt(&i.expression_attribute_values, ids);
            i.exclusive_start_key = rewrite_opt(&i.exclusive_start_key, ids);
            Operation::Query(i)
        }
        Operation::TransactWriteItems(i) => {
            let mut i = i.clone();
            for t in i.transact_items.iter_mut().flatten() {
                if let Some(p) = t.put.as_mut() {
                    p.item = rewrite_map(&p.item, ids);
                    p.expression_attribute_values =
                        rewrite_opt(&p.expression_attribute_values, ids);
                }
                if let Some(d) = t.delete.as_mut() {
                    d.key = rewrite_map(&d.key, ids);
                    d.expression_attribute_values =
                        rewrite_opt(&d.expression_attribute_values, ids);
                }
                if let Some(u) = t.update.as_mut() {
                    u.key = rewrite_map(&u.key, ids);
                    u.expression_attribute_values =
                        rewrite_opt(&u.expression_attribute_values, ids);
                }
                if let Some(c) = t.condition_check.as_mut() {
                    c.key = rewrite_map(&c.key, ids);
                    c.expression_attribute_values =
                        rewrite_opt(&c.expression_attribute_values, ids);
                }
            }
            if i.client_request_token.is_some() {
                i.client_request_token = Some(fresh_ulid());
            }
            Operation::TransactWriteItems(i)
        }
        Operation::Other(s) => Operation::Other(s.clone()),
    }
}

/// Sends one operation with the bare SDK, exactly as given; false if DynamoDB refused it.
async fn send(client: &Client, op: &Operation) -> bool {
    match op {
        Operation::GetItem(i) => client
            .get_item()
            .set_table_name(i.table_name.clone())
            .set_key(i.key.clone())
            .set_consistent_read(i.consistent_read)
            .set_projection_expression(i.projection_expression.clone())
            .set_expression_attribute_names(i.expression_attribute_names.clone())
            .send()
            .await
            .is_ok(),
        Operation::Query(i) => client
            .query()
            .set_table_name(i.table_name.clone())
            .set_index_name(i.index_name.clone())
            .set_key_condition_expression(i.key_condition_expression.clone())
            .set_filter_expression(i.filter_expression.clone())
            .set_projection_expression(i.projection_expression.clone())
            .set_expression_attribute_names(i.expression_attribute_names.clone())
            .set_expression_attribute_values(i.expression_attribute_values.clone())
            .set_limit(i.limit)
            .set_scan_index_forward(i.scan_index_forward)
            .set_exclusive_start_key(i.exclusive_start_key.clone())
            .set_consistent_read(i.consistent_read)
            .set_select(i.select.clone())
            .send()
            .await
            .is_ok(),
        Operation::TransactWriteItems(i) => client
            .transact_write_items()
            .set_transact_items(i.transact_items.clone())
            .set_client_request_token(i.client_request_token.clone())
            .send()
            .await
            .is_ok(),
        Operation::Other(_) => false,
    }
}

fn describe(ops: &[Operation]) -> String {
    ops.iter()
        .map(Operation::describe)
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A new ULID, as the store mints them.
fn fresh_ulid() -> String {
    idv::domain::ids::new_ulid(time::OffsetDateTime::now_utc()).to_string()
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Adds up the time a client's operations take from the SDK's first look at their input to
/// the end of their execution (serialisation, signing, the round trip, parsing, retries):
/// what the timed router spends in the SDK, so that the rest of its time is its own.
#[derive(Debug, Clone, Default)]
struct SdkTime(Arc<Mutex<(Option<Instant>, Duration)>>);

impl SdkTime {
    /// The time spent in operations since the last call.
    fn take(&self) -> Duration {
        std::mem::take(&mut self.0.lock().expect("sdk time").1)
    }
}

impl aws_sdk_dynamodb::config::Intercept for SdkTime {
    fn name(&self) -> &'static str {
        "time DynamoDB operations"
    }

    fn read_before_execution(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.lock().expect("sdk time").0 = Some(Instant::now());
        Ok(())
    }

    fn read_after_execution(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let mut t = self.0.lock().expect("sdk time");
        if let Some(started) = t.0.take() {
            t.1 += started.elapsed();
        }
        Ok(())
    }
}

/// One request through `router`: its status and body bytes (what an integrator receives;
/// the timed loops stop here, before any parsing on the caller's side).
async fn send_request(
    router: &Router,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, bytes::Bytes) {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("x-api-key", key);
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let body = body.map_or_else(Body::empty, |v| Body::from(v.to_string()));
    let response = router
        .clone()
        .oneshot(b.body(body).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, bytes)
}

/// [`send_request`], its body parsed.
async fn call(
    router: &Router,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let (status, bytes) = send_request(router, key, method, path, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// CPU time of this process (all threads), from /proc: nanosecond resolution, no unsafe code.
fn process_cpu() -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

/// Serves `router` on a local port from its own multi-threaded runtime (one process's
/// worth of worker threads), as a function would behind a load balancer.
fn serve(router: Router) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            router.clone().oneshot(req.map(Body::new))
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

/// `concurrency` closed-loop clients, one keep-alive connection each, GETting `path` for
/// `duration`: (requests per second, p50 ms, p99 ms, errors).
async fn load(
    addr: std::net::SocketAddr,
    path: &str,
    key: &str,
    concurrency: usize,
    duration: Duration,
) -> (f64, f64, f64, usize) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let path = path.to_owned();
        let key = key.to_owned();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let _ = stream.set_nodelay(true);
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(conn);
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while started.elapsed() < duration {
                let req = Request::builder()
                    .uri(&path)
                    .header("host", "localhost")
                    .header("x-api-key", &key)
                    .body(http_body_util::Empty::<bytes::Bytes>::new())
                    .expect("request");
                let t = Instant::now();
                match sender.send_request(req).await {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        let _ = resp.into_body().collect().await;
                        if !ok {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client task");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    (
        all.len() as f64 / elapsed,
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        errors,
    )
}

struct Row {
    endpoint: &'static str,
    ops: String,
    round_trips: usize,
    router: Vec<Duration>,
    /// Each router request's time outside the SDK's operations.
    own: Vec<Duration>,
    bare: Vec<Duration>,
    failures: usize,
    bare_refused: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let app = TestApp::new().await;
    // The sessions function as a warm Lambda runs it (key lookup cached), and the same over a
    // client that records each operation's input: one request of each endpoint goes through
    // the recording one, the timed ones through the plain one.
    let ops = Operations::default();
    let recording = Client::from_conf(
        app.client
            .config()
            .to_builder()
            .interceptor(ops.clone())
            .build(),
    );
    let mut config = (*app.state.config).clone();
    config.key_cache_ttl = Duration::from_secs(3600);
    let state = |client: Client| {
        AppState::new(
            Store::new(client, app.table.clone()),
            app.objects.clone(),
            config.clone(),
        )
    };
    // The timed router's client adds up its time in the SDK (the operations run one after
    // another within a request, so one start time suffices).
    let sdk_time = SdkTime::default();
    let router = sessions::router(state(Client::from_conf(
        app.client
            .config()
            .to_builder()
            .interceptor(sdk_time.clone())
            .build(),
    )));
    let recording_router = sessions::router(state(recording));
    let bare = app.client.clone();
    let key = app.key.clone();
    let session_body =
        json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}});

    // Warm up: key caches, connections; at least 15 sessions for the list.
    for r in [&recording_router, &router] {
        for _ in 0..10 {
            let (s, _) = call(
                r,
                &key,
                Method::POST,
                "/v1/identity/sessions",
                Some(&session_body),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED);
        }
    }
    let (_, created) = call(
        &router,
        &key,
        Method::POST,
        "/v1/identity/sessions",
        Some(&session_body),
    )
    .await;
    let session = created["data"]["id"].as_str().expect("id").to_owned();
    // Completed sessions to approve, one per request, as many for the bare calls (simulate
    // start, submit, complete: each in the state and at the version the approval expects).
    let mut completed = Vec::new();
    for _ in 0..2 * n + 1 {
        let (_, c) = call(
            &router,
            &key,
            Method::POST,
            "/v1/identity/sessions",
            Some(&session_body),
        )
        .await;
        let id = c["data"]["id"].as_str().expect("id").to_owned();
        for action in ["start", "submit", "complete"] {
            let (s, r) = call(
                &router,
                &key,
                Method::POST,
                &format!("/v1/identity/sessions/{id}/simulate"),
                Some(&json!({"data": {"attributes": {"action": action}}})),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{action}: {r}");
        }
        completed.push(id);
    }
    let (recorded_approval, completed) = completed.split_first().expect("sessions");
    let (for_router, for_bare) = completed.split_at(n);
    let ulid_of = |id: &str| id.rsplit('_').next().expect("ulid").to_owned();

    let mut rows = Vec::new();
    for endpoint in [
        "GET /sessions/{id}",
        "POST /sessions",
        "POST /sessions/{id}/approve",
        "GET /sessions?page[size]=15",
    ] {
        let request = |approve: &str| -> (Method, String, Option<Value>) {
            match endpoint {
                "GET /sessions/{id}" => (
                    Method::GET,
                    format!("/v1/identity/sessions/{session}"),
                    None,
                ),
                "POST /sessions" => (
                    Method::POST,
                    "/v1/identity/sessions".into(),
                    Some(session_body.clone()),
                ),
                "POST /sessions/{id}/approve" => (
                    Method::POST,
                    format!("/v1/identity/sessions/{approve}/approve"),
                    None,
                ),
                _ => (
                    Method::GET,
                    "/v1/identity/sessions?page[size]=15".into(),
                    None,
                ),
            }
        };
        // One request recorded: what the bare SDK sends again, and its round trips. The ids
        // that request minted (ULIDs timed from its start on: the new session, its event) are
        // minted afresh for each bare replay, and the approved session is swapped for another
        // completed one, so every bare call does the work the router's did: the same
        // conditions and ConditionChecks, on items in the same state.
        ops.take();
        let started = unix_ms();
        let (m, p, b) = request(recorded_approval);
        let (s, _) = call(&recording_router, &key, m, &p, b.as_ref()).await;
        assert!(s.is_success(), "{endpoint}: {s}");
        let recorded = ops.take();
        let minted: Vec<String> = ulids_in(&recorded)
            .into_iter()
            .filter(|u| u.timestamp_ms() >= started)
            .map(|u| u.to_string())
            .collect();
        let mut row = Row {
            endpoint,
            ops: describe(&recorded),
            round_trips: recorded.len(),
            router: Vec::with_capacity(n),
            own: Vec::with_capacity(n),
            bare: Vec::with_capacity(n),
            failures: 0,
            bare_refused: 0,
        };
        for i in 0..n {
            let (m, p, b) = request(&for_router[i]);
            sdk_time.take();
            let t = Instant::now();
            let (s, _) = send_request(&router, &key, m, &p, b.as_ref()).await;
            let took = t.elapsed();
            row.router.push(took);
            row.own.push(took.saturating_sub(sdk_time.take()));
            if !s.is_success() {
                row.failures += 1;
            }
            let mut ids: Ids = minted.iter().map(|u| (u.clone(), fresh_ulid())).collect();
            ids.push((ulid_of(recorded_approval), ulid_of(&for_bare[i])));
            let replay: Vec<Operation> = recorded.iter().map(|op| rewrite(op, &ids)).collect();
            let t = Instant::now();
            for op in &replay {
                if !send(&bare, op).await {
                    row.bare_refused += 1;
                }
            }
            row.bare.push(t.elapsed());
        }
        rows.push(row);
    }

    println!("Router vs bare SDK (DynamoDB Local, {n} requests each, interleaved; profile bench-fast = release without LTO)");
    println!(
        "{:<30} {:>10} {:>10} {:>10} {:>10} {:>8} {:>10} {:>3}  bare SDK calls (the same, conditions included)",
        "endpoint", "router p50", "router p99", "bare p50", "bare p99", "p50 x", "own p50", "RT",
    );
    for r in &mut rows {
        r.router.sort();
        r.bare.sort();
        r.own.sort();
        let (rp50, rp99) = (percentile(&r.router, 0.5), percentile(&r.router, 0.99));
        let (bp50, bp99) = (percentile(&r.bare, 0.5), percentile(&r.bare, 0.99));
        let mut note = String::new();
        if r.failures > 0 {
            note.push_str(&format!(" [{} router failures]", r.failures));
        }
        if r.bare_refused > 0 {
            note.push_str(&format!(" [{} bare calls refused]", r.bare_refused));
        }
        println!(
            "{:<30} {:>7.2} ms {:>7.2} ms {:>7.2} ms {:>7.2} ms {:>8.2} {:>7.2} ms {:>3}  {}{}",
            r.endpoint,
            rp50,
            rp99,
            bp50,
            bp99,
            rp50 / bp50,
            percentile(&r.own, 0.5),
            r.round_trips,
            r.ops,
            note
        );
    }

    // Sustained requests per second of one sessions process: GET session over HTTP/1.1.
    let addr = serve(router.clone());
    let path = format!("/v1/identity/sessions/{session}");
    let seconds: u64 = std::env::var("BENCH_RPS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!();
    println!("Sustained GET /sessions/{{id}}: one sessions process (axum over hyper, 127.0.0.1), closed-loop clients, {seconds} s per step");
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>7}",
        "concurrency", "req/s", "p50", "p99", "errors"
    );
    let mut best: Option<(usize, f64, f64)> = None;
    for concurrency in [1usize, 2, 4, 8, 16, 32, 64] {
        let (rps, p50, p99, errors) =
            load(addr, &path, &key, concurrency, Duration::from_secs(seconds)).await;
        println!("{concurrency:<12} {rps:>10.0} {p50:>7.2} ms {p99:>7.2} ms {errors:>7}");
        if p99 <= 50.0 && errors == 0 && best.is_none_or(|b| rps > b.1) {
            best = Some((concurrency, rps, p99));
        }
        if p99 > 50.0 {
            break;
        }
    }
    match best {
        Some((c, rps, p99)) => {
            println!("highest with p99 <= 50 ms: {rps:.0} req/s (concurrency {c}, p99 {p99:.2} ms)")
        }
        None => println!("no step had p99 <= 50 ms"),
    }

    // POST /verifications of a licence back: process CPU time around the request.
    let bytes = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    let verified = app.create_session(None).await;
    let doc = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&json!({"data": {"type": "document/idv", "attributes": {"files": [
                {"filename": "back.jpg", "content_type": "image/jpeg", "byte_size": bytes.len(), "side": "back"}]},
                "relationships": {"session": {"data": {"type": "session", "id": verified}}}}})),
        )
        .await;
    let (url, headers) = doc.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes.clone()).await, 200);
    app.deliver_uploads().await;
    let doc = doc.id();
    let cpu = process_cpu();
    let wall = Instant::now();
    let r = app
        .post(
            "/v1/identity/verifications",
            Some(
                &json!({"data": {"type": "verification/idv", "relationships": {
                "document": {"data": {"type": "document/idv", "id": doc}}}}}),
            ),
        )
        .await;
    let wall = wall.elapsed();
    let cpu = process_cpu() - cpu;
    println!();
    println!(
        "POST /verifications (licence back, {} KB JPEG, through the router)",
        bytes.len() / 1024
    );
    println!("{:<30} {:>10} {:>10} {:>8}", "", "CPU", "wall", "status");
    println!(
        "{:<30} {:>7.1} ms {:>7.1} ms {:>8}",
        "one verification",
        cpu.as_secs_f64() * 1000.0,
        wall.as_secs_f64() * 1000.0,
        r.status.as_u16()
    );
}
