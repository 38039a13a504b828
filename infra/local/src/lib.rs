//! Local stand-ins for the AWS plumbing that no local server provides.
//!
//! On AWS, S3 sends `ObjectCreated` notifications to an SQS queue and Lambda polls it; no
//! local S3 server sends notifications. [`s3_events::S3Relay`] watches the bucket instead and
//! hands the function the very event shape the SQS event source would: an SQS batch whose
//! message bodies are S3 event notifications. The same relay drives the tests, which call
//! the handler in process, and `idv-local s3-events`, which invokes the function served by
//! `cargo lambda watch`.
//!
//! Likewise [`streams::StreamRelay`] reads the table's DynamoDB stream as Lambda's event
//! source mapping would (filter, batches, partial failures) and hands TTL deletions of
//! timers to `expiry-stream`, and [`schedule`] stands in for the EventBridge rule that runs
//! `expiry-sweep`.
//!
//! [`queue::LocalQueues`] is an in-memory SQS that speaks the SDK's protocol
//! ([`queue::serve`]), with the event source mapping that hands its messages to a function
//! ([`queue::LocalQueues::pump_once`]), so that functions sending to and retrying through
//! SQS run unchanged locally.
//!
//! No local S3 server answers CORS either: [`s3_cors::Proxy`] puts the documents bucket's
//! CORS rule in front of s3s-fs, so a web page can PUT files to presigned URLs locally.

pub mod invoke;
pub mod listen;
pub mod queue;
pub mod s3_cors;
pub mod s3_events;
pub mod schedule;
pub mod streams;
