//! Classifies one normalised cell against the committed OCR-B templates: normalised
//! correlation with every template, the best variant per character, and a confidence from
//! the margin between the best character and the next different one.

use super::glyphs::{self, ALPHABET, TH, TW};
use super::ReadChar;

/// Margin (in correlation) at which a character counts as fully sure.
const FULL_MARGIN: f32 = 0.12;
/// Best score at and below which nothing is sure, and at and above which the score alone
/// does not lower the confidence.
/// Calibrated on generated clean and degraded photos (seed 3, `examples/mrz_confidence`):
/// wrong characters read with a score between 0.5 and 0.8 were the ones still sure.
const SCORE_FLOOR: f32 = 0.5;
const SCORE_FULL: f32 = 0.8;
/// Alternatives kept: candidates within this much of the best score, at most four.
const ALT_WINDOW: f32 = 0.25;
const ALT_MAX: usize = 4;

/// Classes re-scored with every template after the first pass.
const SHORTLIST: usize = 6;

/// Best score per character of [`ALPHABET`] for a cell of `TW*TH` ink values (0–1).
/// All −1 when the cell is flat or the templates are missing.
pub fn scores(cell: &[f32]) -> [f32; 37] {
    scores_best_of(&[cell])
}

/// Best score per character of [`ALPHABET`] over several cuts of the same cell (the cell
/// moved by a fraction of a row up or down): each class keeps its best-aligned cut. A
/// first pass uses the middle blur of each cut only; the best [`SHORTLIST`] classes then
/// meet every template (saves two thirds of the work, changes only scores far from the
/// best). Cuts that are flat or of the wrong size are skipped; all −1 when none is left.
pub fn scores_best_of(cuts: &[&[f32]]) -> [f32; 37] {
    let mut best = [-1f32; 37];
    let cuts: Vec<Vec<f32>> = cuts
        .iter()
        .filter(|c| c.len() == TW * TH)
        .filter_map(|c| glyphs::normalise(c))
        .collect();
    if cuts.is_empty() {
        return best;
    }
    let all = glyphs::templates();
    for t in all.iter().filter(|t| t.variant % 3 == 1) {
        for v in &cuts {
            let s = dot(&t.values, v);
            if let Some(b) = best.get_mut(t.class) {
                *b = b.max(s);
            }
        }
    }
    let mut order: Vec<usize> = (0..ALPHABET.len()).collect();
    order.sort_by(|a, b| best[*b].total_cmp(&best[*a]).then(a.cmp(b)));
    let short = order.get(..SHORTLIST).unwrap_or(&[]);
    for t in all
        .iter()
        .filter(|t| t.variant % 3 != 1 && short.contains(&t.class))
    {
        for v in &cuts {
            let s = dot(&t.values, v);
            if let Some(b) = best.get_mut(t.class) {
                *b = b.max(s);
            }
        }
    }
    best
}

/// Dot product in eight independent lanes (summed in a fixed order: deterministic), which
/// the compiler turns into vector instructions; a single running sum cannot be reordered
/// and stays scalar. Five cuts per cell made this the reader's hot loop.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for ((s, xa), yb) in acc.iter_mut().zip(x).zip(y) {
            *s += xa * yb;
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The character read from per-class scores: best first, confidence, alternatives.
pub fn decide(scores: &[f32; 37]) -> ReadChar {
    let mut order: Vec<usize> = (0..ALPHABET.len()).collect();
    // Ties broken by alphabet order: deterministic.
    order.sort_by(|a, b| {
        scores[*b]
            .partial_cmp(&scores[*a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(b))
    });
    let first = order.first().copied().unwrap_or(36);
    let s1 = scores[first];
    let s2 = order.get(1).map_or(-1.0, |i| scores[*i]);
    let margin = ((s1 - s2) / FULL_MARGIN).clamp(0.0, 1.0);
    let level = ((s1 - SCORE_FLOOR) / (SCORE_FULL - SCORE_FLOOR)).clamp(0.0, 1.0);
    let alternatives = order
        .iter()
        .take(ALT_MAX)
        .filter(|i| scores[**i] >= s1 - ALT_WINDOW)
        .map(|i| (ALPHABET[*i] as char, scores[*i]))
        .collect();
    ReadChar {
        ch: ALPHABET[first] as char,
        confidence: margin * level,
        alternatives,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_cells_score_nothing() {
        let s = scores(&vec![0.0; TW * TH]);
        assert!(s.iter().all(|v| *v == -1.0));
        let r = decide(&s);
        assert_eq!(r.confidence, 0.0);
        assert!(scores(&[1.0; 3]).iter().all(|v| *v == -1.0));
    }

    #[test]
    fn the_lane_dot_product_is_the_dot_product() {
        // Lengths with and without a remainder past the eight lanes.
        for n in [0usize, 5, 8, 19, TW * TH] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "{n}");
        }
    }

    #[test]
    fn a_cell_cut_a_row_off_scores_its_class_through_the_best_cut() {
        // The template of '<' itself, and the same moved down by two rows: the best of
        // both cuts is the template's own score, whichever comes first.
        let t = glyphs::templates()
            .iter()
            .find(|t| ALPHABET.get(t.class) == Some(&b'<'))
            .expect("template");
        let cell: Vec<f32> = t.values.clone();
        let mut moved = vec![cell.iter().copied().fold(f32::MAX, f32::min); TW * TH];
        moved[2 * TW..].copy_from_slice(&cell[..(TH - 2) * TW]);
        let alone = scores(&moved)[36];
        let best = scores_best_of(&[&moved, &cell])[36];
        assert!(best > 0.99, "{best}");
        assert!(alone < best);
        assert_eq!(decide(&scores_best_of(&[&cell, &moved])).ch, '<');
    }

    #[test]
    fn confidence_follows_the_margin() {
        let mut s = [0.0f32; 37];
        s[0] = 0.9;
        s[24] = 0.88; // 'O'
        let r = decide(&s);
        assert_eq!(r.ch, '0');
        assert!(r.confidence < 0.3);
        assert_eq!(r.alternatives.get(1).map(|a| a.0), Some('O'));
        s[24] = 0.5;
        assert!(decide(&s).confidence > 0.99);
    }
}
