//! Attacks: replay (see `attacks/mod.rs`).
