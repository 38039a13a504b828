//! Timers: items that make something happen to a session at a set time without anyone
//! calling the API. Two kinds: `expiry` (the session's `expires_at`, while it can still
//! expire) and `retention` (redaction a configured time after the session ended).
//!
//! A timer lives in its session's partition (`TIMER#EXPIRY`, `TIMER#RETENTION`); its `ttl`
//! is its due time, so DynamoDB's TTL deletes it about then and the deletion reaches the
//! `expiry-stream` function through the table's stream. It is also in gsi4
//! (`TIMERS#<KIND>#<shard>` / `due#T#id`), where the sweep finds due timers with a Query
//! when TTL lags (up to two days on AWS). The session item itself never carries a TTL.
//!
//! Timers are never written on their own initiative: [`timer_ops`] derives them from the
//! session in every session write (`sessions::derived_ops`), so a timer appears, moves or
//! disappears in the same transaction as the change that calls for it. Read
//! `functions/expiry` next for what happens when one fires.

use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};
use time::Duration;

use super::items::{envelope, ItemKeys};
use super::keys::{self, GSI1, GSI2, GSI3, GSI4};
use super::{build, n, s, sdk_error, Item, Store, StoreError};
use crate::domain::ids::SessionId;
use crate::domain::session::Session;
use crate::domain::values::{Environment, Tenancy, TenantId, Timestamp};

/// Entity name of timer items.
pub const ENTITY: &str = "timer";

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Expire the session (it is still `created`, `started` or `pending` at `expires_at`).
    Expiry,
    /// Redact the session, the configured retention after it ended.
    Retention,
}

impl TimerKind {
    /// Every kind.
    pub const ALL: [TimerKind; 2] = [TimerKind::Expiry, TimerKind::Retention];

    /// The name stored in the item's `kind`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TimerKind::Expiry => "expiry",
            TimerKind::Retention => "retention",
        }
    }

    /// The name used in keys.
    pub fn key_name(&self) -> &'static str {
        match self {
            TimerKind::Expiry => "EXPIRY",
            TimerKind::Retention => "RETENTION",
        }
    }
}

/// A timer: what to do to which session, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// What it does.
    pub kind: TimerKind,
    /// The session's tenant.
    pub tenant: TenantId,
    /// The session's environment.
    pub environment: Environment,
    /// The session.
    pub session_id: SessionId,
    /// When it is due.
    pub due: Timestamp,
}

impl Timer {
    /// The session's scope.
    pub fn tenancy(&self) -> Tenancy {
        Tenancy {
            tenant: self.tenant.clone(),
            environment: self.environment,
        }
    }

    /// The TTL attribute: the due time rounded *up* to whole seconds, so TTL never deletes
    /// (and so fires) a timer before it is due.
    pub fn ttl(&self) -> i64 {
        let secs = self.due.unix();
        if self.due.datetime().millisecond() > 0 {
            secs + 1
        } else {
            secs
        }
    }
}

/// How long sessions are kept after they end, per environment; `None` keeps them forever.
/// Configured with `IDV_RETENTION_PRODUCTION` and `IDV_RETENTION_STAGING` (`config`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Production sessions.
    pub production: Option<Duration>,
    /// Staging sessions.
    pub staging: Option<Duration>,
}

impl Retention {
    /// The retention of `environment`.
    pub fn for_environment(&self, environment: Environment) -> Option<Duration> {
        match environment {
            Environment::Production => self.production,
            Environment::Staging => self.staging,
        }
    }
}

/// The timer of `kind` a session in this state must have, if any.
///
/// - expiry: while the status is expirable and `expires_at` is set, due at `expires_at`;
/// - retention: once the status is terminal and the environment has a retention, due that
///   long after the session ended. It stays after redaction: the retention job deletes it
///   only once the whole cascade (files, comments, stored responses) has finished, so an
///   interrupted cascade is picked up again.
pub fn wanted(
    kind: TimerKind,
    tenancy: &Tenancy,
    session: &Session,
    retention: &Retention,
) -> Option<Timer> {
    let due = match kind {
        TimerKind::Expiry => session
            .expires_at
            .filter(|_| session.status().is_expirable())?,
        TimerKind::Retention => {
            let keep = retention.for_environment(tenancy.environment)?;
            session.ended_at()?.add(keep)
        }
    };
    Some(Timer {
        kind,
        tenant: tenancy.tenant.clone(),
        environment: tenancy.environment,
        session_id: session.id,
        due,
    })
}

/// The item of a timer: its session's partition, gsi4 by shard and due time, and `ttl`.
///
/// It is also in gsi1–gsi3, under its own primary key (a partition no query names), only
/// because DynamoDB Local's TTL cannot delete an item that lacks the key of any index of
/// its table, and then stops deleting anything else in that table too (measured with
/// DynamoDB Local 3.3.1; AWS has no such limit). Three tiny index entries per timer are
/// the price of running the very same items locally and on AWS.
pub fn timer_item(timer: &Timer) -> Result<Item, StoreError> {
    let tenancy = timer.tenancy();
    let kind = timer.kind.key_name();
    let pk = keys::session_pk(&tenancy, timer.session_id);
    let sk = keys::timer_sk(kind);
    let mut indexes: Vec<_> = [GSI1, GSI2, GSI3]
        .into_iter()
        .map(|index| (index, pk.clone(), sk.clone()))
        .collect();
    indexes.push((
        GSI4,
        keys::timers_pk(kind, keys::timer_shard(timer.session_id)),
        keys::timer_position(timer.due, &tenancy, timer.session_id),
    ));
    let mut item = envelope(ENTITY, ItemKeys { pk, sk, indexes }, timer)?;
    item.insert(keys::TTL.to_owned(), n(timer.ttl()));
    Ok(item)
}

/// Reads a timer from an item, or from a stream record's image (`aws_lambda_events` hands
/// those over as `serde_dynamo::Item`). `Ok(None)` when the item is not a timer.
pub fn timer_from_item<I: Into<serde_dynamo::Item>>(item: I) -> Result<Option<Timer>, StoreError> {
    #[derive(Deserialize)]
    struct Entity {
        entity: Option<String>,
    }
    let item: serde_dynamo::Item = item.into();
    let corrupt = |source| StoreError::Corrupt {
        context: "reading a timer",
        source,
    };
    let entity: Entity = serde_dynamo::from_item(item.clone()).map_err(corrupt)?;
    if entity.entity.as_deref() != Some(ENTITY) {
        return Ok(None);
    }
    serde_dynamo::from_item(item).map(Some).map_err(corrupt)
}

fn timer_key(timer: &Timer) -> Item {
    Store::key(
        keys::session_pk(&timer.tenancy(), timer.session_id),
        keys::timer_sk(timer.kind.key_name()),
    )
}

/// The operations that turn the timers `current` wants into those `next` wants (`current`
/// is `None` for a new session). Only called from `sessions::derived_ops`, inside the
/// session's own transaction.
///
/// The Puts and Deletes are unconditional on purpose: the session's write in the same
/// transaction is conditional on its status and version, and that orders every change of
/// its timers; a timer may also be gone already because TTL deleted it, which is fine.
pub(crate) fn timer_ops(
    store: &Store,
    tenancy: &Tenancy,
    current: Option<&Session>,
    next: &Session,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let retention = store.retention();
    let mut ops = Vec::new();
    for kind in TimerKind::ALL {
        let before = current.and_then(|c| wanted(kind, tenancy, c, &retention));
        let after = wanted(kind, tenancy, next, &retention);
        match (before, after) {
            (before, Some(after)) if before.as_ref() != Some(&after) => {
                let put = build(
                    Put::builder()
                        .table_name(store.table())
                        .set_item(Some(timer_item(&after)?))
                        .build(),
                )?;
                ops.push(TransactWriteItem::builder().put(put).build());
            }
            (Some(before), None) => {
                let delete = build(
                    Delete::builder()
                        .table_name(store.table())
                        .set_key(Some(timer_key(&before)))
                        .build(),
                )?;
                ops.push(TransactWriteItem::builder().delete(delete).build());
            }
            _ => {}
        }
    }
    Ok(ops)
}

/// One page of [`Store::due_timers`].
#[derive(Debug, Clone, Default)]
pub struct DueTimers {
    /// Due timers, earliest first.
    pub timers: Vec<Timer>,
    /// Where the next page starts, if there is one.
    pub next: Option<Item>,
}

impl Store {
    /// A session's timer of `kind`, if it exists (strongly consistent).
    pub async fn get_timer(
        &self,
        tenancy: &Tenancy,
        id: SessionId,
        kind: TimerKind,
    ) -> Result<Option<Timer>, StoreError> {
        match self
            .get_item(
                "reading a timer",
                keys::session_pk(tenancy, id),
                &keys::timer_sk(kind.key_name()),
            )
            .await?
        {
            Some(item) => timer_from_item(item),
            None => Ok(None),
        }
    }

    /// One page (at most `limit`) of the timers of `kind` in gsi4 `shard` that are due at or
    /// before `now`, earliest first: a Query on one gsi4 partition with a key condition,
    /// never a Scan. gsi4 is eventually consistent, so whoever acts on a timer reads the
    /// session again first.
    pub async fn due_timers(
        &self,
        kind: TimerKind,
        shard: u8,
        now: Timestamp,
        limit: i32,
        start: Option<Item>,
    ) -> Result<DueTimers, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI4.name)
            .key_condition_expression("#pk = :pk AND #sk < :bound")
            .expression_attribute_names("#pk", GSI4.pk)
            .expression_attribute_names("#sk", GSI4.sk)
            .expression_attribute_values(":pk", s(keys::timers_pk(kind.key_name(), shard)))
            .expression_attribute_values(":bound", s(keys::timers_due_bound(now)))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("finding due timers", e))?;
        let mut timers = Vec::new();
        for item in out.items.unwrap_or_default() {
            if let Some(timer) = timer_from_item(item)? {
                timers.push(timer);
            }
        }
        Ok(DueTimers {
            timers,
            next: out.last_evaluated_key,
        })
    }

    /// Writes `timer` again, provided `session` is still stored as read (same status and
    /// version): for a session that still wants a timer TTL already deleted (it was moved
    /// while TTL was deleting it, or clocks disagree by a second). False if the session
    /// changed meanwhile; its own write has then set its timers.
    pub async fn rearm_timer(&self, session: &Session, timer: &Timer) -> Result<bool, StoreError> {
        let check = build(
            ConditionCheck::builder()
                .table_name(self.table())
                .set_key(Some(Store::key(
                    keys::session_pk(&timer.tenancy(), session.id),
                    keys::SESSION_SK,
                )))
                .condition_expression("#status = :status AND #version = :version")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":status", s(session.status().as_str()))
                .expression_attribute_values(":version", n(session.version))
                .build(),
        )?;
        let put = build(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(timer_item(timer)?))
                .build(),
        )?;
        let ops = vec![
            TransactWriteItem::builder().condition_check(check).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        match self.transact("re-arming a timer", ops).await {
            Ok(()) => Ok(true),
            Err(e) if e.condition_failed_at(0) => Ok(false),
            Err(StoreError::TransactionConflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes `timer` if it is still stored with the same due time: a timer its session no
    /// longer wants, or a retention timer whose job has finished. False if it is gone or was
    /// moved meanwhile.
    pub async fn remove_timer(&self, timer: &Timer) -> Result<bool, StoreError> {
        let out = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(timer_key(timer)))
            .condition_expression("#due = :due")
            .expression_attribute_names("#due", "due")
            .expression_attribute_values(":due", s(timer.due.to_string()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("removing a timer", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::applicant::ApplicantData;
    use crate::domain::session::{Action, Creator, EntityType};

    fn tenancy() -> Tenancy {
        Tenancy {
            tenant: TenantId::parse("acme").expect("tenant"),
            environment: Environment::Staging,
        }
    }

    fn session(expires_at: Option<Timestamp>) -> Session {
        let now = Timestamp::parse("2025-01-15T10:30:00Z").expect("ts");
        Session::new(
            SessionId::new(now.datetime()),
            Creator {
                kind: "api".into(),
                id: None,
            },
            EntityType::Person,
            None,
            ApplicantData::default(),
            expires_at,
            now,
        )
    }

    fn retention() -> Retention {
        Retention {
            production: None,
            staging: Some(Duration::days(30)),
        }
    }

    #[test]
    fn ttl_never_precedes_the_due_time() {
        let mut timer = wanted(
            TimerKind::Expiry,
            &tenancy(),
            &session(Timestamp::parse("2025-01-15T11:00:00.001Z")),
            &Retention::default(),
        )
        .expect("expirable with a deadline");
        assert_eq!(timer.ttl(), timer.due.unix() + 1);
        timer.due = Timestamp::parse("2025-01-15T11:00:00Z").expect("ts");
        assert_eq!(timer.ttl(), timer.due.unix());
    }

    #[test]
    fn expiry_timer_follows_the_deadline_while_expirable() {
        let t = tenancy();
        let r = retention();
        let deadline = Timestamp::parse("2025-01-15T11:00:00Z").expect("ts");
        let s = session(None);
        assert_eq!(wanted(TimerKind::Expiry, &t, &s, &r), None, "no deadline");
        let s = session(Some(deadline));
        let timer = wanted(TimerKind::Expiry, &t, &s, &r).expect("deadline");
        assert_eq!((timer.due, timer.session_id), (deadline, s.id));
        let now = Timestamp::parse("2025-01-15T10:40:00Z").expect("ts");
        let pending = s
            .apply(Action::Submit, now, Duration::hours(1))
            .expect("submit")
            .next;
        assert_eq!(wanted(TimerKind::Expiry, &t, &pending, &r), Some(timer));
        let completed = pending
            .apply(Action::Complete, now, Duration::hours(1))
            .expect("complete")
            .next;
        assert_eq!(wanted(TimerKind::Expiry, &t, &completed, &r), None);
        assert_eq!(
            wanted(TimerKind::Retention, &t, &completed, &r),
            None,
            "completed is not terminal"
        );
    }

    #[test]
    fn retention_counts_from_the_end_and_only_where_configured() {
        let t = tenancy();
        let r = retention();
        let deadline = Timestamp::parse("2025-01-15T11:00:00Z").expect("ts");
        let expired = session(Some(deadline))
            .apply(Action::Expire, deadline, Duration::ZERO)
            .expect("expire")
            .next;
        let timer = wanted(TimerKind::Retention, &t, &expired, &r).expect("configured");
        assert_eq!(timer.due, deadline.add(Duration::days(30)));
        let redacted = expired.redacted(deadline).expect("redact");
        assert_eq!(
            wanted(TimerKind::Retention, &t, &redacted, &r),
            Some(timer),
            "kept until the retention job confirms the cascade"
        );
        let production = Tenancy {
            environment: Environment::Production,
            ..t
        };
        assert_eq!(
            wanted(TimerKind::Retention, &production, &expired, &r),
            None
        );
    }

    #[test]
    fn timer_items_decode_back_and_other_items_are_not_timers() {
        let deadline = Timestamp::parse("2025-01-15T11:00:00.500Z").expect("ts");
        let s = session(Some(deadline));
        let timer = wanted(TimerKind::Expiry, &tenancy(), &s, &retention()).expect("timer");
        let item = timer_item(&timer).expect("item");
        assert_eq!(
            item.get("ttl")
                .and_then(|v| v.as_n().ok())
                .map(String::as_str),
            Some(timer.ttl().to_string().as_str())
        );
        assert_eq!(
            item.get("gsi4sk").and_then(|v| v.as_s().ok()).cloned(),
            Some(keys::timer_position(deadline, &tenancy(), s.id))
        );
        // In every index (see `timer_item`), under its own key outside gsi4.
        for index in keys::INDEXES {
            assert!(
                item.contains_key(index.pk) && item.contains_key(index.sk),
                "{}",
                index.name
            );
        }
        assert_eq!(item.get("gsi1pk"), item.get("pk"));
        assert_eq!(item.get("gsi3sk"), item.get("sk"));
        assert_eq!(timer_from_item(item).expect("decodes"), Some(timer));
        let other = super::super::sessions::session_item(&tenancy(), &s).expect("session");
        assert_eq!(timer_from_item(other).expect("decodes"), None);
    }
}
