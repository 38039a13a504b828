//! The events feed in the table (`domain::feed`): one item per event, written only inside
//! the transaction of the change it reports ([`Write::PutFeedEvent`](super::Write), and for
//! every session event by `sessions::session_write_ops`), so the feed never tells of a change
//! that did not happen, nor misses one that did.
//!
//! | | key | round trips |
//! |---|---|---|
//! | one event | `T#EVENT#evt` / `FEED_EVENT` | GetItem |
//! | the feed, newest first | gsi1 `T#EVENTS` / `created_at#evt` | 1 Query |
//! | one session's events | gsi3 `T#SESSION#sess#EVENTS` / `created_at#evt` | 1 Query |
//!
//! Types are a filter expression (`IN` for exact types, `begins_with` for `session.*`), so a
//! filtered page reads at most `query::FILTERED_READ` items; a time range is a key condition.
//!
//! Each item carries `ttl` = `created_at` + 30 days: DynamoDB's TTL deletes it, and the
//! deletion reaches `expiry-stream`, which acts only on items whose `entity` is `timer`
//! (`timers::timer_from_item`), so a feed item's expiry changes nothing. Like timers, feed
//! items sit in every index (under their own pk/sk where no query names them), because
//! DynamoDB Local's TTL stalls on an item that lacks the key of any index of its table
//! (`timers::timer_item`).

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::items::{envelope, ItemKeys};
use super::keys::{self, GSI1, GSI2, GSI3, GSI4};
use super::query::{Filter, ListQuery, Page, PageRequest, Partition};
use super::{build, decode, n, s, Item, Store, StoreError};
use crate::domain::feed::{FeedEvent, TypeFilter};
use crate::domain::ids::{EventId, SessionId};
use crate::domain::values::{Tenancy, Timestamp};

/// Entity name of feed items.
pub const ENTITY: &str = "feed_event";

/// How to narrow the feed.
#[derive(Debug, Clone, Default)]
pub struct FeedFilter {
    /// Only these types (any of them).
    pub types: Vec<TypeFilter>,
    /// Only this session's events.
    pub session_id: Option<SessionId>,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created at or before.
    pub created_to: Option<Timestamp>,
}

/// The item of a feed event, with its keys and `ttl`.
pub fn feed_item(tenancy: &Tenancy, event: &FeedEvent) -> Result<Item, StoreError> {
    let pk = keys::feed_event_pk(tenancy, event.id);
    let sk = keys::FEED_EVENT_SK.to_owned();
    let pos = keys::position(event.created_at, &event.id);
    let gsi3 = match event.data.session_id {
        Some(session) => (GSI3, keys::session_feed_pk(tenancy, session), pos.clone()),
        None => (GSI3, pk.clone(), sk.clone()),
    };
    let indexes = vec![
        (GSI1, keys::feed_pk(tenancy), pos),
        (GSI2, pk.clone(), sk.clone()),
        gsi3,
        (GSI4, pk.clone(), sk.clone()),
    ];
    let mut item = envelope(ENTITY, ItemKeys { pk, sk, indexes }, event)?;
    item.insert(keys::TTL.to_owned(), n(event.expires()));
    Ok(item)
}

/// A Put of a new feed event (its id is fresh; the condition only guards against a
/// collision overwriting another event).
pub(crate) fn put_feed_event(
    store: &Store,
    tenancy: &Tenancy,
    event: &FeedEvent,
) -> Result<TransactWriteItem, StoreError> {
    let put = build(
        Put::builder()
            .table_name(store.table())
            .set_item(Some(feed_item(tenancy, event)?))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The filter expression of a type list: any exact type, or any prefix.
fn type_filter(types: &[TypeFilter]) -> Option<Filter> {
    if types.is_empty() {
        return None;
    }
    let mut filter = Filter {
        names: [("#f_type".to_owned(), "type".to_owned())].into(),
        ..Filter::default()
    };
    let mut clauses = Vec::new();
    for (i, t) in types.iter().enumerate() {
        let ph = format!(":f_type{i}");
        match t {
            TypeFilter::Exact(x) => {
                clauses.push(format!("#f_type = {ph}"));
                filter.values.insert(ph, s(x.as_str()));
            }
            TypeFilter::Prefix(p) => {
                clauses.push(format!("begins_with(#f_type, {ph})"));
                filter.values.insert(ph, s(p.as_str()));
            }
        }
    }
    filter.expression = clauses.join(" OR ");
    Some(filter)
}

/// The list a feed request reads: the session's partition (gsi3) or the whole feed (gsi1),
/// newest first, within the time range.
fn feed_query(tenancy: &Tenancy, f: &FeedFilter) -> ListQuery {
    let (index, pk) = match f.session_id {
        Some(session) => (GSI3, keys::session_feed_pk(tenancy, session)),
        None => (GSI1, keys::feed_pk(tenancy)),
    };
    ListQuery {
        partitions: vec![Partition {
            index: Some(index),
            pk,
            sk_prefix: String::new(),
            filter: None,
        }],
        ascending: false,
        from: f.created_from.map(|t| t.to_string()),
        to: f.created_to.map(|t| t.to_string()),
        filter: type_filter(&f.types),
    }
}

/// The scope and event of a feed item's stream image (the webhook fan-out reads the
/// table's stream); `None` for any other item. The scope comes from the partition key, so
/// an event is only ever fanned out to the endpoints of the tenancy that owns it.
pub fn feed_event_from_image<I: Into<serde_dynamo::Item>>(
    image: I,
) -> Result<Option<(Tenancy, FeedEvent)>, StoreError> {
    let image: serde_dynamo::Item = image.into();
    let corrupt = |source| StoreError::Corrupt {
        context: "reading a stream image",
        source,
    };
    #[derive(serde::Deserialize)]
    struct Head {
        pk: String,
        entity: Option<String>,
    }
    let head: Head = serde_dynamo::from_item(image.clone()).map_err(corrupt)?;
    if head.entity.as_deref() != Some(ENTITY) {
        return Ok(None);
    }
    let mut parts = head.pk.splitn(3, '#');
    let tenant = parts
        .next()
        .and_then(crate::domain::values::TenantId::parse);
    let environment = parts
        .next()
        .and_then(crate::domain::values::Environment::parse);
    let (Some(tenant), Some(environment)) = (tenant, environment) else {
        return Ok(None);
    };
    let event: FeedEvent = serde_dynamo::from_item(image).map_err(corrupt)?;
    Ok(Some((
        Tenancy {
            tenant,
            environment,
        },
        event,
    )))
}

impl Store {
    /// One feed event of this scope (strongly consistent GetItem); `None` for an unknown
    /// id, a foreign one (its key names another scope's partition) or one past its 30 days
    /// that TTL has not removed yet.
    pub async fn get_feed_event(
        &self,
        tenancy: &Tenancy,
        id: EventId,
        now: Timestamp,
    ) -> Result<Option<FeedEvent>, StoreError> {
        let event: Option<FeedEvent> = self
            .get_decoded(
                "reading an event",
                keys::feed_event_pk(tenancy, id),
                keys::FEED_EVENT_SK,
            )
            .await?;
        // TTL deletes late (up to days on AWS): an expired item is already gone to readers.
        Ok(event.filter(|e| e.expires() > now.unix()))
    }

    /// One page of the scope's feed, newest first (one Query).
    pub async fn list_feed(
        &self,
        tenancy: &Tenancy,
        filter: &FeedFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<FeedEvent>, StoreError> {
        let mut page = self
            .list(&feed_query(tenancy, filter), page)
            .await?
            .try_map(|item| decode::<FeedEvent>("listing events", item))?;
        page.items.retain(|(_, e)| e.expires() > now.unix());
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::Actor;
    use crate::domain::feed::{FeedData, FeedObject};
    use crate::domain::values::{Environment, TenantId};

    #[test]
    fn feed_items_are_in_every_index_and_expire_after_30_days() {
        let tenancy = Tenancy {
            tenant: TenantId::parse("acme").expect("tenant"),
            environment: Environment::Staging,
        };
        let at = Timestamp::parse("2025-01-15T10:30:00Z").expect("ts");
        let event = FeedEvent {
            id: EventId::new(at.datetime()),
            kind: "account.created".into(),
            created_at: at,
            actor: Actor::system("test"),
            data: FeedData {
                object: FeedObject {
                    kind: "account".into(),
                    id: "acc_01HQ0000000000000000000000".into(),
                    status: Some("active".into()),
                },
                previous_status: None,
                session_id: None,
                document_id: None,
            },
        };
        let item = feed_item(&tenancy, &event).expect("item");
        for index in keys::INDEXES {
            assert!(item.contains_key(index.pk) && item.contains_key(index.sk));
        }
        assert_eq!(
            item.get("ttl").and_then(|v| v.as_n().ok()).cloned(),
            Some((at.unix() + 30 * 86_400).to_string())
        );
        assert_eq!(
            item.get("gsi1pk").and_then(|v| v.as_s().ok()).cloned(),
            Some("acme#staging#EVENTS".to_owned())
        );
        assert_eq!(
            crate::store::timers::timer_from_item(item).expect("decodes"),
            None,
            "a feed item is never taken for a timer"
        );
        let decoded: FeedEvent =
            decode("t", feed_item(&tenancy, &event).expect("item")).expect("decode");
        assert_eq!(decoded, event);
    }
}
