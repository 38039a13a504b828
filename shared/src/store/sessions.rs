//! Sessions and their event logs in the table.
//!
//! Round trips: create = 1 transaction (session, `session.created` event, and a condition
//! check that the linked account exists); get = 1 GetItem; a transition or an update = 1
//! transaction (the session, conditional on the status and version that were read, its
//! event and the event's entry in the feed, `store::feed`); list = 1 Query per partition; events = 1 Query.

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use super::items::{envelope, ItemKeys};
use super::keys::{self, GSI1, GSI2, GSI3};
use super::query::{Filter, ListQuery, Page, PageRequest, Partition};
use super::write::{Child, Write};
use super::{build, decode, n, s, Item, Store, StoreError};
use crate::domain::event::Event;
use crate::domain::feed::FeedEvent;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{EntityType, Session, SessionStatus};
use crate::domain::values::{Tenancy, Timestamp};

/// Entity name of session items.
pub const ENTITY: &str = "session";
/// Entity name of event items.
pub const EVENT_ENTITY: &str = "event";

/// The item of a session, with its index keys: gsi1 lists all sessions, gsi2 the account's,
/// gsi3 those in its status.
pub fn session_item(tenancy: &Tenancy, session: &Session) -> Result<Item, StoreError> {
    let pos = keys::position(session.created_at, &session.id);
    let mut indexes = vec![
        (GSI1, keys::sessions_pk(tenancy), pos.clone()),
        (
            GSI3,
            keys::sessions_by_status_pk(tenancy, session.status().as_str()),
            pos.clone(),
        ),
    ];
    if let Some(account) = session.account_id {
        indexes.push((
            GSI2,
            keys::account_children_pk(tenancy, account),
            format!("{}{pos}", keys::CHILD_SESSION_PREFIX),
        ));
    }
    envelope(
        ENTITY,
        ItemKeys {
            pk: keys::session_pk(tenancy, session.id),
            sk: keys::SESSION_SK.to_owned(),
            indexes,
        },
        session,
    )
}

/// The item of an event.
pub fn event_item(tenancy: &Tenancy, event: &Event) -> Result<Item, StoreError> {
    envelope(
        EVENT_ENTITY,
        ItemKeys {
            pk: keys::session_pk(tenancy, event.session_id),
            sk: keys::event_sk(event.seq),
            indexes: Vec::new(),
        },
        event,
    )
}

/// A Put of a new event (an event is never overwritten: its key is the session version).
pub(crate) fn put_event(
    store: &Store,
    tenancy: &Tenancy,
    event: &Event,
) -> Result<TransactWriteItem, StoreError> {
    let put = build(
        Put::builder()
            .table_name(store.table())
            .set_item(Some(event_item(tenancy, event)?))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A Put of `next` that only succeeds if the stored session still has `expected`'s status
/// and version. On failure DynamoDB returns the stored item, so the caller can tell a lost
/// race from a stale read without another round trip.
pub(crate) fn put_session_if_unchanged(
    store: &Store,
    tenancy: &Tenancy,
    expected: &Session,
    next: &Session,
) -> Result<TransactWriteItem, StoreError> {
    let put = build(
        Put::builder()
            .table_name(store.table())
            .set_item(Some(session_item(tenancy, next)?))
            .condition_expression("#status = :status AND #version = :version")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":status", s(expected.status().as_str()))
            .expression_attribute_values(":version", n(expected.version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Every write that replacing `current` by `next` takes (`current` is `None` for a new
/// session): the session itself, conditional on `current`'s status and version (or on not
/// existing yet), then its `events` (each with its feed entry), then the items derived from the session that must
/// change in the same transaction ([`derived_ops`]). The session is always the first
/// operation, so a failed condition at index 0 means the session changed since it was read.
pub(crate) fn session_write_ops(
    store: &Store,
    tenancy: &Tenancy,
    current: Option<&Session>,
    next: &Session,
    events: &[Event],
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut ops = Vec::with_capacity(2 + 2 * events.len());
    ops.push(match current {
        Some(current) => put_session_if_unchanged(store, tenancy, current, next)?,
        None => {
            let put = build(
                Put::builder()
                    .table_name(store.table())
                    .set_item(Some(session_item(tenancy, next)?))
                    .condition_expression("attribute_not_exists(pk)")
                    .build(),
            )?;
            TransactWriteItem::builder().put(put).build()
        }
    });
    for event in events {
        ops.push(put_event(store, tenancy, event)?);
        // Every session event is also an entry of the tenancy's feed, in the same
        // transaction, so no session change can go unreported.
        ops.push(super::feed::put_feed_event(
            store,
            tenancy,
            &FeedEvent::of_session_event(event),
        )?);
    }
    ops.extend(derived_ops(store, tenancy, current, next)?);
    Ok(ops)
}

/// Items kept in step with a session's state, written in the same transaction as the
/// session: its expiry and retention timers (`timers::timer_ops`), put, moved or deleted
/// as `next` calls for.
pub(crate) fn derived_ops(
    store: &Store,
    tenancy: &Tenancy,
    current: Option<&Session>,
    next: &Session,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    super::timers::timer_ops(store, tenancy, current, next)
}

pub use super::write::SessionWriteError;

/// How to narrow a list of sessions.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only this account's sessions.
    pub account_id: Option<AccountId>,
    /// Only these statuses (as users see them: an overdue `started` session is `expired`).
    pub statuses: Vec<SessionStatus>,
    /// Only this entity type.
    pub entity_type: Option<EntityType>,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created at or before.
    pub created_to: Option<Timestamp>,
}

impl SessionFilter {
    /// Whether `s`, as users see it, passes the filter.
    pub fn matches(&self, s: &Session) -> bool {
        self.account_id.is_none_or(|a| s.account_id == Some(a))
            && (self.statuses.is_empty() || self.statuses.contains(&s.status()))
            && self.entity_type.is_none_or(|e| e == s.entity_type)
            && self.created_from.is_none_or(|t| s.created_at >= t)
            && self.created_to.is_none_or(|t| s.created_at <= t)
    }
}

impl Store {
    /// Writes a new session and its `session.created` event; with `account`, also checks in
    /// the same transaction that the account exists in this scope and is not being redacted
    /// ([`Write::CheckAccount`]), and records the session as the account's open child, which
    /// the account's redaction finds with a consistent read.
    pub async fn create_session(
        &self,
        tenancy: &Tenancy,
        session: &Session,
        created: &Event,
        account: Option<AccountId>,
    ) -> Result<(), SessionWriteError> {
        let mut writes = vec![Write::NewSession {
            session: session.clone(),
            events: vec![created.clone()],
        }];
        writes.extend(Write::link_child(account, Child::Session(session.id)));
        Ok(self.write(tenancy, "creating a session", writes).await?)
    }

    /// Reads a session (strongly consistent).
    pub async fn get_session(
        &self,
        tenancy: &Tenancy,
        id: SessionId,
    ) -> Result<Option<Session>, StoreError> {
        self.get_decoded(
            "reading a session",
            keys::session_pk(tenancy, id),
            keys::SESSION_SK,
        )
        .await
    }

    /// Replaces `current` by `next` if nobody changed it in between, writing `events` and the
    /// `extra` writes in the same transaction.
    pub async fn replace_session(
        &self,
        tenancy: &Tenancy,
        current: &Session,
        next: &Session,
        events: &[Event],
        extra: Vec<Write>,
    ) -> Result<(), SessionWriteError> {
        let mut writes = vec![Write::PutSession {
            read: current.clone(),
            next: next.clone(),
            events: events.to_vec(),
        }];
        writes.extend(extra);
        Ok(self.write(tenancy, "writing a session", writes).await?)
    }

    /// One page of a scope's sessions, newest first. Status filters see sessions as users
    /// do: an overdue `created`/`started`/`pending` session counts as `expired`.
    pub async fn list_sessions(
        &self,
        tenancy: &Tenancy,
        filter: &SessionFilter,
        now: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<Session>, StoreError> {
        let query = sessions_query(tenancy, filter, now);
        self.list(&query, page)
            .await?
            .try_map(|item| decode("listing sessions", item))
    }

    /// Every session of an account (for the redaction cascade), read page by page.
    pub async fn account_sessions(
        &self,
        tenancy: &Tenancy,
        account: AccountId,
    ) -> Result<Vec<Session>, StoreError> {
        let filter = SessionFilter {
            account_id: Some(account),
            ..SessionFilter::default()
        };
        let query = sessions_query(tenancy, &filter, Timestamp::now());
        self.list_all(&query)
            .await?
            .into_iter()
            .map(|item| decode("listing sessions", item))
            .collect()
    }

    /// One page of a session's events, oldest first.
    pub async fn list_events(
        &self,
        tenancy: &Tenancy,
        id: SessionId,
        page: &PageRequest,
    ) -> Result<Page<Event>, StoreError> {
        let query = ListQuery {
            partitions: vec![Partition {
                index: None,
                pk: keys::session_pk(tenancy, id),
                sk_prefix: keys::EVENT_SK_PREFIX.to_owned(),
                filter: None,
            }],
            ascending: true,
            from: None,
            to: None,
            filter: None,
        };
        self.list(&query, page)
            .await?
            .try_map(|item| decode("listing events", item))
    }

    /// Every event of a session that carries a comment (for redaction).
    pub async fn events_with_comments(
        &self,
        tenancy: &Tenancy,
        id: SessionId,
    ) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :events)")
                .filter_expression("attribute_exists(#data.#comment)")
                .expression_attribute_names("#data", "data")
                .expression_attribute_names("#comment", "comment")
                .expression_attribute_values(":pk", s(keys::session_pk(tenancy, id)))
                .expression_attribute_values(":events", s(keys::EVENT_SK_PREFIX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| super::sdk_error("reading events", e))?;
            for item in page.items.unwrap_or_default() {
                out.push(decode("reading events", item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    /// An Update removing the reviewer's comment of event `seq` of session `id` (redaction).
    /// Idempotent: an event without a comment stays as it is.
    pub(crate) fn strip_event_comment(
        &self,
        tenancy: &Tenancy,
        id: SessionId,
        seq: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = build(
            aws_sdk_dynamodb::types::Update::builder()
                .table_name(self.table())
                .key(keys::PK, s(keys::session_pk(tenancy, id)))
                .key(keys::SK, s(keys::event_sk(seq)))
                .update_expression("REMOVE #data.#comment")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#data", "data")
                .expression_attribute_names("#comment", "comment")
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// A Put that overwrites an existing event (used only to strip comments on redaction).
    pub(crate) fn overwrite_event(
        &self,
        tenancy: &Tenancy,
        event: &Event,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = build(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(event_item(tenancy, event)?))
                .condition_expression("attribute_exists(pk)")
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// Chooses the partitions for a session list: the account's children, one partition per
/// status, or all sessions; then adds the filters the partition does not already imply.
fn sessions_query(tenancy: &Tenancy, f: &SessionFilter, now: Timestamp) -> ListQuery {
    let mut filter = Filter::default();
    if let Some(et) = f.entity_type {
        filter = filter.and(Filter {
            expression: "#f_et = :f_et".into(),
            names: [("#f_et".to_owned(), "entity_type".to_owned())].into(),
            values: [(":f_et".to_owned(), s(et.as_str()))].into(),
        });
    }
    let status_filter = (!f.statuses.is_empty()).then(|| status_predicate(&f.statuses, now));
    let partitions = if let Some(account) = f.account_id {
        vec![Partition {
            index: Some(GSI2),
            pk: keys::account_children_pk(tenancy, account),
            sk_prefix: keys::CHILD_SESSION_PREFIX.to_owned(),
            filter: None,
        }]
    } else if !f.statuses.is_empty() {
        // The stored statuses that can appear as one of the requested ones.
        let mut stored: Vec<SessionStatus> = f.statuses.clone();
        if f.statuses.contains(&SessionStatus::Expired) {
            for st in [
                SessionStatus::Created,
                SessionStatus::Started,
                SessionStatus::Pending,
            ] {
                if !stored.contains(&st) {
                    stored.push(st);
                }
            }
        }
        stored
            .into_iter()
            .map(|st| Partition {
                index: Some(GSI3),
                pk: keys::sessions_by_status_pk(tenancy, st.as_str()),
                sk_prefix: String::new(),
                filter: None,
            })
            .collect()
    } else {
        vec![Partition {
            index: Some(GSI1),
            pk: keys::sessions_pk(tenancy),
            sk_prefix: String::new(),
            filter: None,
        }]
    };
    if let Some(sf) = status_filter {
        filter = filter.and(sf);
    }
    ListQuery {
        partitions,
        ascending: false,
        from: f.created_from.map(|t| t.to_string()),
        to: f.created_to.map(|t| t.to_string()),
        filter: (!filter.expression.is_empty()).then_some(filter),
    }
}

/// A filter that holds for sessions whose *visible* status is one of `wanted`: a stored
/// expirable status counts only while not overdue, and `expired` also matches overdue ones.
fn status_predicate(wanted: &[SessionStatus], now: Timestamp) -> Filter {
    let names = std::collections::HashMap::from([
        ("#f_st".to_owned(), "status".to_owned()),
        ("#f_exp".to_owned(), "expires_at".to_owned()),
    ]);
    let mut values: std::collections::HashMap<String, AttributeValue> =
        std::collections::HashMap::from([
            (":f_now".to_owned(), s(now.to_string())),
            (":f_null".to_owned(), s("NULL")),
        ]);
    let live = "(attribute_type(#f_exp, :f_null) OR #f_exp > :f_now)";
    let overdue = "attribute_type(#f_exp, :f_str) AND #f_exp <= :f_now";
    let mut clauses = Vec::new();
    for (i, st) in wanted.iter().enumerate() {
        let ph = format!(":f_s{i}");
        values.insert(ph.clone(), s(st.as_str()));
        if st.is_expirable() {
            clauses.push(format!("#f_st = {ph} AND {live}"));
        } else {
            clauses.push(format!("#f_st = {ph}"));
        }
    }
    if wanted.contains(&SessionStatus::Expired) {
        values.insert(":f_str".to_owned(), s("S"));
        for (i, st) in SessionStatus::ALL
            .iter()
            .filter(|st| st.is_expirable())
            .enumerate()
        {
            let ph = format!(":f_e{i}");
            values.insert(ph.clone(), s(st.as_str()));
            clauses.push(format!("#f_st = {ph} AND {overdue}"));
        }
    }
    Filter {
        expression: clauses.join(" OR "),
        names,
        values,
    }
}
