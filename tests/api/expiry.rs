//! Automatic expiry and retention through timers, against DynamoDB Local's real TTL
//! deletions and its stream, with no API call between the deadline and the check: the
//! session is read straight from the table, since an API read would expire it itself.
//!
//! The TTL path waits for DynamoDB Local to delete the timer (about 10 s after it is due),
//! so those tests poll for up to 35 s, concurrently with the rest, on a DynamoDB Local of
//! their own (`TestApp::on_ttl_instance`: DynamoDB Local runs TTL for seven tables at most).

use std::time::{Duration as StdDuration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use http::StatusCode;
use idv::domain::event::{Actor, Event};
use idv::domain::ids::SessionId;
use idv::domain::session::{Session, SessionStatus};
use idv::domain::values::Timestamp;
use idv::store::keys;
use idv::store::query::PageRequest;
use idv::store::timers::{Retention, TimerKind};
use idv_local::streams::TTL_TIMER_FILTER;
use idv_tests::{jpeg_bytes, put_upload, TestApp};
use serde_json::{json, Value};
use time::Duration;

/// How long the TTL path may take: DynamoDB Local deletes within about 10 s of the TTL.
const TTL_PATH_LIMIT: StdDuration = StdDuration::from_secs(35);

/// Creates a session through the API that expires `in_ms` from now.
async fn expiring_session(app: &TestApp, in_ms: i64) -> (SessionId, Timestamp) {
    expiring_session_at(app, Timestamp::now().add(Duration::milliseconds(in_ms))).await
}

/// Creates a session through the API that expires at `at`.
async fn expiring_session_at(app: &TestApp, at: Timestamp) -> (SessionId, Timestamp) {
    let r = app
        .post(
            "/v1/identity/sessions",
            Some(&json!({"data": {"type": "session", "attributes": {
                "entity_type": "person", "expires_at": at.to_string()}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    (SessionId::parse(&r.id()).expect("id"), at)
}

/// The session as stored: straight from the table, not through the API.
async fn stored(app: &TestApp, id: SessionId) -> Session {
    app.store
        .get_session(&app.tenancy, id)
        .await
        .expect("read")
        .expect("exists")
}

async fn events(app: &TestApp, id: SessionId) -> Vec<Event> {
    let page = PageRequest {
        size: 100,
        cursor: None,
        total: false,
    };
    app.store
        .list_events(&app.tenancy, id, &page)
        .await
        .expect("events")
        .items
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

async fn timer(app: &TestApp, id: SessionId, kind: TimerKind) -> Option<idv::store::timers::Timer> {
    app.store
        .get_timer(&app.tenancy, id, kind)
        .await
        .expect("read timer")
}

/// Milliseconds from `at` until now.
fn ms_since(at: Timestamp) -> i128 {
    (Timestamp::now().datetime() - at.datetime()).whole_milliseconds()
}

fn assert_expired_once_by_the_system(events: &[Event], expires_at: Timestamp) {
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["session.created", "session.expired"]);
    let expired = &events[1];
    assert_eq!(expired.actor, Actor::system("expiry"));
    assert_eq!(expired.occurred_at, expires_at, "stamped at the deadline");
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(StdDuration::from_millis(ms)).await;
}

#[tokio::test]
async fn ttl_deletion_alone_expires_the_session_and_a_redelivered_batch_changes_nothing() {
    let app = TestApp::on_ttl_instance().await;
    let mut relay = app.stream_relay().await;
    let (id, expires_at) = expiring_session(&app, 2_000).await;

    // The create wrote the timer in the same transaction; the session itself has no TTL.
    let t = timer(&app, id, TimerKind::Expiry).await.expect("a timer");
    assert_eq!(t.due, expires_at);
    let pk = AttributeValue::S(keys::session_pk(&app.tenancy, id));
    let timer_item = app
        .client
        .get_item()
        .table_name(&app.table)
        .key("pk", pk.clone())
        .key("sk", AttributeValue::S(keys::timer_sk("EXPIRY")))
        .send()
        .await
        .expect("get")
        .item
        .expect("timer item");
    let ttl: i64 = timer_item["ttl"].as_n().expect("ttl").parse().expect("n");
    assert!(ttl >= expires_at.unix() && ttl <= expires_at.unix() + 1);
    let session_item = app
        .client
        .get_item()
        .table_name(&app.table)
        .key("pk", pk)
        .key("sk", AttributeValue::S(keys::SESSION_SK.into()))
        .send()
        .await
        .expect("get")
        .item
        .expect("session item");
    assert!(!session_item.contains_key("ttl"));

    // Only the stream delivers: no sweep, no API call.
    let started = Instant::now();
    let mut delivered = Vec::new();
    let mut read = 0;
    let expired = loop {
        let polled = app.deliver_stream(&mut relay, &mut delivered).await;
        assert_eq!(polled.failed, 0, "{polled:?}");
        read += polled.read;
        let s = stored(&app, id).await;
        if s.status() == SessionStatus::Expired {
            break s;
        }
        if started.elapsed() > TTL_PATH_LIMIT {
            let timer = timer(&app, id, TimerKind::Expiry).await;
            panic!(
                "not expired through TTL and the stream in {TTL_PATH_LIMIT:?}: {:?}; \
                 {read} records read, delivered {delivered:?}, timer {timer:?}",
                s.status()
            );
        }
        sleep_ms(200).await;
    };
    eprintln!(
        "TTL path: stored status `expired` seen {} ms after expires_at",
        ms_since(expires_at)
    );
    assert_eq!(expired.expired_at, Some(expires_at));
    assert_expired_once_by_the_system(&events(&app, id).await, expires_at);
    assert_eq!(timer(&app, id, TimerKind::Expiry).await, None);

    // What was delivered is what AWS delivers for a TTL deletion.
    let records: Vec<&Value> = delivered
        .iter()
        .flat_map(|b| b["Records"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(records.len(), 1, "{delivered:?}");
    assert_eq!(records[0]["eventName"], "REMOVE");
    assert_eq!(
        records[0]["userIdentity"],
        json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
    );
    assert_eq!(records[0]["eventSourceARN"], relay.stream_arn());

    // Redelivered (Lambda retries batches): nothing changes, nothing fails.
    for batch in &delivered {
        let event = serde_json::from_value(batch.clone()).expect("a DynamoDB event");
        let response = app.expirer().handle_stream(event).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(stored(&app, id).await, expired);
    assert_eq!(events(&app, id).await.len(), 2);
    assert_eq!(
        timer(&app, id, TimerKind::Expiry).await,
        None,
        "not re-armed"
    );
    app.drop_table().await;
}

#[tokio::test]
async fn the_sweep_alone_expires_a_session_and_a_second_sweep_changes_nothing() {
    let app = TestApp::new().await;
    // Due 1 ms past a whole second: its TTL (rounded up) is then almost a second later, so
    // DynamoDB Local's TTL cannot delete the timer before a sweep every 250 ms sees it.
    let soon = Timestamp::now().add(Duration::milliseconds(2_000)).unix();
    let at = Timestamp::from_unix(soon)
        .expect("time")
        .add(Duration::milliseconds(1));
    let (id, expires_at) = expiring_session_at(&app, at).await;
    let expirer = app.expirer();

    // Only the sweep runs (here every 250 ms; every 5 minutes on AWS): no stream, no API.
    let started = Instant::now();
    let (expired, report) = loop {
        let report = expirer
            .sweep(Timestamp::now(), StdDuration::from_secs(10))
            .await;
        assert_eq!(report.failed, 0, "{report:?}");
        let s = stored(&app, id).await;
        if s.status() == SessionStatus::Expired {
            break (s, report);
        }
        assert_eq!(report.expired, 0, "{report:?}");
        assert!(started.elapsed() < StdDuration::from_secs(15), "not swept");
        sleep_ms(250).await;
    };
    eprintln!(
        "sweep path (every 250 ms): stored status `expired` seen {} ms after expires_at",
        ms_since(expires_at)
    );
    assert_eq!(report.expired, 1, "{report:?}");
    assert!(report.complete);
    assert_eq!(expired.expired_at, Some(expires_at));
    assert_expired_once_by_the_system(&events(&app, id).await, expires_at);
    assert_eq!(timer(&app, id, TimerKind::Expiry).await, None);

    let again = expirer
        .sweep(Timestamp::now(), StdDuration::from_secs(10))
        .await;
    assert_eq!(
        (again.expired, again.rearmed, again.stale, again.failed),
        (0, 0, 0, 0)
    );
    assert_eq!(stored(&app, id).await, expired);
}

#[tokio::test]
async fn a_session_completed_before_its_deadline_is_not_touched() {
    let app = TestApp::on_ttl_instance().await;
    let mut relay = app.stream_relay().await;
    let (done, deadline) = expiring_session(&app, 2_000).await;
    // Same deadline, left alone: once TTL and the stream have expired it, they have had
    // their chance at `done` too.
    let (control, _) = expiring_session(&app, 2_000).await;
    assert!(timer(&app, done, TimerKind::Expiry).await.is_some());

    app.complete_session(&done.to_string()).await;
    // The completing write removed the timer in the same transaction.
    assert_eq!(timer(&app, done, TimerKind::Expiry).await, None);
    let completed = stored(&app, done).await;
    assert_eq!(completed.status(), SessionStatus::Completed);
    assert!(ms_since(deadline) < 0, "completed before its deadline");

    let started = Instant::now();
    let mut delivered = Vec::new();
    while stored(&app, control).await.status() != SessionStatus::Expired {
        assert!(started.elapsed() < TTL_PATH_LIMIT, "control never expired");
        app.deliver_stream(&mut relay, &mut delivered).await;
        sleep_ms(200).await;
    }
    let report = app
        .expirer()
        .sweep(Timestamp::now(), StdDuration::from_secs(10))
        .await;
    assert_eq!((report.expired, report.failed), (0, 0), "{report:?}");

    assert_eq!(stored(&app, done).await, completed, "untouched");
    assert!(events(&app, done)
        .await
        .iter()
        .all(|e| e.kind != "session.expired"));
    app.drop_table().await;
}

#[tokio::test]
async fn a_manual_delete_of_a_timer_is_ignored() {
    let app = TestApp::new().await;
    let mut filtered = app.stream_relay().await;
    let mut unfiltered = app.stream_relay().await.with_filter(json!({}));
    let (id, expires_at) = expiring_session(&app, 1_000).await;
    let before = stored(&app, id).await;

    // Someone deletes the timer by hand before it is due: a REMOVE without the TTL
    // service's userIdentity.
    app.client
        .delete_item()
        .table_name(&app.table)
        .key("pk", AttributeValue::S(keys::session_pk(&app.tenancy, id)))
        .key("sk", AttributeValue::S(keys::timer_sk("EXPIRY")))
        .send()
        .await
        .expect("delete");
    while ms_since(expires_at) <= 0 {
        sleep_ms(100).await;
    }

    // The template's filter drops it; and handed over anyway, the function ignores it
    // (were it taken for a TTL deletion, the overdue session would now be expired).
    let mut nothing = Vec::new();
    let mut everything = Vec::new();
    let started = Instant::now();
    let (mut read, mut removes) = (0, 0);
    while read == 0 || removes == 0 {
        assert!(
            started.elapsed() < StdDuration::from_secs(10),
            "no REMOVE on the stream"
        );
        let p = app.deliver_stream(&mut filtered, &mut nothing).await;
        assert_eq!(p.matched, 0, "{p:?}");
        read += p.read;
        let p = app.deliver_stream(&mut unfiltered, &mut everything).await;
        assert_eq!(p.failed, 0, "{p:?}");
        removes += everything
            .iter()
            .flat_map(|b| b["Records"].as_array().into_iter().flatten())
            .filter(|r| r["eventName"] == "REMOVE")
            .count();
        sleep_ms(100).await;
    }
    assert!(nothing.is_empty());
    let removed = everything
        .iter()
        .flat_map(|b| b["Records"].as_array().into_iter().flatten())
        .find(|r| r["eventName"] == "REMOVE")
        .expect("the manual REMOVE");
    assert!(removed.get("userIdentity").is_none(), "{removed}");

    assert_eq!(
        stored(&app, id).await,
        before,
        "still as it was, in the table"
    );
    assert_eq!(
        timer(&app, id, TimerKind::Expiry).await,
        None,
        "not re-armed"
    );
}

#[tokio::test]
async fn racing_paths_expire_a_session_exactly_once() {
    let app = TestApp::new().await;
    let (id, expires_at) = expiring_session(&app, 800).await;
    let t = timer(&app, id, TimerKind::Expiry).await.expect("timer");
    while ms_since(expires_at) <= 0 {
        sleep_ms(50).await;
    }
    let expirer = app.expirer();
    let now = Timestamp::now();
    let fire = || {
        let (e, t) = (expirer.clone(), t.clone());
        async move { e.fire(&t, now).await.expect("fire") }
    };
    let sweep = expirer.sweep(now, StdDuration::from_secs(10));
    let path = format!("/v1/identity/sessions/{id}");
    let read = app.get(&path);
    let (a, b, c, report, r) = tokio::join!(fire(), fire(), fire(), sweep, read);
    assert_eq!(r.attr("status"), "expired");
    for fired in [a, b, c] {
        assert!(
            matches!(
                fired,
                expiry::Fired::Expired | expiry::Fired::Stale | expiry::Fired::Gone
            ),
            "{fired:?}"
        );
    }
    assert_eq!(report.failed, 0);
    assert_expired_once_by_the_system(&events(&app, id).await, expires_at);
}

#[tokio::test]
async fn changing_or_clearing_expires_at_moves_or_removes_the_timer() {
    let app = TestApp::new().await;
    let (id, first) = expiring_session(&app, 3_600_000).await;
    assert_eq!(
        timer(&app, id, TimerKind::Expiry).await.expect("timer").due,
        first
    );

    let later = Timestamp::now().add(Duration::hours(2));
    let r = app
        .patch(
            &format!("/v1/identity/sessions/{id}"),
            &json!({"data": {"type": "session", "attributes": {"expires_at": later.to_string()}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let moved = timer(&app, id, TimerKind::Expiry).await.expect("timer");
    assert_eq!(moved.due, later);
    // Only one timer per session and kind: the key did not change, its due time did.
    let due_soon = app
        .store
        .due_timers(TimerKind::Expiry, keys::timer_shard(id), later, 100, None)
        .await
        .expect("query");
    assert_eq!(due_soon.timers, vec![moved]);

    let r = app
        .patch(
            &format!("/v1/identity/sessions/{id}"),
            &json!({"data": {"type": "session", "attributes": {"expires_at": null}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(timer(&app, id, TimerKind::Expiry).await, None);
}

#[tokio::test]
async fn retention_redacts_a_decided_session_and_its_files_through_the_sweep() {
    let app = TestApp::with_retention(Retention {
        production: None,
        staging: Some(Duration::seconds(2)),
    })
    .await;
    let created = app
        .post(
            "/v1/identity/sessions",
            Some(&json!({"data": {"type": "session", "attributes": {
                "entity_type": "person",
                "person": {"name": {"first": "Zebulon", "last": "Quixote"}, "birth_date": "1971-03-04"},
                "contact": {"email": "zq@example.org"}}}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = SessionId::parse(&created.id()).expect("id");
    let bytes = jpeg_bytes(1024, 5);
    let doc = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&json!({"data": {"type": "document/idv",
                "attributes": {"document_type": "passport", "files": [
                    {"filename": "zebulon.jpg", "content_type": "image/jpeg", "byte_size": bytes.len()}]},
                "relationships": {"session": {"data": {"type": "session", "id": id.to_string()}}}}})),
        )
        .await;
    assert_eq!(doc.status, StatusCode::CREATED, "{}", doc.json);
    let (url, headers) = doc.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    assert_eq!(app.deliver_uploads().await, 1);
    assert_eq!(app.object_keys().await.len(), 1);

    // Started by the linked document; submit, complete, approve.
    for action in ["submit", "complete"] {
        let r = app
            .post(
                &format!("/v1/identity/sessions/{id}/simulate"),
                Some(&json!({"data": {"attributes": {"action": action}}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.json);
    }
    let approved = app
        .post(&format!("/v1/identity/sessions/{id}/approve"), None)
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.json);
    let decided = stored(&app, id).await;
    assert_eq!(timer(&app, id, TimerKind::Expiry).await, None);
    let retention = timer(&app, id, TimerKind::Retention)
        .await
        .expect("the decision wrote a retention timer");
    let decided_at = decided.decisioned_at.expect("decided");
    assert_eq!(retention.due, decided_at.add(Duration::seconds(2)));

    let expirer = app.expirer();
    let started = Instant::now();
    let redacted = loop {
        let report = expirer
            .sweep(Timestamp::now(), StdDuration::from_secs(10))
            .await;
        assert_eq!(report.failed, 0, "{report:?}");
        let s = stored(&app, id).await;
        if s.redacted_at.is_some() {
            break s;
        }
        assert!(
            started.elapsed() < StdDuration::from_secs(15),
            "not redacted"
        );
        sleep_ms(250).await;
    };
    eprintln!(
        "retention (sweep every 250 ms): redacted {} ms after it was due",
        ms_since(retention.due)
    );
    assert_eq!(redacted.status(), SessionStatus::Approved, "status stays");
    assert!(redacted.data.person.is_none());
    assert!(app.object_keys().await.is_empty(), "the files are deleted");
    let last = events(&app, id).await.pop().expect("events");
    assert_eq!(last.kind, "session.redacted");
    assert_eq!(last.actor, Actor::system("retention"));
    assert_eq!(
        timer(&app, id, TimerKind::Retention).await,
        None,
        "removed once the cascade finished"
    );
    let values = app.all_values().await;
    for pii in [
        "Zebulon",
        "Quixote",
        "1971-03-04",
        "zq@example.org",
        "zebulon.jpg",
    ] {
        assert!(
            !values.iter().any(|v| v.contains(pii)),
            "{pii} is still stored"
        );
    }
}

#[tokio::test]
async fn retention_redacts_a_decided_session_through_the_ttl_stream() {
    let app = TestApp::on_ttl_instance().await.retaining(Retention {
        production: None,
        staging: Some(Duration::seconds(1)),
    });
    let mut relay = app.stream_relay().await;
    let created = app
        .post(
            "/v1/identity/sessions",
            Some(&json!({"data": {"type": "session", "attributes": {
                "entity_type": "person",
                "contact": {"email": "zq@example.org"}}}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = SessionId::parse(&created.id()).expect("id");
    app.complete_session(&id.to_string()).await;
    let declined = app
        .post(&format!("/v1/identity/sessions/{id}/decline"), None)
        .await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.json);
    let due = timer(&app, id, TimerKind::Retention)
        .await
        .expect("the decision wrote a retention timer")
        .due;

    // Only TTL and the stream: no sweep, no API call.
    let started = Instant::now();
    let mut delivered = Vec::new();
    let redacted = loop {
        let polled = app.deliver_stream(&mut relay, &mut delivered).await;
        assert_eq!(polled.failed, 0, "{polled:?}");
        let s = stored(&app, id).await;
        if s.redacted_at.is_some() {
            break s;
        }
        assert!(
            started.elapsed() < TTL_PATH_LIMIT,
            "not redacted through TTL"
        );
        sleep_ms(200).await;
    };
    eprintln!(
        "retention (TTL path): redacted {} ms after it was due",
        ms_since(due)
    );
    assert_eq!(redacted.status(), SessionStatus::Declined);
    assert!(redacted.data.contact.is_none());
    let last = events(&app, id).await.pop().expect("events");
    assert_eq!(
        (last.kind.as_str(), &last.actor),
        ("session.redacted", &Actor::system("retention"))
    );
    assert_eq!(timer(&app, id, TimerKind::Retention).await, None);
    app.drop_table().await;
}

/// The template wires the stream function with the filter the local relay applies.
#[test]
fn the_template_filters_the_stream_like_the_local_relay() {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("template.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    let function = &doc["Resources"]["ExpiryStreamFunction"];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"].as_str(),
        Some("expiry-stream")
    );
    let source = &function["Properties"]["Events"]["TimerDeleted"]["Properties"];
    assert_eq!(source["StartingPosition"].as_str(), Some("LATEST"));
    assert_eq!(source["BisectBatchOnFunctionError"].as_bool(), Some(true));
    assert_eq!(
        source["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
    let pattern = source["FilterCriteria"]["Filters"][0]["Pattern"]
        .as_str()
        .expect("a filter pattern");
    let pattern: Value = serde_json::from_str(pattern).expect("JSON pattern");
    let local: Value = serde_json::from_str(TTL_TIMER_FILTER).expect("JSON pattern");
    assert_eq!(pattern, local);
    let sweep = &doc["Resources"]["ExpirySweepFunction"];
    assert_eq!(
        sweep["Metadata"]["BuildProperties"]["Binary"].as_str(),
        Some("expiry-sweep")
    );
    assert_eq!(
        sweep["Properties"]["Events"]["Every5Minutes"]["Properties"]["Schedule"].as_str(),
        Some("rate(5 minutes)")
    );
}
