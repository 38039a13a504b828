//! The API's own overhead against DynamoDB Local: for GET session, POST session, approve and
//! a 15-item list, p50/p99 through the sessions router in process (`tower::ServiceExt::oneshot`,
//! the same clients as the tests) next to the bare aws-sdk-dynamodb calls that endpoint makes,
//! replayed from what the router sent (an SDK interceptor records each operation's input),
//! interleaved in the same run; the DynamoDB round trips each request made (key lookup cached
//! as on a warm Lambda); and the process CPU time of one POST /verifications of a licence back.
//!
//! `infra/bench.sh` runs it with the servers it needs. Not a pass/fail test.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use axum::body::Body;
use axum::Router;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use idv::http::AppState;
use idv::store::Store;
use idv_checks::fixtures::{licence_back_jpeg, LicenceFields, Variant};
use idv_tests::{put_upload, TestApp};
use serde_json::{json, Value};
use tower::ServiceExt;

/// One DynamoDB operation as the router sent it (a handful per request: sizes don't matter).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
enum Op {
    Get(GetItemInput),
    Query(QueryInput),
    Transact(TransactWriteItemsInput),
    Other(String),
}

/// Records the input of every DynamoDB operation a client runs.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Op>>>);

impl Recorder {
    fn take(&self) -> Vec<Op> {
        std::mem::take(&mut *self.0.lock().expect("recorder"))
    }
}

impl aws_sdk_dynamodb::config::Intercept for Recorder {
    fn name(&self) -> &'static str {
        "record DynamoDB operations"
    }

    fn read_before_execution(
        &self,
        ctx: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let input = ctx.input();
        let op = if let Some(i) = input.downcast_ref::<GetItemInput>() {
            Op::Get(i.clone())
        } else if let Some(i) = input.downcast_ref::<QueryInput>() {
            Op::Query(i.clone())
        } else if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
            Op::Transact(i.clone())
        } else {
            Op::Other(format!("{input:?}").chars().take(60).collect())
        };
        self.0.lock().expect("recorder").push(op);
        Ok(())
    }
}

/// The same writes without their conditions (a replay would fail them: the session's version
/// moved on, the item exists), ConditionChecks dropped, no client token.
fn unconditional(items: &[TransactWriteItem]) -> Vec<TransactWriteItem> {
    items
        .iter()
        .filter_map(|t| {
            if let Some(p) = t.put() {
                let put = Put::builder()
                    .table_name(p.table_name())
                    .set_item(Some(p.item().clone()))
                    .build()
                    .expect("put");
                Some(TransactWriteItem::builder().put(put).build())
            } else if let Some(d) = t.delete() {
                let delete = Delete::builder()
                    .table_name(d.table_name())
                    .set_key(Some(d.key().clone()))
                    .build()
                    .expect("delete");
                Some(TransactWriteItem::builder().delete(delete).build())
            } else if t.update().is_some() {
                Some(t.clone())
            } else {
                None
            }
        })
        .collect()
}

/// Replays one recorded operation with the bare SDK; false if DynamoDB refused it.
async fn replay(client: &Client, op: &Op) -> bool {
    match op {
        Op::Get(i) => client
            .get_item()
            .set_table_name(i.table_name.clone())
            .set_key(i.key.clone())
            .set_consistent_read(i.consistent_read)
            .set_projection_expression(i.projection_expression.clone())
            .set_expression_attribute_names(i.expression_attribute_names.clone())
            .send()
            .await
            .is_ok(),
        Op::Query(i) => client
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
        Op::Transact(i) => client
            .transact_write_items()
            .set_transact_items(Some(unconditional(i.transact_items())))
            .send()
            .await
            .is_ok(),
        Op::Other(_) => false,
    }
}

fn describe(ops: &[Op]) -> String {
    ops.iter()
        .map(|o| match o {
            Op::Get(_) => "GetItem".to_owned(),
            Op::Query(_) => "Query".to_owned(),
            Op::Transact(t) => format!("TransactWrite({})", t.transact_items().len()),
            Op::Other(s) => s.clone(),
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn call(
    router: &Router,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
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
    // The sessions function over a recording client, its key lookup cached as on a warm Lambda.
    let recorder = Recorder::default();
    let recording = Client::from_conf(
        app.client
            .config()
            .to_builder()
            .interceptor(recorder.clone())
            .build(),
    );
    let mut config = (*app.state.config).clone();
    config.key_cache_ttl = Duration::from_secs(3600);
    let state = AppState::new(
        Store::new(recording, app.table.clone()),
        app.objects.clone(),
        config,
    );
    let router = sessions::router(state);
    let bare = app.client.clone();
    let key = app.key.clone();
    let session_body =
        json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}});

    // Warm up: key cache, connections; at least 15 sessions for the list.
    for _ in 0..20 {
        let (s, _) = call(
            &router,
            &key,
            Method::POST,
            "/v1/identity/sessions",
            Some(&session_body),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
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
    // Completed sessions to approve, one per request (simulate start, submit, complete).
    let mut completed = Vec::new();
    for _ in 0..=n {
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

    let mut rows = Vec::new();
    for endpoint in [
        "GET /sessions/{id}",
        "POST /sessions",
        "POST /sessions/{id}/approve",
        "GET /sessions?page[size]=15",
    ] {
        let mut next = 0usize;
        let request = |i: usize| -> (Method, String, Option<Value>) {
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
                    format!("/v1/identity/sessions/{}/approve", completed[i]),
                    None,
                ),
                _ => (
                    Method::GET,
                    "/v1/identity/sessions?page[size]=15".into(),
                    None,
                ),
            }
        };
        // One request recorded: what the bare SDK replays, and its round trips.
        recorder.take();
        let (m, p, b) = request(next);
        next += 1;
        let (s, _) = call(&router, &key, m, &p, b.as_ref()).await;
        assert!(s.is_success(), "{endpoint}: {s}");
        let ops = recorder.take();
        let mut row = Row {
            endpoint,
            ops: describe(&ops),
            round_trips: ops.len(),
            router: Vec::with_capacity(n),
            bare: Vec::with_capacity(n),
            failures: 0,
            bare_refused: 0,
        };
        for _ in 0..n {
            let (m, p, b) = request(next);
            next += 1;
            let t = Instant::now();
            let (s, _) = call(&router, &key, m, &p, b.as_ref()).await;
            row.router.push(t.elapsed());
            if !s.is_success() {
                row.failures += 1;
            }
            let t = Instant::now();
            for op in &ops {
                if !replay(&bare, op).await {
                    row.bare_refused += 1;
                }
            }
            row.bare.push(t.elapsed());
        }
        recorder.take();
        rows.push(row);
    }

    println!("Router vs bare SDK (DynamoDB Local, {n} requests each, interleaved; profile bench-fast = release without LTO)");
    println!(
        "{:<30} {:>10} {:>10} {:>10} {:>10} {:>8} {:>3}  bare SDK calls (replayed)",
        "endpoint", "router p50", "router p99", "bare p50", "bare p99", "p50 x", "RT",
    );
    for r in &mut rows {
        r.router.sort();
        r.bare.sort();
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
            "{:<30} {:>7.2} ms {:>7.2} ms {:>7.2} ms {:>7.2} ms {:>8.2} {:>3}  {}{}",
            r.endpoint,
            rp50,
            rp99,
            bp50,
            bp99,
            rp50 / bp50,
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
