//! What happens when a session's timer fires (`idv::store::timers`): expiry at
//! `expires_at`, redaction once the retention after the session's end has passed.
//!
//! Two ways in, one decision ([`Expirer::fire`]):
//! - `expiry-stream`: DynamoDB's TTL deleted a timer, and the deletion arrives on the
//!   table's stream ([`Expirer::handle_stream`]). Only TTL deletions count: a timer
//!   deleted because its session completed (or moved) arrives as a `REMOVE` too, but
//!   without the TTL service's `userIdentity`, and is ignored.
//! - `expiry-sweep`: on a schedule, finds timers already due in gsi4 with Queries
//!   ([`Expirer::sweep`]). TTL deletes late (up to two days on AWS), so the sweep is what
//!   bounds lateness; the stream is usually first.
//!
//! The sweep also finds, in gsi4, standalone documents whose retention is due
//! ([`Expirer::retain_document`]) and accounts whose redaction a request left in progress
//! ([`Expirer::continue_account_redaction`]), and finishes both.
//!
//! Every path decides on the session as stored and writes conditionally (through
//! `idv::workflow`), so the two paths and the API can race freely: a session expires exactly
//! once, stamped at its deadline, and never once it completed or was decided. Redelivered
//! records and repeated sweeps change nothing.

use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use idv::config::{aws_clients, Config, ConfigError};
use idv::domain::event::Actor;
use idv::domain::values::Timestamp;
use idv::http::error::chain;
use idv::store::keys::TIMER_SHARDS;
use idv::store::objects::Objects;
use idv::store::timers::{timer_from_item, wanted, Timer, TimerKind};
use idv::store::{Store, StoreError};
use idv::workflow::{self, WorkflowError};
use serde::Serialize;

/// The principal DynamoDB's TTL deletions carry on the stream.
pub const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// Timers the sweep reads per Query.
const SWEEP_PAGE: i32 = 100;

/// The actor recorded when retention redacts a session.
pub fn retention_actor() -> Actor {
    Actor::system("retention")
}

/// The actor recorded when the sweep continues an account's redaction in the background.
pub fn redaction_actor() -> Actor {
    Actor::system("account_redaction")
}

/// What firing a timer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fired {
    /// The session is expired (by this call, or by a path that got there first).
    Expired,
    /// The session is redacted and its cascade finished; the retention timer is removed.
    Redacted,
    /// Not due yet (the deadline moved, or clocks differ by a second): the timer was
    /// written again for its due time.
    Rearmed,
    /// The session no longer wants this timer (it completed, was decided, its deadline was
    /// cleared, or retention is off); a leftover timer was removed.
    Stale,
    /// The session does not exist.
    Gone,
}

/// Why a timer could not be handled (the record or timer is retried).
#[derive(Debug, thiserror::Error)]
pub enum ExpiryError {
    /// A store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A workflow failure (the redaction cascade, a lost race).
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// The session is overdue yet still live after the expiry write: should not happen.
    #[error("the session is still live after expiring it")]
    StillLive,
}

/// Totals of one sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Sessions expired.
    pub expired: usize,
    /// Sessions redacted by retention.
    pub redacted: usize,
    /// Timers found due that were not yet due for their session (moved or re-armed).
    pub rearmed: usize,
    /// Leftover timers removed.
    pub stale: usize,
    /// Timers of sessions that do not exist.
    pub gone: usize,
    /// Standalone documents redacted by retention.
    pub documents_redacted: usize,
    /// Account redactions finished (each continued in batches until done or out of time).
    pub accounts_redacted: usize,
    /// Timers that failed (left in place: the next sweep or the stream tries again).
    pub failed: usize,
    /// False if the time budget ran out before every shard was read to the end.
    pub complete: bool,
}

impl SweepReport {
    fn count(&mut self, fired: Fired) {
        match fired {
            Fired::Expired => self.expired += 1,
            Fired::Redacted => self.redacted += 1,
            Fired::Rearmed => self.rearmed += 1,
            Fired::Stale => self.stale += 1,
            Fired::Gone => self.gone += 1,
        }
    }

    fn merge(&mut self, other: SweepReport) {
        self.expired += other.expired;
        self.redacted += other.redacted;
        self.rearmed += other.rearmed;
        self.stale += other.stale;
        self.gone += other.gone;
        self.documents_redacted += other.documents_redacted;
        self.accounts_redacted += other.accounts_redacted;
        self.failed += other.failed;
        self.complete &= other.complete;
    }
}

/// The timer a stream record reports deleted by DynamoDB's TTL, as AWS delivers such a
/// record: `REMOVE` with `userIdentity` `{"type": "Service", "principalId":
/// "dynamodb.amazonaws.com"}`, the timer in the old image. `Ok(None)` for every other
/// record: manual deletions (a session that completed removes its timer), inserts,
/// updates, and TTL deletions of items that are not timers (idempotency records).
pub fn ttl_deleted_timer(record: &EventRecord) -> Result<Option<Timer>, StoreError> {
    let by_ttl = record.event_name == "REMOVE"
        && record
            .user_identity
            .as_ref()
            .is_some_and(|u| u.type_ == "Service" && u.principal_id == TTL_PRINCIPAL);
    if !by_ttl {
        return Ok(None);
    }
    timer_from_item(record.change.old_image.clone())
}

/// The clients the expiry functions need.
#[derive(Clone, Debug)]
pub struct Expirer {
    /// The table (with the retention policy: it decides retention timers).
    pub store: Store,
    /// The documents bucket (the redaction cascade deletes files).
    pub objects: Objects,
}

impl Expirer {
    /// From the environment (`Config`). Call once per cold start.
    pub async fn from_env() -> Result<Expirer, ConfigError> {
        let config = Config::from_env()?;
        let (dynamodb, s3) = aws_clients().await;
        Ok(Expirer {
            store: Store::new(dynamodb, config.table).with_retention(config.retention),
            objects: Objects::new(s3, config.bucket),
        })
    }

    /// Fires `timer` at `now`: reads its session (consistently) and decides on it as
    /// stored, whatever the timer says, since the timer may be stale.
    ///
    /// Round trips: expiry = GetItem + the expiry's one conditional transaction (it deletes
    /// the expiry timer and puts the retention timer); retention = GetItem + the redaction
    /// cascade + DeleteItem of the timer; re-arm = GetItem + one transaction.
    pub async fn fire(&self, timer: &Timer, now: Timestamp) -> Result<Fired, ExpiryError> {
        let tenancy = timer.tenancy();
        let Some(session) = self.store.get_session(&tenancy, timer.session_id).await? else {
            self.store.remove_timer(timer).await?;
            return Ok(Fired::Gone);
        };
        let retention = self.store.retention();
        let Some(due) = wanted(timer.kind, &tenancy, &session, &retention) else {
            self.store.remove_timer(timer).await?;
            return Ok(Fired::Stale);
        };
        if due.due > now {
            self.store.rearm_timer(&session, &due).await?;
            return Ok(Fired::Rearmed);
        }
        match timer.kind {
            TimerKind::Expiry => {
                // The same read–decide–write loop as a read of an overdue session: one
                // conditional write, re-decided on the stored state if it lost a race.
                match workflow::load_session(&self.store, &tenancy, session.id, now).await? {
                    None => Ok(Fired::Gone),
                    Some(s) if s.status().is_expirable() => Err(ExpiryError::StillLive),
                    Some(s) if s.status() == idv::domain::session::SessionStatus::Expired => {
                        Ok(Fired::Expired)
                    }
                    Some(_) => Ok(Fired::Stale),
                }
            }
            TimerKind::Retention => {
                match workflow::redact_session(
                    &self.store,
                    &self.objects,
                    &tenancy,
                    session.id,
                    &retention_actor(),
                    now,
                )
                .await
                {
                    Ok(_) => {}
                    Err(WorkflowError::NotFound) => return Ok(Fired::Gone),
                    Err(e) => return Err(e.into()),
                }
                // Only now: if the cascade was interrupted, the timer is still there and
                // the next sweep (or the stream's retry) finishes it.
                self.store.remove_timer(&due).await?;
                Ok(Fired::Redacted)
            }
        }
    }

    /// Handles a batch of stream records: fires each timer TTL deleted and ignores
    /// everything else. A record that fails is reported by its sequence number, so Lambda
    /// retries from it without blocking the shard on the others (`ReportBatchItemFailures`).
    pub async fn handle_stream(&self, event: Event) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        for record in &event.records {
            let outcome = match ttl_deleted_timer(record) {
                Ok(None) => continue,
                Ok(Some(timer)) => self
                    .fire(&timer, Timestamp::now())
                    .await
                    .map(|fired| (timer, fired)),
                Err(e) => Err(e.into()),
            };
            match outcome {
                Ok((timer, fired)) => tracing::info!(
                    session_id = %timer.session_id,
                    kind = timer.kind.as_str(),
                    due = %timer.due,
                    ?fired,
                    "timer deleted by TTL"
                ),
                Err(e) => {
                    let sequence = record.change.sequence_number.clone();
                    tracing::error!(
                        event_id = %record.event_id,
                        sequence_number = ?sequence,
                        error = %chain(&e),
                        "timer failed; the record will be retried"
                    );
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = sequence;
                    response.batch_item_failures.push(failure);
                }
            }
        }
        response
    }

    /// Fires every timer due at `now`, reading each kind's gsi4 shards in parallel, page by
    /// page, until they are exhausted or `budget` is spent. Failures are counted and left
    /// for the next run.
    pub async fn sweep(&self, now: Timestamp, budget: Duration) -> SweepReport {
        let stop_at = Instant::now() + budget;
        let mut tasks = tokio::task::JoinSet::new();
        for kind in TimerKind::ALL {
            for shard in 0..TIMER_SHARDS {
                let this = self.clone();
                tasks.spawn(async move { this.sweep_shard(kind, shard, now, stop_at).await });
            }
        }
        for shard in 0..TIMER_SHARDS {
            let this = self.clone();
            tasks.spawn(async move { this.sweep_documents(shard, now, stop_at).await });
        }
        let this = self.clone();
        tasks.spawn(async move { this.sweep_accounts(now, stop_at).await });
        let mut report = SweepReport {
            complete: true,
            ..SweepReport::default()
        };
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(part) => report.merge(part),
                Err(e) => {
                    tracing::error!(error = %e, "a sweep task panicked");
                    report.failed += 1;
                    report.complete = false;
                }
            }
        }
        report
    }

    /// Redacts the standalone documents of gsi4 `shard` whose retention is due at `now`
    /// (`idv::store::documents::retention_due`), and finishes those a redaction left half
    /// done. Round trips per document: GetItem + the redaction (`workflow::redact_document`).
    async fn sweep_documents(&self, shard: u8, now: Timestamp, stop_at: Instant) -> SweepReport {
        let mut report = SweepReport {
            complete: true,
            ..SweepReport::default()
        };
        let mut start = None;
        loop {
            if Instant::now() >= stop_at {
                report.complete = false;
                return report;
            }
            let (due, next) = match self
                .store
                .due_documents(shard, now, SWEEP_PAGE, start.take())
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(shard, error = %chain(&e), "reading due documents failed");
                    report.failed += 1;
                    report.complete = false;
                    return report;
                }
            };
            for (tenancy, id) in due {
                match self.retain_document(&tenancy, id, now).await {
                    Ok(true) => {
                        tracing::info!(document_id = %id, "document redacted by retention");
                        report.documents_redacted += 1;
                    }
                    Ok(false) => report.rearmed += 1,
                    Err(e) => {
                        tracing::error!(document_id = %id, error = %chain(&e), "document retention failed");
                        report.failed += 1;
                    }
                }
            }
            match next {
                Some(next) => start = Some(next),
                None => return report,
            }
        }
    }

    /// Redacts a standalone document if its retention is due at `now` as stored (gsi4 may
    /// be stale: a later write moved it). False when it is not (yet) due.
    pub async fn retain_document(
        &self,
        tenancy: &idv::domain::values::Tenancy,
        id: idv::domain::ids::DocumentId,
        now: Timestamp,
    ) -> Result<bool, ExpiryError> {
        let Some(doc) = self.store.get_document(tenancy, id).await? else {
            return Ok(false);
        };
        let due = idv::store::documents::retention_due(&self.store.retention(), tenancy, &doc);
        if due.is_none_or(|due| due > now) {
            return Ok(false);
        }
        match workflow::redact_standalone_document(&self.store, &self.objects, tenancy, id, now)
            .await
        {
            Ok(_) => Ok(true),
            Err(WorkflowError::NotFound | WorkflowError::DocumentOfSession) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Continues every account redaction in progress (gsi4 `WORK#ACCOUNT_REDACTION`, oldest
    /// first), batch after batch, until each is done or the budget is spent.
    async fn sweep_accounts(&self, now: Timestamp, stop_at: Instant) -> SweepReport {
        let mut report = SweepReport {
            complete: true,
            ..SweepReport::default()
        };
        let accounts = match self.store.redacting_accounts(SWEEP_PAGE).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %chain(&e), "reading redacting accounts failed");
                report.failed += 1;
                report.complete = false;
                return report;
            }
        };
        for (tenancy, id) in accounts {
            match self
                .continue_account_redaction(&tenancy, id, now, stop_at)
                .await
            {
                Ok(true) => {
                    tracing::info!(account_id = %id, "account redaction finished");
                    report.accounts_redacted += 1;
                }
                Ok(false) => report.complete = false,
                Err(e) => {
                    tracing::error!(account_id = %id, error = %chain(&e), "account redaction failed; the next sweep continues it");
                    report.failed += 1;
                }
            }
        }
        report
    }

    /// Runs `workflow::redact_account_step` on one account until it is done (true) or
    /// `stop_at` passes (false: the next sweep continues from where it stopped).
    pub async fn continue_account_redaction(
        &self,
        tenancy: &idv::domain::values::Tenancy,
        id: idv::domain::ids::AccountId,
        now: Timestamp,
        stop_at: Instant,
    ) -> Result<bool, ExpiryError> {
        let actor = redaction_actor();
        while Instant::now() < stop_at {
            match workflow::redact_account_step(
                &self.store,
                &self.objects,
                tenancy,
                id,
                &actor,
                now,
                workflow::ACCOUNT_REDACTION_BATCH,
            )
            .await
            {
                Ok(workflow::AccountRedaction::Done(_)) => return Ok(true),
                Ok(workflow::AccountRedaction::InProgress(_)) => {}
                Err(WorkflowError::NotFound) => return Ok(true),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    async fn sweep_shard(
        &self,
        kind: TimerKind,
        shard: u8,
        now: Timestamp,
        stop_at: Instant,
    ) -> SweepReport {
        let mut report = SweepReport {
            complete: true,
            ..SweepReport::default()
        };
        let mut start = None;
        loop {
            if Instant::now() >= stop_at {
                report.complete = false;
                return report;
            }
            let page = match self
                .store
                .due_timers(kind, shard, now, SWEEP_PAGE, start.take())
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(kind = kind.as_str(), shard, error = %chain(&e), "reading due timers failed");
                    report.failed += 1;
                    report.complete = false;
                    return report;
                }
            };
            for timer in &page.timers {
                match self.fire(timer, now).await {
                    Ok(fired) => {
                        tracing::info!(session_id = %timer.session_id, kind = kind.as_str(), due = %timer.due, ?fired, "due timer swept");
                        report.count(fired);
                    }
                    Err(e) => {
                        tracing::error!(session_id = %timer.session_id, kind = kind.as_str(), error = %chain(&e), "due timer failed");
                        report.failed += 1;
                    }
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return report,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(event_name: &str, user_identity: Option<serde_json::Value>) -> EventRecord {
        let mut json = serde_json::json!({
            "eventID": "1",
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_736_937_000,
                "Keys": {"pk": {"S": "acme#staging#SESSION#sess_01HQ0000000000000000000000"}, "sk": {"S": "TIMER#EXPIRY"}},
                "OldImage": {
                    "pk": {"S": "acme#staging#SESSION#sess_01HQ0000000000000000000000"},
                    "sk": {"S": "TIMER#EXPIRY"},
                    "entity": {"S": "timer"},
                    "schema_version": {"N": "1"},
                    "kind": {"S": "expiry"},
                    "tenant": {"S": "acme"},
                    "environment": {"S": "staging"},
                    "session_id": {"S": "sess_01HQ0000000000000000000000"},
                    "due": {"S": "2025-01-15T10:30:00.000Z"},
                    "ttl": {"N": "1736937000"}
                },
                "SequenceNumber": "100000000000000000001",
                "SizeBytes": 300,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/idv/stream/2025-01-01T00:00:00.000"
        });
        if let Some(u) = user_identity {
            json["userIdentity"] = u;
        }
        serde_json::from_value(json).expect("a stream record")
    }

    fn ttl() -> Option<serde_json::Value> {
        Some(serde_json::json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"}))
    }

    #[test]
    fn only_ttl_removals_of_timers_fire() {
        let timer = ttl_deleted_timer(&record("REMOVE", ttl()))
            .expect("decodes")
            .expect("a TTL deletion of a timer");
        assert_eq!(timer.kind, TimerKind::Expiry);
        assert_eq!(timer.due.to_string(), "2025-01-15T10:30:00.000Z");
        assert_eq!(
            timer.session_id.to_string(),
            "sess_01HQ0000000000000000000000"
        );

        // A manual delete (the session completed) carries no userIdentity.
        assert_eq!(
            ttl_deleted_timer(&record("REMOVE", None)).expect("ok"),
            None
        );
        // Someone else's deletion.
        let user = serde_json::json!({"type": "User", "principalId": "AIDAEXAMPLE"});
        assert_eq!(
            ttl_deleted_timer(&record("REMOVE", Some(user))).expect("ok"),
            None
        );
        // DynamoDB Local's untranslated TTL record is not what AWS sends.
        assert_eq!(
            ttl_deleted_timer(&record("UNKNOWN_TO_SDK_VERSION", None)).expect("ok"),
            None
        );
        assert_eq!(
            ttl_deleted_timer(&record("INSERT", ttl())).expect("ok"),
            None
        );

        // A TTL deletion of another kind of item (an idempotency record).
        let mut other = record("REMOVE", ttl());
        other.change.old_image = serde_dynamo::to_item(serde_json::json!({
            "pk": "acme#staging#IDEMPOTENCY#ab", "sk": "IDEMPOTENCY", "entity": "idempotency"
        }))
        .expect("item");
        assert_eq!(ttl_deleted_timer(&other).expect("ok"), None);
    }

    #[test]
    fn reports_merge() {
        let mut a = SweepReport {
            complete: true,
            ..SweepReport::default()
        };
        a.count(Fired::Expired);
        let b = SweepReport {
            redacted: 2,
            complete: false,
            ..SweepReport::default()
        };
        a.merge(b);
        assert_eq!((a.expired, a.redacted, a.complete), (1, 2, false));
    }
}
