//! The domain: ids, values, the session and its state machine, accounts, events and the
//! tenancy's events feed.
//!
//! Imports nothing from AWS or HTTP. Start with [`session`], the state machine.

pub mod account;
pub mod applicant;
pub mod auth;
pub mod client_token;
pub mod device;
pub mod document;
pub mod event;
pub mod feed;
pub mod ids;
pub mod session;
pub mod validation;
pub mod values;
pub mod verification;
pub mod webhook;
