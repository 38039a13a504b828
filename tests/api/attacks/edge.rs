//! Attacks: edge (see `attacks/mod.rs`).
