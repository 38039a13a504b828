//! Reads a located band: samples each line upright at full resolution (any angle, both
//! senses), finds the cap line and baseline, fits the fixed character pitch to the glyph
//! centres, cuts the line into its 30, 36 or 44 cells, normalises each cell like the
//! templates ([`super::glyphs`]) and classifies it.

use image::GrayImage;

use super::classify;
use super::glyphs::{MY, TH, TW};
use super::locate::Band;
use super::{BandQuality, MrzReading, ReadChar};
use crate::mrz::MrzFormat;

/// Cap height of the sampled strip, pixels.
const STRIP_CAP: f32 = 26.0;
/// Offset (in pitches) between a cell's lattice centre and its glyph's ink centre above
/// which the character is not sure.
const MISALIGNED: f32 = 0.3;
/// ICAO 9303 pitch (2.54 mm) over the OCR-B size I cap height (2.42 mm).
const PITCH_PER_CAP: f32 = 2.54 / 2.42;
/// Vertical offsets (template rows) at which each cell is cut; every class keeps its best.
/// The baseline of a line is measured once, from its row profile; a strip sampled a
/// fraction of a degree off the text's own direction drifts a row or two off it along
/// the line (measured: a clean TD1 line whose fillers scored 0.93 at its start and 0.53
/// at its end, read as K), and a thin diagonal stroke (`<`, `K`) or OCR-B's taller digits
/// (0 against O) then match the wrong template.
/// Only position moves, never size: the size is what tells 0 from O.
const ROW_SHIFTS: [f32; 5] = [-2.0, -1.0, 0.0, 1.0, 2.0];

/// An upright strip of one line: ink 0–1 (paper 0), plus raw statistics.
struct Strip {
    w: usize,
    h: usize,
    ink: Vec<f32>,
    /// Pixels of the source per strip pixel.
    scale: f32,
    /// Raw source samples ≥ 250.
    saturated: usize,
    /// Paper and ink levels found (0–255).
    paper: f32,
    dark: f32,
    /// Laplacian variance of the raw strip.
    sharpness: f64,
}

fn bilinear(img: &GrayImage, x: f32, y: f32) -> f32 {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let raw = img.as_raw();
    let px = |xx: i64, yy: i64| {
        let (cx, cy) = (xx.clamp(0, w - 1), yy.clamp(0, h - 1));
        f32::from(raw.get((cy * w + cx) as usize).copied().unwrap_or(255))
    };
    let top = px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx;
    let bot = px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bot * fy
}

/// Samples the strip along `start`→`end` (centres of the first and last characters), with
/// `margin` source pixels before and after and ±`half` source pixels across.
fn sample(
    img: &GrayImage,
    start: (f32, f32),
    end: (f32, f32),
    cap: f32,
    margin: f32,
) -> Option<Strip> {
    let (dx, dy) = (end.0 - start.0, end.1 - start.1);
    let len = (dx * dx + dy * dy).sqrt();
    if !(len.is_finite() && len > 1.0 && cap > 1.0) {
        return None;
    }
    let d = (dx / len, dy / len);
    let n = (-d.1, d.0);
    let scale = cap / STRIP_CAP;
    let w = ((len + 2.0 * margin) / scale).ceil() as usize;
    let h = (STRIP_CAP * 2.6).ceil() as usize;
    if w == 0 || w > 8000 {
        return None;
    }
    // Supersample when shrinking, so thin strokes are averaged, not aliased.
    let ss = (scale.ceil() as usize).clamp(1, 4);
    let mut raw = vec![0f32; w * h];
    let mut saturated = 0usize;
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for j in 0..ss {
                for i in 0..ss {
                    let u = (x as f32 + (i as f32 + 0.5) / ss as f32) * scale - margin;
                    let v = (y as f32 + (j as f32 + 0.5) / ss as f32 - h as f32 / 2.0) * scale;
                    acc += bilinear(
                        img,
                        start.0 + u * d.0 + v * n.0,
                        start.1 + u * d.1 + v * n.1,
                    );
                }
            }
            let val = acc / (ss * ss) as f32;
            if val >= 250.0 {
                saturated += 1;
            }
            raw[y * w + x] = val;
        }
    }
    // Percentiles from a histogram (values are 0–255): no sort of the whole strip.
    let mut hist = [0usize; 256];
    for v in &raw {
        if let Some(b) = hist.get_mut(v.clamp(0.0, 255.0) as usize) {
            *b += 1;
        }
    }
    let q = |p: f32| {
        let target = ((raw.len().max(1) - 1) as f32 * p) as usize;
        let mut acc = 0usize;
        for (i, c) in hist.iter().enumerate() {
            acc += c;
            if acc > target {
                return i as f32;
            }
        }
        255.0
    };
    let (dark, paper) = (q(0.03), q(0.75));
    let ink = local_ink(&raw, w, h, paper - dark);
    let mut lap = Vec::with_capacity(w * h);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let c = raw[y * w + x];
            let l = raw[y * w + x - 1]
                + raw[y * w + x + 1]
                + raw[(y - 1) * w + x]
                + raw[(y + 1) * w + x]
                - 4.0 * c;
            lap.push(f64::from(l));
        }
    }
    let nl = lap.len().max(1) as f64;
    let ml = lap.iter().sum::<f64>() / nl;
    let sharpness = lap.iter().map(|l| (l - ml) * (l - ml)).sum::<f64>() / nl;
    Some(Strip {
        w,
        h,
        ink,
        scale,
        saturated,
        paper,
        dark,
        sharpness,
    })
}

/// Ink 0–1 of a raw strip, against the paper and ink levels found near each column (an
/// uneven light darkens one end of a line: one level for the whole strip would turn its
/// paper into ink there). Per column, the paper is the upper quartile and the ink the
/// darkest samples; both are then taken over a window of about three characters. The span
/// never drops below a third of the whole strip's `global_span` (flat paper is not ink).
fn local_ink(raw: &[f32], w: usize, h: usize, global_span: f32) -> Vec<f32> {
    let mut col_paper = vec![0f32; w];
    let mut col_dark = vec![0f32; w];
    let mut col = vec![0f32; h];
    for x in 0..w {
        for (y, c) in col.iter_mut().enumerate() {
            *c = raw.get(y * w + x).copied().unwrap_or(255.0);
        }
        col.sort_by(f32::total_cmp);
        col_paper[x] = col.get(h * 3 / 4).copied().unwrap_or(255.0);
        col_dark[x] = col.get(h / 30).copied().unwrap_or(0.0);
    }
    // Three characters of the strip (cap STRIP_CAP, pitch about 1.05 cap) either side.
    let r = (1.5 * STRIP_CAP * PITCH_PER_CAP) as usize;
    let mut paper = vec![0f32; w];
    let mut dark = vec![0f32; w];
    let mut prefix = vec![0f64; w + 1];
    for x in 0..w {
        prefix[x + 1] = prefix[x] + f64::from(col_paper[x]);
    }
    for x in 0..w {
        let (a, b) = (x.saturating_sub(r), (x + r + 1).min(w));
        paper[x] = ((prefix[b] - prefix[a]) / (b - a).max(1) as f64) as f32;
        dark[x] = col_dark
            .get(a..b)
            .map_or(0.0, |d| d.iter().copied().fold(f32::MAX, f32::min));
    }
    let floor = (global_span / 3.0).max(1.0);
    raw.iter()
        .enumerate()
        .map(|(i, v)| {
            let x = i % w.max(1);
            let (p, d) = (paper[x], dark[x]);
            ((p - v) / (p - d).max(floor)).clamp(0.0, 1.0)
        })
        .collect()
}

impl Strip {
    /// The same strip turned by 180° (the other reading sense of the same line).
    fn flipped(&self) -> Strip {
        Strip {
            w: self.w,
            h: self.h,
            ink: self.ink.iter().rev().copied().collect(),
            scale: self.scale,
            saturated: self.saturated,
            paper: self.paper,
            dark: self.dark,
            sharpness: self.sharpness,
        }
    }
}

/// Cap line and baseline rows of the text line through the strip's middle.
fn text_rows(s: &Strip) -> Option<(f32, f32)> {
    let prof: Vec<f32> = (0..s.h)
        .map(|y| {
            s.ink
                .get(y * s.w..(y + 1) * s.w)
                .map_or(0.0, |r| r.iter().filter(|v| **v > 0.5).count() as f32)
        })
        .collect();
    let mid = s.h / 2;
    // The peak near the middle (within a cap height).
    let lo = mid.saturating_sub(STRIP_CAP as usize / 2);
    let hi = (mid + STRIP_CAP as usize / 2).min(s.h);
    let peak = prof.get(lo..hi)?.iter().copied().fold(0.0, f32::max);
    if peak <= 0.0 {
        return None;
    }
    let thr = 0.3 * peak;
    let mut top = mid;
    while top > 0 && prof.get(top - 1).is_some_and(|p| *p >= thr) {
        top -= 1;
    }
    let mut bot = mid;
    while bot + 1 < s.h && prof.get(bot + 1).is_some_and(|p| *p >= thr) {
        bot += 1;
    }
    if prof.get(mid).is_none_or(|p| *p < thr) {
        return None;
    }
    Some((top as f32, bot as f32 + 1.0))
}

/// Centres of the glyphs on the line (column runs of ink between the text rows).
fn glyph_centres(s: &Strip, top: f32, bot: f32) -> Vec<f32> {
    let (t, b) = (top.max(0.0) as usize, (bot as usize).min(s.h));
    let cap = (bot - top).max(1.0);
    let col: Vec<bool> = (0..s.w)
        .map(|x| {
            (t..b)
                .filter(|y| s.ink.get(y * s.w + x).is_some_and(|v| *v > 0.5))
                .count()
                >= 2
        })
        .collect();
    let mut out = Vec::new();
    let mut x = 0;
    while x < s.w {
        if !col[x] {
            x += 1;
            continue;
        }
        let x0 = x;
        while x < s.w && col[x] {
            x += 1;
        }
        let wdt = (x - x0) as f32;
        if wdt >= 0.15 * cap && wdt <= 1.0 * cap {
            out.push((x0 + x) as f32 / 2.0);
        }
    }
    out
}

/// A lattice of `n` cells: cell `k` is centred at `o + p·k + q·k²` (the quadratic term
/// absorbs the pitch change of a photo taken at a slant).
#[derive(Debug, Clone, Copy)]
struct Lattice {
    o: f32,
    p: f32,
    q: f32,
}

impl Lattice {
    fn centre(&self, k: f32) -> f32 {
        self.o + self.p * k + self.q * k * k
    }
    /// Local pitch at cell `k`.
    fn pitch(&self, k: f32) -> f32 {
        self.p + 2.0 * self.q * k
    }
}

/// Least-squares fit of c = o + p·k + q·k² (q = 0 when `quadratic` is off or the system is
/// singular).
fn lsq(pts: &[(f32, f32)], quadratic: bool) -> Option<Lattice> {
    let m = pts.len() as f64;
    if m < 3.0 {
        return None;
    }
    let (mut s1, mut s2, mut s3, mut s4) = (0f64, 0f64, 0f64, 0f64);
    let (mut t0, mut t1, mut t2) = (0f64, 0f64, 0f64);
    for &(k, c) in pts {
        let (k, c) = (f64::from(k), f64::from(c));
        s1 += k;
        s2 += k * k;
        s3 += k * k * k;
        s4 += k * k * k * k;
        t0 += c;
        t1 += c * k;
        t2 += c * k * k;
    }
    if quadratic && m >= 8.0 {
        // Cramer's rule on the 3×3 normal equations.
        let det = |a: [[f64; 3]; 3]| {
            a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
                - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
        };
        let a = [[m, s1, s2], [s1, s2, s3], [s2, s3, s4]];
        let d = det(a);
        if d.abs() > 1e-9 {
            let col = |i: usize| {
                let mut b = a;
                for (r, t) in [t0, t1, t2].iter().enumerate() {
                    b[r][i] = *t;
                }
                det(b) / d
            };
            let l = Lattice {
                o: col(0) as f32,
                p: col(1) as f32,
                q: col(2) as f32,
            };
            if l.o.is_finite() && l.p.is_finite() && l.q.is_finite() {
                return Some(l);
            }
        }
    }
    let skk = s2 - s1 * s1 / m;
    if skk <= 0.0 {
        return None;
    }
    let p = (t1 - s1 * t0 / m) / skk;
    let o = (t0 - p * s1) / m;
    Some(Lattice {
        o: o as f32,
        p: p as f32,
        q: 0.0,
    })
}

/// Assigns the centres to the cells of a lattice (start guess `o`, `p`), keeps the best
/// window of `n` cells and refits, a few times. Returns the lattice and its quality: the
/// cells holding exactly one centre, then the mean squared residual (pitch units).
/// `curved_from`: the first round that may fit the quadratic term (0 for a start that is
/// already curved: a straight fit would undo it and slip cells mid-line).
fn refine(
    centres: &[f32],
    n: usize,
    mut l: Lattice,
    p0: f32,
    curved_from: usize,
) -> Option<(Lattice, usize, f32)> {
    let mut quality = (0usize, f32::MAX);
    for round in 0..5 {
        let ks: Vec<i64> = centres
            .iter()
            .map(|c| {
                // Invert the lattice locally: index from the nearest cell's own pitch.
                let k0 = ((c - l.o) / l.p).round();
                (k0 + ((c - l.centre(k0)) / l.pitch(k0).max(1e-3)).round()) as i64
            })
            .collect();
        let kmin = *ks.iter().min()?;
        let kmax = *ks.iter().max()?;
        let mut best = (0usize, kmin);
        for start in kmin..=kmax.max(kmin) {
            let cnt = ks
                .iter()
                .filter(|k| **k >= start && **k < start + n as i64)
                .count();
            if cnt > best.0 {
                best = (cnt, start);
            }
        }
        let pts: Vec<(f32, f32)> = centres
            .iter()
            .zip(&ks)
            .filter(|(_, k)| **k >= best.1 && **k < best.1 + n as i64)
            .map(|(c, k)| ((k - best.1) as f32, *c))
            .collect();
        let mut occupied = vec![0u8; n];
        for (k, _) in &pts {
            if let Some(o) = occupied.get_mut(*k as usize) {
                *o = o.saturating_add(1);
            }
        }
        let single = occupied.iter().filter(|o| **o == 1).count();
        // The quadratic term only once the cells are assigned.
        // Only when glyphs are found near both ends: no extrapolation over a run of
        // fillers that were not found.
        let ends = pts.iter().any(|p| p.0 <= 2.0) && pts.iter().any(|p| p.0 >= n as f32 - 3.0);
        let fitted = lsq(&pts, round >= curved_from && ends && single * 4 >= n * 3)?;
        let l2 = if plausible_curve(&fitted, n) {
            fitted
        } else {
            lsq(&pts, false)?
        };
        if !(l2.p > 0.5 * p0 && l2.p < 1.6 * p0) {
            return None;
        }
        let res = pts
            .iter()
            .map(|(k, c)| {
                let d = (c - l2.centre(*k)) / l2.p;
                d * d
            })
            .sum::<f32>()
            / pts.len().max(1) as f32;
        l = l2;
        quality = (single, res);
    }
    Some((l, quality.0, quality.1))
}

/// A curved lattice whose pitch changes along the line no more than a photo at a slant
/// makes it change (a third end to end); a stronger curve is a fit gone astray.
fn plausible_curve(l: &Lattice, n: usize) -> bool {
    let (a, b) = (l.pitch(0.0), l.pitch(n as f32 - 1.0));
    a > 0.0 && b > 0.0 && a.max(b) < 1.35 * a.min(b)
}

/// A start lattice from the glyphs in order: each gap to the next glyph is a whole number
/// of the local pitch (the median of the nearby gaps of about one pitch `p`). Follows a
/// pitch that changes along the line (a slanted photo), which a straight start does not:
/// over 44 cells a 10 % change slips the middle cells by half a pitch.
fn sequential(centres: &[f32], n: usize, p: f32) -> Option<Lattice> {
    let gaps: Vec<f32> = centres.windows(2).map(|w| w[1] - w[0]).collect();
    let mut pts = Vec::with_capacity(centres.len());
    let mut k = 0i64;
    pts.push((0f32, *centres.first()?));
    let mut near = Vec::with_capacity(9);
    for (i, g) in gaps.iter().enumerate() {
        near.clear();
        let lo = i.saturating_sub(4);
        let hi = (i + 5).min(gaps.len());
        near.extend(
            gaps.get(lo..hi)
                .unwrap_or(&[])
                .iter()
                .copied()
                .filter(|x| *x > 0.7 * p && *x < 1.35 * p),
        );
        near.sort_by(f32::total_cmp);
        let lp = near.get(near.len() / 2).copied().unwrap_or(p).max(1e-3);
        k += (g / lp).round() as i64;
        pts.push((k as f32, *centres.get(i + 1)?));
    }
    if k > n as i64 {
        // Glyphs outside the line's cells: the refinement picks the window.
        return lsq(&pts, false);
    }
    let l = lsq(&pts, pts.len() >= 8)?;
    if plausible_curve(&l, n) {
        Some(l)
    } else {
        lsq(&pts, false)
    }
}

/// Fits the lattice of a line of `n` cells to its glyph centres.
fn fit_pitch(centres: &[f32], n: usize, p0: f32) -> Option<Lattice> {
    if centres.len() < n / 2 || p0 <= 0.0 || n < 2 {
        return None;
    }
    // Pitch by phase coherence: the period in ±20 % of the locator's pitch at which the
    // centres line up best (immune to a lost or split glyph, unlike gaps or counts).
    let mut best = (0f32, p0, 0f32);
    for step in 0..=200 {
        let p = p0 * (0.8 + 0.4 * step as f32 / 200.0);
        let (mut re, mut im) = (0f32, 0f32);
        for c in centres {
            let ph = std::f32::consts::TAU * c / p;
            re += ph.cos();
            im += ph.sin();
        }
        let mag = re.hypot(im);
        if mag > best.0 {
            best = (mag, p, im.atan2(re));
        }
    }
    let p = best.1;
    // The lattice origin: the phase, moved to the first centre's cell.
    let phase_o = best.2.rem_euclid(std::f32::consts::TAU) / std::f32::consts::TAU * p;
    let first = *centres.first()?;
    let last = *centres.last()?;
    let o = phase_o + ((first - phase_o) / p).round() * p;
    let mut candidates = vec![Lattice { o, p, q: 0.0 }];
    // An MRZ line is full (fillers are glyphs too): its first and last glyphs are its
    // first and last cells. That start does not slip a cell over a long line when the
    // coherent pitch is a little off.
    let span_p = (last - first) / (n - 1) as f32;
    if span_p > 0.8 * p0 && span_p < 1.2 * p0 {
        candidates.push(Lattice {
            o: first,
            p: span_p,
            q: 0.0,
        });
    }
    let mut starts: Vec<(Lattice, usize)> = candidates.into_iter().map(|c| (c, 2)).collect();
    if let Some(l) = sequential(centres, n, p) {
        starts.push((l, 0));
    }
    starts
        .into_iter()
        .filter_map(|(c, curved_from)| refine(centres, n, c, p0, curved_from))
        // Most cells holding exactly one glyph, then the smallest residual.
        .min_by(|a, b| b.1.cmp(&a.1).then(a.2.total_cmp(&b.2)))
        .map(|r| r.0)
}

/// Reads the `n` cells of a line; `None` when the lattice does not fit.
/// Reads every `stride`-th cell of a line of `n` (stride 1: the whole line); returns the
/// characters of those cells, their mean best score and the fitted pitch (strip pixels).
fn read_line(s: &Strip, n: usize, p0: f32, stride: usize) -> Option<(Vec<ReadChar>, f32, f32)> {
    let (top, bot) = text_rows(s)?;
    if bot - top < 4.0 {
        return None;
    }
    let centres = glyph_centres(s, top, bot);
    let lat = fit_pitch(&centres, n, p0)?;
    let (o, p) = (lat.o, lat.pitch((n as f32 - 1.0) / 2.0));
    // The line must fill its cells: no glyphs left outside the lattice.
    let outside = centres
        .iter()
        .filter(|c| **c < o - 0.7 * p || **c > lat.centre(n as f32 - 1.0) + 0.7 * p)
        .count();
    if outside > 1 {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    let mut total = 0.0;
    let mut cuts = vec![vec![0f32; TW * TH]; ROW_SHIFTS.len()];
    let p_mid = p;
    for i in (0..n).step_by(stride.max(1)) {
        let c = lat.centre(i as f32);
        let p = lat.pitch(i as f32);
        // The baseline follows half the local size change about the line's middle.
        let base = bot + (p - p_mid) / PITCH_PER_CAP / 2.0;
        let cx = glyph_column(s, c, p, base);
        for (cell, dy) in cuts.iter_mut().zip(ROW_SHIFTS) {
            cut_cell(s, c, p, base, dy, cx, cell);
        }
        let refs: Vec<&[f32]> = cuts.iter().map(Vec::as_slice).collect();
        let sc = classify::scores_best_of(&refs);
        let mut rc = classify::decide(&sc);
        // A glyph far from its lattice cell is the sign of a lattice that slipped: the
        // glyph may belong to the next cell, however well it matches a template.
        if (cx - c).abs() > MISALIGNED * p {
            rc.confidence *= 0.4;
        }
        total += rc.alternatives.first().map_or(-1.0, |a| a.1);
        out.push(rc);
    }
    let mean = total / out.len().max(1) as f32;
    Some((out, mean, p))
}

/// The centre column of the glyph in the cell centred at `c` (local pitch `p`, baseline
/// row `bot`): the middle of its ink columns, to centre it like the templates.
fn glyph_column(s: &Strip, c: f32, p: f32, bot: f32) -> f32 {
    let cap = p / PITCH_PER_CAP;
    let top = bot - cap;
    let (x0, x1) = (
        (c - 0.5 * p).floor().max(0.0) as usize,
        ((c + 0.5 * p).ceil() as usize).min(s.w),
    );
    let (t, b) = (
        (top - 0.1 * cap).max(0.0) as usize,
        ((bot + 0.1 * cap) as usize).min(s.h),
    );
    let cols: Vec<usize> = (x0..x1)
        .filter(|x| (t..b).any(|y| s.ink.get(y * s.w + x).is_some_and(|v| *v > 0.5)))
        .collect();
    match (cols.first(), cols.last()) {
        (Some(a), Some(z)) => (*a + *z + 1) as f32 / 2.0,
        _ => c,
    }
}

/// Cuts the cell centred at `c` (local pitch `p`, baseline row `bot` moved down by `dy`
/// template rows, glyph centre column `cx`) into `cell` (`TW*TH`) in the templates'
/// normalisation.
fn cut_cell(s: &Strip, c: f32, p: f32, bot: f32, dy: f32, cx: f32, cell: &mut [f32]) {
    // The scale comes from the (local) pitch, not from the measured height: OCR-B
    // digits stand taller than capitals, so a line's ink height depends on what it
    // says, while ICAO fixes the pitch to the cap height. The strip runs through the
    // middle of the line: when a slanted photo makes the near end of a line larger than
    // the far end, the caller moves the baseline by half the size change.
    let cap = p / PITCH_PER_CAP;
    let k = cap / (TH - 2 * MY) as f32;
    let top = bot - cap + dy * k;
    for ty in 0..TH {
        for tx in 0..TW {
            let y = top + (ty as f32 + 0.5 - MY as f32) * k - 0.5;
            let x = cx + (tx as f32 + 0.5 - TW as f32 / 2.0) * k - 0.5;
            // Only this cell's ink: neighbours are masked off.
            let inside = x >= c - 0.62 * p && x <= c + 0.62 * p;
            if let Some(v) = cell.get_mut(ty * TW + tx) {
                *v = if inside { ink_at(s, x, y) } else { 0.0 };
            }
        }
    }
}

fn ink_at(s: &Strip, x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let px = |xx: i64, yy: i64| {
        if xx < 0 || yy < 0 || xx >= s.w as i64 || yy >= s.h as i64 {
            0.0
        } else {
            s.ink
                .get(yy as usize * s.w + xx as usize)
                .copied()
                .unwrap_or(0.0)
        }
    };
    (px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx) * (1.0 - fy)
        + (px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx) * fy
}

/// Reads a band in both senses and every line length its line count allows; the reading
/// with the best mean template score wins.
pub fn read_band(img: &GrayImage, band: &Band) -> Option<MrzReading> {
    let lengths: &[usize] = match band.lines.len() {
        3 => &[30],
        2 => &[44, 36],
        _ => return None,
    };
    // Strips sampled once; the other sense is the same strips turned over. The character
    // height from the locator is only an estimate: the scale is measured again per line.
    let margin = 2.0 * band.pitch;
    let forward: Vec<Strip> = band
        .lines
        .iter()
        .map(|l| sample(img, l.start, l.end, band.height, margin))
        .collect::<Option<_>>()?;
    let backward: Vec<Strip> = forward.iter().rev().map(Strip::flipped).collect();
    // Sense and line length chosen on every third cell, then the winner read in full.
    let mut choice: Option<(f32, bool, usize)> = None;
    for reversed in [false, true] {
        let strips = if reversed { &backward } else { &forward };
        for &n in lengths {
            let mut score = 0.0;
            let mut ok = true;
            for s in strips {
                match read_line(s, n, band.pitch / s.scale, 3) {
                    Some((_, sc, _)) => score += sc,
                    None => ok = false,
                }
            }
            let mean = score / strips.len() as f32;
            if ok && choice.is_none_or(|c| mean > c.0) {
                choice = Some((mean, reversed, n));
            }
        }
    }
    let (_, reversed, n) = choice?;
    let strips = if reversed { &backward } else { &forward };
    let mut lines = band.lines.clone();
    if reversed {
        lines.reverse();
        for l in &mut lines {
            std::mem::swap(&mut l.start, &mut l.end);
        }
    }
    {
        {
            let mut read = Vec::new();
            let mut score = 0.0;
            let mut cap_px = 0.0;
            for s in strips {
                let (chars, sc, pitch) = read_line(s, n, band.pitch / s.scale, 1)?;
                score += sc;
                cap_px += pitch * s.scale / PITCH_PER_CAP;
                read.push(chars);
            }
            let mean = score / strips.len() as f32;
            let first = lines.first()?;
            let (dx, dy) = (first.end.0 - first.start.0, first.end.1 - first.start.1);
            let rot = (-dy).atan2(dx).to_degrees().rem_euclid(360.0);
            let quarter = ((rot / 90.0).round() as i64).rem_euclid(4) as u8;
            let mut skew = rot - f32::from(quarter) * 90.0;
            if skew > 180.0 {
                skew -= 360.0;
            }
            let total_px: usize = strips.iter().map(|s| s.w * s.h).sum();
            let format = match (
                read.len(),
                n,
                read.first().and_then(|l| l.first()).map(|c| c.ch),
            ) {
                (3, _, _) => MrzFormat::Td1,
                (_, 44, Some('V')) => MrzFormat::MrvA,
                (_, 44, _) => MrzFormat::Td3,
                (_, _, Some('V')) => MrzFormat::MrvB,
                _ => MrzFormat::Td2,
            };
            let first_strip = strips.first()?;
            Some(MrzReading {
                format,
                lines: read,
                quality: BandQuality {
                    char_height_px: (cap_px / strips.len() as f32 * 10.0).round() / 10.0,
                    sharpness: round2(
                        strips.iter().map(|s| s.sharpness).sum::<f64>() / strips.len() as f64,
                    ),
                    glare_fraction: round4(
                        strips.iter().map(|s| s.saturated).sum::<usize>() as f64
                            / total_px.max(1) as f64,
                    ),
                    contrast: round2(f64::from(first_strip.paper - first_strip.dark)),
                    mean_score: mean,
                },
                rotation_degrees: (rot * 10.0).round() / 10.0,
                quarter_turns: quarter,
                skew_degrees: (skew * 10.0).round() / 10.0,
            })
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10000.0).round() / 10000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uneven_light_does_not_turn_paper_into_ink() {
        // Paper fading from 220 to 120 along the strip, a dark stroke every 27 columns.
        let (w, h) = (540usize, 68usize);
        let mut raw = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let paper = 220.0 - 100.0 * x as f32 / w as f32;
                let stroke = x % 27 < 4 && (20..48).contains(&y);
                raw[y * w + x] = if stroke { paper - 100.0 } else { paper };
            }
        }
        let ink = local_ink(&raw, w, h, 200.0);
        // Paper at the dark end, and a stroke there.
        assert!(ink[5 * w + 530] < 0.2, "{}", ink[5 * w + 530]);
        assert!(ink[30 * w + 27 * 19 + 1] > 0.8);
    }

    #[test]
    fn the_lattice_spans_a_full_line() {
        // 44 glyphs at pitch 20 starting at 50; the locator guessed 10 % too small.
        let centres: Vec<f32> = (0..44).map(|k| 50.0 + 20.0 * k as f32).collect();
        let lat = fit_pitch(&centres, 44, 18.0).expect("lattice");
        assert!((lat.centre(0.0) - 50.0).abs() < 1.0);
        assert!((lat.centre(43.0) - 910.0).abs() < 1.0);
    }

    #[test]
    fn the_lattice_follows_a_pitch_that_grows_along_a_slanted_line() {
        // A photo at a slant: the pitch grows from 27 to 30.5 over 44 glyphs (measured on
        // a generated degraded photo). A straight lattice slips the middle cells by more
        // than a third of a pitch.
        let centres: Vec<f32> = (0..44)
            .map(|k| 61.0 + 27.0 * k as f32 + 0.04 * (k * k) as f32)
            .collect();
        let lat = fit_pitch(&centres, 44, 29.0).expect("lattice");
        for (k, c) in centres.iter().enumerate() {
            let d = (lat.centre(k as f32) - c).abs();
            assert!(d < 0.1 * 27.0, "cell {k}: {} vs {c}", lat.centre(k as f32));
        }
    }
}
