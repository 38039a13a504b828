//! Measures the webhook fan-out and delivery path against DynamoDB Local, the SQS stand-in
//! and three loopback receivers: 1,000 feed events fanned out to 3 endpoints in stream
//! batches of 100 (time, DynamoDB round trips per event), then every job delivered (time,
//! deliveries per second, round trips per delivery).
//!
//! `infra/bench-webhooks.sh` runs it with the servers it needs.

use std::time::Instant;

use idv::domain::values::Timestamp;
use idv_tests::receiver::Receiver;
use idv_tests::TestApp;
use serde_json::json;

#[tokio::main]
async fn main() {
    let app = TestApp::new().await;
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mut receivers = Vec::new();
    for _ in 0..3 {
        let r = Receiver::start(&[]).await;
        let created = app
            .post(
                "/v1/identity/webhook-endpoints",
                Some(&json!({"data": {"type": "webhook_endpoint", "attributes": {
                    "url": r.url, "enabled_events": ["session.*"]}}})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.json);
        receivers.push(r);
    }
    let (store, ops) = app.counted_store();
    let events = idv_tests::feed_events(&app.tenancy, n);
    let started = Instant::now();
    let mut jobs = 0;
    for batch in events.chunks(100) {
        jobs += idv::workflow::webhooks::fan_out(&store, &app.hooks, batch, Timestamp::now())
            .await
            .expect("fan out");
    }
    let fan_out = started.elapsed();
    let fan_out_ops = ops.count();
    println!(
        "fan-out: {n} events × 3 endpoints = {jobs} jobs in {:.0} ms ({:.2} ms per event), {fan_out_ops} DynamoDB round trips ({:.3} per event)",
        fan_out.as_secs_f64() * 1000.0,
        fan_out.as_secs_f64() * 1000.0 / n as f64,
        fan_out_ops as f64 / n as f64
    );

    // Deliver them with the same handler the queue feeds, ten per batch like the template.
    let pipeline = webhooks::Pipeline {
        store: store.clone(),
        hooks: app.hooks.clone(),
    };
    // Events must exist for delivery: write them as the feed would.
    for (tenancy, e) in &events {
        let item = idv::store::feed::feed_item(tenancy, e).expect("item");
        app.client
            .put_item()
            .table_name(&app.table)
            .set_item(Some(item))
            .send()
            .await
            .expect("put event");
    }
    let before = ops.count();
    let started = Instant::now();
    let total = || receivers.iter().map(Receiver::count).sum::<usize>();
    while total() < jobs && started.elapsed().as_secs() < 600 {
        let p = pipeline.clone();
        app.queues
            .pump_once(&app.queue_name, 10, |event| async move {
                let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                Ok(p.deliver(event)
                    .await
                    .batch_item_failures
                    .into_iter()
                    .map(|f| f.item_identifier)
                    .collect())
            })
            .await;
    }
    let delivery = started.elapsed();
    let delivered = total();
    println!(
        "delivery: {delivered} signed POSTs in {:.0} ms ({:.0} per second, 10 per batch), {:.2} DynamoDB round trips per delivery",
        delivery.as_secs_f64() * 1000.0,
        delivered as f64 / delivery.as_secs_f64(),
        (ops.count() - before) as f64 / delivered.max(1) as f64
    );
}
