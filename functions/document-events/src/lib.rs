//! The upload checker: S3 sends `ObjectCreated` notifications for the documents bucket to an
//! SQS queue, and this function receives them in batches. For every record it checks the
//! object against its declaration (`idv::uploads`): the file becomes `uploaded`, or
//! `rejected` and the object is deleted.
//!
//! Failures are reported per message (`batchItemFailures`), so one bad record is retried on
//! its own and never blocks the rest of the batch. Every check is idempotent, so redelivery
//! changes nothing.

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use idv::domain::values::Timestamp;
use idv::http::error::chain;
use idv::store::objects::Objects;
use idv::store::Store;
use idv::uploads::{check_object, UploadCheck};

/// The clients the checker needs.
#[derive(Clone)]
pub struct Checker {
    /// The table.
    pub store: Store,
    /// The documents bucket.
    pub objects: Objects,
}

/// S3 event keys are URL-encoded (spaces as `+`).
fn decode_key(key: &str) -> String {
    form_urlencoded::parse(format!("k={key}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| key.to_owned())
}

impl Checker {
    /// Handles one batch; the response lists the messages to retry.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut failures = Vec::new();
        for message in event.records {
            if let Err(e) = self.message(&message).await {
                tracing::error!(message_id = ?message.message_id, error = %e, "upload check failed; the message will be retried");
                if let Some(id) = message.message_id.clone() {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    failures.push(failure);
                }
            }
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures;
        response
    }

    async fn message(&self, message: &SqsMessage) -> Result<(), String> {
        let body = message.body.as_deref().unwrap_or_default();
        // S3 sends one `s3:TestEvent` when the notification is configured: nothing to do.
        if body.contains("\"s3:TestEvent\"") {
            return Ok(());
        }
        let event: S3Event =
            serde_json::from_str(body).map_err(|e| format!("not an S3 event: {e}"))?;
        for record in event.records {
            let created = record
                .event_name
                .as_deref()
                .is_some_and(|n| n.starts_with("ObjectCreated:"));
            let Some(key) = record.s3.object.key.as_deref().filter(|_| created) else {
                continue;
            };
            if record.s3.bucket.name.as_deref() != Some(self.objects.bucket()) {
                return Err("an event of another bucket".into());
            }
            let key = decode_key(key);
            let outcome = check_object(&self.store, &self.objects, &key, Timestamp::now())
                .await
                .map_err(|e| chain(&e))?;
            match outcome {
                UploadCheck::Rejected(reason) => tracing::info!(?reason, "upload rejected"),
                UploadCheck::Undeclared => tracing::warn!("undeclared object deleted"),
                other => tracing::info!(outcome = ?other, "upload checked"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            decode_key("t/acme/staging/doc_1/file_2"),
            "t/acme/staging/doc_1/file_2"
        );
        assert_eq!(decode_key("a+b%2Fc"), "a b/c");
    }
}
