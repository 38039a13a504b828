//! Stage times of a whole verification of the 2 MP passport photo the `mrz_photo` bench
//! uses: JPEG decode and inspection, MRZ location, the reader, the whole engine. Medians of
//! `--n` runs (default 15), one thread. A profile for finding the slow stage, not the
//! benchmark itself. `--cpu`: medians of this thread's on-CPU time instead of wall time
//! (Linux `/proc/thread-self/schedstat`), the one-core cost on a machine whose other load
//! would stretch the wall clock.
//!
//! `cargo run --release -p idv-checks --features fixtures --example mrz_stage_times -- [--n 15] [--cpu]`

use std::time::Instant;

use idv_checks::fixtures::mrz_photo::{passport_photo_jpeg, MrzTruth, Scene, EVALUATED_ON};
use idv_checks::*;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Nanoseconds this thread has run on a CPU, when the kernel tells.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> f64 {
    let cpu = std::env::args().any(|a| a == "--cpu");
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let c0 = cpu_ns();
        std::hint::black_box(f());
        let c1 = cpu_ns();
        v.push(match (cpu, c0, c1) {
            (true, Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e6,
            _ => t.elapsed().as_secs_f64() * 1000.0,
        });
    }
    median(v)
}

fn main() {
    let n: usize = std::env::args()
        .skip_while(|a| a != "--n")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let truth = MrzTruth::passport();
    // The bench's photo: the first clean scene of 1.8–2.2 MP.
    let Some(jpeg) = (0..200)
        .map(|s| passport_photo_jpeg(&truth, &Scene::clean(s)))
        .find(|j| {
            image::load_from_memory(j).is_ok_and(|i| {
                (1.8..=2.2).contains(&(f64::from(i.width()) * f64::from(i.height()) / 1e6))
            })
        })
    else {
        eprintln!("no 2 MP scene");
        return;
    };
    let cfg = Config::default();
    let files = [InputFile {
        bytes: jpeg.clone(),
        content_type: "image/jpeg".into(),
        side: None,
    }];
    let ctx = Context {
        evaluated_on: EVALUATED_ON,
        declared_type: Some(DocumentType::Passport),
        declared_country: None,
        session: None,
        duplicate: DuplicateEvidence::NotChecked,
        config: &cfg,
    };
    let Ok(gray) = image::load_from_memory(&jpeg).map(|i| i.to_luma8()) else {
        return;
    };
    println!("frame {}x{}", gray.width(), gray.height());
    println!(
        "decode only        {:7.1} ms",
        time(n, || image::load_from_memory(&jpeg).is_ok())
    );
    if let Ok(img) = image::load_from_memory(&jpeg) {
        println!(
            "  thumbnail 1024   {:7.1} ms",
            time(n, || img.thumbnail(1024, 1024).to_rgb8().len())
        );
        println!(
            "  to_luma8         {:7.1} ms",
            time(n, || img.to_luma8().len())
        );
        println!(
            "  to_rgb8          {:7.1} ms",
            time(n, || img.to_rgb8().len())
        );
    }
    println!(
        "inspect (decode+q) {:7.1} ms",
        time(n, || image_quality::inspect_within(
            &jpeg,
            &cfg.image,
            &mut u64::MAX.clone()
        )
        .is_ok())
    );
    println!(
        "find_bands         {:7.1} ms",
        time(n, || ocr::locate::find_bands(&gray).len())
    );
    println!(
        "read_mrz           {:7.1} ms",
        time(n, || ocr::read_mrz(&gray).is_ok())
    );
    println!(
        "extract_idv        {:7.1} ms",
        time(n, || extract_idv(&files, &cfg).mrz_read)
    );
    let ext = extract_idv(&files, &cfg);
    println!(
        "evaluate_idv       {:7.1} ms  ({:?})",
        time(n, || evaluate_idv(&ext, &ctx).status),
        evaluate_idv(&ext, &ctx).status
    );
}
