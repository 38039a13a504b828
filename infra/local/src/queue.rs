//! An in-memory, SQS-compatible queue server for the local stack, and the Lambda event
//! source mapping that drains a queue into a function.
//!
//! Functions that use `aws-sdk-sqs` (send with `DelaySeconds`, change a message's
//! visibility to delay its retry, ...) must run unchanged locally, and no SQS emulator is
//! part of the stack. [`serve`] speaks the protocol the current SDK uses, **awsJson1_0**
//! (`POST /`, `X-Amz-Target: AmazonSQS.<Operation>`, `Content-Type:
//! application/x-amz-json-1.0`), with the error shape the SDK parses: a JSON body
//! `{"__type": "com.amazonaws.sqs#<Shape>", "message": ...}` plus the
//! `x-amzn-query-error: <code>;Sender` header from which it takes the query-compatible
//! error code (`AWS.SimpleQueueService.NonExistentQueue`, `ReceiptHandleIsInvalid`, ...).
//!
//! What it owns: [`LocalQueues`], the queues themselves (created on first use, standard
//! queues only, one account `000000000000` in `us-east-1`), their visibility timeouts,
//! delays, receipt handles (only the latest one of a message works, as on AWS) and redrive
//! to `<name>-dlq`; the HTTP front ([`serve`]); and [`LocalQueues::pump_once`], which does
//! what Lambda's SQS poller does: receive a batch, invoke the function with the SQS event
//! AWS would deliver, delete what succeeded and leave the reported failures to reappear.
//!
//! Not emulated: signatures are **not verified** (a request must carry an `Authorization`
//! header, as AWS refuses anonymous calls, but any value is accepted), FIFO queues, queue
//! deletion and tags, permissions, message system attributes on send, the list types of
//! message attributes, message retention, and queue-level `DelaySeconds`. The dead-letter
//! queue is always `<name>-dlq` (a `CreateQueue` `RedrivePolicy` sets only its
//! `maxReceiveCount`; its `deadLetterTargetArn` is ignored), and any queue named in a
//! request exists: `GetQueueUrl` creates it rather than answering `QueueDoesNotExist`.
//! `MD5OfMessageBody` and `MD5OfMessageAttributes` are computed with SQS's algorithm even
//! though `aws-sdk-sqs` (unlike the Java SDK) does not check them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};

/// The account id in queue URLs and ARNs.
pub const ACCOUNT: &str = "000000000000";
/// The region in ARNs and Lambda events.
pub const REGION: &str = "us-east-1";
/// A queue's visibility timeout unless configured otherwise (SQS's default).
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many receives a message gets before it moves to the dead-letter queue.
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 10;
/// SQS's largest message (1 MiB since August 2025), body plus attributes.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// The largest request body the server reads: a full batch plus JSON overhead. Bigger
/// requests are refused before they are buffered.
const MAX_REQUEST_BYTES: usize = 2 * MAX_MESSAGE_BYTES;
/// The longest visibility timeout SQS accepts (12 hours).
const MAX_VISIBILITY_SECONDS: i64 = 43_200;
/// The longest delay SQS accepts (15 minutes).
const MAX_DELAY_SECONDS: i64 = 900;
/// The longest long poll SQS accepts.
const MAX_WAIT_SECONDS: i64 = 20;
/// The suffix of a queue's dead-letter queue; such queues have no redrive of their own.
const DLQ_SUFFIX: &str = "-dlq";
/// Queue attribute names SQS knows that the local queues never set (`All` included).
const UNSET_ATTRIBUTES: [&str; 11] = [
    "All",
    "Policy",
    "MessageRetentionPeriod",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// How a queue behaves: the part of its attributes the local stack needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// How long a received message stays hidden unless the receive says otherwise.
    pub visibility_timeout: Duration,
    /// Receives before a message moves to `<name>-dlq` (its redrive policy).
    pub max_receive_count: u32,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            max_receive_count: DEFAULT_MAX_RECEIVE_COUNT,
        }
    }
}

/// A message attribute as sent: `String`/`Number` types (and custom `String.x` types)
/// carry `string_value`, `Binary` ones carry `binary_value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// `String`, `Number`, `Binary`, optionally with a custom suffix (`String.url`).
    pub data_type: String,
    /// The value of a string or number attribute.
    pub string_value: Option<String>,
    /// The value of a binary attribute.
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttribute {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> MessageAttribute {
        MessageAttribute {
            data_type: "String".into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }
}

/// How many messages a queue holds, as `GetQueueAttributes` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Messages that can be received now (`ApproximateNumberOfMessages`).
    pub visible: usize,
    /// Received messages still hidden (`ApproximateNumberOfMessagesNotVisible`).
    pub in_flight: usize,
    /// Messages whose `DelaySeconds` has not passed (`ApproximateNumberOfMessagesDelayed`).
    pub delayed: usize,
}

/// What one [`LocalQueues::pump_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pumped {
    /// Messages received and handed to the function.
    pub received: usize,
    /// Messages the function processed, now deleted.
    pub delivered: usize,
    /// Messages the function reported failed (or the whole batch, if it failed); they
    /// reappear when their visibility timeout expires.
    pub failed: usize,
    /// Messages moved to the dead-letter queue instead of being received again.
    pub dead_lettered: usize,
}

/// The queues of the local stack. Cloning is cheap: clones share the queues.
#[derive(Clone, Default)]
pub struct LocalQueues {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    /// Woken on every send and visibility change, so that long polls answer at once.
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct State {
    defaults: QueueConfig,
    queues: HashMap<String, Queue>,
}

struct Queue {
    config: QueueConfig,
    created: u64,
    /// In send order; receives take the oldest visible ones first (standard queues only
    /// promise best-effort order, which this satisfies).
    messages: Vec<Message>,
}

#[derive(Clone)]
struct Message {
    id: String,
    body: String,
    attributes: BTreeMap<String, MessageAttribute>,
    sent: u64,
    receive_count: u32,
    first_receive: Option<u64>,
    visible_at: Instant,
    /// The handle of the latest receive; `None` until the first one. Older handles no
    /// longer match, so they stop working.
    receipt: Option<String>,
}

impl Message {
    fn in_flight(&self, now: Instant) -> bool {
        self.receipt.is_some() && self.visible_at > now
    }

    fn delayed(&self, now: Instant) -> bool {
        self.receipt.is_none() && self.visible_at > now
    }
}

/// A message as one receive returns it.
struct Received {
    id: String,
    receipt: String,
    body: String,
    attributes: BTreeMap<String, MessageAttribute>,
    sent: u64,
    receive_count: u32,
    first_receive: u64,
}

/// A request the server refuses, with the error shape the SDK parses.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    /// The shape name, sent as `__type`.
    shape: &'static str,
    /// The query-compatible code the SDK matches on (`x-amzn-query-error`).
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(shape: &'static str, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            shape,
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new("InvalidParameterValue", "InvalidParameterValue", message)
    }

    fn missing(name: &str) -> ApiError {
        ApiError::new(
            "MissingParameter",
            "MissingParameter",
            format!("The request must contain the parameter {name}."),
        )
    }

    fn receipt_invalid() -> ApiError {
        ApiError::new(
            "ReceiptHandleIsInvalid",
            "ReceiptHandleIsInvalid",
            "The receipt handle is not the latest one of a message in this queue.",
        )
    }

    fn not_in_flight() -> ApiError {
        ApiError::new(
            "MessageNotInflight",
            "AWS.SimpleQueueService.MessageNotInflight",
            "The message is not in flight.",
        )
    }
}

/// Milliseconds since the epoch, as SQS reports timestamps.
fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A fresh ULID, the shape of the stack's other ids (message ids, receipt handles).
fn new_ulid() -> String {
    idv::domain::ids::new_ulid(time::OffsetDateTime::now_utc()).to_string()
}

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// SQS's `MD5OfMessageAttributes`: over the attributes sorted by name, each name, data
/// type, a transport byte (1 string, 2 binary) and value, every variable part prefixed
/// with its length as a 4-byte big-endian integer.
fn md5_of_attributes(attributes: &BTreeMap<String, MessageAttribute>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    fn put(buf: &mut Vec<u8>, bytes: &[u8]) {
        // Lengths are bounded by MAX_MESSAGE_BYTES, so they fit.
        buf.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        buf.extend_from_slice(bytes);
    }
    let mut buf = Vec::new();
    for (name, attribute) in attributes {
        put(&mut buf, name.as_bytes());
        put(&mut buf, attribute.data_type.as_bytes());
        if let Some(binary) = &attribute.binary_value {
            buf.push(2);
            put(&mut buf, binary);
        } else {
            buf.push(1);
            put(
                &mut buf,
                attribute.string_value.as_deref().unwrap_or("").as_bytes(),
            );
        }
    }
    Some(md5_hex(&buf))
}

fn queue_arn(name: &str) -> String {
    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
}

fn valid_queue_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl LocalQueues {
    /// No queues yet; queues created later get [`QueueConfig::default`].
    pub fn new() -> LocalQueues {
        LocalQueues::default()
    }

    /// No queues yet; queues created later (dead-letter queues aside) get `defaults`.
    pub fn with_defaults(defaults: QueueConfig) -> LocalQueues {
        let queues = LocalQueues::new();
        queues.lock().defaults = defaults;
        queues
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a queue half-updated in a way later
        // requests would trip over (every mutation is a single push/remove/assignment), so
        // a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Creates `name` with `config` or changes the configuration of the existing queue.
    pub fn configure(&self, name: &str, config: QueueConfig) {
        let mut state = self.lock();
        state.queue(name).config = config;
    }

    /// Sends a message to `name` (created if need be), visible after `delay`; returns its id.
    pub fn send(
        &self,
        name: &str,
        body: &str,
        attributes: BTreeMap<String, MessageAttribute>,
        delay: Duration,
    ) -> String {
        let id = self.lock().send(name, body.to_owned(), attributes, delay);
        self.inner.changed.notify_waiters();
        id
    }

    /// How many messages `name` holds (zeros for a queue never used).
    pub fn counts(&self, name: &str) -> QueueCounts {
        let state = self.lock();
        let now = Instant::now();
        state
            .queues
            .get(name)
            .map(|q| QueueCounts {
                visible: q.messages.iter().filter(|m| m.visible_at <= now).count(),
                in_flight: q.messages.iter().filter(|m| m.in_flight(now)).count(),
                delayed: q.messages.iter().filter(|m| m.delayed(now)).count(),
            })
            .unwrap_or_default()
    }

    /// Receives up to `batch_size` visible messages of `queue` as Lambda's SQS poller
    /// does (a receive: the count goes up and the messages hide for the queue's visibility
    /// timeout), hands `deliver` the SQS event AWS gives the function, then deletes the
    /// messages `deliver` did not report failed (`Ok` carries the `batchItemFailures`
    /// message ids). Failed messages reappear when their visibility expires, which the
    /// function may have changed meanwhile (that is how it delays a retry). An `Err`, or a
    /// failure naming a message not in the batch (as on AWS), fails the whole batch.
    /// Messages already received `max_receive_count` times go to `<queue>-dlq` instead.
    pub async fn pump_once<F, Fut>(&self, queue: &str, batch_size: usize, deliver: F) -> Pumped
    where
        F: FnOnce(Value) -> Fut,
        Fut: Future<Output = Result<Vec<String>, String>>,
    {
        let (received, dead_lettered) = {
            let mut state = self.lock();
            state.receive(queue, batch_size.max(1), None)
        };
        let mut pumped = Pumped {
            received: received.len(),
            dead_lettered,
            ..Pumped::default()
        };
        if received.is_empty() {
            return pumped;
        }
        let event = lambda_event(queue, &received);
        let failed: HashSet<String> = match deliver(event).await {
            Ok(failed) => {
                let ids: HashSet<&str> = received.iter().map(|m| m.id.as_str()).collect();
                if let Some(unknown) = failed.iter().find(|f| !ids.contains(f.as_str())) {
                    tracing::warn!(
                        queue,
                        item = %unknown,
                        "batchItemFailures names a message not in the batch; the whole batch failed"
                    );
                    ids.into_iter().map(str::to_owned).collect()
                } else {
                    failed.into_iter().collect()
                }
            }
            Err(e) => {
                tracing::warn!(queue, error = %e, "the function failed the batch; its messages will reappear");
                received.iter().map(|m| m.id.clone()).collect()
            }
        };
        let mut state = self.lock();
        for message in &received {
            if failed.contains(&message.id) {
                pumped.failed += 1;
            } else {
                // The function may have deleted it itself; either way it is done.
                let _ = state.delete(queue, &message.receipt);
                pumped.delivered += 1;
            }
        }
        pumped
    }
}

impl State {
    /// The queue `name`, created with the defaults (no redrive for dead-letter queues).
    fn queue(&mut self, name: &str) -> &mut Queue {
        let defaults = self.defaults;
        self.queues.entry(name.to_owned()).or_insert_with(|| Queue {
            config: defaults,
            created: epoch_millis(),
            messages: Vec::new(),
        })
    }

    fn send(
        &mut self,
        name: &str,
        body: String,
        attributes: BTreeMap<String, MessageAttribute>,
        delay: Duration,
    ) -> String {
        let id = new_ulid().to_string();
        self.queue(name).messages.push(Message {
            id: id.clone(),
            body,
            attributes,
            sent: epoch_millis(),
            receive_count: 0,
            first_receive: None,
            visible_at: Instant::now() + delay,
            receipt: None,
        });
        id
    }

    /// Receives up to `max` visible messages, hiding them for `visibility` (default: the
    /// queue's). Visible messages that already had their `max_receive_count` receives move
    /// to the dead-letter queue instead; returns how many did.
    fn receive(
        &mut self,
        name: &str,
        max: usize,
        visibility: Option<Duration>,
    ) -> (Vec<Received>, usize) {
        let now = Instant::now();
        let millis = epoch_millis();
        let redrive = !name.ends_with(DLQ_SUFFIX);
        let queue = self.queue(name);
        let visibility = visibility.unwrap_or(queue.config.visibility_timeout);
        let max_receives = queue.config.max_receive_count.max(1);
        let mut received = Vec::new();
        let mut dead = Vec::new();
        let mut i = 0;
        while i < queue.messages.len() && received.len() < max {
            let message = &mut queue.messages[i];
            if message.visible_at > now {
                i += 1;
                continue;
            }
            if redrive && message.receive_count >= max_receives {
                dead.push(queue.messages.remove(i));
                continue;
            }
            message.receive_count += 1;
            let first_receive = *message.first_receive.get_or_insert(millis);
            let receipt = format!("{}-{}", message.id, new_ulid());
            message.receipt = Some(receipt.clone());
            message.visible_at = now + visibility;
            received.push(Received {
                id: message.id.clone(),
                receipt,
                body: message.body.clone(),
                attributes: message.attributes.clone(),
                sent: message.sent,
                receive_count: message.receive_count,
                first_receive,
            });
            i += 1;
        }
        let moved = dead.len();
        if !dead.is_empty() {
            let dlq = format!("{name}{DLQ_SUFFIX}");
            for mut message in dead {
                tracing::warn!(queue = name, dead_letter_queue = %dlq, message_id = %message.id,
                    receives = message.receive_count, "message moved to the dead-letter queue");
                // As on AWS the message keeps its id, body, attributes and sent time.
                message.receive_count = 0;
                message.first_receive = None;
                message.receipt = None;
                message.visible_at = now;
                self.queue(&dlq).messages.push(message);
            }
        }
        (received, moved)
    }

    /// Deletes the message whose latest receipt handle is `receipt`.
    fn delete(&mut self, name: &str, receipt: &str) -> Result<(), ApiError> {
        let queue = self.queue(name);
        let index = queue
            .messages
            .iter()
            .position(|m| m.receipt.as_deref() == Some(receipt))
            .ok_or_else(ApiError::receipt_invalid)?;
        queue.messages.remove(index);
        Ok(())
    }

    /// Hides the in-flight message whose latest receipt handle is `receipt` for `timeout`
    /// from now (0: visible at once).
    fn change_visibility(
        &mut self,
        name: &str,
        receipt: &str,
        timeout: Duration,
    ) -> Result<(), ApiError> {
        let now = Instant::now();
        let message = self
            .queue(name)
            .messages
            .iter_mut()
            .find(|m| m.receipt.as_deref() == Some(receipt))
            .ok_or_else(ApiError::receipt_invalid)?;
        if !message.in_flight(now) {
            return Err(ApiError::not_in_flight());
        }
        message.visible_at = now + timeout;
        Ok(())
    }
}

/// The SQS event Lambda's event source mapping hands a function for `messages`.
fn lambda_event(queue: &str, messages: &[Received]) -> Value {
    let arn = queue_arn(queue);
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: Map<String, Value> = m
                .attributes
                .iter()
                .map(|(name, a)| {
                    let mut value = json!({
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": a.data_type,
                    });
                    if let Some(s) = &a.string_value {
                        value["stringValue"] = json!(s);
                    }
                    if let Some(b) = &a.binary_value {
                        value["binaryValue"] =
                            json!(base64::engine::general_purpose::STANDARD.encode(b));
                    }
                    (name.clone(), value)
                })
                .collect();
            let mut record = json!({
                "messageId": m.id,
                "receiptHandle": m.receipt,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": m.receive_count.to_string(),
                    "SentTimestamp": m.sent.to_string(),
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": m.first_receive.to_string(),
                },
                "messageAttributes": attributes,
                "md5OfBody": md5_hex(m.body.as_bytes()),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            });
            if let Some(md5) = md5_of_attributes(&m.attributes) {
                record["md5OfMessageAttributes"] = json!(md5);
            }
            record
        })
        .collect();
    json!({ "Records": records })
}

// ---------------------------------------------------------------------------------------
// The HTTP front.

/// Serves the SQS API (awsJson1_0) for `queues` on `listener` until the process ends.
/// Queue URLs are `http://127.0.0.1:<port>/000000000000/<name>`. Returns only if the
/// listener's address cannot be read; failed accepts are logged and retried.
pub async fn serve(queues: LocalQueues, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let base = Arc::new(format!("http://127.0.0.1:{port}/{ACCOUNT}/"));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Running out of file descriptors and the like pass; keep serving.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let queues = queues.clone();
        let base = base.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let queues = queues.clone();
                let base = base.clone();
                async move { Ok::<_, Infallible>(handle(&queues, &base, request).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(error = %e, "an SQS connection ended with an error");
            }
        });
    }
}

async fn handle(
    queues: &LocalQueues,
    base: &str,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let request_id = new_ulid().to_string();
    let result = dispatch(queues, base, request).await;
    let (status, body, query_error) = match result {
        Ok(body) => (StatusCode::OK, body, None),
        Err(e) => {
            tracing::debug!(code = e.code, message = %e.message, "refused an SQS request");
            (
                e.status,
                json!({
                    "__type": format!("com.amazonaws.sqs#{}", e.shape),
                    "message": e.message,
                }),
                Some(format!("{};Sender", e.code)),
            )
        }
    };
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", request_id);
    if let Some(query_error) = query_error {
        response = response.header("x-amzn-query-error", query_error);
    }
    let body = Full::new(Bytes::from(body.to_string()));
    response.body(body.clone()).unwrap_or_else(|_| {
        // Every header above is ASCII, so building cannot fail; answer plainly if it does.
        let mut fallback = Response::new(body);
        *fallback.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}

async fn dispatch(
    queues: &LocalQueues,
    base: &str,
    request: Request<Incoming>,
) -> Result<Value, ApiError> {
    if request.headers().get("authorization").is_none() {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            shape: "MissingAuthenticationToken",
            code: "MissingAuthenticationToken",
            message: "Request is missing Authentication Token".into(),
        });
    }
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .and_then(|t| t.strip_prefix("AmazonSQS."))
        .map(str::to_owned);
    if request.method() != hyper::Method::POST || operation.is_none() {
        return Err(ApiError::new(
            "UnknownOperationException",
            "InvalidAction",
            "Expected POST / with X-Amz-Target: AmazonSQS.<Operation> (awsJson1_0).",
        ));
    }
    let operation = operation.unwrap_or_default();
    let bytes = Limited::new(request.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
        .map_err(|e| ApiError::invalid(format!("reading the request failed: {e}")))?
        .to_bytes();
    let input: Value = if bytes.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::invalid(format!("The request body is not valid JSON: {e}")))?
    };
    let input = Input(
        input
            .as_object()
            .ok_or_else(|| ApiError::invalid("The request body must be a JSON object."))?,
    );
    let q = queues;
    match operation.as_str() {
        "GetQueueUrl" | "CreateQueue" => create_queue(q, base, &operation, input),
        "SendMessage" => send_message(q, input),
        "SendMessageBatch" => send_message_batch(q, input),
        "ReceiveMessage" => receive_message(q, input).await,
        "DeleteMessage" => {
            let name = input.queue()?;
            let receipt = input.required_str("ReceiptHandle")?;
            q.lock().delete(&name, receipt)?;
            Ok(json!({}))
        }
        "DeleteMessageBatch" => batch(q, input, |state, name, entry| {
            let receipt = entry.required_str("ReceiptHandle")?;
            state.delete(name, receipt)
        }),
        "ChangeMessageVisibility" => {
            let name = input.queue()?;
            let receipt = input.required_str("ReceiptHandle")?;
            let timeout = input.required_seconds("VisibilityTimeout", MAX_VISIBILITY_SECONDS)?;
            q.lock().change_visibility(&name, receipt, timeout)?;
            q.inner.changed.notify_waiters();
            Ok(json!({}))
        }
        "ChangeMessageVisibilityBatch" => {
            let result = batch(q, input, |state, name, entry| {
                let receipt = entry.required_str("ReceiptHandle")?;
                let timeout =
                    entry.required_seconds("VisibilityTimeout", MAX_VISIBILITY_SECONDS)?;
                state.change_visibility(name, receipt, timeout)
            });
            q.inner.changed.notify_waiters();
            result
        }
        "GetQueueAttributes" => get_queue_attributes(q, input),
        "PurgeQueue" => {
            let name = input.queue()?;
            q.lock().queue(&name).messages.clear();
            Ok(json!({}))
        }
        other => Err(ApiError::new(
            "UnknownOperationException",
            "InvalidAction",
            format!("The local SQS does not support the operation {other:?}."),
        )),
    }
}

/// A request's JSON members, with the checks every operation shares.
#[derive(Clone, Copy)]
struct Input<'a>(&'a Map<String, Value>);

impl<'a> Input<'a> {
    fn str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(format!("{name} must be a string."))),
        }
    }

    fn required_str(&self, name: &str) -> Result<&'a str, ApiError> {
        self.str(name)?.ok_or_else(|| ApiError::missing(name))
    }

    fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::invalid(format!(
                    "Value {v} for parameter {name} is invalid. Reason: must be an integer between {min} and {max}."
                ))),
            },
        }
    }

    fn seconds(&self, name: &str, max: i64) -> Result<Option<Duration>, ApiError> {
        Ok(self
            .int(name, 0, max)?
            .map(|n| Duration::from_secs(n.unsigned_abs())))
    }

    fn required_seconds(&self, name: &str, max: i64) -> Result<Duration, ApiError> {
        self.seconds(name, max)?
            .ok_or_else(|| ApiError::missing(name))
    }

    fn strings(&self, name: &str) -> Result<Vec<&'a str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .ok_or_else(|| ApiError::invalid(format!("{name} must list strings.")))
                })
                .collect(),
            Some(_) => Err(ApiError::invalid(format!("{name} must be a list."))),
        }
    }

    /// The queue named by the `QueueUrl` member: its last path segment, so that URLs
    /// with another host (`localhost`, a container name) work too.
    fn queue(&self) -> Result<String, ApiError> {
        let url = self.required_str("QueueUrl")?;
        let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if url.contains('/') && valid_queue_name(name) {
            Ok(name.to_owned())
        } else {
            Err(ApiError::new(
                "QueueDoesNotExist",
                "AWS.SimpleQueueService.NonExistentQueue",
                format!("The specified queue {url:?} does not exist."),
            ))
        }
    }

    /// `MessageAttributes`: `{name: {DataType, StringValue | BinaryValue}}`.
    fn message_attributes(&self) -> Result<BTreeMap<String, MessageAttribute>, ApiError> {
        let attributes = match self.0.get("MessageAttributes") {
            None | Some(Value::Null) => return Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map,
            Some(_) => return Err(ApiError::invalid("MessageAttributes must be a map.")),
        };
        if attributes.len() > 10 {
            return Err(ApiError::invalid(
                "Number of message attributes exceeds the limit of 10.",
            ));
        }
        let mut parsed = BTreeMap::new();
        for (name, value) in attributes {
            let valid_name = !name.is_empty()
                && name.len() <= 256
                && !name.starts_with('.')
                && !name.ends_with('.')
                && !name.contains("..")
                && !name.to_ascii_lowercase().starts_with("aws.")
                && !name.to_ascii_lowercase().starts_with("amazon.")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !valid_name {
                return Err(ApiError::invalid(format!(
                    "Message attribute name {name:?} is invalid."
                )));
            }
            let fields = Input(value.as_object().ok_or_else(|| {
                ApiError::invalid(format!("Message attribute {name:?} must be an object."))
            })?);
            let data_type = fields.required_str("DataType")?;
            let base = data_type.split('.').next().unwrap_or("");
            let attribute = match base {
                "String" | "Number" => MessageAttribute {
                    data_type: data_type.to_owned(),
                    string_value: Some(
                        fields
                            .str("StringValue")?
                            .ok_or_else(|| {
                                ApiError::invalid(format!(
                                    "Message attribute {name:?} of type {data_type} must have a StringValue."
                                ))
                            })?
                            .to_owned(),
                    ),
                    binary_value: None,
                },
                "Binary" => {
                    let encoded = fields.str("BinaryValue")?.ok_or_else(|| {
                        ApiError::invalid(format!(
                            "Message attribute {name:?} of type {data_type} must have a BinaryValue."
                        ))
                    })?;
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(encoded)
                        .map_err(|_| {
                            ApiError::invalid(format!(
                                "Message attribute {name:?}: BinaryValue is not base64."
                            ))
                        })?;
                    MessageAttribute {
                        data_type: data_type.to_owned(),
                        string_value: None,
                        binary_value: Some(decoded),
                    }
                }
                _ => {
                    return Err(ApiError::invalid(format!(
                        "Message attribute {name:?} has the invalid type {data_type:?}."
                    )))
                }
            };
            parsed.insert(name.clone(), attribute);
        }
        Ok(parsed)
    }
}

fn create_queue(
    q: &LocalQueues,
    base: &str,
    operation: &str,
    input: Input<'_>,
) -> Result<Value, ApiError> {
    let name = input.required_str("QueueName")?;
    if !valid_queue_name(name) {
        return Err(ApiError::invalid(format!(
            "Queue name {name:?} is invalid: 1 to 80 letters, digits, hyphens and underscores."
        )));
    }
    let mut config = None;
    if operation == "CreateQueue" {
        let attributes = match input.0.get("Attributes") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => return Err(ApiError::invalid("Attributes must be a map.")),
        };
        let mut wanted = QueueConfig::default();
        let mut any = false;
        for (key, value) in &attributes {
            let text = value
                .as_str()
                .ok_or_else(|| ApiError::invalid(format!("Attribute {key} must be a string.")))?;
            match key.as_str() {
                "VisibilityTimeout" => {
                    let seconds: u64 = text
                        .parse()
                        .ok()
                        .filter(|s| *s <= MAX_VISIBILITY_SECONDS.unsigned_abs())
                        .ok_or_else(|| ApiError::invalid("Invalid value for VisibilityTimeout."))?;
                    wanted.visibility_timeout = Duration::from_secs(seconds);
                    any = true;
                }
                "RedrivePolicy" => {
                    let policy: Value = serde_json::from_str(text)
                        .map_err(|_| ApiError::invalid("RedrivePolicy is not JSON."))?;
                    let count = match &policy["maxReceiveCount"] {
                        Value::String(s) => s.parse::<u32>().ok(),
                        v => v.as_u64().and_then(|n| u32::try_from(n).ok()),
                    }
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid("Invalid maxReceiveCount in RedrivePolicy.")
                    })?;
                    wanted.max_receive_count = count;
                    any = true;
                }
                // Accepted and ignored: the local stack needs no other queue behaviour.
                _ => {}
            }
        }
        if any {
            config = Some(wanted);
        }
    }
    let mut state = q.lock();
    let queue = state.queue(name);
    if let Some(config) = config {
        queue.config = config;
    }
    Ok(json!({ "QueueUrl": format!("{base}{name}") }))
}

fn validate_body(
    body: &str,
    attributes: &BTreeMap<String, MessageAttribute>,
) -> Result<(), ApiError> {
    if body.is_empty() {
        return Err(ApiError::missing("MessageBody"));
    }
    let size = body.len()
        + attributes
            .iter()
            .map(|(name, a)| {
                name.len()
                    + a.data_type.len()
                    + a.string_value.as_ref().map_or(0, String::len)
                    + a.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>();
    if size > MAX_MESSAGE_BYTES {
        return Err(ApiError::invalid(format!(
            "The message is {size} bytes long; the limit is {MAX_MESSAGE_BYTES} bytes."
        )));
    }
    Ok(())
}

/// The `SendMessage` result members for a message.
fn sent(
    id: &str,
    body: &str,
    attributes: &BTreeMap<String, MessageAttribute>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("MessageId".into(), json!(id));
    out.insert("MD5OfMessageBody".into(), json!(md5_hex(body.as_bytes())));
    if let Some(md5) = md5_of_attributes(attributes) {
        out.insert("MD5OfMessageAttributes".into(), json!(md5));
    }
    out
}

fn send_message(q: &LocalQueues, input: Input<'_>) -> Result<Value, ApiError> {
    let name = input.queue()?;
    let body = input.required_str("MessageBody")?;
    let delay = input
        .seconds("DelaySeconds", MAX_DELAY_SECONDS)?
        .unwrap_or_default();
    let attributes = input.message_attributes()?;
    validate_body(body, &attributes)?;
    let id = q.send(&name, body, attributes.clone(), delay);
    Ok(Value::Object(sent(&id, body, &attributes)))
}

/// The `Entries` of a batch request: 1 to 10, with distinct, well-formed ids.
fn entries<'a>(input: Input<'a>) -> Result<Vec<(String, Input<'a>)>, ApiError> {
    let entries = match input.0.get("Entries") {
        None | Some(Value::Null) => return Err(ApiError::missing("Entries")),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(ApiError::invalid("Entries must be a list.")),
    };
    if entries.is_empty() {
        return Err(ApiError::new(
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            "There should be at least one entry in the request.",
        ));
    }
    if entries.len() > 10 {
        return Err(ApiError::new(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are 10. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut parsed = Vec::new();
    for entry in entries {
        let entry = Input(
            entry
                .as_object()
                .ok_or_else(|| ApiError::invalid("Each entry must be an object."))?,
        );
        let id = entry.required_str("Id")?;
        let well_formed = (1..=80).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(ApiError::new(
                "InvalidBatchEntryId",
                "AWS.SimpleQueueService.InvalidBatchEntryId",
                format!("A batch entry id can only contain alphanumeric characters, hyphens and underscores: {id:?}."),
            ));
        }
        if !seen.insert(id) {
            return Err(ApiError::new(
                "BatchEntryIdsNotDistinct",
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
        parsed.push((id.to_owned(), entry));
    }
    Ok(parsed)
}

fn failure(id: &str, e: &ApiError) -> Value {
    json!({ "Id": id, "SenderFault": true, "Code": e.code, "Message": e.message })
}

fn send_message_batch(q: &LocalQueues, input: Input<'_>) -> Result<Value, ApiError> {
    let name = input.queue()?;
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (id, entry) in entries(input)? {
        let checked = (|| {
            let body = entry.required_str("MessageBody")?;
            let delay = entry
                .seconds("DelaySeconds", MAX_DELAY_SECONDS)?
                .unwrap_or_default();
            let attributes = entry.message_attributes()?;
            validate_body(body, &attributes)?;
            Ok::<_, ApiError>((body, delay, attributes))
        })();
        match checked {
            Ok((body, delay, attributes)) => {
                let message_id = q.send(&name, body, attributes.clone(), delay);
                let mut result = sent(&message_id, body, &attributes);
                result.insert("Id".into(), json!(id));
                successful.push(Value::Object(result));
            }
            Err(e) => failed.push(failure(&id, &e)),
        }
    }
    Ok(json!({ "Successful": successful, "Failed": failed }))
}

/// `DeleteMessageBatch` and `ChangeMessageVisibilityBatch`: `apply` per entry, under one
/// lock so the batch sees one state.
fn batch<F>(q: &LocalQueues, input: Input<'_>, apply: F) -> Result<Value, ApiError>
where
    F: Fn(&mut State, &str, Input<'_>) -> Result<(), ApiError>,
{
    let name = input.queue()?;
    let entries = entries(input)?;
    let mut state = q.lock();
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (id, entry) in entries {
        match apply(&mut state, &name, entry) {
            Ok(()) => successful.push(json!({ "Id": id })),
            Err(e) => failed.push(failure(&id, &e)),
        }
    }
    Ok(json!({ "Successful": successful, "Failed": failed }))
}

/// Whether the message attribute `name` is asked for by `MessageAttributeNames`
/// (`All`, `.*`, an exact name or a `prefix.*`).
fn wants_attribute(requested: &[&str], name: &str) -> bool {
    requested.iter().any(|r| {
        *r == "All"
            || *r == ".*"
            || *r == name
            || r.strip_suffix(".*").is_some_and(|prefix| {
                name.starts_with(prefix) && name[prefix.len()..].starts_with('.')
            })
    })
}

async fn receive_message(q: &LocalQueues, input: Input<'_>) -> Result<Value, ApiError> {
    let name = input.queue()?;
    let max = input.int("MaxNumberOfMessages", 1, 10)?.unwrap_or(1);
    let visibility = input.seconds("VisibilityTimeout", MAX_VISIBILITY_SECONDS)?;
    let wait = input
        .seconds("WaitTimeSeconds", MAX_WAIT_SECONDS)?
        .unwrap_or_default();
    let mut system = input.strings("MessageSystemAttributeNames")?;
    system.extend(input.strings("AttributeNames")?);
    let wanted_attributes = input.strings("MessageAttributeNames")?;
    let deadline = Instant::now() + wait;
    let received = loop {
        // Register for wake-ups before looking, so a send between the look and the wait
        // is not missed.
        let changed = q.inner.changed.notified();
        let (received, _) = q
            .lock()
            .receive(&name, usize::try_from(max).unwrap_or(1), visibility);
        let now = Instant::now();
        if !received.is_empty() || now >= deadline {
            break received;
        }
        // Delayed and hidden messages become visible without a notification; look again
        // at least every 100 ms.
        let _ =
            tokio::time::timeout((deadline - now).min(Duration::from_millis(100)), changed).await;
    };
    let all_system = system.contains(&"All");
    let messages: Vec<Value> = received
        .iter()
        .map(|m| {
            let mut message = Map::new();
            message.insert("MessageId".into(), json!(m.id));
            message.insert("ReceiptHandle".into(), json!(m.receipt));
            message.insert("MD5OfBody".into(), json!(md5_hex(m.body.as_bytes())));
            message.insert("Body".into(), json!(m.body));
            let system_values = [
                ("SenderId", ACCOUNT.to_owned()),
                ("SentTimestamp", m.sent.to_string()),
                ("ApproximateReceiveCount", m.receive_count.to_string()),
                (
                    "ApproximateFirstReceiveTimestamp",
                    m.first_receive.to_string(),
                ),
            ];
            let attributes: Map<String, Value> = system_values
                .into_iter()
                .filter(|(k, _)| all_system || system.contains(k))
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect();
            if !attributes.is_empty() {
                message.insert("Attributes".into(), Value::Object(attributes));
            }
            let returned: BTreeMap<String, MessageAttribute> = m
                .attributes
                .iter()
                .filter(|(k, _)| wants_attribute(&wanted_attributes, k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            // The digest covers the attributes returned, so a client can check it.
            if let Some(md5) = md5_of_attributes(&returned) {
                message.insert("MD5OfMessageAttributes".into(), json!(md5));
                let values: Map<String, Value> = returned
                    .iter()
                    .map(|(k, a)| {
                        let mut value = json!({ "DataType": a.data_type });
                        if let Some(s) = &a.string_value {
                            value["StringValue"] = json!(s);
                        }
                        if let Some(b) = &a.binary_value {
                            value["BinaryValue"] =
                                json!(base64::engine::general_purpose::STANDARD.encode(b));
                        }
                        (k.clone(), value)
                    })
                    .collect();
                message.insert("MessageAttributes".into(), Value::Object(values));
            }
            Value::Object(message)
        })
        .collect();
    Ok(json!({ "Messages": messages }))
}

fn get_queue_attributes(q: &LocalQueues, input: Input<'_>) -> Result<Value, ApiError> {
    let name = input.queue()?;
    let requested = input.strings("AttributeNames")?;
    let counts = q.counts(&name);
    let (config, created) = {
        let mut state = q.lock();
        let queue = state.queue(&name);
        (queue.config, queue.created)
    };
    let mut all = vec![
        ("ApproximateNumberOfMessages", counts.visible.to_string()),
        (
            "ApproximateNumberOfMessagesNotVisible",
            counts.in_flight.to_string(),
        ),
        (
            "ApproximateNumberOfMessagesDelayed",
            counts.delayed.to_string(),
        ),
        (
            "VisibilityTimeout",
            config.visibility_timeout.as_secs().to_string(),
        ),
        ("DelaySeconds", "0".to_owned()),
        ("MaximumMessageSize", MAX_MESSAGE_BYTES.to_string()),
        ("ReceiveMessageWaitTimeSeconds", "0".to_owned()),
        ("CreatedTimestamp", (created / 1000).to_string()),
        ("LastModifiedTimestamp", (created / 1000).to_string()),
        ("QueueArn", queue_arn(&name)),
    ];
    if !name.ends_with(DLQ_SUFFIX) {
        all.push((
            "RedrivePolicy",
            json!({
                "deadLetterTargetArn": queue_arn(&format!("{name}{DLQ_SUFFIX}")),
                "maxReceiveCount": config.max_receive_count,
            })
            .to_string(),
        ));
    }
    let everything = requested.contains(&"All");
    // Names SQS knows but the local queues leave unset (policies, KMS, FIFO) are
    // omitted, as AWS omits unset attributes; only names SQS does not know are refused.
    if let Some(unknown) = requested
        .iter()
        .find(|r| !all.iter().any(|(k, _)| k == *r) && !UNSET_ATTRIBUTES.contains(*r))
    {
        return Err(ApiError::new(
            "InvalidAttributeName",
            "InvalidAttributeName",
            format!("Unknown Attribute {unknown}."),
        ));
    }
    let attributes: Map<String, Value> = all
        .into_iter()
        .filter(|(k, _)| everything || requested.contains(k))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    Ok(json!({ "Attributes": attributes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_digest_follows_the_sqs_algorithm() {
        // The buffer for one String attribute, built by hand.
        let mut attributes = BTreeMap::new();
        attributes.insert("a".to_owned(), MessageAttribute::string("b"));
        let mut expected = Vec::new();
        expected.extend_from_slice(&[0, 0, 0, 1, b'a']);
        expected.extend_from_slice(&[0, 0, 0, 6]);
        expected.extend_from_slice(b"String");
        expected.push(1);
        expected.extend_from_slice(&[0, 0, 0, 1, b'b']);
        assert_eq!(md5_of_attributes(&attributes), Some(md5_hex(&expected)));
        assert_eq!(md5_of_attributes(&BTreeMap::new()), None);
    }

    #[test]
    fn attribute_digest_matches_a_published_vector() {
        // The vector of wcharczuk/sqslite's md5_test.go, whose SDK (Go v2) checks digests.
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "ordinal".to_owned(),
            MessageAttribute {
                data_type: "Number".into(),
                string_value: Some("1".into()),
                binary_value: None,
            },
        );
        attributes.insert("category".to_owned(), MessageAttribute::string("test"));
        assert_eq!(
            md5_of_attributes(&attributes).as_deref(),
            Some("d21ae90c49061e927f57df5f5d72be1f")
        );
    }

    #[test]
    fn attribute_name_filters() {
        assert!(wants_attribute(&["All"], "x"));
        assert!(wants_attribute(&["trace.*"], "trace.id"));
        assert!(!wants_attribute(&["trace.*"], "tracex"));
        assert!(wants_attribute(&["x"], "x"));
        assert!(!wants_attribute(&[], "x"));
    }
}
