//! Text layer extraction from PDFs: `lopdf` parses the file (bounded decompression and
//! nesting), and this module interprets the page content streams' text operators itself
//! (`Tj`, `TJ`, `'`, `"`, with `Td`/`TD`/`Tm`/`T*` for line breaks). No rendering, no OCR:
//! a scanned PDF without a text layer is reported as [`PdfError::NoText`].
//!
//! Text comes out in content-stream order, one entry per visual line, which is the order
//! office software and billing systems write it in.

use std::collections::BTreeMap;

use lopdf::content::Content;
use lopdf::{Document, Encoding, LoadOptions, Object};
use thiserror::Error;

/// Largest size any single stream may inflate to (a decompression-bomb guard).
const MAX_STREAM_BYTES: usize = 16 * 1024 * 1024;
/// Pages read: proof-of-address data sits on the first pages.
const MAX_PAGES: usize = 5;
/// Operators interpreted per page.
const MAX_OPERATIONS: usize = 200_000;
/// Characters of text kept in all.
const MAX_TEXT_CHARS: usize = 200_000;

/// Why no text came out. `code()` is the stable reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PdfError {
    /// Zero bytes.
    #[error("empty file")]
    Empty,
    /// No `%PDF-` header.
    #[error("not a PDF")]
    NotPdf,
    /// lopdf could not parse it (damaged, encrypted with a password, bomb).
    #[error("PDF could not be parsed")]
    Unparseable,
    /// Parsed, but no page carries text.
    #[error("PDF has no text layer")]
    NoText,
}

impl PdfError {
    /// Stable snake_case reason code.
    pub fn code(&self) -> &'static str {
        match self {
            PdfError::Empty => "empty_file",
            PdfError::NotPdf => "not_a_pdf",
            PdfError::Unparseable => "pdf_unparseable",
            PdfError::NoText => "pdf_no_text",
        }
    }
}

/// True when the bytes start like a PDF (within the first KiB, as readers allow).
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    let head = bytes.get(..bytes.len().min(1024)).unwrap_or(&[]);
    head.windows(5).any(|w| w == b"%PDF-")
}

/// Extracts the text lines of the first pages.
pub fn extract_lines(bytes: &[u8]) -> Result<Vec<String>, PdfError> {
    if bytes.is_empty() {
        return Err(PdfError::Empty);
    }
    if !looks_like_pdf(bytes) {
        return Err(PdfError::NotPdf);
    }
    let options = LoadOptions {
        max_decompressed_size: Some(MAX_STREAM_BYTES),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(bytes, options).map_err(|_| PdfError::Unparseable)?;
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(PdfError::Unparseable);
    }
    let mut out = Lines::default();
    for (_, page_id) in pages.iter().take(MAX_PAGES) {
        let Ok(raw) = doc.get_page_content_with_limit(*page_id, MAX_STREAM_BYTES) else {
            continue;
        };
        let Ok(content) = Content::decode(&raw) else {
            continue;
        };
        let fonts = doc.get_page_fonts(*page_id).unwrap_or_default();
        let encodings: BTreeMap<Vec<u8>, Encoding> = fonts
            .iter()
            .filter_map(|(name, dict)| {
                dict.get_font_encoding_with_limit(&doc, MAX_STREAM_BYTES)
                    .ok()
                    .map(|e| (name.clone(), e))
            })
            .collect();
        interpret(&content, &encodings, &mut out);
        out.newline();
        if out.chars > MAX_TEXT_CHARS {
            break;
        }
    }
    if out.lines.is_empty() {
        return Err(PdfError::NoText);
    }
    Ok(out.lines)
}

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    current: String,
    chars: usize,
}

impl Lines {
    fn newline(&mut self) {
        let line = self
            .current
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !line.is_empty() {
            self.chars += line.len();
            self.lines.push(line);
        }
        self.current.clear();
    }

    fn push(&mut self, s: &str) {
        if self.chars + self.current.len() < MAX_TEXT_CHARS {
            self.current.push_str(s);
        }
    }

    fn space(&mut self) {
        if !self.current.is_empty() && !self.current.ends_with(' ') {
            self.current.push(' ');
        }
    }
}

fn number(o: &Object) -> Option<f64> {
    match o {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

/// WinAnsi as Latin-1 plus the 0x80–0x9F punctuation that bills use.
fn latin1(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x91 | 0x92 => '\'',
            0x93 | 0x94 => '"',
            0x96 | 0x97 => '-',
            0x80..=0x9F => ' ',
            _ => char::from(b),
        })
        .collect()
}

fn decode(bytes: &[u8], encoding: Option<&Encoding>) -> String {
    encoding
        .and_then(|e| Document::decode_text(e, bytes).ok())
        .unwrap_or_else(|| latin1(bytes))
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

fn interpret(content: &Content, encodings: &BTreeMap<Vec<u8>, Encoding>, out: &mut Lines) {
    let mut font: Option<&Encoding> = None;
    // Vertical position of the text line matrix, tracked as the PDF spec defines it, so
    // a `Tm` that stays on the current line does not break it.
    let mut line_y = 0.0f64;
    let mut leading = 0.0f64;
    for op in content.operations.iter().take(MAX_OPERATIONS) {
        let args = &op.operands;
        match op.operator.as_str() {
            "BT" => line_y = 0.0,
            "Tf" => {
                font = match args.first() {
                    Some(Object::Name(n)) => encodings.get(n),
                    _ => None,
                };
            }
            "TL" => leading = args.first().and_then(number).unwrap_or(0.0),
            "Td" | "TD" => {
                let tx = args.first().and_then(number).unwrap_or(0.0);
                let ty = args.get(1).and_then(number).unwrap_or(0.0);
                if op.operator == "TD" {
                    leading = -ty;
                }
                line_y += ty;
                if ty.abs() > 0.01 {
                    out.newline();
                } else if tx > 0.01 {
                    out.space();
                }
            }
            "Tm" => {
                let f = args.get(5).and_then(number).unwrap_or(0.0);
                if (f - line_y).abs() > 0.01 {
                    out.newline();
                } else {
                    out.space();
                }
                line_y = f;
            }
            "T*" => {
                line_y -= leading;
                out.newline();
            }
            "Tj" => {
                if let Some(Object::String(s, _)) = args.first() {
                    out.push(&decode(s, font));
                }
            }
            "'" | "\"" => {
                line_y -= leading;
                out.newline();
                if let Some(Object::String(s, _)) = args.last() {
                    out.push(&decode(s, font));
                }
            }
            "TJ" => {
                if let Some(Object::Array(items)) = args.first() {
                    for item in items {
                        match item {
                            Object::String(s, _) => out.push(&decode(s, font)),
                            // A large negative adjustment is how generators write a space.
                            other => {
                                if number(other).is_some_and(|n| n < -200.0) {
                                    out.space();
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdf_with_content(content: &str) -> Vec<u8> {
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
            format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        ];
        let mut out = String::from("%PDF-1.4\n");
        let mut offsets = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.push_str(&format!("{} 0 obj\n{o}\nendobj\n", i + 1));
        }
        let xref = out.len();
        out.push_str("xref\n0 6\n0000000000 65535 f \n");
        for o in offsets {
            out.push_str(&format!("{o:010} 00000 n \n"));
        }
        out.push_str(&format!(
            "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
        ));
        out.into_bytes()
    }

    #[test]
    fn text_operators_make_lines() {
        let pdf = pdf_with_content(
            "BT /F1 12 Tf 72 700 Td (ACME Power) Tj 0 -14 Td (Bill date:) Tj 100 0 Td (May 2, 2025) Tj \
             T* [(Jane) -400 (Doe)] TJ (next line) ' 1 0 0 1 72 500 Tm (moved) Tj ET",
        );
        let lines = extract_lines(&pdf).unwrap();
        assert_eq!(
            lines,
            vec![
                "ACME Power",
                "Bill date: May 2, 2025",
                "Jane Doe",
                "next line",
                "moved"
            ]
        );
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(extract_lines(b"").unwrap_err().code(), "empty_file");
        assert_eq!(extract_lines(b"hello").unwrap_err().code(), "not_a_pdf");
        assert_eq!(
            extract_lines(b"%PDF-1.4\ngarbage").unwrap_err().code(),
            "pdf_unparseable"
        );
        let no_text = pdf_with_content("0 0 m 100 100 l S");
        assert_eq!(extract_lines(&no_text).unwrap_err().code(), "pdf_no_text");
    }
}
