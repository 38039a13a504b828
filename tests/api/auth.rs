//! API keys: who may call what, and tenant isolation.

use std::time::Duration;

use http::{Method, StatusCode};
use idv::domain::auth::Permission;
use idv::domain::values::{Environment, Timestamp};
use idv_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn missing_unknown_malformed_revoked_and_expired_keys_get_401() {
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    let path = format!("/v1/identity/sessions/{id}");

    let (revoked_id, revoked) = app
        .issue_key_with_id("acme", Environment::Staging, &[Permission::All], None)
        .await;
    assert_eq!(
        app.call(Method::GET, &path, &revoked, None, &[])
            .await
            .status,
        StatusCode::OK
    );
    app.store
        .revoke_api_key(revoked_id, Timestamp::now())
        .await
        .expect("revoke")
        .expect("exists");

    let expired = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::All],
            Some(Timestamp::now().add(time::Duration::seconds(-1))),
        )
        .await;
    // A real key of staging presented as if it were production.
    let relabelled = app.key.replacen("sk_staging_", "sk_production_", 1);

    for key in [
        "",
        "nonsense",
        "sk_staging_",
        "sk_staging_doesnotexist",
        &revoked,
        &expired,
        &relabelled,
    ] {
        let r = app.call(Method::GET, &path, key, None, &[]).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "key {key:?}"
        );
    }
    let r = app.post("/v1/identity/sessions", None).await;
    assert_ne!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the default key still works"
    );
}

#[tokio::test]
async fn a_key_without_the_scope_gets_403_naming_it() {
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    app.complete_session(&id).await;
    let reader = app
        .issue_key(
            "acme",
            Environment::Staging,
            &[Permission::SessionsRead, Permission::SessionsWrite],
            None,
        )
        .await;
    let r = app
        .call(
            Method::POST,
            &format!("/v1/identity/sessions/{id}/approve"),
            &reader,
            None,
            &[],
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(
        r.json["errors"][0]["meta"]["required_scope"],
        "sessions:decide"
    );
    let shown = app.get(&format!("/v1/identity/sessions/{id}")).await;
    assert_eq!(shown.attr("status"), "completed", "nothing changed");

    for (method, path, scope) in [
        (
            Method::GET,
            format!("/v1/identity/sessions/{id}/events"),
            "events:read",
        ),
        (
            Method::POST,
            format!("/v1/identity/sessions/{id}/redact"),
            "sessions:redact",
        ),
        (
            Method::GET,
            "/v1/identity/accounts".to_owned(),
            "accounts:read",
        ),
        (
            Method::POST,
            "/v1/identity/accounts".to_owned(),
            "accounts:write",
        ),
    ] {
        let r = app.call(method, &path, &reader, None, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            r.json["errors"][0]["meta"]["required_scope"], scope,
            "{path}"
        );
    }
}

#[tokio::test]
async fn other_tenants_and_the_other_environment_never_see_a_session() {
    let app = TestApp::new().await;
    let account = app.create_account(Some("ext-1")).await;
    let id = app.create_session(Some(&account)).await;
    app.complete_session(&id).await;

    let foreign = app
        .issue_key("globex", Environment::Staging, &[Permission::All], None)
        .await;
    let production = app
        .issue_key("acme", Environment::Production, &[Permission::All], None)
        .await;
    let unknown = idv::domain::ids::SessionId::new(time::OffsetDateTime::now_utc());
    for key in [&foreign, &production] {
        for (method, path) in [
            (Method::GET, format!("/v1/identity/sessions/{id}")),
            (Method::GET, format!("/v1/identity/sessions/{id}/events")),
            (Method::POST, format!("/v1/identity/sessions/{id}/approve")),
            (Method::POST, format!("/v1/identity/sessions/{id}/expire")),
            (Method::POST, format!("/v1/identity/sessions/{id}/redact")),
            (Method::GET, format!("/v1/identity/accounts/{account}")),
            (
                Method::POST,
                format!("/v1/identity/accounts/{account}/redact"),
            ),
        ] {
            let theirs = app.call(method.clone(), &path, key, None, &[]).await;
            let unknown_path = path.replace(&id, &unknown.to_string());
            let nobody = app.call(method, &unknown_path, key, None, &[]).await;
            assert_eq!(
                (theirs.status, theirs.code()),
                (StatusCode::NOT_FOUND, "not_found"),
                "{path}"
            );
            assert_eq!(
                theirs.json, nobody.json,
                "a foreign id answers exactly like an unknown one"
            );
        }
        let patch =
            json!({"data": {"type": "session", "attributes": {"contact": {"email": "x@y.co"}}}});
        let r = app
            .call(
                Method::PATCH,
                &format!("/v1/identity/sessions/{id}"),
                key,
                Some(&patch),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        for query in [
            "".to_owned(),
            format!("?filter[account_id]={account}"),
            "?filter[status]=completed".to_owned(),
            "?filter[entity_type]=person".to_owned(),
            "?page[total]=true".to_owned(),
        ] {
            let r = app
                .call(
                    Method::GET,
                    &format!("/v1/identity/sessions{query}"),
                    key,
                    None,
                    &[],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.json["data"], json!([]), "{query}");
        }
        let r = app
            .call(
                Method::GET,
                "/v1/identity/accounts?filter[external_id]=ext-1",
                key,
                None,
                &[],
            )
            .await;
        assert_eq!(r.json["data"], json!([]));
        // Linking their session to our account is refused as if the account did not exist.
        let body = json!({"data": {"type": "session", "attributes": {"entity_type": "person"},
            "relationships": {"account": {"data": {"type": "account", "id": account}}}}});
        let r = app
            .call(Method::POST, "/v1/identity/sessions", key, Some(&body), &[])
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_relationship")
        );
    }
    // And the owner still sees it untouched.
    assert_eq!(
        app.get(&format!("/v1/identity/sessions/{id}"))
            .await
            .attr("status"),
        "completed"
    );
}

#[tokio::test]
async fn a_revoked_key_stops_working_within_the_cache_bound() {
    let app = TestApp::with_key_cache(Duration::from_secs(1)).await;
    let (key_id, key) = app
        .issue_key_with_id("acme", Environment::Staging, &[Permission::All], None)
        .await;
    let path = "/v1/identity/sessions";
    assert_eq!(
        app.call(Method::GET, path, &key, None, &[]).await.status,
        StatusCode::OK
    );
    app.store
        .revoke_api_key(key_id, Timestamp::now())
        .await
        .expect("revoke");
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    loop {
        let status = app.call(Method::GET, path, &key, None, &[]).await.status;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "revocation did not take effect within the bound"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
