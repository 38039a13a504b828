//! Attacks: faults (see `attacks/mod.rs`).
