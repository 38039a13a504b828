//! The red-team suite (issue 8): one test per attack, named after it, each run against
//! DynamoDB Local and s3s-fs through the same routers production serves. Every test here was
//! seen failing on the main branch before its fix.
//!
//! One module per threat:
//! - [`uploads`]: swapping a checked upload, files read as MRZ text, upload headers, download
//!   URLs for write-only keys, decompression bombs, the per-verification pixel budget;
//! - [`replay`]: idempotent replays across scopes and after redaction, `meta` placement,
//!   back-dated `evaluated_on`;
//! - [`redaction`]: redacted accounts taking new data, half-done and racing redactions,
//!   standalone documents;
//! - [`bounds`]: unbounded pages, totals and growing items;
//! - [`faults`]: dependencies that hang, refuse or throttle;
//! - [`edge`]: the key cache, the per-key rate limit, the template's edge.

mod bounds;
mod edge;
mod faults;
mod redaction;
mod replay;
mod uploads;
