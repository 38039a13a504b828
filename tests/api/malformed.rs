//! Bad input: every malformed request gets its contract code and pointer, never a 5xx,
//! and leaves the table exactly as it was.

use axum::body::Body;
use http::{Request, StatusCode};
use idv_tests::TestApp;
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    source: &'static str,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &str,
    body: Value,
    status: u16,
    code: &'static str,
    source: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        content_type: Some("application/json"),
        headers: Vec::new(),
        body: body.to_string().into_bytes(),
        status,
        code,
        source,
    }
}

fn session_with(attrs: Value) -> Value {
    json!({"data": {"type": "session", "attributes": attrs}})
}

fn person(extra: Value) -> Value {
    let mut attrs = json!({"entity_type": "person"});
    if let (Some(a), Some(e)) = (attrs.as_object_mut(), extra.as_object()) {
        a.extend(e.clone());
    }
    session_with(attrs)
}

#[tokio::test]
async fn malformed_requests_get_their_code_and_pointer_and_write_nothing() {
    let app = TestApp::new().await;
    let account = app.create_account(Some("ext-1")).await;
    let session = app.create_session(Some(&account)).await;
    app.complete_session(&session).await;
    // A first idempotent request, so that reusing its key can be tested.
    let first = app
        .call(
            http::Method::POST,
            "/v1/identity/sessions",
            &app.key,
            Some(&person(json!({}))),
            &[("idempotency-key", "abc-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);

    let s = "/v1/identity/sessions";
    let one = format!("/v1/identity/sessions/{session}");
    let unknown_account =
        idv::domain::ids::AccountId::new(time::OffsetDateTime::now_utc()).to_string();
    let mut cases = vec![
        Case { body: b"{".to_vec(), ..case("truncated JSON", "POST", s, json!(null), 400, "invalid_json", "") },
        Case { body: b"{\"data\": [1,}".to_vec(), ..case("broken JSON", "POST", s, json!(null), 400, "invalid_json", "") },
        Case { body: b"{\"data\":".to_vec(), content_type: Some("application/vnd.api+json"), ..case("broken JSON:API", "POST", s, json!(null), 400, "invalid_json", "") },
        Case { content_type: Some("text/plain"), ..case("wrong content type", "POST", s, person(json!({})), 415, "unsupported_media_type", "") },
        Case { content_type: None, ..case("body without content type", "POST", s, person(json!({})), 415, "unsupported_media_type", "") },
        Case { content_type: Some("application/xml"), ..case("decision body of another type", "POST", &format!("{one}/approve"), json!({"meta": {}}), 415, "unsupported_media_type", "") },
        Case {
            body: format!("{{\"data\": {{\"type\": \"session\", \"attributes\": {{\"entity_type\": \"person\", \"pad\": \"{}\"}}}}}}", "x".repeat(300 * 1024)).into_bytes(),
            ..case("oversized body", "POST", s, json!(null), 413, "payload_too_large", "")
        },
        case("not an object", "POST", s, json!([1, 2]), 422, "invalid_attribute", ""),
        case("no data", "POST", s, json!({}), 422, "missing_attribute", "/data"),
        case("unknown top-level member", "POST", s, json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}, "dta": 1}), 422, "unknown_attribute", "/dta"),
        case("wrong type", "POST", s, json!({"data": {"type": "account", "attributes": {"entity_type": "person"}}}), 422, "invalid_attribute", "/data/type"),
        case("missing type", "POST", s, json!({"data": {"attributes": {"entity_type": "person"}}}), 422, "missing_attribute", "/data/type"),
        case("client-chosen id", "POST", s, json!({"data": {"type": "session", "id": "sess_x", "attributes": {"entity_type": "person"}}}), 422, "invalid_attribute", "/data/id"),
        case("missing entity_type", "POST", s, session_with(json!({})), 422, "missing_attribute", "/data/attributes/entity_type"),
        case("bad entity_type", "POST", s, session_with(json!({"entity_type": "robot"})), 422, "invalid_attribute", "/data/attributes/entity_type"),
        case("entity_type of the wrong JSON type", "POST", s, session_with(json!({"entity_type": 5})), 422, "invalid_attribute", "/data/attributes/entity_type"),
        case("unknown attribute", "POST", s, person(json!({"favourite_colour": "red"})), 422, "unknown_attribute", "/data/attributes/favourite_colour"),
        case("unknown nested attribute", "POST", s, person(json!({"person": {"nickname": "JD"}})), 422, "unknown_attribute", "/data/attributes/person/nickname"),
        case("read-only attribute", "POST", s, person(json!({"status": "approved"})), 422, "invalid_attribute", "/data/attributes/status"),
        case("person is not an object", "POST", s, person(json!({"person": "Jane Doe"})), 422, "invalid_attribute", "/data/attributes/person"),
        case("name part of the wrong type", "POST", s, person(json!({"person": {"name": {"first": ["Jane"]}}})), 422, "invalid_attribute", "/data/attributes/person/name/first"),
        case("impossible date", "POST", s, person(json!({"person": {"birth_date": "1990-02-30"}})), 422, "invalid_attribute", "/data/attributes/person/birth_date"),
        case("date in another format", "POST", s, person(json!({"person": {"birth_date": "15/05/1990"}})), 422, "invalid_attribute", "/data/attributes/person/birth_date"),
        case("birth date in the future", "POST", s, person(json!({"person": {"birth_date": "2999-01-01"}})), 422, "invalid_attribute", "/data/attributes/person/birth_date"),
        case("date as a number", "POST", s, person(json!({"person": {"birth_date": 19900515}})), 422, "invalid_attribute", "/data/attributes/person/birth_date"),
        case("alpha-3 country", "POST", s, person(json!({"address": {"country_code": "USA"}})), 422, "invalid_attribute", "/data/attributes/address/country_code"),
        case("unassigned country", "POST", s, person(json!({"address": {"country_code": "XX"}})), 422, "invalid_attribute", "/data/attributes/address/country_code"),
        case("alias and canonical name together", "POST", s, person(json!({"address": {"city": "Paris", "locality": "Lyon"}})), 422, "invalid_attribute", "/data/attributes/address/locality"),
        case("bad e-mail", "POST", s, person(json!({"contact": {"email": "jane@"}})), 422, "invalid_attribute", "/data/attributes/contact/email"),
        case("bad phone", "POST", s, person(json!({"contact": {"phone": "555-1234"}})), 422, "invalid_attribute", "/data/attributes/contact/phone"),
        case("identity numbers not an array", "POST", s, person(json!({"identity_numbers": {"number": "1"}})), 422, "invalid_attribute", "/data/attributes/identity_numbers"),
        case("identity number without class", "POST", s, person(json!({"identity_numbers": [{"number": "X1"}]})), 422, "missing_attribute", "/data/attributes/identity_numbers/0/class"),
        case("empty name", "POST", s, person(json!({"person": {"name": {"last": "  "}}})), 422, "invalid_attribute", "/data/attributes/person/name/last"),
        case("deadline not a timestamp", "POST", s, person(json!({"expires_at": "tomorrow"})), 422, "invalid_attribute", "/data/attributes/expires_at"),
        case("deadline in the past", "POST", s, person(json!({"expires_at": "2020-01-01T00:00:00Z"})), 422, "invalid_attribute", "/data/attributes/expires_at"),
        case("malformed account id", "POST", s, json!({"data": {"type": "session", "attributes": {"entity_type": "person"}, "relationships": {"account": {"data": {"type": "account", "id": "acc_123"}}}}}), 422, "invalid_relationship", "/data/relationships/account/data/id"),
        case("unknown account", "POST", s, json!({"data": {"type": "session", "attributes": {"entity_type": "person"}, "relationships": {"account": {"data": {"type": "account", "id": unknown_account}}}}}), 422, "invalid_relationship", "/data/relationships/account/data/id"),
        case("relationship of the wrong type", "POST", s, json!({"data": {"type": "session", "attributes": {"entity_type": "person"}, "relationships": {"account": {"data": {"type": "session", "id": session}}}}}), 422, "invalid_relationship", "/data/relationships/account/data/type"),
        case("unknown relationship", "POST", s, json!({"data": {"type": "session", "attributes": {"entity_type": "person"}, "relationships": {"owner": {"data": null}}}}), 422, "unknown_attribute", "/data/relationships/owner"),
        case("patch id differs from the path", "PATCH", &one, json!({"data": {"type": "session", "id": "sess_01HQ0000000000000000000000", "attributes": {}}}), 422, "invalid_attribute", "/data/id"),
        case("patch of a read-only attribute", "PATCH", &one, json!({"data": {"type": "session", "attributes": {"status": "approved"}}}), 422, "invalid_attribute", "/data/attributes/status"),
        case("patch with a bad nested value", "PATCH", &one, json!({"data": {"type": "session", "attributes": {"contact": {"phone": "+0"}}}}), 422, "invalid_attribute", "/data/attributes/contact/phone"),
        case("comment too long", "POST", &format!("{one}/approve"), json!({"meta": {"comment": "x".repeat(1001)}}), 422, "invalid_attribute", "/meta/comment"),
        case("unknown decision meta", "POST", &format!("{one}/approve"), json!({"meta": {"reason": "ok"}}), 422, "unknown_attribute", "/meta/reason"),
        case("simulate an unknown action", "POST", &format!("{one}/simulate"), json!({"data": {"attributes": {"action": "approve"}}}), 422, "invalid_attribute", "/data/attributes/action"),
        case("account external_id of the wrong type", "POST", "/v1/identity/accounts", json!({"data": {"type": "account", "attributes": {"external_id": 7}}}), 422, "invalid_attribute", "/data/attributes/external_id"),
        case("account status unknown", "PATCH", &format!("/v1/identity/accounts/{account}"), json!({"data": {"type": "account", "attributes": {"status": "deleted"}}}), 422, "invalid_attribute", "/data/attributes/status"),
        Case { headers: vec![("idempotency-key", "abc-1".into())], ..case("idempotency key reused with another body", "POST", s, person(json!({"contact": {"email": "a@b.co"}})), 422, "idempotency_key_reused", "Idempotency-Key") },
        Case { headers: vec![("idempotency-key", "k".repeat(256))], ..case("idempotency key too long", "POST", s, person(json!({})), 400, "invalid_parameter", "Idempotency-Key") },
    ];
    for (query, parameter) in [
        ("page[size]=0", "page[size]"),
        ("page[size]=101", "page[size]"),
        ("page[size]=ten", "page[size]"),
        ("page[after]=garbage", "page[after]"),
        (
            "page[before]=bm90LWEtY3Vyc29y.AAAAAAAAAAAAAAAAAAAAAA",
            "page[before]",
        ),
        ("filter[status]=bogus", "filter[status]"),
        ("filter[colour]=red", "filter[colour]"),
        (
            "filter[created_at_from]=yesterday",
            "filter[created_at_from]",
        ),
        ("filter[account_id]=acc_123", "filter[account_id]"),
    ] {
        cases.push(Case {
            content_type: None,
            body: Vec::new(),
            ..case(
                "bad list parameter",
                "GET",
                &format!("{s}?{query}"),
                json!(null),
                400,
                "invalid_parameter",
                parameter,
            )
        });
    }
    assert!(cases.len() >= 30, "the table has {} cases", cases.len());

    let before = app.scan_all().await;
    for c in cases {
        let mut b = Request::builder()
            .method(c.method)
            .uri(&c.path)
            .header("x-api-key", &app.key);
        if let Some(ct) = c.content_type {
            b = b.header("content-type", ct);
        }
        for (k, v) in &c.headers {
            b = b.header(*k, v);
        }
        let r = app.send(b.body(Body::from(c.body)).expect("request")).await;
        assert!(r.status.as_u16() < 500, "{}: a 5xx", c.name);
        assert_eq!(r.status.as_u16(), c.status, "{}: {}", c.name, r.json);
        assert_eq!(r.code(), c.code, "{}: {}", c.name, r.json);
        assert_eq!(r.source(), c.source, "{}: {}", c.name, r.json);
        let e = &r.json["errors"][0];
        assert_eq!(e["status"], json!(c.status.to_string()), "{}", c.name);
        assert!(
            e["title"].is_string() && e["detail"].is_string(),
            "{}",
            c.name
        );
        assert_eq!(r.headers["content-type"], "application/json", "{}", c.name);
    }
    let after = app.scan_all().await;
    assert_eq!(before.len(), after.len(), "no item was added or removed");
    for item in &before {
        assert!(after.contains(item), "an item changed");
    }
}

#[tokio::test]
async fn every_problem_of_a_request_is_reported() {
    let app = TestApp::new().await;
    let r = app
        .post(
            "/v1/identity/sessions",
            Some(&person(
                json!({"contact": {"email": "x", "phone": "y"}, "address": {"country_code": "ZZ"}}),
            )),
        )
        .await;
    let pointers: Vec<&str> = r.json["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["source"]["pointer"].as_str())
        .collect();
    assert_eq!(
        pointers,
        [
            "/data/attributes/contact/email",
            "/data/attributes/contact/phone",
            "/data/attributes/address/country_code"
        ]
    );
    assert!(
        !r.json.to_string().contains("\"ZZ\""),
        "submitted values are not echoed"
    );
}
