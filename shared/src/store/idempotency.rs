//! Idempotency records: the first response to a POST carrying `Idempotency-Key`, kept for
//! 24 hours so a retry gets the same answer.
//!
//! A request first *claims* its key with a conditional Put (one round trip). If the claim
//! fails, DynamoDB hands back the existing record in the same response, so telling "replay",
//! "different body" and "still running" apart costs nothing more. A claim holds a lease: if
//! the Lambda dies mid-request, the key can be claimed again once the lease ran out.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use serde::{Deserialize, Serialize};
use time::Duration;

use super::items::{envelope, ItemKeys};
use super::keys;
use super::{decode, n, s, Store, StoreError};
use crate::domain::auth::Permission;
use crate::domain::ids::{AccountId, DocumentId, SessionId};
use crate::domain::values::{Tenancy, Timestamp};

/// Entity name of idempotency records.
pub const ENTITY: &str = "idempotency";
/// How long a response is replayed.
pub const RETENTION: Duration = Duration::hours(24);
/// How long a claim protects a request that is still running.
pub const LEASE: Duration = Duration::seconds(60);

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers worth replaying (`Location`, `Content-Type`).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
    /// The scopes the answer was given under (the endpoint's, and any that showed more):
    /// a replay goes only to a key holding every one of them. Records are per tenancy, not
    /// per key, so another key of the tenancy may send the same `Idempotency-Key`.
    #[serde(default)]
    pub scopes: Vec<Permission>,
}

/// An idempotency record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// SHA-256 of method, path and body: what "the same request" means.
    pub fingerprint: String,
    /// The response, once there is one.
    pub response: Option<StoredResponse>,
    /// A running request owns the key until then.
    pub locked_until: Timestamp,
    /// First seen.
    pub created_at: Timestamp,
    /// Seconds since the epoch after which the record is void (also the TTL attribute).
    pub ttl: i64,
    /// The resource whose redaction removes what the response shows: the session its
    /// resource belongs to, else the document a verification is of, else the resource
    /// itself (see `http::middleware`). Redacting the subject scrubs the stored body.
    #[serde(default)]
    pub subject: Option<String>,
    /// True once the body was scrubbed because its subject was redacted.
    #[serde(default)]
    pub redacted: bool,
}

/// The index keys of an idempotency record: gsi2 under its subject (the session, document or
/// account whose redaction removes what the stored body shows, for
/// [`Store::scrub_idempotency`]), every other index under the record's own key, a
/// partition no query names. Records carry a `ttl`, and DynamoDB Local's TTL cannot delete
/// an item missing the key of one of the table's indexes (and then stops deleting anything
/// in that table: see `timers::timer_item`), so the same items work locally and on AWS.
fn record_indexes(
    pk: &str,
    subject: Option<(String, String)>,
) -> Vec<(keys::Index, String, String)> {
    let own = |index| (index, pk.to_owned(), keys::IDEMPOTENCY_SK.to_owned());
    let gsi2 = match subject {
        Some((spk, ssk)) => (keys::GSI2, spk, ssk),
        None => own(keys::GSI2),
    };
    vec![own(keys::GSI1), gsi2, own(keys::GSI3), own(keys::GSI4)]
}

/// The result of a claim.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours; run the request and then [`Store::complete_idempotency`].
    Acquired,
    /// Someone used the key before; here is their record.
    Existing(IdempotencyRecord),
}

impl Store {
    /// Claims `key_hash` for a request with `fingerprint`.
    pub async fn claim_idempotency(
        &self,
        tenancy: &Tenancy,
        key_hash: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<Claim, StoreError> {
        let record = IdempotencyRecord {
            fingerprint: fingerprint.to_owned(),
            response: None,
            locked_until: now.add(LEASE),
            created_at: now,
            ttl: now.add(RETENTION).unix(),
            subject: None,
            redacted: false,
        };
        let pk = keys::idempotency_pk(tenancy, key_hash);
        let item = envelope(
            ENTITY,
            ItemKeys {
                indexes: record_indexes(&pk, None),
                pk,
                sk: keys::IDEMPOTENCY_SK.to_owned(),
            },
            &record,
        )?;
        // Free if new, past its retention (TTL deletion lags), or abandoned mid-request by
        // the same request.
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR #ttl < :now_s \
                 OR (attribute_type(#response, :null) AND #locked < :now AND #fp = :fp)",
            )
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_names("#response", "response")
            .expression_attribute_names("#locked", "locked_until")
            .expression_attribute_names("#fp", "fingerprint")
            .expression_attribute_values(":now_s", n(now.unix()))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":null", s("NULL"))
            .expression_attribute_values(":fp", s(fingerprint))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                let old = match e.err() {
                    PutItemError::ConditionalCheckFailedException(c) => c.item().cloned(),
                    _ => None,
                };
                let old = match old {
                    Some(item) => item,
                    // Older DynamoDB versions do not return the item; read it.
                    None => match self
                        .get_item(
                            "reading an idempotency record",
                            keys::idempotency_pk(tenancy, key_hash),
                            keys::IDEMPOTENCY_SK,
                        )
                        .await?
                    {
                        Some(item) => item,
                        None => {
                            return Box::pin(self.claim_idempotency(
                                tenancy,
                                key_hash,
                                fingerprint,
                                now,
                            ))
                            .await
                        }
                    },
                };
                Ok(Claim::Existing(decode(
                    "reading an idempotency record",
                    old,
                )?))
            }
            Err(e) => Err(super::sdk_error("claiming an idempotency key", e)),
        }
    }

    /// Stores the response of a claimed request. `subject` is the id of the session,
    /// document or account whose redaction removes what the body shows; the record is
    /// indexed under it for [`Store::scrub_idempotency`].
    pub async fn complete_idempotency(
        &self,
        tenancy: &Tenancy,
        key_hash: &str,
        fingerprint: &str,
        response: StoredResponse,
        subject: Option<String>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let pk = keys::idempotency_pk(tenancy, key_hash);
        let indexes = record_indexes(
            &pk,
            subject.as_ref().map(|s| {
                (
                    keys::idempotency_subject_pk(tenancy, s),
                    keys::position(now, &key_hash),
                )
            }),
        );
        let record = IdempotencyRecord {
            fingerprint: fingerprint.to_owned(),
            response: Some(response),
            locked_until: now,
            created_at: now,
            ttl: now.add(RETENTION).unix(),
            subject,
            redacted: false,
        };
        let item = envelope(
            ENTITY,
            ItemKeys {
                pk,
                sk: keys::IDEMPOTENCY_SK.to_owned(),
                indexes,
            },
            &record,
        )?;
        let Some(check) = self.unredacted(tenancy, record.subject.as_deref())? else {
            return self
                .put_own_record(item, fingerprint, "storing an idempotent response")
                .await;
        };
        // A request that wrote before a redaction began may finish after the redaction's
        // scrub has run: stored unconditionally, its answer would keep what the redaction
        // removed. So the answer is stored only while its subject is unredacted, in one
        // transaction with that check; a redaction marks the subject before it scrubs, so
        // either the scrub finds this record or this check fails and the body is dropped.
        let put = super::build(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .condition_expression("#fp = :fp")
                .expression_attribute_names("#fp", "fingerprint")
                .expression_attribute_values(":fp", s(fingerprint))
                .build(),
        )?;
        let ops = vec![TransactWriteItem::builder().put(put).build(), check];
        match self.transact("storing an idempotent response", ops).await {
            Err(e) if e.condition_failed_at(1) => {
                let scrubbed = IdempotencyRecord {
                    response: record.response.map(|r| StoredResponse {
                        body: String::new(),
                        ..r
                    }),
                    redacted: true,
                    ..record
                };
                let pk = keys::idempotency_pk(tenancy, key_hash);
                let item = envelope(
                    ENTITY,
                    ItemKeys {
                        indexes: record_indexes(&pk, None),
                        pk,
                        sk: keys::IDEMPOTENCY_SK.to_owned(),
                    },
                    &scrubbed,
                )?;
                self.put_own_record(item, fingerprint, "storing a scrubbed idempotent response")
                    .await
            }
            other => other,
        }
    }

    /// Writes a record over the claim it completes: only while the claim is still this
    /// request's (same fingerprint), so a request whose lease ran out cannot overwrite
    /// another's answer.
    async fn put_own_record(
        &self,
        item: super::Item,
        fingerprint: &str,
        context: &'static str,
    ) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("#fp = :fp")
            .expression_attribute_names("#fp", "fingerprint")
            .expression_attribute_values(":fp", s(fingerprint))
            .send()
            .await
            .map_err(|e| super::sdk_error(context, e))?;
        Ok(())
    }

    /// A condition (in a transaction) that the resource a stored answer is indexed under —
    /// a session, an account or a document — exists and no redaction of it has begun.
    /// `None` for subjects redaction never scrubs.
    fn unredacted(
        &self,
        tenancy: &Tenancy,
        subject: Option<&str>,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        let Some(subject) = subject else {
            return Ok(None);
        };
        let (pk, sk) = if let Ok(id) = AccountId::parse(subject) {
            return super::accounts::check_account_open(self, tenancy, id).map(Some);
        } else if let Ok(id) = SessionId::parse(subject) {
            (keys::session_pk(tenancy, id), keys::SESSION_SK)
        } else if let Ok(id) = DocumentId::parse(subject) {
            (keys::document_pk(tenancy, id), keys::DOCUMENT_SK)
        } else {
            return Ok(None);
        };
        let check = super::build(
            ConditionCheck::builder()
                .table_name(self.table())
                .set_key(Some(Store::key(pk, sk)))
                .condition_expression(
                    "attribute_exists(pk) \
                     AND (attribute_not_exists(#redacted_at) OR attribute_type(#redacted_at, :null))",
                )
                .expression_attribute_names("#redacted_at", "redacted_at")
                .expression_attribute_values(":null", s("NULL"))
                .build(),
        )?;
        Ok(Some(
            TransactWriteItem::builder().condition_check(check).build(),
        ))
    }

    /// Gives up a claim (the request failed in a way worth retrying).
    pub async fn release_idempotency(
        &self,
        tenancy: &Tenancy,
        key_hash: &str,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(Store::key(
                keys::idempotency_pk(tenancy, key_hash),
                keys::IDEMPOTENCY_SK,
            )))
            .condition_expression("#fp = :fp AND attribute_type(#response, :null)")
            .expression_attribute_names("#fp", "fingerprint")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":fp", s(fingerprint))
            .expression_attribute_values(":null", s("NULL"))
            .send()
            .await
            .map_err(|e| super::sdk_error("releasing an idempotency key", e))?;
        Ok(())
    }
}

impl Store {
    /// Removes the stored bodies of every idempotent response indexed under `subject` (a
    /// session, account or document being redacted: every answer that showed it or a
    /// device, document or verification of it): the record stays, so a retry is still not
    /// executed twice, but it no longer holds personal data. 1 Query + 1 write per record.
    pub async fn scrub_idempotency(
        &self,
        tenancy: &Tenancy,
        subject: &str,
    ) -> Result<(), StoreError> {
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(keys::GSI2.name)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", keys::GSI2.pk)
                .expression_attribute_values(
                    ":pk",
                    s(keys::idempotency_subject_pk(tenancy, subject)),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| super::sdk_error("finding idempotent responses", e))?;
            for item in page.items.unwrap_or_default() {
                let (Some(pk), Some(sk)) =
                    (item.get(keys::PK).cloned(), item.get(keys::SK).cloned())
                else {
                    continue;
                };
                self.client()
                    .update_item()
                    .table_name(self.table())
                    .key(keys::PK, pk.clone())
                    .key(keys::SK, sk)
                    .update_expression(
                        "SET #response.#body = :empty, #redacted = :t, #gpk = :own_pk, #gsk = :own_sk",
                    )
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_names("#response", "response")
                    .expression_attribute_names("#body", "body")
                    .expression_attribute_names("#redacted", "redacted")
                    .expression_attribute_names("#gpk", keys::GSI2.pk)
                    .expression_attribute_names("#gsk", keys::GSI2.sk)
                    .expression_attribute_values(":empty", s(""))
                    // Out of the subject's partition, back under its own key (see
                    // `record_indexes`).
                    .expression_attribute_values(":own_pk", pk.clone())
                    .expression_attribute_values(":own_sk", s(keys::IDEMPOTENCY_SK))
                    .expression_attribute_values(
                        ":t",
                        aws_sdk_dynamodb::types::AttributeValue::Bool(true),
                    )
                    .send()
                    .await
                    .map_err(|e| super::sdk_error("scrubbing an idempotent response", e))?;
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(());
            }
        }
    }
}
