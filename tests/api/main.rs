//! Integration tests, one binary, a module per concern. Each test gets a fresh table on
//! DynamoDB Local (see `idv_tests::TestApp`).

mod accounts;
mod apigw;
mod attacks;
mod auth;
mod client_tokens;
mod concurrency;
mod devices;
mod documents;
mod events;
mod expiry;
mod idempotency;
mod malformed;
mod pagination;
mod passports;
mod redaction;
mod round_trips;
mod seed;
mod sessions;
mod store;
mod verifications;
mod webhooks;
