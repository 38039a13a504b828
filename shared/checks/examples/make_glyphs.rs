//! Makes the committed glyph templates of the MRZ reader
//! (`src/ocr/ocrb_templates.bin`, format in `src/ocr/glyphs.rs`).
//!
//! Source: Debian's `fonts-ocr-b` (public domain: Matthew Skala's OCR-B, from Norbert
//! Schwarz's metafont sources; see `/usr/share/doc/fonts-ocr-b/copyright`). Only the cuts
//! OCRB.otf (regular) and OCRBS.otf (sharp) feed the reader; OCRBL and OCRBX are held out
//! for measuring it and are refused here. Each glyph of `0-9 A-Z <` is rasterised with
//! `ab_glyph` at a large size, brought to the reader's normalisation (cap height over
//! `TH - 2*MY` rows, ink box centred, equal scales) by area averaging, and stored at three
//! blurs (σ = 0, 1, 2 template pixels) so soft photos still correlate. Blur is not
//! thinning or bleeding: stroke weight is left as the font draws it.
//!
//! `cargo run -p idv-checks --example make_glyphs --features fixtures -- \
//!   /usr/share/fonts/opentype/ocr-b shared/checks/src/ocr/ocrb_templates.bin`

use ab_glyph::{point, Font, FontRef, PxScale};
use idv_checks::ocr::glyphs::{ALPHABET, MAGIC, MY, TH, TW};

const CUTS: [&str; 2] = ["OCRB.otf", "OCRBS.otf"];
const HELD_OUT: [&str; 2] = ["OCRBL.otf", "OCRBX.otf"];
const BLURS: [f32; 3] = [0.0, 1.0, 2.0];
/// Render size: the cap height is about this many pixels.
const SCALE: f32 = 200.0;
const CW: usize = 400;
const CH: usize = 400;
const OX: f32 = 100.0;
const OY: f32 = 300.0;

fn raster(font: &FontRef, ch: char) -> Vec<f32> {
    let mut canvas = vec![0f32; CW * CH];
    let g = font
        .glyph_id(ch)
        .with_scale_and_position(PxScale::from(SCALE), point(OX, OY));
    if let Some(o) = font.outline_glyph(g) {
        let b = o.px_bounds();
        o.draw(|x, y, c| {
            let px = b.min.x as i64 + i64::from(x);
            let py = b.min.y as i64 + i64::from(y);
            if (0..CW as i64).contains(&px) && (0..CH as i64).contains(&py) {
                canvas[py as usize * CW + px as usize] = c.clamp(0.0, 1.0);
            }
        });
    }
    canvas
}

/// Rows and columns holding ink: (x0, x1, y0, y1), inclusive-exclusive.
fn ink_box(c: &[f32]) -> (usize, usize, usize, usize) {
    let (mut x0, mut x1, mut y0, mut y1) = (CW, 0, CH, 0);
    for y in 0..CH {
        for x in 0..CW {
            if c[y * CW + x] >= 0.5 {
                x0 = x0.min(x);
                x1 = x1.max(x + 1);
                y0 = y0.min(y);
                y1 = y1.max(y + 1);
            }
        }
    }
    (x0, x1, y0, y1)
}

fn blur(v: &[f32], sigma: f32) -> Vec<f32> {
    if sigma <= 0.0 {
        return v.to_vec();
    }
    let r = (3.0 * sigma).ceil() as i64;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let ks: f32 = k.iter().sum();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0f32; TW * TH];
        for y in 0..TH as i64 {
            for x in 0..TW as i64 {
                let mut s = 0.0;
                for (j, w) in k.iter().enumerate() {
                    let d = j as i64 - r;
                    let (sx, sy) = if horizontal { (x + d, y) } else { (x, y + d) };
                    if (0..TW as i64).contains(&sx) && (0..TH as i64).contains(&sy) {
                        s += w * src[sy as usize * TW + sx as usize];
                    }
                }
                out[y as usize * TW + x as usize] = s / ks;
            }
        }
        out
    };
    pass(&pass(v, true), false)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: make_glyphs <fonts-ocr-b dir> <out.bin>");
        std::process::exit(2);
    };
    let mut file = MAGIC.to_vec();
    file.push(TW as u8);
    file.push(TH as u8);
    let mut records: Vec<u8> = Vec::new();
    let mut count: u16 = 0;
    for (ci, cut) in CUTS.iter().enumerate() {
        assert!(!HELD_OUT.contains(cut), "held-out cut");
        let bytes = std::fs::read(format!("{dir}/{cut}")).expect("read font");
        let font = FontRef::try_from_slice(&bytes).expect("parse font");
        // Cap height from 'H': its ink top and the baseline.
        let h = raster(&font, 'H');
        let (_, _, cap_top, baseline) = ink_box(&h);
        let cap = (baseline - cap_top) as f32;
        let k = cap / (TH - 2 * MY) as f32;
        for &ch in ALPHABET.iter() {
            let c = raster(&font, ch as char);
            let (x0, x1, _, _) = ink_box(&c);
            let cx = (x0 + x1) as f32 / 2.0;
            // Area average of the canvas over each template pixel's footprint.
            let mut t = vec![0f32; TW * TH];
            for ty in 0..TH {
                for tx in 0..TW {
                    let sy0 = cap_top as f32 + (ty as f32 - MY as f32) * k;
                    let sx0 = cx + (tx as f32 - TW as f32 / 2.0) * k;
                    let (mut s, mut n) = (0.0, 0.0);
                    let steps = 8;
                    for j in 0..steps {
                        for i in 0..steps {
                            let sx = (sx0 + (i as f32 + 0.5) * k / steps as f32) as i64;
                            let sy = (sy0 + (j as f32 + 0.5) * k / steps as f32) as i64;
                            if (0..CW as i64).contains(&sx) && (0..CH as i64).contains(&sy) {
                                s += c[sy as usize * CW + sx as usize];
                            }
                            n += 1.0;
                        }
                    }
                    t[ty * TW + tx] = s / n;
                }
            }
            for (bi, sigma) in BLURS.iter().enumerate() {
                let b = blur(&t, *sigma);
                records.push(ch);
                records.push((ci * BLURS.len() + bi) as u8);
                records.extend(b.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8));
                count += 1;
            }
        }
    }
    file.extend_from_slice(&count.to_le_bytes());
    file.extend_from_slice(&records);
    std::fs::write(out, &file).expect("write templates");
    eprintln!("wrote {count} templates to {out}");
}
