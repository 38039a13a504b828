//! Idempotency keys on POST.

use http::{Method, StatusCode};
use idv::domain::values::Timestamp;
use idv_tests::TestApp;
use serde_json::json;

/// The hex SHA-256 the middleware keys records by.
fn hash(s: &str) -> String {
    idv::domain::auth::hash_secret(s)
}

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_response() {
    let app = TestApp::new().await;
    let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}});
    let key = [("idempotency-key", "order-77")];
    let first = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &app.key,
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    let second = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &app.key,
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(second.json, first.json);
    assert_eq!(second.headers["location"], first.headers["location"]);
    let listed = app.get("/v1/identity/sessions?page[total]=true").await;
    assert_eq!(listed.json["meta"]["page"]["total"], 1, "created once");

    // Another body with the same key.
    let other = json!({"data": {"type": "session", "attributes": {"entity_type": "business"}}});
    let r = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &app.key,
            Some(&other),
            &key,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
    );

    // Keys are per tenancy: another tenant's identical key is independent.
    let foreign = app
        .issue_key(
            "globex",
            idv::domain::values::Environment::Staging,
            &[idv::domain::auth::Permission::All],
            None,
        )
        .await;
    let r = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &foreign,
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_ne!(r.id(), first.id());
}

#[tokio::test]
async fn a_key_still_in_flight_answers_409_and_errors_are_replayed_too() {
    let app = TestApp::new().await;
    let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}});
    // Another request holds the key (claimed, no response yet).
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut h, b"POST\n/v1/identity/sessions\n");
    sha2::Digest::update(&mut h, body.to_string().as_bytes());
    let fingerprint = hex::encode(sha2::Digest::finalize(h));
    let claim = app
        .store
        .claim_idempotency(&app.tenancy, &hash("busy"), &fingerprint, Timestamp::now())
        .await
        .expect("claim");
    assert!(matches!(claim, idv::store::idempotency::Claim::Acquired));
    let r = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &app.key,
            Some(&body),
            &[("idempotency-key", "busy")],
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "conflict"));

    // A 409 invalid_transition is a final answer and is replayed.
    let id = app.create_session(None).await;
    let path = format!("/v1/identity/sessions/{id}/approve");
    let first = app
        .call(
            Method::POST,
            &path,
            &app.key,
            None,
            &[("idempotency-key", "a-1")],
        )
        .await;
    assert_eq!(first.code(), "invalid_transition");
    app.complete_session(&id).await;
    let again = app
        .call(
            Method::POST,
            &path,
            &app.key,
            None,
            &[("idempotency-key", "a-1")],
        )
        .await;
    assert_eq!(again.code(), "invalid_transition", "replayed, not re-run");
    assert_eq!(again.headers["idempotent-replayed"], "true");
}
