//! Webhooks (API.md §8): the `/v1/identity/webhook-endpoints` API ([`router`]), and the
//! two background functions of delivery ([`Pipeline`]): `webhook-fanout` reads the table's
//! stream and queues one job per (new feed event, endpoint subscribed to it);
//! `webhook-delivery` runs the queued jobs — signed attempts with retries, replay pages.
//!
//! Handlers are thin: [`input`] reads requests, `idv::workflow::webhooks` decides and
//! writes, [`render`] draws. On AWS the queue is SQS with a dead-letter queue; locally it
//! is `idv-local queue`, the same API.

pub mod handlers;
pub mod input;
pub mod render;

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use axum::routing::{get, post};
use axum::{Extension, Router};
use idv::config::{aws_clients, Config, ConfigError};
use idv::domain::values::Timestamp;
use idv::http::error::chain;
use idv::http::AppState;
use idv::store::feed::feed_event_from_image;
use idv::store::Store;
use idv::webhooks::queue::Job;
use idv::webhooks::Webhooks;
use idv::workflow::webhooks::{self as flow, JobOutcome};

/// The API's routes wrapped in the common layers.
pub fn router(state: AppState, hooks: Arc<Webhooks>) -> Router {
    let routes = Router::new()
        .route(
            "/v1/identity/webhook-endpoints",
            post(handlers::create).get(handlers::list),
        )
        .route(
            "/v1/identity/webhook-endpoints/{id}",
            get(handlers::show)
                .patch(handlers::update)
                .delete(handlers::delete),
        )
        .route(
            "/v1/identity/webhook-endpoints/{id}/rotate-secret",
            post(handlers::rotate),
        )
        .route(
            "/v1/identity/webhook-endpoints/{id}/deliveries",
            get(handlers::deliveries),
        )
        .route(
            "/v1/identity/webhook-endpoints/{id}/replay",
            post(handlers::replay),
        )
        .layer(Extension(hooks))
        .with_state(state.clone());
    idv::http::app(routes, state)
}

/// The background side: the table and the webhook machinery. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Pipeline {
    /// The table.
    pub store: Store,
    /// Key, queue, sender, policy.
    pub hooks: Arc<Webhooks>,
}

impl Pipeline {
    /// From the environment (see `idv::webhooks`); call once per cold start. Only the
    /// delivery function reads the sealing key (`with_key`); the fan-out never sees it.
    pub async fn from_env(with_key: bool) -> Result<Pipeline, ConfigError> {
        idv::store::secrets::load().await?;
        let config = Config::from_env()?;
        let (dynamodb, _) = aws_clients().await;
        Ok(Pipeline {
            store: Store::new(dynamodb, config.table),
            hooks: Arc::new(Webhooks::from_env(with_key).await?),
        })
    }

    /// `webhook-fanout`: the new feed events of a stream batch, queued for every endpoint
    /// that wants them. Other records (the mapping's filter should have dropped them) are
    /// skipped. If queueing fails, the whole batch is reported failed from its first record
    /// and comes again; the attempts' claims make the repeat harmless.
    pub async fn fan_out(&self, event: Event) -> DynamoDbEventResponse {
        let mut events = Vec::new();
        for record in &event.records {
            if record.event_name != "INSERT" {
                continue;
            }
            match feed_event_from_image(record.change.new_image.clone()) {
                Ok(Some(e)) => events.push(e),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %chain(&e), "a feed record does not decode; skipped")
                }
            }
        }
        let mut response = DynamoDbEventResponse::default();
        match flow::fan_out(&self.store, &self.hooks, &events, Timestamp::now()).await {
            Ok(jobs) => {
                if jobs > 0 {
                    tracing::info!(events = events.len(), jobs, "fanned events out");
                }
            }
            Err(e) => {
                tracing::error!(error = %chain(&e), "fan-out failed; the batch will be retried");
                if let Some(first) = event.records.first() {
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = first.change.sequence_number.clone();
                    response.batch_item_failures.push(failure);
                }
            }
        }
        response
    }

    /// `webhook-delivery`: runs the batch's jobs concurrently (each attempt may wait up to
    /// its 10 s timeout). A job not yet due is hidden until it is and reported failed so the
    /// queue keeps it; a job that errs is retried by the queue, and after the redrive
    /// policy's receives lands in the dead-letter queue (alarmed).
    pub async fn deliver(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut tasks = tokio::task::JoinSet::new();
        for message in event.records {
            let this = self.clone();
            tasks.spawn(async move {
                let ok = this.message(&message).await;
                (message.message_id, ok)
            });
        }
        let mut response = SqsBatchResponse::default();
        while let Some(joined) = tasks.join_next().await {
            let (id, ok) = match joined {
                Ok(r) => r,
                Err(_) => continue,
            };
            if !ok {
                if let Some(id) = id {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                }
            }
        }
        response
    }

    /// One message; `true` to delete it from the queue.
    async fn message(&self, message: &SqsMessage) -> bool {
        let body = message.body.as_deref().unwrap_or_default();
        let job: Job = match serde_json::from_str(body) {
            Ok(j) => j,
            Err(_) => {
                // Left to the dead-letter queue, where the alarm makes someone look.
                tracing::error!(message_id = ?message.message_id, "a queued job does not parse");
                return false;
            }
        };
        match flow::run_job(&self.store, &self.hooks, job, Timestamp::now()).await {
            Ok(JobOutcome::Done) => true,
            Ok(JobOutcome::NotDue(seconds)) => {
                if let Some(handle) = message.receipt_handle.as_deref() {
                    if let Err(e) = self.hooks.queue.defer(handle, seconds).await {
                        tracing::warn!(error = %chain(&e), "could not defer a job; it comes back early");
                    }
                }
                false
            }
            Err(e) => {
                tracing::error!(message_id = ?message.message_id, error = %chain(&e), "a webhook job failed; the queue retries it");
                false
            }
        }
    }
}
