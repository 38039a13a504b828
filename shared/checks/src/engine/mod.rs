//! The checks engine: turns uploaded files into sources (image quality, barcode, MRZ,
//! PDF text) and sources plus context into named checks and a verification status.
//!
//! Two phases per document kind, so the caller can look up duplicates between them:
//! [`extract_idv`] → [`document_fingerprint`] (caller's database) → [`evaluate_idv`];
//! [`extract_address`] → [`evaluate_address`]. Nothing here reads a clock, the network or
//! the environment: the same input gives byte-identical JSON.
//!
//! Status rule: an image-quality or readability failure → `requires_retry`; else any
//! failed `required` check → `failed`; else `passed`. A check that cannot run is
//! `not_applicable`, never `passed`.
//!
//! Rooms: [`types`] (configuration, contexts, extractions, outcomes), `registry` (the
//! named checks, their default requirements and the status rule), `files` (reading
//! uploads, shared by both kinds), [`idv`] (ID documents), [`address`] (proofs of
//! address). Everything public is re-exported here, so `engine::X` paths keep working.

pub mod address;
mod files;
pub mod idv;
mod registry;
pub mod types;

pub use address::{evaluate_address, extract_address};
pub use idv::{document_fingerprint, evaluate_idv, extract_idv};
pub use registry::default_requirement;
pub use types::{
    AddressContext, AddressExtracted, AddressExtraction, Check, CheckStatus, Config, Context,
    DuplicateEvidence, Extracted, ExtractedDocument, ExtractedPerson, FileReport, IdvExtracted,
    IdvExtraction, MrzBand, Outcome, PhotoMrz, Requirement, SessionData, VerificationStatus,
    RULE_SET_VERSION,
};
