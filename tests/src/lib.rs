//! The integration-test harness: a fresh table per test on DynamoDB Local, API keys, and a
//! client that drives the functions' real routers in process.
//!
//! DynamoDB Local must be running; `infra/test.sh` (the README's test command) starts one on
//! a free port and sets `IDV_TEST_DYNAMODB_ENDPOINT`.

pub mod receiver;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use axum::body::Body;
use axum::Router;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use idv::config::{AwsTimeouts, Config};
use idv::domain::auth::{hash_secret, new_secret, ApiKey, Permission};
use idv::domain::ids::ApiKeyId;
use idv::domain::values::{Environment, Tenancy, TenantId, Timestamp};
use idv::http::AppState;
use idv::store::objects::Objects;
use idv::store::{table, Store};
use idv::webhooks::Webhooks;
use serde_json::Value;
use tower::ServiceExt;

/// The local S3 server (s3s-fs) of this test run.
pub fn s3_endpoint() -> String {
    std::env::var("IDV_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("IDV_TEST_S3_ENDPOINT is not set: run the tests with infra/test.sh, which starts the local S3 server")
    })
}

/// Credentials the local S3 server checks signatures against.
pub const S3_ACCESS_KEY: &str = "idvlocalaccess";
/// See [`S3_ACCESS_KEY`].
pub const S3_SECRET_KEY: &str = "idvlocalsecretkey";

/// A client for the local S3 server (path-style: no bucket subdomains on localhost).
pub fn s3_client() -> aws_sdk_s3::Client {
    s3_client_at(&s3_endpoint(), &harness_timeouts())
}

/// An S3 client for the server at `endpoint`, built as production builds its clients
/// (`idv::config::s3_from`) with `timeouts`.
pub fn s3_client_at(endpoint: &str, timeouts: &AwsTimeouts) -> aws_sdk_s3::Client {
    let builder = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            S3_ACCESS_KEY,
            S3_SECRET_KEY,
            None,
            None,
            "tests",
        ))
        .force_path_style(true);
    idv::config::s3_from(builder, timeouts)
}

/// The limits the harness's own clients run with: built the production way, but with
/// attempts long enough for a DynamoDB Local that shares two cores with compilers and
/// the rest of the suite (a stalled JVM is not the fault under test). The fault tests use
/// `AwsTimeouts::PRODUCTION`.
pub fn harness_timeouts() -> AwsTimeouts {
    AwsTimeouts {
        connect: Duration::from_secs(5),
        attempt: Duration::from_secs(20),
        operation: Duration::from_secs(60),
        max_attempts: 3,
    }
}

/// The DynamoDB Local endpoint of this test run.
pub fn dynamodb_endpoint() -> String {
    std::env::var("IDV_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("IDV_TEST_DYNAMODB_ENDPOINT is not set: run the tests with infra/test.sh, which starts DynamoDB Local")
    })
}

/// A client for DynamoDB Local (it wants a signature but checks none).
pub fn dynamodb_client() -> Client {
    dynamodb_client_at(&dynamodb_endpoint(), &harness_timeouts())
}

/// A DynamoDB client for the server at `endpoint`, built as production builds its clients
/// (`idv::config::dynamodb_from`) with `timeouts`.
pub fn dynamodb_client_at(endpoint: &str, timeouts: &AwsTimeouts) -> Client {
    let builder = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"));
    idv::config::dynamodb_from(builder, timeouts)
}

/// A response as a test sees it.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body parsed as JSON (`Null` when empty or not JSON).
    pub json: Value,
}

impl Reply {
    /// The first error's code.
    pub fn code(&self) -> &str {
        self.json["errors"][0]["code"].as_str().unwrap_or_default()
    }

    /// The first error's pointer (or parameter, or header).
    pub fn source(&self) -> &str {
        let s = &self.json["errors"][0]["source"];
        s["pointer"]
            .as_str()
            .or(s["parameter"].as_str())
            .or(s["header"].as_str())
            .unwrap_or_default()
    }

    /// `data.id`.
    pub fn id(&self) -> String {
        self.json["data"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The presigned upload URL and the headers to send with it, of the i-th file declared
    /// in `meta.files`.
    pub fn upload(&self, i: usize) -> (String, Vec<(String, String)>) {
        let f = &self.json["meta"]["files"][i];
        let headers = f["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        (
            f["presigned_upload_url"].as_str().expect("url").to_owned(),
            headers,
        )
    }

    /// `data.attributes.<name>`.
    pub fn attr(&self, name: &str) -> &Value {
        &self.json["data"]["attributes"][name]
    }
}

/// One test's world: its own table, a staging key with every scope, and the routers.
pub struct TestApp {
    /// The store over this test's table.
    pub store: Store,
    /// The raw client.
    pub client: Client,
    /// This test's table.
    pub table: String,
    /// This test's bucket.
    pub objects: Objects,
    /// The shared state the routers use.
    pub state: AppState,
    /// A staging key of tenant `acme` with `*`.
    pub key: String,
    /// `acme`/staging.
    pub tenancy: Tenancy,
    sessions: Router,
    accounts: Router,
    documents: Router,
    verifications: Router,
    events: Router,
    webhooks: Router,
    /// The webhook machinery the routers and the pipeline share (sealing key, the local
    /// queue, sender, compressed retry policy).
    pub hooks: Arc<Webhooks>,
    /// The in-process SQS stand-in this test's deliveries queue lives on.
    pub queues: idv_local::queue::LocalQueues,
    /// This test's deliveries queue.
    pub queue_name: String,
    relay: tokio::sync::Mutex<idv_local::s3_events::S3Relay>,
    checker: document_events::Checker,
    /// The DynamoDB Local this test's table lives on (streams are served there too).
    dynamodb_endpoint: String,
}

/// `n` feed events of `tenancy` (session.created of made-up sessions), as the stream
/// carries them to the webhook fan-out.
pub fn feed_events(tenancy: &Tenancy, n: usize) -> Vec<(Tenancy, idv::domain::feed::FeedEvent)> {
    use idv::domain::feed::{FeedData, FeedEvent, FeedObject};
    (0..n)
        .map(|_| {
            let at = Timestamp::now();
            let session = idv::domain::ids::SessionId::new(at.datetime());
            let event = FeedEvent {
                id: idv::domain::ids::EventId::new(at.datetime()),
                kind: "session.created".into(),
                created_at: at,
                actor: idv::domain::event::Actor::system("test"),
                data: FeedData {
                    object: FeedObject {
                        kind: "session".into(),
                        id: session.to_string(),
                        status: Some("created".into()),
                    },
                    previous_status: None,
                    session_id: Some(session),
                    document_id: None,
                },
            };
            (tenancy.clone(), event)
        })
        .collect()
}

/// One DynamoDB operation as a client sent it: the inputs the round-trip assertions count
/// and the bench replays (other operations keep only their name).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Operation {
    /// A GetItem.
    GetItem(aws_sdk_dynamodb::operation::get_item::GetItemInput),
    /// A Query.
    Query(aws_sdk_dynamodb::operation::query::QueryInput),
    /// A TransactWriteItems.
    TransactWriteItems(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput),
    /// Any other operation, by the start of its input's debug form.
    Other(String),
}

impl Operation {
    /// The operation's name, a transaction with its item count (`TransactWrite(3)`).
    pub fn describe(&self) -> String {
        match self {
            Operation::GetItem(_) => "GetItem".to_owned(),
            Operation::Query(_) => "Query".to_owned(),
            Operation::TransactWriteItems(t) => {
                format!("TransactWrite({})", t.transact_items().len())
            }
            Operation::Other(s) => s.clone(),
        }
    }
}

/// Records the DynamoDB operations a client runs, one per call (an SDK retry of the same call
/// is not another): add it with `.interceptor(ops.clone())` to a client's config, then read
/// [`Operations::count`] or [`Operations::take`].
#[derive(Debug, Clone, Default)]
pub struct Operations(Arc<std::sync::Mutex<Vec<Operation>>>);

impl Operations {
    /// Operations recorded since the last [`take`](Self::take).
    pub fn count(&self) -> usize {
        self.0.lock().expect("operations").len()
    }

    /// The operations recorded so far, emptying the record.
    pub fn take(&self) -> Vec<Operation> {
        std::mem::take(&mut *self.0.lock().expect("operations"))
    }
}

impl aws_sdk_dynamodb::config::Intercept for Operations {
    fn name(&self) -> &'static str {
        "record DynamoDB operations"
    }

    fn read_before_execution(
        &self,
        ctx: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation::{
            get_item::GetItemInput, query::QueryInput,
            transact_write_items::TransactWriteItemsInput,
        };
        let input = ctx.input();
        let op = if let Some(i) = input.downcast_ref::<GetItemInput>() {
            Operation::GetItem(i.clone())
        } else if let Some(i) = input.downcast_ref::<QueryInput>() {
            Operation::Query(i.clone())
        } else if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
            Operation::TransactWriteItems(i.clone())
        } else {
            Operation::Other(format!("{input:?}").chars().take(60).collect())
        };
        self.0.lock().expect("operations").push(op);
        Ok(())
    }
}

/// The settings tests run with: a fixed cursor secret and no key cache (tests of the cache
/// make their own app).
pub fn test_config(table: &str, key_cache: Duration) -> Config {
    Config {
        table: table.to_owned(),
        bucket: String::new(),
        cursor_secret: b"test-cursor-secret-0123456789".to_vec(),
        session_lifetime: time::Duration::hours(24),
        key_cache_ttl: key_cache,
        rate_limit: None,
        retention: idv::store::timers::Retention::default(),
    }
}

/// The webhook policy tests run with: attempts 1, 2 and 3 s apart (growing, as the real
/// 5 s … 10 h schedule does), the contract's 5-day disable window and 24-hour overlap.
pub fn test_webhook_policy() -> idv::domain::webhook::RetryPolicy {
    idv::domain::webhook::RetryPolicy {
        delays: [1, 2, 3].into_iter().map(time::Duration::seconds).collect(),
        ..Default::default()
    }
}

/// A sender shared by every test (loading the platform's roots once), with a 3 s timeout.
fn test_sender() -> idv::webhooks::send::Sender {
    static SENDER: OnceLock<idv::webhooks::send::Sender> = OnceLock::new();
    SENDER
        .get_or_init(|| idv::webhooks::send::Sender::new(Duration::from_secs(3)))
        .clone()
}

/// Starts an SQS stand-in (`idv-local queue`'s server) on a free loopback port on this
/// test's runtime; returns it and its endpoint URL.
pub async fn start_local_queues() -> (idv_local::queue::LocalQueues, String) {
    let queues = idv_local::queue::LocalQueues::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a queue port");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(idv_local::queue::serve(queues.clone(), listener));
    (queues, url)
}

/// The webhook machinery over the queue `name` of the SQS stand-in at `endpoint`.
pub fn test_webhooks(
    endpoint: &str,
    name: &str,
    policy: idv::domain::webhook::RetryPolicy,
) -> Webhooks {
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::new()
            .http_client(idv::config::https_client())
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .endpoint_url(endpoint)
            .build(),
    );
    Webhooks {
        key: Some(Arc::new(
            idv::webhooks::seal::SealingKey::from_material(b"test-webhook-sealing-key-0123456789")
                .expect("key"),
        )),
        queue: idv::webhooks::queue::Queue::new(sqs, format!("{endpoint}/000000000000/{name}")),
        sender: test_sender(),
        policy,
    }
}

/// The check settings tests run with: defaults and a fixed fingerprint key.
pub fn test_verify_settings() -> idv::workflow::verify::Settings {
    idv::workflow::verify::Settings {
        checks: idv_checks::Config::default(),
        fingerprint_secret: b"test-fingerprint-secret-0123456789".to_vec(),
    }
}

impl TestApp {
    /// A fresh table and app.
    pub async fn new() -> TestApp {
        Self::with_key_cache(Duration::ZERO).await
    }

    /// A fresh table and app whose key cache trusts lookups for `ttl`.
    pub async fn with_key_cache(ttl: Duration) -> TestApp {
        // Internal errors are logged; show them with the failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_ansi(false)
            .try_init();
        let client = dynamodb_client();
        let table = format!(
            "t{}",
            idv::domain::ids::new_ulid(time::OffsetDateTime::now_utc())
        );
        table::create_table(&client, &table)
            .await
            .expect("create table");
        let store = Store::new(client.clone(), table.clone());
        let s3 = s3_client();
        let bucket = format!("b{}", table[1..].to_lowercase());
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        let objects = Objects::new(s3, bucket.clone());
        let mut config = test_config(&table, ttl);
        config.bucket = bucket;
        let state = AppState::new(store.clone(), objects.clone(), config);
        let tenancy = Tenancy {
            tenant: TenantId::parse("acme").expect("tenant"),
            environment: Environment::Staging,
        };
        let (queues, queue_url) = start_local_queues().await;
        let queue_name = format!("q{}", &table[1..]);
        let hooks = Arc::new(test_webhooks(
            &queue_url,
            &queue_name,
            test_webhook_policy(),
        ));
        let mut app = TestApp {
            sessions: sessions::router(state.clone()),
            accounts: accounts::router(state.clone()),
            documents: documents::router(state.clone(), test_verify_settings()),
            verifications: verifications::router(state.clone(), test_verify_settings()),
            events: events::router(state.clone(), hooks.clone()),
            webhooks: webhooks::router(state.clone(), hooks.clone()),
            hooks,
            queues,
            queue_name,
            relay: tokio::sync::Mutex::new(idv_local::s3_events::S3Relay::new(objects.clone())),
            dynamodb_endpoint: dynamodb_endpoint(),
            checker: document_events::Checker {
                store: store.clone(),
                objects: objects.clone(),
                settings: test_verify_settings(),
                session_lifetime: time::Duration::hours(24),
            },
            store,
            client,
            table,
            objects,
            state,
            key: String::new(),
            tenancy: tenancy.clone(),
        };
        app.key = app
            .issue_key("acme", Environment::Staging, &[Permission::All], None)
            .await;
        app
    }

    /// Issues a key and returns its secret.
    pub async fn issue_key(
        &self,
        tenant: &str,
        environment: Environment,
        scopes: &[Permission],
        expires_at: Option<Timestamp>,
    ) -> String {
        self.issue_key_with_id(tenant, environment, scopes, expires_at)
            .await
            .1
    }

    /// Issues a key and returns its id and secret.
    pub async fn issue_key_with_id(
        &self,
        tenant: &str,
        environment: Environment,
        scopes: &[Permission],
        expires_at: Option<Timestamp>,
    ) -> (ApiKeyId, String) {
        let now = Timestamp::now();
        let secret = new_secret(environment).expect("randomness");
        let key = ApiKey {
            id: ApiKeyId::new(now.datetime()),
            tenant: TenantId::parse(tenant).expect("tenant"),
            environment,
            name: "test".into(),
            scopes: scopes.to_vec(),
            created_at: now,
            expires_at,
            revoked: false,
            revoked_at: None,
            rate_limit: None,
        };
        self.store
            .put_api_key(&hash_secret(&secret), &key)
            .await
            .expect("put key");
        (key.id, secret)
    }

    fn router_for(&self, path: &str) -> Router {
        if path.contains("/v1/identity/accounts") {
            self.accounts.clone()
        } else if path.contains("/v1/identity/documents") {
            self.documents.clone()
        } else if path.contains("/v1/identity/verifications") {
            self.verifications.clone()
        } else if path.contains("/v1/identity/events") {
            self.events.clone()
        } else if path.contains("/v1/identity/webhook-endpoints") {
            self.webhooks.clone()
        } else {
            self.sessions.clone()
        }
    }

    /// Sends a request through the function that serves `path`.
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let router = self.router_for(req.uri().path());
        let response = router.oneshot(req).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
        }
    }

    /// A request with `key`, a JSON body (as `application/json`) and extra headers.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("x-api-key", key);
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let body = body.map_or_else(Body::empty, |v| Body::from(v.to_string()));
        self.send(b.body(body).expect("request")).await
    }

    /// GET with the default key.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, &self.key, None, &[]).await
    }

    /// POST with the default key.
    pub async fn post(&self, path: &str, body: Option<&Value>) -> Reply {
        self.call(Method::POST, path, &self.key, body, &[]).await
    }

    /// PATCH with the default key.
    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PATCH, path, &self.key, Some(body), &[])
            .await
    }

    /// Creates a person session (optionally for an account) and returns its id.
    pub async fn create_session(&self, account: Option<&str>) -> String {
        let mut body = serde_json::json!({"data": {"type": "session", "attributes": {"entity_type": "person"}}});
        if let Some(acc) = account {
            body["data"]["relationships"] =
                serde_json::json!({"account": {"data": {"type": "account", "id": acc}}});
        }
        let r = self.post("/v1/identity/sessions", Some(&body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.id()
    }

    /// Creates an account and returns its id.
    pub async fn create_account(&self, external_id: Option<&str>) -> String {
        let mut attrs = serde_json::json!({"entity_type": "person"});
        if let Some(e) = external_id {
            attrs["external_id"] = Value::String(e.into());
        }
        let body = serde_json::json!({"data": {"type": "account", "attributes": attrs}});
        let r = self.post("/v1/identity/accounts", Some(&body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        r.id()
    }

    /// Drives a session to `completed` with `/simulate`.
    pub async fn complete_session(&self, id: &str) {
        for action in ["start", "submit", "complete"] {
            let r = self
                .post(
                    &format!("/v1/identity/sessions/{id}/simulate"),
                    Some(&serde_json::json!({"data": {"attributes": {"action": action}}})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.json);
        }
    }

    /// Delivers `ObjectCreated` events for every new object in the bucket to the upload
    /// checker, exactly as the local stack's relay does (but in process). Returns how many
    /// objects were delivered.
    pub async fn deliver_uploads(&self) -> usize {
        let checker = self.checker.clone();
        self.relay
            .lock()
            .await
            .poll_once(|event| {
                let checker = checker.clone();
                async move {
                    let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                    let response = checker.handle(event).await;
                    Ok(response
                        .batch_item_failures
                        .into_iter()
                        .map(|f| f.item_identifier)
                        .collect())
                }
            })
            .await
            .expect("list bucket")
    }

    /// Keys of every object in this test's bucket.
    pub async fn object_keys(&self) -> Vec<String> {
        self.objects
            .list("")
            .await
            .expect("list")
            .into_iter()
            .map(|(k, _, _)| k)
            .collect()
    }

    /// Every item of the table (tests only: a Scan).
    pub async fn scan_all(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return out;
            }
        }
    }

    /// Every string and number anywhere in the table, flattened (for "is this value gone").
    pub async fn all_values(&self) -> Vec<String> {
        fn walk(v: &AttributeValue, out: &mut Vec<String>) {
            match v {
                AttributeValue::S(s) | AttributeValue::N(s) => out.push(s.clone()),
                AttributeValue::Ss(v) | AttributeValue::Ns(v) => out.extend(v.iter().cloned()),
                AttributeValue::L(l) => l.iter().for_each(|x| walk(x, out)),
                AttributeValue::M(m) => m.values().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for item in self.scan_all().await {
            for v in item.values() {
                walk(v, &mut out);
            }
        }
        out
    }

    /// The same app with the routers' DynamoDB client pointed at `dynamodb` and S3 client at
    /// `s3` (each `None`: unchanged), built with `timeouts`. The key cache is kept, so keys
    /// it already trusts still authenticate; `client`, `store` and `objects` keep talking to
    /// the real servers, so a test can check afterwards what was written.
    pub fn with_dependencies_at(
        mut self,
        dynamodb: Option<&str>,
        s3: Option<&str>,
        timeouts: &AwsTimeouts,
    ) -> TestApp {
        let store = match dynamodb {
            Some(e) => Store::new(dynamodb_client_at(e, timeouts), self.table.clone()),
            None => self.store.clone(),
        };
        let objects = match s3 {
            Some(e) => Objects::new(s3_client_at(e, timeouts), self.objects.bucket()),
            None => self.objects.clone(),
        };
        let keys = self.state.keys.clone();
        let mut state = AppState::new(store, objects, (*self.state.config).clone());
        state.keys = keys;
        self.sessions = sessions::router(state.clone());
        self.accounts = accounts::router(state.clone());
        self.documents = documents::router(state.clone(), test_verify_settings());
        self.verifications = verifications::router(state.clone(), test_verify_settings());
        self.events = events::router(state.clone(), self.hooks.clone());
        self.webhooks = webhooks::router(state.clone(), self.hooks.clone());
        self.state = state;
        self
    }
}

/// A client for the streams of the DynamoDB Local at `endpoint` (served on the same port
/// as its tables).
pub fn streams_client(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .http_client(idv::config::https_client())
        .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodbstreams::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

/// Expiry and retention: the timer functions in process, and this test's table stream.
impl TestApp {
    /// A fresh table and app whose every session write (API and functions) applies
    /// `retention`.
    pub async fn with_retention(retention: idv::store::timers::Retention) -> TestApp {
        TestApp::new().await.retaining(retention)
    }

    /// The same app with `retention` applied by every session write.
    pub fn retaining(mut self, retention: idv::store::timers::Retention) -> TestApp {
        let mut config = (*self.state.config).clone();
        config.retention = retention;
        let store = self.store.clone().with_retention(retention);
        self.rewire(store, config);
        self
    }

    /// A fresh app whose table lives on the DynamoDB Local reserved for tests that wait for
    /// real TTL deletions (`IDV_TEST_TTL_DYNAMODB_ENDPOINT`): DynamoDB Local runs TTL for at
    /// most seven tables at a time, and only the first ones, so on the shared instance a
    /// test's table would wait behind the whole suite's. Call [`TestApp::drop_table`] at
    /// the end to free the slot.
    pub async fn on_ttl_instance() -> TestApp {
        let mut app = TestApp::new().await;
        let endpoint = std::env::var("IDV_TEST_TTL_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
            panic!("IDV_TEST_TTL_DYNAMODB_ENDPOINT is not set: run the tests with infra/test.sh")
        });
        let config = aws_sdk_dynamodb::Config::builder()
            .http_client(idv::config::https_client())
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
            .build();
        app.client = Client::from_conf(config);
        app.dynamodb_endpoint = endpoint;
        table::create_table(&app.client, &app.table)
            .await
            .expect("create table");
        let store = Store::new(app.client.clone(), app.table.clone());
        let config = (*app.state.config).clone();
        app.rewire(store, config);
        app.key = app
            .issue_key("acme", Environment::Staging, &[Permission::All], None)
            .await;
        app
    }

    /// Deletes this test's table (on the TTL instance: frees its TTL slot).
    pub async fn drop_table(&self) {
        self.client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await
            .expect("delete table");
    }

    /// Points the store, the routers and the upload checker at `store` with `config`.
    fn rewire(&mut self, store: Store, config: Config) {
        self.store = store;
        self.state = AppState::new(self.store.clone(), self.objects.clone(), config);
        self.store = self.state.store.clone();
        self.sessions = sessions::router(self.state.clone());
        self.accounts = accounts::router(self.state.clone());
        self.documents = documents::router(self.state.clone(), test_verify_settings());
        self.verifications = verifications::router(self.state.clone(), test_verify_settings());
        self.events = events::router(self.state.clone(), self.hooks.clone());
        self.webhooks = webhooks::router(self.state.clone(), self.hooks.clone());
        self.checker.store = self.store.clone();
    }

    /// The same app with every function's DynamoDB calls counted, and a key cache that
    /// trusts lookups for a minute (as a warm Lambda does): after one warm-up request, the
    /// count around a request is that endpoint's round trips.
    pub fn counting_round_trips(mut self) -> (TestApp, Operations) {
        let (store, ops) = self.counted_store();
        let mut config = (*self.state.config).clone();
        config.key_cache_ttl = Duration::from_secs(60);
        self.rewire(store, config);
        (self, ops)
    }

    /// The same app with another webhook retry policy (tests compress time with it).
    pub fn with_webhook_policy(mut self, policy: idv::domain::webhook::RetryPolicy) -> TestApp {
        let mut hooks = (*self.hooks).clone();
        hooks.policy = policy;
        self.hooks = Arc::new(hooks);
        self.events = events::router(self.state.clone(), self.hooks.clone());
        self.webhooks = webhooks::router(self.state.clone(), self.hooks.clone());
        self
    }

    /// This test's store through a client that counts its operations.
    pub fn counted_store(&self) -> (Store, Operations) {
        let ops = Operations::default();
        let client = Client::from_conf(
            self.client
                .config()
                .to_builder()
                .interceptor(ops.clone())
                .build(),
        );
        (Store::new(client, self.table.clone()), ops)
    }

    /// The webhook fan-out and delivery functions' handlers over this test's table.
    pub fn pipeline(&self) -> webhooks::Pipeline {
        webhooks::Pipeline {
            store: self.store.clone(),
            hooks: self.hooks.clone(),
        }
    }

    /// A reader of this test's table stream with `webhook-fanout`'s filter, from now on.
    pub async fn webhook_relay(&self) -> idv_local::streams::StreamRelay {
        let filter = serde_json::from_str(idv_local::streams::FEED_INSERT_FILTER).expect("filter");
        self.stream_relay().await.with_filter(filter)
    }

    /// One turn of the webhook plumbing, in process, as the local stack runs it: new feed
    /// records from the stream to `webhook-fanout`, then one batch of due jobs from the
    /// queue to `webhook-delivery`.
    pub async fn pump_webhooks(
        &self,
        relay: &mut idv_local::streams::StreamRelay,
    ) -> idv_local::queue::Pumped {
        let pipeline = self.pipeline();
        let p = pipeline.clone();
        relay
            .poll_once(|event| {
                let p = p.clone();
                async move {
                    let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                    Ok(p.fan_out(event)
                        .await
                        .batch_item_failures
                        .into_iter()
                        .filter_map(|f| f.item_identifier)
                        .collect())
                }
            })
            .await
            .expect("read the stream");
        self.queues
            .pump_once(&self.queue_name, 10, |event| async move {
                let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                Ok(pipeline
                    .deliver(event)
                    .await
                    .batch_item_failures
                    .into_iter()
                    .map(|f| f.item_identifier)
                    .collect())
            })
            .await
    }

    /// Pumps the webhook plumbing every 100 ms until `done` holds or `within` passes;
    /// returns whether it held.
    pub async fn pump_webhooks_until(
        &self,
        relay: &mut idv_local::streams::StreamRelay,
        within: Duration,
        mut done: impl FnMut() -> bool,
    ) -> bool {
        let stop = std::time::Instant::now() + within;
        loop {
            self.pump_webhooks(relay).await;
            if done() {
                return true;
            }
            if std::time::Instant::now() > stop {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The expiry functions' handler over this test's table and bucket.
    pub fn expirer(&self) -> expiry::Expirer {
        expiry::Expirer {
            store: self.store.clone(),
            objects: self.objects.clone(),
        }
    }

    /// A reader of this test's table stream, positioned at its end (the template's
    /// `StartingPosition: LATEST`): it sees what is written from now on.
    pub async fn stream_relay(&self) -> idv_local::streams::StreamRelay {
        let arn = idv_local::streams::latest_stream_arn(&self.client, &self.table)
            .await
            .expect("the table has a stream");
        idv_local::streams::StreamRelay::connect(
            streams_client(&self.dynamodb_endpoint),
            arn,
            idv_local::streams::StartingPosition::Latest,
        )
        .await
        .expect("connect to the stream")
    }

    /// Reads `relay` once and delivers what its filter keeps to `expiry-stream`'s handler,
    /// in process, exactly as `idv-local stream` does through `cargo lambda watch`. Every
    /// delivered event is appended to `delivered` (to deliver it again).
    pub async fn deliver_stream(
        &self,
        relay: &mut idv_local::streams::StreamRelay,
        delivered: &mut Vec<Value>,
    ) -> idv_local::streams::Polled {
        let expirer = self.expirer();
        relay
            .poll_once(|event| {
                delivered.push(event.clone());
                let expirer = expirer.clone();
                async move {
                    let event = serde_json::from_value(event).map_err(|e| e.to_string())?;
                    let response = expirer.handle_stream(event).await;
                    Ok(response
                        .batch_item_failures
                        .into_iter()
                        .filter_map(|f| f.item_identifier)
                        .collect())
                }
            })
            .await
            .expect("read the stream")
    }

    /// Writes `sessions` as the store builds their items (`session_item`), 25 per
    /// BatchWriteItem: for tests of reads over many sessions, which would take half a
    /// minute to create one by one through the API on DynamoDB Local.
    pub async fn put_sessions(&self, sessions: &[idv::domain::session::Session]) {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        for chunk in sessions.chunks(25) {
            let requests = chunk
                .iter()
                .map(|s| {
                    let item = idv::store::sessions::session_item(&self.tenancy, s).expect("item");
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item))
                                .build()
                                .expect("put"),
                        )
                        .build()
                })
                .collect();
            let mut pending = Some(HashMap::from([(self.table.clone(), requests)]));
            while let Some(p) = pending.take().filter(|p| !p.is_empty()) {
                let out = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(p))
                    .send()
                    .await
                    .expect("batch write");
                pending = out.unprocessed_items;
            }
        }
    }

    /// A new `created` session of `entity_type`, not yet written (see
    /// [`TestApp::put_sessions`]).
    pub fn new_session(
        entity_type: idv::domain::session::EntityType,
    ) -> idv::domain::session::Session {
        let now = Timestamp::now();
        idv::domain::session::Session::new(
            idv::domain::ids::SessionId::new(now.datetime()),
            idv::domain::session::Creator {
                kind: "api".into(),
                id: None,
            },
            entity_type,
            None,
            idv::domain::applicant::ApplicantData::default(),
            None,
            now,
        )
    }

    /// `s` taken through `actions` by the state machine (at its creation time, with a
    /// one-hour lifetime): how a fixture gets a status, since only `Session::apply` sets one.
    pub fn walk(
        s: idv::domain::session::Session,
        actions: &[idv::domain::session::Action],
    ) -> idv::domain::session::Session {
        actions.iter().fold(s, |s, action| {
            s.apply(*action, s.created_at, time::Duration::hours(1))
                .expect("a legal path through the state machine")
                .next
        })
    }
}

/// A PUT to a presigned URL, as a browser or mobile app would send it: `headers` are the
/// ones `meta.files[].headers` lists (possibly altered by the test). Returns the status.
pub async fn put_upload(url: &str, headers: &[(String, String)], body: Vec<u8>) -> u16 {
    let url = url.to_owned();
    let headers = headers.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut req = ureq::put(&url);
        for (k, v) in &headers {
            // ureq sets Content-Length from the body itself.
            if !k.eq_ignore_ascii_case("content-length") {
                req = req.set(k, v);
            }
        }
        match req.send_bytes(&body) {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            // A server that refuses a PUT (a second PUT to a write-once URL: 412) may answer
            // and close before it has read the body, and the body's write then fails with a
            // broken pipe or a reset. Ask again with `Expect: 100-continue`, which lets the
            // server answer before any body is sent.
            Err(ureq::Error::Transport(_)) => put_expecting_continue(&url, &headers, &body),
        }
    })
    .await
    .expect("join")
}

/// A PUT over plain HTTP/1.1 with `Expect: 100-continue`: the body is sent only after the
/// server's `100 Continue`; a final answer before it is returned as is.
pub fn put_expecting_continue(url: &str, headers: &[(String, String)], body: &[u8]) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let rest = url.strip_prefix("http://").expect("a local http URL");
    let (authority, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(authority).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!(
        "PUT {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("host") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send the head");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut answer = || -> u16 {
        let mut line = String::new();
        reader.read_line(&mut line).expect("status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {line:?}"));
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).expect("header") == 0 || header == "\r\n" {
                return status;
            }
        }
    };
    let first = answer();
    if first != 100 {
        return first;
    }
    stream.write_all(body).expect("send the body");
    answer()
}

/// A GET of a presigned URL; returns status and body.
pub async fn get_download(url: &str) -> (u16, Vec<u8>) {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || match ureq::get(&url).call() {
        Ok(r) => {
            let status = r.status();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut r.into_reader(), &mut body).expect("read");
            (status, body)
        }
        Err(ureq::Error::Status(code, _)) => (code, Vec::new()),
        Err(e) => panic!("GET failed: {e}"),
    })
    .await
    .expect("join")
}

/// `n` bytes (at least 27) of a JPEG whose header the upload checker accepts: SOI, an
/// 800 x 600 frame header, comment segments of `seed`-dependent filler, EOI. Its pixels do
/// not decode: for tests of the upload flow, not of verifications.
pub fn jpeg_bytes(n: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![
        0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0x02, 0x58, 0x03, 0x20, 1, 1, 0x11, 0,
    ];
    let mut i = 0usize;
    // Each comment segment: marker, 2-byte length (itself included), filler.
    while v.len() + 4 + 2 <= n {
        let len = (n - v.len() - 6).min(65_533);
        v.extend_from_slice(&[0xFF, 0xFE]);
        v.extend_from_slice(&u16::try_from(len + 2).expect("segment").to_be_bytes());
        v.extend((0..len).map(|k| ((i + k) as u8).wrapping_mul(31).wrapping_add(seed)));
        i += len;
    }
    v.extend_from_slice(&[0xFF, 0xD9]);
    v.resize(n, 0);
    v
}

/// `n` bytes that start like a PNG.
pub fn png_bytes(n: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.resize(n, 7);
    v
}
