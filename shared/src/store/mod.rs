//! The DynamoDB single table: keys, item shapes, repositories.
//!
//! Access is GetItem, Query and TransactWriteItems only; no Scan anywhere on a request path.
//! Every write of a session or an account is conditional on its status and version. Read
//! [`keys`] for the key design and [`sessions`] for the state-changing writes.

pub mod accounts;
pub mod api_keys;
pub mod client_tokens;
pub mod devices;
pub mod documents;
pub mod feed;
pub mod idempotency;
pub mod items;
pub mod keys;
pub mod objects;
pub mod query;
pub mod rate_limits;
pub mod secrets;
pub mod sessions;
pub mod table;
pub mod timers;
pub mod verifications;
pub mod webhooks;
pub mod write;

pub use write::{Child, Refusal, Write, WriteError};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;

/// A raw DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition of a write did not hold. `reasons[i]` is the cancellation code of the
    /// transaction's i-th operation (`ConditionalCheckFailed`, `None`, …) and `items[i]` the
    /// item as it was when the condition was checked, where DynamoDB returned it.
    #[error("a write condition did not hold")]
    ConditionFailed {
        /// Per-operation cancellation codes.
        reasons: Vec<Option<String>>,
        /// Per-operation old items.
        items: Vec<Option<Item>>,
    },
    /// Another transaction touched the same items at the same time; safe to retry.
    #[error("the transaction collided with another one")]
    TransactionConflict,
    /// DynamoDB is throttling us; the caller should back off (`503` with `Retry-After`).
    #[error("DynamoDB throttled {context}")]
    Throttled {
        /// What we were doing.
        context: &'static str,
    },
    /// DynamoDB or S3 did not answer in time, refused or dropped the connection, or
    /// answered with a server error (after the SDK's retries): the caller should back off
    /// (`503` with `Retry-After`). For a write, whether it took effect is unknown.
    #[error("{service} unavailable while {context}")]
    Unavailable {
        /// `DynamoDB` or `S3`.
        service: &'static str,
        /// What we were doing.
        context: &'static str,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Any other DynamoDB failure.
    #[error("DynamoDB failed while {context}")]
    Dynamo {
        /// What we were doing.
        context: &'static str,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An S3 failure.
    #[error("S3 failed while {context}")]
    S3 {
        /// What we were doing.
        context: &'static str,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An item in the table does not have the shape this code expects.
    #[error("stored item does not decode while {context}")]
    Corrupt {
        /// What we were doing.
        context: &'static str,
        /// The decoding error.
        #[source]
        source: serde_dynamo::Error,
    },
}

impl StoreError {
    /// True when the i-th operation of a cancelled transaction failed its condition.
    pub(crate) fn condition_failed_at(&self, i: usize) -> bool {
        matches!(self, StoreError::ConditionFailed { reasons, .. }
            if reasons.get(i).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed"))
    }

    /// The old item DynamoDB returned for the i-th operation of a cancelled transaction.
    pub(crate) fn old_item(&self, i: usize) -> Option<&Item> {
        match self {
            StoreError::ConditionFailed { items, .. } => items.get(i).and_then(Option::as_ref),
            _ => None,
        }
    }
}

/// Codes DynamoDB uses when it sheds load.
const THROTTLING_CODES: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
];

/// True when an SDK error means the service could not be reached or could not serve us
/// right now, rather than that it refused this request: a timeout (connect, attempt or
/// operation), a connection refused, reset or dropped, or a 5xx answer. The SDK has already
/// retried these within its operation timeout (`config::AwsTimeouts`).
pub(crate) fn is_unavailable<E, R>(err: &SdkError<E, R>) -> bool
where
    R: HttpStatus,
{
    match err {
        SdkError::TimeoutError(_) => true,
        // Not `is_user`: a request the client could not even build or sign is a bug.
        SdkError::DispatchFailure(d) => !d.is_user(),
        SdkError::ResponseError(r) => r.raw().status_code() >= 500,
        SdkError::ServiceError(s) => s.raw().status_code() >= 500,
        _ => false,
    }
}

/// The HTTP status of a raw SDK response (every SDK client answers with the same type).
pub(crate) trait HttpStatus {
    /// The status code.
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_dynamodb::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Maps an SDK error to a [`StoreError`], recognising throttling and unavailability.
pub(crate) fn sdk_error<E, R>(context: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: HttpStatus + std::fmt::Debug + Send + Sync + 'static,
{
    if err
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| THROTTLING_CODES.contains(&code))
    {
        return StoreError::Throttled { context };
    }
    if is_unavailable(&err) {
        return StoreError::Unavailable {
            service: "DynamoDB",
            context,
            source: Box::new(err),
        };
    }
    StoreError::Dynamo {
        context,
        source: Box::new(err),
    }
}

/// What the writes of one request came to, as [`watch_writes`] saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// A transaction committed.
    pub committed: bool,
    /// A transaction was sent and no definite answer came back (timeout, dropped
    /// connection, server error): it may have committed.
    pub unknown: bool,
}

impl WriteOutcome {
    /// True when something may have been written: running the request again could do it
    /// twice.
    pub fn may_have_written(&self) -> bool {
        self.committed || self.unknown
    }
}

#[derive(Debug, Default)]
struct WriteWatch {
    committed: AtomicBool,
    unknown: AtomicBool,
}

tokio::task_local! {
    static WRITES: Arc<WriteWatch>;
}

/// Runs `f`, recording what the transactions it runs (on this task) came to. The
/// idempotency layer uses it to keep a key claimed when a failed request may have written.
pub async fn watch_writes<F: std::future::Future>(f: F) -> (F::Output, WriteOutcome) {
    let watch = Arc::new(WriteWatch::default());
    let out = WRITES.scope(watch.clone(), f).await;
    let outcome = WriteOutcome {
        committed: watch.committed.load(Ordering::Relaxed),
        unknown: watch.unknown.load(Ordering::Relaxed),
    };
    (out, outcome)
}

/// Records a transaction's outcome for [`watch_writes`] (nothing outside it).
fn note_write(result: &Result<(), StoreError>) {
    let _ = WRITES.try_with(|w| match result {
        Ok(()) => w.committed.store(true, Ordering::Relaxed),
        // DynamoDB evaluated the transaction and refused it: nothing was written.
        Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {}
        Err(_) => w.unknown.store(true, Ordering::Relaxed),
    });
}

/// The `ClientRequestToken` of a transaction: 32 hex digits of SHA-256 over the request id
/// and the operations (every key, condition, value and version in them, in a canonical
/// order). The SDK's retries of one call send the same token, and so does this request if
/// it sends the very same write again, so DynamoDB applies it at most once (within its
/// 10-minute token window). Another request, or a write decided on other versions, gets
/// another token. Outside a request (stream and queue handlers) a random scope stands in
/// for the request id: no two invocations share a token.
pub(crate) fn request_token(request_id: &str, ops: &[TransactWriteItem]) -> String {
    use sha2::{Digest, Sha256};
    let scope = if request_id.is_empty() {
        crate::domain::ids::new_ulid(time::OffsetDateTime::now_utc()).to_string()
    } else {
        request_id.to_owned()
    };
    let mut h = Sha256::new();
    h.update(scope.as_bytes());
    for op in ops {
        h.update(b"\x1e");
        token::op(&mut h, op);
    }
    hex::encode(&h.finalize()[..16])
}

/// Canonical hashing of transaction operations for [`request_token`]: maps in key order,
/// every field length-prefixed, so equal operations hash equally however their maps were
/// built.
mod token {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
    use sha2::{Digest, Sha256};

    fn text(h: &mut Sha256, tag: &str, s: &str) {
        h.update(tag.as_bytes());
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    }

    fn opt(h: &mut Sha256, tag: &str, s: Option<&str>) {
        if let Some(s) = s {
            text(h, tag, s);
        }
    }

    fn names(h: &mut Sha256, m: Option<&HashMap<String, String>>) {
        let mut v: Vec<_> = m.into_iter().flatten().collect();
        v.sort();
        for (k, x) in v {
            text(h, "n", k);
            text(h, "=", x);
        }
    }

    fn item(h: &mut Sha256, tag: &str, m: Option<&HashMap<String, AttributeValue>>) {
        let mut v: Vec<_> = m.into_iter().flatten().collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        text(h, tag, &v.len().to_string());
        for (k, x) in v {
            text(h, "k", k);
            value(h, x);
        }
    }

    fn value(h: &mut Sha256, v: &AttributeValue) {
        match v {
            AttributeValue::S(s) => text(h, "S", s),
            AttributeValue::N(s) => text(h, "N", s),
            AttributeValue::Bool(b) => text(h, "BOOL", if *b { "1" } else { "0" }),
            AttributeValue::Null(_) => text(h, "NULL", ""),
            AttributeValue::B(b) => text(h, "B", &hex::encode(b.as_ref())),
            AttributeValue::Ss(l) | AttributeValue::Ns(l) => {
                let mut l = l.clone();
                l.sort();
                text(h, "SET", &l.len().to_string());
                for s in &l {
                    text(h, "e", s);
                }
            }
            AttributeValue::Bs(l) => {
                let mut l: Vec<String> = l.iter().map(|b| hex::encode(b.as_ref())).collect();
                l.sort();
                text(h, "BS", &l.len().to_string());
                for s in &l {
                    text(h, "e", s);
                }
            }
            AttributeValue::L(l) => {
                text(h, "L", &l.len().to_string());
                for x in l {
                    value(h, x);
                }
            }
            AttributeValue::M(m) => item(h, "M", Some(m)),
            // A type newer than this code: its debug form still tells values apart.
            other => text(h, "?", &format!("{other:?}")),
        }
    }

    /// Feeds one operation into `h`.
    pub(super) fn op(h: &mut Sha256, op: &TransactWriteItem) {
        if let Some(p) = op.put() {
            text(h, "put", p.table_name());
            item(h, "item", Some(p.item()));
            opt(h, "cond", p.condition_expression());
            names(h, p.expression_attribute_names());
            item(h, "vals", p.expression_attribute_values());
        }
        if let Some(u) = op.update() {
            text(h, "update", u.table_name());
            item(h, "key", Some(u.key()));
            text(h, "expr", u.update_expression());
            opt(h, "cond", u.condition_expression());
            names(h, u.expression_attribute_names());
            item(h, "vals", u.expression_attribute_values());
        }
        if let Some(d) = op.delete() {
            text(h, "delete", d.table_name());
            item(h, "key", Some(d.key()));
            opt(h, "cond", d.condition_expression());
            names(h, d.expression_attribute_names());
            item(h, "vals", d.expression_attribute_values());
        }
        if let Some(c) = op.condition_check() {
            text(h, "check", c.table_name());
            item(h, "key", Some(c.key()));
            text(h, "cond", c.condition_expression());
            names(h, c.expression_attribute_names());
            item(h, "vals", c.expression_attribute_values());
        }
    }
}

/// Decodes an item into `T`.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    context: &'static str,
    item: Item,
) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|source| StoreError::Corrupt { context, source })
}

/// Encodes `T` as an item.
pub(crate) fn encode<T: serde::Serialize>(
    context: &'static str,
    value: &T,
) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|source| StoreError::Corrupt { context, source })
}

/// Turns an SDK builder's error (a missing required field: a bug, not bad input) into a
/// [`StoreError`].
pub(crate) fn build<T, E: std::error::Error + Send + Sync + 'static>(
    r: Result<T, E>,
) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Dynamo {
        context: "building a request",
        source: Box::new(e),
    })
}

/// A string attribute value.
pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute value.
pub(crate) fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The table and the client, shared by every repository. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: Arc<str>,
    retention: timers::Retention,
}

impl Store {
    /// A store over `table`.
    pub fn new(client: Client, table: impl Into<Arc<str>>) -> Store {
        Store {
            client,
            table: table.into(),
            retention: timers::Retention::default(),
        }
    }

    /// The same store, writing retention timers for `retention` (every function that writes
    /// sessions must use the same policy: `Config::retention`).
    pub fn with_retention(mut self, retention: timers::Retention) -> Store {
        self.retention = retention;
        self
    }

    /// How long sessions are kept after they end.
    pub fn retention(&self) -> timers::Retention {
        self.retention
    }

    /// The DynamoDB client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The primary key of an item.
    pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
        HashMap::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
    }

    /// GetItem with a strongly consistent read, so a resource is readable as soon as the
    /// request that wrote it has answered.
    pub(crate) async fn get_item(
        &self,
        context: &'static str,
        pk: String,
        sk: &str,
    ) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(context, e))?;
        Ok(out.item)
    }

    /// GetItem (consistent) decoded into `T`.
    pub(crate) async fn get_decoded<T: serde::de::DeserializeOwned>(
        &self,
        context: &'static str,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_item(context, pk, sk)
            .await?
            .map(|item| decode(context, item))
            .transpose()
    }

    /// Runs a transaction; a failed condition becomes [`StoreError::ConditionFailed`] with
    /// the per-operation reasons and old items. It carries a `ClientRequestToken`
    /// ([`request_token`]), so a retry of a transaction that timed out after DynamoDB
    /// applied it does not apply it twice; an outcome that stays unknown is
    /// [`StoreError::Unavailable`] and is recorded for [`watch_writes`].
    pub(crate) async fn transact(
        &self,
        context: &'static str,
        ops: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        let token = request_token(&crate::http::request_id::current_request_id(), &ops);
        let result = self.transact_once(context, ops, token).await;
        note_write(&result);
        result
    }

    async fn transact_once(
        &self,
        context: &'static str,
        ops: Vec<TransactWriteItem>,
        token: String,
    ) -> Result<(), StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(ops))
            .client_request_token(token)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                    err.as_service_error()
                {
                    let reasons = cancel.cancellation_reasons();
                    let codes: Vec<Option<String>> = reasons
                        .iter()
                        .map(|r| r.code().map(str::to_owned))
                        .collect();
                    if codes
                        .iter()
                        .any(|c| c.as_deref() == Some("ConditionalCheckFailed"))
                    {
                        return Err(StoreError::ConditionFailed {
                            reasons: codes,
                            items: reasons.iter().map(|r| r.item().cloned()).collect(),
                        });
                    }
                    if codes
                        .iter()
                        .any(|c| matches!(c.as_deref(), Some("TransactionConflict")))
                    {
                        return Err(StoreError::TransactionConflict);
                    }
                    if codes
                        .iter()
                        .any(|c| c.as_deref().is_some_and(|c| THROTTLING_CODES.contains(&c)))
                    {
                        return Err(StoreError::Throttled { context });
                    }
                }
                if err
                    .as_service_error()
                    .and_then(|e| e.code())
                    .is_some_and(|c| {
                        c == "TransactionConflictException" || c == "TransactionInProgressException"
                    })
                {
                    return Err(StoreError::TransactionConflict);
                }
                Err(sdk_error(context, err))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::Put;

    fn put(version: u32, reversed: bool) -> TransactWriteItem {
        let mut attrs = vec![
            ("pk", s("T#acme#ses_1")),
            ("sk", s("SESSION")),
            ("version", n(version)),
            ("tags", AttributeValue::Ss(vec!["b".into(), "a".into()])),
        ];
        if reversed {
            attrs.reverse();
        }
        let item: Item = attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let put = Put::builder()
            .table_name("idv")
            .set_item(Some(item))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", n(version.saturating_sub(1)))
            .build()
            .expect("put");
        TransactWriteItem::builder().put(put).build()
    }

    #[test]
    fn a_request_token_names_one_write_of_one_request() {
        let scoped = request_token;
        let t = scoped("req-1", &[put(2, false)]);
        assert!(
            t.len() <= 36 && t.chars().all(|c| c.is_ascii_hexdigit()),
            "{t}"
        );
        // The same write, however its maps were built, is the same token in one request …
        assert_eq!(scoped("req-1", &[put(2, true)]), t);
        // … and another token for another version or another request.
        assert_ne!(scoped("req-1", &[put(3, false)]), t);
        assert_ne!(scoped("req-2", &[put(2, false)]), t);
        // Outside a request no two calls share one.
        assert_ne!(
            request_token("", &[put(2, false)]),
            request_token("", &[put(2, false)])
        );
    }

    #[tokio::test]
    async fn a_write_without_a_definite_answer_may_have_written() {
        let unavailable = || StoreError::Unavailable {
            service: "DynamoDB",
            context: "test",
            source: "timed out".into(),
        };
        let refused = || StoreError::ConditionFailed {
            reasons: vec![Some("ConditionalCheckFailed".into())],
            items: vec![None],
        };
        let run = |results: Vec<Result<(), StoreError>>| async move {
            watch_writes(async move { results.iter().for_each(note_write) })
                .await
                .1
        };
        assert!(!run(vec![]).await.may_have_written());
        assert!(
            !run(vec![Err(refused()), Err(StoreError::TransactionConflict)])
                .await
                .may_have_written()
        );
        let lost = run(vec![Err(refused()), Err(unavailable())]).await;
        assert!(lost.unknown && !lost.committed && lost.may_have_written());
        let done = run(vec![Ok(())]).await;
        assert!(done.committed && done.may_have_written());
        // Outside a watch nothing is recorded, and nothing fails.
        note_write(&Err(unavailable()));
    }
}
