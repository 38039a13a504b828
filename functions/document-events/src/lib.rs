//! The upload checker: S3 sends `ObjectCreated` notifications for the documents bucket to an
//! SQS queue, and this function receives them in batches. For every record it checks the
//! object against its declaration (`idv::workflow::uploads`): the file becomes `uploaded`, or
//! `rejected` and the object is deleted.
//!
//! A standalone ID document (no session) is processed as soon as all its declared files
//! have arrived: a verification is created and linked (API.md §4).
//!
//! Failures are reported per message (`batchItemFailures`), so one bad record is retried on
//! its own and never blocks the rest of the batch. Every check is idempotent, so redelivery
//! changes nothing.

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use idv::domain::document::{parse_object_key, DocumentKind};
use idv::domain::event::Actor;
use idv::domain::values::Timestamp;
use idv::http::error::chain;
use idv::store::objects::Objects;
use idv::store::Store;
use idv::workflow::uploads::{check_object, UploadCheck};
use idv::workflow::verify::{self, Request, Settings, VerifyError};

/// The clients the checker needs.
#[derive(Clone)]
pub struct Checker {
    /// The table.
    pub store: Store,
    /// The documents bucket.
    pub objects: Objects,
    /// Check configuration, for processing standalone ID documents.
    pub settings: Settings,
    /// Session lifetime (unused by standalone documents, needed by the runner).
    pub session_lifetime: time::Duration,
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
                UploadCheck::Uploaded => {
                    tracing::info!("upload accepted");
                    self.process_if_complete(&key).await?;
                }
                UploadCheck::Rejected(reason) => tracing::info!(?reason, "upload rejected"),
                UploadCheck::Undeclared => tracing::warn!("undeclared object deleted"),
                other => tracing::info!(outcome = ?other, "upload checked"),
            }
        }
        Ok(())
    }
}

impl Checker {
    /// Verifies a standalone ID document once every declared file is uploaded. Two files
    /// arriving together may both get here: the runner writes conditionally on the
    /// document's version and skips a document already verified, so only one verification
    /// is made.
    async fn process_if_complete(&self, key: &str) -> Result<(), String> {
        let Some((tenancy, doc_id, _)) = parse_object_key(key) else {
            return Ok(());
        };
        let doc = self
            .store
            .get_document(&tenancy, doc_id)
            .await
            .map_err(|e| chain(&e))?;
        let Some(doc) = doc else {
            return Ok(());
        };
        if doc.kind != DocumentKind::Idv
            || doc.session_id.is_some()
            || !doc.all_uploaded()
            || !doc.verification_ids.is_empty()
        {
            return Ok(());
        }
        let request = Request {
            kind: idv::domain::verification::VerificationKind::Idv,
            document: doc.id,
            session: None,
            auto_update_session: false,
            evaluated_on: Timestamp::now().date(),
            may_backdate: false,
            actor: Actor::system("upload-checker"),
            only_if_unverified: true,
        };
        match verify::run(
            &self.store,
            &self.objects,
            &tenancy,
            &self.settings,
            self.session_lifetime,
            &request,
        )
        .await
        {
            Ok((v, _)) => {
                tracing::info!(verification = %v.id, status = v.status.as_str(), "standalone document processed");
                Ok(())
            }
            Err(VerifyError::AlreadyVerified) => Ok(()),
            // Linked to a session meanwhile, redacted, …: the document is no longer ours to
            // process automatically.
            Err(VerifyError::Invalid(_)) => Ok(()),
            Err(VerifyError::Workflow(e)) => Err(chain(&e)),
        }
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
