//! Passports and ID cards read from photos (issue 10), through `POST /verifications`
//! against the local servers: synthetic data pages and card backs made by the project's
//! generator (`idv_checks::fixtures::mrz_photo`), uploaded through presigned URLs.

use http::StatusCode;
use idv_checks::fixtures::mrz_photo::{
    id_card_back_jpeg, id_card_front_jpeg, passport_photo_jpeg, rotate180, CheckField, MrzTruth,
    Scene,
};
use idv_tests::{put_upload, Reply, TestApp};
use serde_json::{json, Value};
use time::macros::date;

/// Creates an ID document with `files` (side, JPEG bytes) in `session`, uploads them,
/// delivers the upload events and returns the document id.
async fn uploaded(app: &TestApp, session: &str, files: Vec<(&str, Vec<u8>)>) -> String {
    let decls: Vec<Value> = files
        .iter()
        .map(|(side, bytes)| {
            json!({"filename": "photo.jpg", "content_type": "image/jpeg",
                   "byte_size": bytes.len(), "side": side})
        })
        .collect();
    let body = json!({"data": {"type": "document/idv", "attributes": {"files": decls},
        "relationships": {"session": {"data": {"type": "session", "id": session}}}}});
    let created = app.post("/v1/identity/documents/idvs", Some(&body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    for (i, (_, bytes)) in files.into_iter().enumerate() {
        let (url, headers) = created.upload(i);
        assert_eq!(put_upload(&url, &headers, bytes).await, 200);
    }
    app.deliver_uploads().await;
    created.id()
}

async fn verify(app: &TestApp, doc: &str, session: &str, auto_update: bool) -> Reply {
    let body = json!({"data": {"type": "verification/idv", "relationships": {
        "document": {"data": {"type": "document/idv", "id": doc}},
        "session": {"data": {"type": "session", "id": session}}}},
        "meta": {"auto_update_session": auto_update}});
    app.post("/v1/identity/verifications", Some(&body)).await
}

fn check<'a>(r: &'a Reply, name: &str) -> &'a Value {
    r.attr("checks")
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name}: {}", r.json))
}

fn holder() -> MrzTruth {
    MrzTruth::passport()
        .with_name("Lindqvist", "Maja Elin")
        .with_birth_date(date!(1988 - 03 - 09))
        .with_number("X4RT81K27")
        .with_expiry(date!(2032 - 07 - 01))
        .with_country("SWE")
}

#[tokio::test]
async fn a_passport_photo_passes_and_fills_the_session() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let photo = passport_photo_jpeg(&holder(), &Scene::clean(11));
    let doc = uploaded(&app, &session, vec![("front", photo)]).await;
    let r = verify(&app, &doc, &session, true).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.attr("status"), "passed", "{}", r.json);
    assert_eq!(check(&r, "document_detected")["status"], "passed");
    assert_eq!(check(&r, "mrz_valid")["status"], "passed");
    assert_eq!(check(&r, "mrz_valid")["metadata"]["format"], "td3");
    let x = r.attr("extracted");
    assert_eq!(x["document"]["number"], "X4RT81K27");
    assert_eq!(x["document"]["type"], "passport");
    assert_eq!(x["person"]["birth_date"], "1988-03-09");

    let s = app.get(&format!("/v1/identity/sessions/{session}")).await;
    assert_eq!(s.attr("status"), "completed", "{}", s.json);
    assert_eq!(s.attr("person")["name"]["last"], "LINDQVIST");
    assert_eq!(s.attr("person")["name"]["first"], "MAJA");
    assert_eq!(s.attr("person")["birth_date"], "1988-03-09");
    assert_eq!(s.attr("identity_numbers")[0]["number"], "X4RT81K27");
}

#[tokio::test]
async fn the_same_passport_upside_down_passes() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let photo = rotate180(&passport_photo_jpeg(&holder(), &Scene::clean(12)));
    assert!(!photo.is_empty());
    let doc = uploaded(&app, &session, vec![("front", photo)]).await;
    let r = verify(&app, &doc, &session, false).await;
    assert_eq!(r.attr("status"), "passed", "{}", r.json);
    assert_eq!(r.attr("extracted")["document"]["number"], "X4RT81K27");
}

#[tokio::test]
async fn an_id_card_front_and_back_passes() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let card = MrzTruth::id_card()
        .with_name("Moreau", "Camille")
        .with_birth_date(date!(1995 - 11 - 23))
        .with_expiry(date!(2030 - 02 - 14))
        .with_country("FRA");
    let front = id_card_front_jpeg(&card, &Scene::clean(13));
    let back = id_card_back_jpeg(&card, &Scene::clean(14));
    let doc = uploaded(&app, &session, vec![("front", front), ("back", back)]).await;
    let r = verify(&app, &doc, &session, false).await;
    assert_eq!(r.attr("status"), "passed", "{}", r.json);
    assert_eq!(check(&r, "mrz_valid")["metadata"]["format"], "td1");
    assert_eq!(r.attr("extracted")["person"]["birth_date"], "1995-11-23");
}

#[tokio::test]
async fn a_broken_check_digit_fails_mrz_valid() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let photo = passport_photo_jpeg(
        &holder().with_broken(CheckField::DocumentNumber),
        &Scene::clean(15),
    );
    let doc = uploaded(&app, &session, vec![("front", photo)]).await;
    let r = verify(&app, &doc, &session, false).await;
    assert_eq!(r.attr("status"), "failed", "{}", r.json);
    assert_eq!(check(&r, "mrz_valid")["status"], "failed", "{}", r.json);
}

#[tokio::test]
async fn a_heavily_blurred_photo_asks_for_a_retry() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let photo = passport_photo_jpeg(&holder(), &Scene::blurred(16));
    let doc = uploaded(&app, &session, vec![("front", photo)]).await;
    let r = verify(&app, &doc, &session, false).await;
    assert_eq!(r.attr("status"), "requires_retry", "{}", r.json);
}

#[tokio::test]
async fn an_expired_passport_fails_document_not_expired() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let photo = passport_photo_jpeg(
        &holder().with_expiry(date!(2024 - 01 - 31)),
        &Scene::clean(17),
    );
    let doc = uploaded(&app, &session, vec![("front", photo)]).await;
    let r = verify(&app, &doc, &session, false).await;
    assert_eq!(r.attr("status"), "failed", "{}", r.json);
    assert_eq!(check(&r, "document_not_expired")["status"], "failed");
    assert_eq!(
        check(&r, "mrz_valid")["status"],
        "passed",
        "read right, and expired"
    );
}
