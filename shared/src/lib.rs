//! The common crate of the identity-verification service.
//!
//! - [`domain`]: ids, validated values, the session state machine, accounts, events.
//!   No AWS, no HTTP.
//! - [`store`]: the DynamoDB single table (keys, items, repositories).
//! - [`workflow`]: read–decide–write loops shared by every function (transitions, lazy
//!   expiry, redaction).
//! - [`http`]: JSON:API documents, the error type, extractors and middleware.
//! - [`config`]: settings and clients, built once per cold start.
//! - `verify` (feature `verify`): running the document checks and recording the result.

pub mod config;
pub mod domain;
pub mod http;
pub mod secrets;
pub mod store;
pub mod uploads;
#[cfg(feature = "verify")]
pub mod verify;
pub mod workflow;
