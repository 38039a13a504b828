//! Racing decisions: exactly one wins.

use std::sync::Arc;

use http::StatusCode;
use idv_tests::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_decisions_have_exactly_one_winner() {
    let app = Arc::new(TestApp::new().await);
    let id = app.create_session(None).await;
    app.complete_session(&id).await;

    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = Arc::clone(&app);
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let action = if i % 2 == 0 { "approve" } else { "decline" };
            let r = app
                .post(&format!("/v1/identity/sessions/{id}/{action}"), None)
                .await;
            (action, r.status, r.code().to_owned())
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (action, status, code) = task.await.expect("task");
        match status {
            StatusCode::OK => winners.push(action),
            StatusCode::CONFLICT => assert!(
                code == "invalid_transition" || code == "conflict",
                "unexpected 409 code {code}"
            ),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one decision succeeds: {winners:?}"
    );
    let expected = if winners[0] == "approve" {
        "approved"
    } else {
        "declined"
    };

    let shown = app.get(&format!("/v1/identity/sessions/{id}")).await;
    assert_eq!(shown.attr("status"), expected);
    let events = app
        .get(&format!("/v1/identity/sessions/{id}/events?page[size]=100"))
        .await;
    let decisions: Vec<&str> = events.json["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["attributes"]["type"].as_str())
        .filter(|t| *t == "session.approved" || *t == "session.declined")
        .collect();
    assert_eq!(
        decisions,
        vec![format!("session.{expected}").as_str()],
        "the log agrees"
    );
}
