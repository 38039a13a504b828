//! The DynamoDB single table: keys, item shapes, repositories.
//!
//! Access is GetItem, Query and TransactWriteItems only; no Scan anywhere on a request path.
//! Every write of a session or an account is conditional on its status and version. Read
//! [`keys`] for the key design and [`sessions`] for the state-changing writes.

pub mod accounts;
pub mod api_keys;
pub mod devices;
pub mod documents;
pub mod idempotency;
pub mod items;
pub mod keys;
pub mod objects;
pub mod query;
pub mod sessions;
pub mod table;
pub mod timers;
pub mod verifications;

use std::collections::HashMap;
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
    pub fn condition_failed_at(&self, i: usize) -> bool {
        matches!(self, StoreError::ConditionFailed { reasons, .. }
            if reasons.get(i).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed"))
    }

    /// The old item DynamoDB returned for the i-th operation of a cancelled transaction.
    pub fn old_item(&self, i: usize) -> Option<&Item> {
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

/// Maps an SDK error to a [`StoreError`], recognising throttling.
pub(crate) fn sdk_error<E, R>(context: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if err
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| THROTTLING_CODES.contains(&code))
    {
        return StoreError::Throttled { context };
    }
    StoreError::Dynamo {
        context,
        source: Box::new(err),
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
    /// the per-operation reasons and old items.
    pub async fn transact(
        &self,
        context: &'static str,
        ops: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(ops))
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
