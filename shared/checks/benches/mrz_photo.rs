//! Times the photo MRZ path: a whole verification (`extract_idv` + `evaluate_idv`) of a
//! 2-megapixel passport photo, and the reader alone (`ocr::read_mrz` on the decoded
//! greyscale). The photo is the first clean generated scene whose frame is 1.8–2.2 MP
//! (chosen by size only). One thread: criterion runs the closure serially.

use criterion::{criterion_group, criterion_main, Criterion};
use idv_checks::fixtures::mrz_photo::{passport_photo_jpeg, MrzTruth, Scene, EVALUATED_ON};
use idv_checks::*;
use std::hint::black_box;

fn two_megapixel_passport() -> Vec<u8> {
    let truth = MrzTruth::passport();
    for seed in 0..200 {
        let jpeg = passport_photo_jpeg(&truth, &Scene::clean(seed));
        if let Ok(img) = image::load_from_memory(&jpeg) {
            let mp = f64::from(img.width()) * f64::from(img.height()) / 1e6;
            if (1.8..=2.2).contains(&mp) {
                return jpeg;
            }
        }
    }
    panic!("no 2 MP scene in the first 200 seeds");
}

fn bench(c: &mut Criterion) {
    let cfg = Config::default();
    let jpeg = two_megapixel_passport();
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
    let gray = image::load_from_memory(&jpeg)
        .map(|i| i.to_luma8())
        .expect("decode");
    let mut group = c.benchmark_group("mrz_photo");
    group.sample_size(20);
    group.bench_function("passport_photo_jpeg_2mp_verify", |b| {
        b.iter(|| {
            let o = evaluate_idv(&extract_idv(black_box(&files), &cfg), &ctx);
            assert_eq!(o.status, VerificationStatus::Passed);
        })
    });
    group.bench_function("passport_photo_2mp_read_mrz", |b| {
        b.iter(|| ocr::read_mrz(black_box(&gray)).map(|r| r.lines.len()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
