//! Attacks: bounds (see `attacks/mod.rs`). A request must read a bounded number of items
//! however selective its filter; `page[total]` must not count a whole partition; and no
//! list held in an item (a session's documents and verifications, a document's files and
//! verifications) may grow toward DynamoDB's 400 KB item limit, after which every write of
//! the item would fail.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use http::StatusCode;
use idv_checks::fixtures::{address_pdf, default_bill, BillFields};
use idv_tests::{put_upload, Reply, TestApp};
use serde_json::{json, Value};

/// DynamoDB's item size limit.
const ITEM_LIMIT: usize = 400 * 1024;

fn ids(r: &Reply) -> Vec<String> {
    r.json["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.json))
        .iter()
        .map(|d| d["id"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn link(r: &Reply, name: &str) -> Option<String> {
    r.json["links"][name].as_str().map(str::to_owned)
}

/// Runs `n` copies of `make` with at most 16 in flight.
async fn many<F, Fut>(n: usize, make: F) -> Vec<String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    use futures::stream::{self, StreamExt};
    stream::iter(0..n)
        .map(make)
        .buffer_unordered(16)
        .collect()
        .await
}

/// A session body of `entity_type`.
fn session_body(entity_type: &str) -> Value {
    json!({"data": {"type": "session", "attributes": {"entity_type": entity_type}}})
}

async fn create(app: &TestApp, path: &str, body: &Value) -> String {
    let r = app.post(path, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    r.id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn post_query_filter_reads_a_bounded_page() {
    let app = Arc::new(TestApp::new().await);
    // The one business session is the oldest; 150 person sessions are newer, so a list of
    // business sessions must look past all of them.
    let business = create(&app, "/v1/identity/sessions", &session_body("business")).await;
    many(150, |_| {
        let app = Arc::clone(&app);
        async move { create(&app, "/v1/identity/sessions", &session_body("person")).await }
    })
    .await;

    let first = app
        .get("/v1/identity/sessions?filter[entity_type]=business&page[size]=5")
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    // One request reads at most 100 items: the page stops short, like a DynamoDB Query with
    // a filter, and says where to go on.
    assert_eq!(ids(&first), Vec::<String>::new(), "{}", first.json["meta"]);
    assert_eq!(first.json["meta"]["page"]["has_next"], true);
    let next = link(&first, "next").expect("a short page links the next one");

    // A tampered cursor, or the same cursor from another tenant, still answers 400.
    let cursor = next
        .split("page%5Bafter%5D=")
        .nth(1)
        .expect("cursor")
        .to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[2] = if tampered[2] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("utf8");
    let r = app
        .get(&format!(
            "/v1/identity/sessions?filter[entity_type]=business&page[size]=5&page[after]={tampered}"
        ))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_parameter")
    );
    let other = app
        .issue_key(
            "globex",
            idv::domain::values::Environment::Staging,
            &[idv::domain::auth::Permission::All],
            None,
        )
        .await;
    let r = app.call(http::Method::GET, &next, &other, None, &[]).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_parameter")
    );

    // Following `next` finds the session, exactly once, within a bounded number of pages.
    let mut found = Vec::new();
    let mut page = app.get(&next).await;
    let mut pages = 2;
    loop {
        assert_eq!(page.status, StatusCode::OK, "{}", page.json);
        found.extend(ids(&page));
        match link(&page, "next") {
            Some(n) => {
                pages += 1;
                assert!(pages <= 4, "151 items take 2–3 pages of 100 reads");
                page = app.get(&n).await;
            }
            None => break,
        }
    }
    assert_eq!(found, vec![business.clone()]);
    assert_eq!(page.json["meta"]["page"]["has_next"], false);

    // And back: `prev` from the last page walks to the start without repeating it.
    let mut back = Vec::new();
    let mut at = page;
    while let Some(p) = link(&at, "prev") {
        at = app.get(&p).await;
        assert_eq!(at.status, StatusCode::OK, "{}", at.json);
        back.extend(ids(&at));
    }
    assert_eq!(back, Vec::<String>::new(), "nothing newer matches");
    assert_eq!(at.json["meta"]["page"]["has_previous"], false);

    // Unfiltered lists still fill their pages.
    let r = app.get("/v1/identity/sessions?page[size]=100").await;
    assert_eq!(ids(&r).len(), 100);
    assert_eq!(r.json["meta"]["page"]["has_next"], true);
}

#[tokio::test]
async fn verification_status_filter_reads_a_bounded_page() {
    let app = TestApp::new().await;
    // One failed verification (a stale bill), then 100 passed ones on top of it.
    let mut stale = recent_bill();
    stale.statement_date = time::OffsetDateTime::now_utc().date() - time::Duration::days(200);
    let old = uploaded_pdf(&app, None, 1, "old.pdf", address_pdf(&stale)).await;
    let failed = verify_bill(&app, &old, None).await;
    assert_eq!(failed.status, StatusCode::CREATED, "{}", failed.json);
    assert_eq!(failed.attr("status"), "failed");
    let fresh = uploaded_bill(&app, None, 1, "bill.pdf").await;
    for i in 0..100 {
        let r = verify_bill(&app, &fresh, None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{i}: {}", r.json);
    }

    let first = app
        .get("/v1/identity/verifications?filter[status]=failed&page[size]=5")
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json);
    assert_eq!(ids(&first), Vec::<String>::new(), "{}", first.json["meta"]);
    assert_eq!(first.json["meta"]["page"]["has_next"], true);
    let second = app
        .get(&link(&first, "next").expect("a short page links the next one"))
        .await;
    assert_eq!(ids(&second), vec![failed.id()]);
    assert_eq!(second.json["meta"]["page"]["has_next"], false);
}

#[tokio::test]
async fn page_total_is_bounded() {
    let app = TestApp::new().await;
    let sessions: Vec<_> = (0..1005)
        .map(|_| TestApp::new_session(idv::domain::session::EntityType::Person))
        .collect();
    app.put_sessions(&sessions).await;
    app.create_session(None).await;

    let r = app
        .get("/v1/identity/sessions?page[size]=2&page[total]=true")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json["meta"]["page"]["total"], 1000,
        "counting stops at 1000 items read: {}",
        r.json["meta"]
    );
    assert_eq!(r.json["meta"]["page"]["total_is_lower_bound"], true);
    assert_eq!(ids(&r).len(), 2);

    // A selective filter counts among the same 1000 items read: still a lower bound.
    let r = app
        .get("/v1/identity/sessions?filter[entity_type]=business&page[total]=true")
        .await;
    assert_eq!(r.json["meta"]["page"]["total"], 0);
    assert_eq!(r.json["meta"]["page"]["total_is_lower_bound"], true);

    // Under the bound the total is exact and says so.
    let r = app
        .get("/v1/identity/sessions?filter[status]=approved&page[total]=true")
        .await;
    assert_eq!(r.json["meta"]["page"]["total"], 0);
    assert_eq!(r.json["meta"]["page"]["total_is_lower_bound"], false);
    let r = app.get("/v1/identity/accounts?page[total]=true").await;
    assert_eq!(r.json["meta"]["page"]["total"], 0);
    assert_eq!(r.json["meta"]["page"]["total_is_lower_bound"], false);
}

/// Creates a document of `path` (`idvs`/`addresses`) with `files`, linked to `session`.
fn document_body(kind: &str, files: Vec<Value>, session: Option<&str>) -> Value {
    let mut body = json!({"data": {"type": kind, "attributes": {"files": files}}});
    if let Some(s) = session {
        body["data"]["relationships"] = json!({"session": {"data": {"type": "session", "id": s}}});
    }
    body
}

fn jpeg_file(name: &str) -> Value {
    json!({"filename": name, "content_type": "image/jpeg", "byte_size": 1000, "side": "front"})
}

/// An address document with `copies` uploaded copies of a recent bill (linked to `session`
/// if given); returns its id.
async fn uploaded_bill(app: &TestApp, session: Option<&str>, copies: usize, name: &str) -> String {
    let pdf = address_pdf(&recent_bill());
    uploaded_pdf(app, session, copies, name, pdf).await
}

fn recent_bill() -> BillFields {
    default_bill(time::OffsetDateTime::now_utc().date() - time::Duration::days(10))
}

/// An address document with `copies` uploaded copies of `pdf`.
async fn uploaded_pdf(
    app: &TestApp,
    session: Option<&str>,
    copies: usize,
    name: &str,
    pdf: Vec<u8>,
) -> String {
    let files = (0..copies)
        .map(|_| json!({"filename": name, "content_type": "application/pdf", "byte_size": pdf.len()}))
        .collect();
    let r = app
        .post(
            "/v1/identity/documents/addresses",
            Some(&document_body("document/address", files, session)),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    for i in 0..copies {
        let (url, headers) = r.upload(i);
        assert_eq!(put_upload(&url, &headers, pdf.clone()).await, 200);
    }
    app.deliver_uploads().await;
    r.id()
}

async fn verify_bill(app: &TestApp, doc: &str, session: Option<&str>) -> Reply {
    let mut body = json!({"data": {"type": "verification/address",
        "relationships": {"document": {"data": {"type": "document/address", "id": doc}}}}});
    if let Some(s) = session {
        body["data"]["relationships"]["session"] = json!({"data": {"type": "session", "id": s}});
    }
    app.post("/v1/identity/verifications", Some(&body)).await
}

fn assert_limit(r: &Reply, limit: &str, max: u64) {
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "limit_exceeded"),
        "{}",
        r.json
    );
    assert_eq!(r.json["errors"][0]["meta"]["limit"], limit, "{}", r.json);
    assert_eq!(r.json["errors"][0]["meta"]["max"], max, "{}", r.json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_documents_are_capped() {
    let app = Arc::new(TestApp::new().await);
    let session = app.create_session(None).await;
    for i in 0..47 {
        create(
            &app,
            "/v1/identity/documents/idvs",
            &document_body(
                "document/idv",
                vec![jpeg_file(&format!("d{i}.jpg"))],
                Some(&session),
            ),
        )
        .await;
    }
    // A proof of address for the session, verified below, makes 48.
    let bill = uploaded_bill(&app, Some(&session), 1, "bill.pdf").await;

    // Eight racing creates for the last two places: exactly two win.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let app = Arc::clone(&app);
        let session = session.clone();
        tasks.push(tokio::spawn(async move {
            app.post(
                "/v1/identity/documents/idvs",
                Some(&document_body(
                    "document/idv",
                    vec![jpeg_file(&format!("race{i}.jpg"))],
                    Some(&session),
                )),
            )
            .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        let r = t.await.expect("task");
        match r.status {
            StatusCode::CREATED => won += 1,
            _ if r.code() == "conflict" => {}
            _ => assert_limit(&r, "documents_per_session", 50),
        }
    }
    assert_eq!(won, 2, "the cap holds under concurrency");
    let shown = app.get(&format!("/v1/identity/sessions/{session}")).await;
    let linked = shown.json["data"]["relationships"]["documents"]["data"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(linked, 50, "{}", shown.json["data"]["relationships"]);
    // Nothing half-written: the refused documents do not exist.
    let listed = app
        .get(&format!(
            "/v1/identity/documents/idvs?filter[session_id]={session}&page[size]=100"
        ))
        .await;
    assert_eq!(ids(&listed).len(), 49, "49 ID documents and the bill");

    // The 51st, and a standalone document linked by a verification, are refused.
    let r = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&document_body(
                "document/idv",
                vec![jpeg_file("late.jpg")],
                Some(&session),
            )),
        )
        .await;
    assert_limit(&r, "documents_per_session", 50);
    let loose = uploaded_bill(&app, None, 1, "loose.pdf").await;
    assert_limit(
        &verify_bill(&app, &loose, Some(&session)).await,
        "documents_per_session",
        50,
    );
    // A document already linked still verifies.
    let r = verify_bill(&app, &bill, Some(&session)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
}

#[tokio::test]
async fn session_verifications_are_capped() {
    let app = TestApp::new().await;
    let session = app.create_session(None).await;
    let a = uploaded_bill(&app, Some(&session), 1, "a.pdf").await;
    let b = uploaded_bill(&app, Some(&session), 1, "b.pdf").await;
    for i in 0..100 {
        let doc = if i % 2 == 0 { &a } else { &b };
        let r = verify_bill(&app, doc, Some(&session)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{i}: {}", r.json);
    }
    let r = verify_bill(&app, &a, Some(&session)).await;
    assert_limit(&r, "verifications_per_session", 100);
    let shown = app.get(&format!("/v1/identity/sessions/{session}")).await;
    let verifications = shown.json["data"]["relationships"]["verifications"]["data"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(verifications, 100);
    let listed = app
        .get(&format!(
            "/v1/identity/verifications?filter[session_id]={session}&page[size]=100&page[total]=true"
        ))
        .await;
    assert_eq!(
        listed.json["meta"]["page"]["total"], 100,
        "nothing half-written"
    );
}

#[tokio::test]
async fn document_verifications_are_capped() {
    let app = TestApp::new().await;
    let doc = uploaded_bill(&app, None, 1, "bill.pdf").await;
    for i in 0..100 {
        let r = verify_bill(&app, &doc, None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{i}: {}", r.json);
    }
    assert_limit(
        &verify_bill(&app, &doc, None).await,
        "verifications_per_document",
        100,
    );
    let shown = app
        .get(&format!("/v1/identity/documents/addresses/{doc}"))
        .await;
    let linked = shown.json["data"]["relationships"]["verifications"]["data"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(linked, 100, "{}", shown.json["data"]["relationships"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn document_files_are_capped() {
    let app = Arc::new(TestApp::new().await);
    let full = create(
        &app,
        "/v1/identity/documents/idvs",
        &document_body(
            "document/idv",
            (0..4).map(|i| jpeg_file(&format!("{i}.jpg"))).collect(),
            None,
        ),
    )
    .await;
    let r = app
        .post(
            &format!("/v1/identity/documents/idvs/{full}/files"),
            Some(&json!({"data": {"type": "file", "attributes": jpeg_file("5.jpg")}})),
        )
        .await;
    assert_limit(&r, "files_per_document", 4);

    // Six racing additions to a document with two files: exactly two win.
    let doc = create(
        &app,
        "/v1/identity/documents/idvs",
        &document_body(
            "document/idv",
            vec![jpeg_file("a.jpg"), jpeg_file("b.jpg")],
            None,
        ),
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let app = Arc::clone(&app);
        let doc = doc.clone();
        tasks.push(tokio::spawn(async move {
            app.post(
                &format!("/v1/identity/documents/idvs/{doc}/files"),
                Some(&json!({"data": {"type": "file", "attributes": jpeg_file(&format!("r{i}.jpg"))}})),
            )
            .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        let r = t.await.expect("task");
        match r.status {
            StatusCode::CREATED => won += 1,
            _ if r.code() == "conflict" => {}
            _ => assert_limit(&r, "files_per_document", 4),
        }
    }
    assert_eq!(won, 2, "the cap holds under concurrency");
    let shown = app.get(&format!("/v1/identity/documents/idvs/{doc}")).await;
    assert_eq!(shown.attr("files").as_array().map_or(0, Vec::len), 4);
}

/// The size DynamoDB counts for an attribute value: strings and binaries by their bytes,
/// numbers at most their digits plus one (DynamoDB stores about half that), 1 byte for a
/// boolean or null, and 3 bytes per list or map plus 1 per element (and each map key).
fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len() + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len() + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(l) => 3 + l.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// The size of an item as DynamoDB counts it: attribute names plus values.
fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Reads an item back with GetItem and returns its size.
async fn stored_size(app: &TestApp, pk: String, sk: &str) -> usize {
    let out = app
        .client
        .get_item()
        .table_name(&app.table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item");
    item_size(&out.item.expect("the item exists"))
}

/// `n` characters of four UTF-8 bytes each (the most bytes a validated character takes).
fn wide(n: usize) -> String {
    "𝔚".repeat(n)
}

/// Every applicant attribute at its longest.
fn longest_applicant() -> Value {
    let email = format!(
        "{}@{}.{}.{}.example",
        "e".repeat(64),
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(53)
    );
    assert_eq!(email.len(), 254);
    json!({
        "person": {"name": {"first": wide(100), "middle": wide(100), "last": wide(100)},
                   "birth_date": "1990-01-01"},
        "business": {"legal_name": wide(200), "registration_date": "2000-01-01",
                     "registration_number": wide(100)},
        "contact": {"email": email, "phone": "+123456789012345"},
        "address": {"line1": wide(200), "line2": wide(200), "city": wide(200),
                    "subdivision": wide(200), "postal_code": wide(20), "country_code": "US"},
        "identity_numbers": (0..10).map(|i| json!({
            "number": wide(64), "issuing_country_code": "US",
            "class": format!("{}{i}", "c".repeat(39)),
        })).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn largest_session_item_stays_under_400kb() {
    let app = TestApp::new().await;
    let tenancy = app.tenancy.clone();
    let mut account_attrs = longest_applicant();
    account_attrs["entity_type"] = json!("person");
    account_attrs["external_id"] = json!(wide(255));
    let account = app
        .post(
            "/v1/identity/accounts",
            Some(&json!({"data": {"type": "account", "attributes": account_attrs}})),
        )
        .await;
    assert_eq!(account.status, StatusCode::CREATED, "{}", account.json);
    let account = account.id();

    let mut attrs = longest_applicant();
    attrs["entity_type"] = json!("person");
    let created = app
        .post(
            "/v1/identity/sessions",
            Some(&json!({"data": {"type": "session", "attributes": attrs,
                "relationships": {"account": {"data": {"type": "account", "id": account}}}}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let session = created.id();
    let device = app
        .post(
            "/v1/identity/session-devices",
            Some(&json!({"data": {"type": "session_device", "attributes": {
                "user_agent": wide(1000), "platform": wide(50), "locale": wide(35),
                "ip_address": "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "sdk_version": wide(50)},
                "relationships": {"session": {"data": {"type": "session", "id": session}}}}})),
        )
        .await;
    assert_eq!(device.status, StatusCode::CREATED, "{}", device.json);

    // One proof of address with four files under the longest names, verified 100 times
    // (the session's and the document's verification caps), and 49 more documents with four
    // longest-named files each (the session's document cap).
    // Its lines are as long as the extraction keeps (200 characters, two UTF-8 bytes each);
    // the letterhead line is far longer and must be cut.
    let mut long = recent_bill();
    long.issuer = "Ê".repeat(50_000);
    long.name = ["É".repeat(66), "É".repeat(66), "É".repeat(66)].join(" ");
    long.line1 = format!("1 {}", "é".repeat(198));
    long.line2 = Some("é".repeat(200));
    long.city = "é".repeat(180);
    let bill = uploaded_pdf(&app, Some(&session), 4, &wide(255), address_pdf(&long)).await;
    for i in 0..100 {
        let r = verify_bill(&app, &bill, Some(&session)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{i}: {}", r.json);
    }
    let checksum = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    for _ in 0..49 {
        let files = (0..4)
            .map(|_| {
                json!({"filename": wide(255), "content_type": "image/jpeg",
                       "byte_size": 10 * 1024 * 1024, "side": "front", "checksum": checksum})
            })
            .collect();
        let mut body = document_body("document/idv", files, Some(&session));
        body["data"]["attributes"]["document_type"] = json!("residence_permit");
        create(&app, "/v1/identity/documents/idvs", &body).await;
    }
    let r = app
        .post(
            "/v1/identity/documents/idvs",
            Some(&document_body(
                "document/idv",
                vec![jpeg_file("x.jpg")],
                Some(&session),
            )),
        )
        .await;
    assert_limit(&r, "documents_per_session", 50);
    // The bill reached its own cap with the session's: the document's is reported.
    assert_limit(
        &verify_bill(&app, &bill, Some(&session)).await,
        "verifications_per_document",
        100,
    );

    use idv::domain::ids::{AccountId, DocumentId, SessionId, VerificationId};
    use idv::store::keys;
    let session_size = stored_size(
        &app,
        keys::session_pk(&tenancy, SessionId::parse(&session).expect("id")),
        keys::SESSION_SK,
    )
    .await;
    let account_size = stored_size(
        &app,
        keys::account_pk(&tenancy, AccountId::parse(&account).expect("id")),
        keys::ACCOUNT_SK,
    )
    .await;
    let document_size = |id: String| {
        let app = &app;
        let tenancy = &tenancy;
        async move {
            stored_size(
                app,
                keys::document_pk(tenancy, DocumentId::parse(&id).expect("id")),
                keys::DOCUMENT_SK,
            )
            .await
        }
    };
    let bill_size = document_size(bill.clone()).await;
    let shown = app
        .get(&format!("/v1/identity/documents/addresses/{bill}"))
        .await;
    let issuer = shown.attr("extracted")["issuer"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(issuer.chars().count(), 200, "{}", shown.attr("extracted"));
    let listed = app
        .get(&format!(
            "/v1/identity/verifications?filter[session_id]={session}&page[size]=1"
        ))
        .await;
    let verification = ids(&listed).remove(0);
    let verification_size = stored_size(
        &app,
        keys::verification_pk(&tenancy, VerificationId::parse(&verification).expect("id")),
        keys::VERIFICATION_SK,
    )
    .await;
    let docs = app
        .get(&format!(
            "/v1/identity/documents/idvs?filter[session_id]={session}&page[size]=1"
        ))
        .await;
    let doc_size = document_size(ids(&docs).remove(0)).await;
    println!(
        "item sizes at the caps with the longest attributes: session {session_size} B, \
         account {account_size} B, ID document (4 files) {doc_size} B, proof of address \
         (4 files, 100 verifications) {bill_size} B, verification {verification_size} B"
    );
    for (what, size) in [
        ("session", session_size),
        ("account", account_size),
        ("document", doc_size),
        ("bill", bill_size),
        ("verification", verification_size),
    ] {
        assert!(size < ITEM_LIMIT, "{what}: {size} B");
    }
    // The session still takes writes: it can be decided and redacted.
    let r = app
        .post(&format!("/v1/identity/sessions/{session}/redact"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

/// A session's log grows with every PATCH and device registration; redaction used to read
/// all of it to find reviewers' comments. The session now names its commented events (the
/// decisions, at most two), and redaction strips them by key.
#[tokio::test]
async fn redaction_strips_comments_without_reading_a_long_log() {
    let app = TestApp::new().await;
    let id = app.create_session(None).await;
    app.complete_session(&id).await;
    let path = format!("/v1/identity/sessions/{id}");
    let r = app
        .post(
            &format!("{path}/mark-for-review"),
            Some(&json!({"meta": {"comment": "Zebulon's photo looks old"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    for i in 0..30 {
        let r = app
            .patch(
                &path,
                &json!({"data": {"type": "session", "attributes": {
                    "contact": {"email": format!("z{i}@example.com")}}}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    }
    let r = app
        .post(
            &format!("{path}/approve"),
            Some(&json!({"meta": {"comment": "approved after Zebulon called"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    let commented = |items: &[HashMap<String, AttributeValue>]| -> Vec<String> {
        items
            .iter()
            .filter(|i| {
                i.get("entity")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    == Some("session")
            })
            .filter_map(|i| i.get("commented_events").and_then(|v| v.as_l().ok()))
            .flat_map(|l| l.iter().filter_map(|v| v.as_n().ok().cloned()))
            .collect()
    };
    let before = commented(&app.scan_all().await);
    assert_eq!(
        before.len(),
        2,
        "the two decisions are named on the session"
    );

    let r = app.post(&format!("{path}/redact"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert!(
        !app.all_values().await.iter().any(|v| v.contains("Zebulon")),
        "no comment survives redaction"
    );
    let events = app.get(&format!("{path}/events?page[size]=100")).await;
    assert_eq!(events.status, StatusCode::OK);
    let log = events.json["data"].as_array().cloned().unwrap_or_default();
    assert!(log.len() >= 33, "the whole log is still there");
    assert!(log
        .iter()
        .all(|e| e["attributes"]["data"].get("comment").is_none()
            || e["attributes"]["data"]["comment"].is_null()));
    assert_eq!(commented(&app.scan_all().await), before);
}
