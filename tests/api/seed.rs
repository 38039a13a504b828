//! The product page's examples, as written, against the routers.

use http::StatusCode;
use idv_tests::TestApp;
use serde_json::{json, Value};

#[tokio::test]
async fn the_seed_flow_returns_the_documented_shapes() {
    let app = TestApp::new().await;
    let account = app.create_account(Some("user-42")).await;

    // Creating a Session.
    let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person"},
        "relationships": {"account": {"data": {"type": "account", "id": account}}}}});
    let created = app.post("/v1/identity/sessions", Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.id();
    assert!(id.starts_with("sess_"));
    assert_eq!(
        created.headers["location"].to_str().expect("ascii"),
        format!("/v1/identity/sessions/{id}")
    );
    let data = &created.json["data"];
    assert_eq!(data["type"], "session");
    for (name, value) in [
        ("status", json!("created")),
        ("creator_type", json!("api")),
        ("entity_type", json!("person")),
        ("person", json!(null)),
        ("business", json!(null)),
        ("contact", json!(null)),
        ("address", json!(null)),
        ("identity_numbers", json!(null)),
        ("started_at", json!(null)),
        ("expires_at", json!(null)),
        ("completed_at", json!(null)),
        ("failed_at", json!(null)),
        ("marked_for_review_at", json!(null)),
        ("decisioned_at", json!(null)),
        ("expired_at", json!(null)),
        ("redacted_at", json!(null)),
    ] {
        assert_eq!(data["attributes"][name], value, "{name}");
    }
    assert_eq!(
        data["attributes"]["created_at"],
        data["attributes"]["updated_at"]
    );
    assert_eq!(
        data["relationships"],
        json!({"account": {"data": {"type": "account", "id": account}},
               "documents": {"data": []}, "verifications": {"data": []},
               "session_device": {"data": null}})
    );

    // Populating session data: the seed's PATCH, with the id in the body.
    let patch = json!({"data": {"type": "session", "id": id, "attributes": {
        "person": {"name": {"first": "Jane", "last": "Doe"}, "birth_date": "1990-05-15"},
        "address": {"line1": "123 Main St", "city": "San Francisco", "subdivision": "CA",
                    "postal_code": "94102", "country_code": "US"},
        "contact": {"email": "jane@example.com", "phone": "+1234567890"}}}});
    let patched = app
        .patch(&format!("/v1/identity/sessions/{id}"), &patch)
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.json);
    assert_eq!(
        patched.attr("person"),
        &json!({"name": {"first": "Jane", "middle": null, "last": "Doe"}, "birth_date": "1990-05-15"})
    );
    assert_eq!(
        patched.attr("contact"),
        &json!({"email": "jane@example.com", "phone": "+1234567890"})
    );
    assert_eq!(patched.attr("address")["postal_code"], "94102");

    // Listing sessions for an account.
    let other = app.create_session(None).await;
    let listed = app
        .get(&format!(
            "/v1/identity/sessions?filter[account_id]={account}"
        ))
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let ids: Vec<&str> = listed.json["data"]
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, vec![id.as_str()]);
    assert!(!ids.contains(&other.as_str()));
    assert_eq!(listed.json["meta"]["page"]["has_next"], false);

    // Making decisions: approve after simulating to completed (empty body, no Content-Type).
    app.complete_session(&id).await;
    let approved = app
        .post(&format!("/v1/identity/sessions/{id}/approve"), None)
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.json);
    assert_eq!(approved.attr("status"), "approved");
    assert!(approved.attr("decisioned_at").is_string());
    assert!(approved.attr("completed_at").is_string());

    // Expiring a session.
    let expired = app
        .post(&format!("/v1/identity/sessions/{other}/expire"), None)
        .await;
    assert_eq!(expired.status, StatusCode::OK);
    assert_eq!(expired.attr("status"), "expired");
    assert!(expired.attr("expired_at").is_string());

    // Redacting a session.
    let redacted = app
        .post(&format!("/v1/identity/sessions/{id}/redact"), None)
        .await;
    assert_eq!(redacted.status, StatusCode::OK);
    assert_eq!(redacted.attr("person"), &json!(null));
    assert_eq!(redacted.attr("address"), &json!(null));
    assert_eq!(redacted.attr("contact"), &json!(null));
    assert_eq!(redacted.attr("status"), "approved", "status stays");
    assert!(redacted.attr("redacted_at").is_string());
}

/// The body of the product page's "Automatic Extraction from Documents", character for
/// character (its `meta` sits inside `data`); only the two ids are substituted.
const SEED_VERIFICATION_BODY: &str = r#"{
  "data": {
    "type": "verification/idv",
    "relationships": {
      "document": { "data": { "type": "document/idv", "id": "doc_01HQ..." } },
      "session": { "data": { "type": "session", "id": "sess_01HQ..." } }
    },
    "meta": {
      "auto_update_session": true
    }
  }
}"#;

#[tokio::test]
async fn seed_verification_body_is_accepted() {
    use idv_checks::fixtures::{licence_back_jpeg, LicenceFields, Variant};

    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let bytes = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    let doc = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&json!({"data": {"type": "document/idv",
                "attributes": {"files": [{"filename": "back.jpg", "content_type": "image/jpeg",
                                          "byte_size": bytes.len(), "side": "back"}]},
                "relationships": {"session": {"data": {"type": "session", "id": session}}}}})),
        )
        .await;
    assert_eq!(doc.status, StatusCode::CREATED, "{}", doc.json);
    let (url, headers) = doc.upload(0);
    assert_eq!(idv_tests::put_upload(&url, &headers, bytes).await, 200);
    app.deliver_uploads().await;

    let body = SEED_VERIFICATION_BODY
        .replace("doc_01HQ...", &doc.id())
        .replace("sess_01HQ...", &session);
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri("/v1/identity/verifications")
        .header("x-api-key", &app.key)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .expect("request");
    let r = app.send(request).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.attr("status"), "passed", "{}", r.json);

    // auto_update_session took effect: the session holds what the licence says.
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(s.attr("status"), "completed", "{}", s.json);
    assert_eq!(
        s.attr("person")["name"],
        json!({"first": "MICHAEL", "middle": "JOHN", "last": "SAMPLE"})
    );
    assert_eq!(s.attr("person")["birth_date"], "1986-06-06");
}

#[tokio::test]
async fn meta_at_both_levels_must_agree() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let doc = "doc_01HQZZZZZZZZZZZZZZZZZZZZZZ";
    let rels = json!({"document": {"data": {"type": "document/idv", "id": doc}},
                      "session": {"data": {"type": "session", "id": session}}});
    let body = json!({"data": {"type": "verification/idv", "relationships": rels,
                               "meta": {"auto_update_session": true}},
                      "meta": {"auto_update_session": false}});
    let r = app.post("/v1/identity/verifications", Some(&body)).await;
    assert_eq!(
        (r.status, r.code(), r.source()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_attribute",
            "/data/meta/auto_update_session"
        ),
        "{}",
        r.json
    );
    // A bad value is pointed at where it was sent.
    let body = json!({"data": {"type": "verification/idv", "relationships": rels,
                               "meta": {"auto_update_session": "yes"}}});
    let r = app.post("/v1/identity/verifications", Some(&body)).await;
    assert_eq!(r.source(), "/data/meta/auto_update_session", "{}", r.json);

    // A decide action's comment, inside `data` or at the top, and `meta` alone.
    app.complete_session(&session).await;
    let r = app
        .post(
            &format!("/v1/identity/sessions/{session}/mark-for-review"),
            Some(&json!({"data": {"type": "session", "meta": {"comment": "seen inside data"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = app
        .post(
            &format!("/v1/identity/sessions/{session}/approve"),
            Some(&json!({"meta": {"comment": "a"}, "data": {"meta": {"comment": "b"}}})),
        )
        .await;
    assert_eq!(r.source(), "/data/meta/comment", "{}", r.json);
    let r = app
        .post(
            &format!("/v1/identity/sessions/{session}/approve"),
            Some(&json!({"meta": {"comment": "same"}, "data": {"meta": {"comment": "same"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let events = app
        .get(&format!("/v1/identity/sessions/{session}/events"))
        .await;
    let comments: Vec<&Value> = events.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["attributes"]["data"]["comment"])
        .filter(|c| !c.is_null())
        .collect();
    assert_eq!(comments, vec![&json!("seen inside data"), &json!("same")]);
}
