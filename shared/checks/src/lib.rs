//! tmp
pub mod aamva;
pub mod barcode;
pub mod country;
pub mod image_quality;
pub mod mrz;
pub mod types;
#[cfg(feature = "fixtures")]
pub mod fixtures;
