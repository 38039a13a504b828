//! End-to-end: fixture files through extract → fingerprint → evaluate, as the
//! verifications function will call them.

use idv_checks::fixtures::{self, LicenceFields, MrzFields, Variant};
use idv_checks::*;
use time::macros::date;
use time::Date;

const ON: Date = date!(2025 - 06 - 01);

fn jpeg(f: &LicenceFields, v: Variant) -> InputFile {
    InputFile {
        bytes: fixtures::licence_back_jpeg(f, v),
        content_type: "image/jpeg".into(),
        side: Some(Side::Back),
    }
}

fn ctx(config: &Config) -> Context<'_> {
    Context {
        evaluated_on: ON,
        declared_type: Some(DocumentType::DrivingLicense),
        declared_country: Some("US".into()),
        session: None,
        duplicate: DuplicateEvidence::NotChecked,
        config,
    }
}

fn check<'a>(o: &'a Outcome, name: &str) -> &'a Check {
    o.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

fn idv(files: &[InputFile], c: &Context) -> Outcome {
    evaluate_idv(&extract_idv(files, c.config), c)
}

#[test]
fn clean_licence_back_passes_with_extracted_data() {
    let cfg = Config::default();
    let mut c = ctx(&cfg);
    c.session = Some(SessionData {
        name: Some(PersonName {
            first: Some("Michael".into()),
            middle: None,
            last: Some("Sample".into()),
        }),
        birth_date: Some(date!(1986 - 06 - 06)),
        address: None,
    });
    c.duplicate = DuplicateEvidence::Unique;
    let o = idv(&[jpeg(&LicenceFields::default(), Variant::Clean)], &c);
    assert_eq!(o.status, VerificationStatus::Passed, "{:#?}", o.checks);
    let json = serde_json::to_value(&o).unwrap();
    let e = &json["extracted"];
    assert_eq!(e["person"]["name"]["first"], "MICHAEL");
    assert_eq!(e["person"]["name"]["middle"], "JOHN");
    assert_eq!(e["person"]["name"]["last"], "SAMPLE");
    assert_eq!(e["person"]["birth_date"], "1986-06-06");
    assert_eq!(e["person"]["sex"], "male");
    assert_eq!(e["person"]["nationality"], serde_json::Value::Null);
    assert_eq!(e["document"]["type"], "driving_license");
    assert_eq!(e["document"]["number"], "T64235789");
    assert_eq!(e["document"]["issuing_country_code"], "US");
    assert_eq!(e["document"]["issue_date"], "2022-06-06");
    assert_eq!(e["document"]["expiration_date"], "2030-12-10");
    assert_eq!(e["address"]["line1"], "2300 WEST BROAD STREET");
    assert_eq!(e["address"]["line2"], serde_json::Value::Null);
    assert_eq!(e["address"]["city"], "RICHMOND");
    assert_eq!(e["address"]["subdivision"], "VA");
    assert_eq!(e["address"]["postal_code"], "23269");
    assert_eq!(e["address"]["country_code"], "US");
    assert_eq!(check(&o, "barcode_valid").status, CheckStatus::Passed);
    assert_eq!(check(&o, "barcode_valid").metadata["iin"], "636000");
    assert_eq!(check(&o, "mrz_valid").status, CheckStatus::NotApplicable);
    assert_eq!(check(&o, "session_comparison").status, CheckStatus::Passed);
    assert_eq!(check(&o, "data_consistency").status, CheckStatus::Passed);
    assert_eq!(check(&o, "duplicate_document").status, CheckStatus::Passed);
    assert_eq!(json["rule_set_version"], RULE_SET_VERSION);
    // Every check has the documented shape.
    for c in json["checks"].as_array().unwrap() {
        let keys: Vec<_> = c.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            vec!["metadata", "name", "reasons", "requirement", "status"]
        );
    }
}

#[test]
fn png_and_rotated_and_noisy_backs_are_read() {
    let cfg = Config::default();
    let f = LicenceFields::default();
    let png = InputFile {
        bytes: fixtures::licence_back_png(&f, Variant::Clean),
        content_type: "image/png".into(),
        side: None,
    };
    for file in [png, jpeg(&f, Variant::Rotated), jpeg(&f, Variant::Noisy)] {
        let o = idv(&[file], &ctx(&cfg));
        assert_eq!(o.status, VerificationStatus::Passed, "{:#?}", o.checks);
    }
}

#[test]
fn expired_licence_fails() {
    let cfg = Config::default();
    let f = LicenceFields {
        expiry_date: date!(2024 - 12 - 10),
        ..LicenceFields::default()
    };
    let o = idv(&[jpeg(&f, Variant::Clean)], &ctx(&cfg));
    let c = check(&o, "document_not_expired");
    assert_eq!(c.status, CheckStatus::Failed);
    assert_eq!(c.reasons, vec!["document_expired"]);
    assert_eq!(o.status, VerificationStatus::Failed);
}

#[test]
fn blurred_glary_and_greyscale_backs_require_retry() {
    let cfg = Config::default();
    let f = LicenceFields::default();
    for (v, reason) in [
        (Variant::Blurred, "image_blurry"),
        (Variant::Glare, "image_glare"),
        (Variant::Greyscale, "greyscale_image"),
    ] {
        let o = idv(&[jpeg(&f, v)], &ctx(&cfg));
        assert_eq!(o.status, VerificationStatus::RequiresRetry, "{v:?}");
        assert!(
            check(&o, "image_quality").reasons.contains(&reason),
            "{v:?}"
        );
    }
}

#[test]
fn under_age_and_iin_mismatch_fail() {
    let cfg = Config::default();
    let young = LicenceFields {
        birth_date: date!(2010 - 01 - 01),
        jurisdiction: "MD".into(),
        ..LicenceFields::default()
    };
    let o = idv(&[jpeg(&young, Variant::Clean)], &ctx(&cfg));
    assert_eq!(check(&o, "minimum_age").reasons, vec!["under_minimum_age"]);
    assert_eq!(
        check(&o, "barcode_valid").reasons,
        vec!["iin_jurisdiction_mismatch"]
    );
    assert_eq!(o.status, VerificationStatus::Failed);
}

#[test]
fn duplicate_evidence_fails_the_duplicate_check() {
    let cfg = Config::default();
    let mut c = ctx(&cfg);
    let ext = extract_idv(&[jpeg(&LicenceFields::default(), Variant::Clean)], &cfg);
    let fp = document_fingerprint(b"tenant-secret", &ext).expect("fingerprint");
    assert_eq!(document_fingerprint(b"tenant-secret", &ext), Some(fp));
    assert_ne!(document_fingerprint(b"other-secret", &ext), Some(fp));
    c.duplicate = DuplicateEvidence::SeenElsewhere { count: 2 };
    let o = evaluate_idv(&ext, &c);
    let d = check(&o, "duplicate_document");
    assert_eq!(d.status, CheckStatus::Failed);
    assert_eq!(d.reasons, vec!["document_seen_in_other_sessions"]);
    // Not required by default: reported, not decisive.
    assert_eq!(d.requirement, Requirement::NotRequired);
    assert_eq!(o.status, VerificationStatus::Passed);
    // A tenant that forbids duplicates makes it decisive.
    let strict: Config =
        serde_json::from_str(r#"{"requirements": {"duplicate_document": "required"}}"#).unwrap();
    let mut c2 = ctx(&strict);
    c2.duplicate = DuplicateEvidence::SeenElsewhere { count: 1 };
    assert_eq!(evaluate_idv(&ext, &c2).status, VerificationStatus::Failed);
}

#[test]
fn mrz_text_passport_against_session_and_country_list() {
    let cfg: Config =
        serde_json::from_str(r#"{"allowed_countries": ["DE", "FR"], "min_age": 21}"#).unwrap();
    let text = fixtures::mrz_td3(&MrzFields::default());
    let file = InputFile {
        bytes: text.into_bytes(),
        content_type: "text/plain".into(),
        side: None,
    };
    let c = Context {
        evaluated_on: ON,
        declared_type: Some(DocumentType::Passport),
        declared_country: Some("DEU".into()),
        session: Some(SessionData {
            name: Some(PersonName {
                first: Some("Anna".into()),
                middle: Some("María".into()),
                last: Some("Eriksson".into()),
            }),
            birth_date: Some(date!(1974 - 08 - 12)),
            address: None,
        }),
        duplicate: DuplicateEvidence::NotChecked,
        config: &cfg,
    };
    let o = idv(&[file], &c);
    assert_eq!(o.status, VerificationStatus::Passed, "{:#?}", o.checks);
    assert_eq!(check(&o, "mrz_valid").status, CheckStatus::Passed);
    assert_eq!(check(&o, "country_allowed").status, CheckStatus::Passed);
    assert_eq!(
        check(&o, "image_quality").status,
        CheckStatus::NotApplicable
    );
    assert_eq!(
        check(&o, "duplicate_document").status,
        CheckStatus::NotApplicable
    );
    let json = serde_json::to_value(&o.extracted).unwrap();
    assert_eq!(json["person"]["nationality"], "DE");
    assert_eq!(json["document"]["issuing_country_code"], "DE");
    assert_eq!(json["document"]["type"], "passport");
    assert_eq!(json["address"], serde_json::Value::Null);

    // Declared as a US licence: the sources disagree.
    let c2 = Context {
        declared_type: Some(DocumentType::DrivingLicense),
        declared_country: Some("US".into()),
        ..c.clone()
    };
    let file = InputFile {
        bytes: fixtures::mrz_td3(&MrzFields::default()).into_bytes(),
        content_type: "text/plain".into(),
        side: None,
    };
    let o = idv(&[file], &c2);
    assert_eq!(
        check(&o, "data_consistency").reasons,
        vec!["document_type_mismatch", "issuing_country_mismatch"]
    );
}

#[test]
fn bad_inputs_give_outcomes_not_errors() {
    let cfg = Config::default();
    let c = ctx(&cfg);
    let f = LicenceFields::default();
    let cases: Vec<(Vec<u8>, &str, &str, VerificationStatus)> = vec![
        (
            vec![],
            "image/jpeg",
            "empty_file",
            VerificationStatus::RequiresRetry,
        ),
        (
            vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
            "image/jpeg",
            "corrupt_image",
            VerificationStatus::RequiresRetry,
        ),
        (
            b"P<UTOERIKSSON<<ANNA".to_vec(),
            "text/plain",
            "mrz_wrong_line_count",
            VerificationStatus::Failed,
        ),
    ];
    for (bytes, ct, reason, status) in cases {
        let o = idv(
            &[InputFile {
                bytes,
                content_type: ct.into(),
                side: None,
            }],
            &c,
        );
        assert_eq!(o.status, status, "{reason}");
        assert!(
            o.checks.iter().any(|c| c.reasons.contains(&reason)),
            "{reason}: {:#?}",
            o.checks
        );
    }
    // No files at all.
    assert_eq!(idv(&[], &c).status, VerificationStatus::RequiresRetry);
    // A barcode whose directory lies: decoded, but barcode_valid fails.
    let payload = fixtures::corrupt_payload(
        &fixtures::aamva_payload(&f),
        fixtures::Corruption::WrongLength,
    );
    let text = InputFile {
        bytes: payload.into_bytes(),
        content_type: "text/plain".into(),
        side: None,
    };
    let ext = extract_idv(&[text], &cfg);
    assert!(ext.barcode.is_none());
}

#[test]
fn corrupted_barcode_image_fails_barcode_valid() {
    // Render a card whose payload has a wrong directory length: the image reads fine, the
    // structure does not.
    let f = LicenceFields::default();
    let bad = fixtures::corrupt_payload(
        &fixtures::aamva_payload(&f),
        fixtures::Corruption::WrongOffset,
    );
    let matrix = fixtures::pdf417_matrix(&bad).unwrap();
    let scale = 4u32;
    let w = matrix[0].len() as u32 * scale + 80;
    let h = matrix.len() as u32 * scale + 80;
    let img = image::GrayImage::from_fn(w.max(700), h.max(700), |x, y| {
        let (mx, my) = (
            x.checked_sub(40).map(|v| v / scale),
            y.checked_sub(40).map(|v| v / scale),
        );
        let dark = match (mx, my) {
            (Some(mx), Some(my)) => matrix
                .get(my as usize)
                .and_then(|r| r.get(mx as usize))
                .copied()
                .unwrap_or(false),
            _ => false,
        };
        image::Luma([if dark { 20 } else { 230 }])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(img)
        .to_rgb8()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let cfg = Config {
        image: ImageLimits {
            greyscale_fraction: 1.1,
            ..ImageLimits::default()
        },
        ..Config::default()
    };
    let o = idv(
        &[InputFile {
            bytes: png,
            content_type: "image/png".into(),
            side: None,
        }],
        &ctx(&cfg),
    );
    assert_eq!(
        check(&o, "document_detected").status,
        CheckStatus::Passed,
        "{:#?}",
        o.checks
    );
    assert_eq!(
        check(&o, "barcode_valid").reasons,
        vec!["aamva_subfile_type_mismatch"]
    );
    assert_eq!(o.status, VerificationStatus::Failed);
}

#[test]
fn determinism_same_input_same_json() {
    let cfg = Config::default();
    let files = [jpeg(&LicenceFields::default(), Variant::Clean)];
    let a = serde_json::to_string(&idv(&files, &ctx(&cfg))).unwrap();
    let b = serde_json::to_string(&idv(&files, &ctx(&cfg))).unwrap();
    assert_eq!(a, b);
    let bill = fixtures::address_pdf(&fixtures::default_bill(date!(2025 - 05 - 02)));
    let file = [InputFile {
        bytes: bill,
        content_type: "application/pdf".into(),
        side: None,
    }];
    let actx = AddressContext {
        evaluated_on: ON,
        session: None,
        config: &cfg,
    };
    let a = serde_json::to_string(&evaluate_address(&extract_address(&file, &cfg), &actx)).unwrap();
    let b = serde_json::to_string(&evaluate_address(&extract_address(&file, &cfg), &actx)).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        fixtures::licence_back_jpeg(&LicenceFields::default(), Variant::Noisy),
        fixtures::licence_back_jpeg(&LicenceFields::default(), Variant::Noisy)
    );
}

fn address_session() -> SessionData {
    SessionData {
        name: Some(PersonName {
            first: Some("Michael".into()),
            middle: None,
            last: Some("Sample".into()),
        }),
        birth_date: None,
        address: Some(Address {
            line1: Some("2300 West Broad Street".into()),
            line2: Some("Apt 4".into()),
            city: Some("Richmond".into()),
            subdivision: Some("VA".into()),
            postal_code: Some("23269-0000".into()),
            country_code: Some("US".into()),
        }),
    }
}

fn address(bill: &fixtures::BillFields, session: Option<SessionData>) -> Outcome {
    let cfg = Config::default();
    let file = [InputFile {
        bytes: fixtures::address_pdf(bill),
        content_type: "application/pdf".into(),
        side: None,
    }];
    let ctx = AddressContext {
        evaluated_on: ON,
        session,
        config: &cfg,
    };
    evaluate_address(&extract_address(&file, &cfg), &ctx)
}

#[test]
fn recent_matching_bill_passes() {
    let o = address(
        &fixtures::default_bill(date!(2025 - 05 - 02)),
        Some(address_session()),
    );
    assert_eq!(o.status, VerificationStatus::Passed, "{:#?}", o.checks);
    let json = serde_json::to_value(&o.extracted).unwrap();
    assert_eq!(json["name"], "Michael J. Sample");
    assert_eq!(json["issue_date"], "2025-05-02");
    assert_eq!(json["issuer"], "Dominion Energy");
    assert_eq!(json["address"]["postal_code"], "23269");
    assert_eq!(json["address"]["country_code"], "US");
    assert_eq!(
        check(&o, "document_readable").metadata["document_type"],
        "utility_bill"
    );
}

#[test]
fn stale_or_foreign_bill_fails() {
    let o = address(
        &fixtures::default_bill(date!(2024 - 12 - 01)),
        Some(address_session()),
    );
    assert_eq!(
        check(&o, "document_recent").reasons,
        vec!["document_too_old"]
    );
    assert_eq!(o.status, VerificationStatus::Failed);

    let mut other = fixtures::default_bill(date!(2025 - 05 - 20));
    other.kind = AddressDocumentType::BankStatement;
    other.issuer = "First Example Bank".into();
    other.name = "Jane Doe".into();
    other.line1 = "12 Elm Road".into();
    other.line2 = None;
    other.city = "Springfield".into();
    other.subdivision = "IL".into();
    other.postal_code = "62701".into();
    let o = address(&other, Some(address_session()));
    assert_eq!(check(&o, "name_comparison").status, CheckStatus::Failed);
    assert!(check(&o, "address_comparison")
        .reasons
        .contains(&"postal_code_mismatch"));
    assert_eq!(
        check(&o, "document_readable").metadata["document_type"],
        "bank_statement"
    );
    assert_eq!(o.status, VerificationStatus::Failed);

    // Without session data the comparisons cannot run.
    let o = address(&fixtures::default_bill(date!(2025 - 05 - 02)), None);
    assert_eq!(
        check(&o, "name_comparison").status,
        CheckStatus::NotApplicable
    );
    assert_eq!(
        check(&o, "address_comparison").status,
        CheckStatus::NotApplicable
    );
    assert_eq!(o.status, VerificationStatus::Passed);
}

#[test]
fn unreadable_address_documents_require_retry() {
    let cfg = Config::default();
    let ctx = AddressContext {
        evaluated_on: ON,
        session: None,
        config: &cfg,
    };
    for bytes in [
        vec![],
        b"%PDF-1.7\n1 0 obj <<".to_vec(),
        fixtures::text_pdf(&[]),
    ] {
        let file = [InputFile {
            bytes,
            content_type: "application/pdf".into(),
            side: None,
        }];
        let o = evaluate_address(&extract_address(&file, &cfg), &ctx);
        assert_eq!(o.status, VerificationStatus::RequiresRetry);
        assert_eq!(
            check(&o, "document_recent").status,
            CheckStatus::NotApplicable
        );
    }
}

#[test]
fn typed_mrz_declared_as_an_image_is_not_read() {
    let cfg = Config::default();
    let c = Context {
        declared_type: Some(DocumentType::Passport),
        declared_country: None,
        ..ctx(&cfg)
    };
    let typed = fixtures::mrz_td3(&MrzFields::default()).into_bytes();
    for ct in [
        "image/jpeg",
        "image/png",
        "application/pdf",
        "",
        "application/octet-stream",
    ] {
        let o = idv(
            &[InputFile {
                bytes: typed.clone(),
                content_type: ct.into(),
                side: None,
            }],
            &c,
        );
        assert_eq!(o.status, VerificationStatus::RequiresRetry, "{ct}");
        assert_eq!(
            check(&o, "mrz_valid").status,
            CheckStatus::NotApplicable,
            "{ct}"
        );
        let x = serde_json::to_value(&o.extracted).unwrap();
        assert_eq!(x["document"]["type"], serde_json::Value::Null, "{ct}");
    }
    // A photo declared as a PNG is not used either.
    let o = idv(
        &[InputFile {
            content_type: "image/png".into(),
            ..jpeg(&LicenceFields::default(), Variant::Clean)
        }],
        &ctx(&cfg),
    );
    assert_eq!(
        check(&o, "image_quality").reasons,
        vec!["content_type_mismatch"]
    );
    assert_eq!(o.status, VerificationStatus::RequiresRetry);
}

#[test]
fn decoded_pixels_are_budgeted_per_verification() {
    let licence = jpeg(&LicenceFields::default(), Variant::Clean);
    let size = image_quality::inspect(&licence.bytes, &ImageLimits::default())
        .expect("decodes")
        .report;
    let per_file = u64::from(size.width) * u64::from(size.height);
    let mut cfg = Config::default();
    cfg.image.max_total_pixels = per_file * 2;
    let files = vec![licence.clone(), licence.clone(), licence];
    let ext = extract_idv(&files, &cfg);
    let errors: Vec<_> = ext.files.iter().map(|f| f.error).collect();
    assert_eq!(errors, [None, None, Some("pixel_budget_exceeded")]);
    assert!(ext.files[2].quality.is_none(), "the third is not decoded");
    assert!(ext.barcode.is_some(), "the first files are still read");
    let o = evaluate_idv(&ext, &ctx(&cfg));
    assert_eq!(o.status, VerificationStatus::RequiresRetry);
    assert!(check(&o, "image_quality")
        .reasons
        .contains(&"pixel_budget_exceeded"));
    // The default budget holds four 12-megapixel phone photos.
    assert!(Config::default().image.max_total_pixels >= 4 * 4032 * 3024);
}

#[test]
fn exif_orientation_is_applied_to_the_copies_the_checks_use() {
    let png = fixtures::png_with_orientation(&fixtures::png_of_size(900, 700, false, 1), 6);
    let upright = image_quality::inspect(&png, &ImageLimits::default()).expect("decodes");
    assert_eq!(
        (upright.report.width, upright.report.height),
        (700, 900),
        "rotated a quarter turn"
    );
    assert_eq!(upright.gray.dimensions(), (700, 900));
}
