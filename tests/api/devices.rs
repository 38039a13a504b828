//! Session devices, and the redaction cascade through documents and devices.

use http::{Method, StatusCode};
use idv_tests::{jpeg_bytes, put_upload, TestApp};
use serde_json::{json, Value};

fn device(session: &str, extra: Value) -> Value {
    let mut attrs = json!({"user_agent": "Mozilla/5.0 (Zebulon's phone)", "platform": "ios", "locale": "en-US",
        "sdk_version": "2.3.1",
        "behavior_analysis": {"bot_score": 3.5, "threat_level": "low", "completion_time_seconds": 95,
                              "autofill_starts": 2, "devtools_open": false}});
    if let (Some(a), Some(e)) = (attrs.as_object_mut(), extra.as_object()) {
        a.extend(e.clone());
    }
    json!({"data": {"type": "session_device", "attributes": attrs,
        "relationships": {"session": {"data": {"type": "session", "id": session}}}}})
}

#[tokio::test]
async fn a_device_starts_its_session_and_shares_its_signals() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let r = app
        .call(
            Method::POST,
            "/v1/identity/session-devices",
            &app.key,
            Some(&device(&session, json!({}))),
            &[("x-forwarded-for", "198.51.100.7, 10.0.0.1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let dev = r.id();
    assert!(dev.starts_with("dev_"));
    assert_eq!(
        r.attr("ip_address"),
        "198.51.100.7",
        "taken from the request when absent"
    );
    assert_eq!(
        r.json["data"]["relationships"]["session"]["data"]["id"],
        json!(session)
    );

    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(s.attr("status"), "started");
    assert_eq!(s.attr("behavior_analysis")["bot_score"], 3.5);
    assert_eq!(s.attr("behavior_analysis")["threat_level"], "low");
    assert_eq!(s.attr("behavior_analysis")["hesitation_time"], Value::Null);
    assert_eq!(
        s.json["data"]["relationships"]["session_device"]["data"],
        json!({"type": "session_device", "id": dev})
    );
    let listed = app
        .get(&format!(
            "/v1/identity/sessions?filter[session_device]={dev}"
        ))
        .await;
    assert_eq!(listed.json["data"][0]["id"], json!(session));
    assert_eq!(
        app.get(&format!("/v1/identity/session-devices/{dev}"))
            .await
            .attr("platform"),
        "ios"
    );

    // A newer device replaces the older one.
    let second = app
        .post(
            "/v1/identity/session-devices",
            Some(&device(
                &session,
                json!({"ip_address": "2001:db8::1", "behavior_analysis": {"bot_score": 90}}),
            )),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.json);
    assert_eq!(second.attr("ip_address"), "2001:db8::1");
    assert_eq!(
        app.get(&format!("/v1/identity/session-devices/{dev}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(s.attr("behavior_analysis")["bot_score"], 90);
    let old = app
        .get(&format!(
            "/v1/identity/sessions?filter[session_device]={dev}"
        ))
        .await;
    assert_eq!(old.json["data"], json!([]));
}

#[tokio::test]
async fn devices_are_refused_by_closed_sessions_and_bad_signals() {
    let app = TestApp::new().await;
    let decided = app.create_session(None).await;
    app.complete_session(&decided).await;
    app.post(&format!("/v1/identity/sessions/{decided}/decline"), None)
        .await;
    let r = app
        .post(
            "/v1/identity/session-devices",
            Some(&device(&decided, json!({}))),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "invalid_transition")
    );
    assert_eq!(
        r.json["errors"][0]["meta"],
        json!({"status": "declined", "action": "register_device"})
    );

    let open = app.create_session(None).await;
    let r = app
        .post(
            "/v1/identity/session-devices",
            Some(&device(
                &open,
                json!({"behavior_analysis": {"threat_level": "severe"}}),
            )),
        )
        .await;
    assert_eq!(
        (r.status, r.source()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data/attributes/behavior_analysis/threat_level"
        )
    );
    let r = app
        .post(
            "/v1/identity/session-devices",
            Some(&device(&open, json!({"ip_address": "999.1.1.1"}))),
        )
        .await;
    assert_eq!(r.source(), "/data/attributes/ip_address");
    let r = app
        .post(
            "/v1/identity/session-devices",
            Some(&json!({"data": {"type": "session_device", "attributes": {}}})),
        )
        .await;
    assert_eq!(
        (r.code(), r.source()),
        ("missing_attribute", "/data/relationships/session")
    );
    assert_eq!(
        app.get(&format!("/v1/identity/sessions/{open}"))
            .await
            .attr("status"),
        "created",
        "nothing changed"
    );
}

#[tokio::test]
async fn redaction_deletes_files_and_device_data() {
    let app = TestApp::new().await;
    let account = app.create_account(None).await;
    let session = app.create_session(Some(&account)).await;
    app.post(
        "/v1/identity/session-devices",
        Some(&device(&session, json!({"ip_address": "203.0.113.99"}))),
    )
    .await;
    let bytes = jpeg_bytes(1500, 8);
    let body = json!({"data": {"type": "document/idv", "attributes": {"files": [
        {"filename": "zebulon-quixote-licence.jpg", "content_type": "image/jpeg", "byte_size": bytes.len(), "side": "back"}]},
        "relationships": {"session": {"data": {"type": "session", "id": session}}}}});
    let created = app.post("/v1/identity/documents/idvs", Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    app.deliver_uploads().await;
    // A standalone document of the account, too.
    let standalone = json!({"data": {"type": "document/address", "attributes": {"files": [
        {"filename": "zebulon-bill.pdf", "content_type": "application/pdf", "byte_size": 9}]},
        "relationships": {"account": {"data": {"type": "account", "id": account}}}}});
    let bill = app
        .post("/v1/identity/documents/addresses", Some(&standalone))
        .await;
    assert_eq!(bill.status, StatusCode::CREATED, "{}", bill.json);
    let (url, headers) = bill.upload(0);
    assert_eq!(
        put_upload(&url, &headers, b"%PDF-1.4\n".to_vec()).await,
        200
    );
    app.deliver_uploads().await;
    assert_eq!(app.object_keys().await.len(), 2);
    let shown = app.get(&format!("/v1/identity/accounts/{account}")).await;
    assert_eq!(
        shown.json["data"]["relationships"]["documents"]["data"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let r = app
        .post(&format!("/v1/identity/accounts/{account}/redact"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    assert_eq!(
        app.object_keys().await,
        Vec::<String>::new(),
        "every file is gone from the bucket"
    );
    let values = app.all_values().await;
    for secret in [
        "zebulon-quixote-licence.jpg",
        "zebulon-bill.pdf",
        "203.0.113.99",
        "Zebulon's phone",
    ] {
        assert!(
            !values.iter().any(|v| v.contains(secret)),
            "{secret} is still in the table"
        );
    }
    let doc = app
        .get(&format!("/v1/identity/documents/idvs/{}", created.id()))
        .await;
    assert_eq!(doc.attr("status"), "redacted");
    assert_eq!(doc.attr("files")[0]["filename"], Value::Null);
    assert_eq!(doc.attr("files")[0]["url"], Value::Null);
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(s.attr("behavior_analysis"), &Value::Null);
}
