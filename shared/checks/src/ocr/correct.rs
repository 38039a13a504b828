//! Correction with proof (placeholder until the rules land: corrects nothing).

/// Below this confidence a character counts as unsure.
pub const UNSURE: f32 = 0.5;
