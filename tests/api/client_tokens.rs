//! Client tokens (API.md §9): an applicant alone takes a session from created to completed
//! with a token, and a token can do nothing else: not list, decide, redact, read files
//! back, touch another session, or outlive its session's decision.

use axum::body::Body;
use http::{Method, Request, StatusCode};
use idv::domain::auth::{hash_secret, Permission};
use idv::domain::client_token::{CaptureStep, ClientToken};
use idv::domain::ids::{ApiKeyId, ClientTokenId, SessionId};
use idv::domain::values::{Environment, TenantId, Timestamp};
use idv_checks::fixtures::{licence_back_jpeg, LicenceFields, Variant};
use idv_tests::{get_download, put_upload, Reply, TestApp};
use serde_json::{json, Value};

/// A request with `Authorization: Bearer <token>` (and no API key).
async fn as_applicant(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Reply {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        b = b.header("content-type", "application/json");
    }
    let body = body.map_or_else(Body::empty, |v| Body::from(v.to_string()));
    app.send(b.body(body).expect("request")).await
}

/// Issues a token for `session` with the default key; returns the whole answer.
async fn issue(app: &TestApp, session: &str, meta: Option<Value>) -> Reply {
    let body = meta.map(|m| json!({ "meta": m }));
    app.post(
        &format!("/v1/identity/sessions/{session}/client-token"),
        body.as_ref(),
    )
    .await
}

async fn token_for(app: &TestApp, session: &str) -> String {
    let r = issue(app, session, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.attr("token").as_str().expect("token").to_owned()
}

fn person_patch(session: &str) -> Value {
    json!({"data": {"type": "session", "id": session, "attributes": {
        "person": {"name": {"first": "MICHAEL", "middle": "JOHN", "last": "SAMPLE"}, "birth_date": "1986-06-06"},
        "contact": {"email": "michael@example.com", "phone": "+14155550100"}}}})
}

fn licence_document(session: Option<&str>, size: usize) -> Value {
    let mut body = json!({"data": {"type": "document/idv", "attributes": {"files": [
        {"filename": "back.jpg", "content_type": "image/jpeg", "byte_size": size, "side": "back"}]}}});
    if let Some(s) = session {
        body["data"]["relationships"] = json!({"session": {"data": {"type": "session", "id": s}}});
    }
    body
}

fn device(session: &str) -> Value {
    json!({"data": {"type": "session_device", "attributes": {
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0", "platform": "Linux x86_64",
        "locale": "en-US", "sdk_version": "capture-page/1", "ip_address": "203.0.113.9",
        "behavior_analysis": {"bot_score": 95, "threat_level": "high", "shortcut_pastes": 3}},
        "relationships": {"session": {"data": {"type": "session", "id": session}}}}})
}

#[tokio::test]
async fn an_applicant_alone_takes_a_session_from_created_to_completed() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;

    let issued = issue(&app, &session, Some(json!({"steps": ["idv", "address"]}))).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.json);
    assert_eq!(issued.json["data"]["type"], "client_token");
    assert!(issued.id().starts_with("ctk_"));
    let token = issued.attr("token").as_str().expect("token").to_owned();
    assert!(token.starts_with("ct_") && token.len() == 46, "{token}");
    let url = issued.attr("capture_url").as_str().expect("url");
    assert!(
        url.ends_with(&format!("/v1/identity/capture#token={token}")),
        "{url}"
    );
    assert_eq!(issued.json["meta"]["ttl_seconds"], 1800);
    let expires =
        Timestamp::parse(issued.attr("expires_at").as_str().expect("expiry")).expect("ts");
    let left = expires.datetime() - Timestamp::now().datetime();
    assert!(left > time::Duration::seconds(1790) && left <= time::Duration::seconds(1800));
    assert!(
        !app.all_values().await.iter().any(|v| v.contains(&token)),
        "only the token's hash is stored"
    );

    // The page finds its session from the token alone.
    let me = as_applicant(&app, Method::GET, "/v1/identity/client-token", &token, None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.json);
    assert_eq!(*me.attr("session_id"), json!(session));
    assert_eq!(*me.attr("steps"), json!(["idv", "address"]));
    assert_eq!(*me.attr("token"), Value::Null, "never shown again");

    let path = format!("/v1/identity/sessions/{session}");
    let seen = as_applicant(&app, Method::GET, &path, &token, None).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.json);
    assert_eq!(*seen.attr("status"), "created");
    for hidden in ["creator_id", "behavior_analysis"] {
        assert!(
            seen.json["data"]["attributes"].get(hidden).is_none(),
            "{hidden}"
        );
    }

    let patched = as_applicant(
        &app,
        Method::PATCH,
        &path,
        &token,
        Some(&person_patch(&session)),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.json);
    assert_eq!(patched.attr("person")["name"]["last"], "SAMPLE");

    let dev = as_applicant(
        &app,
        Method::POST,
        "/v1/identity/session-devices",
        &token,
        Some(&device(&session)),
    )
    .await;
    assert_eq!(dev.status, StatusCode::CREATED, "{}", dev.json);
    assert_ne!(
        dev.attr("ip_address"),
        "203.0.113.9",
        "the browser cannot choose the address it is recorded at"
    );

    let bytes = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    // No session named: a token's document belongs to its session.
    let doc = as_applicant(
        &app,
        Method::POST,
        "/v1/identity/documents/idvs",
        &token,
        Some(&licence_document(None, bytes.len())),
    )
    .await;
    assert_eq!(doc.status, StatusCode::CREATED, "{}", doc.json);
    assert_eq!(
        doc.json["data"]["relationships"]["session"]["data"]["id"],
        json!(session)
    );
    let (upload, headers) = doc.upload(0);
    assert_eq!(put_upload(&upload, &headers, bytes).await, 200);
    // The upload URL the applicant holds cannot read the file back either: S3 checks the
    // method it was signed for.
    assert_eq!(get_download(&upload).await.0, 403);
    let doc_id = doc.id();

    // Submitted without waiting for the upload event: submit checks the file itself, and
    // with a token runs the verification.
    let submitted = as_applicant(
        &app,
        Method::POST,
        &format!("/v1/identity/documents/idvs/{doc_id}/submit"),
        &token,
        None,
    )
    .await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.json);
    assert_eq!(
        submitted.json["meta"]["verification"]["status"], "passed",
        "{}",
        submitted.json
    );
    assert_eq!(
        submitted.attr("files")[0]["url"],
        Value::Null,
        "a token never reads files back"
    );
    let ver = submitted.json["meta"]["verification"]["id"]
        .as_str()
        .expect("ver")
        .to_owned();

    let v = as_applicant(
        &app,
        Method::GET,
        &format!("/v1/identity/verifications/{ver}"),
        &token,
        None,
    )
    .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.json);
    assert_eq!(*v.attr("status"), "passed");
    assert!(v.attr("checks").as_array().is_some_and(|c| !c.is_empty()));
    assert_eq!(
        *v.attr("extracted"),
        Value::Null,
        "not the data read from the document"
    );
    assert!(v.attr("checks")[0].get("metadata").is_none());

    // The integrator sees the whole story, and who did each step.
    let s = app.get(&path).await;
    assert_eq!(*s.attr("status"), "completed", "{}", s.json);
    assert_eq!(s.attr("identity_numbers")[0]["number"], "T64235789");
    assert_eq!(s.attr("behavior_analysis")["shortcut_pastes"], 3);
    let events = app.get(&format!("{path}/events")).await;
    let log: Vec<(String, String)> = events.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let a = &e["attributes"];
            (
                a["type"].as_str().unwrap_or_default().to_owned(),
                a["actor"]["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let statuses: Vec<&str> = log
        .iter()
        .map(|(t, _)| t.as_str())
        .filter(|t| {
            [
                "session.created",
                "session.started",
                "session.pending",
                "session.completed",
            ]
            .contains(t)
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "session.created",
            "session.started",
            "session.pending",
            "session.completed"
        ],
        "{log:?}"
    );
    assert!(
        log.contains(&("session.updated".into(), "client_token".into())),
        "{log:?}"
    );
    assert!(
        log.contains(&("session.started".into(), "client_token".into())),
        "{log:?}"
    );
    let actor_ids: Vec<&Value> = events.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["attributes"]["actor"]["type"] == "client_token")
        .map(|e| &e["attributes"]["actor"]["id"])
        .collect();
    assert!(
        actor_ids.iter().all(|id| **id == json!(issued.id())),
        "{actor_ids:?}"
    );
}

#[tokio::test]
async fn a_client_token_has_no_power_beyond_its_session() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let other = app.create_session(None).await;
    let token = token_for(&app, &session).await;
    // The integrator's document in another session, and one of no session.
    let theirs = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&licence_document(Some(&other), 1000)),
        )
        .await
        .id();
    let standalone = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&licence_document(None, 1000)),
        )
        .await
        .id();

    // Everything an API key does and an applicant must not: 403, naming the key's scope.
    let s = format!("/v1/identity/sessions/{session}");
    let empty = json!({});
    for (method, path, body) in [
        (Method::GET, "/v1/identity/sessions".to_owned(), None),
        (
            Method::POST,
            "/v1/identity/sessions".to_owned(),
            Some(json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}})),
        ),
        (Method::POST, format!("{s}/approve"), None),
        (Method::POST, format!("{s}/decline"), None),
        (Method::POST, format!("{s}/mark-for-review"), None),
        (Method::POST, format!("{s}/redact"), None),
        (Method::POST, format!("{s}/expire"), None),
        (
            Method::POST,
            format!("{s}/simulate"),
            Some(json!({"data": {"attributes": {"action": "start"}}})),
        ),
        (Method::POST, format!("{s}/client-token"), None),
        (Method::GET, format!("{s}/events"), None),
        (Method::GET, "/v1/identity/documents/idvs".to_owned(), None),
        (
            Method::GET,
            format!("/v1/identity/documents/idvs?filter[session_id]={session}"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/identity/documents/idvs/{standalone}/redact"),
            None,
        ),
        (Method::GET, "/v1/identity/verifications".to_owned(), None),
        (
            Method::POST,
            "/v1/identity/verifications".to_owned(),
            Some(json!({"data": {"type": "verification/idv",
            "relationships": {"document": {"data": {"type": "document/idv", "id": standalone}}}}})),
        ),
        (Method::GET, "/v1/identity/accounts".to_owned(), None),
        (
            Method::POST,
            "/v1/identity/accounts".to_owned(),
            Some(json!({"data": {"type": "account", "attributes": {"entity_type": "person"}}})),
        ),
        (Method::GET, "/v1/identity/events".to_owned(), None),
        (
            Method::GET,
            "/v1/identity/webhook-endpoints".to_owned(),
            None,
        ),
        (
            Method::POST,
            "/v1/identity/webhook-endpoints".to_owned(),
            Some(empty.clone()),
        ),
        (
            Method::GET,
            "/v1/identity/session-devices/dev_01J0000000000000000000000A".to_owned(),
            None,
        ),
    ] {
        let r = as_applicant(&app, method.clone(), &path, &token, body.as_ref()).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.json
        );
        assert_eq!(r.code(), "forbidden", "{method} {path}");
        assert_eq!(
            r.json["errors"][0]["meta"]["credential"], "api_key",
            "{method} {path}"
        );
    }

    // Only the applicant's own data: not what the integrator set.
    for attr in [
        "metadata",
        "expires_at",
        "entity_type",
        "business",
        "identity_numbers",
    ] {
        let body = json!({"data": {"type": "session", "id": session, "attributes": {attr: null}}});
        let r = as_applicant(&app, Method::PATCH, &s, &token, Some(&body)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{attr}: {}", r.json);
        assert_eq!(r.source(), format!("/data/attributes/{attr}"));
    }
    let r = as_applicant(&app, Method::POST, "/v1/identity/documents/idvs", &token, Some(&{
        let mut b = licence_document(None, 1000);
        b["data"]["relationships"] = json!({"account": {"data": {"type": "account", "id": "acc_01J0000000000000000000000A"}}});
        b
    })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);

    // Another session, of this tenancy or of no session: exactly like an unknown id.
    let o = format!("/v1/identity/sessions/{other}");
    for (method, path, body) in [
        (Method::GET, o.clone(), None),
        (Method::PATCH, o.clone(), Some(person_patch(&other))),
        (
            Method::GET,
            format!("/v1/identity/documents/idvs/{theirs}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/identity/documents/idvs/{standalone}"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/identity/documents/idvs/{theirs}/submit"),
            None,
        ),
        (
            Method::POST,
            format!("/v1/identity/documents/idvs/{theirs}/files"),
            Some(json!({"data": {"type": "document/idv",
            "attributes": {"filename": "f.jpg", "content_type": "image/jpeg", "byte_size": 10, "side": "front"}}})),
        ),
        (
            Method::GET,
            format!(
                "/v1/identity/sessions/{}",
                SessionId::new(time::OffsetDateTime::now_utc())
            ),
            None,
        ),
    ] {
        let r = as_applicant(&app, method.clone(), &path, &token, body.as_ref()).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.json
        );
    }
    for body in [device(&other), licence_document(Some(&other), 1000)] {
        let path = if body["data"]["type"] == "session_device" {
            "/v1/identity/session-devices"
        } else {
            "/v1/identity/documents/idvs"
        };
        let r = as_applicant(&app, Method::POST, path, &token, Some(&body)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.json
        );
        assert_eq!(r.source(), "/data/relationships/session/data/id");
    }
    // The other session's verification reads as unknown too.
    let bytes = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    let doc = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&licence_document(Some(&other), bytes.len())),
        )
        .await;
    let (url, headers) = doc.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    app.deliver_uploads().await;
    let v = app
        .post(
            "/v1/identity/verifications",
            Some(&json!({"data": {"type": "verification/idv",
            "relationships": {"document": {"data": {"type": "document/idv", "id": doc.id()}}}}})),
        )
        .await;
    assert_eq!(v.status, StatusCode::CREATED, "{}", v.json);
    let r = as_applicant(
        &app,
        Method::GET,
        &format!("/v1/identity/verifications/{}", v.id()),
        &token,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.json);
    // Nothing above changed the other session.
    assert_eq!(app.get(&o).await.attr("person"), &Value::Null);
}

#[tokio::test]
async fn tokens_end_with_their_session() {
    let app = TestApp::new().await;
    let me = "/v1/identity/client-token";

    // A newer token does not revoke an older one; a decision revokes both.
    let session = app.create_session(None).await;
    let first = token_for(&app, &session).await;
    let second = token_for(&app, &session).await;
    for t in [&first, &second] {
        assert_eq!(
            as_applicant(&app, Method::GET, me, t, None).await.status,
            StatusCode::OK
        );
    }
    app.complete_session(&session).await;
    assert_eq!(
        as_applicant(&app, Method::GET, me, &first, None)
            .await
            .status,
        StatusCode::OK,
        "completed: the page shows the outcome"
    );
    // The applicant cannot change data once submitted.
    let late = as_applicant(
        &app,
        Method::PATCH,
        &format!("/v1/identity/sessions/{session}"),
        &first,
        Some(&person_patch(&session)),
    )
    .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.json);
    assert_eq!(late.code(), "invalid_transition");
    assert_eq!(
        app.post(&format!("/v1/identity/sessions/{session}/approve"), None)
            .await
            .status,
        StatusCode::OK
    );
    for t in [&first, &second] {
        let r = as_applicant(
            &app,
            Method::GET,
            &format!("/v1/identity/sessions/{session}"),
            t,
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
        assert_eq!(r.code(), "unauthorized");
    }
    let r = issue(&app, &session, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    assert_eq!(r.code(), "invalid_transition");

    // Expiry and redaction end them too.
    for (ending, code) in [
        ("expire", "invalid_transition"),
        ("redact", "session_redacted"),
    ] {
        let s = app.create_session(None).await;
        let t = token_for(&app, &s).await;
        let r = app
            .post(&format!("/v1/identity/sessions/{s}/{ending}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{ending}: {}", r.json);
        assert_eq!(
            as_applicant(&app, Method::GET, me, &t, None).await.status,
            StatusCode::UNAUTHORIZED,
            "{ending}"
        );
        let again = issue(&app, &s, None).await;
        assert_eq!(
            again.status,
            StatusCode::CONFLICT,
            "{ending}: {}",
            again.json
        );
        assert_eq!(again.code(), code);
    }

    // A token past its expiry, whatever its session.
    let s = app.create_session(None).await;
    let now = Timestamp::now();
    let expired = idv::domain::client_token::new_secret().expect("random");
    let record = ClientToken {
        id: ClientTokenId::new(now.datetime()),
        tenant: TenantId::parse("acme").expect("tenant"),
        environment: Environment::Staging,
        session_id: SessionId::parse(&s).expect("id"),
        steps: vec![CaptureStep::Idv],
        issued_by: ApiKeyId::new(now.datetime()),
        created_at: now,
        expires_at: now,
    };
    app.store
        .put_client_token(&hash_secret(&expired), &record)
        .await
        .expect("put");
    assert_eq!(
        as_applicant(&app, Method::GET, me, &expired, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let live = token_for(&app, &s).await;
    // Unknown, malformed, and two credentials at once.
    for bad in [
        idv::domain::client_token::new_secret().expect("random"),
        format!("{live}x"),
        "ct_".into(),
        String::new(),
    ] {
        assert_eq!(
            as_applicant(&app, Method::GET, me, &bad, None).await.status,
            StatusCode::UNAUTHORIZED,
            "{bad}"
        );
    }
    let both = app
        .call(
            Method::GET,
            me,
            &app.key,
            None,
            &[("authorization", &format!("Bearer {live}"))],
        )
        .await;
    assert_eq!(
        both.status,
        StatusCode::UNAUTHORIZED,
        "which one acts? neither"
    );
    // A key has no token to describe.
    assert_eq!(app.get(me).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn issuing_is_checked_like_any_write() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    for (meta, pointer) in [
        (json!({"ttl_seconds": 59}), "/meta/ttl_seconds"),
        (json!({"ttl_seconds": 3601}), "/meta/ttl_seconds"),
        (json!({"ttl_seconds": "1800"}), "/meta/ttl_seconds"),
        (json!({"steps": ["address"]}), "/meta/steps"),
        (json!({"steps": ["idv", "idv"]}), "/meta/steps"),
        (json!({"steps": "idv"}), "/meta/steps"),
        (json!({"scopes": ["*"]}), "/meta/scopes"),
    ] {
        let r = issue(&app, &session, Some(meta.clone())).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{meta}: {}",
            r.json
        );
        assert_eq!(r.source(), pointer, "{meta}");
    }
    let r = issue(&app, &session, Some(json!({"ttl_seconds": 3600}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json["meta"]["ttl_seconds"], 3600);
    assert_eq!(*r.attr("steps"), json!(["idv"]));

    // A key that may only read, another tenant, and an unknown session.
    let reader = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::SessionsRead],
            None,
        )
        .await;
    let path = format!("/v1/identity/sessions/{session}/client-token");
    let r = app.call(Method::POST, &path, &reader, None, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.json["errors"][0]["meta"]["required_scope"],
        "sessions:write"
    );
    let foreign = app
        .issue_key("globex", Environment::Staging, &[Permission::All], None)
        .await;
    assert_eq!(
        app.call(Method::POST, &path, &foreign, None, &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let unknown = SessionId::new(time::OffsetDateTime::now_utc());
    assert_eq!(
        issue(&app, &unknown.to_string(), None).await.status,
        StatusCode::NOT_FOUND
    );

    // An idempotent replay never shows the token again: it is not stored in plain text.
    let key = [("idempotency-key", "token-once")];
    let first = app.call(Method::POST, &path, &app.key, None, &key).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let token = first.attr("token").as_str().expect("token").to_owned();
    let replay = app.call(Method::POST, &path, &app.key, None, &key).await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(*replay.attr("token"), Value::Null);
    assert_eq!(*replay.attr("capture_url"), Value::Null);
    assert!(replay.json["meta"]["token"].is_string());
    assert!(!app.all_values().await.iter().any(|v| v.contains(&token)));

    // The applicant choosing the integrator's idempotency key and body is not replayed the
    // integrator's answer: a token's keys live apart.
    let doc_body = licence_document(Some(&session), 1000);
    let integrators = app
        .call(
            Method::POST,
            "/v1/identity/documents/idvs",
            &app.key,
            Some(&doc_body),
            &[("idempotency-key", "shared")],
        )
        .await;
    assert_eq!(integrators.status, StatusCode::CREATED);
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/v1/identity/documents/idvs")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("idempotency-key", "shared");
    b = b.header("accept", "application/json");
    let applicants = app
        .send(b.body(Body::from(doc_body.to_string())).expect("request"))
        .await;
    assert_eq!(
        applicants.status,
        StatusCode::CREATED,
        "{}",
        applicants.json
    );
    assert!(applicants.headers.get("idempotent-replayed").is_none());
    assert_ne!(applicants.id(), integrators.id());
}
