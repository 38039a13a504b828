//! Redaction: afterwards no item in the table holds the applicant's values.

use http::{Method, StatusCode};
use idv_checks::fixtures::{licence_back_jpeg, LicenceFields, Variant};
use idv_tests::{put_upload, TestApp};
use serde_json::json;

/// Values only the applicant's data contains: what the session was given, the device's
/// address and user agent, the document's file name, and what the verification extracted
/// from the licence fixture (`LicenceFields::default()`).
const PII: [&str; 15] = [
    "Zebulon",
    "Quixote",
    "1971-03-04",
    "742 Evergreen Terrace",
    "Springfield",
    "zq@example.org",
    "+15555550123",
    "X1234567",
    "reviewer saw Zebulon's licence",
    "198.51.100.23",
    "Zebulon's tablet",
    "zebulon-licence.jpg",
    "MICHAEL",
    "SAMPLE",
    "1986-06-06",
];

fn pii_attributes() -> serde_json::Value {
    json!({
        "person": {"name": {"first": "Zebulon", "last": "Quixote"}, "birth_date": "1971-03-04"},
        "address": {"line1": "742 Evergreen Terrace", "city": "Springfield", "country_code": "US"},
        "contact": {"email": "zq@example.org", "phone": "+15555550123"},
        "identity_numbers": [{"number": "X1234567", "issuing_country_code": "US", "class": "passport"}]
    })
}

/// The stored bodies of the table's idempotency records.
async fn stored_bodies(app: &TestApp) -> Vec<String> {
    app.scan_all()
        .await
        .into_iter()
        .filter(|item| {
            item.get("entity")
                .and_then(|e| e.as_s().ok())
                .map(String::as_str)
                == Some("idempotency")
        })
        .filter_map(|item| {
            let response = item.get("response")?.as_m().ok()?;
            response.get("body")?.as_s().ok().cloned()
        })
        .collect()
}

/// A device, a licence-back document and a verification of it for `session`, each created
/// with an `Idempotency-Key`, so that stored responses hold the device's address and user
/// agent, the file name and the extracted name and birth date.
async fn device_document_and_verification(app: &TestApp, session: &str) {
    let device = json!({"data": {"type": "session_device",
        "attributes": {"user_agent": "Mozilla/5.0 (Zebulon's tablet)", "ip_address": "198.51.100.23"},
        "relationships": {"session": {"data": {"type": "session", "id": session}}}}});
    let r = app
        .call(
            Method::POST,
            "/v1/identity/session-devices",
            &app.key,
            Some(&device),
            &[("idempotency-key", "device-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let bytes = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    let doc = json!({"data": {"type": "document/idv",
        "attributes": {"files": [{"filename": "zebulon-licence.jpg", "content_type": "image/jpeg",
                                  "byte_size": bytes.len(), "side": "back"}]},
        "relationships": {"session": {"data": {"type": "session", "id": session}}}}});
    let doc = app
        .call(
            Method::POST,
            "/v1/identity/documents/idvs",
            &app.key,
            Some(&doc),
            &[("idempotency-key", "document-1")],
        )
        .await;
    assert_eq!(doc.status, StatusCode::CREATED, "{}", doc.json);
    let (url, headers) = doc.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    app.deliver_uploads().await;
    let verification = json!({"data": {"type": "verification/idv", "relationships": {
        "document": {"data": {"type": "document/idv", "id": doc.id()}},
        "session": {"data": {"type": "session", "id": session}}}}});
    let r = app
        .call(
            Method::POST,
            "/v1/identity/verifications",
            &app.key,
            Some(&verification),
            &[("idempotency-key", "verification-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.attr("extracted")["person"]["birth_date"], "1986-06-06");
}

async fn leaks(app: &TestApp) -> Vec<String> {
    let values = app.all_values().await;
    PII.iter()
        .filter(|p| values.iter().any(|v| v.contains(*p)))
        .map(|p| (*p).to_owned())
        .collect()
}

#[tokio::test]
async fn a_redacted_session_leaves_no_personal_data_in_the_table() {
    let app = TestApp::new().await;
    let mut attrs = pii_attributes();
    attrs["entity_type"] = json!("person");
    // Created with an idempotency key, so the stored response also holds the data.
    let created = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &app.key,
            Some(&json!({"data": {"type": "session", "attributes": attrs}})),
            &[("idempotency-key", "create-1")],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.id();
    app.complete_session(&id).await;
    let r = app
        .post(
            &format!("/v1/identity/sessions/{id}/mark-for-review"),
            Some(&json!({"meta": {"comment": "reviewer saw Zebulon's licence"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    device_document_and_verification(&app, &id).await;
    assert_eq!(
        leaks(&app).await.len(),
        PII.len(),
        "the test data is really there before"
    );
    let bodies = stored_bodies(&app).await;
    assert_eq!(bodies.len(), 4, "session, device, document, verification");
    for p in ["Zebulon", "198.51.100.23", "zebulon-licence.jpg", "SAMPLE"] {
        assert!(
            bodies.iter().any(|b| b.contains(p)),
            "a stored body holds {p}"
        );
    }

    // An action body may carry an empty `meta` (API.md §1); any member in it is refused
    // before anything is erased.
    let refused = app
        .post(
            &format!("/v1/identity/sessions/{id}/redact"),
            Some(&json!({"meta": {"reason": "gdpr"}})),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.json
    );
    assert_eq!(
        refused.json["errors"][0]["source"]["pointer"],
        "/meta/reason"
    );
    assert_eq!(leaks(&app).await.len(), PII.len(), "nothing erased yet");
    let r = app
        .post(
            &format!("/v1/identity/sessions/{id}/redact"),
            Some(&json!({"meta": {}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    for field in [
        "person",
        "business",
        "contact",
        "address",
        "identity_numbers",
        "behavior_analysis",
    ] {
        assert_eq!(r.attr(field), &json!(null), "{field}");
    }
    assert_eq!(r.attr("status"), "marked_for_review");
    assert_eq!(leaks(&app).await, Vec::<String>::new());
    // The idempotency records stay (a retry is still not run twice); their bodies are empty.
    assert_eq!(stored_bodies(&app).await, vec![String::new(); 4]);

    // Twice: 200, same result.
    let again = app
        .post(&format!("/v1/identity/sessions/{id}/redact"), None)
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json, r.json);

    // A retry of the create does not run again, and does not bring the data back.
    let retry = app
        .call(Method::POST, "/v1/identity/sessions", &app.key,
              Some(&json!({"data": {"type": "session", "attributes": {"entity_type": "person", "person": pii_attributes()["person"], "address": pii_attributes()["address"], "contact": pii_attributes()["contact"], "identity_numbers": pii_attributes()["identity_numbers"]}}})),
              &[("idempotency-key", "create-1")])
        .await;
    assert_eq!(retry.code(), "session_redacted");
    assert_eq!(leaks(&app).await, Vec::<String>::new());

    let events = app.get(&format!("/v1/identity/sessions/{id}/events")).await;
    let last = events.json["data"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .expect("event");
    assert_eq!(last["attributes"]["type"], "session.redacted");
}

#[tokio::test]
async fn redacting_an_account_cascades_to_its_sessions() {
    let app = TestApp::new().await;
    let mut attrs = pii_attributes();
    attrs["external_id"] = json!("integrator-ref-9");
    let account = app
        .post(
            "/v1/identity/accounts",
            Some(&json!({"data": {"type": "account", "attributes": attrs}})),
        )
        .await;
    assert_eq!(account.status, StatusCode::CREATED, "{}", account.json);
    let account = account.id();
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let id = app.create_session(Some(&account)).await;
        let patch = json!({"data": {"type": "session", "attributes": pii_attributes()}});
        assert_eq!(
            app.patch(&format!("/v1/identity/sessions/{id}"), &patch)
                .await
                .status,
            StatusCode::OK
        );
        sessions.push(id);
    }
    let unrelated = app.create_session(None).await;
    let patch = json!({"data": {"type": "session", "attributes": {"contact": {"email": "keep@example.net"}}}});
    app.patch(&format!("/v1/identity/sessions/{unrelated}"), &patch)
        .await;

    let r = app
        .post(&format!("/v1/identity/accounts/{account}/redact"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(r.attr("redacted_at").is_string());
    assert_eq!(r.attr("person"), &json!(null));
    assert_eq!(
        r.attr("external_id"),
        "integrator-ref-9",
        "the integrator's reference stays"
    );
    for id in &sessions {
        let s = app.get(&format!("/v1/identity/sessions/{id}")).await;
        assert!(s.attr("redacted_at").is_string(), "{id}");
        assert_eq!(s.attr("person"), &json!(null));
    }
    assert_eq!(leaks(&app).await, Vec::<String>::new());
    let kept = app.get(&format!("/v1/identity/sessions/{unrelated}")).await;
    assert_eq!(
        kept.attr("contact")["email"],
        "keep@example.net",
        "other sessions are untouched"
    );
}
