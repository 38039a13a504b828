//! Attacks on the edge (see `attacks/mod.rs`): floods of random keys against the key cache,
//! one key's flood against the service, and what API Gateway itself answers or exposes.
//!
//! The key-cache flood is also tested beside the cache (`shared/src/http/auth.rs`), where a
//! counting lookup shows the valid key is never looked up again.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::StreamExt;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use idv::domain::auth::{hash_secret, Permission};
use idv::domain::values::Environment;
use idv::http::auth::KeyCache;
use idv_tests::{Reply, TestApp};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Issues a key of `acme`/staging with every scope and its own limit of `per_second`
/// requests per second, set as `idv-admin set-rate-limit` sets it.
async fn limited_key(app: &TestApp, per_second: u32) -> String {
    let (id, secret) = app
        .issue_key_with_id("acme", Environment::Staging, &[Permission::All], None)
        .await;
    let key = app
        .store
        .set_api_key_rate_limit(id, Some(per_second))
        .await
        .expect("set the rate limit")
        .expect("the key exists");
    assert_eq!(key.rate_limit, Some(per_second));
    secret
}

fn unix_second() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Sleeps until just after the next whole second, so a burst of a few requests falls in
/// one rate-limit window (windows are whole wall-clock seconds).
async fn start_of_a_second() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    let into = Duration::from_nanos(u64::from(now.subsec_nanos()));
    tokio::time::sleep(Duration::from_secs(1) - into + Duration::from_millis(5)).await;
}

async fn list_sessions(app: &TestApp, key: &str) -> Reply {
    app.call(Method::GET, "/v1/identity/sessions", key, None, &[])
        .await
}

fn assert_rate_limited(r: &Reply) {
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        "{}",
        r.json
    );
    assert_eq!(r.json["errors"][0]["status"], "429");
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1"),
        "windows are one second long"
    );
    assert!(r.headers.contains_key("x-request-id"));
}

/// Attack: one key sends more requests than its limit. The request past the limit answers
/// 429 `rate_limited` with `Retry-After`, does nothing (a POST creates no session), and the
/// key passes again once `Retry-After` has passed.
#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let app = TestApp::new().await;
    let key = limited_key(&app, 3).await;
    let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}});
    let sessions = || async {
        app.get("/v1/identity/sessions").await.json["data"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let mut attempts = 0;
    let (limited, before, idempotency) = loop {
        attempts += 1;
        // An inconclusive attempt may have created a session: count afresh each time.
        let before = sessions().await;
        start_of_a_second().await;
        let window = unix_second();
        let mut replies = Vec::new();
        for _ in 0..3 {
            replies.push(list_sessions(&app, &key).await);
        }
        // With an Idempotency-Key: a refusal must not be stored as the key's answer.
        let idempotency = format!("create-{attempts}");
        let fourth = app
            .call(
                Method::POST,
                "/v1/identity/sessions",
                &key,
                Some(&body),
                &[("idempotency-key", &idempotency)],
            )
            .await;
        if unix_second() != window {
            // The burst straddled two windows (a slow machine): inconclusive, try again.
            assert!(attempts < 5, "could not send four requests within a second");
            continue;
        }
        for r in &replies {
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        }
        break (fourth, before, idempotency);
    };
    assert_rate_limited(&limited);
    assert_eq!(sessions().await, before, "the refused POST created nothing");

    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    // The same request again, same Idempotency-Key: it runs now (the 429 was not stored).
    let again = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &key,
            Some(&body),
            &[("idempotency-key", &idempotency)],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.json);
    assert!(!again.headers.contains_key("idempotent-replayed"));
    assert_eq!(sessions().await, before + 1);
}

/// Attack: a tenant's key floods so that the tenant's other keys (another backend, the
/// capture page's) are starved. Limits count per key: the other key still passes in the
/// same second, and its own count starts from zero.
#[tokio::test]
async fn rate_limit_is_per_key() {
    let app = TestApp::new().await;
    let flooding = limited_key(&app, 2).await;
    let other = limited_key(&app, 2).await;
    let mut attempts = 0;
    loop {
        attempts += 1;
        start_of_a_second().await;
        let window = unix_second();
        let a = [
            list_sessions(&app, &flooding).await,
            list_sessions(&app, &flooding).await,
        ];
        let third = list_sessions(&app, &flooding).await;
        let b = [
            list_sessions(&app, &other).await,
            list_sessions(&app, &other).await,
        ];
        if unix_second() != window {
            assert!(attempts < 5, "could not send five requests within a second");
            continue;
        }
        for r in &a {
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        }
        assert_rate_limited(&third);
        for r in &b {
            assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        }
        break;
    }
}

/// Attack: spread one key's flood over many warm Lambdas, each with a cache of its own.
/// The count lives in the table, so the limit holds across instances.
#[tokio::test]
async fn rate_limit_holds_across_lambdas() {
    let app = TestApp::new().await;
    let key = limited_key(&app, 4).await;
    // A second warm instance: its own state, caches and router over the same table.
    let other_instance = sessions::router(idv::http::AppState::new(
        app.store.clone(),
        app.objects.clone(),
        app.state.config.as_ref().clone(),
    ));
    let call = |router: axum::Router| {
        let key = key.clone();
        async move {
            let req = http::Request::builder()
                .uri("/v1/identity/sessions")
                .header("x-api-key", key)
                .body(axum::body::Body::empty())
                .expect("request");
            let res = router.oneshot(req).await.expect("infallible");
            let status = res.status();
            let _ = res.into_body().collect().await;
            status
        }
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        start_of_a_second().await;
        let window = unix_second();
        let mut seen = Vec::new();
        for _ in 0..2 {
            seen.push(list_sessions(&app, &key).await.status);
            seen.push(call(other_instance.clone()).await);
        }
        let fifth = call(other_instance.clone()).await;
        if unix_second() != window {
            assert!(attempts < 5, "could not send five requests within a second");
            continue;
        }
        assert_eq!(seen, vec![StatusCode::OK; 4]);
        assert_eq!(fifth, StatusCode::TOO_MANY_REQUESTS);
        break;
    }
}

/// Attack: present more random keys than the key cache holds, so that it drops the valid
/// ones and every real request pays a lookup again (or, here, fails once the key item is
/// gone: the cache is what still answers for it).
///
/// This Lambda's cache holds 100 unknown keys, so that 1,000 random ones overflow it ten
/// times (production holds 10,000; the test beside the cache floods that size with 50,000
/// without a table). An earlier version flooding the production cache with 10,001 keys
/// through the table failed on the previous main and took a minute.
#[tokio::test]
async fn key_flood_does_not_evict_valid_keys() {
    let app = TestApp::new().await;
    let cache = Arc::new(KeyCache::with_capacity(Duration::from_secs(300), 10, 100));
    let lambda = sessions::router(idv::http::AppState {
        keys: cache.clone(),
        ..app.state.clone()
    });
    let list = |key: String| {
        let lambda = lambda.clone();
        async move {
            let req = http::Request::builder()
                .uri("/v1/identity/sessions")
                .header("x-api-key", key)
                .body(axum::body::Body::empty())
                .expect("request");
            let res = lambda.oneshot(req).await.expect("infallible");
            let status = res.status();
            let _ = res.into_body().collect().await;
            status
        }
    };
    assert_eq!(list(app.key.clone()).await, StatusCode::OK);
    // The valid key is now cached. Remove its item: from here on only the cache knows it.
    app.client
        .delete_item()
        .table_name(&app.table)
        .key(
            "pk",
            AttributeValue::S(idv::store::keys::api_key_pk(&hash_secret(&app.key))),
        )
        .key("sk", AttributeValue::S(idv::store::keys::API_KEY_SK.into()))
        .send()
        .await
        .expect("delete the key item");
    let refused = futures::stream::iter(0..1_000)
        .map(|i| {
            list(format!(
                "sk_staging_flood{i:06}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            ))
        })
        .buffer_unordered(16)
        .filter(|s| futures::future::ready(*s == StatusCode::UNAUTHORIZED))
        .count()
        .await;
    assert_eq!(refused, 1_000);
    assert_eq!(
        cache.len(),
        (1, 100),
        "the flood filled only the unknown part"
    );
    assert_eq!(
        list(app.key.clone()).await,
        StatusCode::OK,
        "the valid key was evicted by the flood"
    );
}

/// What the limit costs: DynamoDB operations and latency per request, with and without it,
/// in process against DynamoDB Local (the README's access-pattern table quotes the printed
/// numbers; run with `--nocapture`). An admitted request costs exactly one more operation
/// (two for the first request of a second); a request the table refused costs one failed
/// conditional write; later ones in the same second cost none, and never reach the handler.
#[tokio::test]
async fn rate_limit_costs_one_conditional_write_per_request() {
    let app = TestApp::new().await;
    let ops = idv_tests::Operations::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        app.client
            .config()
            .to_builder()
            .interceptor(ops.clone())
            .build(),
    );
    // A key cache outliving the test: key lookups do not muddy the count.
    let mut config = app.state.config.as_ref().clone();
    config.key_cache_ttl = Duration::from_secs(300);
    let lambda = sessions::router(idv::http::AppState::new(
        idv::store::Store::new(client, app.table.clone()),
        app.objects.clone(),
        config,
    ));
    let session = app.create_session(None).await;
    let path = format!("/v1/identity/sessions/{session}");
    let get = |key: String| {
        let lambda = lambda.clone();
        let path = path.clone();
        async move {
            let req = http::Request::builder()
                .uri(path)
                .header("x-api-key", key)
                .body(axum::body::Body::empty())
                .expect("request");
            let started = std::time::Instant::now();
            let res = lambda.oneshot(req).await.expect("infallible");
            let status = res.status();
            let _ = res.into_body().collect().await;
            (status, started.elapsed())
        }
    };
    let unlimited = app.key.clone();
    let limited = limited_key(&app, 1000).await;
    // Warm both keys into the cache.
    get(unlimited.clone()).await;
    get(limited.clone()).await;
    ops.take();

    const N: usize = 200;
    let p50 = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    // Alternating the two keys, so that both see the same load on a shared machine.
    let started = std::time::Instant::now();
    let (mut base_ops, mut limited_ops) = (0, 0);
    let (mut base_times, mut limited_times) = (Vec::new(), Vec::new());
    for _ in 0..N {
        let (status, took) = get(unlimited.clone()).await;
        assert_eq!(status, StatusCode::OK);
        base_times.push(took);
        base_ops += ops.take().len();
        let (status, took) = get(limited.clone()).await;
        assert_eq!(status, StatusCode::OK);
        limited_times.push(took);
        limited_ops += ops.take().len();
    }
    let seconds = started.elapsed().as_secs() as usize + 1;
    let (base_p50, limited_p50) = (p50(base_times), p50(limited_times));
    // The two round trips alone, through the store: the count, and a GetItem for scale.
    let (mut admit_times, mut get_times) = (Vec::new(), Vec::new());
    let limited_id = app
        .store
        .api_key_by_hash(&hash_secret(&limited))
        .await
        .expect("read")
        .expect("key")
        .id;
    for _ in 0..N {
        let t = std::time::Instant::now();
        app.store
            .admit(limited_id, 1000, idv::domain::values::Timestamp::now())
            .await
            .expect("count");
        admit_times.push(t.elapsed());
        let t = std::time::Instant::now();
        app.store
            .api_key_by_hash(&hash_secret(&limited))
            .await
            .expect("read");
        get_times.push(t.elapsed());
    }
    let (admit_p50, get_p50) = (p50(admit_times), p50(get_times));
    let extra = limited_ops - base_ops;
    // One conditional write per request, plus at most two for each second the run touched
    // (a new window's first request, and a write that lost the race for it to the window's
    // turn-over on a loaded machine).
    assert!(
        (N..=N + 2 * (seconds + 1)).contains(&extra),
        "{extra} more operations for {N} requests over {seconds} s"
    );

    // Refusals: a key at 1 per second.
    let refused_key = limited_key(&app, 1).await;
    let (first_refusal, local_refusal) = loop {
        get(refused_key.clone()).await; // warm the key (and maybe use the second)
        start_of_a_second().await;
        let window = unix_second();
        ops.take();
        let admitted = get(refused_key.clone()).await;
        let admitted_ops = ops.take().len();
        let refused = get(refused_key.clone()).await;
        let refused_ops = ops.take().len();
        let again = get(refused_key.clone()).await;
        let again_ops = ops.take().len();
        if unix_second() != window {
            continue;
        }
        assert_eq!(admitted.0, StatusCode::OK);
        assert!(admitted_ops >= 2, "the handler read and the count");
        assert_eq!(
            (refused.0, refused_ops),
            (StatusCode::TOO_MANY_REQUESTS, 1),
            "the table refused it"
        );
        assert_eq!(
            (again.0, again_ops),
            (StatusCode::TOO_MANY_REQUESTS, 0),
            "refused in the Lambda"
        );
        break (refused.1, again.1);
    };
    println!(
        "rate limit, GET /v1/identity/sessions/{{id}}, {N} sequential requests in process against DynamoDB Local: \
         without limit p50 {base_p50:?} ({:.2} DynamoDB operations per request), \
         with limit p50 {limited_p50:?} ({:.2} per request: +{extra} over {seconds} s); \
         refused by the table {first_refusal:?} (1 failed conditional write), refused in the Lambda {local_refusal:?} (0); \
         the count alone (Store::admit) p50 {admit_p50:?}, a GetItem p50 {get_p50:?}",
        base_ops as f64 / N as f64,
        limited_ops as f64 / N as f64,
    );
}

// --- The template's edge ----------------------------------------------------------------

fn template() -> serde_yaml::Value {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("template.yaml");
    serde_yaml::from_str(&text).expect("yaml")
}

/// The functions of the template, by logical id.
fn functions(doc: &serde_yaml::Value) -> Vec<(String, serde_yaml::Value)> {
    doc["Resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().unwrap_or_default().to_owned(), r.clone()))
        .collect()
}

/// Any YAML value (intrinsic functions included) as text, for looking into.
fn text(v: &serde_yaml::Value) -> String {
    serde_yaml::to_string(v).unwrap_or_default()
}

/// Attack: make API Gateway itself answer (an unknown path, a throttled stage, a body over
/// 10 MB, a timed-out integration). Each of its answers is a JSON:API error document of
/// API.md §1 with a stable code, its status in the body, and the request id.
#[test]
fn gateway_answers_are_jsonapi_errors() {
    let doc = template();
    let responses = doc["Resources"]["Api"]["Properties"]["GatewayResponses"]
        .as_mapping()
        .expect("the API declares GatewayResponses");
    let stable = [
        "invalid_parameter",
        "unauthorized",
        "forbidden",
        "not_found",
        "payload_too_large",
        "unsupported_media_type",
        "rate_limited",
        "service_unavailable",
        "internal_error",
        "bad_request",
    ];
    for required in [
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "MISSING_AUTHENTICATION_TOKEN",
        "REQUEST_TOO_LARGE",
        "THROTTLED",
        "QUOTA_EXCEEDED",
        "INTEGRATION_TIMEOUT",
        "INTEGRATION_FAILURE",
    ] {
        assert!(
            responses.contains_key(required),
            "no gateway response for {required}"
        );
    }
    for (kind, response) in responses {
        let kind = kind.as_str().unwrap_or_default();
        let status = response["StatusCode"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| response["StatusCode"].as_u64().map(|s| s.to_string()))
            .unwrap_or_else(|| panic!("{kind}: an explicit StatusCode"));
        let headers = &response["ResponseParameters"]["Headers"];
        assert_eq!(
            headers["Content-Type"].as_str(),
            Some("'application/json'"),
            "{kind}"
        );
        let body = response["ResponseTemplates"]["application/json"]
            .as_str()
            .unwrap_or_else(|| panic!("{kind}: an application/json template"));
        // What API Gateway substitutes: $context.requestId is bare text, messageString
        // comes quoted.
        let rendered = body
            .replace("$context.requestId", "c0ffee-request")
            .replace("$context.error.messageString", "\"Some \\\"message\\\"\"");
        let parsed: Value = serde_json::from_str(&rendered)
            .unwrap_or_else(|e| panic!("{kind}: not JSON ({e}): {rendered}"));
        let errors = parsed["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{kind}");
        let e = &errors[0];
        assert_eq!(e["status"].as_str(), Some(status.as_str()), "{kind}");
        let code = e["code"].as_str().unwrap_or_default();
        assert!(stable.contains(&code), "{kind}: code {code}");
        // Each code keeps the status API.md §1 gives it.
        let expected = match code {
            "bad_request" | "invalid_parameter" => "400",
            "unauthorized" => "401",
            "forbidden" => "403",
            "not_found" => "404",
            "payload_too_large" => "413",
            "unsupported_media_type" => "415",
            "rate_limited" => "429",
            "internal_error" => "500",
            _ => "503",
        };
        assert_eq!(status, expected, "{kind}: {code}");
        for field in ["title", "detail"] {
            assert!(
                e[field].as_str().is_some_and(|s| !s.is_empty()),
                "{kind}: {field}"
            );
        }
        assert_eq!(
            e["meta"]["request_id"].as_str(),
            Some("c0ffee-request"),
            "{kind}: the request id"
        );
        if status == "429" || status == "503" {
            assert!(
                headers["Retry-After"].as_str().is_some(),
                "{kind}: Retry-After"
            );
        }
    }
}

/// Attack: one flooded function takes the whole account's Lambda concurrency, and with it
/// every other function (and every other service of the account). Each function has a
/// reserved concurrency from a parameter.
#[test]
fn every_function_has_reserved_concurrency() {
    let doc = template();
    let fns = functions(&doc);
    assert!(fns.len() >= 7);
    for (id, f) in fns {
        let reserved = &f["Properties"]["ReservedConcurrentExecutions"];
        assert!(
            !reserved.is_null(),
            "{id} has no ReservedConcurrentExecutions"
        );
        assert!(
            text(reserved).contains("!Ref"),
            "{id}: reserved concurrency comes from a parameter"
        );
    }
}

/// Attack: read the secrets from the functions' configuration (anyone with
/// `lambda:GetFunctionConfiguration`, the console, a support screenshot). No function's
/// environment holds a secret; the functions that need one get its ARN and may read that
/// secret only.
#[test]
fn no_secret_sits_in_function_environments() {
    let doc = template();
    let mut readers = 0;
    for (id, f) in functions(&doc) {
        let env = f["Properties"]["Environment"]["Variables"].clone();
        let all = format!("{}{}", text(&env), text(&doc["Globals"]));
        assert!(!all.contains("{{resolve:"), "{id}: {all}");
        for plain in ["IDV_CURSOR_SECRET:", "IDV_FINGERPRINT_SECRET:"] {
            assert!(!all.contains(plain), "{id} carries {plain}");
        }
        for (var, secret) in [
            ("IDV_CURSOR_SECRET_ARN", "CursorSecret"),
            ("IDV_FINGERPRINT_SECRET_ARN", "FingerprintSecret"),
        ] {
            let policies = text(&f["Properties"]["Policies"]);
            if !env[var].is_null() {
                readers += 1;
                assert_eq!(text(&env[var]).trim(), format!("!Ref {secret}"), "{id}");
                assert!(
                    policies.contains("secretsmanager:GetSecretValue")
                        && policies.contains(&format!("!Ref {secret}")),
                    "{id} may not read {secret}: {policies}"
                );
            }
        }
        // Whoever may read secrets may read only the ones it names.
        for statement in f["Properties"]["Policies"][0]["Statement"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let actions = text(&statement["Action"]);
            if actions.contains("secretsmanager:GetSecretValue") {
                let resources = text(&statement["Resource"]);
                assert!(!resources.contains('*'), "{id}: {resources}");
            }
        }
    }
    assert_eq!(
        readers, 9,
        "six API functions (with webhooks) read the cursor secret; three the fingerprint \
         secret (verifications, document-events, and documents, whose submit with a client \
         token runs the checks)"
    );
}

/// Operations: a function that fails or is throttled, a dead-letter queue that fills, a
/// stream consumer that falls behind and a slow API each raise an alarm that notifies the
/// stack's topic, and every function is traced. (Deleting an alarm, or adding a function or
/// a queue without one, fails here.)
#[test]
fn every_failure_mode_has_an_alarm() {
    let doc = template();
    let resources = doc["Resources"].as_mapping().expect("resources");
    let alarms: Vec<&serde_yaml::Value> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .collect();
    let watches = |namespace: &str, metric: &str, dimension: &str| {
        alarms.iter().any(|a| {
            let p = &a["Properties"];
            p["Namespace"].as_str() == Some(namespace)
                && p["MetricName"].as_str() == Some(metric)
                && text(&p["Dimensions"]).contains(dimension)
        })
    };
    for alarm in &alarms {
        assert!(
            text(&alarm["Properties"]["AlarmActions"]).contains("AlarmTopic"),
            "an alarm nobody hears: {}",
            text(alarm)
        );
    }
    assert_eq!(
        doc["Globals"]["Function"]["Tracing"].as_str(),
        Some("Active")
    );
    let mut explicit_roles = 0;
    for (id, f) in functions(&doc) {
        for metric in ["Errors", "Throttles"] {
            assert!(
                watches("AWS/Lambda", metric, &format!("!Ref {id}\n")),
                "{id}: no {metric} alarm"
            );
        }
        let streams = text(&f["Properties"]["Events"]).contains("Type: DynamoDB");
        if streams {
            assert!(
                watches("AWS/Lambda", "IteratorAge", &format!("!Ref {id}\n")),
                "{id} reads the stream: no IteratorAge alarm"
            );
        }
        let role = text(&f["Properties"]["Role"]);
        if let Some(name) = role
            .split("!GetAtt ")
            .nth(1)
            .and_then(|t| t.split('.').next())
        {
            assert!(
                text(&resources[name]).contains("AWSXrayWriteOnlyAccess"),
                "{id}: its explicit role {name} cannot send traces"
            );
            explicit_roles += 1;
        }
    }
    assert_eq!(
        explicit_roles, 2,
        "the two stream consumers have their own roles"
    );
    // Every dead-letter queue, and the expiry stream's failure destination.
    for (id, r) in resources {
        let redrive = text(&r["Properties"]["RedrivePolicy"]);
        if let Some(dlq) = redrive
            .split("!GetAtt ")
            .nth(1)
            .and_then(|t| t.split('.').next())
        {
            assert!(
                watches(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    &format!("!GetAtt {dlq}.QueueName")
                ),
                "{}: its dead-letter queue {dlq} has no alarm",
                id.as_str().unwrap_or_default()
            );
        }
    }
    assert!(watches(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "!GetAtt ExpiryFailuresQueue.QueueName"
    ));
    assert!(watches("AWS/ApiGateway", "Latency", "identity"));
}
