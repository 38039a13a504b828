//! Attacks: uploads (see `attacks/mod.rs`).
