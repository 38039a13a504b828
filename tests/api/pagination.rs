//! Lists: filters, newest-first order, cursors both ways, totals.

use http::StatusCode;
use idv_tests::{Reply, TestApp};
use serde_json::json;

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

#[tokio::test]
async fn pages_walk_forward_and_back_without_gaps() {
    let app = TestApp::new().await;
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(app.create_session(None).await);
    }
    created.reverse(); // newest first

    let first = app
        .get("/v1/identity/sessions?page[size]=3&page[total]=true")
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(ids(&first), created[0..3]);
    assert_eq!(
        first.json["meta"]["page"],
        json!({"size": 3, "has_next": true, "has_previous": false, "total": 7,
               "total_is_lower_bound": false})
    );
    assert_eq!(first.json["links"]["prev"], json!(null));

    let second = app.get(&link(&first, "next").expect("next")).await;
    assert_eq!(ids(&second), created[3..6]);
    assert_eq!(second.json["meta"]["page"]["has_previous"], true);
    let third = app.get(&link(&second, "next").expect("next")).await;
    assert_eq!(ids(&third), created[6..7]);
    assert_eq!(third.json["meta"]["page"]["has_next"], false);
    assert_eq!(third.json["links"]["next"], json!(null));

    let back = app.get(&link(&third, "prev").expect("prev")).await;
    assert_eq!(ids(&back), created[3..6]);
    let back = app.get(&link(&back, "prev").expect("prev")).await;
    assert_eq!(ids(&back), created[0..3]);
    assert_eq!(back.json["meta"]["page"]["has_previous"], false);
    assert!(link(&first, "self")
        .expect("self")
        .starts_with("/v1/identity/sessions?"));
}

#[tokio::test]
async fn filters_combine_and_cursors_are_bound_to_them() {
    let app = TestApp::new().await;
    let account = app.create_account(None).await;
    let a1 = app.create_session(Some(&account)).await;
    let loose = app.create_session(None).await;
    let a2 = app.create_session(Some(&account)).await;
    let business = json!({"data": {"type": "session", "attributes": {"entity_type": "business"}}});
    let b = app
        .post("/v1/identity/sessions", Some(&business))
        .await
        .id();
    app.complete_session(&a2).await;
    app.complete_session(&loose).await;
    assert_eq!(
        app.post(&format!("/v1/identity/sessions/{loose}/approve"), None)
            .await
            .status,
        StatusCode::OK
    );

    let r = app
        .get(&format!(
            "/v1/identity/sessions?filter[account_id]={account}"
        ))
        .await;
    assert_eq!(ids(&r), [a2.clone(), a1.clone()]);
    let r = app
        .get(&format!(
            "/v1/identity/sessions?filter[account]={account}&filter[status]=completed"
        ))
        .await;
    assert_eq!(ids(&r), vec![a2.clone()]);
    let r = app
        .get("/v1/identity/sessions?filter[status]=created,approved")
        .await;
    assert_eq!(ids(&r), [b.clone(), loose.clone(), a1.clone()]);
    let r = app
        .get("/v1/identity/sessions?filter[entity_type]=business")
        .await;
    assert_eq!(ids(&r), vec![b.clone()]);
    let r = app
        .get("/v1/identity/sessions?filter[status]=created&filter[entity_type]=person")
        .await;
    assert_eq!(ids(&r), vec![a1.clone()]);

    // Multi-status pages merge partitions in order.
    let page1 = app
        .get("/v1/identity/sessions?filter[status]=created,approved,completed&page[size]=2")
        .await;
    assert_eq!(ids(&page1), [b.clone(), a2.clone()]);
    let next = link(&page1, "next").expect("next");
    let page2 = app.get(&next).await;
    assert_eq!(ids(&page2), [loose.clone(), a1.clone()]);

    // The same cursor with other filters is refused.
    let cursor = next
        .split("page%5Bafter%5D=")
        .nth(1)
        .expect("cursor")
        .to_owned();
    let r = app
        .get(&format!(
            "/v1/identity/sessions?filter[status]=created&page[size]=2&page[after]={cursor}"
        ))
        .await;
    assert_eq!(
        (r.status, r.code(), r.source()),
        (StatusCode::BAD_REQUEST, "invalid_parameter", "page[after]")
    );

    // Created-at ranges.
    let all = app.get("/v1/identity/sessions").await;
    let created_at = |i: usize| {
        all.json["data"][i]["attributes"]["created_at"]
            .as_str()
            .expect("ts")
            .to_owned()
    };
    let r = app
        .get(&format!(
            "/v1/identity/sessions?filter[created_at_from]={}&filter[created_at_to]={}",
            created_at(2),
            created_at(1)
        ))
        .await;
    assert_eq!(ids(&r), [ids(&all)[1].clone(), ids(&all)[2].clone()]);

    // A device nobody registered matches nothing.
    let dev = idv::domain::ids::DeviceId::new(time::OffsetDateTime::now_utc());
    let r = app
        .get(&format!(
            "/v1/identity/sessions?filter[session_device]={dev}"
        ))
        .await;
    assert_eq!(r.json["data"], json!([]));
}

#[tokio::test]
async fn accounts_list_by_external_id_and_status() {
    let app = TestApp::new().await;
    let a = app.create_account(Some("ext-a")).await;
    let b = app.create_account(Some("ext-b")).await;
    let body = json!({"data": {"type": "account", "id": b, "attributes": {"status": "suspended"}}});
    assert_eq!(
        app.patch(&format!("/v1/identity/accounts/{b}"), &body)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        ids(&app
            .get("/v1/identity/accounts?filter[external_id]=ext-a")
            .await),
        vec![a.clone()]
    );
    assert_eq!(
        ids(&app
            .get("/v1/identity/accounts?filter[status]=suspended")
            .await),
        vec![b.clone()]
    );
    assert_eq!(
        ids(&app
            .get("/v1/identity/accounts?filter[status]=active,suspended")
            .await),
        [b.clone(), a.clone()]
    );
    assert_eq!(
        ids(&app
            .get("/v1/identity/accounts?filter[external_id]=ext-b&filter[status]=active")
            .await),
        Vec::<String>::new()
    );
    let r = app.get("/v1/identity/accounts?page[size]=1").await;
    assert_eq!(ids(&r), vec![b.clone()]);
    assert_eq!(ids(&app.get(&link(&r, "next").expect("next")).await), [a]);
}

#[tokio::test]
async fn short_pages_walk_both_ways_without_gaps() {
    use idv::domain::session::{Action, EntityType, SessionStatus};
    let app = TestApp::new().await;
    // 300 sessions over three status partitions; one in 23 is a business. A list of
    // created or approved businesses merges two partitions with a filter, so its pages stop
    // at the read bound, short or empty, and must still add up to exactly the matches.
    let sessions: Vec<_> = (0..300)
        .map(|i| {
            let s = TestApp::new_session(if i % 23 == 0 {
                EntityType::Business
            } else {
                EntityType::Person
            });
            // Created, approved and completed in turn.
            let path: &[Action] = match i % 3 {
                0 => &[],
                1 => &[
                    Action::Start,
                    Action::Submit,
                    Action::Complete,
                    Action::Approve,
                ],
                _ => &[Action::Start, Action::Submit, Action::Complete],
            };
            TestApp::walk(s, path)
        })
        .collect();
    app.put_sessions(&sessions).await;
    let mut expected: Vec<(String, String)> = sessions
        .iter()
        .filter(|s| s.entity_type == EntityType::Business && s.status() != SessionStatus::Completed)
        .map(|s| {
            (
                idv::store::keys::position(s.created_at, &s.id),
                s.id.to_string(),
            )
        })
        .collect();
    expected.sort();
    expected.reverse();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    assert!(expected.len() >= 8);

    let mut forward = Vec::new();
    let mut r = app
        .get("/v1/identity/sessions?filter[status]=created,approved&filter[entity_type]=business&page[size]=2")
        .await;
    let mut requests = 1;
    loop {
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        assert!(ids(&r).len() <= 2);
        forward.extend(ids(&r));
        match link(&r, "next") {
            Some(n) => {
                requests += 1;
                r = app.get(&n).await;
            }
            None => break,
        }
    }
    assert_eq!(forward, expected);
    assert!(requests < 20, "{requests} requests");
    let last_page = ids(&r).len();

    let mut backward = Vec::new();
    while let Some(p) = link(&r, "prev") {
        r = app.get(&p).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        let mut page = ids(&r);
        page.reverse();
        backward.extend(page);
    }
    backward.reverse();
    // The walk back starts before the last page's first item.
    assert_eq!(backward, expected[..expected.len() - last_page]);
}
