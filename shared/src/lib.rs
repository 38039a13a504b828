//! The common crate of the identity-verification service.
//!
//! - [`domain`]: ids, validated values, the session state machine, accounts, events.
//!   No AWS, no HTTP.
//! - [`store`]: the AWS side: the DynamoDB single table (keys, items, typed writes,
//!   repositories), S3 objects and Secrets Manager. The only module naming SDK types
//!   (client construction in [`config`] aside).
//! - [`workflow`]: the application layer, every use case as a read–decide–write loop
//!   (sessions, documents, devices, accounts, redaction, uploads, and `verify` with the
//!   feature `verify`).
//! - [`http`]: JSON:API documents, the error type, extractors and middleware.
//! - [`config`]: settings and clients, built once per cold start.

pub mod config;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod store;
#[cfg(feature = "webhooks")]
pub mod webhooks;
pub mod workflow;
