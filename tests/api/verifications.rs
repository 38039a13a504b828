//! Verifications over HTTP with real files: synthetic licence backs carrying PDF417
//! barcodes encoded by the project, and proof-of-address PDFs, uploaded to s3s-fs through
//! presigned URLs and checked by the engine.

use http::StatusCode;
use idv_checks::fixtures::{address_pdf, default_bill, licence_back_jpeg, LicenceFields, Variant};
use idv_tests::{put_upload, Reply, TestApp};
use serde_json::{json, Value};
use time::macros::date;

/// Creates a document of `kind` with one file (linked to `session` if given), uploads
/// `bytes`, delivers the upload event and returns the document id.
async fn uploaded_document(
    app: &TestApp,
    kind: &str,
    content_type: &str,
    bytes: Vec<u8>,
    session: Option<&str>,
) -> String {
    let (path, ty, side) = match kind {
        "idv" => ("idvs", "document/idv", Some("back")),
        _ => ("addresses", "document/address", None),
    };
    let mut file =
        json!({"filename": "upload", "content_type": content_type, "byte_size": bytes.len()});
    if let Some(side) = side {
        file["side"] = json!(side);
    }
    let mut body = json!({"data": {"type": ty, "attributes": {"files": [file]}}});
    if let Some(s) = session {
        body["data"]["relationships"] = json!({"session": {"data": {"type": "session", "id": s}}});
    }
    let created = app
        .post(&format!("/v1/identity/documents/{path}"), Some(&body))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    app.deliver_uploads().await;
    created.id()
}

async fn verify(app: &TestApp, kind: &str, doc: &str, session: Option<&str>, meta: Value) -> Reply {
    let doc_type = if kind == "idv" {
        "document/idv"
    } else {
        "document/address"
    };
    let mut body = json!({"data": {"type": format!("verification/{kind}"),
        "relationships": {"document": {"data": {"type": doc_type, "id": doc}}}}, "meta": meta});
    if let Some(s) = session {
        body["data"]["relationships"]["session"] = json!({"data": {"type": "session", "id": s}});
    }
    app.post("/v1/identity/verifications", Some(&body)).await
}

fn check<'a>(r: &'a Reply, name: &str) -> &'a Value {
    r.attr("checks")
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name}: {}", r.json))
}

fn licence(f: &LicenceFields, variant: Variant) -> Vec<u8> {
    licence_back_jpeg(f, variant)
}

#[tokio::test]
async fn a_licence_back_passes_and_fills_the_session() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let doc = uploaded_document(
        &app,
        "idv",
        "image/jpeg",
        licence(&LicenceFields::default(), Variant::Clean),
        Some(&session),
    )
    .await;

    let r = verify(
        &app,
        "idv",
        &doc,
        Some(&session),
        json!({"auto_update_session": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["data"]["type"], "verification/idv");
    assert_eq!(r.attr("status"), "passed", "{}", r.json);
    let x = r.attr("extracted");
    assert_eq!(
        x["person"]["name"],
        json!({"first": "MICHAEL", "middle": "JOHN", "last": "SAMPLE"})
    );
    assert_eq!(x["person"]["birth_date"], "1986-06-06");
    assert_eq!(x["document"]["number"], "T64235789");
    assert_eq!(x["document"]["type"], "driving_license");
    assert_eq!(x["document"]["expiration_date"], "2030-12-10");
    assert_eq!(x["address"]["city"], "RICHMOND");
    assert_eq!(check(&r, "barcode_valid")["status"], "passed");
    assert_eq!(check(&r, "document_not_expired")["status"], "passed");
    assert_eq!(
        check(&r, "mrz_valid")["status"],
        "not_applicable",
        "no MRZ: not a pass"
    );
    assert!(r.attr("rule_set_version").is_string());
    assert!(r.attr("evaluated_on").is_string());
    assert!(r.headers["location"]
        .to_str()
        .expect("ascii")
        .ends_with(&r.id()));

    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(s.attr("status"), "completed", "{}", s.json);
    assert_eq!(s.attr("person")["name"]["last"], "SAMPLE");
    assert_eq!(s.attr("person")["birth_date"], "1986-06-06");
    assert_eq!(s.attr("identity_numbers")[0]["number"], "T64235789");
    assert_eq!(s.attr("identity_numbers")[0]["class"], "driving_license");
    assert_eq!(s.attr("address")["subdivision"], "VA");
    assert_eq!(
        s.json["data"]["relationships"]["verifications"]["data"],
        json!([{"type": "verification/idv", "id": r.id()}])
    );
    let events = app
        .get(&format!("/v1/identity/sessions/{session}/events"))
        .await;
    let log: Vec<(String, String)> = events.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["attributes"]["type"].as_str().unwrap_or("").to_owned(),
                e["attributes"]["actor"]["type"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    let expected = [
        ("session.created", "api_key"),
        ("session.started", "api_key"),
        ("session.pending", "api_key"),
        ("session.updated", "system"),
        ("session.completed", "system"),
    ];
    assert_eq!(log.len(), expected.len(), "{log:?}");
    for (got, want) in log.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str()), want);
    }
    let doc_r = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(doc_r.attr("status"), "processed");
    assert_eq!(doc_r.attr("document_type"), "driving_license");
    assert_eq!(doc_r.attr("extracted")["document"]["number"], "T64235789");

    // Read back, and listed by session and status.
    let shown = app
        .get(&format!("/v1/identity/verifications/{}", r.id()))
        .await;
    assert_eq!(shown.json, r.json);
    let listed = app
        .get(&format!(
            "/v1/identity/verifications?filter[session_id]={session}&status=passed"
        ))
        .await;
    assert_eq!(listed.json["data"][0]["id"], json!(r.id()));
    let none = app
        .get("/v1/identity/verifications?filter[status]=failed")
        .await;
    assert_eq!(none.json["data"], json!([]));
}

#[tokio::test]
async fn an_expired_licence_fails_and_so_does_its_session() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let f = LicenceFields {
        issue_date: date!(2015 - 01 - 10),
        expiry_date: date!(2020 - 01 - 10),
        ..LicenceFields::default()
    };
    let doc = uploaded_document(
        &app,
        "idv",
        "image/jpeg",
        licence(&f, Variant::Clean),
        Some(&session),
    )
    .await;
    let r = verify(&app, "idv", &doc, Some(&session), json!({})).await;
    assert_eq!(r.attr("status"), "failed", "{}", r.json);
    let c = check(&r, "document_not_expired");
    assert_eq!(c["status"], "failed");
    assert_eq!(c["reasons"], json!(["document_expired"]));
    assert_eq!(
        app.get(&format!("/v1/identity/sessions/{session}"))
            .await
            .attr("status"),
        "failed"
    );
}

#[tokio::test]
async fn a_blurred_photo_asks_for_a_retry_and_a_later_pass_completes() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let blurred = uploaded_document(
        &app,
        "idv",
        "image/jpeg",
        licence(&LicenceFields::default(), Variant::Blurred),
        Some(&session),
    )
    .await;
    let r = verify(&app, "idv", &blurred, Some(&session), json!({})).await;
    assert_eq!(r.attr("status"), "requires_retry", "{}", r.json);
    assert_eq!(check(&r, "image_quality")["status"], "failed");
    assert_eq!(
        app.get(&format!("/v1/identity/sessions/{session}"))
            .await
            .attr("status"),
        "pending",
        "left pending for the retry"
    );

    let clean = uploaded_document(
        &app,
        "idv",
        "image/jpeg",
        licence(&LicenceFields::default(), Variant::Clean),
        Some(&session),
    )
    .await;
    let r = verify(&app, "idv", &clean, Some(&session), json!({})).await;
    assert_eq!(r.attr("status"), "passed");
    assert_eq!(
        app.get(&format!("/v1/identity/sessions/{session}"))
            .await
            .attr("status"),
        "completed",
        "the retry was superseded"
    );
}

#[tokio::test]
async fn a_stale_bill_fails_document_recent_and_a_recent_one_passes() {
    let app = TestApp::new().await;
    let today = idv::domain::values::Timestamp::now().date();
    let stale = uploaded_document(
        &app,
        "address",
        "application/pdf",
        address_pdf(&default_bill(today - time::Duration::days(200))),
        None,
    )
    .await;
    let r = verify(&app, "address", &stale, None, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["data"]["type"], "verification/address");
    assert_eq!(r.attr("status"), "failed", "{}", r.json);
    assert_eq!(check(&r, "document_recent")["status"], "failed");
    assert_eq!(
        check(&r, "document_recent")["reasons"],
        json!(["document_too_old"])
    );

    let session = app.create_session(None).await;
    let recent = uploaded_document(
        &app,
        "address",
        "application/pdf",
        address_pdf(&default_bill(today - time::Duration::days(10))),
        Some(&session),
    )
    .await;
    let r = verify(
        &app,
        "address",
        &recent,
        Some(&session),
        json!({"auto_update_session": true}),
    )
    .await;
    assert_eq!(r.attr("status"), "passed", "{}", r.json);
    assert_eq!(r.attr("extracted")["issuer"], "Dominion Energy");
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(
        s.attr("address")["city"],
        "Richmond",
        "a proof of address fills the address"
    );
    assert_eq!(
        s.attr("status"),
        "pending",
        "a person needs an ID verification to complete"
    );
}

#[tokio::test]
async fn the_same_licence_in_a_second_session_is_flagged() {
    let app = TestApp::new().await;
    let first = app.create_session(None).await;
    let doc = uploaded_document(
        &app,
        "idv",
        "image/jpeg",
        licence(&LicenceFields::default(), Variant::Clean),
        Some(&first),
    )
    .await;
    let r = verify(&app, "idv", &doc, Some(&first), json!({})).await;
    assert_eq!(check(&r, "duplicate_document")["status"], "passed");

    let second = app.create_session(None).await;
    let doc2 = uploaded_document(
        &app,
        "idv",
        "image/jpeg",
        licence(&LicenceFields::default(), Variant::Noisy),
        Some(&second),
    )
    .await;
    let r = verify(&app, "idv", &doc2, Some(&second), json!({})).await;
    let c = check(&r, "duplicate_document");
    assert_eq!(c["status"], "failed", "{}", r.json);
    assert_eq!(c["reasons"], json!(["document_seen_in_other_sessions"]));
    assert_eq!(
        c["requirement"], "not_required",
        "flagged for review, not an automatic decline"
    );

    // Redacting the first session keeps the fingerprint (and only it).
    app.post(&format!("/v1/identity/sessions/{first}/redact"), None)
        .await;
    let third = app.create_session(None).await;
    let doc3 = uploaded_document(
        &app,
        "idv",
        "image/jpeg",
        licence(&LicenceFields::default(), Variant::Clean),
        Some(&third),
    )
    .await;
    let r = verify(&app, "idv", &doc3, Some(&third), json!({})).await;
    assert_eq!(check(&r, "duplicate_document")["status"], "failed");
}

#[tokio::test]
async fn the_same_inputs_and_date_give_the_identical_result() {
    let app = TestApp::new().await;
    let doc = uploaded_document(
        &app,
        "idv",
        "image/jpeg",
        licence(&LicenceFields::default(), Variant::Rotated),
        None,
    )
    .await;
    // A standalone ID document is processed automatically once its files are uploaded.
    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(shown.attr("status"), "processed", "{}", shown.json);
    let auto = &shown.json["data"]["relationships"]["verifications"]["data"];
    assert_eq!(auto.as_array().map(Vec::len), Some(1));

    let a = verify(&app, "idv", &doc, None, json!({})).await;
    let b = verify(&app, "idv", &doc, None, json!({})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
    assert_ne!(a.id(), b.id());
    for field in [
        "status",
        "checks",
        "extracted",
        "rule_set_version",
        "evaluated_on",
    ] {
        assert_eq!(a.attr(field), b.attr(field), "{field}");
    }
    let first = app
        .get(&format!(
            "/v1/identity/verifications/{}",
            auto[0]["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(
        first.attr("checks"),
        a.attr("checks"),
        "the automatic run agrees too"
    );

    // Another evaluation date can change time-dependent checks, deterministically.
    let body = json!({"data": {"type": "verification/idv", "attributes": {"evaluated_on": "2031-01-01"},
        "relationships": {"document": {"data": {"type": "document/idv", "id": doc}}}}});
    let future = app.post("/v1/identity/verifications", Some(&body)).await;
    assert_eq!(
        future.source(),
        "/data/attributes/evaluated_on",
        "not in the future"
    );
    let body = json!({"data": {"type": "verification/idv", "attributes": {"evaluated_on": "2025-01-15"},
        "relationships": {"document": {"data": {"type": "document/idv", "id": doc}}}}});
    let then = app.post("/v1/identity/verifications", Some(&body)).await;
    assert_eq!(then.attr("evaluated_on"), "2025-01-15");
    assert_eq!(check(&then, "document_not_expired")["status"], "passed");
}

#[tokio::test]
async fn bad_files_and_bad_requests_never_give_a_5xx() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    // A JPEG header the upload check accepts (it reads headers only), over pixels that do
    // not decode: the verification finds out.
    let corrupt = idv_tests::jpeg_bytes(5004, 0x42);
    let doc = uploaded_document(&app, "idv", "image/jpeg", corrupt, Some(&session)).await;
    let r = verify(&app, "idv", &doc, Some(&session), json!({})).await;
    assert_eq!(
        (r.status, r.attr("status").as_str()),
        (StatusCode::CREATED, Some("requires_retry")),
        "{}",
        r.json
    );

    let not_a_pdf = b"%PDF-1.7\nthis is not really a PDF at all".to_vec();
    let bill = uploaded_document(&app, "address", "application/pdf", not_a_pdf, None).await;
    let r = verify(&app, "address", &bill, None, json!({})).await;
    assert_eq!(r.attr("status"), "requires_retry", "{}", r.json);
    assert_eq!(check(&r, "document_readable")["status"], "failed");

    let unknown = idv::domain::ids::DocumentId::new(time::OffsetDateTime::now_utc()).to_string();
    let pending = app
        .post(
            "/v1/identity/documents/idvs",
            Some(
                &json!({"data": {"type": "document/idv", "attributes": {"files": [
            {"filename": "f.jpg", "content_type": "image/jpeg", "byte_size": 10}]}}}),
            ),
        )
        .await
        .id();
    let cases = [
        (
            verify(&app, "idv", &unknown, None, json!({})).await,
            "/data/relationships/document/data/id",
        ),
        (
            verify(&app, "idv", &pending, None, json!({})).await,
            "/data/relationships/document/data/id",
        ),
        (
            verify(&app, "address", &doc, None, json!({})).await,
            "/data/relationships/document/data/type",
        ),
        (
            verify(
                &app,
                "idv",
                &doc,
                None,
                json!({"auto_update_session": true}),
            )
            .await,
            "/meta/auto_update_session",
        ),
        (
            verify(
                &app,
                "idv",
                &doc,
                Some(&session),
                json!({"auto_update_session": "yes"}),
            )
            .await,
            "/meta/auto_update_session",
        ),
        (
            verify(&app, "idv", "doc_1", None, json!({})).await,
            "/data/relationships/document/data/id",
        ),
    ];
    for (r, pointer) in cases {
        assert_eq!(
            (r.status, r.source()),
            (StatusCode::UNPROCESSABLE_ENTITY, pointer),
            "{}",
            r.json
        );
    }
    let r = app
        .post(
            "/v1/identity/verifications",
            Some(&json!({"data": {"type": "verification/face",
            "relationships": {"document": {"data": {"type": "document/idv", "id": doc}}}}})),
        )
        .await;
    assert_eq!(
        (r.status, r.source()),
        (StatusCode::UNPROCESSABLE_ENTITY, "/data/type")
    );
    let other = app.create_session(None).await;
    let r = verify(&app, "idv", &doc, Some(&other), json!({})).await;
    assert_eq!(
        r.source(),
        "/data/relationships/session/data/id",
        "the document belongs to another session"
    );
}

#[tokio::test]
async fn redaction_nulls_what_verifications_extracted() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let doc = uploaded_document(
        &app,
        "idv",
        "image/jpeg",
        licence(&LicenceFields::default(), Variant::Clean),
        Some(&session),
    )
    .await;
    let r = verify(
        &app,
        "idv",
        &doc,
        Some(&session),
        json!({"auto_update_session": true}),
    )
    .await;
    assert_eq!(r.attr("status"), "passed");
    let before = app.all_values().await;
    assert!(before.iter().any(|v| v.contains("T64235789")));

    assert_eq!(
        app.post(&format!("/v1/identity/sessions/{session}/redact"), None)
            .await
            .status,
        StatusCode::OK
    );
    let v = app
        .get(&format!("/v1/identity/verifications/{}", r.id()))
        .await;
    assert_eq!(v.attr("extracted"), &Value::Null);
    assert!(v.attr("redacted_at").is_string());
    assert!(v
        .attr("checks")
        .as_array()
        .expect("checks")
        .iter()
        .all(|c| c["metadata"] == json!({})));
    assert_eq!(v.attr("status"), "passed", "the result stays");
    let after = app.all_values().await;
    for secret in [
        "T64235789",
        "SAMPLE",
        "MICHAEL",
        "1986-06-06",
        "WEST BROAD",
        "RICHMOND",
    ] {
        assert!(
            !after.iter().any(|x| x.contains(secret)),
            "{secret} survived redaction"
        );
    }
    assert_eq!(app.object_keys().await, Vec::<String>::new());
}
