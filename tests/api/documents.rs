//! Documents on S3 (s3s-fs, which checks signatures): presigned uploads, the upload checker,
//! submit, and the bad-input cases.

use http::{Method, StatusCode};
use idv::domain::auth::Permission;
use idv::domain::values::Environment;
use idv_tests::{get_download, jpeg_bytes, png_bytes, put_upload, Reply, TestApp};
use serde_json::{json, Value};

fn idv_doc(files: Value, session: Option<&str>) -> Value {
    let mut body = json!({"data": {"type": "document/idv", "attributes": {"document_type": "driving_license", "files": files}}});
    if let Some(s) = session {
        body["data"]["relationships"] = json!({"session": {"data": {"type": "session", "id": s}}});
    }
    body
}

fn jpeg_file(name: &str, size: usize, side: &str) -> Value {
    json!({"filename": name, "content_type": "image/jpeg", "byte_size": size, "side": side})
}

fn file_statuses(r: &Reply) -> Vec<String> {
    r.attr("files")
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_full_upload_flow_over_http() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let front = jpeg_bytes(2048, 1);
    let back = jpeg_bytes(4096, 2);
    let created = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&idv_doc(
                json!([
                    jpeg_file("front.jpg", front.len(), "front"),
                    jpeg_file("back.jpg", back.len(), "back")
                ]),
                Some(&session),
            )),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let doc = created.id();
    assert!(doc.starts_with("doc_"));
    assert_eq!(created.json["data"]["type"], "document/idv");
    assert_eq!(created.attr("status"), "pending");
    assert_eq!(
        file_statuses(&created),
        ["pending_upload", "pending_upload"]
    );
    assert_eq!(created.attr("files")[1]["side"], "back");
    let meta = &created.json["meta"]["files"][0];
    assert_eq!(meta["method"], "PUT");
    assert_eq!(meta["expires_in"], 3600);
    assert_eq!(meta["id"], created.attr("files")[0]["id"]);
    let url = meta["presigned_upload_url"].as_str().expect("url");
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    assert!(
        url.contains("content-length%3Bcontent-type"),
        "type and length are signed: {url}"
    );
    assert_eq!(meta["headers"]["content-type"], "image/jpeg");

    // Linking the document started the session.
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(s.attr("status"), "started");
    assert!(s.attr("expires_at").is_string());
    assert_eq!(
        s.json["data"]["relationships"]["documents"]["data"],
        json!([{"type": "document/idv", "id": doc}])
    );

    let (url0, h0) = created.upload(0);
    let (url1, h1) = created.upload(1);
    assert_eq!(put_upload(&url0, &h0, front.clone()).await, 200);
    assert_eq!(put_upload(&url1, &h1, back.clone()).await, 200);
    assert_eq!(app.deliver_uploads().await, 2);

    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(file_statuses(&shown), ["uploaded", "uploaded"]);

    let submitted = app
        .post(&format!("/v1/identity/documents/idvs/{doc}/submit"), None)
        .await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.json);
    assert_eq!(submitted.attr("status"), "submitted");
    assert!(submitted.attr("submitted_at").is_string());
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(
        s.attr("status"),
        "pending",
        "a submitted document moves its session to pending"
    );

    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    for (i, bytes) in [front, back].into_iter().enumerate() {
        let url = shown.attr("files")[i]["url"]
            .as_str()
            .expect("download url")
            .to_owned();
        assert!(url.contains("X-Amz-Expires=300"));
        assert_eq!(get_download(&url).await, (200, bytes));
    }
    let listed = app
        .get(&format!(
            "/v1/identity/documents/idvs?filter[session_id]={session}"
        ))
        .await;
    assert_eq!(listed.json["data"][0]["id"], json!(doc));
    let none = app.get("/v1/identity/documents/addresses").await;
    assert_eq!(none.json["data"], json!([]), "kinds are listed apart");
    let again = app
        .post(&format!("/v1/identity/documents/idvs/{doc}/submit"), None)
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "invalid_transition")
    );
}

#[tokio::test]
async fn s3_refuses_uploads_that_break_the_signature() {
    let app = TestApp::new().await;
    let bytes = jpeg_bytes(1000, 3);
    let created = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&idv_doc(json!([jpeg_file("f.jpg", 1000, "front")]), None)),
        )
        .await;
    let (url, headers) = created.upload(0);

    let mut other_type = headers.clone();
    for (k, v) in &mut other_type {
        if k == "content-type" {
            *v = "image/png".into();
        }
    }
    assert_eq!(
        put_upload(&url, &other_type, bytes.clone()).await,
        403,
        "another content type"
    );
    assert_eq!(
        put_upload(&url, &headers, jpeg_bytes(999, 3)).await,
        403,
        "another length"
    );
    let sig_at = url.find("X-Amz-Signature=").expect("signed") + "X-Amz-Signature=".len();
    let mut tampered = url.clone();
    let flipped = if &url[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(sig_at..sig_at + 1, flipped);
    assert_eq!(
        put_upload(&tampered, &headers, bytes.clone()).await,
        403,
        "a tampered signature"
    );
    let other_key = url.replace(
        &created.attr("files")[0]["id"].as_str().expect("id")[5..10],
        "ZZZZZ",
    );
    assert_eq!(
        put_upload(&other_key, &headers, bytes.clone()).await,
        403,
        "another key"
    );

    // An expired URL: the same declaration presigned with a one-second lifetime.
    let key = format!(
        "t/acme/staging/{}/{}",
        created.id(),
        created.attr("files")[0]["id"].as_str().expect("id")
    );
    let short = app
        .objects
        .client()
        .put_object()
        .bucket(app.objects.bucket())
        .key(&key)
        .content_type("image/jpeg")
        .content_length(1000)
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(1))
                .expect("config"),
        )
        .await
        .expect("presign");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        put_upload(short.uri(), &headers, bytes.clone()).await,
        403,
        "an expired URL"
    );

    assert_eq!(
        app.object_keys().await,
        Vec::<String>::new(),
        "nothing reached the bucket"
    );
    assert_eq!(
        put_upload(&url, &headers, bytes).await,
        200,
        "the declared upload still works"
    );
}

#[tokio::test]
async fn bytes_that_differ_from_the_declaration_are_rejected_and_deleted() {
    let app = TestApp::new().await;
    let good = jpeg_bytes(600, 4);
    let checksum = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&good))
    };
    let files = json!([
        {"filename": "png-as-jpeg.jpg", "content_type": "image/jpeg", "byte_size": 600},
        {"filename": "checked.jpg", "content_type": "image/jpeg", "byte_size": 600, "checksum": checksum},
        {"filename": "ok.jpg", "content_type": "image/jpeg", "byte_size": 600}
    ]);
    let created = app
        .post("/v1/identity/documents/idvs", Some(&idv_doc(files, None)))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let doc = created.id();
    let (u0, h0) = created.upload(0);
    let (u1, h1) = created.upload(1);
    let (u2, h2) = created.upload(2);
    assert!(
        h1.iter().any(|(k, _)| k == "x-amz-checksum-sha256"),
        "the checksum is pinned too"
    );

    assert_eq!(
        put_upload(&u0, &h0, png_bytes(600)).await,
        200,
        "S3 cannot tell a PNG from a JPEG"
    );
    let mut wrong = good.clone();
    wrong[100] ^= 0xFF;
    let status = put_upload(&u1, &h1, wrong).await;
    assert!(status == 200 || status == 400 || status == 403, "{status}");
    assert_eq!(put_upload(&u2, &h2, good.clone()).await, 200);
    app.deliver_uploads().await;

    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    let files = shown.attr("files").as_array().expect("files").clone();
    assert_eq!(files[0]["status"], "rejected");
    assert_eq!(files[0]["reason"], "content_type_mismatch");
    assert_ne!(
        files[1]["status"], "uploaded",
        "a body that fails its checksum never counts"
    );
    if status == 200 {
        assert_eq!(files[1]["reason"], "checksum_mismatch");
    }
    assert_eq!(files[2]["status"], "uploaded");
    assert_eq!(files[0]["url"], Value::Null);
    let keys = app.object_keys().await;
    assert_eq!(
        keys.len(),
        1,
        "rejected objects are deleted: {keys:?} {files:?} {status}"
    );
    assert!(keys[0].ends_with(files[2]["id"].as_str().expect("id")));

    // A second PUT to the still-valid URL of a rejected file: the file stays rejected.
    assert_eq!(put_upload(&u0, &h0, jpeg_bytes(600, 9)).await, 200);
    assert_eq!(
        app.deliver_uploads().await,
        1,
        "the new object is delivered: {:?}",
        app.objects.list("").await
    );
    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(shown.attr("files")[0]["status"], "rejected");
    assert_eq!(app.object_keys().await.len(), 1);
}

#[tokio::test]
async fn submit_checks_lazily_and_needs_an_uploaded_file() {
    let app = TestApp::new().await;
    let bytes = jpeg_bytes(800, 5);
    let created = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&idv_doc(json!([jpeg_file("f.jpg", 800, "front")]), None)),
        )
        .await;
    let doc = created.id();
    let r = app
        .post(&format!("/v1/identity/documents/idvs/{doc}/submit"), None)
        .await;
    assert_eq!(
        (r.status, r.code(), r.source()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_attribute",
            "/data/attributes/files"
        )
    );

    // The object arrives but its event is lost: submit finds it.
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    let r = app
        .post(&format!("/v1/identity/documents/idvs/{doc}/submit"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(file_statuses(&r), ["uploaded"]);

    // The late event changes nothing.
    let before = app
        .store
        .get_document(
            &app.tenancy,
            idv::domain::ids::DocumentId::parse(&doc).expect("id"),
        )
        .await
        .expect("read");
    assert_eq!(app.deliver_uploads().await, 1);
    let after = app
        .store
        .get_document(
            &app.tenancy,
            idv::domain::ids::DocumentId::parse(&doc).expect("id"),
        )
        .await
        .expect("read");
    assert_eq!(before, after, "redelivery is idempotent");
}

#[tokio::test]
async fn files_can_be_added_while_pending() {
    let app = TestApp::new().await;
    let created = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&idv_doc(json!([jpeg_file("f.jpg", 100, "front")]), None)),
        )
        .await;
    let doc = created.id();
    let add = json!({"data": {"type": "file", "attributes": {"filename": "b.jpg", "content_type": "image/jpeg", "byte_size": 200, "side": "back"}}});
    let r = app
        .post(
            &format!("/v1/identity/documents/idvs/{doc}/files"),
            Some(&add),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.attr("files").as_array().map(Vec::len), Some(2));
    assert_eq!(r.json["meta"]["files"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.json["meta"]["files"][0]["id"], r.attr("files")[1]["id"]);
    for _ in 0..2 {
        app.post(
            &format!("/v1/identity/documents/idvs/{doc}/files"),
            Some(&add),
        )
        .await;
    }
    let r = app
        .post(
            &format!("/v1/identity/documents/idvs/{doc}/files"),
            Some(&add),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "limit_exceeded"),
        "a fifth file (API.md §4)"
    );
}

#[tokio::test]
async fn bad_document_requests_get_their_errors_and_write_nothing() {
    let app = TestApp::new().await;
    let mine = app.create_session(None).await;
    let foreign_key = app
        .issue_key("globex", Environment::Staging, &[Permission::All], None)
        .await;
    let theirs = app
        .call(
            Method::POST,
            "/v1/identity/sessions",
            &foreign_key,
            Some(&json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}})),
            &[],
        )
        .await
        .id();
    let their_doc = app
        .call(
            Method::POST,
            "/v1/identity/documents/idvs",
            &foreign_key,
            Some(&idv_doc(json!([jpeg_file("f.jpg", 10, "front")]), None)),
            &[],
        )
        .await
        .id();
    app.complete_session(&mine).await;
    app.post(&format!("/v1/identity/sessions/{mine}/approve"), None)
        .await;
    let redacted = app.create_session(None).await;
    app.post(&format!("/v1/identity/sessions/{redacted}/redact"), None)
        .await;

    let eleven_mib = 11 * 1024 * 1024;
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        (
            "no files",
            idv_doc(json!([]), None),
            422,
            "invalid_attribute",
            "/data/attributes/files",
        ),
        (
            "files missing",
            json!({"data": {"type": "document/idv", "attributes": {}}}),
            422,
            "missing_attribute",
            "/data/attributes/files",
        ),
        (
            "five files",
            idv_doc(
                json!([
                    jpeg_file("a", 1, "front"),
                    jpeg_file("b", 1, "front"),
                    jpeg_file("c", 1, "front"),
                    jpeg_file("d", 1, "front"),
                    jpeg_file("e", 1, "front")
                ]),
                None,
            ),
            422,
            "invalid_attribute",
            "/data/attributes/files",
        ),
        (
            "over 10 MiB",
            idv_doc(json!([jpeg_file("big.jpg", eleven_mib, "front")]), None),
            422,
            "invalid_attribute",
            "/data/attributes/files/0/byte_size",
        ),
        (
            "zero bytes",
            idv_doc(json!([jpeg_file("empty.jpg", 0, "front")]), None),
            422,
            "invalid_attribute",
            "/data/attributes/files/0/byte_size",
        ),
        (
            "unsupported type",
            idv_doc(
                json!([{"filename": "a.gif", "content_type": "image/gif", "byte_size": 10}]),
                None,
            ),
            422,
            "invalid_attribute",
            "/data/attributes/files/0/content_type",
        ),
        (
            "a PDF as an ID",
            idv_doc(
                json!([{"filename": "id.pdf", "content_type": "application/pdf", "byte_size": 10}]),
                None,
            ),
            422,
            "invalid_attribute",
            "/data/attributes/files/0/content_type",
        ),
        (
            "bad side",
            idv_doc(json!([jpeg_file("a.jpg", 10, "top")]), None),
            422,
            "invalid_attribute",
            "/data/attributes/files/0/side",
        ),
        (
            "bad checksum",
            idv_doc(
                json!([{"filename": "a.jpg", "content_type": "image/jpeg", "byte_size": 10, "checksum": "abc"}]),
                None,
            ),
            422,
            "invalid_attribute",
            "/data/attributes/files/0/checksum",
        ),
        (
            "missing filename",
            idv_doc(
                json!([{"content_type": "image/jpeg", "byte_size": 10}]),
                None,
            ),
            422,
            "missing_attribute",
            "/data/attributes/files/0/filename",
        ),
        (
            "unknown file attribute",
            idv_doc(
                json!([{"filename": "a.jpg", "content_type": "image/jpeg", "byte_size": 10, "colour": "red"}]),
                None,
            ),
            422,
            "unknown_attribute",
            "/data/attributes/files/0/colour",
        ),
        (
            "a proof-of-address type on an ID",
            json!({"data": {"type": "document/idv", "attributes": {"document_type": "utility_bill", "files": [jpeg_file("a.jpg", 10, "front")]}}}),
            422,
            "invalid_attribute",
            "/data/attributes/document_type",
        ),
        (
            "wrong resource type",
            json!({"data": {"type": "document/address", "attributes": {"files": [jpeg_file("a.jpg", 10, "front")]}}}),
            422,
            "invalid_attribute",
            "/data/type",
        ),
        (
            "another tenant's session",
            idv_doc(json!([jpeg_file("a.jpg", 10, "front")]), Some(&theirs)),
            422,
            "invalid_relationship",
            "/data/relationships/session/data/id",
        ),
        (
            "malformed session id",
            idv_doc(json!([jpeg_file("a.jpg", 10, "front")]), Some("sess_1")),
            422,
            "invalid_relationship",
            "/data/relationships/session/data/id",
        ),
        (
            "a decided session",
            idv_doc(json!([jpeg_file("a.jpg", 10, "front")]), Some(&mine)),
            409,
            "invalid_transition",
            "",
        ),
        (
            "a redacted session",
            idv_doc(json!([jpeg_file("a.jpg", 10, "front")]), Some(&redacted)),
            409,
            "session_redacted",
            "",
        ),
    ];
    let before = app.scan_all().await;
    for (name, body, status, code, source) in cases {
        let r = app.post("/v1/identity/documents/idvs", Some(&body)).await;
        assert_eq!(
            (r.status.as_u16(), r.code(), r.source()),
            (status, code, source),
            "{name}: {}",
            r.json
        );
    }
    // A side on a proof of address.
    let addr = json!({"data": {"type": "document/address", "attributes": {"files": [jpeg_file("bill.jpg", 10, "front")]}}});
    let r = app
        .post("/v1/identity/documents/addresses", Some(&addr))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.source()),
        (422, "/data/attributes/files/0/side")
    );
    let after = app.scan_all().await;
    assert_eq!(before.len(), after.len(), "no document was written");
    assert_eq!(app.object_keys().await, Vec::<String>::new());

    // Another tenant's document is not found, whatever the action.
    for (method, path) in [
        (
            Method::GET,
            format!("/v1/identity/documents/idvs/{their_doc}"),
        ),
        (
            Method::POST,
            format!("/v1/identity/documents/idvs/{their_doc}/submit"),
        ),
        (
            Method::GET,
            format!("/v1/identity/documents/addresses/{their_doc}"),
        ),
    ] {
        let r = app.call(method, &path, &app.key, None, &[]).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let r = app
        .get(&format!(
            "/v1/identity/documents/idvs?filter[session_id]={theirs}"
        ))
        .await;
    assert_eq!(r.json["data"], json!([]));
}

#[tokio::test]
async fn proof_of_address_accepts_pdf() {
    let app = TestApp::new().await;
    let pdf = b"%PDF-1.4\n%fake but typed right\n".to_vec();
    let body = json!({"data": {"type": "document/address", "attributes": {"document_type": "utility_bill",
        "files": [{"filename": "bill.pdf", "content_type": "application/pdf", "byte_size": pdf.len()}]}}});
    let created = app
        .post("/v1/identity/documents/addresses", Some(&body))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert_eq!(created.json["data"]["type"], "document/address");
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, pdf).await, 200);
    app.deliver_uploads().await;
    let shown = app
        .get(&format!(
            "/v1/identity/documents/addresses/{}",
            created.id()
        ))
        .await;
    assert_eq!(file_statuses(&shown), ["uploaded"]);
}
