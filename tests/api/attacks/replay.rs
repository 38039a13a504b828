//! Attacks: replay (see `attacks/mod.rs`). An `Idempotency-Key` is per tenancy, so another
//! key of the same tenant and environment can send the same key and body; a replay must
//! still be an authorized request, must never carry a stored refusal to a key that may act,
//! and must never hand back what a redaction removed. Also: back-dating `evaluated_on` with a
//! production key.

use http::{Method, StatusCode};
use idv::domain::auth::Permission;
use idv::domain::values::Environment;
use idv_checks::fixtures::{licence_back_jpeg, LicenceFields, Variant};
use idv_tests::{put_upload, Reply, TestApp};
use serde_json::{json, Value};
use time::macros::date;

/// What a replay must never show after the session was redacted: the device's IP address
/// and user agent, the document's file name, and the name and birth date the verification
/// extracted from the licence fixture (`LicenceFields::default()`).
const PERSONAL: [&str; 6] = [
    "203.0.113.77",
    "Zebulon's phone",
    "zebulon-licence-back.jpg",
    "MICHAEL",
    "SAMPLE",
    "1986-06-06",
];

fn device_body(session: &str) -> Value {
    json!({"data": {"type": "session_device",
        "attributes": {"user_agent": "Mozilla/5.0 (Zebulon's phone)", "platform": "ios",
                       "ip_address": "203.0.113.77"},
        "relationships": {"session": {"data": {"type": "session", "id": session}}}}})
}

/// `POST /documents/idvs` of one licence back (of `bytes.len()` bytes) for `session`.
fn document_body(session: &str, size: usize) -> Value {
    json!({"data": {"type": "document/idv",
        "attributes": {"files": [{"filename": "zebulon-licence-back.jpg",
            "content_type": "image/jpeg", "byte_size": size, "side": "back"}]},
        "relationships": {"session": {"data": {"type": "session", "id": session}}}}})
}

fn verification_body(session: &str, doc: &str) -> Value {
    json!({"data": {"type": "verification/idv",
        "relationships": {"document": {"data": {"type": "document/idv", "id": doc}},
                          "session": {"data": {"type": "session", "id": session}}}},
        "meta": {"auto_update_session": true}})
}

/// Creates a licence-back document for `session` with `key` (and `headers`), uploads
/// `bytes` and delivers the upload event. Returns the create answer.
async fn uploaded_licence(
    app: &TestApp,
    key: &str,
    session: &str,
    bytes: Vec<u8>,
    headers: &[(&str, &str)],
) -> Reply {
    let created = app
        .call(
            Method::POST,
            "/v1/identity/documents/idvs",
            key,
            Some(&document_body(session, bytes.len())),
            headers,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let (url, upload_headers) = created.upload(0);
    assert_eq!(put_upload(&url, &upload_headers, bytes).await, 200);
    app.deliver_uploads().await;
    created
}

fn shows_personal_data(r: &Reply) -> Vec<&'static str> {
    let text = r.json.to_string();
    PERSONAL
        .iter()
        .copied()
        .filter(|p| text.contains(p))
        .collect()
}

#[tokio::test]
async fn replay_without_scope_is_forbidden() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let body = device_body(&session);
    let idem = [("idempotency-key", "device-1")];
    let first = app
        .call(
            Method::POST,
            "/v1/identity/session-devices",
            &app.key,
            Some(&body),
            &idem,
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    assert_eq!(first.attr("ip_address"), "203.0.113.77");

    // Another key of the same tenant and environment, holding only `accounts:read`, sends
    // the same key and body.
    let reader = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::AccountsRead],
            None,
        )
        .await;
    let r = app
        .call(
            Method::POST,
            "/v1/identity/session-devices",
            &reader,
            Some(&body),
            &idem,
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{}",
        r.json
    );
    assert_eq!(
        r.json["errors"][0]["meta"]["required_scope"],
        "sessions:write"
    );
    assert!(!r.headers.contains_key("idempotent-replayed"));
    assert!(!r.json.to_string().contains("203.0.113.77"), "{}", r.json);

    // The key that holds the scope still gets its replay.
    let again = app
        .call(
            Method::POST,
            "/v1/identity/session-devices",
            &app.key,
            Some(&body),
            &idem,
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json, first.json);
}

#[tokio::test]
async fn forbidden_answer_is_not_replayed() {
    let app = TestApp::new().await;
    let reader = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::AccountsRead],
            None,
        )
        .await;
    let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}});
    let idem = [("idempotency-key", "open-session-9")];
    let refused = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &reader,
            Some(&body),
            &idem,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.json);

    // A key holding `sessions:write` sends the same key and body: it runs.
    let created = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &app.key,
            Some(&body),
            &idem,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert!(!created.headers.contains_key("idempotent-replayed"));
    let listed = app.get("/v1/identity/sessions?page[total]=true").await;
    assert_eq!(listed.json["meta"]["page"]["total"], 1);

    // And from then on that answer is the one replayed, to keys that may see it.
    let again = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &app.key,
            Some(&body),
            &idem,
        )
        .await;
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json, created.json);
}

#[tokio::test]
async fn replay_does_not_carry_download_urls_to_a_write_only_key() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let licence = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    let doc = uploaded_licence(&app, &app.key, &session, licence, &[])
        .await
        .id();
    let path = format!("/v1/identity/documents/idvs/{doc}/submit");
    let idem = [("idempotency-key", "submit-1")];
    // A key holding `documents:read` submits: the answer carries a working download URL.
    let first = app.call(Method::POST, &path, &app.key, None, &idem).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    assert!(first.attr("files")[0]["url"].is_string(), "{}", first.json);

    // An upload client's key (`documents:write` only) sends the same key and body.
    let writer = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::DocumentsWrite],
            None,
        )
        .await;
    let r = app.call(Method::POST, &path, &writer, None, &idem).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{}",
        r.json
    );
    assert_eq!(
        r.json["errors"][0]["meta"]["required_scope"],
        "documents:read"
    );
    assert!(
        !r.json.to_string().contains("X-Amz-Signature"),
        "{}",
        r.json
    );

    let again = app.call(Method::POST, &path, &app.key, None, &idem).await;
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json, first.json);
}

#[tokio::test]
async fn replay_after_redaction_holds_no_personal_data() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;

    let device = device_body(&session);
    let dev = app
        .call(
            Method::POST,
            "/v1/identity/session-devices",
            &app.key,
            Some(&device),
            &[("idempotency-key", "dev")],
        )
        .await;
    assert_eq!(dev.status, StatusCode::CREATED, "{}", dev.json);

    let licence = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    let size = licence.len();
    let doc = uploaded_licence(
        &app,
        &app.key,
        &session,
        licence,
        &[("idempotency-key", "doc")],
    )
    .await;

    let verification = verification_body(&session, &doc.id());
    let ver = app
        .call(
            Method::POST,
            "/v1/identity/verifications",
            &app.key,
            Some(&verification),
            &[("idempotency-key", "ver")],
        )
        .await;
    assert_eq!(ver.status, StatusCode::CREATED, "{}", ver.json);
    assert_eq!(ver.attr("status"), "passed", "{}", ver.json);
    for (r, what) in [(&dev, "device"), (&doc, "document"), (&ver, "verification")] {
        assert!(!shows_personal_data(r).is_empty(), "{what} shows it before");
    }

    let redacted = app
        .post(&format!("/v1/identity/sessions/{session}/redact"), None)
        .await;
    assert_eq!(redacted.status, StatusCode::OK, "{}", redacted.json);

    for (path, body, key) in [
        ("/v1/identity/session-devices", device, "dev"),
        (
            "/v1/identity/documents/idvs",
            document_body(&session, size),
            "doc",
        ),
        ("/v1/identity/verifications", verification, "ver"),
    ] {
        let r = app
            .call(
                Method::POST,
                path,
                &app.key,
                Some(&body),
                &[("idempotency-key", key)],
            )
            .await;
        assert_eq!(
            shows_personal_data(&r),
            Vec::<&str>::new(),
            "{path}: {}",
            r.json
        );
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::CONFLICT, "session_redacted"),
            "{path}: not run again either"
        );
    }

    // Nor does any item in the table, idempotency records and their stored bodies included.
    let values = app.all_values().await;
    let left: Vec<&str> = PERSONAL
        .iter()
        .copied()
        .filter(|p| values.iter().any(|v| v.contains(p)))
        .collect();
    assert_eq!(left, Vec::<&str>::new());
}

#[tokio::test]
async fn replay_of_a_document_that_joined_a_session_later_holds_no_personal_data() {
    let app = TestApp::new().await;
    // A standalone document (no session yet): its stored answer is indexed under itself.
    let bytes = licence_back_jpeg(&LicenceFields::default(), Variant::Clean);
    let mut body = document_body("unused", bytes.len());
    body["data"]["relationships"] = json!({});
    let idem = [("idempotency-key", "standalone-doc")];
    let created = app
        .call(
            Method::POST,
            "/v1/identity/documents/idvs",
            &app.key,
            Some(&body),
            &idem,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    app.deliver_uploads().await;
    // A verification with a session links the document to it.
    let session = app.create_session(None).await;
    let r = app
        .post(
            "/v1/identity/verifications",
            Some(&verification_body(&session, &created.id())),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(
        s.json["data"]["relationships"]["documents"]["data"][0]["id"],
        json!(created.id())
    );

    let redacted = app
        .post(&format!("/v1/identity/sessions/{session}/redact"), None)
        .await;
    assert_eq!(redacted.status, StatusCode::OK, "{}", redacted.json);
    let replay = app
        .call(
            Method::POST,
            "/v1/identity/documents/idvs",
            &app.key,
            Some(&body),
            &idem,
        )
        .await;
    assert!(
        !replay.json.to_string().contains("zebulon-licence-back.jpg"),
        "{}",
        replay.json
    );
    assert_eq!(replay.code(), "session_redacted", "{}", replay.json);
}

#[tokio::test]
async fn production_key_cannot_backdate_evaluated_on() {
    let app = TestApp::new().await;
    let production = app
        .issue_key("acme", Environment::Production, &[Permission::All], None)
        .await;
    let session = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &production,
            Some(&json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}})),
            &[],
        )
        .await;
    assert_eq!(session.status, StatusCode::CREATED);
    let session = session.id();
    // A licence that expired in 2020: evaluated today it fails.
    let expired = LicenceFields {
        issue_date: date!(2015 - 01 - 10),
        expiry_date: date!(2020 - 01 - 10),
        ..LicenceFields::default()
    };
    let doc = uploaded_licence(
        &app,
        &production,
        &session,
        licence_back_jpeg(&expired, Variant::Clean),
        &[],
    )
    .await
    .id();

    // Evaluated as of 2019 it would pass: a production key may not ask for that.
    let mut body = verification_body(&session, &doc);
    body["data"]["attributes"] = json!({"evaluated_on": "2019-06-01"});
    let r = app
        .call(
            Method::POST,
            "/v1/identity/verifications",
            &production,
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(
        (r.status, r.code(), r.source()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_attribute",
            "/data/attributes/evaluated_on"
        ),
        "{}",
        r.json
    );
    let listed = app
        .call(
            Method::GET,
            "/v1/identity/verifications",
            &production,
            None,
            &[],
        )
        .await;
    assert_eq!(listed.json["data"], json!([]), "nothing written");
    let s = app
        .call(
            Method::GET,
            &format!("/v1/identity/sessions/{session}"),
            &production,
            None,
            &[],
        )
        .await;
    assert_eq!(s.attr("person"), &Value::Null, "the session was not filled");

    // Today (the default, or said explicitly) it runs, and fails as it should.
    let today = idv::domain::values::Timestamp::now().date().to_string();
    body["data"]["attributes"] = json!({"evaluated_on": today});
    let r = app
        .call(
            Method::POST,
            "/v1/identity/verifications",
            &production,
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.attr("status"), "failed");
}

/// A request that wrote before a redaction began can store its answer after the
/// redaction's scrub has run. That answer must not keep what the redaction removed: it is
/// stored only while its subject is unredacted, else scrubbed.
#[tokio::test]
async fn answer_stored_after_the_redaction_scrub_holds_no_personal_data() {
    use idv::store::idempotency::{Claim, StoredResponse};

    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    let now = idv::domain::values::Timestamp::now();
    // The request has claimed its key and is running…
    let claim = app
        .store
        .claim_idempotency(&app.tenancy, "slow-request", "fp", now)
        .await
        .expect("claim");
    assert!(matches!(claim, Claim::Acquired));
    // …meanwhile the session is redacted (mark, cascade, scrub)…
    let r = app
        .post(&format!("/v1/identity/sessions/{id}/redact"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    // …and then it stores an answer showing the applicant.
    let body = json!({"data": {"type": "session", "id": id,
        "attributes": {"person": {"name": {"first": "Zebulon"}}}}})
    .to_string();
    app.store
        .complete_idempotency(
            &app.tenancy,
            "slow-request",
            "fp",
            StoredResponse {
                status: 201,
                headers: Vec::new(),
                body,
                scopes: Vec::new(),
            },
            Some(id.clone()),
            idv::domain::values::Timestamp::now(),
        )
        .await
        .expect("stored");
    assert!(
        !app.all_values().await.iter().any(|v| v.contains("Zebulon")),
        "the late answer was stored with the applicant's name"
    );
    match app
        .store
        .claim_idempotency(&app.tenancy, "slow-request", "fp", now)
        .await
        .expect("claim")
    {
        Claim::Existing(record) => assert!(record.redacted, "kept, marked redacted"),
        Claim::Acquired => panic!("the record stays so the request is not run twice"),
    }
}
