//! Times a full verification of a 2-megapixel licence back (JPEG) and of a one-page
//! proof-of-address PDF, extraction and evaluation together.

use criterion::{criterion_group, criterion_main, Criterion};
use idv_checks::fixtures::{self, LicenceFields, Variant};
use idv_checks::*;
use std::hint::black_box;
use time::macros::date;

fn bench(c: &mut Criterion) {
    let cfg = Config::default();
    let jpeg = [InputFile {
        bytes: fixtures::licence_back_jpeg(&LicenceFields::default(), Variant::Clean),
        content_type: "image/jpeg".into(),
        side: Some(Side::Back),
    }];
    let ctx = Context {
        evaluated_on: date!(2025 - 06 - 01),
        declared_type: Some(DocumentType::DrivingLicense),
        declared_country: Some("US".into()),
        session: None,
        duplicate: DuplicateEvidence::NotChecked,
        config: &cfg,
    };
    let mut group = c.benchmark_group("verify");
    group.sample_size(10);
    group.bench_function("licence_back_jpeg_2mp", |b| {
        b.iter(|| {
            let o = evaluate_idv(&extract_idv(black_box(&jpeg), &cfg), &ctx);
            assert_eq!(o.status, VerificationStatus::Passed);
        })
    });
    let blurred = [InputFile {
        bytes: fixtures::licence_back_jpeg(&LicenceFields::default(), Variant::Blurred),
        content_type: "image/jpeg".into(),
        side: Some(Side::Back),
    }];
    group.bench_function("licence_back_jpeg_2mp_blurred", |b| {
        b.iter(|| evaluate_idv(&extract_idv(black_box(&blurred), &cfg), &ctx))
    });
    let pdf = [InputFile {
        bytes: fixtures::address_pdf(&fixtures::default_bill(date!(2025 - 05 - 02))),
        content_type: "application/pdf".into(),
        side: None,
    }];
    let actx = AddressContext {
        evaluated_on: date!(2025 - 06 - 01),
        session: None,
        config: &cfg,
    };
    group.bench_function("address_pdf_one_page", |b| {
        b.iter(|| evaluate_address(&extract_address(black_box(&pdf), &cfg), &actx))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
