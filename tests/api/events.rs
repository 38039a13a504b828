//! The events feed (API.md §7): what each change reports, in order, its filters, its
//! tenancy boundary, its scope, that it holds no personal data, and that its items' TTL
//! deletions are ignored by the expiry stream.

use std::collections::HashMap;
use std::time::{Duration as StdDuration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use http::{Method, StatusCode};
use idv::domain::auth::Permission;
use idv::domain::values::Environment;
use idv::store::keys;
use idv_checks::fixtures::{licence_back_jpeg, LicenceFields, Variant};
use idv_tests::{png_bytes, put_upload, TestApp};
use serde_json::{json, Value};

/// Every event of the default key's feed, newest first (one page of 100).
async fn feed(app: &TestApp, query: &str) -> Vec<Value> {
    let sep = if query.is_empty() { "" } else { "&" };
    let r = app
        .get(&format!("/v1/identity/events?page[size]=100{sep}{query}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.json);
    r.json["data"].as_array().cloned().expect("a list")
}

fn kind(e: &Value) -> &str {
    e["attributes"]["type"].as_str().unwrap_or_default()
}

fn types(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| kind(e).to_owned()).collect()
}

/// The events of `now` not in `before`, oldest first (same-millisecond events sorted by
/// type, since their order within one transaction is not meaningful).
fn new_since(before: &[Value], now: &[Value]) -> Vec<Value> {
    let seen: Vec<&Value> = before.iter().map(|e| &e["id"]).collect();
    let mut out: Vec<Value> = now
        .iter()
        .filter(|e| !seen.contains(&&e["id"]))
        .cloned()
        .collect();
    out.reverse();
    out.sort_by(|a, b| {
        let at = |e: &Value| {
            e["attributes"]["created_at"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        };
        at(a).cmp(&at(b)).then(kind(a).cmp(kind(b)))
    });
    out
}

/// `(type, object.type, object.status, previous_status)` of an event.
fn summary(e: &Value) -> (String, String, String, String) {
    let a = &e["attributes"];
    let text = |v: &Value| v.as_str().unwrap_or("null").to_owned();
    (
        text(&a["type"]),
        text(&a["data"]["object"]["type"]),
        text(&a["data"]["object"]["status"]),
        text(&a["data"]["previous_status"]),
    )
}

fn expect(events: &[Value], want: &[(&str, &str, &str, &str)]) {
    let got: Vec<_> = events.iter().map(summary).collect();
    let want: Vec<_> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want);
}

/// A licence-back document of `session` (one file named `filename`), uploaded and checked.
async fn licence_document(app: &TestApp, session: &str, filename: &str) -> String {
    let bytes = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    let body = json!({"data": {"type": "document/idv", "attributes": {"files": [
        {"filename": filename, "content_type": "image/jpeg", "byte_size": bytes.len(), "side": "back"}]},
        "relationships": {"session": {"data": {"type": "session", "id": session}}}}});
    let created = app.post("/v1/identity/documents/idvs", Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    assert_eq!(app.deliver_uploads().await, 1);
    created.id()
}

async fn verify(app: &TestApp, doc: &str, session: &str) -> String {
    let body = json!({"data": {"type": "verification/idv", "relationships": {
        "document": {"data": {"type": "document/idv", "id": doc}},
        "session": {"data": {"type": "session", "id": session}}}},
        "meta": {"auto_update_session": true}});
    let r = app.post("/v1/identity/verifications", Some(&body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.attr("status"), "passed", "{}", r.json);
    r.id()
}

#[tokio::test]
async fn a_session_life_reports_each_change_in_order() {
    let app = TestApp::new().await;

    let session = app.create_session(None).await;
    let now = feed(&app, "").await;
    let created = new_since(&[], &now);
    expect(
        &created,
        &[("session.created", "session", "created", "null")],
    );
    assert_eq!(
        created[0]["attributes"]["data"]["object"]["id"],
        json!(session)
    );
    assert_eq!(
        created[0]["attributes"]["data"]["session_id"],
        json!(session)
    );
    assert_eq!(created[0]["attributes"]["actor"]["type"], "api_key");
    assert!(created[0]["id"].as_str().expect("id").starts_with("evt_"));
    // The feed entry of a session event is that event: same id as in the session's log.
    let log = app
        .get(&format!("/v1/identity/sessions/{session}/events"))
        .await;
    assert_eq!(log.json["data"][0]["id"], created[0]["id"]);
    let mut seen = now;

    let doc = licence_document(&app, &session, "front.jpg").await;
    let now = feed(&app, "").await;
    let linked = new_since(&seen, &now);
    expect(
        &linked,
        &[
            ("session.started", "session", "started", "created"),
            (
                "document.file_checked",
                "file",
                "uploaded",
                "pending_upload",
            ),
        ],
    );
    assert_eq!(linked[1]["attributes"]["data"]["document_id"], json!(doc));
    assert_eq!(
        linked[1]["attributes"]["data"]["session_id"],
        json!(session)
    );
    assert_eq!(linked[1]["attributes"]["actor"]["type"], "system");
    seen = now;

    let r = app
        .post(&format!("/v1/identity/documents/idvs/{doc}/submit"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let now = feed(&app, "").await;
    expect(
        &new_since(&seen, &now),
        &[("session.pending", "session", "pending", "started")],
    );
    seen = now;

    let verification = verify(&app, &doc, &session).await;
    let now = feed(&app, "").await;
    let verified = new_since(&seen, &now);
    expect(
        &verified,
        &[
            ("session.completed", "session", "completed", "pending"),
            // The verification linked, then the extracted data written.
            ("session.updated", "session", "pending", "null"),
            ("session.updated", "session", "pending", "null"),
            (
                "verification.completed",
                "verification/idv",
                "passed",
                "null",
            ),
        ],
    );
    assert_eq!(
        verified[3]["attributes"]["data"]["object"]["id"],
        json!(verification)
    );
    assert_eq!(
        verified[3]["attributes"]["data"]["session_id"],
        json!(session)
    );
    assert_eq!(verified[3]["attributes"]["data"]["document_id"], json!(doc));
    seen = now;

    let r = app
        .post(&format!("/v1/identity/sessions/{session}/approve"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let now = feed(&app, "").await;
    let approved = new_since(&seen, &now);
    expect(
        &approved,
        &[("session.approved", "session", "approved", "completed")],
    );

    // Newest first, and each event readable on its own.
    assert_eq!(kind(&now[0]), "session.approved");
    assert_eq!(kind(now.last().expect("events")), "session.created");
    let one = app
        .get(&format!(
            "/v1/identity/events/{}",
            approved[0]["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.json);
    assert_eq!(one.json["data"], approved[0]);
    assert_eq!(now.len(), 9, "{:?}", types(&now));
}

#[tokio::test]
async fn a_rejected_upload_reports_a_file_check() {
    let app = TestApp::new().await;
    // Declared a JPEG, sent a PNG: the checker rejects it.
    let body = json!({"data": {"type": "document/idv", "attributes": {"files": [
        {"filename": "x.jpg", "content_type": "image/jpeg", "byte_size": 2000, "side": "front"}]}}});
    let created = app.post("/v1/identity/documents/idvs", Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, png_bytes(2000)).await, 200);
    assert_eq!(app.deliver_uploads().await, 1);
    let file = created.json["data"]["attributes"]["files"][0]["id"].clone();

    let events = feed(&app, "filter[type]=document.file_checked").await;
    expect(
        &events,
        &[(
            "document.file_checked",
            "file",
            "rejected",
            "pending_upload",
        )],
    );
    let data = &events[0]["attributes"]["data"];
    assert_eq!(data["object"]["id"], file);
    assert_eq!(data["document_id"], json!(created.id()));
    assert_eq!(data["session_id"], Value::Null, "a standalone document");
    assert_eq!(events[0]["attributes"]["actor"]["id"], "upload_check");

    // A redelivery decides nothing new, and reports nothing new.
    app.deliver_uploads().await;
    assert_eq!(feed(&app, "").await.len(), 1);
}

#[tokio::test]
async fn accounts_report_creation_and_redaction() {
    let app = TestApp::new().await;
    let account = app.create_account(Some("ext-7")).await;
    let session = app.create_session(Some(&account)).await;
    let r = app
        .post(&format!("/v1/identity/accounts/{account}/redact"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    let events = feed(&app, "filter[type]=account.*").await;
    expect(
        &events,
        &[
            ("account.redacted", "account", "active", "null"),
            ("account.created", "account", "active", "null"),
        ],
    );
    for e in &events {
        assert_eq!(e["attributes"]["data"]["object"]["id"], json!(account));
        assert_eq!(e["attributes"]["actor"]["type"], "api_key");
    }
    // The cascade's session redaction reported itself too.
    let redacted = feed(
        &app,
        &format!("filter[session_id]={session}&filter[type]=session.redacted"),
    )
    .await;
    assert_eq!(types(&redacted), ["session.redacted"]);

    // Redacting again finishes nothing new.
    app.post(&format!("/v1/identity/accounts/{account}/redact"), None)
        .await;
    assert_eq!(feed(&app, "filter[type]=account.redacted").await.len(), 1);
}

#[tokio::test]
async fn filters_narrow_the_feed() {
    let app = TestApp::new().await;
    let a = app.create_session(None).await;
    tokio::time::sleep(StdDuration::from_millis(20)).await;
    let middle = idv::domain::values::Timestamp::now().to_string();
    tokio::time::sleep(StdDuration::from_millis(20)).await;
    let b = app.create_session(None).await;
    app.complete_session(&b).await;
    let account = app.create_account(None).await;
    let all = feed(&app, "").await;
    assert_eq!(
        types(&all),
        [
            "account.created",
            "session.completed",
            "session.pending",
            "session.started",
            "session.created",
            "session.created",
        ]
    );

    let listed = feed(&app, "filter[type]=session.created,account.created").await;
    assert_eq!(
        types(&listed),
        ["account.created", "session.created", "session.created"]
    );
    let sessions = feed(&app, "filter[type]=session.*").await;
    assert_eq!(sessions.len(), 5);
    assert!(sessions.iter().all(|e| kind(e).starts_with("session.")));

    let of_a = feed(&app, &format!("filter[session_id]={a}")).await;
    assert_eq!(types(&of_a), ["session.created"]);
    assert_eq!(of_a[0]["attributes"]["data"]["object"]["id"], json!(a));
    let of_b = feed(
        &app,
        &format!("filter[session_id]={b}&filter[type]=session.pending,session.completed"),
    )
    .await;
    assert_eq!(types(&of_b), ["session.completed", "session.pending"]);

    let before = feed(&app, &format!("filter[created_at_to]={middle}")).await;
    assert_eq!(types(&before), ["session.created"]);
    assert_eq!(before[0]["attributes"]["data"]["object"]["id"], json!(a));
    let after = feed(&app, &format!("filter[created_at_from]={middle}")).await;
    assert_eq!(after.len(), 5);
    assert!(after
        .iter()
        .all(|e| e["attributes"]["data"]["object"]["id"] != json!(a)));
    assert!(after
        .iter()
        .any(|e| e["attributes"]["data"]["object"]["id"] == json!(account)));

    // Paging walks the same list.
    let first = app.get("/v1/identity/events?page[size]=4").await;
    assert_eq!(first.json["data"].as_array().map(Vec::len), Some(4));
    let next = first.json["links"]["next"]
        .as_str()
        .expect("next")
        .to_owned();
    let rest = app.get(&next[next.find("/v1/").expect("path")..]).await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.json);
    assert_eq!(rest.json["data"].as_array().map(Vec::len), Some(2));

    for (query, parameter) in [
        ("filter[type]=session.nope", "filter[type]"),
        ("filter[type]=webhook.*", "filter[type]"),
        (
            "filter[session_id]=acc_01HQ0000000000000000000000",
            "filter[session_id]",
        ),
        ("filter[created_at_from]=monday", "filter[created_at_from]"),
        (
            "filter[created_at_to]=2025-13-01T00:00:00Z",
            "filter[created_at_to]",
        ),
        ("filter[status]=approved", "filter[status]"),
    ] {
        let r = app.get(&format!("/v1/identity/events?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.json);
        assert_eq!(r.code(), "invalid_parameter", "{query}");
        assert_eq!(r.source(), parameter, "{query}");
    }
}

#[tokio::test]
async fn other_tenancies_see_none_of_the_feed() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    app.complete_session(&session).await;
    let ours = feed(&app, "").await;
    assert_eq!(ours.len(), 4);

    let other_tenant = app
        .issue_key("globex", Environment::Staging, &[Permission::All], None)
        .await;
    let production = app
        .issue_key("acme", Environment::Production, &[Permission::All], None)
        .await;
    for key in [&other_tenant, &production] {
        let list = app
            .call(Method::GET, "/v1/identity/events", key, None, &[])
            .await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.json);
        assert_eq!(list.json["data"], json!([]));
        let by_session = app
            .call(
                Method::GET,
                &format!("/v1/identity/events?filter[session_id]={session}"),
                key,
                None,
                &[],
            )
            .await;
        assert_eq!(by_session.json["data"], json!([]));
        for e in &ours {
            let id = e["id"].as_str().expect("id");
            let r = app
                .call(
                    Method::GET,
                    &format!("/v1/identity/events/{id}"),
                    key,
                    None,
                    &[],
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}: {}", r.json);
        }
    }
    // Unknown and malformed ids answer alike.
    for id in [
        "evt_01HQ0000000000000000000000",
        "evt_nope",
        "sess_01HQ0000000000000000000000",
    ] {
        let r = app.get(&format!("/v1/identity/events/{id}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(r.code(), "not_found");
    }
}

#[tokio::test]
async fn reading_the_feed_needs_the_events_read_scope() {
    let app = TestApp::new().await;
    app.create_session(None).await;
    let id = feed(&app, "").await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let narrow = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::SessionsRead, Permission::SessionsWrite],
            None,
        )
        .await;
    let reader = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::EventsRead],
            None,
        )
        .await;
    for path in [
        "/v1/identity/events".to_owned(),
        format!("/v1/identity/events/{id}"),
    ] {
        let r = app.call(Method::GET, &path, &narrow, None, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.json);
        assert_eq!(r.json["errors"][0]["meta"]["required_scope"], "events:read");
        let r = app
            .send(
                http::Request::builder()
                    .uri(&path)
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        let r = app.call(Method::GET, &path, &reader, None, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.json);
    }
}

#[tokio::test]
async fn feed_items_hold_no_personal_data() {
    let app = TestApp::new().await;
    // No name or birth date of its own, so the licence's (written into the session by the
    // verification) pass the comparison and the session completes.
    let attrs = json!({
        "entity_type": "person",
        "address": {"line1": "742 Evergreen Terrace", "city": "Springfield", "country_code": "US"},
    });
    let created = app
        .post(
            "/v1/identity/sessions",
            Some(&json!({"data": {"type": "session", "attributes": attrs}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let session = created.id();
    let r = app
        .patch(
            &format!("/v1/identity/sessions/{session}"),
            &json!({"data": {"type": "session", "id": session, "attributes": {"contact": {"email": "zq@example.org", "phone": "+15555550123"}}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let doc = licence_document(&app, &session, "zebulon-licence.jpg").await;
    app.post(&format!("/v1/identity/documents/idvs/{doc}/submit"), None)
        .await;
    verify(&app, &doc, &session).await;
    let r = app
        .post(
            &format!("/v1/identity/sessions/{session}/mark-for-review"),
            Some(&json!({"meta": {"comment": "reviewer saw Zebulon's licence"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    let items: Vec<HashMap<String, AttributeValue>> = app
        .scan_all()
        .await
        .into_iter()
        .filter(|i| {
            i.get("entity")
                .and_then(|e| e.as_s().ok())
                .map(String::as_str)
                == Some("feed_event")
        })
        .collect();
    assert!(items.len() >= 8, "{} feed items", items.len());
    let text = format!("{items:?}");
    for secret in [
        "Evergreen",
        "Springfield",
        "zq@example.org",
        "15555550123",
        "zebulon-licence",
        "reviewer saw",
        "MICHAEL",
        "SAMPLE",
        "1986-06-06",
        "T64235789",
        "RICHMOND",
    ] {
        assert!(!text.contains(secret), "{secret} in a feed item");
    }
    // …while the session's own log does keep the reviewer's comment and the changed fields.
    let log = app
        .get(&format!("/v1/identity/sessions/{session}/events"))
        .await;
    assert!(log.json.to_string().contains("reviewer saw"));
    // And so the API's answers hold none either.
    let answer = app
        .get("/v1/identity/events?page[size]=100")
        .await
        .json
        .to_string();
    assert!(!answer.contains("SAMPLE") && !answer.contains("reviewer saw"));
}

#[tokio::test]
async fn a_ttl_deletion_of_a_feed_item_changes_nothing() {
    let app = TestApp::on_ttl_instance().await;
    let session = app.create_session(None).await;
    let event = feed(&app, "").await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let pk = keys::feed_event_pk(
        &app.tenancy,
        idv::domain::ids::EventId::parse(&event).expect("evt id"),
    );
    let mut filtered = app.stream_relay().await;
    let mut unfiltered = app.stream_relay().await.with_filter(json!({}));
    // Thirty days pass for this item: its TTL moves to the past (a minute ago: AWS skips
    // TTLs more than five years old), so DynamoDB deletes it.
    app.client
        .update_item()
        .table_name(&app.table)
        .key("pk", AttributeValue::S(pk.clone()))
        .key("sk", AttributeValue::S(keys::FEED_EVENT_SK.to_owned()))
        .update_expression("SET #ttl = :past")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_names("#ttl", keys::TTL)
        .expression_attribute_values(
            ":past",
            AttributeValue::N((time::OffsetDateTime::now_utc().unix_timestamp() - 60).to_string()),
        )
        .send()
        .await
        .expect("a feed item exists");
    let before: Vec<HashMap<String, AttributeValue>> = app
        .scan_all()
        .await
        .into_iter()
        .filter(|i| i.get("pk").and_then(|v| v.as_s().ok()) != Some(&pk))
        .collect();

    let (mut nothing, mut everything) = (Vec::new(), Vec::new());
    let started = Instant::now();
    let mut ttl_removes = 0;
    while ttl_removes == 0 {
        assert!(
            started.elapsed() < StdDuration::from_secs(60),
            "TTL did not delete the feed item"
        );
        let p = app.deliver_stream(&mut filtered, &mut nothing).await;
        assert_eq!(
            p.matched, 0,
            "the template's filter passes no feed item: {p:?}"
        );
        let p = app.deliver_stream(&mut unfiltered, &mut everything).await;
        assert_eq!(p.failed, 0, "handed over anyway, it is no failure: {p:?}");
        ttl_removes = everything
            .iter()
            .flat_map(|b| b["Records"].as_array().into_iter().flatten())
            .filter(|r| {
                r["eventName"] == "REMOVE"
                    && r["userIdentity"]["principalId"] == "dynamodb.amazonaws.com"
                    && r["dynamodb"]["OldImage"]["entity"]["S"] == "feed_event"
            })
            .count();
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    }
    assert!(nothing.is_empty());
    let after = app.scan_all().await;
    assert_eq!(after.len(), before.len(), "only the feed item is gone");
    assert!(
        before.iter().all(|item| after.contains(item)),
        "the rest unchanged"
    );
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(s.attr("status"), "created");
    app.drop_table().await;
}

/// The round trips the README quotes, measured: GET /events is 1 Query (with filters too),
/// GET /events/{id} 1 GetItem, and a transition still 2 (GetItem, one transaction), its
/// feed item riding in that transaction.
#[tokio::test]
async fn the_feed_costs_one_round_trip_per_read_and_none_per_change() {
    use tower::ServiceExt;
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
    config.key_cache_ttl = StdDuration::from_secs(300);
    let state = idv::http::AppState::new(
        idv::store::Store::new(client, app.table.clone()),
        app.objects.clone(),
        config,
    );
    let routers = [
        events::router(state.clone(), app.hooks.clone()),
        sessions::router(state),
    ];
    let session = app.create_session(None).await;
    let call = |router: usize, method: Method, path: String| {
        let router = routers[router].clone();
        let key = app.key.clone();
        async move {
            let req = http::Request::builder()
                .method(method)
                .uri(path)
                .header("x-api-key", key)
                .body(axum::body::Body::empty())
                .expect("request");
            router.oneshot(req).await.expect("infallible").status()
        }
    };
    // Warm the key cache of both routers' shared state.
    assert_eq!(
        call(0, Method::GET, "/v1/identity/events".into()).await,
        StatusCode::OK
    );
    ops.take();
    let take = || ops.take().len();

    let status = call(
        1,
        Method::POST,
        format!("/v1/identity/sessions/{session}/expire"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let transition = take();
    assert_eq!(
        call(0, Method::GET, "/v1/identity/events".into()).await,
        StatusCode::OK
    );
    let list = take();
    let filtered = format!("/v1/identity/events?filter[type]=session.*&filter[session_id]={session}&filter[created_at_from]=2025-01-01T00:00:00Z");
    assert_eq!(call(0, Method::GET, filtered).await, StatusCode::OK);
    let list_filtered = take();
    let id = feed(&app, "").await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    take();
    assert_eq!(
        call(0, Method::GET, format!("/v1/identity/events/{id}")).await,
        StatusCode::OK
    );
    let show = take();
    println!(
        "round trips: transition {transition}, GET /events {list}, filtered {list_filtered}, GET /events/{{id}} {show}"
    );
    assert_eq!((transition, list, list_filtered, show), (2, 1, 1, 1));
}
