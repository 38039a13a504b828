//! The deliveries queue: SQS on AWS, `idv-local queue` locally (the same API).
//!
//! A message is one [`Job`]: attempt n of one event to one endpoint, or one page of a
//! replay. Backoff uses the queue's own timers: a job due within 15 minutes is sent with
//! that delay (`DelaySeconds`); one due later is sent with the longest delay and, when it
//! arrives early, hidden again until it is due (`ChangeMessageVisibility`, at most 12 h),
//! which covers the contract's 10-hour waits.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{EventId, WebhookEndpointId};
use crate::domain::values::{Tenancy, Timestamp};
use crate::domain::webhook::Origin;

/// The longest `DelaySeconds` SQS takes.
pub const MAX_DELAY_SECONDS: i64 = 900;
/// The longest visibility timeout SQS takes.
pub const MAX_VISIBILITY_SECONDS: i64 = 43_200;

/// One unit of background work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// Attempt `attempt` of `sequence` of `event_id` to `endpoint_id`, due at `due`.
    Deliver {
        /// Whose.
        tenancy: Tenancy,
        /// The endpoint.
        endpoint_id: WebhookEndpointId,
        /// The event.
        event_id: EventId,
        /// Why the sequence exists.
        origin: Origin,
        /// `event`, or the ULID of a redelivery or replay.
        sequence: String,
        /// 1-based.
        attempt: u32,
        /// When it is due.
        due: Timestamp,
    },
    /// The events of `[from, to]` (of `types`, if any) after `after`, to `endpoint_id`.
    Replay {
        /// Whose.
        tenancy: Tenancy,
        /// The endpoint.
        endpoint_id: WebhookEndpointId,
        /// The replay's sequence id.
        sequence: String,
        /// Range start.
        from: Timestamp,
        /// Range end.
        to: Timestamp,
        /// Only these types (empty: what the endpoint subscribes to).
        types: Vec<String>,
        /// The position of the last event already queued.
        after: Option<String>,
    },
}

impl Job {
    /// When the job is due (a replay page at once).
    pub fn due(&self) -> Option<Timestamp> {
        match self {
            Job::Deliver { due, .. } => Some(*due),
            Job::Replay { .. } => None,
        }
    }
}

/// Why the queue did not take a job.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The SQS call failed.
    #[error("{0} failed")]
    Sdk(
        &'static str,
        #[source] Box<dyn std::error::Error + Send + Sync>,
    ),
    /// Some entries of a batch were refused.
    #[error("the queue refused {0} messages")]
    Refused(usize),
    /// A job did not serialise.
    #[error("encoding a job")]
    Encode(#[from] serde_json::Error),
}

/// The deliveries queue.
#[derive(Debug, Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Queue {
        Queue {
            client,
            url: url.into(),
        }
    }

    /// The queue `IDV_WEBHOOK_QUEUE_URL` names, with a client from the shared
    /// configuration (`AWS_ENDPOINT_URL_SQS` points it at the local queue).
    pub async fn from_env() -> Result<Queue, crate::config::ConfigError> {
        let url = std::env::var("IDV_WEBHOOK_QUEUE_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or(crate::config::ConfigError::Missing("IDV_WEBHOOK_QUEUE_URL"))?;
        let shared = crate::config::aws_shared_config().await;
        Ok(Queue::new(aws_sdk_sqs::Client::new(&shared), url))
    }

    /// Sends `jobs`, each delayed until it is due (at most 15 minutes; later ones are
    /// hidden again on arrival), in batches of ten.
    pub async fn send(&self, jobs: &[Job], now: Timestamp) -> Result<(), QueueError> {
        for chunk in jobs.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, job) in chunk.iter().enumerate() {
                let delay = job
                    .due()
                    .map_or(0, |d| (d.unix() - now.unix()).clamp(0, MAX_DELAY_SECONDS));
                let entry = aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(serde_json::to_string(job)?)
                    .delay_seconds(i32::try_from(delay).unwrap_or(0))
                    .build()
                    .map_err(|e| QueueError::Sdk("building a message", Box::new(e)))?;
                entries.push(entry);
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| QueueError::Sdk("SendMessageBatch", Box::new(e)))?;
            if !out.failed().is_empty() {
                return Err(QueueError::Refused(out.failed().len()));
            }
        }
        Ok(())
    }

    /// Hides a received message for `seconds` more (a job that arrived before it is due).
    pub async fn defer(&self, receipt_handle: &str, seconds: i64) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(
                i32::try_from(seconds.clamp(0, MAX_VISIBILITY_SECONDS)).unwrap_or(0),
            )
            .send()
            .await
            .map_err(|e| QueueError::Sdk("ChangeMessageVisibility", Box::new(e)))?;
        Ok(())
    }
}
