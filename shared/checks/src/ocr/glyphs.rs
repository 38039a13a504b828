//! The committed OCR-B glyph templates the classifier compares cells with.
//!
//! `ocrb_templates.bin` is made by `examples/make_glyphs.rs` from Debian's public-domain
//! OCR-B (`fonts-ocr-b`: Matthew Skala's rendering of Norbert Schwarz's metafont sources),
//! cuts OCRB (regular) and OCRBS (sharp) only; the other cuts are held out for measuring.
//! Nothing reads a font at build or run time.
//!
//! Every template is [`TW`]×[`TH`] ink values (0 paper – 255 ink) in one normalisation,
//! which [`super::segment`] reproduces for each cell read: the cap height spans rows
//! [`MY`]`..TH-MY`, the horizontal scale equals the vertical one, and the glyph's ink box
//! is centred horizontally.
//!
//! File layout: `OCRBT1`, then `TW`, `TH`, count (u16 LE), then per template the character
//! (ASCII), a variant byte (cut × blur, for the record) and `TW*TH` bytes row by row.

use std::sync::OnceLock;

/// Template width in pixels.
pub const TW: usize = 22;
/// Template height in pixels.
pub const TH: usize = 28;
/// Rows above the cap line and below the baseline.
pub const MY: usize = 2;
/// The MRZ alphabet, in the order scores are reported.
pub const ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";
/// File magic.
pub const MAGIC: &[u8; 6] = b"OCRBT1";

const DATA: &[u8] = include_bytes!("ocrb_templates.bin");

/// One template, zero-mean and unit-norm so a dot product is a normalised correlation.
#[derive(Debug, Clone)]
pub struct Template {
    /// Index into [`ALPHABET`].
    pub class: usize,
    /// Cut × blur, as written by the script (`cut * 3 + blur`).
    pub variant: u8,
    /// Normalised values, `TW*TH`.
    pub values: Vec<f32>,
}

/// Parses the template file; `None` when it is malformed (a build with a broken file reads
/// nothing rather than panicking).
pub fn parse(data: &[u8]) -> Option<Vec<Template>> {
    let rest = data.strip_prefix(MAGIC.as_slice())?;
    let (&w, rest) = rest.split_first()?;
    let (&h, rest) = rest.split_first()?;
    if usize::from(w) != TW || usize::from(h) != TH {
        return None;
    }
    let count = usize::from(u16::from_le_bytes([*rest.first()?, *rest.get(1)?]));
    let mut rest = rest.get(2..)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let ch = *rest.first()?;
        let class = ALPHABET.iter().position(|c| *c == ch)?;
        let variant = *rest.get(1)?;
        let pixels = rest.get(2..2 + TW * TH)?;
        rest = rest.get(2 + TW * TH..)?;
        let raw: Vec<f32> = pixels.iter().map(|p| f32::from(*p) / 255.0).collect();
        out.push(Template {
            class,
            variant,
            values: normalise(&raw)?,
        });
    }
    Some(out)
}

/// Zero mean, unit L2 norm; `None` for a flat vector (nothing to correlate).
pub fn normalise(v: &[f32]) -> Option<Vec<f32>> {
    let n = v.len().max(1) as f32;
    let mean = v.iter().sum::<f32>() / n;
    let norm = v
        .iter()
        .map(|x| (x - mean) * (x - mean))
        .sum::<f32>()
        .sqrt();
    if norm < 1e-3 {
        return None;
    }
    Some(v.iter().map(|x| (x - mean) / norm).collect())
}

/// The committed templates, parsed once.
pub fn templates() -> &'static [Template] {
    static T: OnceLock<Vec<Template>> = OnceLock::new();
    T.get_or_init(|| parse(DATA).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_templates_cover_the_alphabet() {
        let t = templates();
        assert!(!t.is_empty());
        for (class, ch) in ALPHABET.iter().enumerate() {
            assert!(t.iter().any(|x| x.class == class), "{}", *ch as char);
        }
    }

    #[test]
    fn malformed_files_parse_to_none() {
        assert!(parse(b"").is_none());
        assert!(parse(b"OCRBT1").is_none());
        let mut d = DATA.to_vec();
        d.truncate(d.len() - 1);
        assert!(parse(&d).is_none());
    }
}
