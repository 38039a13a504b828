//! Webhooks (API.md §8) end to end: endpoints through the API, events from the table's real
//! stream on DynamoDB Local through `webhook-fanout`, jobs through the SQS stand-in to
//! `webhook-delivery`, and real HTTP receivers on loopback — the Rust one here, and the
//! Python and Node receivers of the README verifying with the `standardwebhooks` packages.
//! Retry delays are compressed by the test policy (1, 2, 3 s).

use std::time::Duration as StdDuration;

use http::{Method, StatusCode};
use idv::domain::auth::Permission;
use idv::domain::values::{Environment, Timestamp};
use idv_tests::receiver::Receiver;
use idv_tests::{feed_events, test_webhook_policy, TestApp};
use serde_json::{json, Value};

const ENDPOINTS: &str = "/v1/identity/webhook-endpoints";

fn endpoint_body(url: &str, events: &[&str]) -> Value {
    json!({"data": {"type": "webhook_endpoint", "attributes": {
        "url": url, "enabled_events": events, "description": "test receiver"}}})
}

/// Creates an endpoint; returns (id, secret).
async fn endpoint(app: &TestApp, url: &str, events: &[&str]) -> (String, String) {
    let r = app.post(ENDPOINTS, Some(&endpoint_body(url, events))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let secret = r
        .attr("secret")
        .as_str()
        .expect("secret shown on create")
        .to_owned();
    (r.id(), secret)
}

async fn deliveries(app: &TestApp, endpoint: &str, query: &str) -> Vec<Value> {
    let r = app
        .get(&format!(
            "{ENDPOINTS}/{endpoint}/deliveries?page[size]=100{query}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    r.json["data"].as_array().expect("list").clone()
}

async fn approve(app: &TestApp, session: &str) {
    app.complete_session(session).await;
    let r = app
        .post(&format!("/v1/identity/sessions/{session}/approve"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

/// A session holding personal data, to scan payloads for.
async fn person_session(app: &TestApp) -> String {
    let r = app
        .post(
            "/v1/identity/sessions",
            Some(&json!({"data": {"type": "session", "attributes": {
                "entity_type": "person",
                "person": {"name": {"first": "Quentinella", "last": "Marchbanks"},
                           "birth_date": "1984-03-02"},
                "contact": {"email": "quentinella@example.org"}}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.id()
}

#[tokio::test]
async fn endpoints_are_created_read_changed_and_deleted_and_the_secret_is_shown_once_and_sealed() {
    let app = TestApp::new().await;
    let receiver = Receiver::start(&[]).await;
    let r = app
        .post(
            ENDPOINTS,
            Some(&endpoint_body(&receiver.url, &["session.*"])),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let id = r.id();
    assert!(id.starts_with("whe_"));
    assert_eq!(r.json["data"]["type"], "webhook_endpoint");
    assert_eq!(r.attr("status"), "enabled");
    assert_eq!(r.attr("enabled_events"), &json!(["session.*"]));
    let secret = r.attr("secret").as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    assert!(r.headers["location"]
        .to_str()
        .expect("ascii")
        .ends_with(&id));

    let got = app.get(&format!("{ENDPOINTS}/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(
        got.json["data"]["attributes"].get("secret").is_none(),
        "shown once only"
    );
    let list = app.get(ENDPOINTS).await;
    assert_eq!(list.json["data"].as_array().expect("list").len(), 1);
    assert!(list.json["data"][0]["attributes"].get("secret").is_none());
    let r = app
        .post(&format!("{ENDPOINTS}/{id}/rotate-secret"), None)
        .await;
    let rotated = r.attr("secret").as_str().expect("secret").to_owned();

    // An idempotent create: the replay does not store or show the secret in plain text.
    let keyed = endpoint_body(&receiver.url, &["account.*"]);
    let first = app
        .call(
            Method::POST,
            ENDPOINTS,
            &app.key,
            Some(&keyed),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let keyed_secret = first.attr("secret").as_str().expect("secret").to_owned();
    let again = app
        .call(
            Method::POST,
            ENDPOINTS,
            &app.key,
            Some(&keyed),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.id(), first.id());
    assert_eq!(again.attr("secret"), &Value::Null);
    assert!(again.json["meta"]["secret"].as_str().is_some());

    // The table holds the secrets sealed: neither text nor bytes in any encoding.
    for value in app.all_values().await {
        assert!(
            !value.contains(keyed_secret.trim_start_matches("whsec_")),
            "{value}"
        );
    }
    for s in [&secret, &rotated] {
        let raw = idv::domain::webhook::secret_bytes(s).expect("bytes");
        let b64 = s.trim_start_matches("whsec_");
        for value in app.all_values().await {
            assert!(
                !value.contains(b64) && !value.contains(&hex::encode(&raw)),
                "{value}"
            );
        }
    }

    let r = app
        .patch(
            &format!("{ENDPOINTS}/{id}"),
            &json!({"data": {"type": "webhook_endpoint", "id": id, "attributes": {
                "enabled_events": ["account.created"], "status": "disabled", "description": null}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.attr("status"), "disabled");
    assert_eq!(r.attr("description"), &Value::Null);
    assert_eq!(r.attr("enabled_events"), &json!(["account.created"]));

    let r = app
        .call(
            Method::DELETE,
            &format!("{ENDPOINTS}/{id}"),
            &app.key,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("{ENDPOINTS}/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .call(
            Method::DELETE,
            &format!("{ENDPOINTS}/{id}"),
            &app.key,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_tenancy_holds_at_most_16_endpoints_and_a_deletion_frees_a_place() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    for _ in 0..16 {
        ids.push(endpoint(&app, "https://93.184.215.14/idv", &["*"]).await.0);
    }
    let r = app
        .post(
            ENDPOINTS,
            Some(&endpoint_body("https://93.184.215.14/idv", &["*"])),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    assert_eq!(r.code(), "limit_exceeded");
    assert_eq!(r.json["errors"][0]["meta"]["limit"], "webhook_endpoints");
    let d = app
        .call(
            Method::DELETE,
            &format!("{ENDPOINTS}/{}", ids[0]),
            &app.key,
            None,
            &[],
        )
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    endpoint(&app, "https://93.184.215.14/idv", &["*"]).await;
}

#[tokio::test]
async fn an_approval_arrives_signed_and_holds_ids_and_statuses_only() {
    let app = TestApp::new().await;
    let mut relay = app.webhook_relay().await;
    let receiver = Receiver::start(&[]).await;
    let (id, secret) = endpoint(&app, &receiver.url, &["session.approved"]).await;
    let session = person_session(&app).await;
    approve(&app, &session).await;

    assert!(
        app.pump_webhooks_until(&mut relay, StdDuration::from_secs(20), || receiver.count()
            >= 1)
            .await,
        "session.approved did not arrive"
    );
    // Only the subscribed type: created/started/submitted went nowhere.
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    app.pump_webhooks(&mut relay).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1, "one event subscribed, one delivery");
    let d = &got[0];
    assert_eq!(d.signed_by(&secret), vec![true]);
    assert_eq!(d.header("content-type"), "application/json");
    let body = d.json();
    assert_eq!(body["data"]["type"], "event");
    assert_eq!(body["data"]["id"], d.header("webhook-id"));
    assert_eq!(body["data"]["attributes"]["type"], "session.approved");
    assert_eq!(body["data"]["attributes"]["data"]["object"]["id"], session);
    assert_eq!(
        body["data"]["attributes"]["data"]["previous_status"],
        "completed"
    );
    let ts: i64 = d.header("webhook-timestamp").parse().expect("unix seconds");
    assert!((Timestamp::now().unix() - ts).abs() < 30);
    // The payload is the feed's own event, and carries none of the session's data.
    let text = String::from_utf8_lossy(&d.body).to_string();
    for personal in [
        "Quentinella",
        "Marchbanks",
        "1984-03-02",
        "quentinella@example.org",
    ] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
    let feed = app
        .get(&format!("/v1/identity/events/{}", d.header("webhook-id")))
        .await;
    assert_eq!(
        feed.json["data"], body["data"],
        "the delivery is the §7 event object"
    );

    let list = deliveries(&app, &id, "").await;
    assert_eq!(list.len(), 1);
    let a = &list[0]["attributes"];
    assert_eq!(a["status"], "succeeded");
    assert_eq!(a["attempt"], 1);
    assert_eq!(a["response_status"], 200);
    assert_eq!(a["origin"], "event");
    assert!(a["response_body"]
        .as_str()
        .expect("body")
        .contains("status 200"));
    assert!(list[0]["id"].as_str().expect("id").starts_with("whd_"));
}

#[tokio::test]
async fn a_failing_receiver_gets_four_attempts_with_growing_delays_and_the_log_shows_each() {
    let app = TestApp::new().await;
    let mut relay = app.webhook_relay().await;
    let receiver = Receiver::start(&[500, 500, 500]).await;
    let (id, secret) = endpoint(&app, &receiver.url, &["session.created"]).await;
    app.create_session(None).await;
    assert!(
        app.pump_webhooks_until(&mut relay, StdDuration::from_secs(30), || receiver.count()
            >= 4)
            .await,
        "four attempts did not arrive: {}",
        receiver.count()
    );
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    let event_id = got[0].header("webhook-id").to_owned();
    for d in &got {
        assert_eq!(
            d.header("webhook-id"),
            event_id,
            "the same id on every retry"
        );
        assert_eq!(d.signed_by(&secret), vec![true]);
    }
    let gaps: Vec<f64> = got
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64())
        .collect();
    assert!(
        gaps[0] >= 0.9 && gaps[1] >= 1.9 && gaps[2] >= 2.9,
        "{gaps:?}"
    );
    assert!(gaps[0] < gaps[1] && gaps[1] < gaps[2], "growing: {gaps:?}");

    // Wait for the last record to be written.
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let mut list = deliveries(&app, &id, "").await;
    list.sort_by_key(|d| d["attributes"]["attempt"].as_u64());
    let statuses: Vec<&str> = list
        .iter()
        .map(|d| d["attributes"]["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["failed", "failed", "failed", "succeeded"]);
    for (i, d) in list.iter().enumerate() {
        let a = &d["attributes"];
        assert_eq!(a["attempt"], i as u64 + 1);
        assert_eq!(a["event_id"], event_id);
        if i < 3 {
            assert_eq!(a["response_status"], 500);
            assert_eq!(a["error"], "http_status");
            assert!(a["next_attempt_at"].is_string());
        }
    }
    assert_eq!(
        deliveries(&app, &id, "&filter[status]=failed").await.len(),
        3
    );
    assert_eq!(
        deliveries(&app, &id, "&filter[status]=succeeded")
            .await
            .len(),
        1
    );
    assert_eq!(
        deliveries(&app, &id, &format!("&filter[event_id]={event_id}"))
            .await
            .len(),
        4
    );
    // A success clears the failing mark.
    let e = app.get(&format!("{ENDPOINTS}/{id}")).await;
    assert_eq!(e.attr("failing_since"), &Value::Null);
}

#[tokio::test]
async fn an_endpoint_failing_past_the_window_is_disabled_and_gets_nothing_more() {
    let mut policy = test_webhook_policy();
    policy.delays = vec![time::Duration::seconds(1); 6];
    policy.disable_after = time::Duration::seconds(2);
    let app = TestApp::new().await.with_webhook_policy(policy);
    let mut relay = app.webhook_relay().await;
    let receiver = Receiver::start(&[]).await;
    receiver.always(503);
    let (id, _) = endpoint(&app, &receiver.url, &["session.created"]).await;
    app.create_session(None).await;
    let mut status = Value::Null;
    for _ in 0..100 {
        app.pump_webhooks(&mut relay).await;
        let e = app.get(&format!("{ENDPOINTS}/{id}")).await;
        status = e.attr("status").clone();
        if status == "disabled" {
            assert_eq!(e.attr("disabled_reason"), "failing");
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(status, "disabled");
    let attempts = receiver.count();
    assert!(attempts >= 3, "{attempts}");
    // Disabled: neither retries nor new events reach it.
    app.create_session(None).await;
    for _ in 0..25 {
        app.pump_webhooks(&mut relay).await;
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert!(
        receiver.count() <= attempts + 1,
        "at most the attempt in flight"
    );
    // Re-enabling clears the record.
    let r = app
        .patch(
            &format!("{ENDPOINTS}/{id}"),
            &json!({"data": {"type": "webhook_endpoint", "attributes": {"status": "enabled"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.attr("failing_since"), &Value::Null);
    assert_eq!(r.attr("disabled_reason"), &Value::Null);
}

#[tokio::test]
async fn a_rotation_signs_with_both_secrets_until_the_window_ends() {
    let mut policy = test_webhook_policy();
    policy.rotation_overlap = time::Duration::seconds(3);
    let app = TestApp::new().await.with_webhook_policy(policy);
    let mut relay = app.webhook_relay().await;
    let receiver = Receiver::start(&[]).await;
    let (id, old) = endpoint(&app, &receiver.url, &["session.created"]).await;
    let r = app
        .post(&format!("{ENDPOINTS}/{id}/rotate-secret"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let new = r.attr("secret").as_str().expect("new secret").to_owned();
    assert_ne!(new, old);
    assert!(r.attr("previous_secret_expires_at").is_string());

    app.create_session(None).await;
    assert!(
        app.pump_webhooks_until(&mut relay, StdDuration::from_secs(15), || receiver.count()
            >= 1)
            .await
    );
    let first = &receiver.received()[0];
    assert_eq!(first.signed_by(&new), vec![true, false], "new first");
    assert_eq!(first.signed_by(&old), vec![false, true], "old second");

    tokio::time::sleep(StdDuration::from_secs(3)).await;
    app.create_session(None).await;
    assert!(
        app.pump_webhooks_until(&mut relay, StdDuration::from_secs(15), || receiver.count()
            >= 2)
            .await
    );
    let second = &receiver.received()[1];
    assert_eq!(second.signed_by(&new), vec![true], "the old secret is gone");
    assert_eq!(second.signed_by(&old), vec![false]);
}

#[tokio::test]
async fn a_replay_redelivers_exactly_the_events_of_its_range_and_types() {
    let app = TestApp::new().await;
    let mut relay = app.webhook_relay().await;
    let a = app.create_session(None).await;
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    let from = Timestamp::now();
    let b = app.create_session(None).await;
    let c = app.create_session(None).await;
    let r = app
        .post(
            &format!("/v1/identity/sessions/{c}/simulate"),
            Some(&json!({"data": {"attributes": {"action": "start"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let to = Timestamp::now();
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    let d = app.create_session(None).await;
    // The stream is read before the endpoint exists: only the replay delivers to it.
    for _ in 0..5 {
        app.pump_webhooks(&mut relay).await;
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let receiver = Receiver::start(&[]).await;
    let (id, secret) = endpoint(&app, &receiver.url, &["session.*"]).await;
    app.pump_webhooks(&mut relay).await;
    assert_eq!(receiver.count(), 0);

    let r = app
        .post(
            &format!("{ENDPOINTS}/{id}/replay"),
            Some(&json!({"meta": {"from": from.to_string(), "to": to.to_string(), "types": ["session.created"]}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.json);
    assert_eq!(r.json["meta"]["status"], "accepted");
    assert!(
        app.pump_webhooks_until(&mut relay, StdDuration::from_secs(15), || receiver.count()
            >= 2)
            .await
    );
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    app.pump_webhooks(&mut relay).await;
    let got = receiver.received();
    let mut objects: Vec<String> = got
        .iter()
        .map(|d| {
            assert_eq!(d.signed_by(&secret), vec![true]);
            let e = d.json();
            assert_eq!(e["data"]["attributes"]["type"], "session.created");
            e["data"]["attributes"]["data"]["object"]["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    objects.sort();
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(
        objects, expected,
        "not {a} (before) nor {d} (after), nor c's start (type)"
    );
    let list = deliveries(&app, &id, "").await;
    assert!(list.iter().all(|d| d["attributes"]["origin"] == "replay"));
}

#[tokio::test]
async fn a_redelivery_sends_the_event_again_with_the_same_id() {
    let app = TestApp::new().await;
    let mut relay = app.webhook_relay().await;
    let receiver = Receiver::start(&[]).await;
    let (id, _) = endpoint(&app, &receiver.url, &["session.created"]).await;
    app.create_session(None).await;
    assert!(
        app.pump_webhooks_until(&mut relay, StdDuration::from_secs(15), || receiver.count()
            >= 1)
            .await
    );
    let event = receiver.received()[0].header("webhook-id").to_owned();
    let r = app
        .post(&format!("/v1/identity/events/{event}/redeliver"), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.json);
    assert_eq!(r.json["meta"]["webhook_endpoints"], 1);
    assert!(
        app.pump_webhooks_until(&mut relay, StdDuration::from_secs(15), || receiver.count()
            >= 2)
            .await
    );
    assert_eq!(receiver.received()[1].header("webhook-id"), event);
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let origins: Vec<Value> = deliveries(&app, &id, "")
        .await
        .iter()
        .map(|d| d["attributes"]["origin"].clone())
        .collect();
    assert!(origins.contains(&json!("redeliver")) && origins.contains(&json!("event")));
    let r = app
        .post(
            "/v1/identity/events/evt_01HQ0000000000000000000000/redeliver",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_duplicated_queue_message_is_delivered_once() {
    let app = TestApp::new().await;
    let mut relay = app.webhook_relay().await;
    let receiver = Receiver::start(&[]).await;
    let (id, _) = endpoint(&app, &receiver.url, &["session.created"]).await;
    app.create_session(None).await;
    assert!(
        app.pump_webhooks_until(&mut relay, StdDuration::from_secs(15), || receiver.count()
            >= 1)
            .await
    );
    // The stream delivers at least once: the same batch fanned out again.
    let event = receiver.received()[0].header("webhook-id").to_owned();
    let job = idv::webhooks::queue::Job::Deliver {
        tenancy: app.tenancy.clone(),
        endpoint_id: idv::domain::ids::WebhookEndpointId::parse(&id).expect("id"),
        event_id: idv::domain::ids::EventId::parse(&event).expect("id"),
        origin: idv::domain::webhook::Origin::Event,
        sequence: idv::workflow::webhooks::EVENT_SEQUENCE.to_owned(),
        attempt: 1,
        due: Timestamp::parse(
            deliveries(&app, &id, "").await[0]["attributes"]["scheduled_at"]
                .as_str()
                .expect("scheduled_at"),
        )
        .expect("ts"),
    };
    app.hooks
        .queue
        .send(&[job.clone(), job], Timestamp::now())
        .await
        .expect("queued");
    for _ in 0..10 {
        app.pump_webhooks(&mut relay).await;
    }
    assert_eq!(receiver.count(), 1, "the claim stops duplicates");
    assert_eq!(deliveries(&app, &id, "").await.len(), 1);
}

#[tokio::test]
async fn internal_addresses_are_refused_on_create_on_change_and_on_delivery() {
    let app = TestApp::new().await;
    for url in [
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://192.168.1.20/hook",
        "http://hooks.example.com/hook",
        "https://user:pw@hooks.example.com/",
        "ftp://hooks.example.com/",
    ] {
        let r = app.post(ENDPOINTS, Some(&endpoint_body(url, &["*"]))).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            r.json
        );
        assert_eq!(r.source(), "/data/attributes/url", "{url}");
    }
    // Loopback is for staging only.
    let prod = app
        .issue_key("acme", Environment::Production, &[Permission::All], None)
        .await;
    for url in [
        "https://[::1]/hook",
        "http://127.0.0.1:9/hook",
        "https://localhost/hook",
    ] {
        let r = app
            .call(
                Method::POST,
                ENDPOINTS,
                &prod,
                Some(&endpoint_body(url, &["*"])),
                &[],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            r.json
        );
    }
    let (id, _) = endpoint(&app, "http://127.0.0.1:9/hook", &["*"]).await;
    let r = app
        .patch(
            &format!("{ENDPOINTS}/{id}"),
            &json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://10.0.0.1/"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);

    // An endpoint whose address turns internal after it was vetted (DNS changed) is refused
    // at delivery: written straight to the table, as a rebinding would leave it.
    let mut relay = app.webhook_relay().await;
    let mut e = app
        .store
        .get_endpoint(
            &app.tenancy,
            idv::domain::ids::WebhookEndpointId::parse(&id).expect("id"),
        )
        .await
        .expect("read")
        .expect("exists");
    e.url = "https://169.254.169.254/latest/meta-data/".into();
    assert!(app
        .store
        .put_endpoint(&app.tenancy, e.version, &e)
        .await
        .expect("write"));
    app.create_session(None).await;
    let mut list = Vec::new();
    for _ in 0..60 {
        app.pump_webhooks(&mut relay).await;
        list = deliveries(&app, &id, "").await;
        if list.iter().any(|d| d["attributes"]["status"] == "failed") {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let failed = list
        .iter()
        .find(|d| d["attributes"]["status"] == "failed")
        .expect("a failed attempt");
    assert_eq!(failed["attributes"]["error"], "address_refused");
    assert_eq!(failed["attributes"]["response_status"], Value::Null);
}

#[tokio::test]
async fn endpoints_deliveries_and_events_are_invisible_to_other_tenants() {
    let app = TestApp::new().await;
    let mut relay = app.webhook_relay().await;
    let receiver = Receiver::start(&[]).await;
    let (id, _) = endpoint(&app, &receiver.url, &["*"]).await;
    app.create_session(None).await;
    assert!(
        app.pump_webhooks_until(&mut relay, StdDuration::from_secs(15), || receiver.count()
            >= 1)
            .await
    );
    let event = receiver.received()[0].header("webhook-id").to_owned();

    for other in [
        app.issue_key("globex", Environment::Staging, &[Permission::All], None)
            .await,
        app.issue_key("acme", Environment::Production, &[Permission::All], None)
            .await,
    ] {
        let patch =
            json!({"data": {"type": "webhook_endpoint", "attributes": {"status": "disabled"}}});
        let replay =
            json!({"meta": {"from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z"}});
        for (method, path, body) in [
            (Method::GET, format!("{ENDPOINTS}/{id}"), None),
            (Method::PATCH, format!("{ENDPOINTS}/{id}"), Some(&patch)),
            (Method::DELETE, format!("{ENDPOINTS}/{id}"), None),
            (
                Method::POST,
                format!("{ENDPOINTS}/{id}/rotate-secret"),
                None,
            ),
            (Method::GET, format!("{ENDPOINTS}/{id}/deliveries"), None),
            (
                Method::POST,
                format!("{ENDPOINTS}/{id}/replay"),
                Some(&replay),
            ),
            (
                Method::POST,
                format!("/v1/identity/events/{event}/redeliver"),
                None,
            ),
        ] {
            let r = app.call(method.clone(), &path, &other, body, &[]).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                r.json
            );
        }
        let list = app.call(Method::GET, ENDPOINTS, &other, None, &[]).await;
        assert_eq!(list.json["data"], json!([]));
        // The other tenancy's own events never reach this tenancy's endpoint.
        let r = app
            .call(
                Method::POST,
                "/v1/identity/sessions",
                &other,
                Some(
                    &json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}}),
                ),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    for _ in 0..15 {
        app.pump_webhooks(&mut relay).await;
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    assert_eq!(receiver.count(), 1, "only this tenancy's session.created");
    let r = app.get(&format!("{ENDPOINTS}/{id}")).await;
    assert_eq!(r.attr("status"), "enabled", "nobody else changed it");
}

#[tokio::test]
async fn each_endpoint_needs_its_scope_and_bad_input_gets_its_4xx() {
    let app = TestApp::new().await;
    let (id, _) = endpoint(&app, "https://93.184.215.14/idv", &["*"]).await;
    let read_only = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::WebhooksRead],
            None,
        )
        .await;
    let events_only = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::EventsRead],
            None,
        )
        .await;
    let body = endpoint_body("https://93.184.215.14/idv", &["*"]);
    let patch = json!({"data": {"type": "webhook_endpoint", "attributes": {"status": "disabled"}}});
    let replay = json!({"meta": {"from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z"}});
    for (method, path, b) in [
        (Method::POST, ENDPOINTS.to_owned(), Some(&body)),
        (Method::PATCH, format!("{ENDPOINTS}/{id}"), Some(&patch)),
        (Method::DELETE, format!("{ENDPOINTS}/{id}"), None),
        (
            Method::POST,
            format!("{ENDPOINTS}/{id}/rotate-secret"),
            None,
        ),
        (
            Method::POST,
            format!("{ENDPOINTS}/{id}/replay"),
            Some(&replay),
        ),
        (
            Method::POST,
            "/v1/identity/events/evt_01HQ0000000000000000000000/redeliver".to_owned(),
            None,
        ),
    ] {
        let r = app.call(method.clone(), &path, &read_only, b, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(
            r.json["errors"][0]["meta"]["required_scope"],
            "webhooks:write"
        );
    }
    for path in [
        ENDPOINTS.to_owned(),
        format!("{ENDPOINTS}/{id}"),
        format!("{ENDPOINTS}/{id}/deliveries"),
    ] {
        let r = app.call(Method::GET, &path, &events_only, None, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            r.json["errors"][0]["meta"]["required_scope"],
            "webhooks:read"
        );
        assert_eq!(
            app.call(Method::GET, &path, &read_only, None, &[])
                .await
                .status,
            StatusCode::OK
        );
    }

    let raw = app
        .send(
            http::Request::builder()
                .method(Method::POST)
                .uri(ENDPOINTS)
                .header("x-api-key", &app.key)
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"data\": "))
                .expect("request"),
        )
        .await;
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    assert_eq!(raw.code(), "invalid_json");
    let cases: Vec<(Method, String, Value, StatusCode, &str)> = vec![
        (
            Method::POST,
            ENDPOINTS.into(),
            json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://a.example/", "enabled_events": ["*"], "secret": "whsec_mine"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/secret",
        ),
        (
            Method::POST,
            ENDPOINTS.into(),
            json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://a.example/", "enabled_events": ["sessions.*"]}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/enabled_events/0",
        ),
        (
            Method::POST,
            ENDPOINTS.into(),
            json!({"data": {"type": "webhook_endpoint", "attributes": {"url": 7, "enabled_events": ["*"]}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/url",
        ),
        (
            Method::POST,
            ENDPOINTS.into(),
            json!({"data": {"type": "webhook_endpoint", "attributes": {"url": "https://a.example/", "enabled_events": ["*"], "color": "red"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/color",
        ),
        (
            Method::PATCH,
            format!("{ENDPOINTS}/{id}"),
            json!({"data": {"type": "webhook_endpoint", "id": "whe_01HQ0000000000000000000000", "attributes": {}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/id",
        ),
        (
            Method::PATCH,
            format!("{ENDPOINTS}/{id}"),
            json!({"data": {"type": "webhook_endpoint", "attributes": {"status": "paused"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/status",
        ),
        (
            Method::POST,
            format!("{ENDPOINTS}/{id}/replay"),
            json!({"meta": {"from": "2025-01-01T00:00:00Z", "to": "2025-03-01T00:00:00Z"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/meta/to",
        ),
        (
            Method::POST,
            format!("{ENDPOINTS}/{id}/replay"),
            json!({"meta": {"to": "2025-01-02T00:00:00Z"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/meta/from",
        ),
        (
            Method::POST,
            format!("{ENDPOINTS}/{id}/rotate-secret"),
            json!({"meta": {"secret": "whsec_mine"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "/meta/secret",
        ),
    ];
    for (method, path, body, status, pointer) in cases {
        let r = app
            .call(method.clone(), &path, &app.key, Some(&body), &[])
            .await;
        assert_eq!(r.status, status, "{method} {path} {body}: {}", r.json);
        assert_eq!(r.source(), pointer, "{body}");
    }
    for (path, parameter) in [
        (
            format!("{ENDPOINTS}/{id}/deliveries?filter[status]=lost"),
            "filter[status]",
        ),
        (
            format!("{ENDPOINTS}/{id}/deliveries?filter[event_id]=ver_1"),
            "filter[event_id]",
        ),
        (format!("{ENDPOINTS}?filter[url]=x"), "filter[url]"),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.json);
        assert_eq!(r.json["errors"][0]["source"]["parameter"], parameter);
    }
    for path in [
        format!("{ENDPOINTS}/whe_nope"),
        format!("{ENDPOINTS}/acc_01HQ0000000000000000000000/deliveries"),
        format!("{ENDPOINTS}/whe_01HQ0000000000000000000000"),
    ] {
        assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = app
        .call(
            Method::PUT,
            &format!("{ENDPOINTS}/{id}"),
            &app.key,
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A receiver of the README run as a process (`python3 receiver.py` or `node receiver.js`
/// with the `standardwebhooks` package that `infra/test.sh` installs); its output lines.
struct ExternalReceiver {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl ExternalReceiver {
    fn start(
        program: &str,
        script: &str,
        secret: &str,
        env: &[(&str, String)],
    ) -> (ExternalReceiver, u16) {
        use std::io::BufRead;
        let path = format!("{}/receivers/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut cmd = std::process::Command::new(program);
        cmd.arg(&path)
            .arg("0")
            .env("IDV_WEBHOOK_SECRET", secret)
            .stdout(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!("{program} {path}: {e} (infra/test.sh installs the receivers' packages)")
        });
        let stdout = child.stdout.take().expect("stdout");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(port) = v["listening"].as_u64() {
                    let _ = tx.send(port);
                } else {
                    sink.lock().expect("lock").push(v);
                }
            }
        });
        let port = rx
            .recv_timeout(StdDuration::from_secs(20))
            .unwrap_or_else(|_| panic!("{script} did not start (is standardwebhooks installed?)"));
        (
            ExternalReceiver { child, lines },
            u16::try_from(port).expect("port"),
        )
    }

    fn lines(&self) -> Vec<Value> {
        self.lines.lock().expect("lock").clone()
    }
}

impl Drop for ExternalReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_python_and_node_receivers_verify_real_deliveries_with_the_standard_library() {
    let app = TestApp::new().await;
    let mut relay = app.webhook_relay().await;
    let python = std::env::var("IDV_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let node_path = std::env::var("IDV_TEST_NODE_PATH").unwrap_or_default();
    let mut receivers = Vec::new();
    for (program, script) in [(python.as_str(), "receiver.py"), ("node", "receiver.js")] {
        // Created first for its secret; pointed at the receiver once it listens.
        let (id, secret) = endpoint(&app, "http://127.0.0.1:9/hook", &["session.approved"]).await;
        let (receiver, port) = ExternalReceiver::start(
            program,
            script,
            &secret,
            &[("NODE_PATH", node_path.clone())],
        );
        let r = app
            .patch(
                &format!("{ENDPOINTS}/{id}"),
                &json!({"data": {"type": "webhook_endpoint", "attributes": {"url": format!("http://127.0.0.1:{port}/hook")}}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        receivers.push((script, id, receiver, port));
    }
    let session = app.create_session(None).await;
    approve(&app, &session).await;
    let done = app
        .pump_webhooks_until(&mut relay, StdDuration::from_secs(20), || {
            receivers.iter().all(|(_, _, r, _)| !r.lines().is_empty())
        })
        .await;
    for (script, id, receiver, _) in &receivers {
        let lines = receiver.lines();
        assert!(done, "{script}: {lines:?}");
        assert_eq!(lines.len(), 1, "{script}: {lines:?}");
        assert_eq!(
            lines[0]["verified"], true,
            "{script} verified with standardwebhooks"
        );
        assert_eq!(lines[0]["type"], "session.approved", "{script}");
        tokio::time::sleep(StdDuration::from_millis(200)).await;
        let d = deliveries(&app, id, "").await;
        assert_eq!(
            d[0]["attributes"]["response_status"], 204,
            "{script} accepted it"
        );
    }

    // A forged delivery (a signature made with another secret) is refused by the library.
    for (script, _, receiver, port) in &receivers {
        let body =
            json!({"data": {"type": "event", "id": "evt_01HQ0000000000000000000000"}}).to_string();
        let now = Timestamp::now().unix().to_string();
        let forged = idv::domain::webhook::sign(
            b"not-the-secret",
            "evt_01HQ0000000000000000000000",
            now.parse().expect("n"),
            body.as_bytes(),
        );
        let status = match ureq::post(&format!("http://127.0.0.1:{port}/hook"))
            .set("content-type", "application/json")
            .set("webhook-id", "evt_01HQ0000000000000000000000")
            .set("webhook-timestamp", &now)
            .set("webhook-signature", &forged)
            .send_string(&body)
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{script}: {e}"),
        };
        assert_eq!(status, 400, "{script} refuses a forged signature");
        // Its output line is read by another thread: give it a moment.
        for _ in 0..50 {
            if receiver.lines().len() >= 2 {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        let lines = receiver.lines();
        assert_eq!(lines.last().expect("a line")["verified"], false, "{script}");
    }
}

#[tokio::test]
async fn a_ttl_expiry_arrives_as_session_expired() {
    // DynamoDB Local deletes the timer about 10 s after it is due (see `expiry.rs`).
    let app = TestApp::on_ttl_instance().await;
    let mut expiry_relay = app.stream_relay().await;
    let mut relay = app.webhook_relay().await;
    let receiver = Receiver::start(&[]).await;
    let (_, secret) = endpoint(&app, &receiver.url, &["session.expired"]).await;
    let at = Timestamp::now().add(time::Duration::seconds(2));
    let r = app
        .post(
            "/v1/identity/sessions",
            Some(&json!({"data": {"type": "session", "attributes": {
                "entity_type": "person", "expires_at": at.to_string()}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let session = r.id();
    let started = std::time::Instant::now();
    let mut delivered = Vec::new();
    while receiver.count() == 0 && started.elapsed() < StdDuration::from_secs(40) {
        // No API call and no sweep: the TTL deletion on the stream expires it.
        app.deliver_stream(&mut expiry_relay, &mut delivered).await;
        app.pump_webhooks(&mut relay).await;
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    }
    let got = receiver.received();
    assert_eq!(got.len(), 1, "session.expired did not arrive in 40 s");
    assert_eq!(got[0].signed_by(&secret), vec![true]);
    let e = got[0].json();
    assert_eq!(e["data"]["attributes"]["type"], "session.expired");
    assert_eq!(e["data"]["attributes"]["data"]["object"]["id"], session);
    assert_eq!(e["data"]["attributes"]["actor"]["type"], "system");
}

/// The template wires the fan-out with the filter the local relay applies, the delivery
/// function with partial batch responses from the deliveries queue, and that queue with a
/// dead-letter queue that an alarm watches.
#[test]
fn the_template_wires_fan_out_queue_dead_letters_and_alarm_as_the_local_stack_does() {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("template.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    let r = &doc["Resources"];
    let fanout = &r["WebhookFanoutFunction"];
    assert_eq!(
        fanout["Metadata"]["BuildProperties"]["Binary"].as_str(),
        Some("webhook-fanout")
    );
    let source = &fanout["Properties"]["Events"]["FeedEvent"]["Properties"];
    assert_eq!(
        source["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
    let pattern: Value = serde_json::from_str(
        source["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .expect("pattern"),
    )
    .expect("JSON");
    let local: Value = serde_json::from_str(idv_local::streams::FEED_INSERT_FILTER).expect("JSON");
    assert_eq!(pattern, local);
    let delivery = &r["WebhookDeliveryFunction"];
    assert_eq!(
        delivery["Metadata"]["BuildProperties"]["Binary"].as_str(),
        Some("webhook-delivery")
    );
    let job = &delivery["Properties"]["Events"]["Job"]["Properties"];
    assert_eq!(
        job["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
    let timeout = delivery["Properties"]["Timeout"].as_u64().expect("timeout");
    let queue = &r["WebhookDeliveriesQueue"]["Properties"];
    assert!(queue["VisibilityTimeout"].as_u64().expect("visibility") >= 6 * timeout);
    assert!(queue["RedrivePolicy"]["maxReceiveCount"].as_u64().is_some());
    let alarm = &r["WebhookDeliveriesDeadLetterAlarm"]["Properties"];
    assert_eq!(
        alarm["MetricName"].as_str(),
        Some("ApproximateNumberOfMessagesVisible")
    );
    // The fan-out never holds the sealing key; the API and the delivery function do.
    assert!(fanout["Properties"]["Environment"]["Variables"]["IDV_WEBHOOK_KEY_ARN"].is_null());
    for f in ["WebhooksFunction", "WebhookDeliveryFunction"] {
        let key = &r[f]["Properties"]["Environment"]["Variables"]["IDV_WEBHOOK_KEY_ARN"];
        assert!(!key.is_null(), "{f}");
    }
}

/// The round trips the README quotes: a stream batch of 100 events to 3 endpoints costs one
/// Query (the tenancy's endpoints), whatever the number of events; two tenancies, two.
#[tokio::test]
async fn fan_out_reads_each_tenancys_endpoints_once_per_batch() {
    let app = TestApp::new().await;
    for events in [
        &["session.*"][..],
        &["*"],
        &["session.created", "account.created"],
    ] {
        endpoint(&app, "https://93.184.215.14/idv", events).await;
    }
    endpoint(&app, "https://93.184.215.14/idv", &["account.*"]).await;
    let (store, ops) = app.counted_store();
    let batch = feed_events(&app.tenancy, 100);
    let jobs = idv::workflow::webhooks::fan_out(&store, &app.hooks, &batch, Timestamp::now())
        .await
        .expect("fan out");
    assert_eq!(jobs, 300, "3 of the 4 endpoints want session.created");
    assert_eq!(ops.count(), 1, "one Query for the whole batch");
    let counts = app.queues.counts(&app.queue_name);
    assert_eq!(counts.visible + counts.delayed, 300);

    let other = idv::domain::values::Tenancy {
        tenant: idv::domain::values::TenantId::parse("globex").expect("tenant"),
        environment: Environment::Staging,
    };
    let mut mixed = feed_events(&app.tenancy, 10);
    mixed.extend(feed_events(&other, 10));
    let before = ops.count();
    let jobs = idv::workflow::webhooks::fan_out(&store, &app.hooks, &mixed, Timestamp::now())
        .await
        .expect("fan out");
    assert_eq!(jobs, 30, "globex has no endpoints: its events go nowhere");
    assert_eq!(ops.count() - before, 2);
}
