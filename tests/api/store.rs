//! The store against DynamoDB Local, below the HTTP layer, and the table definition
//! against template.yaml.

use idv::domain::applicant::ApplicantData;
use idv::domain::event::{Actor, Event};
use idv::domain::ids::SessionId;
use idv::domain::session::{Action, Creator, EntityType, Session, SessionStatus};
use idv::domain::values::Timestamp;
use idv::store::sessions::SessionWriteError;
use idv_tests::TestApp;

fn new_session() -> Session {
    let now = Timestamp::now();
    Session::new(
        SessionId::new(now.datetime()),
        Creator {
            kind: "api".into(),
            id: None,
        },
        EntityType::Person,
        None,
        ApplicantData::default(),
        None,
        now,
    )
}

#[tokio::test]
async fn a_stale_write_is_refused_and_reports_the_stored_state() {
    let app = TestApp::new().await;
    let s = new_session();
    let created = Event::change(&s, "session.created", None, Actor::system("test"), None);
    app.store
        .create_session(&app.tenancy, &s, &created, None)
        .await
        .expect("create");

    let start = s
        .apply(Action::Start, Timestamp::now(), time::Duration::hours(1))
        .expect("legal");
    let event = Event::transition(&start, Actor::system("test"), None);
    app.store
        .replace_session(&app.tenancy, &s, &start.next, &[event], Vec::new())
        .await
        .expect("first write");

    // A second writer that read the same version loses, and learns the current state.
    let expire = s
        .apply(Action::Expire, Timestamp::now(), time::Duration::hours(1))
        .expect("legal from created");
    let event = Event::transition(&expire, Actor::system("test"), None);
    match app
        .store
        .replace_session(&app.tenancy, &s, &expire.next, &[event], Vec::new())
        .await
    {
        Err(SessionWriteError::Stale(Some(now))) => {
            assert_eq!(now.status(), SessionStatus::Started);
            assert_eq!(now.version, 2);
        }
        other => panic!("expected a stale write, got {other:?}"),
    }
    let stored = app
        .store
        .get_session(&app.tenancy, s.id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(stored.status(), SessionStatus::Started);
    let page = idv::store::query::PageRequest {
        size: 10,
        cursor: None,
        total: false,
    };
    let events = app
        .store
        .list_events(&app.tenancy, s.id, &page)
        .await
        .expect("events");
    assert_eq!(
        events.items.len(),
        2,
        "the losing event was not written either"
    );
}

#[tokio::test]
async fn items_carry_entity_and_schema_version_and_tenancy_leads_their_keys() {
    let app = TestApp::new().await;
    let account = app.create_account(Some("x")).await;
    app.create_session(Some(&account)).await;
    for item in app.scan_all().await {
        let entity = item
            .get("entity")
            .and_then(|v| v.as_s().ok())
            .expect("entity");
        assert!(item.contains_key("schema_version"), "{entity}");
        let pk = item.get("pk").and_then(|v| v.as_s().ok()).expect("pk");
        if entity != "api_key" {
            assert!(pk.starts_with("acme#staging#"), "{entity}: {pk}");
        }
    }
}

/// The table the CLI creates and the one the template declares agree.
#[test]
fn template_declares_the_same_table() {
    use serde_yaml::Value;
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("template.yaml");
    let doc: Value = serde_yaml::from_str(&text).expect("yaml");
    let table = &doc["Resources"]["Table"]["Properties"];
    let attrs: Vec<(String, String)> = table["AttributeDefinitions"]
        .as_sequence()
        .expect("attribute definitions")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap_or("").to_owned(),
                a["AttributeType"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = idv::store::table::key_attributes()
        .into_iter()
        .map(|a| (a.to_owned(), "S".to_owned()))
        .collect();
    assert_eq!(attrs, expected);
    let gsis = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes");
    assert_eq!(gsis.len(), idv::store::keys::INDEXES.len());
    for (gsi, index) in gsis.iter().zip(idv::store::keys::INDEXES) {
        assert_eq!(gsi["IndexName"].as_str(), Some(index.name));
        assert_eq!(
            gsi["KeySchema"][0]["AttributeName"].as_str(),
            Some(index.pk)
        );
        assert_eq!(
            gsi["KeySchema"][1]["AttributeName"].as_str(),
            Some(index.sk)
        );
        assert_eq!(gsi["Projection"]["ProjectionType"].as_str(), Some("ALL"));
    }
    assert_eq!(table["KeySchema"][0]["AttributeName"].as_str(), Some("pk"));
    assert_eq!(table["KeySchema"][1]["AttributeName"].as_str(), Some("sk"));
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(idv::store::keys::TTL)
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        table["StreamSpecification"]["StreamViewType"].as_str(),
        Some(idv::store::table::STREAM_VIEW)
    );
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
}

/// DynamoDB Local's TTL stops deleting anything in a table once an expired item lacks the
/// key of one of its indexes, so every item that carries a `ttl` is in every index.
#[tokio::test]
async fn every_item_with_a_ttl_is_in_every_index() {
    let app = TestApp::new().await;
    let body = serde_json::json!({"data": {"type": "session", "attributes": {"entity_type": "person",
        "expires_at": Timestamp::now().add(time::Duration::hours(1)).to_string()}}});
    let r = app
        .call(
            http::Method::POST,
            "/v1/identity/sessions",
            &app.key,
            Some(&body),
            &[("idempotency-key", "k-1")],
        )
        .await;
    assert_eq!(r.status, http::StatusCode::CREATED);
    app.post(&format!("/v1/identity/sessions/{}/redact", r.id()), None)
        .await;
    let mut with_ttl = 0;
    for item in app.scan_all().await {
        if !item.contains_key(idv::store::keys::TTL) {
            continue;
        }
        with_ttl += 1;
        for index in idv::store::keys::INDEXES {
            assert!(
                item.contains_key(index.pk) && item.contains_key(index.sk),
                "{:?} lacks {}",
                item.get("entity"),
                index.name
            );
        }
    }
    assert!(with_ttl >= 2, "an idempotency record and an expiry timer");
}

/// A transaction of typed writes names the write that refused, whatever its position, and
/// writes nothing.
#[tokio::test]
async fn a_refused_write_is_named_not_counted() {
    use idv::domain::document::{Document, DocumentKind};
    use idv::domain::ids::{AccountId, DocumentId};
    use idv::store::{Child, Refusal, Write, WriteError};

    let app = TestApp::new().await;
    let now = Timestamp::now();
    let doc = |id| Document::pending(id, DocumentKind::Idv, None, None, None, Vec::new(), now);
    let first = doc(DocumentId::new(now.datetime()));
    app.store
        .write(
            &app.tenancy,
            "test",
            vec![Write::NewDocument(first.clone())],
        )
        .await
        .expect("a new document");

    // A fresh document linked to an account that does not exist: the account check refuses
    // (it is the second write), and the document is not written.
    let fresh = doc(DocumentId::new(now.datetime()));
    let missing = AccountId::new(now.datetime());
    let mut writes = vec![Write::NewDocument(fresh.clone())];
    writes.extend(Write::link_child(Some(missing), Child::Document(fresh.id)));
    match app.store.write(&app.tenancy, "test", writes).await {
        Err(WriteError::Refused(Refusal::AccountMissing)) => {}
        other => panic!("expected the account check to refuse, got {other:?}"),
    }
    assert!(app
        .store
        .get_document(&app.tenancy, fresh.id)
        .await
        .expect("read")
        .is_none());

    // The same id written again: the document write refuses, by name, though it comes last.
    let s = new_session();
    let created = Event::change(&s, "session.created", None, Actor::system("test"), None);
    let writes = vec![
        Write::NewSession {
            session: s.clone(),
            events: vec![created],
        },
        Write::NewDocument(first.clone()),
    ];
    match app.store.write(&app.tenancy, "test", writes).await {
        Err(WriteError::Refused(Refusal::Document)) => {}
        other => panic!("expected the document write to refuse, got {other:?}"),
    }
    assert!(
        app.store
            .get_session(&app.tenancy, s.id)
            .await
            .expect("read")
            .is_none(),
        "nothing of a refused transaction is written"
    );
}
