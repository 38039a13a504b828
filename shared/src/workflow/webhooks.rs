//! Webhook use cases (API.md §8): endpoints and their secrets, fanning events out to the
//! endpoints that want them, delivering with retries, redelivery and replay.
//!
//! Delivery is at least once and idempotent per (event, endpoint, sequence, attempt):
//! every attempt is claimed with a conditional Put of its derived id before anything is
//! sent, so a duplicate queue message finds the claim and stops, and a worker that died
//! mid-attempt leaves a lease that the message's next receipt takes over. The next attempt
//! is queued *before* the finished one is recorded, so a crash in between can only repeat
//! work, never lose the retry.
//!
//! DynamoDB round trips: create 1 (transaction); get 1; list 1; patch 2; delete 2; rotate
//! 2; deliveries 2 in parallel; redeliver 2; replay 1 (+ per page of 100 events in the
//! background: 2); fan-out 1 Query per tenancy per stream batch; an attempt 2 reads in
//! parallel, 1 claim, 1 record, and 1 endpoint update only when its health changes.

use time::Duration;

use super::{Attempts, WorkflowError};
use crate::domain::feed::{FeedEvent, TypeFilter};
use crate::domain::ids::{DeliveryId, EventId, WebhookEndpointId};
use crate::domain::session::DomainError;
use crate::domain::values::{Tenancy, Timestamp};
use crate::domain::webhook::{
    new_secret, secret_text, signature_header, Delivery, DeliveryStatus, Endpoint, EndpointStatus,
    Origin, PreviousSecret, MAX_ENDPOINTS,
};
use crate::store::feed::FeedFilter;
use crate::store::query::{Direction, Page, PageRequest};
use crate::store::webhooks::DeliveryFilter;
use crate::store::Store;
use crate::webhooks::guard::{self, Target};
use crate::webhooks::queue::{Job, QueueError, MAX_VISIBILITY_SECONDS};
use crate::webhooks::Webhooks;

pub use crate::store::webhooks::DeliveryFilter as DeliveriesFilter;

/// The sequence name of an event's own deliveries.
pub const EVENT_SEQUENCE: &str = "event";

/// How many events one replay message queues before handing on the rest.
pub const REPLAY_PAGE: usize = 100;

/// How long a claimed attempt belongs to its worker: the send timeout plus room for the
/// reads and writes around it.
const LEASE: Duration = Duration::seconds(30);

impl From<QueueError> for WorkflowError {
    fn from(e: QueueError) -> Self {
        WorkflowError::Store(crate::store::StoreError::Dynamo {
            context: "queueing deliveries",
            source: Box::new(e),
        })
    }
}

fn secret_failure() -> WorkflowError {
    WorkflowError::Store(crate::store::StoreError::Dynamo {
        context: "sealing a webhook secret",
        source: "the sealing key failed".into(),
    })
}

/// A new endpoint's settings, already checked (the URL vetted, DNS included).
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    /// The URL.
    pub url: String,
    /// What it hears.
    pub enabled_events: Vec<String>,
    /// A label.
    pub description: Option<String>,
    /// Enabled unless asked otherwise.
    pub status: EndpointStatus,
}

/// Changes to an endpoint; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    /// A new (vetted) URL.
    pub url: Option<String>,
    /// New subscriptions.
    pub enabled_events: Option<Vec<String>>,
    /// Enable or disable.
    pub status: Option<EndpointStatus>,
    /// A new label (`Some(None)` clears it).
    pub description: Option<Option<String>>,
}

/// Creates an endpoint; returns it and its secret (`whsec_…`, shown this once).
pub async fn create(
    store: &Store,
    hooks: &Webhooks,
    tenancy: &Tenancy,
    input: NewEndpoint,
    now: Timestamp,
) -> Result<(Endpoint, String), WorkflowError> {
    let id = WebhookEndpointId::new(now.datetime());
    let secret = new_secret().map_err(|_| secret_failure())?;
    let sealed = hooks
        .sealing_key()
        .ok_or_else(secret_failure)?
        .seal(id, &secret)
        .map_err(|_| secret_failure())?;
    let endpoint = Endpoint {
        id,
        url: input.url,
        enabled_events: input.enabled_events,
        status: input.status,
        disabled_reason: None,
        description: input.description,
        secret: sealed,
        previous_secret: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    if !store.create_endpoint(tenancy, &endpoint).await? {
        return Err(DomainError::LimitExceeded {
            limit: "webhook_endpoints",
            max: u64::from(MAX_ENDPOINTS),
        }
        .into());
    }
    Ok((endpoint, secret_text(&secret)))
}

/// One endpoint.
pub async fn get(
    store: &Store,
    tenancy: &Tenancy,
    id: WebhookEndpointId,
) -> Result<Endpoint, WorkflowError> {
    store
        .get_endpoint(tenancy, id)
        .await?
        .ok_or(WorkflowError::NotFound)
}

/// One page of endpoints, newest first.
pub async fn list(
    store: &Store,
    tenancy: &Tenancy,
    page: &PageRequest,
) -> Result<Page<Endpoint>, WorkflowError> {
    Ok(store.list_endpoints(tenancy, page).await?)
}

/// Read, change, conditional write, retried on a lost race.
async fn modify(
    store: &Store,
    tenancy: &Tenancy,
    id: WebhookEndpointId,
    now: Timestamp,
    change: impl Fn(&mut Endpoint) -> Result<(), WorkflowError>,
) -> Result<Endpoint, WorkflowError> {
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let read = get(store, tenancy, id).await?;
        let mut next = read.clone();
        change(&mut next)?;
        next.version = read.version + 1;
        next.updated_at = now;
        if store.put_endpoint(tenancy, read.version, &next).await? {
            return Ok(next);
        }
    }
    Err(WorkflowError::Conflict)
}

/// Applies a patch. Re-enabling an endpoint clears its failing record.
pub async fn update(
    store: &Store,
    tenancy: &Tenancy,
    id: WebhookEndpointId,
    patch: &EndpointPatch,
    now: Timestamp,
) -> Result<Endpoint, WorkflowError> {
    modify(store, tenancy, id, now, |e| {
        if let Some(url) = &patch.url {
            e.url = url.clone();
        }
        if let Some(events) = &patch.enabled_events {
            e.enabled_events = events.clone();
        }
        if let Some(d) = &patch.description {
            e.description = d.clone();
        }
        if let Some(status) = patch.status {
            if status == EndpointStatus::Enabled && e.status == EndpointStatus::Disabled {
                e.failing_since = None;
                e.disabled_reason = None;
            }
            if status == EndpointStatus::Disabled && e.status == EndpointStatus::Enabled {
                e.disabled_reason = None;
            }
            e.status = status;
        }
        Ok(())
    })
    .await
}

/// Deletes an endpoint (its queued deliveries find it gone and stop).
pub async fn delete(
    store: &Store,
    tenancy: &Tenancy,
    id: WebhookEndpointId,
) -> Result<(), WorkflowError> {
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let read = get(store, tenancy, id).await?;
        if store.delete_endpoint(tenancy, id, read.version).await? {
            return Ok(());
        }
    }
    Err(WorkflowError::Conflict)
}

/// A new secret; the current one keeps signing for the policy's overlap (24 h).
pub async fn rotate(
    store: &Store,
    hooks: &Webhooks,
    tenancy: &Tenancy,
    id: WebhookEndpointId,
    now: Timestamp,
) -> Result<(Endpoint, String), WorkflowError> {
    let secret = new_secret().map_err(|_| secret_failure())?;
    let sealed = hooks
        .sealing_key()
        .ok_or_else(secret_failure)?
        .seal(id, &secret)
        .map_err(|_| secret_failure())?;
    let until = now.add(hooks.policy.rotation_overlap);
    let endpoint = modify(store, tenancy, id, now, |e| {
        e.previous_secret = Some(PreviousSecret {
            secret: e.secret.clone(),
            until,
        });
        e.secret = sealed.clone();
        Ok(())
    })
    .await?;
    Ok((endpoint, secret_text(&secret)))
}

/// One page of an endpoint's attempts (404 for an unknown endpoint).
pub async fn deliveries(
    store: &Store,
    tenancy: &Tenancy,
    id: WebhookEndpointId,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<Delivery>, WorkflowError> {
    let (endpoint, page) = tokio::join!(
        store.get_endpoint(tenancy, id),
        store.list_deliveries(tenancy, id, filter, page),
    );
    endpoint?.ok_or(WorkflowError::NotFound)?;
    Ok(page?)
}

/// A fresh sequence id for a redelivery or replay.
fn new_sequence(now: Timestamp) -> String {
    crate::domain::ids::new_ulid(now.datetime()).to_string()
}

/// Queues `event` again to every enabled endpoint subscribed to it; returns how many.
pub async fn redeliver(
    store: &Store,
    hooks: &Webhooks,
    tenancy: &Tenancy,
    event: EventId,
    now: Timestamp,
) -> Result<usize, WorkflowError> {
    let (found, endpoints) = tokio::join!(
        store.get_feed_event(tenancy, event, now),
        store.all_endpoints(tenancy),
    );
    let event = found?.ok_or(WorkflowError::NotFound)?;
    let sequence = new_sequence(now);
    let jobs: Vec<Job> = endpoints?
        .iter()
        .filter(|e| e.wants(&event.kind))
        .map(|e| Job::Deliver {
            tenancy: tenancy.clone(),
            endpoint_id: e.id,
            event_id: event.id,
            origin: Origin::Redeliver,
            sequence: sequence.clone(),
            attempt: 1,
            due: now,
        })
        .collect();
    hooks.queue.send(&jobs, now).await?;
    Ok(jobs.len())
}

/// Starts a replay of `[from, to]` (of `types`, or everything the endpoint hears) to an
/// endpoint; the work runs in the background, a page at a time. Returns its sequence id.
pub async fn replay(
    store: &Store,
    hooks: &Webhooks,
    tenancy: &Tenancy,
    id: WebhookEndpointId,
    (from, to): (Timestamp, Timestamp),
    types: Vec<String>,
    now: Timestamp,
) -> Result<String, WorkflowError> {
    let endpoint = get(store, tenancy, id).await?;
    if endpoint.status != EndpointStatus::Enabled {
        let mut p = crate::domain::validation::Problems::default();
        p.invalid(
            "/meta",
            "the endpoint is disabled; enable it before replaying",
        );
        return Err(WorkflowError::Invalid(p));
    }
    let sequence = new_sequence(now);
    let job = Job::Replay {
        tenancy: tenancy.clone(),
        endpoint_id: id,
        sequence: sequence.clone(),
        from,
        to,
        types,
        after: None,
    };
    hooks.queue.send(&[job], now).await?;
    Ok(sequence)
}

/// Fans events out: one delivery job per (event, enabled endpoint subscribed to its type).
/// Endpoints are read once per tenancy per call. Returns the number of jobs queued.
pub async fn fan_out(
    store: &Store,
    hooks: &Webhooks,
    events: &[(Tenancy, FeedEvent)],
    now: Timestamp,
) -> Result<usize, WorkflowError> {
    let mut endpoints: Vec<(Tenancy, Vec<Endpoint>)> = Vec::new();
    let mut jobs = Vec::new();
    for (tenancy, event) in events {
        let known = endpoints.iter().position(|(t, _)| t == tenancy);
        let i = match known {
            Some(i) => i,
            None => {
                endpoints.push((tenancy.clone(), store.all_endpoints(tenancy).await?));
                endpoints.len() - 1
            }
        };
        for e in endpoints[i].1.iter().filter(|e| e.wants(&event.kind)) {
            jobs.push(Job::Deliver {
                tenancy: tenancy.clone(),
                endpoint_id: e.id,
                event_id: event.id,
                origin: Origin::Event,
                sequence: EVENT_SEQUENCE.to_owned(),
                attempt: 1,
                due: now,
            });
        }
    }
    hooks.queue.send(&jobs, now).await?;
    Ok(jobs.len())
}

/// What became of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished (delivered, failed for good, retry queued, duplicate, or nothing to do).
    Done,
    /// Not due yet: hide the message this many more seconds.
    NotDue(i64),
}

/// Runs one queued job.
pub async fn run_job(
    store: &Store,
    hooks: &Webhooks,
    job: Job,
    now: Timestamp,
) -> Result<JobOutcome, WorkflowError> {
    match job {
        Job::Deliver {
            tenancy,
            endpoint_id,
            event_id,
            origin,
            sequence,
            attempt,
            due,
        } => {
            let wait = due.unix() - now.unix();
            if wait > 0 {
                return Ok(JobOutcome::NotDue(wait.min(MAX_VISIBILITY_SECONDS)));
            }
            let attempt = AttemptKey {
                tenancy,
                endpoint_id,
                event_id,
                origin,
                sequence,
                attempt,
                due,
            };
            deliver(store, hooks, attempt, now).await?;
            Ok(JobOutcome::Done)
        }
        Job::Replay {
            tenancy,
            endpoint_id,
            sequence,
            from,
            to,
            types,
            after,
        } => {
            replay_page(
                store,
                hooks,
                &tenancy,
                endpoint_id,
                &sequence,
                (from, to),
                &types,
                after,
                now,
            )
            .await?;
            Ok(JobOutcome::Done)
        }
    }
}

/// Queues one page of a replay and hands the rest on.
#[allow(clippy::too_many_arguments)]
async fn replay_page(
    store: &Store,
    hooks: &Webhooks,
    tenancy: &Tenancy,
    endpoint_id: WebhookEndpointId,
    sequence: &str,
    (from, to): (Timestamp, Timestamp),
    types: &[String],
    after: Option<String>,
    now: Timestamp,
) -> Result<(), WorkflowError> {
    let Some(endpoint) = store.get_endpoint(tenancy, endpoint_id).await? else {
        return Ok(());
    };
    if endpoint.status != EndpointStatus::Enabled {
        return Ok(());
    }
    let filter = FeedFilter {
        types: types.iter().filter_map(|t| TypeFilter::parse(t)).collect(),
        session_id: None,
        created_from: Some(from),
        created_to: Some(to),
    };
    let page = PageRequest {
        size: REPLAY_PAGE,
        cursor: after.map(|p| (Direction::After, p)),
        total: false,
    };
    let page = store.list_feed(tenancy, &filter, now, &page).await?;
    let mut jobs: Vec<Job> = page
        .items
        .iter()
        .filter(|(_, e)| endpoint.wants(&e.kind))
        .map(|(_, e)| Job::Deliver {
            tenancy: tenancy.clone(),
            endpoint_id,
            event_id: e.id,
            origin: Origin::Replay,
            sequence: sequence.to_owned(),
            attempt: 1,
            due: now,
        })
        .collect();
    if let Some(next) = page.next.clone() {
        jobs.push(Job::Replay {
            tenancy: tenancy.clone(),
            endpoint_id,
            sequence: sequence.to_owned(),
            from,
            to,
            types: types.to_vec(),
            after: Some(next),
        });
    }
    hooks.queue.send(&jobs, now).await?;
    Ok(())
}

/// Which attempt a delivery job is.
#[derive(Debug, Clone)]
struct AttemptKey {
    tenancy: Tenancy,
    endpoint_id: WebhookEndpointId,
    event_id: EventId,
    origin: Origin,
    sequence: String,
    attempt: u32,
    due: Timestamp,
}

impl AttemptKey {
    fn id(&self) -> DeliveryId {
        Delivery::derive_id(
            self.endpoint_id,
            self.event_id,
            &self.sequence,
            self.attempt,
            self.due,
        )
    }

    fn pending(&self, event_type: &str, lease: Option<Timestamp>) -> Delivery {
        Delivery {
            id: self.id(),
            endpoint_id: self.endpoint_id,
            event_id: self.event_id,
            event_type: event_type.to_owned(),
            origin: self.origin,
            sequence: self.sequence.clone(),
            attempt: self.attempt,
            status: DeliveryStatus::Pending,
            scheduled_at: self.due,
            attempted_at: None,
            response_status: None,
            duration_ms: None,
            response_body: None,
            error: None,
            next_attempt_at: None,
            lease_until: lease,
        }
    }
}

/// One attempt: claim, send, queue the next attempt if any, record, update the
/// endpoint's health.
async fn deliver(
    store: &Store,
    hooks: &Webhooks,
    key: AttemptKey,
    now: Timestamp,
) -> Result<(), WorkflowError> {
    let tenancy = &key.tenancy;
    let (endpoint, event) = tokio::join!(
        store.get_endpoint(tenancy, key.endpoint_id),
        store.get_feed_event(tenancy, key.event_id, now),
    );
    // A deleted endpoint: nothing to deliver, nothing to record.
    let Some(endpoint) = endpoint? else {
        return Ok(());
    };
    let event = event?;
    let event_type = event.as_ref().map_or("", |e| e.kind.as_str());
    let lease = now.add(LEASE);
    let mut record = key.pending(event_type, Some(lease));
    if !store.claim_delivery(tenancy, &record, now).await? {
        return Ok(());
    }
    let sent = match (&event, endpoint.status) {
        (_, EndpointStatus::Disabled) => Err("endpoint_disabled"),
        (None, _) => Err("event_expired"),
        (Some(event), EndpointStatus::Enabled) => {
            Ok(send(hooks, tenancy, &endpoint, event, now).await)
        }
    };
    record.attempted_at = Some(now);
    record.lease_until = None;
    let mut retryable = false;
    match sent {
        Ok(outcome) => {
            retryable = !outcome.succeeded();
            record.status = if outcome.succeeded() {
                DeliveryStatus::Succeeded
            } else {
                DeliveryStatus::Failed
            };
            record.response_status = outcome.status;
            record.duration_ms = Some(outcome.duration_ms);
            record.response_body = outcome.body;
            record.error = outcome.error.map(str::to_owned);
        }
        Err(code) => {
            record.status = DeliveryStatus::Failed;
            record.error = Some(code.to_owned());
        }
    }
    let next = match hooks.policy.next_delay(key.attempt) {
        Some(delay) if retryable => {
            let next_key = AttemptKey {
                attempt: key.attempt + 1,
                due: now.add(delay),
                ..key.clone()
            };
            record.next_attempt_at = Some(next_key.due);
            // Queued before the record is written: a crash in between repeats, never loses.
            hooks
                .queue
                .send(
                    &[Job::Deliver {
                        tenancy: tenancy.clone(),
                        endpoint_id: next_key.endpoint_id,
                        event_id: next_key.event_id,
                        origin: next_key.origin,
                        sequence: next_key.sequence.clone(),
                        attempt: next_key.attempt,
                        due: next_key.due,
                    }],
                    now,
                )
                .await?;
            Some(next_key.pending(event_type, None))
        }
        _ => None,
    };
    store
        .finish_delivery(tenancy, &record, lease, next.as_ref())
        .await?;
    health(store, hooks, tenancy, &endpoint, &record, now).await
}

/// Keeps the endpoint's failing record: cleared by a success, started by a failed
/// attempt, and once it is older than the policy's window the endpoint is disabled.
async fn health(
    store: &Store,
    hooks: &Webhooks,
    tenancy: &Tenancy,
    endpoint: &Endpoint,
    record: &Delivery,
    now: Timestamp,
) -> Result<(), WorkflowError> {
    if endpoint.status != EndpointStatus::Enabled {
        return Ok(());
    }
    match (record.status, endpoint.failing_since) {
        (DeliveryStatus::Succeeded, Some(_)) => store.clear_failing(tenancy, endpoint.id).await?,
        (DeliveryStatus::Failed, None) => store.mark_failing(tenancy, endpoint.id, now).await?,
        (DeliveryStatus::Failed, Some(since))
            if hooks.policy.must_disable(since, now)
                && store
                    .disable_failing(tenancy, endpoint.id, since, now)
                    .await? =>
        {
            tracing::warn!(endpoint = %endpoint.id, "disabled a webhook endpoint that kept failing");
        }
        _ => {}
    }
    Ok(())
}

/// Signs and sends `event` to `endpoint` (the guard resolves and vets the host now).
async fn send(
    hooks: &Webhooks,
    tenancy: &Tenancy,
    endpoint: &Endpoint,
    event: &FeedEvent,
    now: Timestamp,
) -> crate::webhooks::send::Outcome {
    let refused = |code: &'static str| crate::webhooks::send::Outcome {
        status: None,
        body: None,
        duration_ms: 0,
        error: Some(code),
    };
    let target: Target = match guard::parse_url(&endpoint.url, tenancy.environment) {
        Ok(t) => t,
        Err(r) => return refused(r.code()),
    };
    let addr = match guard::resolve(&target, tenancy.environment).await {
        Ok(a) => a,
        Err(r) => return refused(r.code()),
    };
    let Some(key) = hooks.sealing_key() else {
        tracing::error!("webhook-delivery runs without the sealing key");
        return refused("secret_unavailable");
    };
    let mut secrets = Vec::with_capacity(2);
    match key.open(endpoint.id, &endpoint.secret) {
        Ok(s) => secrets.push(s),
        Err(_) => {
            tracing::error!(endpoint = %endpoint.id, "a webhook secret does not open with the sealing key");
            return refused("secret_unavailable");
        }
    }
    if let Some(old) = endpoint.previous_signing(now) {
        if let Ok(s) = key.open(endpoint.id, old) {
            secrets.push(s);
        }
    }
    let body = serde_json::to_vec(&serde_json::json!({
        "data": crate::http::render::feed_event(event)
    }))
    .unwrap_or_default();
    let msg_id = event.id.to_string();
    let timestamp = now.unix();
    let keys: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
    let headers = [
        ("webhook-id", msg_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            signature_header(&keys, &msg_id, timestamp, &body),
        ),
    ];
    hooks.sender.post(&target, addr, &headers, body).await
}
