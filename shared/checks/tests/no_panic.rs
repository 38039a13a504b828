//! Property tests: random and mutated bytes through every public entry point must never
//! panic (releases abort on panic, which would turn bad input into a 5xx).

use idv_checks::fixtures::{self, LicenceFields, MrzFields};
use idv_checks::*;
use proptest::prelude::*;
use std::sync::OnceLock;
use time::macros::date;

fn mutate(base: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut b = base.to_vec();
    for (i, v) in edits {
        if !b.is_empty() {
            let n = b.len();
            b[i % n] = *v;
        }
    }
    if let Some(c) = cut {
        let n = b.len();
        b.truncate(c % (n + 1));
    }
    b
}

fn small_png() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(|| {
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    })
}

fn small_jpeg() -> &'static [u8] {
    static JPG: OnceLock<Vec<u8>> = OnceLock::new();
    JPG.get_or_init(|| {
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(
                &mut std::io::Cursor::new(&mut out),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        out
    })
}

fn bill() -> &'static [u8] {
    static PDF: OnceLock<Vec<u8>> = OnceLock::new();
    PDF.get_or_init(|| fixtures::address_pdf(&fixtures::default_bill(date!(2025 - 05 - 02))))
}

fn run_everything(bytes: Vec<u8>, content_type: &str) {
    let cfg = Config::default();
    let file = [InputFile {
        bytes,
        content_type: content_type.into(),
        side: None,
    }];
    let ext = extract_idv(&file, &cfg);
    let _ = document_fingerprint(b"k", &ext);
    let ctx = Context {
        evaluated_on: date!(2025 - 06 - 01),
        declared_type: None,
        declared_country: Some("??".into()),
        session: Some(SessionData::default()),
        duplicate: DuplicateEvidence::NotChecked,
        config: &cfg,
    };
    let o = evaluate_idv(&ext, &ctx);
    serde_json::to_string(&o).unwrap();
    let a = extract_address(&file, &cfg);
    let actx = AddressContext {
        evaluated_on: date!(2025 - 06 - 01),
        session: None,
        config: &cfg,
    };
    serde_json::to_string(&evaluate_address(&a, &actx)).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mrz_parser_never_panics(s in "[A-Z0-9<\\n\\r a-z]{0,140}") {
        let _ = mrz::parse(&s, date!(2025 - 06 - 01));
        let _ = mrz::find_in_text(&s, date!(2025 - 06 - 01));
    }

    #[test]
    fn mrz_mutations_never_panic(edits in prop::collection::vec((0usize..200, prop::sample::select(b"<0OI1B8S5AZ\n".to_vec())), 0..8)) {
        for text in [
            fixtures::mrz_td3(&MrzFields::default()),
            fixtures::mrz_td1(&MrzFields { number: "D23145890734".into(), ..MrzFields::default() }),
        ] {
            let t = mutate(text.as_bytes(), &edits, None);
            let _ = mrz::parse(&String::from_utf8_lossy(&t), date!(2025 - 06 - 01));
        }
    }

    #[test]
    fn aamva_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = aamva::parse(&bytes);
        let _ = aamva::parse_str(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn aamva_mutations_never_panic(edits in prop::collection::vec((0usize..400, any::<u8>()), 0..6), cut in prop::option::of(0usize..400)) {
        let p = fixtures::aamva_payload(&LicenceFields::default());
        let b = mutate(p.as_bytes(), &edits, cut);
        let _ = aamva::parse(&b);
    }

    #[test]
    fn pdf_parser_never_panics(edits in prop::collection::vec((0usize..4000, any::<u8>()), 0..10), cut in prop::option::of(0usize..4000)) {
        let b = mutate(bill(), &edits, cut);
        let _ = pdf_text::extract_lines(&b);
        let _ = address_doc::read(&b);
    }

    #[test]
    fn random_bytes_through_every_entry_point(bytes in prop::collection::vec(any::<u8>(), 0..600), ct in prop::sample::select(vec!["image/jpeg", "image/png", "application/pdf", "text/plain"])) {
        run_everything(bytes, ct);
    }

    #[test]
    fn mutated_images_and_pdfs_through_every_entry_point(which in 0u8..3, edits in prop::collection::vec((0usize..6000, any::<u8>()), 1..12), cut in prop::option::of(0usize..6000)) {
        let base = match which { 0 => small_png(), 1 => small_jpeg(), _ => bill() };
        run_everything(mutate(base, &edits, cut), "application/octet-stream");
    }
}

#[test]
fn random_images_fed_to_the_barcode_reader() {
    // Noise, stripes and blocks: rxing must not panic on any of them.
    let mut rng = fixtures::Prng::new(1);
    for i in 0..24u32 {
        let (w, h) = (40 + rng.below(300) as u32, 40 + rng.below(300) as u32);
        let img = image::GrayImage::from_fn(w, h, |x, y| {
            let v = match i % 4 {
                0 => rng.below(256) as u8,
                1 => {
                    if (x / (1 + i % 7)) % 2 == 0 {
                        0
                    } else {
                        255
                    }
                }
                2 => {
                    if ((x / 9) + (y / 3)) % 2 == 0 {
                        10
                    } else {
                        240
                    }
                }
                _ => ((x * y + i) % 251) as u8,
            };
            image::Luma([v])
        });
        let _ = barcode::read_pdf417(&img);
    }
}

#[test]
fn decompression_bomb_png_is_refused_from_its_header() {
    // A real 20000x20000 PNG of one colour compresses to ~1 MB; we build its header only
    // plus a tiny IDAT, which is what an attacker would send.
    let mut png = small_png().to_vec();
    png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
    let crc = {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in &png[12..29] {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    };
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let cfg = Config::default();
    let ext = extract_idv(
        &[InputFile {
            bytes: png,
            content_type: "image/png".into(),
            side: None,
        }],
        &cfg,
    );
    assert_eq!(ext.files[0].error, Some("image_too_large"));
}

#[test]
fn damaged_pdf417_symbols_never_panic_the_reader() {
    // Real symbols with flipped modules drive rxing's error correction and codeword
    // parsing through corrupt data.
    let payload = fixtures::aamva_payload(&LicenceFields::default());
    let matrix = fixtures::pdf417_matrix(&payload).expect("symbol");
    let mut rng = fixtures::Prng::new(99);
    for round in 0..12u64 {
        let mut m = matrix.clone();
        let flips = 20 + rng.below(60 * (round + 1));
        for _ in 0..flips {
            let y = rng.below(m.len() as u64) as usize;
            let x = rng.below(m[0].len() as u64) as usize;
            m[y][x] = !m[y][x];
        }
        let scale = 2u32;
        let (w, h) = (m[0].len() as u32 * scale + 40, m.len() as u32 * scale + 40);
        let img = image::GrayImage::from_fn(w, h, |x, y| {
            let (mx, my) = (
                (x.saturating_sub(20)) / scale,
                (y.saturating_sub(20)) / scale,
            );
            let dark = x >= 20
                && y >= 20
                && m.get(my as usize)
                    .and_then(|r| r.get(mx as usize))
                    .copied()
                    .unwrap_or(false);
            image::Luma([if dark { 0 } else { 255 }])
        });
        if let Some(read) = barcode::read_pdf417(&img) {
            let _ = aamva::parse_str(&read.text);
        }
    }
}
