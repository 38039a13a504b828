//! The local SQS through the real client: `aws-sdk-sqs` against [`serve`] over HTTP, and
//! the event source pump with the event Lambda functions deserialise.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use idv_local::queue::{serve, LocalQueues, MessageAttribute, Pumped, QueueConfig};
use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Local {
    queues: LocalQueues,
    addr: std::net::SocketAddr,
    client: Client,
}

impl Local {
    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/000000000000/{name}", self.addr.port())
    }
}

async fn start(defaults: QueueConfig) -> Local {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let queues = LocalQueues::with_defaults(defaults);
    tokio::spawn(serve(queues.clone(), listener));
    let config = aws_sdk_sqs::Config::builder()
        .http_client(idv::config::https_client())
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .build();
    Local {
        queues,
        addr,
        client: Client::from_conf(config),
    }
}

fn quick(visibility_secs: u64, max_receive_count: u32) -> QueueConfig {
    QueueConfig {
        visibility_timeout: Duration::from_secs(visibility_secs),
        max_receive_count,
    }
}

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("attribute")
}

/// A raw HTTP/1.1 request, for what the SDK cannot send; returns the status and body.
async fn raw(
    addr: std::net::SocketAddr,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response[9..12].parse().expect("status");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn attribute(local: &Local, queue: &str, name: QueueAttributeName) -> String {
    local
        .client
        .get_queue_attributes()
        .queue_url(local.url(queue))
        .attribute_names(name.clone())
        .send()
        .await
        .expect("get attributes")
        .attributes()
        .and_then(|a| a.get(&name).cloned())
        .expect("attribute present")
}

#[tokio::test]
async fn send_receive_delete_round_trip() {
    let local = start(QueueConfig::default()).await;
    let url = local
        .client
        .create_queue()
        .queue_name("round-trip")
        .send()
        .await
        .expect("create")
        .queue_url
        .expect("url");
    assert_eq!(url, local.url("round-trip"));
    let again = local
        .client
        .get_queue_url()
        .queue_name("round-trip")
        .send()
        .await
        .expect("get url");
    assert_eq!(again.queue_url(), Some(url.as_str()));

    let body = r#"{"webhook":"wh_1","attempt":1}"#;
    let sent = local
        .client
        .send_message()
        .queue_url(&url)
        .message_body(body)
        .message_attributes("kind", string_attribute("webhook"))
        .message_attributes(
            "attempt",
            MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("1")
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(sent.md5_of_message_body(), Some(md5_hex(body).as_str()));
    assert!(sent.md5_of_message_attributes().is_some());

    let received = local
        .client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .expect("receive");
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.message_id(), sent.message_id());
    assert_eq!(message.body(), Some(body));
    assert_eq!(message.md5_of_body(), Some(md5_hex(body).as_str()));
    assert_eq!(
        message.md5_of_message_attributes(),
        sent.md5_of_message_attributes()
    );
    let attributes = message.message_attributes().expect("attributes");
    assert_eq!(attributes["kind"].string_value(), Some("webhook"));
    assert_eq!(attributes["attempt"].data_type(), "Number");
    let system = message.attributes().expect("system attributes");
    assert_eq!(
        system[&MessageSystemAttributeName::ApproximateReceiveCount],
        "1"
    );
    assert!(system.contains_key(&MessageSystemAttributeName::SentTimestamp));
    assert_eq!(
        attribute(
            &local,
            "round-trip",
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible
        )
        .await,
        "1"
    );

    let handle = message.receipt_handle().expect("handle");
    local
        .client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(handle)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        local.queues.counts("round-trip"),
        Default::default(),
        "deleted"
    );
    // The handle of a deleted message works no more.
    let again = local
        .client
        .delete_message()
        .queue_url(&url)
        .receipt_handle(handle)
        .send()
        .await
        .expect_err("stale handle");
    assert_eq!(
        again.as_service_error().and_then(|e| e.meta().code()),
        Some("ReceiptHandleIsInvalid")
    );
}

#[tokio::test]
async fn batches_send_and_delete() {
    let local = start(QueueConfig::default()).await;
    let url = local.url("batches");
    let sent = local
        .client
        .send_message_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("a")
                .message_body("one")
                .build()
                .expect("entry"),
        )
        .entries(
            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                .id("b")
                .message_body("two")
                .delay_seconds(901)
                .build()
                .expect("entry"),
        )
        .send()
        .await
        .expect("batch");
    assert_eq!(sent.successful().len(), 1);
    assert_eq!(sent.successful()[0].md5_of_message_body(), md5_hex("one"));
    assert_eq!(sent.failed().len(), 1);
    assert_eq!(sent.failed()[0].code(), "InvalidParameterValue");

    let received = local
        .client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive");
    let handle = received.messages()[0].receipt_handle().expect("handle");
    let deleted = local
        .client
        .delete_message_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id("ok")
                .receipt_handle(handle)
                .build()
                .expect("entry"),
        )
        .entries(
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id("stale")
                .receipt_handle("not-a-handle")
                .build()
                .expect("entry"),
        )
        .send()
        .await
        .expect("delete batch");
    assert_eq!(deleted.successful().len(), 1);
    assert_eq!(deleted.failed()[0].id(), "stale");
    assert_eq!(deleted.failed()[0].code(), "ReceiptHandleIsInvalid");
    assert_eq!(local.queues.counts("batches"), Default::default());
}

#[tokio::test]
async fn delayed_messages_wait_for_their_delay() {
    let local = start(QueueConfig::default()).await;
    let url = local.url("delayed");
    let start = Instant::now();
    local
        .client
        .send_message()
        .queue_url(&url)
        .message_body("later")
        .delay_seconds(1)
        .send()
        .await
        .expect("send");
    let early = local
        .client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .expect("receive");
    assert!(early.messages().is_empty(), "received before its delay");
    assert_eq!(
        attribute(
            &local,
            "delayed",
            QueueAttributeName::ApproximateNumberOfMessagesDelayed
        )
        .await,
        "1"
    );
    // A long poll returns as soon as the delay has passed.
    let later = local
        .client
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(3)
        .send()
        .await
        .expect("receive");
    assert_eq!(later.messages().len(), 1);
    assert_eq!(later.messages()[0].body(), Some("later"));
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(950) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
}

#[tokio::test]
async fn long_polls_wake_on_send() {
    let local = start(QueueConfig::default()).await;
    let url = local.url("wake");
    let client = local.client.clone();
    let poll_url = url.clone();
    let poll = tokio::spawn(async move {
        client
            .receive_message()
            .queue_url(poll_url)
            .wait_time_seconds(5)
            .send()
            .await
            .expect("receive")
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    local
        .queues
        .send("wake", "now", BTreeMap::new(), Duration::ZERO);
    let received = poll.await.expect("poll");
    assert_eq!(received.messages().len(), 1);
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[tokio::test]
async fn received_messages_reappear_after_their_visibility_timeout() {
    let local = start(quick(1, 10)).await;
    let url = local.url("visibility");
    local
        .client
        .send_message()
        .queue_url(&url)
        .message_body("again")
        .send()
        .await
        .expect("send");
    let receive = || {
        local
            .client
            .receive_message()
            .queue_url(&url)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
    };
    let first = receive().await.expect("receive");
    let first_handle = first.messages()[0]
        .receipt_handle()
        .expect("handle")
        .to_owned();
    assert!(receive().await.expect("receive").messages().is_empty());

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = receive().await.expect("receive");
    let message = &second.messages()[0];
    assert_eq!(
        message.attributes().expect("attributes")
            [&MessageSystemAttributeName::ApproximateReceiveCount],
        "2"
    );
    let handle = message.receipt_handle().expect("handle").to_owned();
    assert_ne!(handle, first_handle);

    // Only the latest handle works.
    let stale = local
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&first_handle)
        .visibility_timeout(0)
        .send()
        .await
        .expect_err("stale handle");
    assert!(
        matches!(
            stale.as_service_error(),
            Some(aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError::ReceiptHandleIsInvalid(_))
        ),
        "{stale:?}"
    );

    // Visibility 0: visible at once.
    local
        .client
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&handle)
        .visibility_timeout(0)
        .send()
        .await
        .expect("change visibility");
    let third = receive().await.expect("receive");
    assert_eq!(third.messages().len(), 1);

    // A longer one keeps it hidden past the queue's timeout.
    let handle = third.messages()[0].receipt_handle().expect("handle");
    local
        .client
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("m")
                .receipt_handle(handle)
                .visibility_timeout(60)
                .build()
                .expect("entry"),
        )
        .send()
        .await
        .expect("change visibility batch");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(receive().await.expect("receive").messages().is_empty());
    assert_eq!(local.queues.counts("visibility").in_flight, 1);

    local
        .client
        .purge_queue()
        .queue_url(&url)
        .send()
        .await
        .expect("purge");
    assert_eq!(local.queues.counts("visibility"), Default::default());
}

#[tokio::test]
async fn pump_deletes_successes_retries_failures_and_dead_letters() {
    let local = Arc::new(start(quick(30, 3)).await);
    let queue = "pumped";
    let mut attributes = BTreeMap::new();
    attributes.insert("kind".to_owned(), MessageAttribute::string("webhook"));
    let good = local
        .queues
        .send(queue, "good", attributes.clone(), Duration::ZERO);
    let bad = local.queues.send(queue, "bad", attributes, Duration::ZERO);

    // The function fails "bad" and, as a retrying function does, sets its visibility to
    // the backoff (here 0, to retry at once) through the server before reporting it.
    let deliveries = Arc::new(AtomicUsize::new(0));
    let pump = |expect_count: &'static str| {
        let local = local.clone();
        let deliveries = deliveries.clone();
        move |event: serde_json::Value| async move {
            deliveries.fetch_add(1, Ordering::SeqCst);
            let event: SqsEvent = serde_json::from_value(event).map_err(|e| e.to_string())?;
            let mut failed = Vec::new();
            for record in &event.records {
                if record.body.as_deref() == Some("bad") {
                    assert_eq!(record.attributes["ApproximateReceiveCount"], expect_count);
                    local
                        .client
                        .change_message_visibility()
                        .queue_url(local.url("pumped"))
                        .receipt_handle(record.receipt_handle.clone().unwrap_or_default())
                        .visibility_timeout(0)
                        .send()
                        .await
                        .map_err(|e| format!("{e:?}"))?;
                    failed.push(record.message_id.clone().unwrap_or_default());
                }
            }
            Ok(failed)
        }
    };

    let first = local.queues.pump_once(queue, 10, pump("1")).await;
    assert_eq!(
        first,
        Pumped {
            received: 2,
            delivered: 1,
            failed: 1,
            dead_lettered: 0
        }
    );
    let counts = local.queues.counts(queue);
    assert_eq!((counts.visible, counts.in_flight), (1, 0), "{good} deleted");

    let second = local.queues.pump_once(queue, 10, pump("2")).await;
    assert_eq!((second.received, second.failed), (1, 1));
    let third = local.queues.pump_once(queue, 10, pump("3")).await;
    assert_eq!((third.received, third.failed), (1, 1));
    assert_eq!(deliveries.load(Ordering::SeqCst), 3);

    // Three receives used up: the next receive moves it to the dead-letter queue.
    let fourth = local.queues.pump_once(queue, 10, pump("4")).await;
    assert_eq!(
        fourth,
        Pumped {
            received: 0,
            delivered: 0,
            failed: 0,
            dead_lettered: 1
        }
    );
    assert_eq!(deliveries.load(Ordering::SeqCst), 3, "no empty deliveries");
    assert_eq!(
        attribute(
            &local,
            "pumped-dlq",
            QueueAttributeName::ApproximateNumberOfMessages
        )
        .await,
        "1"
    );
    assert_eq!(local.queues.counts(queue), Default::default());
    let fifth = local.queues.pump_once(queue, 10, pump("5")).await;
    assert_eq!(fifth, Pumped::default());

    // In the dead-letter queue it keeps its id and body.
    let dead = local
        .client
        .receive_message()
        .queue_url(local.url("pumped-dlq"))
        .send()
        .await
        .expect("receive");
    assert_eq!(dead.messages()[0].message_id(), Some(bad.as_str()));
    assert_eq!(dead.messages()[0].body(), Some("bad"));
}

#[tokio::test]
async fn a_failed_batch_reappears_after_the_visibility_timeout() {
    let local = start(quick(1, 10)).await;
    local
        .queues
        .send("whole", "a", BTreeMap::new(), Duration::ZERO);
    local
        .queues
        .send("whole", "b", BTreeMap::new(), Duration::ZERO);
    let failed = local
        .queues
        .pump_once("whole", 10, |_| async { Err("function error".to_owned()) })
        .await;
    assert_eq!((failed.received, failed.failed), (2, 2));
    assert_eq!(local.queues.counts("whole").in_flight, 2);

    // A failure naming a message not in the batch fails the whole batch, as on AWS.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let unknown = local
        .queues
        .pump_once("whole", 10, |_| async { Ok(vec!["nope".to_owned()]) })
        .await;
    assert_eq!((unknown.received, unknown.failed), (2, 2));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ok = local
        .queues
        .pump_once("whole", 1, |_| async { Ok(Vec::new()) })
        .await;
    assert_eq!((ok.received, ok.delivered), (1, 1), "batch size honoured");
}

#[tokio::test]
async fn the_pumped_event_is_the_lambda_sqs_event() {
    let local = start(QueueConfig::default()).await;
    let mut attributes = BTreeMap::new();
    attributes.insert("kind".to_owned(), MessageAttribute::string("webhook"));
    let id = local.queues.send(
        "idv-webhook-deliveries",
        "{\"x\":1}",
        attributes,
        Duration::ZERO,
    );
    let seen = Arc::new(std::sync::Mutex::new(None));
    let keep = seen.clone();
    local
        .queues
        .pump_once("idv-webhook-deliveries", 10, |event| async move {
            *keep.lock().expect("lock") = Some(event);
            Ok(Vec::new())
        })
        .await;
    let event = seen.lock().expect("lock").take().expect("delivered");
    let record = &event["Records"][0];
    for key in ["SentTimestamp", "ApproximateFirstReceiveTimestamp"] {
        let millis: u64 = record["attributes"][key]
            .as_str()
            .expect(key)
            .parse()
            .expect(key);
        assert!(millis > 1_700_000_000_000, "{key} in milliseconds");
    }
    let parsed: SqsEvent = serde_json::from_value(event.clone()).expect("SqsEvent");
    let message = &parsed.records[0];
    assert_eq!(message.message_id.as_deref(), Some(id.as_str()));
    assert_eq!(message.body.as_deref(), Some("{\"x\":1}"));
    assert_eq!(
        message.md5_of_body.as_deref(),
        Some(md5_hex("{\"x\":1}").as_str())
    );
    assert!(message.receipt_handle.is_some());
    assert_eq!(message.event_source.as_deref(), Some("aws:sqs"));
    assert_eq!(
        message.event_source_arn.as_deref(),
        Some("arn:aws:sqs:us-east-1:000000000000:idv-webhook-deliveries")
    );
    assert_eq!(message.aws_region.as_deref(), Some("us-east-1"));
    assert_eq!(message.attributes["ApproximateReceiveCount"], "1");
    assert_eq!(message.attributes["SenderId"], "000000000000");
    let kind = &message.message_attributes["kind"];
    assert_eq!(kind.string_value.as_deref(), Some("webhook"));
    assert_eq!(kind.data_type.as_deref(), Some("String"));
    assert!(message.md5_of_message_attributes.is_some());
}

#[tokio::test]
async fn bad_requests_get_sqs_errors_and_the_server_keeps_serving() {
    let local = start(QueueConfig::default()).await;
    let url = local.url("bad");

    // Through the SDK: parsed as service errors with SQS's codes.
    let too_late = local
        .client
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .delay_seconds(901)
        .send()
        .await
        .expect_err("DelaySeconds 901");
    let service = too_late.as_service_error().expect("a service error");
    assert_eq!(service.meta().code(), Some("InvalidParameterValue"));
    assert!(service.meta().message().is_some());

    let no_url = local
        .client
        .send_message()
        .message_body("x")
        .send()
        .await
        .expect_err("no QueueUrl");
    assert_eq!(
        no_url.as_service_error().and_then(|e| e.meta().code()),
        Some("MissingParameter"),
        "{no_url:?}"
    );

    let wrong_queue = local
        .client
        .receive_message()
        .queue_url("not a url")
        .send()
        .await
        .expect_err("bad QueueUrl");
    assert!(
        matches!(
            wrong_queue.as_service_error(),
            Some(
                aws_sdk_sqs::operation::receive_message::ReceiveMessageError::QueueDoesNotExist(_)
            )
        ),
        "{wrong_queue:?}"
    );

    let bad_visibility = local
        .client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(43_201)
        .send()
        .await
        .expect_err("visibility too long");
    assert_eq!(
        bad_visibility
            .as_service_error()
            .and_then(|e| e.meta().code()),
        Some("InvalidParameterValue")
    );

    // Raw: what no SDK sends.
    let json = [
        ("Authorization", "AWS4-HMAC-SHA256 Credential=local"),
        ("Content-Type", "application/x-amz-json-1.0"),
    ];
    let with_target = |op: &'static str| {
        let mut h = json.to_vec();
        h.push(("X-Amz-Target", op));
        h
    };
    let (status, body) = raw(
        local.addr,
        "POST",
        &with_target("AmazonSQS.Frobnicate"),
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("UnknownOperation"), "{body}");

    let (status, body) = raw(
        local.addr,
        "POST",
        &with_target("AmazonSQS.SendMessage"),
        "{\"QueueUrl\": ",
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("com.amazonaws.sqs#InvalidParameterValue"),
        "{body}"
    );

    let (status, body) = raw(
        local.addr,
        "POST",
        &with_target("AmazonSQS.SendMessage"),
        "[1, 2]",
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = raw(
        local.addr,
        "POST",
        &with_target("AmazonSQS.SendMessage"),
        "{\"QueueUrl\": 5, \"MessageBody\": \"x\"}",
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = raw(
        local.addr,
        "POST",
        &with_target("AmazonSQS.ReceiveMessage"),
        &format!("{{\"QueueUrl\": \"{url}\", \"MaxNumberOfMessages\": 11}}"),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = raw(
        local.addr,
        "POST",
        &with_target("AmazonSQS.GetQueueAttributes"),
        &format!("{{\"QueueUrl\": \"{url}\", \"AttributeNames\": [\"Bogus\"]}}"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidAttributeName"), "{body}");
    // Attributes SQS knows but the local queues leave unset are omitted, not refused.
    let unset = local
        .client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::Policy)
        .send()
        .await
        .expect("unset attribute");
    assert!(unset.attributes().is_none_or(|a| a.is_empty()));

    let (status, _) = raw(local.addr, "GET", &json, "").await;
    assert_eq!(status, 400);

    // No Authorization header: refused, as AWS does.
    let (status, body) = raw(
        local.addr,
        "POST",
        &[("X-Amz-Target", "AmazonSQS.GetQueueUrl")],
        "{\"QueueName\": \"bad\"}",
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("MissingAuthenticationToken"), "{body}");

    // Still serving.
    local
        .client
        .send_message()
        .queue_url(&url)
        .message_body("fine")
        .send()
        .await
        .expect("send after the bad requests");
    assert_eq!(local.queues.counts("bad").visible, 1);
}
