//! Attacks: uploads (see `attacks/mod.rs`). The content verified must be exactly the content
//! the upload checker checked: write-once upload URLs, a SHA-256 recorded at the check and
//! recomputed at every later read, no file ever read as MRZ text, download URLs only for
//! `documents:read`, upload headers a browser can send, and a decoded-pixel budget per
//! verification.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use idv::domain::auth::Permission;
use idv::domain::ids::DocumentId;
use idv::domain::values::Environment;
use idv_checks::fixtures::{
    licence_back_jpeg, mrz_td3, png_bomb, png_of_size, png_with_orientation, LicenceFields,
    MrzFields, Variant,
};
use idv_tests::{get_download, put_upload, Reply, TestApp};
use serde_json::{json, Value};

/// `POST /documents/idvs` with one file declaration per `(content_type, bytes)`, linked to
/// `session` when given, with `key`.
async fn declare(
    app: &TestApp,
    key: &str,
    files: &[(&str, &[u8])],
    session: Option<&str>,
) -> Reply {
    let decls: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, (ct, bytes))| {
            json!({"filename": format!("f{i}"), "content_type": ct, "byte_size": bytes.len(),
                "side": if i % 2 == 0 { "back" } else { "front" }})
        })
        .collect();
    let mut body = json!({"data": {"type": "document/idv", "attributes": {"files": decls}}});
    if let Some(s) = session {
        body["data"]["relationships"] = json!({"session": {"data": {"type": "session", "id": s}}});
    }
    let r = app
        .call(
            Method::POST,
            "/v1/identity/documents/idvs",
            key,
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r
}

/// Declares, uploads through the presigned URLs and delivers the upload events.
async fn uploaded(app: &TestApp, files: &[(&str, &[u8])], session: Option<&str>) -> Reply {
    let created = declare(app, &app.key, files, session).await;
    for (i, (_, bytes)) in files.iter().enumerate() {
        let (url, headers) = created.upload(i);
        assert_eq!(put_upload(&url, &headers, bytes.to_vec()).await, 200);
    }
    app.deliver_uploads().await;
    created
}

async fn verify(app: &TestApp, doc: &str, session: Option<&str>) -> Reply {
    let mut body = json!({"data": {"type": "verification/idv",
        "relationships": {"document": {"data": {"type": "document/idv", "id": doc}}}}});
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

fn object_key(app: &TestApp, created: &Reply, i: usize) -> String {
    format!(
        "t/{}/{}/{}/{}",
        app.tenancy.tenant,
        app.tenancy.environment.as_str(),
        created.id(),
        created.attr("files")[i]["id"].as_str().expect("file id")
    )
}

/// Writes `bytes` at `key` straight into the bucket, as someone holding bucket credentials
/// (or a bug elsewhere) could: no presigned URL, no condition.
async fn write_behind_our_back(app: &TestApp, key: &str, bytes: Vec<u8>) {
    app.objects
        .client()
        .put_object()
        .bucket(app.objects.bucket())
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .expect("direct put");
}

fn licence(last: &str) -> Vec<u8> {
    licence_back_jpeg(
        &LicenceFields {
            family_name: last.into(),
            ..LicenceFields::default()
        },
        Variant::Clean,
    )
}

#[tokio::test]
async fn checked_upload_cannot_be_swapped() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let original = licence("SAMPLE");
    let created = uploaded(&app, &[("image/jpeg", &original)], Some(&session)).await;
    let doc = created.id();
    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(shown.attr("files")[0]["status"], "uploaded");

    // The same URL, within its hour, with other bytes of the same type and length.
    let (url, headers) = created.upload(0);
    let mut other = original.clone();
    let n = other.len();
    other[n / 2] ^= 0x55;
    assert_eq!(
        put_upload(&url, &headers, other.clone()).await,
        412,
        "an upload URL is write-once"
    );
    // The same, asking before the body is sent (what `put_upload` falls back to when the
    // server's early refusal breaks the body's write).
    let status = tokio::task::spawn_blocking(move || {
        idv_tests::put_expecting_continue(&url, &headers, &other)
    })
    .await
    .expect("join");
    assert_eq!(status, 412, "refused before the body");
    let key = object_key(&app, &created, 0);
    let kept = app.objects.get(&key).await.expect("read").expect("object");
    assert!(kept == original, "the first content stays");

    // Another person's licence written straight into the bucket over the checked object.
    write_behind_our_back(&app, &key, licence("IMPOSTOR")).await;
    let r = verify(&app, &doc, Some(&session)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_relationship"),
        "nothing usable is left: {}",
        r.json
    );
    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(shown.attr("files")[0]["status"], "rejected");
    assert_eq!(shown.attr("files")[0]["reason"], "object_replaced");
    assert_eq!(shown.attr("files")[0]["url"], Value::Null);
    assert!(
        app.object_keys().await.is_empty(),
        "the replaced object is deleted"
    );
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_ne!(s.attr("status"), "completed", "{}", s.json);
    assert_eq!(
        s.json["data"]["relationships"]["verifications"]["data"],
        json!([]),
        "no verification was recorded"
    );
}

#[tokio::test]
async fn typed_mrz_text_is_not_a_passport() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let photo = licence("SAMPLE");
    let created = uploaded(&app, &[("image/jpeg", &photo)], Some(&session)).await;
    let doc = created.id();

    // A hand-typed passport MRZ, padded to the declared length of the photo.
    let mut typed = mrz_td3(&MrzFields::default()).into_bytes();
    typed.resize(photo.len(), b'\n');
    let (url, headers) = created.upload(0);
    assert_eq!(
        put_upload(&url, &headers, typed.clone()).await,
        412,
        "the swap through the upload URL is refused"
    );

    // Even when the typed text is what the checker saw (an item recorded before hashes
    // were, so nothing can tell it was swapped), the engine does not read it as an MRZ.
    let key = object_key(&app, &created, 0);
    write_behind_our_back(&app, &key, typed).await;
    let id = DocumentId::parse(&doc).expect("id");
    let stored = app
        .store
        .get_document(&app.tenancy, id)
        .await
        .expect("read")
        .expect("doc");
    let mut legacy = stored.clone();
    for f in &mut legacy.files {
        f.sha256 = None;
    }
    legacy.version += 1;
    assert!(app
        .store
        .replace_document(&app.tenancy, &stored, &legacy)
        .await
        .expect("write"));

    let r = verify(&app, &doc, Some(&session)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.attr("status"), "requires_retry", "{}", r.json);
    assert_ne!(r.attr("extracted")["document"]["type"], "passport");
    assert_eq!(r.attr("extracted")["person"]["name"]["last"], Value::Null);
    assert_eq!(check(&r, "mrz_valid")["status"], "not_applicable");
    assert!(
        check(&r, "image_quality")["reasons"]
            .as_array()
            .expect("reasons")
            .contains(&json!("content_type_mismatch")),
        "{}",
        r.json
    );
    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_ne!(s.attr("status"), "completed");
}

#[tokio::test]
async fn write_only_key_gets_no_download_urls() {
    let app = TestApp::new().await;
    let writer = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::DocumentsWrite],
            None,
        )
        .await;
    let reader = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::DocumentsRead],
            None,
        )
        .await;
    let photo = licence("SAMPLE");
    let created = declare(&app, &writer, &[("image/jpeg", &photo)], None).await;
    assert_eq!(created.attr("files")[0]["url"], Value::Null);
    let doc = created.id();
    let (url, headers) = created.upload(0);
    assert_eq!(put_upload(&url, &headers, photo.clone()).await, 200);

    // Declaring a second file answers with the whole document, the first file uploaded.
    let added = app
        .call(
            Method::POST,
            &format!("/v1/identity/documents/idvs/{doc}/files"),
            &writer,
            Some(&json!({"data": {"type": "file", "attributes":
                {"filename": "f1", "content_type": "image/jpeg", "byte_size": 1000}}})),
            &[],
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.json);
    let submitted = app
        .call(
            Method::POST,
            &format!("/v1/identity/documents/idvs/{doc}/submit"),
            &writer,
            None,
            &[],
        )
        .await;
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.json);
    assert_eq!(submitted.attr("files")[0]["status"], "uploaded");
    for r in [&added, &submitted] {
        for f in r.attr("files").as_array().expect("files") {
            assert_eq!(f["url"], Value::Null, "a write-only key reads no file: {f}");
        }
    }

    // A key holding documents:read gets the URL, and it works.
    let shown = app
        .call(
            Method::GET,
            &format!("/v1/identity/documents/idvs/{doc}"),
            &reader,
            None,
            &[],
        )
        .await;
    let url = shown.attr("files")[0]["url"].as_str().expect("url");
    assert_eq!(get_download(url).await, (200, photo));
}

/// The names in `X-Amz-SignedHeaders` of a presigned URL, minus `host`.
fn signed_headers(url: &str) -> BTreeSet<String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let value = query
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .expect("signed headers");
    value
        .split("%3B")
        .flat_map(|s| s.split(';'))
        .filter(|h| *h != "host")
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn upload_headers_are_exactly_the_signed_ones() {
    // As in Lambda: the SDK's recursion detection adds `x-amzn-trace-id` to every request
    // it builds, presigned ones included, without signing it.
    std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "documents");
    std::env::set_var(
        "_X_AMZN_TRACE_ID",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
    );
    let app = TestApp::new().await;
    let photo = licence("SAMPLE");
    let checksum = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&photo))
    };
    let body = json!({"data": {"type": "document/idv", "attributes": {"files": [
        {"filename": "a", "content_type": "image/jpeg", "byte_size": photo.len()},
        {"filename": "b", "content_type": "image/jpeg", "byte_size": photo.len(), "checksum": checksum}
    ]}}});
    let created = app.post("/v1/identity/documents/idvs", Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);

    let template: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
            .expect("template"),
    )
    .expect("yaml");
    let cors: BTreeSet<String> = template["Resources"]["DocumentsBucket"]["Properties"]
        ["CorsConfiguration"]["CorsRules"][0]["AllowedHeaders"]
        .as_sequence()
        .expect("AllowedHeaders")
        .iter()
        .map(|h| h.as_str().expect("name").to_ascii_lowercase())
        .collect();

    let mut every_signed = BTreeSet::new();
    for (i, file) in created.json["meta"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .enumerate()
    {
        let url = file["presigned_upload_url"].as_str().expect("url");
        let listed: BTreeSet<String> = file["headers"]
            .as_object()
            .expect("headers")
            .keys()
            .cloned()
            .collect();
        let signed = signed_headers(url);
        assert_eq!(listed, signed, "file {i}: listed vs signed");
        assert_eq!(file["headers"]["if-none-match"], "*", "write-once");
        every_signed.extend(signed);
        // Sending exactly the listed headers works.
        let (url, headers) = created.upload(i);
        assert_eq!(put_upload(&url, &headers, photo.clone()).await, 200);
    }
    std::env::remove_var("_X_AMZN_TRACE_ID");
    std::env::remove_var("AWS_LAMBDA_FUNCTION_NAME");
    assert_eq!(
        cors, every_signed,
        "the bucket's CORS rule allows exactly the signed headers"
    );
}

#[tokio::test]
async fn pixel_bomb_is_refused_quickly() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    // 60000 x 60000 RGBA: 3.6 gigapixels, 14 GB decoded, in 4 KB.
    let bomb = png_bomb(60_000, 60_000, 4096);
    let started = Instant::now();
    let created = uploaded(&app, &[("image/png", &bomb)], Some(&session)).await;
    let doc = created.id();
    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(
        shown.attr("files")[0]["status"],
        "rejected",
        "{}",
        shown.json
    );
    assert_eq!(shown.attr("files")[0]["reason"], "image_too_large");
    let submitted = app
        .post(&format!("/v1/identity/documents/idvs/{doc}/submit"), None)
        .await;
    let verified = verify(&app, &doc, Some(&session)).await;
    let elapsed = started.elapsed();
    for r in [&submitted, &verified] {
        assert!(
            r.status.is_client_error()
                || (r.status == StatusCode::CREATED && r.attr("status") == "requires_retry"),
            "{} {}",
            r.status,
            r.json
        );
    }
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[tokio::test]
async fn four_files_at_the_caps_stay_within_the_pixel_budget() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    // At the per-image caps (16384 wide, 40 megapixels), 16-bit RGBA: 320 MB each decoded.
    let limits = idv_checks::ImageLimits::default();
    let width = limits.max_dimension;
    let height = u32::try_from(limits.max_pixels / u64::from(width)).expect("height");
    let at_cap = png_of_size(width, height, true, 3);
    assert!(!at_cap.is_empty());
    // Half of them carry an EXIF rotation, as phones write: the upright copy is extra work.
    let rotated = png_with_orientation(&at_cap, 6);
    let files: Vec<(&str, &[u8])> = (0..4)
        .map(|i| {
            (
                "image/png",
                if i % 2 == 0 { &rotated } else { &at_cap }.as_slice(),
            )
        })
        .collect();
    let created = uploaded(&app, &files, Some(&session)).await;
    let shown = app
        .get(&format!("/v1/identity/documents/idvs/{}", created.id()))
        .await;
    for f in shown.attr("files").as_array().expect("files") {
        assert_eq!(f["status"], "uploaded", "within the per-image caps: {f}");
    }
    let started = Instant::now();
    let r = verify(&app, &created.id(), Some(&session)).await;
    let elapsed = started.elapsed();
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.attr("status"), "requires_retry", "{}", r.json);
    let quality = check(&r, "image_quality");
    assert!(
        quality["reasons"]
            .as_array()
            .expect("reasons")
            .contains(&json!("pixel_budget_exceeded")),
        "{quality}"
    );
    let decoded: u64 = quality["metadata"]["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| {
            let q = f.get("quality").filter(|q| !q.is_null())?;
            Some(q["width"].as_u64()? * q["height"].as_u64()?)
        })
        .sum();
    assert!(decoded > 0, "the first file is decoded: {quality}");
    assert!(
        decoded <= limits.max_total_pixels,
        "{decoded} pixels decoded, budget {}",
        limits.max_total_pixels
    );
    eprintln!("four files at the caps verified in {elapsed:?}");
}

#[tokio::test]
async fn a_replaced_file_is_left_out_and_the_event_path_catches_it_too() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let back = licence("SAMPLE");
    let photo = licence("SAMPLE");
    let created = uploaded(
        &app,
        &[("image/jpeg", &back), ("image/jpeg", &photo)],
        Some(&session),
    )
    .await;
    let doc = created.id();

    // The second file is replaced behind our back; the first is what was checked.
    write_behind_our_back(&app, &object_key(&app, &created, 1), licence("IMPOSTOR")).await;
    let r = verify(&app, &doc, Some(&session)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.attr("status"), "passed", "{}", r.json);
    assert_eq!(
        r.attr("extracted")["person"]["name"]["last"],
        "SAMPLE",
        "only the checked file was read"
    );
    let files = check(&r, "image_quality")["metadata"]["files"]
        .as_array()
        .expect("files")
        .len();
    assert_eq!(files, 1, "the replaced file was not handed to the checks");
    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(shown.attr("files")[0]["status"], "uploaded");
    assert_eq!(shown.attr("files")[1]["status"], "rejected");
    assert_eq!(shown.attr("files")[1]["reason"], "object_replaced");
    assert_eq!(
        app.object_keys().await,
        vec![object_key(&app, &created, 0)],
        "the replaced object is deleted"
    );

    // On a document not yet verified, the write's own ObjectCreated event is enough.
    let other = uploaded(&app, &[("image/jpeg", &photo)], None).await;
    write_behind_our_back(&app, &object_key(&app, &other, 0), licence("IMPOSTOR")).await;
    assert_eq!(app.deliver_uploads().await, 1);
    let shown = app
        .get(&format!("/v1/identity/documents/idvs/{}", other.id()))
        .await;
    assert_eq!(shown.attr("files")[0]["reason"], "object_replaced");
    assert!(!app
        .object_keys()
        .await
        .contains(&object_key(&app, &other, 0)));
}
