//! tmp
pub mod aamva;
pub mod address_doc;
pub mod barcode;
pub mod compare;
pub mod country;
pub mod image_quality;
pub mod mrz;
pub mod pdf_text;
pub mod types;
#[cfg(feature = "fixtures")]
pub mod fixtures;
