//! Accounts: create, read, update, external ids.

use http::StatusCode;
use idv_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn accounts_hold_personal_data_and_link_their_sessions() {
    let app = TestApp::new().await;
    let body = json!({"data": {"type": "account", "attributes": {
        "external_id": "user-1", "entity_type": "person",
        "person": {"name": {"first": "Ada", "last": "Lovelace"}, "birth_date": "1815-12-10"}}}});
    let r = app.post("/v1/identity/accounts", Some(&body)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_attribute"),
        "born before 1900"
    );
    let body = json!({"data": {"type": "account", "attributes": {
        "external_id": "user-1", "entity_type": "person",
        "person": {"name": {"first": "Ada", "last": "Lovelace"}, "birth_date": "1985-12-10"},
        "identity_numbers": [{"number": "123-45-6789", "issuing_country_code": "US", "class": "ssn"}]}}});
    let r = app.post("/v1/identity/accounts", Some(&body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let id = r.id();
    assert!(id.starts_with("acc_"));
    assert_eq!(r.attr("status"), "active");
    assert_eq!(r.attr("identity_numbers")[0]["class"], "ssn");
    assert_eq!(
        r.headers["location"],
        format!("/v1/identity/accounts/{id}").as_str()
    );

    let s1 = app.create_session(Some(&id)).await;
    let s2 = app.create_session(Some(&id)).await;
    let shown = app.get(&format!("/v1/identity/accounts/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(
        shown.json["data"]["relationships"]["sessions"]["data"],
        json!([{"type": "session", "id": s2}, {"type": "session", "id": s1}])
    );
    // The related link is a valid URI reference (brackets percent-encoded) that lists the
    // account's sessions when followed.
    let related = shown.json["data"]["relationships"]["sessions"]["links"]["related"]
        .as_str()
        .expect("link")
        .to_owned();
    assert!(
        related.ends_with(&format!("?filter%5Baccount_id%5D={id}")),
        "{related}"
    );
    let listed = app.get(&related).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.json);
    assert_eq!(
        listed.json["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|s| s["id"].clone())
            .collect::<Vec<_>>(),
        vec![json!(s2), json!(s1)]
    );

    let patch = json!({"data": {"type": "account", "id": id, "attributes": {
        "status": "suspended", "person": {"name": {"first": "Augusta"}}}}});
    let r = app
        .patch(&format!("/v1/identity/accounts/{id}"), &patch)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.attr("status"), "suspended");
    assert_eq!(
        r.attr("person")["name"],
        json!({"first": "Augusta", "middle": null, "last": "Lovelace"})
    );
}

#[tokio::test]
async fn external_ids_are_unique_per_tenancy_and_can_move() {
    let app = TestApp::new().await;
    let a = app.create_account(Some("same")).await;
    let body = json!({"data": {"type": "account", "attributes": {"external_id": "same"}}});
    let r = app.post("/v1/identity/accounts", Some(&body)).await;
    assert_eq!(
        (r.status, r.code(), r.source()),
        (
            StatusCode::CONFLICT,
            "external_id_taken",
            "/data/attributes/external_id"
        )
    );

    // Another tenant may use the same reference.
    let other = app
        .issue_key(
            "globex",
            idv::domain::values::Environment::Staging,
            &[idv::domain::auth::Permission::All],
            None,
        )
        .await;
    let r = app
        .call(
            http::Method::POST,
            "/v1/identity/accounts",
            &other,
            Some(&body),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // Renaming frees the old id and claims the new one.
    let b = app.create_account(Some("b")).await;
    let rename = json!({"data": {"type": "account", "attributes": {"external_id": "b"}}});
    let r = app
        .patch(&format!("/v1/identity/accounts/{a}"), &rename)
        .await;
    assert_eq!(r.code(), "external_id_taken");
    let rename = json!({"data": {"type": "account", "attributes": {"external_id": "renamed"}}});
    assert_eq!(
        app.patch(&format!("/v1/identity/accounts/{a}"), &rename)
            .await
            .status,
        StatusCode::OK
    );
    let reuse = json!({"data": {"type": "account", "attributes": {"external_id": "same"}}});
    assert_eq!(
        app.patch(&format!("/v1/identity/accounts/{b}"), &reuse)
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .get("/v1/identity/accounts?filter[external_id]=renamed")
        .await;
    assert_eq!(r.json["data"][0]["id"], json!(a));
}
