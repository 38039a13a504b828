//! Webhook endpoints and delivery attempts in the table (`domain::webhook`).
//!
//! | | keys | round trips |
//! |---|---|---|
//! | one endpoint | `T#WEBHOOK#whe` / `WEBHOOK_ENDPOINT` | GetItem |
//! | a scope's endpoints, newest first | gsi1 `T#WEBHOOK_ENDPOINTS` / pos | 1 Query (≤ 16 items) |
//! | the endpoint count (the cap of 16) | `T#WEBHOOK_ENDPOINTS` / `COUNT` | in the create/delete transaction |
//! | one attempt | `T#DELIVERY#whd` / `DELIVERY` | GetItem, conditional Put |
//! | an endpoint's attempts | gsi1 `T#WEBHOOK#whe#DELIVERIES` / pos | 1 Query |
//!
//! Creating an endpoint adds one to the count in the same transaction, on condition that it
//! is below the cap, so two racing creates can never make a 17th. Attempts are kept 30 days
//! (`ttl`) and, like every item with a TTL, sit in every index (`store::feed` says why).
//! A delivery id is derived from (endpoint, event, sequence, attempt), so the conditional
//! Put of an attempt is also what makes a duplicate queue message harmless: the second
//! claim fails.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use super::items::{envelope, ItemKeys};
use super::keys::{self, GSI1, GSI2, GSI3, GSI4};
use super::query::{Filter, ListQuery, Page, PageRequest, Partition};
use super::{build, decode, n, s, Item, Store, StoreError};
use crate::domain::ids::{DeliveryId, EventId, WebhookEndpointId};
use crate::domain::values::{Tenancy, Timestamp};
use crate::domain::webhook::{Delivery, DeliveryStatus, Endpoint, EndpointStatus, MAX_ENDPOINTS};

/// Entity name of endpoint items.
pub const ENDPOINT_ENTITY: &str = "webhook_endpoint";
/// Entity name of delivery items.
pub const DELIVERY_ENTITY: &str = "webhook_delivery";
/// How long delivery records are kept (as long as the events they deliver).
pub const DELIVERY_RETENTION: time::Duration = crate::domain::feed::RETENTION;

/// How to narrow an endpoint's deliveries.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only attempts of this event.
    pub event_id: Option<EventId>,
    /// Only attempts in these statuses.
    pub statuses: Vec<DeliveryStatus>,
}

fn endpoint_item(tenancy: &Tenancy, e: &Endpoint) -> Result<Item, StoreError> {
    let keys = ItemKeys {
        pk: keys::webhook_endpoint_pk(tenancy, e.id),
        sk: keys::WEBHOOK_ENDPOINT_SK.to_owned(),
        indexes: vec![(
            GSI1,
            keys::webhook_endpoints_pk(tenancy),
            keys::position(e.created_at, &e.id),
        )],
    };
    envelope(ENDPOINT_ENTITY, keys, e)
}

fn delivery_item(tenancy: &Tenancy, d: &Delivery) -> Result<Item, StoreError> {
    let pk = keys::delivery_pk(tenancy, d.id);
    let sk = keys::DELIVERY_SK.to_owned();
    let keys = ItemKeys {
        pk: pk.clone(),
        sk: sk.clone(),
        indexes: vec![
            (
                GSI1,
                keys::endpoint_deliveries_pk(tenancy, d.endpoint_id),
                keys::position(d.scheduled_at, &d.id),
            ),
            (GSI2, pk.clone(), sk.clone()),
            (GSI3, pk.clone(), sk.clone()),
            (GSI4, pk, sk),
        ],
    };
    let mut item = envelope(DELIVERY_ENTITY, keys, d)?;
    item.insert(
        keys::TTL.to_owned(),
        n(d.scheduled_at.add(DELIVERY_RETENTION).unix()),
    );
    Ok(item)
}

fn count_key(tenancy: &Tenancy) -> Item {
    Store::key(keys::webhook_endpoints_pk(tenancy), keys::WEBHOOK_COUNT_SK)
}

impl Store {
    /// Writes a new endpoint and counts it; `false` (nothing written) when the scope
    /// already has [`MAX_ENDPOINTS`].
    pub async fn create_endpoint(
        &self,
        tenancy: &Tenancy,
        e: &Endpoint,
    ) -> Result<bool, StoreError> {
        let put = build(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(endpoint_item(tenancy, e)?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let count = build(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(count_key(tenancy)))
                .update_expression("SET #n = if_not_exists(#n, :zero) + :one, entity = :entity")
                .condition_expression("attribute_not_exists(#n) OR #n < :max")
                .expression_attribute_names("#n", "endpoints")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(MAX_ENDPOINTS))
                .expression_attribute_values(":entity", s("webhook_endpoint_count"))
                .build(),
        )?;
        let ops = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        match self.transact("creating a webhook endpoint", ops).await {
            Ok(()) => Ok(true),
            Err(e) if e.condition_failed_at(1) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One endpoint of this scope (consistent read).
    pub async fn get_endpoint(
        &self,
        tenancy: &Tenancy,
        id: WebhookEndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.get_decoded(
            "reading a webhook endpoint",
            keys::webhook_endpoint_pk(tenancy, id),
            keys::WEBHOOK_ENDPOINT_SK,
        )
        .await
    }

    /// Replaces an endpoint as it was read at version `read_version`; `false` when it
    /// changed or went in the meantime.
    pub async fn put_endpoint(
        &self,
        tenancy: &Tenancy,
        read_version: u64,
        next: &Endpoint,
    ) -> Result<bool, StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(endpoint_item(tenancy, next)?))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", n(read_version))
            .send()
            .await;
        conditional(result, "writing a webhook endpoint")
    }

    /// Deletes an endpoint as read at `read_version` and uncounts it; `false` when it
    /// changed or went in the meantime.
    pub async fn delete_endpoint(
        &self,
        tenancy: &Tenancy,
        id: WebhookEndpointId,
        read_version: u64,
    ) -> Result<bool, StoreError> {
        let delete = build(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(Store::key(
                    keys::webhook_endpoint_pk(tenancy, id),
                    keys::WEBHOOK_ENDPOINT_SK,
                )))
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", n(read_version))
                .build(),
        )?;
        let count = build(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(count_key(tenancy)))
                .update_expression("SET #n = #n - :one")
                .condition_expression("#n > :zero")
                .expression_attribute_names("#n", "endpoints")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .build(),
        )?;
        let ops = vec![
            TransactWriteItem::builder().delete(delete).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        match self.transact("deleting a webhook endpoint", ops).await {
            Ok(()) => Ok(true),
            Err(e) if e.condition_failed_at(0) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One page of the scope's endpoints, newest first (one Query).
    pub async fn list_endpoints(
        &self,
        tenancy: &Tenancy,
        page: &PageRequest,
    ) -> Result<Page<Endpoint>, StoreError> {
        self.list(&endpoints_query(tenancy), page)
            .await?
            .try_map(|item| decode::<Endpoint>("listing webhook endpoints", item))
    }

    /// Every endpoint of the scope (one Query: there are at most 16).
    pub async fn all_endpoints(&self, tenancy: &Tenancy) -> Result<Vec<Endpoint>, StoreError> {
        self.list_all(&endpoints_query(tenancy))
            .await?
            .into_iter()
            .map(|item| decode("listing webhook endpoints", item))
            .collect()
    }

    /// Claims attempt `d` (pending, leased to this caller until `d.lease_until`): written
    /// if it does not exist yet, or if it is pending and no lease on it is current (a
    /// scheduled retry, or an attempt whose worker died). `false`: another worker has it or
    /// it is finished (a duplicate message).
    pub async fn claim_delivery(
        &self,
        tenancy: &Tenancy,
        d: &Delivery,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(delivery_item(tenancy, d)?))
            .condition_expression(
                "attribute_not_exists(pk) OR (#st = :pending AND \
                 (attribute_not_exists(#lease) OR attribute_type(#lease, :null) OR #lease < :now))",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#lease", "lease_until")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":null", s("NULL"))
            .expression_attribute_values(":now", s(now.to_string()))
            .send()
            .await;
        conditional(result, "claiming a delivery")
    }

    /// Records a finished attempt (only while this worker's lease holds) and, in the same
    /// transaction, the next attempt as pending; `false` when the lease was lost.
    pub async fn finish_delivery(
        &self,
        tenancy: &Tenancy,
        done: &Delivery,
        lease: Timestamp,
        next: Option<&Delivery>,
    ) -> Result<bool, StoreError> {
        let put = build(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(delivery_item(tenancy, done)?))
                .condition_expression("#st = :pending AND #lease = :lease")
                .expression_attribute_names("#st", "status")
                .expression_attribute_names("#lease", "lease_until")
                .expression_attribute_values(":pending", s("pending"))
                .expression_attribute_values(":lease", s(lease.to_string()))
                .build(),
        )?;
        let mut ops = vec![TransactWriteItem::builder().put(put).build()];
        if let Some(next) = next {
            let put = build(
                Put::builder()
                    .table_name(self.table())
                    .set_item(Some(delivery_item(tenancy, next)?))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?;
            ops.push(TransactWriteItem::builder().put(put).build());
        }
        match self.transact("recording a delivery", ops).await {
            Ok(()) => Ok(true),
            Err(e) if e.condition_failed_at(0) => Ok(false),
            // The next attempt exists already (a previous run recorded it): write this one alone.
            Err(e) if e.condition_failed_at(1) => {
                Box::pin(self.finish_delivery(tenancy, done, lease, None)).await
            }
            Err(e) => Err(e),
        }
    }

    /// Records that `endpoint`'s attempts have failed since `since`, unless an earlier
    /// failure is already recorded (one write, no read).
    pub async fn mark_failing(
        &self,
        tenancy: &Tenancy,
        endpoint: WebhookEndpointId,
        since: Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Store::key(
                keys::webhook_endpoint_pk(tenancy, endpoint),
                keys::WEBHOOK_ENDPOINT_SK,
            )))
            .update_expression("SET failing_since = :since")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(failing_since) OR attribute_type(failing_since, :null))",
            )
            .expression_attribute_values(":since", s(since.to_string()))
            .expression_attribute_values(":null", s("NULL"))
            .send()
            .await;
        conditional(result, "marking an endpoint failing").map(|_| ())
    }

    /// Clears `endpoint`'s failing mark after a success.
    pub async fn clear_failing(
        &self,
        tenancy: &Tenancy,
        endpoint: WebhookEndpointId,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Store::key(
                keys::webhook_endpoint_pk(tenancy, endpoint),
                keys::WEBHOOK_ENDPOINT_SK,
            )))
            .update_expression("SET failing_since = :null_value")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":null_value", AttributeValue::Null(true))
            .send()
            .await;
        conditional(result, "clearing an endpoint's failing mark").map(|_| ())
    }

    /// Disables an endpoint that has failed since `since` (only if still enabled and still
    /// failing since then: a success or a re-enable in between wins).
    pub async fn disable_failing(
        &self,
        tenancy: &Tenancy,
        endpoint: WebhookEndpointId,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Store::key(
                keys::webhook_endpoint_pk(tenancy, endpoint),
                keys::WEBHOOK_ENDPOINT_SK,
            )))
            .update_expression(
                "SET #st = :disabled, disabled_reason = :why, updated_at = :now, #v = #v + :one",
            )
            .condition_expression("#st = :enabled AND failing_since = :since")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":disabled", s(EndpointStatus::Disabled.as_str()))
            .expression_attribute_values(":enabled", s(EndpointStatus::Enabled.as_str()))
            .expression_attribute_values(":why", s("failing"))
            .expression_attribute_values(":now", s(now.to_string()))
            .expression_attribute_values(":since", s(since.to_string()))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        conditional(result, "disabling a failing endpoint")
    }

    /// One attempt (consistent read).
    pub async fn get_delivery(
        &self,
        tenancy: &Tenancy,
        id: DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        self.get_decoded(
            "reading a delivery",
            keys::delivery_pk(tenancy, id),
            keys::DELIVERY_SK,
        )
        .await
    }

    /// One page of an endpoint's attempts, newest first (one Query).
    pub async fn list_deliveries(
        &self,
        tenancy: &Tenancy,
        endpoint: WebhookEndpointId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let mut f: Option<Filter> = None;
        if let Some(event) = filter.event_id {
            f = Some(Filter::one_of("event", "event_id", &[&event.to_string()]));
        }
        if !filter.statuses.is_empty() {
            let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
            let by_status = Filter::one_of("status", "status", &statuses);
            f = Some(match f {
                Some(f) => f.and(by_status),
                None => by_status,
            });
        }
        let query = ListQuery {
            partitions: vec![Partition {
                index: Some(GSI1),
                pk: keys::endpoint_deliveries_pk(tenancy, endpoint),
                sk_prefix: String::new(),
                filter: None,
            }],
            ascending: false,
            from: None,
            to: None,
            filter: f,
        };
        self.list(&query, page)
            .await?
            .try_map(|item| decode::<Delivery>("listing deliveries", item))
    }
}

fn endpoints_query(tenancy: &Tenancy) -> ListQuery {
    ListQuery {
        partitions: vec![Partition {
            index: Some(GSI1),
            pk: keys::webhook_endpoints_pk(tenancy),
            sk_prefix: String::new(),
            filter: None,
        }],
        ascending: false,
        from: None,
        to: None,
        filter: None,
    }
}

/// `Ok(true)` for a write, `Ok(false)` for a failed condition.
fn conditional<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
    context: &'static str,
) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: super::HttpStatus + std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(super::sdk_error(context, e)),
    }
}
