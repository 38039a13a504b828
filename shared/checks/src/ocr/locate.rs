//! Finds MRZ bands: on a downscaled copy, a local-contrast (Sauvola) binarisation, the
//! connected components of character size, the dominant text direction from neighbouring
//! components, chains of evenly pitched components along it, and groups of two or three
//! long parallel chains stacked like MRZ lines. Geometry is returned in full-resolution
//! pixels; the direction is known modulo 180° (the reader tries both senses).

use image::GrayImage;

/// Bands [`super::read_mrz`] tries, best first.
pub const MAX_CANDIDATES: usize = 3;
/// The working copy's longer side is at most this many pixels.
const WORK_SIZE: u32 = 1100;
/// Components kept for the direction search (the first by position; bounds time on
/// noisy photos).
const MAX_BLOBS: usize = 30_000;
/// The shortest chain that may be an MRZ line (TD1 has 30 characters; some merge or
/// break when blurred).
const MIN_LINE_BLOBS: usize = 18;

/// One text line of a band, in full-resolution pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct BandLine {
    /// Centre of the first character (in the direction of `Band::dir`).
    pub start: (f32, f32),
    /// Centre of the last character.
    pub end: (f32, f32),
    /// Components in the chain.
    pub blobs: usize,
}

/// A candidate MRZ band.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Lines in order of the normal (`(-dir.y, dir.x)`), two or three.
    pub lines: Vec<BandLine>,
    /// Unit text direction (one of its two senses).
    pub dir: (f32, f32),
    /// Character height, full-resolution pixels.
    pub height: f32,
    /// Character pitch, full-resolution pixels.
    pub pitch: f32,
    /// Ranking score (components in the band).
    pub score: f32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Blob {
    x: f32,
    y: f32,
    /// Second moments (variances) about the centroid.
    vxx: f32,
    vyy: f32,
    vxy: f32,
    n: u32,
    w: u32,
    h: u32,
}

/// Block-average downscale by an integer factor.
fn downscale(img: &GrayImage, f: u32) -> GrayImage {
    if f <= 1 {
        return img.clone();
    }
    let (w, h) = (img.width() / f, img.height() / f);
    let mut out = GrayImage::new(w.max(1), h.max(1));
    let raw = img.as_raw();
    let iw = img.width() as usize;
    let mut acc = vec![0u32; w as usize];
    for oy in 0..h as usize {
        acc.iter_mut().for_each(|a| *a = 0);
        for dy in 0..f as usize {
            let row = (oy * f as usize + dy) * iw;
            let Some(src) = raw.get(row..row + iw) else {
                continue;
            };
            for (ox, a) in acc.iter_mut().enumerate() {
                let s = ox * f as usize;
                *a += src
                    .get(s..s + f as usize)
                    .map_or(0, |p| p.iter().map(|v| u32::from(*v)).sum::<u32>());
            }
        }
        for (ox, a) in acc.iter().enumerate() {
            out.put_pixel(ox as u32, oy as u32, image::Luma([(a / (f * f)) as u8]));
        }
    }
    out
}

/// Sauvola binarisation (ink = true) over a square window of radius `r`.
pub(crate) fn sauvola(img: &GrayImage, r: usize, k: f32) -> Vec<bool> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut s1 = vec![0u64; (w + 1) * (h + 1)];
    let mut s2 = vec![0u64; (w + 1) * (h + 1)];
    for y in 0..h {
        let (mut a, mut b) = (0u64, 0u64);
        for x in 0..w {
            let v = u64::from(raw.get(y * w + x).copied().unwrap_or(0));
            a += v;
            b += v * v;
            s1[(y + 1) * (w + 1) + x + 1] = s1[y * (w + 1) + x + 1] + a;
            s2[(y + 1) * (w + 1) + x + 1] = s2[y * (w + 1) + x + 1] + b;
        }
    }
    let mut out = vec![false; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            let n = ((y1 - y0) * (x1 - x0)) as f32;
            let sum = |s: &[u64]| {
                (s[y1 * (w + 1) + x1] + s[y0 * (w + 1) + x0]) as f64
                    - (s[y0 * (w + 1) + x1] + s[y1 * (w + 1) + x0]) as f64
            };
            let m = sum(&s1) as f32 / n;
            let var = (sum(&s2) as f32 / n - m * m).max(0.0);
            let t = m * (1.0 + k * (var.sqrt() / 128.0 - 1.0));
            out[y * w + x] = f32::from(raw.get(y * w + x).copied().unwrap_or(255)) < t;
        }
    }
    out
}

/// 8-connected components of `mask` with their moments (two-pass union-find).
fn components(mask: &[bool], w: usize, h: usize) -> Vec<Blob> {
    let mut label = vec![0u32; w * h];
    let mut parent: Vec<u32> = vec![0];
    fn find(p: &mut [u32], mut a: u32) -> u32 {
        while p[a as usize] != a {
            let g = p[p[a as usize] as usize];
            p[a as usize] = g;
            a = g;
        }
        a
    }
    for y in 0..h {
        for x in 0..w {
            if !mask[y * w + x] {
                continue;
            }
            let mut nb = [0u32; 4];
            if x > 0 {
                nb[0] = label[y * w + x - 1];
            }
            if y > 0 {
                nb[1] = label[(y - 1) * w + x];
                if x > 0 {
                    nb[2] = label[(y - 1) * w + x - 1];
                }
                if x + 1 < w {
                    nb[3] = label[(y - 1) * w + x + 1];
                }
            }
            let mut l = 0u32;
            for &n in nb.iter().filter(|n| **n != 0) {
                let rn = find(&mut parent, n);
                if l == 0 {
                    l = rn;
                } else if rn != l {
                    let (a, b) = (l.min(rn), l.max(rn));
                    parent[b as usize] = a;
                    l = a;
                }
            }
            if l == 0 {
                l = parent.len() as u32;
                parent.push(l);
            }
            label[y * w + x] = l;
        }
    }
    // Per root: count, Σx, Σy, Σx², Σxy, min x, max x, min y, max y, Σy².
    let mut acc: Vec<[f64; 10]> = vec![[0.0; 10]; parent.len()];
    for y in 0..h {
        for x in 0..w {
            let l = label[y * w + x];
            if l == 0 {
                continue;
            }
            let r = find(&mut parent, l) as usize;
            let (fx, fy) = (x as f64, y as f64);
            let a = &mut acc[r];
            if a[0] == 0.0 {
                a[5] = fx;
                a[6] = fx;
                a[7] = fy;
                a[8] = fy;
            }
            a[0] += 1.0;
            a[1] += fx;
            a[2] += fy;
            a[3] += fx * fx;
            a[9] += fy * fy;
            a[4] += fx * fy;
            a[5] = a[5].min(fx);
            a[6] = a[6].max(fx);
            a[7] = a[7].min(fy);
            a[8] = a[8].max(fy);
        }
    }
    acc.iter()
        .filter(|a| a[0] > 0.0)
        .map(|a| {
            let n = a[0];
            let (mx, my) = (a[1] / n, a[2] / n);
            Blob {
                x: mx as f32,
                y: my as f32,
                vxx: (a[3] / n - mx * mx) as f32,
                vyy: (a[9] / n - my * my) as f32,
                vxy: (a[4] / n - mx * my) as f32,
                n: n as u32,
                w: (a[6] - a[5]) as u32 + 1,
                h: (a[8] - a[7]) as u32 + 1,
            }
        })
        .collect()
}

/// Extent of a blob along unit vector (ux, uy): √12·σ (a uniform bar's length).
fn extent(b: &Blob, ux: f32, uy: f32) -> f32 {
    let v = b.vxx * ux * ux + 2.0 * b.vxy * ux * uy + b.vyy * uy * uy;
    (12.0 * v.max(0.0)).sqrt()
}

/// Text directions (degrees, 0–180), strongest first: a histogram of the directions
/// between neighbouring components of similar size.
fn directions(blobs: &[Blob]) -> Vec<f32> {
    let mut idx: Vec<usize> = (0..blobs.len()).collect();
    idx.sort_by(|a, b| blobs[*a].x.total_cmp(&blobs[*b].x).then(a.cmp(b)));
    let xs: Vec<f32> = idx.iter().map(|i| blobs[*i].x).collect();
    let mut hist = [0f32; 180];
    for (pos, &i) in idx.iter().enumerate() {
        let a = &blobs[i];
        let sa = a.w.max(a.h) as f32;
        let reach = 1.4 * sa;
        let hi = xs.partition_point(|x| *x <= a.x + reach);
        for &j in idx.get(pos + 1..hi).unwrap_or(&[]) {
            let b = &blobs[j];
            let sb = b.w.max(b.h) as f32;
            if sb > 1.8 * sa || sa > 1.8 * sb {
                continue;
            }
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let d = (dx * dx + dy * dy).sqrt();
            let s = sa.max(sb);
            if d < 0.45 * s || d > 1.4 * s {
                continue;
            }
            let ang = (-dy).atan2(dx).to_degrees().rem_euclid(180.0);
            let bin = (ang.round() as usize) % 180;
            hist[bin] += 1.0;
        }
    }
    // Smooth circularly, then peaks at least 20° apart.
    let sm: Vec<f32> = (0..180)
        .map(|i| {
            (0..5)
                .map(|k| hist[(i + 180 + k - 2) % 180] * [1.0, 2.0, 3.0, 2.0, 1.0][k])
                .sum()
        })
        .collect();
    let mut peaks: Vec<(f32, usize)> = Vec::new();
    let mut order: Vec<usize> = (0..180).collect();
    order.sort_by(|a, b| sm[*b].total_cmp(&sm[*a]).then(a.cmp(b)));
    for i in order {
        if sm[i] <= 0.0 || peaks.len() == 3 {
            break;
        }
        let far = peaks.iter().all(|(_, p)| {
            let d = (i as i64 - *p as i64).rem_euclid(180);
            d.min(180 - d) >= 20
        });
        if far {
            peaks.push((sm[i], i));
        }
    }
    // Refine each peak by the weighted mean of its neighbourhood.
    peaks
        .iter()
        .map(|(_, p)| {
            let (mut s, mut w) = (0f32, 0f32);
            for k in -3i64..=3 {
                let b = (*p as i64 + k).rem_euclid(180) as usize;
                s += hist[b] * (*p as f32 + k as f32);
                w += hist[b];
            }
            if w > 0.0 {
                s / w
            } else {
                *p as f32
            }
        })
        .collect()
}

/// A chain of components along the text direction, in the rotated frame (u along, v across).
#[derive(Debug, Clone)]
struct Chain {
    members: Vec<usize>,
    /// Line fit v = a + b·u.
    a: f32,
    b: f32,
    u0: f32,
    u1: f32,
    height: f32,
    pitch: f32,
}

fn fit(us: &[f32], vs: &[f32]) -> (f32, f32) {
    let n = us.len().max(1) as f32;
    let mu = us.iter().sum::<f32>() / n;
    let mv = vs.iter().sum::<f32>() / n;
    let (mut suu, mut suv) = (0f32, 0f32);
    for (u, v) in us.iter().zip(vs) {
        suu += (u - mu) * (u - mu);
        suv += (u - mu) * (v - mv);
    }
    let b = if suu > 1e-6 { suv / suu } else { 0.0 };
    (mv - b * mu, b)
}

fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// Chains of evenly spaced components along direction `deg`.
fn chains(blobs: &[Blob], deg: f32) -> (Vec<Chain>, (f32, f32)) {
    let (c, s) = (deg.to_radians().cos(), deg.to_radians().sin());
    // Image y points down: the direction (c, -s) has angle `deg` counter-clockwise.
    let dir = (c, -s);
    let nrm = (-dir.1, dir.0);
    let u: Vec<f32> = blobs.iter().map(|b| b.x * dir.0 + b.y * dir.1).collect();
    let v: Vec<f32> = blobs.iter().map(|b| b.x * nrm.0 + b.y * nrm.1).collect();
    let hv: Vec<f32> = blobs.iter().map(|b| extent(b, nrm.0, nrm.1)).collect();
    let mut idx: Vec<usize> = (0..blobs.len()).collect();
    idx.sort_by(|a, b| u[*a].total_cmp(&u[*b]).then(a.cmp(b)));
    let us: Vec<f32> = idx.iter().map(|i| u[*i]).collect();
    // Right neighbour of each component: nearest ahead, on the same line, similar height.
    let mut next: Vec<Option<(usize, f32)>> = vec![None; blobs.len()];
    for (pos, &i) in idx.iter().enumerate() {
        let h = hv[i].max(2.0);
        let hi = us.partition_point(|x| *x <= u[i] + 2.0 * h);
        let mut best: Option<(usize, f32)> = None;
        for &j in idx.get(pos + 1..hi).unwrap_or(&[]) {
            let du = u[j] - u[i];
            let dv = (v[j] - v[i]).abs();
            if du < 0.25 * h || dv > 0.4 * h.max(hv[j]) {
                continue;
            }
            let hj = hv[j].max(2.0);
            if hj > 2.6 * h || h > 2.6 * hj {
                continue;
            }
            let cost = du + 3.0 * dv;
            if best.is_none_or(|(_, c)| cost < c) {
                best = Some((j, cost));
            }
        }
        next[i] = best;
    }
    // Keep only the best incoming link of each component.
    let mut incoming: Vec<Option<(usize, f32)>> = vec![None; blobs.len()];
    for (i, link) in next.iter().enumerate().take(blobs.len()) {
        if let Some((j, cost)) = *link {
            if incoming[j].is_none_or(|(_, c)| cost < c) {
                incoming[j] = Some((i, cost));
            }
        }
    }
    let mut out = Vec::new();
    for &start in &idx {
        if incoming[start].is_some() {
            continue;
        }
        let mut members = vec![start];
        let mut cur = start;
        while let Some((j, _)) = next[cur] {
            if incoming[j].map(|(p, _)| p) != Some(cur) || members.len() > 400 {
                break;
            }
            members.push(j);
            cur = j;
        }
        if members.len() < 8 {
            continue;
        }
        let mu: Vec<f32> = members.iter().map(|m| u[*m]).collect();
        let mv: Vec<f32> = members.iter().map(|m| v[*m]).collect();
        let (a, b) = fit(&mu, &mv);
        let gaps: Vec<f32> = mu.windows(2).map(|w| w[1] - w[0]).collect();
        out.push(Chain {
            height: median(members.iter().map(|m| hv[*m]).collect()),
            pitch: median(gaps),
            u0: mu.first().copied().unwrap_or(0.0),
            u1: mu.last().copied().unwrap_or(0.0),
            a,
            b,
            members,
        });
    }
    // Join chains broken by a lost character: collinear, close, same pitch.
    out.sort_by(|x, y| x.u0.total_cmp(&y.u0));
    let mut merged: Vec<Chain> = Vec::new();
    for ch in out {
        let hit = merged.iter_mut().find(|m| {
            let gap = ch.u0 - m.u1;
            let dv = (m.a + m.b * ch.u0) - (ch.a + ch.b * ch.u0);
            gap > 0.0
                && gap < 3.5 * m.pitch.max(ch.pitch)
                && dv.abs() < 0.5 * m.height
                && (m.pitch - ch.pitch).abs() < 0.3 * m.pitch
        });
        match hit {
            Some(m) => {
                m.members.extend(ch.members);
                m.u1 = ch.u1;
                let mu: Vec<f32> = m.members.iter().map(|i| u[*i]).collect();
                let mv: Vec<f32> = m.members.iter().map(|i| v[*i]).collect();
                let (a, b) = fit(&mu, &mv);
                m.a = a;
                m.b = b;
            }
            None => merged.push(ch),
        }
    }
    (merged, dir)
}

/// Candidate bands in `img`, best first.
pub fn find_bands(img: &GrayImage) -> Vec<Band> {
    let long = img.width().max(img.height());
    let f = long.div_ceil(WORK_SIZE).max(1);
    let work = downscale(img, f);
    let (w, h) = (work.width() as usize, work.height() as usize);
    let r = (w.max(h) / 70).max(6);
    let mask = sauvola(&work, r, 0.2);
    let max_dim = (w.max(h) / 10) as u32;
    let mut blobs: Vec<Blob> = components(&mask, w, h)
        .into_iter()
        .filter(|b| {
            let s = b.w.max(b.h);
            s >= 4 && s <= max_dim && b.n >= 6 && b.n * 10 < 9 * b.w * b.h + 10
        })
        .collect();
    blobs.truncate(MAX_BLOBS);
    let scale = f as f32;
    let mut bands = Vec::new();
    for deg in directions(&blobs) {
        let (chs, dir) = chains(&blobs, deg);
        let long: Vec<&Chain> = chs
            .iter()
            .filter(|c| c.members.len() >= MIN_LINE_BLOBS)
            .collect();
        let nrm = (-dir.1, dir.0);
        let mid_v = |c: &Chain| c.a + c.b * (c.u0 + c.u1) / 2.0;
        let mut sorted = long.clone();
        sorted.sort_by(|a, b| mid_v(a).total_cmp(&mid_v(b)));
        for i in 0..sorted.len() {
            for size in [3usize, 2] {
                let Some(group) = sorted.get(i..i + size) else {
                    continue;
                };
                let h = median(group.iter().map(|c| c.height).collect());
                let p = median(group.iter().map(|c| c.pitch).collect());
                let ok = group.windows(2).all(|g| {
                    let dv = mid_v(g[1]) - mid_v(g[0]);
                    let overlap = g[0].u1.min(g[1].u1) - g[0].u0.max(g[1].u0);
                    let shorter = (g[0].u1 - g[0].u0).min(g[1].u1 - g[1].u0);
                    dv > 1.1 * h
                        && dv < 3.2 * h
                        && overlap > 0.75 * shorter
                        && (g[0].pitch - g[1].pitch).abs() < 0.25 * p
                        && (g[0].height - g[1].height).abs() < 0.4 * h
                });
                if !ok {
                    continue;
                }
                let lines = group
                    .iter()
                    .map(|c| {
                        let pt = |uu: f32| {
                            let vv = c.a + c.b * uu;
                            (
                                (uu * dir.0 + vv * nrm.0) * scale + scale / 2.0,
                                (uu * dir.1 + vv * nrm.1) * scale + scale / 2.0,
                            )
                        };
                        BandLine {
                            start: pt(c.u0),
                            end: pt(c.u1),
                            blobs: c.members.len(),
                        }
                    })
                    .collect();
                let score = group.iter().map(|c| c.members.len() as f32).sum::<f32>();
                bands.push(Band {
                    lines,
                    dir,
                    height: h * scale,
                    pitch: p * scale,
                    score,
                });
            }
        }
    }
    bands.sort_by(|a, b| b.score.total_cmp(&a.score));
    bands
}
