//! DynamoDB round trips per endpoint, counted by an SDK interceptor on every function's
//! client and asserted against the access-pattern table kept as data
//! (`tests/data/round_trips.json`), which the README renders between its
//! `round-trips` markers. An endpoint that starts making one more call fails here; so does
//! a README that no longer shows the table.

use http::{Method, StatusCode};
use idv_checks::fixtures::{licence_back_jpeg, LicenceFields, Variant};
use idv_tests::{put_upload, Reply, TestApp};
use serde_json::{json, Value};

fn table() -> Vec<(String, usize)> {
    let text = include_str!("../data/round_trips.json");
    let rows: Vec<Value> = serde_json::from_str(text).expect("round_trips.json");
    rows.iter()
        .map(|r| {
            (
                r["endpoint"].as_str().expect("endpoint").to_owned(),
                r["round_trips"].as_u64().expect("round_trips") as usize,
            )
        })
        .collect()
}

/// The README's rendering of the table.
fn rendered() -> String {
    let mut out = String::from("| Endpoint | DynamoDB round trips |\n|---|---|\n");
    for (endpoint, n) in table() {
        out.push_str(&format!("| {endpoint} | {n} |\n"));
    }
    out
}

#[test]
fn the_readme_shows_the_table() {
    let readme = include_str!("../../README.md");
    let block = readme
        .split("<!-- round-trips:begin -->\n")
        .nth(1)
        .and_then(|rest| rest.split("<!-- round-trips:end -->").next())
        .expect("README.md has the round-trips markers");
    assert_eq!(
        block,
        rendered(),
        "README.md's round-trips block differs from tests/data/round_trips.json"
    );
}

fn session_body() -> Value {
    json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}})
}

fn idv_document(session: Option<&str>, size: usize) -> Value {
    let mut body = json!({"data": {"type": "document/idv", "attributes": {"files": [
        {"filename": "back.jpg", "content_type": "image/jpeg", "byte_size": size, "side": "back"}]}}});
    if let Some(s) = session {
        body["data"]["relationships"] = json!({"session": {"data": {"type": "session", "id": s}}});
    }
    body
}

async fn bearer(app: &TestApp, path: &str, token: &str) -> Reply {
    let request = http::Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .expect("request");
    app.send(request).await
}

#[tokio::test]
async fn each_endpoint_makes_the_round_trips_of_the_table() {
    let (app, ops) = TestApp::new().await.counting_round_trips();
    // Warm the key cache, as a warm Lambda's is.
    assert_eq!(
        app.get("/v1/identity/sessions").await.status,
        StatusCode::OK
    );

    // Fixtures, made before counting.
    let session = app.create_session(None).await;
    let decided = app.create_session(None).await;
    app.complete_session(&decided).await;
    let account = app.create_account(None).await;
    let device = app
        .post(
            "/v1/identity/session-devices",
            Some(
                &json!({"data": {"type": "session_device", "attributes": {"user_agent": "ua"},
                "relationships": {"session": {"data": {"type": "session", "id": session}}}}}),
            ),
        )
        .await
        .id();
    let bytes = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    let verified = app.create_session(None).await;
    let doc = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&idv_document(Some(&verified), bytes.len())),
        )
        .await;
    let (url, headers) = doc.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    app.deliver_uploads().await;
    let doc = doc.id();
    let pending_doc = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&idv_document(None, 1000)),
        )
        .await
        .id();
    let token = app
        .post(
            &format!("/v1/identity/sessions/{session}/client-token"),
            None,
        )
        .await
        .attr("token")
        .as_str()
        .expect("token")
        .to_owned();
    let hook = json!({"data": {"type": "webhook_endpoint", "attributes": {
        "url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]}}});
    let endpoint = app
        .post("/v1/identity/webhook-endpoints", Some(&hook))
        .await
        .id();
    let event = app.get("/v1/identity/events").await.json["data"][0]["id"]
        .as_str()
        .expect("an event")
        .to_owned();
    let mut verification = String::new();

    let mut measured = Vec::new();
    for (endpoint_name, expected) in table() {
        let before = ops.count();
        let r = match endpoint_name.as_str() {
            "POST /sessions" => app.post("/v1/identity/sessions", Some(&session_body())).await,
            "GET /sessions/{id}" => app.get(&format!("/v1/identity/sessions/{session}")).await,
            "GET /sessions" => app.get("/v1/identity/sessions").await,
            "PATCH /sessions/{id}" => {
                app.patch(
                    &format!("/v1/identity/sessions/{session}"),
                    &json!({"data": {"type": "session", "id": session,
                        "attributes": {"contact": {"email": "a@example.com"}}}}),
                )
                .await
            }
            "POST /sessions/{id}/simulate" => {
                let s = app.create_session(None).await;
                let before_simulate = ops.count();
                let r = app
                    .post(
                        &format!("/v1/identity/sessions/{s}/simulate"),
                        Some(&json!({"data": {"attributes": {"action": "start"}}})),
                    )
                    .await;
                measured.push((endpoint_name.clone(), ops.count() - before_simulate, expected));
                assert_eq!(r.status, StatusCode::OK, "{endpoint_name}: {}", r.json);
                continue;
            }
            "POST /sessions/{id}/approve" => {
                app.post(&format!("/v1/identity/sessions/{decided}/approve"), None)
                    .await
            }
            "GET /sessions/{id}/events" => {
                app.get(&format!("/v1/identity/sessions/{session}/events"))
                    .await
            }
            "POST /sessions/{id}/client-token" => {
                app.post(&format!("/v1/identity/sessions/{session}/client-token"), None)
                    .await
            }
            "GET /client-token (client token)" => {
                bearer(&app, "/v1/identity/client-token", &token).await
            }
            "GET /sessions/{id} (client token)" => {
                bearer(&app, &format!("/v1/identity/sessions/{session}"), &token).await
            }
            "POST /session-devices" => {
                app.post(
                    "/v1/identity/session-devices",
                    Some(&json!({"data": {"type": "session_device", "attributes": {"user_agent": "ua"},
                        "relationships": {"session": {"data": {"type": "session", "id": session}}}}})),
                )
                .await
            }
            "GET /session-devices/{id}" => {
                app.get(&format!("/v1/identity/session-devices/{device}"))
                    .await
            }
            "POST /accounts" => {
                app.post(
                    "/v1/identity/accounts",
                    Some(&json!({"data": {"type": "account", "attributes": {"entity_type": "person"}}})),
                )
                .await
            }
            "GET /accounts/{id}" => app.get(&format!("/v1/identity/accounts/{account}")).await,
            "GET /accounts" => app.get("/v1/identity/accounts").await,
            "POST /documents/idvs (standalone)" => {
                app.post("/v1/identity/documents/idvs", Some(&idv_document(None, 1000)))
                    .await
            }
            "POST /documents/idvs (with a session)" => {
                app.post(
                    "/v1/identity/documents/idvs",
                    Some(&idv_document(Some(&session), 1000)),
                )
                .await
            }
            "GET /documents/idvs/{id}" => app.get(&format!("/v1/identity/documents/idvs/{doc}")).await,
            "POST /documents/idvs/{id}/files" => {
                app.post(
                    &format!("/v1/identity/documents/idvs/{pending_doc}/files"),
                    Some(&json!({"data": {"type": "file", "attributes": {
                        "filename": "front.jpg", "content_type": "image/jpeg", "byte_size": 1000, "side": "front"}}})),
                )
                .await
            }
            "POST /documents/idvs/{id}/submit" => {
                app.post(&format!("/v1/identity/documents/idvs/{doc}/submit"), None)
                    .await
            }
            "POST /verifications" => {
                let r = app
                    .post(
                        "/v1/identity/verifications",
                        Some(&json!({"data": {"type": "verification/idv", "relationships": {
                            "document": {"data": {"type": "document/idv", "id": doc}}}}})),
                    )
                    .await;
                verification = r.id();
                r
            }
            "GET /verifications/{id}" => {
                app.get(&format!("/v1/identity/verifications/{verification}"))
                    .await
            }
            "GET /verifications" => app.get("/v1/identity/verifications").await,
            "GET /events" => app.get("/v1/identity/events").await,
            "GET /events/{id}" => app.get(&format!("/v1/identity/events/{event}")).await,
            "POST /webhook-endpoints" => app.post("/v1/identity/webhook-endpoints", Some(&hook)).await,
            "GET /webhook-endpoints" => app.get("/v1/identity/webhook-endpoints").await,
            "GET /webhook-endpoints/{id}" => {
                app.get(&format!("/v1/identity/webhook-endpoints/{endpoint}"))
                    .await
            }
            "PATCH /webhook-endpoints/{id}" => {
                app.patch(
                    &format!("/v1/identity/webhook-endpoints/{endpoint}"),
                    &json!({"data": {"type": "webhook_endpoint", "id": endpoint,
                        "attributes": {"description": "orders"}}}),
                )
                .await
            }
            "DELETE /webhook-endpoints/{id}" => {
                app.call(
                    Method::DELETE,
                    &format!("/v1/identity/webhook-endpoints/{endpoint}"),
                    &app.key,
                    None,
                    &[],
                )
                .await
            }
            "Idempotency-Key on POST /sessions" => {
                app.call(
                    Method::POST,
                    "/v1/identity/sessions",
                    &app.key,
                    Some(&session_body()),
                    &[("idempotency-key", "counted")],
                )
                .await
            }
            other => panic!("no scenario for {other}: add one"),
        };
        assert!(
            r.status.is_success(),
            "{endpoint_name}: {} {}",
            r.status,
            r.json
        );
        measured.push((endpoint_name, ops.count() - before, expected));
    }
    let wrong: Vec<_> = measured
        .iter()
        .filter(|(_, got, want)| got != want)
        .collect();
    assert!(
        wrong.is_empty(),
        "round trips (endpoint, measured, in the table): {wrong:?}"
    );
}
