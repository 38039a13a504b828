//! The worst case of one ID verification for memory: four files, each at the per-image caps
//! (16384 × 2441 ≈ 40 megapixels, 16-bit RGBA: 320 MB decoded, the most a PNG costs per
//! pixel), plus 4 × 10 MiB of raw file bytes held as the verifications function holds them.
//! Prints the time and the process's peak resident memory (`VmHWM`).
//!
//! ```sh
//! cargo build --release -p idv-checks --features fixtures --example peak_memory
//! /usr/bin/time -v target/release/examples/peak_memory            # with the pixel budget
//! /usr/bin/time -v target/release/examples/peak_memory no-budget  # per-image caps only
//! /usr/bin/time -v target/release/examples/peak_memory rotated    # plus EXIF rotation
//! ```

use std::time::Instant;

use idv_checks::fixtures::{png_of_size, png_with_orientation};
use idv_checks::{evaluate_idv, extract_idv, Config, Context, DuplicateEvidence, InputFile};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let no_budget = std::env::args().any(|a| a == "no-budget");
    // EXIF orientation 6: the decoder's output is rotated, a second full-size copy.
    let rotated = std::env::args().any(|a| a == "rotated");
    let mut cfg = Config::default();
    if no_budget {
        cfg.image.max_total_pixels = u64::MAX;
    }
    let width = cfg.image.max_dimension;
    let height = u32::try_from(cfg.image.max_pixels / u64::from(width)).unwrap_or(1);
    let mut png = png_of_size(width, height, true, 7);
    if rotated {
        png = png_with_orientation(&png, 6);
    }
    // The raw bytes of four files at the 10 MiB cap, resident as in the function.
    let raw: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i | 1; 10 * 1024 * 1024]).collect();
    let files: Vec<InputFile> = (0..4)
        .map(|_| InputFile {
            bytes: png.clone(),
            content_type: "image/png".into(),
            side: None,
        })
        .collect();
    let before = peak_rss_kib();
    let started = Instant::now();
    let ext = extract_idv(&files, &cfg);
    let outcome = evaluate_idv(
        &ext,
        &Context {
            evaluated_on: time::macros::date!(2026 - 01 - 01),
            declared_type: None,
            declared_country: None,
            session: None,
            duplicate: DuplicateEvidence::NotChecked,
            config: &cfg,
        },
    );
    let elapsed = started.elapsed();
    let decoded: u64 = ext
        .files
        .iter()
        .filter_map(|f| f.quality.as_ref())
        .map(|q| u64::from(q.width) * u64::from(q.height))
        .sum();
    let errors: Vec<_> = ext.files.iter().map(|f| f.error).collect();
    let upright = ext
        .files
        .iter()
        .find_map(|f| f.quality.as_ref())
        .map(|q| format!("{}x{}", q.width, q.height));
    println!(
        "{}: {width}x{height} 16-bit RGBA PNG ({} bytes) x4; decoded {decoded} px (budget {}); \
         first decoded upright {upright:?}; file errors {errors:?}; status {:?}; {elapsed:.2?}; peak RSS {} MiB (before checks {} MiB); raw {} MiB",
        match (no_budget, rotated) {
            (true, false) => "per-image caps only",
            (true, true) => "per-image caps only, EXIF-rotated",
            (false, false) => "pixel budget",
            (false, true) => "pixel budget, EXIF-rotated",
        },
        png.len(),
        cfg.image.max_total_pixels,
        outcome.status,
        peak_rss_kib() / 1024,
        before / 1024,
        raw.iter().map(Vec::len).sum::<usize>() / (1024 * 1024),
    );
}
