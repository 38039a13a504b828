//! Turning new objects in a bucket into the events AWS would deliver for them.

use std::collections::HashMap;
use std::future::Future;

use idv::store::objects::Objects;
use idv::store::StoreError;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The queue name the relay pretends the notifications went through.
pub const QUEUE_ARN: &str = "arn:aws:sqs:us-east-1:000000000000:idv-document-uploads";

/// An S3 `ObjectCreated:Put` notification for one object, shaped as S3 sends it.
pub fn object_created(bucket: &str, key: &str, size: u64, etag: &str, at: &str) -> Value {
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": at,
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:LOCAL"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "LOCAL", "x-amz-id-2": "LOCAL"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "document-uploads",
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": {"principalId": "LOCAL"},
                    "arn": format!("arn:aws:s3:::{bucket}")
                },
                "object": {
                    "key": encode_key(key),
                    "size": size,
                    "eTag": etag,
                    "sequencer": "0"
                }
            }
        }]
    })
}

/// S3 URL-encodes keys in notifications (spaces as `+`).
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|part| {
            part.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".to_owned(),
                    other => format!("%{other:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// An SQS batch carrying `bodies`, as the SQS event source hands it to Lambda.
pub fn sqs_batch(bodies: &[(String, Value)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| {
            let text = body.to_string();
            json!({
                "messageId": id,
                "receiptHandle": format!("local-{id}"),
                "body": text,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "0",
                    "SenderId": "LOCAL",
                    "ApproximateFirstReceiveTimestamp": "0"
                },
                "messageAttributes": {},
                "md5OfBody": format!("{:x}", md5ish(&text)),
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// A stable digest of the body (SQS sends an MD5; nothing checks it, so SHA-256 truncated
/// keeps the dependency list short).
fn md5ish(text: &str) -> u128 {
    let d = Sha256::digest(text.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    u128::from_be_bytes(b)
}

/// Watches a bucket and delivers each new or rewritten object once.
pub struct S3Relay {
    objects: Objects,
    seen: HashMap<String, String>,
}

impl S3Relay {
    /// A relay for `objects`' bucket.
    pub fn new(objects: Objects) -> S3Relay {
        S3Relay {
            objects,
            seen: HashMap::new(),
        }
    }

    /// Lists the bucket once and delivers a batch (at most 10 messages, like SQS) per group
    /// of new objects. `deliver` returns the ids of the messages that failed; those objects
    /// are delivered again on the next poll. Returns how many objects were delivered.
    pub async fn poll_once<F, Fut>(&mut self, mut deliver: F) -> Result<usize, StoreError>
    where
        F: FnMut(Value) -> Fut,
        Fut: Future<Output = Result<Vec<String>, String>>,
    {
        let listed = self.objects.list("").await?;
        let present: HashMap<&str, ()> = listed.iter().map(|(k, _, _)| (k.as_str(), ())).collect();
        self.seen.retain(|k, _| present.contains_key(k.as_str()));
        let fresh: Vec<&(String, u64, String)> = listed
            .iter()
            .filter(|(k, _, etag)| self.seen.get(k) != Some(etag))
            .collect();
        let now = idv::domain::values::Timestamp::now().to_string();
        let mut delivered = 0;
        for chunk in fresh.chunks(10) {
            let bodies: Vec<(String, Value)> = chunk
                .iter()
                .map(|(key, size, tag)| {
                    let id = hex::encode(&Sha256::digest(format!("{key}#{tag}").as_bytes())[..16]);
                    let etag = tag.split('@').next().unwrap_or_default();
                    (
                        id,
                        object_created(self.objects.bucket(), key, *size, etag, &now),
                    )
                })
                .collect();
            let failed = match deliver(sqs_batch(&bodies)).await {
                Ok(failed) => failed,
                Err(e) => {
                    tracing::warn!(error = %e, "delivery failed; retrying on the next poll");
                    bodies.iter().map(|(id, _)| id.clone()).collect()
                }
            };
            for ((key, _, etag), (id, _)) in chunk.iter().zip(&bodies) {
                if failed.contains(id) {
                    continue;
                }
                delivered += 1;
                // An object the handler deleted (rejected, undeclared) is forgotten, so that
                // writing it again is a new arrival even within the same second.
                if self.objects.size(key).await?.is_some() {
                    self.seen.insert(key.clone(), etag.clone());
                }
            }
        }
        Ok(delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_like_s3_does() {
        assert_eq!(
            encode_key("t/acme/staging/doc_1/file_2"),
            "t/acme/staging/doc_1/file_2"
        );
        assert_eq!(encode_key("a b/c:d"), "a+b/c%3Ad");
    }
}
