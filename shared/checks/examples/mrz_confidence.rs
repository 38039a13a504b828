//! Calibration data of the photo MRZ reader's confidences: for every character of every
//! line read at the truth's length, one CSV row `set,id,line,col,truth,read,right,
//! confidence,best,second` (scores are the classifier's normalised correlations). Used to
//! see how sure the classifier is of the characters it gets wrong; tune on clean and
//! degraded with seeds other than the one reported, never on held-out samples.
//!
//! `cargo run --release -p idv-checks --features fixtures --example mrz_confidence -- \
//!   [--sets clean,degraded] [--n 50] [--seed 2]`

use idv_checks::fixtures::mrz_photo::{sample_set, SetKind};
use idv_checks::ocr::read_mrz;

fn main() {
    let v: Vec<String> = std::env::args().skip(1).collect();
    let (mut sets, mut n, mut seed) = (vec![SetKind::ALL[0]], 50usize, 2u64);
    for w in v.windows(2) {
        match w[0].as_str() {
            "--sets" => {
                sets = SetKind::ALL
                    .into_iter()
                    .filter(|s| w[1].split(',').any(|x| x == s.name()))
                    .collect()
            }
            "--n" => n = w[1].parse().unwrap_or(n),
            "--seed" => seed = w[1].parse().unwrap_or(seed),
            _ => {}
        }
    }
    println!("set,id,line,col,truth,read,right,confidence,best,second");
    for set in sets {
        for s in sample_set(set, n, seed) {
            let Ok(img) = image::load_from_memory(&s.mrz_jpeg()).map(|i| i.to_luma8()) else {
                continue;
            };
            let Ok(r) = read_mrz(&img) else { continue };
            for (l, (rl, tl)) in r.lines.iter().zip(s.truth.lines()).enumerate() {
                if rl.len() != tl.len() {
                    continue;
                }
                for (c, (rc, tc)) in rl.iter().zip(tl.chars()).enumerate() {
                    let best = rc.alternatives.first().map_or(-1.0, |a| a.1);
                    let second = rc.alternatives.get(1).map_or(-1.0, |a| a.1);
                    println!(
                        "{},{},{l},{c},{tc},{},{},{:.3},{:.3},{:.3}",
                        set.name(),
                        s.id,
                        rc.ch,
                        u8::from(rc.ch == tc),
                        rc.confidence,
                        best,
                        second
                    );
                }
            }
        }
    }
}
