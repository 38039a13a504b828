//! tmp
pub mod country;
pub mod mrz;
pub mod types;
