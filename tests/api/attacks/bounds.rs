//! Attacks: bounds (see `attacks/mod.rs`).
