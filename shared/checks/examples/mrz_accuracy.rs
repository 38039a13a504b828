//! Accuracy harness of the photo MRZ reader on the generated sets of
//! `idv_checks::fixtures::mrz_photo` (made by parameters, never filtered by outcome).
//!
//! For every set it renders each sample, decodes the JPEG as the engine would, runs
//! `idv_checks::ocr::read_mrz` and reports: detection rate (an MRZ of the right layout
//! found), character accuracy (per line, aligned by edit distance), field accuracy
//! (document number, surname, given names, nationality, birth date, sex, expiry: each
//! compared with the truth), documents with every field right, and the read time per image.
//! Then, for the `broken` and `expired` sets (all sets with `--engine-all`), it runs the
//! whole engine (`extract_idv` + `evaluate_idv` on
//! `mrz_photo::EVALUATED_ON`) and counts the outcomes: `broken` and `expired` must have
//! 0 `passed`. Release build:
//!
//! `CARGO_TARGET_DIR=/work/ocr/target cargo run --release -p idv-checks --features fixtures \
//!   --example mrz_accuracy -- --n 200 [--seed 1] [--sets clean,degraded] [--dump DIR] [--verbose] [--engine-all | --no-engine]`

use std::time::Instant;

use idv_checks::fixtures::mrz_photo::{self, Sample, SetKind, EVALUATED_ON};
use idv_checks::mrz::{self, Mrz};
use idv_checks::*;

struct Args {
    n: usize,
    seed: u64,
    sets: Vec<SetKind>,
    dump: Option<String>,
    /// Sets the whole engine runs on (by default `broken` and `expired`, the ones that
    /// must never pass; `--engine-all` for every set, `--no-engine` for none).
    engine: Vec<SetKind>,
    verbose: bool,
}

fn args() -> Args {
    let mut a = Args {
        n: 50,
        seed: 1,
        sets: SetKind::ALL.to_vec(),
        dump: None,
        engine: vec![SetKind::Broken, SetKind::Expired],
        verbose: false,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let next = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--n" => a.n = next.parse().unwrap_or(a.n),
            "--seed" => a.seed = next.parse().unwrap_or(a.seed),
            "--dump" => a.dump = Some(next),
            "--sets" => {
                a.sets = SetKind::ALL
                    .into_iter()
                    .filter(|s| next.split(',').any(|n| n == s.name()))
                    .collect()
            }
            "--verbose" => {
                a.verbose = true;
                i += 1;
                continue;
            }
            "--engine-all" => {
                a.engine = SetKind::ALL.to_vec();
                i += 1;
                continue;
            }
            "--no-engine" => {
                a.engine.clear();
                i += 1;
                continue;
            }
            other => eprintln!("ignored argument {other}"),
        }
        i += 2;
    }
    a
}

/// Levenshtein distance between two lines.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Characters right out of the truth's characters: line i of the reading against line i
/// of the truth, `len − edit distance` (at least 0); a missing line scores 0.
fn chars_right(truth: &[String], read: &[String]) -> (usize, usize) {
    let mut right = 0;
    let mut total = 0;
    for (i, t) in truth.iter().enumerate() {
        total += t.len();
        if let Some(r) = read.get(i) {
            right += t
                .len()
                .saturating_sub(edit_distance(t.as_bytes(), r.as_bytes()));
        }
    }
    (right, total)
}

const FIELDS: [&str; 7] = [
    "number",
    "surname",
    "given",
    "nationality",
    "birth",
    "sex",
    "expiry",
];

/// Which of [`FIELDS`] the reading got right, each compared with the truth. Both texts go
/// through `mrz::parse_strict` (no text-only O/0 repairs), so a field counts as right only
/// when the reader itself produced it.
fn fields_right(truth: &Mrz, read: Option<&Mrz>) -> [bool; 7] {
    let Some(r) = read else {
        return [false; 7];
    };
    [
        r.document_number == truth.document_number,
        r.primary_identifier == truth.primary_identifier,
        r.secondary_identifier == truth.secondary_identifier,
        r.nationality == truth.nationality,
        r.birth_date_raw == truth.birth_date_raw,
        r.sex == truth.sex,
        r.expiry_date_raw == truth.expiry_date_raw,
    ]
}

#[derive(Default)]
struct Tally {
    n: usize,
    detected: usize,
    chars_right: usize,
    chars: usize,
    fields_right: usize,
    fields: usize,
    docs_all_right: usize,
    read_ms: Vec<f64>,
    passed: usize,
    failed: usize,
    retry: usize,
    engine_ms: Vec<f64>,
    field_misses: [usize; 7],
    gen_ms: Vec<f64>,
    megapixels: Vec<f64>,
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.2}%", 100.0 * a as f64 / b as f64)
    }
}

fn median_p95(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

fn run(sample: &Sample, a: &Args, t: &mut Tally, cfg: &Config) {
    let start = Instant::now();
    let jpeg = sample.mrz_jpeg();
    t.gen_ms.push(start.elapsed().as_secs_f64() * 1000.0);
    if let Ok((w, h)) = image::load_from_memory(&jpeg).map(|i| (i.width(), i.height())) {
        t.megapixels.push(f64::from(w) * f64::from(h) / 1e6);
    }
    if let Some(dir) = &a.dump {
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(format!("{dir}/{}.jpg", sample.id), &jpeg);
        // A half-size PNG preview, for viewers without JPEG support.
        if let Ok(img) = image::load_from_memory(&jpeg) {
            let (w, h) = (img.width() / 2, img.height() / 2);
            let _ = img
                .resize(w.max(1), h.max(1), image::imageops::FilterType::Triangle)
                .save(format!("{dir}/{}.png", sample.id));
        }
    }
    let truth_lines = sample.truth.lines();
    let truth_mrz = mrz::parse_strict(&sample.truth.text(), EVALUATED_ON).ok();
    let start = Instant::now();
    let reading = image::load_from_memory(&jpeg)
        .ok()
        .map(|img| idv_checks::ocr::read_mrz(&img.to_luma8()));
    t.read_ms.push(start.elapsed().as_secs_f64() * 1000.0);
    t.n += 1;
    let read_text = match &reading {
        Some(Ok(r)) => Some(r.text()),
        _ => None,
    };
    let read_lines: Vec<String> = read_text
        .as_deref()
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(Ok(r)) = &reading {
        if r.format == sample.truth.format {
            t.detected += 1;
        }
    }
    let (cr, ct) = chars_right(&truth_lines, &read_lines);
    if a.verbose && cr < ct {
        let err = match &reading {
            Some(Err(e)) => format!(" ({e})"),
            _ => String::new(),
        };
        println!(
            "  {} {:?} {:?}{err}\n    truth {}\n    read  {}",
            sample.id,
            sample.truth.format,
            sample.scene,
            truth_lines.join("\n          "),
            read_lines.join("\n          ")
        );
    }
    t.chars_right += cr;
    t.chars += ct;
    if let Some(tm) = &truth_mrz {
        let read_mrz = read_text
            .as_deref()
            .and_then(|s| mrz::parse_strict(s, EVALUATED_ON).ok());
        let f = fields_right(tm, read_mrz.as_ref());
        let right = f.iter().filter(|x| **x).count();
        t.fields_right += right;
        t.fields += f.len();
        for (m, ok) in t.field_misses.iter_mut().zip(f) {
            *m += usize::from(!ok);
        }
        if right == f.len() {
            t.docs_all_right += 1;
        }
    }
    if a.engine.contains(&sample.set) {
        let files = if sample.truth.format == mrz::MrzFormat::Td1 {
            vec![
                InputFile {
                    bytes: mrz_photo::id_card_front_jpeg(&sample.truth, &sample.scene),
                    content_type: "image/jpeg".into(),
                    side: Some(Side::Front),
                },
                InputFile {
                    bytes: jpeg,
                    content_type: "image/jpeg".into(),
                    side: Some(Side::Back),
                },
            ]
        } else {
            vec![InputFile {
                bytes: jpeg,
                content_type: "image/jpeg".into(),
                side: None,
            }]
        };
        let ctx = Context {
            evaluated_on: EVALUATED_ON,
            declared_type: Some(sample.declared_type()),
            declared_country: None,
            session: None,
            duplicate: DuplicateEvidence::NotChecked,
            config: cfg,
        };
        let start = Instant::now();
        let outcome = evaluate_idv(&extract_idv(&files, cfg), &ctx);
        t.engine_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        match outcome.status {
            VerificationStatus::Passed => t.passed += 1,
            VerificationStatus::Failed => t.failed += 1,
            _ => t.retry += 1,
        }
    }
}

fn main() {
    let a = args();
    let cfg = Config::default();
    println!(
        "mrz_accuracy: n={} per set, seed={}, evaluated_on={EVALUATED_ON}",
        a.n, a.seed
    );
    println!(
        "{:<9} {:>4} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>6} {:>6} {:>6} {:>9} {:>10} {:>7}",
        "set",
        "n",
        "detect",
        "chars",
        "fields",
        "docs",
        "read_ms",
        "read_p95",
        "pass",
        "fail",
        "retry",
        "engine_ms",
        "MP_min-max",
        "gen_ms"
    );
    for set in &a.sets {
        let mut t = Tally::default();
        for s in mrz_photo::sample_set(*set, a.n, a.seed) {
            run(&s, &a, &mut t, &cfg);
        }
        let (rm, rp) = median_p95(&mut t.read_ms);
        let (em, _) = median_p95(&mut t.engine_ms);
        let (gm, _) = median_p95(&mut t.gen_ms);
        let mp_lo = t.megapixels.iter().copied().fold(f64::MAX, f64::min);
        let mp_hi = t.megapixels.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<9} {:>4} {:>8} {:>8} {:>8} {:>8} {:>9.1} {:>9.1} {:>6} {:>6} {:>6} {:>9.1} {:>10} {:>7.0}",
            set.name(),
            t.n,
            pct(t.detected, t.n),
            pct(t.chars_right, t.chars),
            pct(t.fields_right, t.fields),
            pct(t.docs_all_right, t.n),
            rm,
            rp,
            t.passed,
            t.failed,
            t.retry,
            em,
            format!("{mp_lo:.1}-{mp_hi:.1}"),
            gm
        );
        let misses: Vec<String> = FIELDS
            .iter()
            .zip(t.field_misses)
            .filter(|(_, m)| *m > 0)
            .map(|(f, m)| format!("{f}:{m}"))
            .collect();
        if !misses.is_empty() {
            println!("          field misses: {}", misses.join(" "));
        }
    }
    println!(
        "detect = right layout found; chars = per-line aligned character accuracy; fields = 7 \
         fields vs truth; docs = all 7 right; read_ms = decode + read_mrz (median, p95); \
         pass/fail/retry = engine outcome (broken and expired must pass 0; \
         other sets only with --engine-all); engine_ms = \
         extract_idv + evaluate_idv (median); MP = frame size; gen_ms = rendering one JPEG \
         (median)"
    );
}
