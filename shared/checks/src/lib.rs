//! `idv-checks`: the deterministic document-check engine of the identity service.
//!
//! Pure functions over bytes and data: no AWS, no HTTP, no clock (the caller passes
//! `evaluated_on`), no randomness, no network. The same files, context and date give
//! byte-identical JSON. Untrusted bytes never panic the process (releases abort on panic).
//!
//! The API the verifications function calls:
//! * [`extract_idv`] → [`document_fingerprint`] → (duplicate lookup) → [`evaluate_idv`];
//! * [`extract_address`] → [`evaluate_address`].
//!
//! Modules, from the bytes up: [`image_quality`], [`barcode`], [`aamva`], [`mrz`],
//! [`pdf_text`], [`address_doc`], [`compare`], then [`engine`]. The README lists every
//! check, its reasons and its configuration.

pub mod aamva;
pub mod address_doc;
pub mod barcode;
pub mod compare;
pub mod country;
pub mod engine;
pub mod image_quality;
pub mod mrz;
pub mod ocr;
pub mod pdf_text;
pub mod types;

#[cfg(feature = "fixtures")]
pub mod fixtures;

pub use engine::{
    default_requirement, document_fingerprint, evaluate_address, evaluate_idv, extract_address,
    extract_idv, AddressContext, AddressExtracted, AddressExtraction, Check, CheckStatus, Config,
    Context, DuplicateEvidence, Extracted, IdvExtracted, IdvExtraction, Outcome, Requirement,
    SessionData, VerificationStatus, RULE_SET_VERSION,
};
pub use image_quality::ImageLimits;
pub use types::{Address, AddressDocumentType, DocumentType, InputFile, PersonName, Sex, Side};
