//! Sessions: updates, transitions, events, simulate, expiry on read.

use http::{Method, StatusCode};
use idv::domain::applicant::ApplicantData;
use idv::domain::auth::Permission;
use idv::domain::event::{Actor, Event};
use idv::domain::ids::SessionId;
use idv::domain::session::{Creator, EntityType, Session};
use idv::domain::values::{Environment, Timestamp};
use idv_tests::TestApp;
use serde_json::json;

fn simulate(action: &str) -> serde_json::Value {
    json!({"data": {"attributes": {"action": action}}})
}

#[tokio::test]
async fn patch_is_a_json_merge_patch_and_is_logged_without_values() {
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    let path = format!("/v1/identity/sessions/{id}");
    let first = json!({"data": {"type": "session", "attributes": {
        "person": {"name": {"first": "Jane", "middle": "Q", "last": "Doe"}, "birth_date": "1990-05-15"},
        "address": {"locality": "Paris", "country_code": "FR"}}}});
    assert_eq!(app.patch(&path, &first).await.status, StatusCode::OK);

    // Merge: middle cleared by null, last kept, birth date kept, address merged.
    let second = json!({"data": {"type": "session", "attributes": {
        "person": {"name": {"middle": null, "first": "Janet"}},
        "address": {"postal_code": "75001"}}}});
    let r = app.patch(&path, &second).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.attr("person"),
        &json!({"name": {"first": "Janet", "middle": null, "last": "Doe"}, "birth_date": "1990-05-15"})
    );
    assert_eq!(
        r.attr("address")["city"],
        "Paris",
        "alias stored under its canonical name"
    );
    assert_eq!(r.attr("address")["postal_code"], "75001");

    // Clearing a whole object.
    let third = json!({"data": {"type": "session", "attributes": {"address": null}}});
    assert_eq!(app.patch(&path, &third).await.attr("address"), &json!(null));

    let events = app.get(&format!("{path}/events")).await;
    let types: Vec<&str> = events.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["attributes"]["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "session.created",
            "session.updated",
            "session.updated",
            "session.updated"
        ]
    );
    let fields = &events.json["data"][1]["attributes"]["data"]["fields"];
    assert_eq!(fields, &json!(["person", "address"]));
    assert!(
        !events.json.to_string().contains("Jane"),
        "events never hold values"
    );
}

#[tokio::test]
async fn patch_is_refused_once_decided_or_redacted() {
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    app.complete_session(&id).await;
    assert_eq!(
        app.post(&format!("/v1/identity/sessions/{id}/decline"), None)
            .await
            .status,
        StatusCode::OK
    );
    let body = json!({"data": {"type": "session", "attributes": {"contact": {"email": "a@b.co"}}}});
    let r = app
        .patch(&format!("/v1/identity/sessions/{id}"), &body)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "invalid_transition")
    );
    assert_eq!(
        r.json["errors"][0]["meta"],
        json!({"status": "declined", "action": "update"})
    );

    let other = app.create_session(None).await;
    assert_eq!(
        app.post(&format!("/v1/identity/sessions/{other}/redact"), None)
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .patch(&format!("/v1/identity/sessions/{other}"), &body)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "session_redacted")
    );
}

#[tokio::test]
async fn the_transition_table_is_enforced_over_http() {
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    let base = format!("/v1/identity/sessions/{id}");

    let r = app.post(&format!("{base}/approve"), None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "invalid_transition")
    );
    assert_eq!(
        r.json["errors"][0]["meta"],
        json!({"status": "created", "action": "approve"})
    );

    let started = app
        .post(&format!("{base}/simulate"), Some(&simulate("start")))
        .await;
    assert_eq!(started.attr("status"), "started");
    let started_at = started
        .attr("started_at")
        .as_str()
        .expect("started_at")
        .to_owned();
    let expires_at =
        Timestamp::parse(started.attr("expires_at").as_str().expect("set on start")).expect("ts");
    assert_eq!(
        expires_at,
        Timestamp::parse(&started_at)
            .expect("ts")
            .add(time::Duration::hours(24))
    );

    let r = app
        .post(&format!("{base}/simulate"), Some(&simulate("complete")))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "invalid_transition")
    );
    assert_eq!(
        app.post(&format!("{base}/simulate"), Some(&simulate("submit")))
            .await
            .attr("status"),
        "pending"
    );
    assert_eq!(
        app.post(&format!("{base}/simulate"), Some(&simulate("complete")))
            .await
            .attr("status"),
        "completed"
    );

    let marked = app
        .post(
            &format!("{base}/mark-for-review"),
            Some(&json!({"meta": {"comment": "name mismatch"}})),
        )
        .await;
    assert_eq!(marked.attr("status"), "marked_for_review");
    assert!(marked.attr("marked_for_review_at").is_string());
    let r = app.post(&format!("{base}/mark-for-review"), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let approved = app
        .post(
            &format!("{base}/approve"),
            Some(&json!({"meta": {"comment": "checked by hand"}})),
        )
        .await;
    assert_eq!(approved.attr("status"), "approved");
    for action in ["approve", "decline", "expire"] {
        let r = app.post(&format!("{base}/{action}"), None).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "invalid_transition"),
            "{action}"
        );
    }
    let r = app
        .post(&format!("{base}/simulate"), Some(&simulate("fail")))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    let events = app.get(&format!("{base}/events")).await;
    let log: Vec<(String, String, String)> = events.json["data"]
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            let a = &e["attributes"];
            (
                a["type"].as_str().unwrap_or("").to_owned(),
                a["data"]["from"].as_str().unwrap_or("-").to_owned(),
                a["data"]["to"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("session.created", "-", "created"),
        ("session.started", "created", "started"),
        ("session.pending", "started", "pending"),
        ("session.completed", "pending", "completed"),
        (
            "session.marked_for_review",
            "completed",
            "marked_for_review",
        ),
        ("session.approved", "marked_for_review", "approved"),
    ];
    assert_eq!(log.len(), expected.len(), "{log:?}");
    for (got, want) in log.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str(), got.2.as_str()), want);
    }
    let last = &events.json["data"][5]["attributes"];
    assert_eq!(last["data"]["comment"], "checked by hand");
    assert_eq!(last["actor"]["type"], "api_key");
    assert!(last["actor"]["id"]
        .as_str()
        .expect("key id")
        .starts_with("key_"));
}

#[tokio::test]
async fn simulate_is_for_staging_keys_only() {
    let app = TestApp::new().await;
    let prod = app
        .issue_key("acme", Environment::Production, &[Permission::All], None)
        .await;
    let create = json!({"data": {"type": "session", "attributes": {"entity_type": "business"}}});
    let created = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &prod,
            Some(&create),
            &[],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let r = app
        .call(
            Method::POST,
            &format!("/v1/identity/sessions/{}/simulate", created.id()),
            &prod,
            Some(&simulate("start")),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "sandbox_only")
    );
    let shown = app
        .call(
            Method::GET,
            &format!("/v1/identity/sessions/{}", created.id()),
            &prod,
            None,
            &[],
        )
        .await;
    assert_eq!(shown.attr("status"), "created", "nothing changed");
}

#[tokio::test]
async fn explicit_deadlines_are_validated_and_kept() {
    let app = TestApp::new().await;
    let at = Timestamp::now().add(time::Duration::days(2));
    let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person", "expires_at": at.to_string()}}});
    let r = app.post("/v1/identity/sessions", Some(&body)).await;
    assert_eq!(r.attr("expires_at"), &json!(at.to_string()));
    let started = app
        .post(
            &format!("/v1/identity/sessions/{}/simulate", r.id()),
            Some(&simulate("start")),
        )
        .await;
    assert_eq!(
        started.attr("expires_at"),
        &json!(at.to_string()),
        "start keeps an explicit deadline"
    );

    let too_far = Timestamp::now().add(time::Duration::days(31));
    let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person", "expires_at": too_far.to_string()}}});
    let r = app.post("/v1/identity/sessions", Some(&body)).await;
    assert_eq!(
        (r.status, r.source()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/expires_at"
        )
    );
}

/// Writes a session whose deadline has already passed, as if nobody had looked at it in
/// time (the stream and the sweep are other issues' paths).
async fn overdue_session(app: &TestApp) -> SessionId {
    let now = Timestamp::now();
    let created = now.add(time::Duration::minutes(-10));
    let s = Session::new(
        SessionId::new(created.datetime()),
        Creator {
            kind: "api".into(),
            id: None,
        },
        EntityType::Person,
        None,
        ApplicantData::default(),
        Some(now.add(time::Duration::minutes(-1))),
        created,
    );
    // Started at its creation, with `expires_at` already past (Start keeps it).
    let s = TestApp::walk(s, &[idv::domain::session::Action::Start]);
    let event = Event::change(&s, "session.created", None, Actor::system("test"), None);
    app.store
        .create_session(&app.tenancy, &s, &event, None)
        .await
        .expect("write");
    s.id
}

#[tokio::test]
async fn reads_never_show_an_overdue_session_as_live() {
    let app = TestApp::new().await;
    let id = overdue_session(&app).await;
    let live = app.create_session(None).await;

    let started = app
        .get("/v1/identity/sessions?filter[status]=started")
        .await;
    assert_eq!(
        started.json["data"],
        json!([]),
        "an overdue session is not listed as started"
    );
    let expired = app
        .get("/v1/identity/sessions?filter[status]=expired")
        .await;
    assert_eq!(expired.json["data"][0]["id"], json!(id.to_string()));
    assert_eq!(expired.json["data"][0]["attributes"]["status"], "expired");
    let all = app.get("/v1/identity/sessions").await;
    assert_eq!(all.json["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(all.json["data"][1]["attributes"]["status"], "expired");
    assert_eq!(all.json["data"][0]["id"], json!(live));

    let shown = app.get(&format!("/v1/identity/sessions/{id}")).await;
    assert_eq!(shown.attr("status"), "expired");
    assert_eq!(
        shown.attr("expired_at"),
        shown.attr("expires_at"),
        "expired at its deadline"
    );
    // The read wrote the expiry, with its event, exactly once.
    let stored = app
        .store
        .get_session(&app.tenancy, id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        stored.status(),
        idv::domain::session::SessionStatus::Expired
    );
    app.get(&format!("/v1/identity/sessions/{id}")).await;
    let events = app.get(&format!("/v1/identity/sessions/{id}/events")).await;
    let types: Vec<&str> = events.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["attributes"]["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(types, ["session.created", "session.expired"]);
    assert_eq!(
        events.json["data"][1]["attributes"]["actor"],
        json!({"type": "system", "id": "expiry"})
    );

    // Acting on an overdue session acts on the expired one.
    let other = overdue_session(&app).await;
    let r = app
        .post(
            &format!("/v1/identity/sessions/{other}/simulate"),
            Some(&simulate("submit")),
        )
        .await;
    assert_eq!(r.json["errors"][0]["meta"]["status"], "expired");
}

#[tokio::test]
async fn unknown_malformed_and_unrouted() {
    let app = TestApp::new().await;
    let unknown = SessionId::new(time::OffsetDateTime::now_utc());
    for path in [
        format!("/v1/identity/sessions/{unknown}"),
        "/v1/identity/sessions/sess_123".to_owned(),
        "/v1/identity/sessions/acc_01HQ0000000000000000000000".to_owned(),
        format!("/v1/identity/sessions/{unknown}/events"),
        "/v1/identity/nothing".to_owned(),
    ] {
        let r = app.get(&path).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let r = app
        .post(&format!("/v1/identity/sessions/{unknown}/approve"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call(Method::DELETE, "/v1/identity/sessions", &app.key, None, &[])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    assert!(r.headers.contains_key("x-request-id"));
}

/// Every committed transition and verification outcome is counted as an EMF line (what
/// CloudWatch turns into the `SessionTransitions` and `VerificationOutcomes` metrics).
#[tokio::test]
async fn transitions_are_counted_as_embedded_metrics() {
    use std::sync::{Arc, Mutex};
    static SEEN: std::sync::LazyLock<Arc<Mutex<Vec<serde_json::Value>>>> =
        std::sync::LazyLock::new(|| Arc::new(Mutex::new(Vec::new())));
    let seen = Arc::clone(&SEEN);
    idv::metrics::observe(move |line| seen.lock().expect("lock").push(line.clone()));
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    app.complete_session(&id).await;
    let r = app
        .post(&format!("/v1/identity/sessions/{id}/mark-for-review"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let lines = SEEN.lock().expect("lock").clone();
    let counted = |to: &str| {
        lines
            .iter()
            .filter(|l| l["To"] == to && l["SessionTransitions"] == 1)
            .count()
    };
    // Other tests run alongside and count too: at least this session's.
    for to in [
        "created",
        "started",
        "pending",
        "completed",
        "marked_for_review",
    ] {
        assert!(counted(to) >= 1, "no {to}: {lines:?}");
    }
    let line = lines
        .iter()
        .find(|l| l["To"] == "marked_for_review")
        .expect("line");
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Environment", "To"]])
    );
    assert_eq!(line["Environment"], "staging");
}
