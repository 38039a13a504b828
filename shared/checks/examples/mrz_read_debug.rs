//! Developer tool of the MRZ photo reader: reads generated samples (or image files given
//! as arguments) and prints, per sample, the text read against the truth with the
//! confidence of every character that differs. Not a measurement (see `mrz_accuracy`).
//!
//! `cargo run --release -p idv-checks --features fixtures --example mrz_read_debug -- \
//!   [--set clean] [--n 20] [--seed 1] [--only K] [files…]`

use idv_checks::fixtures::mrz_photo::{
    passport_photo_jpeg, sample_set, MrzTruth, Scene, SetKind, EVALUATED_ON,
};
use idv_checks::ocr::read_mrz;
use idv_checks::*;

fn main() {
    let v: Vec<String> = std::env::args().skip(1).collect();
    let (mut set, mut n, mut seed, mut files) = (SetKind::ALL[0], 20usize, 1u64, Vec::new());
    // `--only K`: just sample K of the set (samples are the same whatever `--n`).
    let mut only: Option<usize> = None;
    let mut i = 0;
    while i < v.len() {
        let next = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--set" => {
                set = SetKind::ALL
                    .into_iter()
                    .find(|s| s.name() == next)
                    .unwrap_or(set)
            }
            "--n" => n = next.parse().unwrap_or(n),
            "--only" => only = next.parse().ok(),
            "--seed" => seed = next.parse().unwrap_or(seed),
            // Band measures on passports shot with a scene preset, one per seed.
            "--scene" => {
                for k in 0..n as u64 {
                    let scene = match next.as_str() {
                        "blurred" => Scene::blurred(seed + k),
                        "large" => Scene::large(seed + k),
                        _ => Scene::clean(seed + k),
                    };
                    let jpeg = passport_photo_jpeg(&MrzTruth::passport(), &scene);
                    let Ok(img) = image::load_from_memory(&jpeg).map(|i| i.to_luma8()) else {
                        continue;
                    };
                    let t0 = std::time::Instant::now();
                    let r = read_mrz(&img);
                    let ms = t0.elapsed().as_secs_f64() * 1000.0;
                    match r {
                        Ok(r) => println!(
                            "{next}-{k} {}x{} {ms:.0}ms q {:?} unsure {}",
                            img.width(),
                            img.height(),
                            r.quality,
                            r.unsure_count()
                        ),
                        Err(e) => println!("{next}-{k} {ms:.0}ms {}", e.code()),
                    }
                }
                return;
            }
            f => {
                files.push(f.to_string());
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    if !files.is_empty() {
        for f in files {
            let img = image::open(&f).map(|i| i.to_luma8());
            match img {
                Ok(g) => match read_mrz(&g) {
                    Ok(r) => println!(
                        "{f}: rot {} q {:?}\n{}",
                        r.rotation_degrees,
                        r.quality,
                        r.text()
                    ),
                    Err(e) => println!("{f}: {}", e.code()),
                },
                Err(e) => println!("{f}: {e}"),
            }
        }
        return;
    }
    let n = only.map_or(n, |k| n.max(k + 1));
    for (k, s) in sample_set(set, n, seed).into_iter().enumerate() {
        if only.is_some_and(|o| o != k) {
            continue;
        }
        let jpeg = s.mrz_jpeg();
        let Ok(img) = image::load_from_memory(&jpeg).map(|i| i.to_luma8()) else {
            continue;
        };
        let t0 = std::time::Instant::now();
        let r = read_mrz(&img);
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let truth = s.truth.text();
        // Whole engine on the sample's files, for timing and the outcome.
        let cfg = Config::default();
        let ctx = Context {
            evaluated_on: EVALUATED_ON,
            declared_type: Some(s.declared_type()),
            declared_country: None,
            session: None,
            duplicate: DuplicateEvidence::NotChecked,
            config: &cfg,
        };
        let files = s.input_files();
        let t1 = std::time::Instant::now();
        let outcome = evaluate_idv(&extract_idv(&files, &cfg), &ctx);
        let engine_ms = t1.elapsed().as_secs_f64() * 1000.0;
        let failed: Vec<String> = outcome
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Failed)
            .map(|c| format!("{}:{:?}", c.name, c.reasons))
            .collect();
        println!(
            "  engine {:.0}ms {:?} {:?}",
            engine_ms, outcome.status, failed
        );
        match r {
            Ok(r) => {
                let text = r.text();
                let ok = text == truth;
                println!(
                    "{} {}x{} {:.0}ms rot {} h {:.1} sharp {:.0} glare {} unsure {} {}",
                    s.id,
                    img.width(),
                    img.height(),
                    ms,
                    r.rotation_degrees,
                    r.quality.char_height_px,
                    r.quality.sharpness,
                    r.quality.glare_fraction,
                    r.unsure_count(),
                    if ok { "OK" } else { "DIFF" }
                );
                if !ok {
                    println!(
                        "  read  {}\n  truth {}",
                        text.replace('\n', " / "),
                        truth.replace('\n', " / ")
                    );
                    for (l, (rl, tl)) in r.lines.iter().zip(s.truth.lines().iter()).enumerate() {
                        for (c, (rc, tc)) in rl.iter().zip(tl.chars()).enumerate() {
                            if rc.ch != tc {
                                println!(
                                    "    {l}:{c} {}→{} conf {:.2} alts {:?}",
                                    tc, rc.ch, rc.confidence, rc.alternatives
                                );
                            }
                        }
                    }
                }
            }
            Err(e) => println!(
                "{} {}x{} {:.0}ms {}",
                s.id,
                img.width(),
                img.height(),
                ms,
                e.code()
            ),
        }
    }
}
