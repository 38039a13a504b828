//! tmp
pub mod aamva;
pub mod country;
pub mod mrz;
pub mod types;
