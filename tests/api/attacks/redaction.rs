//! Attacks: redaction (see `attacks/mod.rs`).
//!
//! A redacted (or redacting) account must take nothing new; a redaction interrupted half way
//! must be finished by the next run without repeating what is done; standalone documents
//! must be redactable, by request and by retention; and racing a redaction — a device
//! registered, a session created meanwhile — must not leave personal data behind.

use std::time::Duration;

use http::{Method, StatusCode};
use idv::domain::auth::Permission;
use idv::domain::event::Actor;
use idv::domain::ids::SessionId;
use idv::domain::values::{Environment, Timestamp};
use idv::store::objects::Objects;
use idv::store::timers::Retention;
use idv_tests::{harness_timeouts, jpeg_bytes, put_upload, s3_client_at, Reply, TestApp};
use serde_json::{json, Value};

/// A name only the applicant's data holds.
const NAME: &str = "Zebulon";

fn person() -> Value {
    json!({"name": {"first": NAME, "last": "Quixote"}, "birth_date": "1971-03-04"})
}

fn session_body(account: Option<&str>, with_person: bool) -> Value {
    let mut attrs = json!({"entity_type": "person"});
    if with_person {
        attrs["person"] = person();
    }
    let mut body = json!({"data": {"type": "session", "attributes": attrs}});
    if let Some(a) = account {
        body["data"]["relationships"] = json!({"account": {"data": {"type": "account", "id": a}}});
    }
    body
}

fn document_body(
    account: Option<&str>,
    session: Option<&str>,
    filename: &str,
    size: usize,
) -> Value {
    let mut rel = serde_json::Map::new();
    if let Some(a) = account {
        rel.insert(
            "account".into(),
            json!({"data": {"type": "account", "id": a}}),
        );
    }
    if let Some(s) = session {
        rel.insert(
            "session".into(),
            json!({"data": {"type": "session", "id": s}}),
        );
    }
    let mut body = json!({"data": {"type": "document/idv", "attributes": {
        "document_type": "passport",
        "files": [{"filename": filename, "content_type": "image/jpeg", "byte_size": size, "side": "front"}]
    }}});
    if !rel.is_empty() {
        body["data"]["relationships"] = Value::Object(rel);
    }
    body
}

/// An account with the applicant's name.
async fn account_with_person(app: &TestApp) -> String {
    let r = app
        .post(
            "/v1/identity/accounts",
            Some(&json!({"data": {"type": "account", "attributes": {"entity_type": "person", "person": person()}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.id()
}

/// Creates a document with one JPEG file and uploads it; returns (document id, object key).
async fn uploaded_document(
    app: &TestApp,
    session: Option<&str>,
    filename: &str,
    idempotency_key: &str,
) -> (String, Reply) {
    let bytes = jpeg_bytes(1500, 7);
    let created = app
        .call(
            Method::POST,
            "/v1/identity/documents/idvs",
            &app.key,
            Some(&document_body(None, session, filename, bytes.len())),
            &[("idempotency-key", idempotency_key)],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    assert_eq!(app.deliver_uploads().await, 1);
    (created.id(), created)
}

async fn values_contain(app: &TestApp, needle: &str) -> bool {
    app.all_values().await.iter().any(|v| v.contains(needle))
}

/// Objects in the bucket under a document's prefix.
async fn objects_of(app: &TestApp, doc: &str) -> usize {
    app.object_keys()
        .await
        .iter()
        .filter(|k| k.contains(doc))
        .count()
}

#[tokio::test]
async fn redacted_account_takes_no_new_session() {
    let app = TestApp::new().await;
    let account = app.create_account(Some("ref-1")).await;
    let r = app
        .post(&format!("/v1/identity/accounts/{account}/redact"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    for with_person in [true, false] {
        let r = app
            .post(
                "/v1/identity/sessions",
                Some(&session_body(Some(&account), with_person)),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
        assert_eq!(r.code(), "account_redacted");
    }
    let patch =
        json!({"data": {"type": "account", "id": account, "attributes": {"person": person()}}});
    let r = app
        .patch(&format!("/v1/identity/accounts/{account}"), &patch)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    assert_eq!(r.code(), "account_redacted");

    // Nothing was written.
    let listed = app
        .get(&format!(
            "/v1/identity/sessions?filter[account_id]={account}"
        ))
        .await;
    assert_eq!(listed.json["data"], json!([]));
    assert!(!values_contain(&app, NAME).await);
    // The account is unchanged by the refusals, and other accounts still take sessions.
    let other = app.create_account(None).await;
    app.create_session(Some(&other)).await;
}

#[tokio::test]
async fn redacted_account_takes_no_new_document() {
    let app = TestApp::new().await;
    // Directly, after the redaction finished.
    let account = app.create_account(None).await;
    let r = app
        .post(&format!("/v1/identity/accounts/{account}/redact"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&document_body(Some(&account), None, "zebulon.jpg", 1000)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    assert_eq!(r.code(), "account_redacted");

    // Through a session of an account whose redaction is still running: more sessions than
    // one request redacts, so the newest is not redacted yet when the request answers.
    let busy = app.create_account(None).await;
    let mut sessions = Vec::new();
    for _ in 0..30 {
        sessions.push(app.create_session(Some(&busy)).await);
    }
    let r = app
        .post(&format!("/v1/identity/accounts/{busy}/redact"), None)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.json);
    let newest = sessions.last().expect("sessions");
    let s = app.get(&format!("/v1/identity/sessions/{newest}")).await;
    assert_eq!(s.attr("redacted_at"), &Value::Null, "not reached yet");
    let r = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&document_body(None, Some(newest), "zebulon.jpg", 1000)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    assert_eq!(r.code(), "account_redacted");

    // Nothing was written: no document lists under either account or the session.
    for filter in [
        format!("filter[account_id]={account}"),
        format!("filter[account_id]={busy}"),
        format!("filter[session_id]={newest}"),
    ] {
        let listed = app
            .get(&format!("/v1/identity/documents/idvs?{filter}"))
            .await;
        assert_eq!(listed.json["data"], json!([]), "{filter}");
    }
    assert!(!values_contain(&app, "zebulon.jpg").await);
    let s = app.get(&format!("/v1/identity/sessions/{newest}")).await;
    assert_eq!(
        s.json["data"]["relationships"]["documents"]["data"],
        json!([])
    );
}

#[tokio::test]
async fn redaction_rerun_completes_what_was_left() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let patch = json!({"data": {"type": "session", "attributes": {"person": person()}}});
    app.patch(&format!("/v1/identity/sessions/{session}"), &patch)
        .await;
    let (doc, _) = uploaded_document(&app, Some(&session), "zebulon-front.jpg", "doc-1").await;
    assert_eq!(objects_of(&app, &doc).await, 1);

    // S3 refuses connections: the run stops after the session's own write.
    let down = Objects::new(
        s3_client_at("http://127.0.0.1:1", &harness_timeouts()),
        app.objects.bucket(),
    );
    let id = SessionId::parse(&session).expect("id");
    let actor = Actor::system("test");
    let crashed = idv::workflow::redact_session(
        &app.store,
        &down,
        &app.tenancy,
        id,
        &actor,
        Timestamp::now(),
    )
    .await;
    assert!(crashed.is_err(), "S3 is down");
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_ne!(
        s.attr("redacted_at"),
        &Value::Null,
        "half done: the session"
    );
    assert_eq!(
        objects_of(&app, &doc).await,
        1,
        "half done: the file is left"
    );

    // The re-run finishes it.
    let r = app
        .post(&format!("/v1/identity/sessions/{session}/redact"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(objects_of(&app, &doc).await, 0);
    let d = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(d.attr("status"), "redacted");
    assert_eq!(d.attr("files")[0]["filename"], Value::Null);
    assert!(!values_contain(&app, NAME).await);
    assert!(!values_contain(&app, "zebulon-front.jpg").await);

    // Once done, a further run checks what is gone and repeats nothing: with S3 down it
    // still succeeds, because it issues no S3 call.
    idv::workflow::redact_session(
        &app.store,
        &down,
        &app.tenancy,
        id,
        &actor,
        Timestamp::now(),
    )
    .await
    .expect("nothing left to repeat");
}

#[tokio::test]
async fn standalone_document_can_be_redacted() {
    let app = TestApp::new().await;
    let (doc, created) = uploaded_document(&app, None, "zebulon-passport.jpg", "doc-2").await;
    assert_eq!(objects_of(&app, &doc).await, 1);
    let path = format!("/v1/identity/documents/idvs/{doc}/redact");

    // The scope is sessions:redact.
    let writer = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::DocumentsWrite, Permission::DocumentsRead],
            None,
        )
        .await;
    let r = app.call(Method::POST, &path, &writer, None, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);

    let r = app.post(&path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.attr("status"), "redacted");
    assert_ne!(r.attr("redacted_at"), &Value::Null);
    assert_eq!(r.attr("extracted"), &Value::Null);
    assert_eq!(r.attr("files")[0]["filename"], Value::Null);
    assert_eq!(objects_of(&app, &doc).await, 0);
    // Its verifications' extracted data, its stored responses: nothing holds the name.
    assert!(!values_contain(&app, "zebulon-passport.jpg").await);
    let replay = app
        .call(
            Method::POST,
            "/v1/identity/documents/idvs",
            &app.key,
            Some(&document_body(None, None, "zebulon-passport.jpg", 1500)),
            &[("idempotency-key", "doc-2")],
        )
        .await;
    assert!(
        !replay.json.to_string().contains("zebulon-passport.jpg"),
        "{}",
        replay.json
    );
    drop(created);

    // Twice: the same answer.
    let again = app.post(&path, None).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json["data"], r.json["data"]);

    // A document of a session is redacted with its session, not alone.
    let session = app.create_session(None).await;
    let (of_session, _) = uploaded_document(&app, Some(&session), "front.jpg", "doc-3").await;
    let r = app
        .post(
            &format!("/v1/identity/documents/idvs/{of_session}/redact"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    assert_eq!(r.code(), "invalid_transition");
    assert_eq!(r.json["errors"][0]["meta"]["status"], "in_session");
    assert_eq!(objects_of(&app, &of_session).await, 1, "untouched");
    // Unknown and foreign ids are 404.
    let r = app
        .post(
            "/v1/identity/documents/addresses/doc_01HQ0000000000000000000000/redact",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn standalone_document_falls_under_retention() {
    let app = TestApp::with_retention(Retention {
        production: None,
        staging: Some(time::Duration::seconds(1)),
    })
    .await;
    let (doc, _) = uploaded_document(&app, None, "zebulon-licence.jpg", "doc-4").await;
    assert_eq!(objects_of(&app, &doc).await, 1);
    let expirer = app.expirer();

    // Not due yet: the sweep leaves it.
    let report = expirer
        .sweep(Timestamp::now(), Duration::from_secs(30))
        .await;
    assert_eq!(report.documents_redacted, 0, "{report:?}");
    assert_eq!(objects_of(&app, &doc).await, 1);

    // A second after its last change it is redacted, files and all.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let report = expirer
        .sweep(Timestamp::now(), Duration::from_secs(30))
        .await;
    assert_eq!(report.documents_redacted, 1, "{report:?}");
    assert_eq!(objects_of(&app, &doc).await, 0);
    let d = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(d.attr("status"), "redacted");
    assert!(!values_contain(&app, "zebulon-licence.jpg").await);
    // Done means done: the next sweep finds nothing.
    let report = expirer
        .sweep(Timestamp::now(), Duration::from_secs(30))
        .await;
    assert_eq!(report.documents_redacted, 0, "{report:?}");
}

#[tokio::test]
async fn device_registered_during_redaction_keeps_no_data() {
    let app = TestApp::new().await;
    let device_body = |session: &str, ua: &str| {
        json!({"data": {"type": "session_device",
            "attributes": {"user_agent": ua, "ip_address": "203.0.113.7", "locale": "en-US"},
            "relationships": {"session": {"data": {"type": "session", "id": session}}}}})
    };
    for round in 0..8 {
        let session = app.create_session(None).await;
        let first = app
            .post(
                "/v1/identity/session-devices",
                Some(&device_body(&session, &format!("{NAME}-UA/{round}.0"))),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
        let mut devices = vec![first.id()];
        // Re-registrations race the redaction.
        let register = async {
            let mut ids = Vec::new();
            for i in 0..6 {
                let r = app
                    .post(
                        "/v1/identity/session-devices",
                        Some(&device_body(&session, &format!("{NAME}-UA/{round}.{i}"))),
                    )
                    .await;
                match r.status {
                    StatusCode::CREATED => ids.push(r.id()),
                    StatusCode::CONFLICT => {
                        assert!(
                            ["session_redacted", "conflict"].contains(&r.code()),
                            "{}",
                            r.json
                        );
                    }
                    other => panic!("{other}: {}", r.json),
                }
            }
            ids
        };
        let redact_path = format!("/v1/identity/sessions/{session}/redact");
        let redact = app.post(&redact_path, None);
        let (ids, redacted) = tokio::join!(register, redact);
        assert_eq!(redacted.status, StatusCode::OK, "{}", redacted.json);
        devices.extend(ids);
        for dev in &devices {
            let d = app
                .get(&format!("/v1/identity/session-devices/{dev}"))
                .await;
            if d.status == StatusCode::NOT_FOUND {
                continue; // replaced and deleted
            }
            for field in ["user_agent", "ip_address", "locale"] {
                assert_eq!(d.attr(field), &Value::Null, "round {round}, {dev}: {field}");
            }
        }
        assert!(
            !values_contain(&app, &format!("{NAME}-UA")).await,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn session_created_during_account_redaction_is_redacted_or_refused() {
    let app = TestApp::new().await;
    let account = account_with_person(&app).await;
    for _ in 0..30 {
        app.create_session(Some(&account)).await;
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let create = async {
        let (mut created, mut refused) = (Vec::new(), 0);
        // Keep creating until the redaction has answered, and a few more after.
        let mut after = 0;
        while after < 3 {
            if done.load(std::sync::atomic::Ordering::SeqCst) {
                after += 1;
            }
            let r = app
                .post(
                    "/v1/identity/sessions",
                    Some(&session_body(Some(&account), true)),
                )
                .await;
            match r.status {
                StatusCode::CREATED => created.push(r.id()),
                StatusCode::CONFLICT => {
                    assert_eq!(r.code(), "account_redacted", "{}", r.json);
                    refused += 1;
                }
                other => panic!("{other}: {}", r.json),
            }
        }
        (created, refused)
    };
    let redact = async {
        let r = app
            .post(&format!("/v1/identity/accounts/{account}/redact"), None)
            .await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        r
    };
    let ((created, refused), r) = tokio::join!(create, redact);
    assert!(r.status.is_success(), "{}", r.json);
    assert!(refused >= 3, "sessions after the redaction are refused");
    // Whatever the request left, the background finishes.
    let report = app
        .expirer()
        .sweep(Timestamp::now(), Duration::from_secs(120))
        .await;
    assert_eq!(report.failed, 0, "{report:?}");
    let a = app.get(&format!("/v1/identity/accounts/{account}")).await;
    assert_ne!(a.attr("redacted_at"), &Value::Null, "{}", a.json);
    for id in &created {
        let s = app.get(&format!("/v1/identity/sessions/{id}")).await;
        assert_ne!(s.attr("redacted_at"), &Value::Null, "{id} was missed");
        assert_eq!(s.attr("person"), &Value::Null);
    }
    assert!(!values_contain(&app, NAME).await);
}

#[tokio::test]
async fn account_with_60_sessions_is_redacted_in_the_background() {
    let app = TestApp::new().await;
    let account = account_with_person(&app).await;
    let mut sessions = Vec::new();
    for _ in 0..60 {
        let r = app
            .post(
                "/v1/identity/sessions",
                Some(&session_body(Some(&account), true)),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        sessions.push(r.id());
    }

    // More than one request redacts: 202, the account's own data already gone, and the
    // account shows the redaction in progress.
    let started = std::time::Instant::now();
    let r = app
        .post(&format!("/v1/identity/accounts/{account}/redact"), None)
        .await;
    eprintln!("POST redact answered in {:?}", started.elapsed());
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.json);
    assert_eq!(r.attr("person"), &Value::Null);
    assert_eq!(r.attr("redacted_at"), &Value::Null);
    let progress = &r.json["data"]["meta"]["redaction"];
    assert_eq!(progress["status"], "in_progress", "{}", r.json);
    let first_batch = progress["sessions_redacted"].as_u64().expect("a count");
    assert!((1..60).contains(&first_batch), "{}", r.json);
    let shown = app.get(&format!("/v1/identity/accounts/{account}")).await;
    assert_eq!(
        shown.json["data"]["meta"]["redaction"]["status"],
        "in_progress"
    );
    let mut left = 0;
    for id in &sessions {
        let s = app.get(&format!("/v1/identity/sessions/{id}")).await;
        if s.attr("redacted_at").is_null() {
            left += 1;
        }
    }
    assert_eq!(left, 60 - first_batch, "the rest waits for the background");

    // The sweep (what `expiry-sweep` runs on its schedule) finishes it.
    let started = std::time::Instant::now();
    let report = app
        .expirer()
        .sweep(Timestamp::now(), Duration::from_secs(120))
        .await;
    eprintln!("the sweep finished it in {:?}", started.elapsed());
    assert_eq!(report.accounts_redacted, 1, "{report:?}");
    let a = app.get(&format!("/v1/identity/accounts/{account}")).await;
    assert_ne!(a.attr("redacted_at"), &Value::Null, "{}", a.json);
    assert!(a.json["data"].get("meta").is_none(), "{}", a.json);
    for id in &sessions {
        let s = app.get(&format!("/v1/identity/sessions/{id}")).await;
        assert_ne!(s.attr("redacted_at"), &Value::Null, "{id}");
    }
    assert!(!values_contain(&app, NAME).await);
    // Finished: nothing left for the sweep, and redacting again answers 200.
    let report = app
        .expirer()
        .sweep(Timestamp::now(), Duration::from_secs(30))
        .await;
    assert_eq!(report.accounts_redacted, 0, "{report:?}");
    let again = app
        .post(&format!("/v1/identity/accounts/{account}/redact"), None)
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.json);
}
