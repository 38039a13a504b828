//! Makes the glyph atlas the synthetic MRZ documents are *rendered* with
//! (`src/fixtures/mrz_photo/atlas/`): fixture-only data, never read by the reader.
//!
//! It reads all six cuts of Debian's public-domain OCR-B (`fonts-ocr-b`, Matthew Skala's
//! metafont sources): OCRB (regular), OCRBS (sharp), OCRBL (oblique), OCRBF (outline),
//! OCRBX (inverted) and OCRBE (inverted sharp), and rasterises the MRZ alphabet `0-9 A-Z <`
//! with `ab_glyph` at a cap height of [`CAP`] pixels into a greyscale sheet `<CUT>.png`
//! (ink = 255). The inverted cuts draw each glyph as a hole in a box; the script turns them
//! back into ink (so OCRBX is the regular design drawn from other outlines, OCRBE the sharp
//! one) and fills the outline cut OCRBF (a slightly bolder regular). Every glyph sits in one fixed-size cell with the pen origin at the same place, so a
//! renderer needs no per-glyph metrics (OCR-B is monospaced). The regular cut also gets
//! lower case and punctuation, which the generator distorts into visual-zone text.
//! `atlas.txt` records, per cut: cell size, origin, cap height, advance and the characters
//! in sheet order. Re-run after changing anything here:
//!
//! `cargo run -p idv-checks --example make_render_atlas --features fixtures -- \
//!   /usr/share/fonts/opentype/ocr-b shared/checks/src/fixtures/mrz_photo/atlas`

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use image::GrayImage;
use std::fmt::Write as _;

/// Cap height in pixels: large enough that the biggest MRZ the harness renders (≈ 50 px)
/// is a downscale, small enough to keep the sheets compact.
const CAP: f32 = 64.0;
/// Glyphs per sheet row.
const COLUMNS: usize = 16;
/// How a cut draws its glyphs.
#[derive(Clone, Copy, PartialEq)]
enum Style {
    Ink,
    /// A hole in a box: turned back into ink.
    Inverted,
    /// Only the contour: filled, which makes a slightly bolder regular.
    Outline,
}
const CUTS: [(&str, Style); 6] = [
    ("OCRB", Style::Ink),
    ("OCRBE", Style::Inverted),
    ("OCRBF", Style::Outline),
    ("OCRBL", Style::Ink),
    ("OCRBS", Style::Ink),
    ("OCRBX", Style::Inverted),
];
const MRZ: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";
const EXTRA: &str = "abcdefghijklmnopqrstuvwxyz/.,-'";
/// Scratch canvas per glyph, with the pen origin at (`OX`, `OY`).
const CW: usize = 256;
const CH: usize = 256;
const OX: f32 = 80.0;
const OY: f32 = 180.0;

/// Coverage (0–1) of `ch` on the scratch canvas, inverted cuts turned back into ink.
fn raster(font: &FontRef, ch: char, scale: PxScale, style: Style) -> Vec<f32> {
    let inverted = style == Style::Inverted;
    let mut canvas = vec![0f32; CW * CH];
    let g = font
        .glyph_id(ch)
        .with_scale_and_position(scale, point(OX, OY));
    let Some(o) = font.outline_glyph(g) else {
        return canvas;
    };
    let b = o.px_bounds();
    let (bx, by) = (b.min.x as i64, b.min.y as i64);
    let (bw, bh) = ((b.max.x - b.min.x) as i64, (b.max.y - b.min.y) as i64);
    o.draw(|x, y, c| {
        let (x, y) = (i64::from(x), i64::from(y));
        let v = if inverted {
            // Inside the box, away from its anti-aliased edge, the hole is the glyph.
            if x < 3 || y < 3 || x >= bw - 3 || y >= bh - 3 {
                0.0
            } else {
                1.0 - c.clamp(0.0, 1.0)
            }
        } else {
            c.clamp(0.0, 1.0)
        };
        let (px, py) = (bx + x, by + y);
        if (0..CW as i64).contains(&px) && (0..CH as i64).contains(&py) {
            canvas[py as usize * CW + px as usize] = v;
        }
    });
    if style == Style::Outline {
        fill_inside(&mut canvas);
    }
    canvas
}

/// Fills an outline glyph: a pixel is inside a stroke when the fewest contour lines
/// crossed on a way from the canvas border to it is odd (0-1 BFS: stepping onto a line
/// costs 1), so counters (two crossings) stay empty.
fn fill_inside(c: &mut [f32]) {
    let mask: Vec<bool> = c.iter().map(|v| *v >= 0.5).collect();
    let ink = |i: usize| mask[i];
    let mut dist = vec![u32::MAX; CW * CH];
    let mut queue = std::collections::VecDeque::new();
    for i in (0..CW).chain((CH - 1) * CW..CH * CW) {
        if !ink(i) {
            dist[i] = 0;
            queue.push_back(i);
        }
    }
    while let Some(i) = queue.pop_front() {
        let (x, y) = (i % CW, i / CW);
        let mut next = Vec::with_capacity(4);
        if x > 0 {
            next.push(i - 1);
        }
        if x + 1 < CW {
            next.push(i + 1);
        }
        if y > 0 {
            next.push(i - CW);
        }
        if y + 1 < CH {
            next.push(i + CW);
        }
        for j in next {
            let step = u32::from(ink(j) && !ink(i));
            if dist[i] + step < dist[j] {
                dist[j] = dist[i] + step;
                if step == 0 {
                    queue.push_front(j);
                } else {
                    queue.push_back(j);
                }
            }
        }
    }
    let inside = |i: usize| !mask[i] && dist[i] % 2 == 1 && dist[i] != u32::MAX;
    for i in 0..CW * CH {
        // The contour line itself is solid where it borders the filled inside.
        let (x, y) = (i % CW, i / CW);
        let near = inside(i)
            || (mask[i]
                && ((x > 0 && inside(i - 1))
                    || (x + 1 < CW && inside(i + 1))
                    || (y > 0 && inside(i - CW))
                    || (y + 1 < CH && inside(i + CW))));
        if near {
            c[i] = 1.0;
        }
    }
}

/// Ink bounding box (x0, y0, x1, y1) on the canvas, `None` when empty.
fn ink_box(c: &[f32]) -> Option<(usize, usize, usize, usize)> {
    let mut b: Option<(usize, usize, usize, usize)> = None;
    for (i, v) in c.iter().enumerate() {
        if *v > 0.02 {
            let (x, y) = (i % CW, i / CW);
            b = Some(match b {
                None => (x, y, x, y),
                Some((a, bb, cc, d)) => (a.min(x), bb.min(y), cc.max(x), d.max(y)),
            });
        }
    }
    b
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let font_dir = args
        .get(1)
        .map_or("/usr/share/fonts/opentype/ocr-b", String::as_str);
    let out_dir = args
        .get(2)
        .map_or("shared/checks/src/fixtures/mrz_photo/atlas", String::as_str);
    std::fs::create_dir_all(out_dir)?;

    struct Cut {
        name: &'static str,
        chars: String,
        glyphs: Vec<Vec<f32>>,
        advance: f32,
    }
    let mut cuts = Vec::new();
    for (name, style) in CUTS {
        let bytes = std::fs::read(format!("{font_dir}/{name}.otf"))?;
        let font = FontRef::try_from_slice(&bytes)?;
        // The scale that makes the ink of `H` exactly CAP pixels tall.
        let probe = raster(&font, 'H', PxScale::from(100.0), style);
        let rows: Vec<usize> = (0..CH)
            .filter(|y| probe[y * CW..(y + 1) * CW].iter().any(|v| *v > 0.5))
            .collect();
        let h = match (rows.first(), rows.last()) {
            (Some(a), Some(b)) => (b - a + 1) as f32,
            _ => return Err(format!("{name}: no H").into()),
        };
        let scale = PxScale::from(100.0 * CAP / h);
        let chars: String = if name == "OCRB" {
            format!("{MRZ}{EXTRA}")
        } else {
            MRZ.into()
        };
        let glyphs = chars
            .chars()
            .map(|c| raster(&font, c, scale, style))
            .collect();
        let advance = font.as_scaled(scale).h_advance(font.glyph_id('H'));
        cuts.push(Cut {
            name,
            chars,
            glyphs,
            advance,
        });
    }
    // One cell for every glyph of every cut.
    let (mut x0, mut y0, mut x1, mut y1) = (CW, CH, 0, 0);
    for b in cuts
        .iter()
        .flat_map(|c| c.glyphs.iter())
        .filter_map(|g| ink_box(g))
    {
        x0 = x0.min(b.0);
        y0 = y0.min(b.1);
        x1 = x1.max(b.2);
        y1 = y1.max(b.3);
    }
    // The cell starts at the pen origin at the latest, so the origin is inside it.
    let (x0, y0) = (x0.saturating_sub(2).min(OX as usize), y0.saturating_sub(2));
    let (cell_w, cell_h) = (x1 + 3 - x0, y1 + 3 - y0);
    let (origin_x, baseline) = (OX as usize - x0, OY as usize - y0);

    let mut meta = String::from(
        "# make_render_atlas: cut cell_w cell_h origin_x baseline cap advance chars\n",
    );
    for cut in &cuts {
        let rows = cut.glyphs.len().div_ceil(COLUMNS);
        let mut sheet = GrayImage::new((cell_w * COLUMNS) as u32, (cell_h * rows) as u32);
        for (i, g) in cut.glyphs.iter().enumerate() {
            let (cx, cy) = ((i % COLUMNS) * cell_w, (i / COLUMNS) * cell_h);
            for y in 0..cell_h {
                for x in 0..cell_w {
                    let v = g[(y0 + y) * CW + x0 + x];
                    // 4-bit levels: invisible after downscaling, and the sheets shrink.
                    let q = ((v * 15.0).round() as u8) * 17;
                    sheet.put_pixel((cx + x) as u32, (cy + y) as u32, image::Luma([q]));
                }
            }
        }
        sheet.save(format!("{out_dir}/{}.png", cut.name))?;
        writeln!(
            meta,
            "{} {cell_w} {cell_h} {origin_x} {baseline} {CAP} {:.2} {}",
            cut.name, cut.advance, cut.chars
        )?;
    }
    std::fs::write(format!("{out_dir}/atlas.txt"), meta)?;
    Ok(())
}
