//! Real API Gateway REST proxy events (the shape production sends, fixtures under
//! `infra/events/`) and the function-URL shape `cargo lambda watch` sends, fed through
//! `lambda_http`'s own request conversion into the routers.

use axum::body::Body;
use http::StatusCode;
use idv_tests::{Reply, TestApp};
use serde_json::json;

fn fixture(name: &str, key: &str, session: &str) -> String {
    let path = format!("{}/../infra/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .replace("{{API_KEY}}", key)
        .replace("{{SESSION_ID}}", session)
}

async fn invoke(app: &TestApp, event: &str) -> Reply {
    let request = lambda_http::request::from_str(event).expect("lambda_http parses the event");
    app.send(request.map(Body::new)).await
}

#[tokio::test]
async fn rest_events_with_a_stage_prefix_reach_the_right_handlers() {
    let app = TestApp::new().await;

    // POST with application/vnd.api+json (which lambda_http's payload() would ignore).
    let created = invoke(&app, &fixture("rest-create-session.json", &app.key, "")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.id();
    assert_eq!(created.attr("person")["name"]["first"], "Jane");
    assert_eq!(
        created.headers["location"],
        format!("/prod/v1/identity/sessions/{id}").as_str(),
        "links keep the stage the request came through"
    );
    assert!(!created.headers["x-request-id"].is_empty());

    // GET whose path arrives as /prod/v1/identity/sessions/{id}.
    let shown = invoke(&app, &fixture("rest-get-session.json", &app.key, &id)).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.json);
    assert_eq!(shown.id(), id);

    // Query parameters from multiValueQueryStringParameters.
    app.complete_session(&id).await;
    let listed = invoke(&app, &fixture("rest-list-sessions.json", &app.key, &id)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.json);
    assert_eq!(listed.json["data"][0]["id"], json!(id));
    assert_eq!(listed.json["meta"]["page"]["size"], 2);
    assert!(listed.json["links"]["self"]
        .as_str()
        .expect("self")
        .starts_with("/prod/v1/identity/sessions?"));

    // A base64-encoded body with a charset parameter.
    let approved = invoke(&app, &fixture("rest-approve-base64.json", &app.key, &id)).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.json);
    assert_eq!(approved.attr("status"), "approved");
    let events = app.get(&format!("/v1/identity/sessions/{id}/events")).await;
    let last = events.json["data"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .expect("event");
    assert_eq!(last["attributes"]["data"]["comment"], "documents checked");

    // Without a key, through the same path.
    let denied = invoke(&app, &fixture("rest-get-session.json", "", &id)).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn function_url_events_as_cargo_lambda_watch_sends_them() {
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    let shown = invoke(&app, &fixture("http-v2-get-session.json", &app.key, &id)).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.json);
    assert_eq!(shown.id(), id);
}

/// The REST event of `rest-get-session.json` turned into `method path` (under the `prod`
/// stage) with the given headers replacing the key.
fn rest_event(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> String {
    let mut e: serde_json::Value =
        serde_json::from_str(&fixture("rest-get-session.json", "", "")).expect("json");
    e["httpMethod"] = json!(method);
    e["path"] = json!(path);
    e["requestContext"]["path"] = json!(format!("/prod{path}"));
    e["requestContext"]["httpMethod"] = json!(method);
    e["body"] = json!(body);
    for map in ["headers", "multiValueHeaders"] {
        let h = e[map].as_object_mut().expect("headers");
        h.remove("X-Api-Key");
        for (name, value) in headers {
            h.insert(
                (*name).to_owned(),
                if map == "headers" {
                    json!(value)
                } else {
                    json!([value])
                },
            );
        }
    }
    e.to_string()
}

/// A body that is not UTF-8 under a JSON content type (what a fuzzer sends; API Gateway passes
/// it base64-encoded when the API treats it as binary) is refused as `invalid_json` by every
/// body-reading endpoint, never a 5xx, and nothing is written; a key header beyond ASCII is
/// no key (401).
#[tokio::test]
async fn bodies_that_are_not_utf8_are_invalid_json_not_server_errors() {
    use base64::Engine as _;
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    let bytes = base64::engine::general_purpose::STANDARD.encode(b"\x05\xff\x16\x12{");
    for (method, path) in [
        ("POST", "/v1/identity/webhook-endpoints".to_owned()),
        ("POST", format!("/v1/identity/sessions/{id}/decline")),
        (
            "POST",
            format!("/v1/identity/sessions/{id}/mark-for-review"),
        ),
        ("PATCH", format!("/v1/identity/sessions/{id}")),
        ("POST", "/v1/identity/sessions".to_owned()),
    ] {
        let mut event: serde_json::Value = serde_json::from_str(&rest_event(
            method,
            &path,
            &[
                ("X-Api-Key", &app.key),
                ("Content-Type", "application/json"),
            ],
            Some(&bytes),
        ))
        .expect("json");
        event["isBase64Encoded"] = json!(true);
        let r = invoke(&app, &event.to_string()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{method} {path}: {}",
            r.json
        );
        assert_eq!(r.code(), "invalid_json", "{method} {path}");
    }
    // A header value beyond ASCII (API Gateway passes it on as UTF-8): unreadable, so no key.
    let event = rest_event(
        "GET",
        &format!("/v1/identity/sessions/{id}"),
        &[("X-Api-Key", &format!("{}é", app.key))],
        None,
    );
    let r = invoke(&app, &event).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
    let shown = app.get(&format!("/v1/identity/sessions/{id}")).await;
    assert_eq!(shown.attr("status"), "created");
    let endpoints = app.get("/v1/identity/webhook-endpoints").await;
    assert_eq!(endpoints.json["data"], json!([]));
}

/// A client token through API Gateway: its link names the API's public host and stage,
/// `Authorization: Bearer` arrives intact, the device's address is API Gateway's
/// `sourceIp`, and the page is served with its policy under the stage.
#[tokio::test]
async fn client_tokens_and_the_page_through_rest_events() {
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    let issued = invoke(
        &app,
        &rest_event(
            "POST",
            &format!("/v1/identity/sessions/{id}/client-token"),
            &[("X-Api-Key", &app.key)],
            None,
        ),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.json);
    let token = issued.attr("token").as_str().expect("token").to_owned();
    assert_eq!(
        issued.attr("capture_url").as_str().expect("url"),
        format!("https://abc123defg.execute-api.us-east-1.amazonaws.com/prod/v1/identity/capture#token={token}")
    );

    let bearer = format!("Bearer {token}");
    let device = json!({"data": {"type": "session_device", "attributes": {"user_agent": "Mozilla/5.0",
        "ip_address": "198.51.100.1"},
        "relationships": {"session": {"data": {"type": "session", "id": id}}}}});
    let registered = invoke(
        &app,
        &rest_event(
            "POST",
            "/v1/identity/session-devices",
            &[
                ("Authorization", &bearer),
                ("Content-Type", "application/json"),
            ],
            Some(&device.to_string()),
        ),
    )
    .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.json
    );
    assert_eq!(*registered.attr("ip_address"), json!("203.0.113.10"));
    let shown = invoke(
        &app,
        &rest_event(
            "GET",
            &format!("/v1/identity/sessions/{id}"),
            &[("Authorization", &bearer)],
            None,
        ),
    )
    .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.json);
    assert_eq!(*shown.attr("status"), json!("started"));

    let page = capture::router(
        &capture::UploadOrigin::parse("https://docs.s3.amazonaws.com").expect("origin"),
    );
    let request =
        lambda_http::request::from_str(&rest_event("GET", "/v1/identity/capture", &[], None))
            .expect("event");
    let response = tower::ServiceExt::oneshot(page, request.map(Body::new))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .contains("connect-src 'self' https://docs.s3.amazonaws.com;"));
}
