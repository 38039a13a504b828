//! Reader tests on pages rendered here from the committed templates (upright, rotated,
//! skewed, noisy), before and besides the fixtures generator's photos.

use image::GrayImage;

use super::glyphs::{MAGIC, MY, TH, TW};
use super::*;

/// Raw OCRB σ=0 templates by character.
fn raw_glyph(ch: char) -> Vec<f32> {
    let d = include_bytes!("ocrb_templates.bin");
    let mut off = MAGIC.len() + 4;
    while off + 2 + TW * TH <= d.len() {
        if d[off] == ch as u8 && d[off + 1] == 0 {
            return d[off + 2..off + 2 + TW * TH]
                .iter()
                .map(|v| f32::from(*v) / 255.0)
                .collect();
        }
        off += 2 + TW * TH;
    }
    panic!("no glyph {ch}");
}

/// Deterministic noise.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// Renders `text` (lines) with cap height `cap` on a `w`×`h` page, rotated by `deg`
/// (counter-clockwise) about the page centre, with noise of amplitude `noise`.
pub(crate) fn render(
    text: &str,
    w: u32,
    h: u32,
    cap: f32,
    deg: f32,
    noise: f32,
    seed: u64,
) -> GrayImage {
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let glyphs: std::collections::BTreeMap<char, Vec<f32>> =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"
            .chars()
            .map(|c| (c, raw_glyph(c)))
            .collect();
    let pitch = cap * 2.54 / 2.42;
    let lead = cap * 1.75;
    let n = lines.first().map_or(0, |l| l.len()) as f32;
    let (x0, y0) = (w as f32 / 2.0 - n * pitch / 2.0, h as f32 * 0.6);
    let k = cap / (TH - 2 * MY) as f32;
    let (c, s) = (deg.to_radians().cos(), deg.to_radians().sin());
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let mut rng = Lcg(seed);
    GrayImage::from_fn(w, h, |x, y| {
        // Inverse rotation: page coordinates of this pixel.
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let px = cx + c * dx - s * dy;
        let py = cy + s * dx + c * dy;
        let mut paper = 215.0 + 25.0 * ((px / 37.0).sin() * (py / 53.0).cos());
        // A line's cell starts MY template rows above its cap line (digits stand taller).
        let li = ((py - y0 + MY as f32 * k) / lead).floor();
        if li >= 0.0 && (li as usize) < lines.len() {
            let ci = ((px - x0) / pitch).floor();
            if ci >= 0.0 && (ci as usize) < lines[li as usize].len() {
                let ch = lines[li as usize][ci as usize];
                let gx = (px - (x0 + (ci + 0.5) * pitch)) / k + TW as f32 / 2.0;
                let gy = (py - (y0 + li * lead)) / k + MY as f32;
                if gx >= 0.0 && gy >= 0.0 && (gx as usize) < TW && (gy as usize) < TH {
                    let g = &glyphs[&ch];
                    let at = |x: usize, y: usize| g[y.min(TH - 1) * TW + x.min(TW - 1)];
                    let (ix, iy) = (gx as usize, gy as usize);
                    let (fx, fy) = (gx.fract(), gy.fract());
                    let v = (at(ix, iy) * (1.0 - fx) + at(ix + 1, iy) * fx) * (1.0 - fy)
                        + (at(ix, iy + 1) * (1.0 - fx) + at(ix + 1, iy + 1) * fx) * fy;
                    paper = paper * (1.0 - v) + 30.0 * v;
                }
            }
        }
        let v = paper + noise * (rng.next() - 0.5) * 2.0;
        image::Luma([v.clamp(0.0, 255.0) as u8])
    })
}

const TD3: &str =
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
const TD1: &str = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";
const TD2: &str = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6";

#[test]
fn reads_upright_td3() {
    let img = render(TD3, 1400, 900, 24.0, 0.0, 10.0, 1);
    let r = read_mrz(&img).expect("read");
    assert_eq!(r.text(), TD3);
    assert_eq!(r.format, MrzFormat::Td3);
    assert_eq!(r.quarter_turns, 0);
}

#[test]
fn reads_rotated_and_skewed() {
    for (i, (text, deg)) in [
        (TD3, 180.0),
        (TD1, 90.0),
        (TD2, 277.0),
        (TD3, 8.5),
        (TD1, 352.0),
        (TD3, 263.0),
    ]
    .iter()
    .enumerate()
    {
        let img = render(text, 1300, 1300, 22.0, *deg, 16.0, i as u64);
        let r = read_mrz(&img).unwrap_or_else(|e| panic!("{deg}: {e}"));
        assert_eq!(r.text(), *text, "at {deg}°");
        let diff = (r.rotation_degrees - deg).rem_euclid(360.0);
        assert!(
            diff.min(360.0 - diff) < 2.0,
            "{deg} vs {}",
            r.rotation_degrees
        );
    }
}

#[test]
fn blank_and_tiny_images_are_typed_errors() {
    assert_eq!(
        read_mrz(&GrayImage::new(10, 10)).unwrap_err().code(),
        "mrz_image_too_small"
    );
    let flat = GrayImage::from_pixel(800, 600, image::Luma([200]));
    assert_eq!(read_mrz(&flat).unwrap_err().code(), "mrz_not_found");
}

/// PNG bytes of a greyscale image.
fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageLuma8(img.clone())
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// Random pixels, or random dark bars on paper (text-like rows that exercise the locator),
/// read directly and through the whole engine.
mod random_images {
    use super::*;
    use crate::types::InputFile;
    use crate::{evaluate_idv, extract_idv, Config, Context, DuplicateEvidence};
    use proptest::prelude::*;

    fn verdict(img: &GrayImage) -> crate::VerificationStatus {
        let cfg = Config::default();
        let files = vec![InputFile {
            content_type: "image/png".into(),
            bytes: png(img),
            side: None,
        }];
        let ctx = Context {
            evaluated_on: time::macros::date!(2026 - 06 - 01),
            declared_type: None,
            declared_country: None,
            session: None,
            duplicate: DuplicateEvidence::NotChecked,
            config: &cfg,
        };
        evaluate_idv(&extract_idv(&files, &cfg), &ctx).status
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn noise_never_panics_and_never_passes(
            w in 1u32..160, h in 1u32..160, seed in any::<u64>()
        ) {
            let mut rng = Lcg(seed);
            let img = GrayImage::from_fn(w, h, |_, _| image::Luma([(rng.next() * 255.0) as u8]));
            let _ = read_mrz(&img);
            prop_assert_ne!(verdict(&img), crate::VerificationStatus::Passed);
        }

        #[test]
        fn bars_never_panic_and_never_pass(
            rows in 1usize..4, cols in 5usize..50, cap in 6f32..30.0, seed in any::<u64>(), deg in 0f32..360.0
        ) {
            let mut rng = Lcg(seed);
            // Random glyph-sized blocks laid out like an MRZ, rotated: a band the locator
            // finds but whose characters are nonsense.
            let text: String = (0..rows)
                .map(|_| (0..cols).map(|_| if rng.next() < 0.5 { 'I' } else { '<' }).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n");
            let img = render(&text, 400, 300, cap, deg, 30.0, seed);
            let _ = read_mrz(&img);
            prop_assert_ne!(verdict(&img), crate::VerificationStatus::Passed);
        }
    }
}

/// The engine on the fixtures generator's photos (feature `fixtures`): the cases.
#[cfg(feature = "fixtures")]
mod engine_photos {
    use crate::fixtures::mrz_photo::{
        id_card_back_jpeg, id_card_front_jpeg, passport_photo_jpeg, rotate180, CheckField,
        MrzTruth, Scene, EVALUATED_ON,
    };
    use crate::types::{InputFile, PersonName, Side};
    use crate::{
        evaluate_idv, extract_idv, CheckStatus, Config, Context, DuplicateEvidence, Outcome,
        SessionData, VerificationStatus,
    };
    use time::macros::date;

    fn jpeg(bytes: Vec<u8>, side: Option<Side>) -> InputFile {
        InputFile {
            bytes,
            content_type: "image/jpeg".into(),
            side,
        }
    }

    fn run(files: &[InputFile], session: Option<SessionData>) -> Outcome {
        let cfg = Config::default();
        let ctx = Context {
            evaluated_on: EVALUATED_ON,
            declared_type: None,
            declared_country: None,
            session,
            duplicate: DuplicateEvidence::NotChecked,
            config: &cfg,
        };
        evaluate_idv(&extract_idv(files, &cfg), &ctx)
    }

    fn check<'a>(o: &'a Outcome, name: &str) -> &'a crate::Check {
        o.checks.iter().find(|c| c.name == name).expect("check")
    }

    fn holder() -> MrzTruth {
        MrzTruth::passport()
            .with_name("ERIKSSON", "ANNA MARIA")
            .with_birth_date(date!(1974 - 08 - 12))
    }

    #[test]
    fn passport_photo_passes_and_matches_the_session() {
        let photo = passport_photo_jpeg(&holder(), &Scene::clean(3));
        let session = SessionData {
            name: Some(PersonName {
                first: Some("Anna".into()),
                middle: Some("Maria".into()),
                last: Some("Eriksson".into()),
            }),
            birth_date: Some(date!(1974 - 08 - 12)),
            address: None,
        };
        let o = run(&[jpeg(photo.clone(), None)], Some(session));
        assert_eq!(o.status, VerificationStatus::Passed, "{:#?}", o.checks);
        assert_eq!(check(&o, "session_comparison").status, CheckStatus::Passed);
        let m = &check(&o, "mrz_valid").metadata;
        assert_eq!(m["source"], "photo");
        assert_eq!(m["format"], "td3");
        assert_eq!(m["photo"]["lines_read"].as_array().map(Vec::len), Some(2));
        // Upside down: the same verdict.
        let o = run(&[jpeg(rotate180(&photo), None)], None);
        assert_eq!(o.status, VerificationStatus::Passed, "{:#?}", o.checks);
    }

    #[test]
    fn id_card_front_and_back_pass() {
        let t = MrzTruth::id_card();
        let scene = Scene::clean(5);
        let files = [
            jpeg(id_card_front_jpeg(&t, &scene), Some(Side::Front)),
            jpeg(id_card_back_jpeg(&t, &scene), Some(Side::Back)),
        ];
        let o = run(&files, None);
        assert_eq!(o.status, VerificationStatus::Passed, "{:#?}", o.checks);
        assert_eq!(check(&o, "mrz_valid").metadata["format"], "td1");
    }

    #[test]
    fn broken_check_digit_fails_mrz_valid() {
        let t = holder().with_broken(CheckField::BirthDate);
        let o = run(
            &[jpeg(passport_photo_jpeg(&t, &Scene::clean(7)), None)],
            None,
        );
        assert_eq!(o.status, VerificationStatus::Failed, "{:#?}", o.checks);
        let c = check(&o, "mrz_valid");
        assert_eq!(c.status, CheckStatus::Failed);
        assert!(c.reasons.contains(&"check_digit_failed"));
    }

    #[test]
    fn expired_passport_fails_document_not_expired() {
        let t = holder().with_expiry(date!(2024 - 01 - 31));
        let o = run(
            &[jpeg(passport_photo_jpeg(&t, &Scene::clean(9)), None)],
            None,
        );
        assert_eq!(o.status, VerificationStatus::Failed, "{:#?}", o.checks);
        assert_eq!(
            check(&o, "document_not_expired").status,
            CheckStatus::Failed
        );
    }

    #[test]
    fn heavily_blurred_photo_asks_for_a_retry() {
        let o = run(
            &[jpeg(
                passport_photo_jpeg(&holder(), &Scene::blurred(11)),
                None,
            )],
            None,
        );
        assert_eq!(
            o.status,
            VerificationStatus::RequiresRetry,
            "{:#?}",
            o.checks
        );
    }

    #[test]
    fn greyscale_photo_is_read_and_reported() {
        let scene = Scene {
            greyscale: true,
            ..Scene::clean(13)
        };
        let o = run(&[jpeg(passport_photo_jpeg(&holder(), &scene), None)], None);
        assert_eq!(o.status, VerificationStatus::Passed, "{:#?}", o.checks);
        let files = &check(&o, "image_quality").metadata["files"];
        assert_eq!(files[0]["mrz_band"]["greyscale"], true);
    }
}
