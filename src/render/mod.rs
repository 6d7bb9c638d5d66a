//! Render stage: a [`Document`](crate::document::Document) -> text, JSON, hOCR, ALTO v4, TSV
//! or a searchable PDF.
//!
//! Every text renderer is a pure function of the document, never fails and never panics: odd
//! input (empty documents, pages without text, non-finite confidences, control characters in
//! text) is normalised into valid output instead. One file per format; [`render`] dispatches on
//! [`OutputFormat`]. The PDF renderer ([`render_pdf`]) also needs the file the pages came from,
//! and [`render_bytes`] dispatches over every format given that file.

use std::borrow::Cow;

use crate::document::{Document, Line, Word};

mod alto;
mod hocr;
mod json;
mod pdf;
mod text;
mod tsv;
mod xml;

#[cfg(test)]
mod test_support;

pub use alto::render_alto;
pub use hocr::{render_hocr, render_hocr_documents};
pub use json::{JSON_SCHEMA_VERSION, JsonEnvelope, parse_json, render_json, render_json_line};
pub use pdf::{DEFAULT_IMAGE_DPI, render_pdf};
pub use text::render_text;
pub use tsv::{TSV_HEADER, render_tsv};

/// The crate version written into every output that names its producer (JSON, hOCR, ALTO).
pub const FERROCR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An output format of `ferrocr ocr --format` and of the server's `format=` parameter.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Plain text: lines in reading order, a blank line between blocks, form feed between pages.
    Text,
    /// The document structure as JSON (schema in docs/JSON.md).
    Json,
    /// hOCR 1.2 (XHTML with ocr_page/ocr_carea/ocr_par/ocr_line/ocrx_word/ocrx_cinfo).
    Hocr,
    /// ALTO v4 XML.
    Alto,
    /// Tesseract-compatible TSV (level, page_num, block_num, par_num, line_num, word_num, ...).
    Tsv,
    /// A searchable PDF: each page as it was sent, with the words as invisible text on it.
    Pdf,
}

impl OutputFormat {
    /// File extension used by `ferrocr ocr --out DIR` (without the leading dot).
    pub fn extension(&self) -> &'static str {
        match self {
            OutputFormat::Text => "txt",
            OutputFormat::Json => "json",
            OutputFormat::Hocr => "hocr",
            OutputFormat::Alto => "alto.xml",
            OutputFormat::Tsv => "tsv",
            OutputFormat::Pdf => "pdf",
        }
    }

    /// True for the formats rendered from the document alone as UTF-8 text ([`render`]);
    /// false for PDF, which embeds the pages of the source file ([`render_bytes`]).
    pub fn is_text(&self) -> bool {
        *self != OutputFormat::Pdf
    }

    /// MIME type of the rendered output.
    pub fn content_type(&self) -> &'static str {
        match self {
            OutputFormat::Text => "text/plain; charset=utf-8",
            OutputFormat::Json => "application/json",
            OutputFormat::Hocr => "text/html; charset=utf-8",
            OutputFormat::Alto => "application/xml",
            OutputFormat::Tsv => "text/tab-separated-values; charset=utf-8",
            OutputFormat::Pdf => "application/pdf",
        }
    }
}

/// Render `doc` in a text `format`. Infallible: every document, including one without pages,
/// has a valid rendering in every text format. `None` for [`OutputFormat::Pdf`], which needs
/// the source file ([`render_bytes`]).
pub fn render(doc: &Document, format: OutputFormat) -> Option<String> {
    Some(match format {
        OutputFormat::Text => render_text(doc),
        OutputFormat::Json => render_json(doc),
        OutputFormat::Hocr => render_hocr(doc),
        OutputFormat::Alto => render_alto(doc),
        OutputFormat::Tsv => render_tsv(doc),
        OutputFormat::Pdf => return None,
    })
}

/// Render `doc` in any `format`, given `source`, the file its pages were read from under
/// `limits` (used by PDF output only). Fails only for PDF output (see [`render_pdf`]).
pub fn render_bytes(
    doc: &Document,
    format: OutputFormat,
    source: &[u8],
    limits: &crate::decode::DecodeLimits,
) -> crate::error::Result<Vec<u8>> {
    match render(doc, format) {
        Some(text) => Ok(text.into_bytes()),
        None => render_pdf(doc, source, limits),
    }
}

/// A confidence forced into `0..=1` (NaN becomes 0), so no format ever prints an out-of-range
/// or non-numeric value whatever an earlier stage produced.
pub(crate) fn unit_confidence(c: f32) -> f32 {
    if c.is_nan() { 0.0 } else { c.clamp(0.0, 1.0) }
}

/// True when the word's characters line up one-to-one with its text: every char is exactly one
/// Unicode scalar and their concatenation is the word's text. Per-character output (hOCR
/// `ocrx_cinfo`, ALTO `CC`) is written only then, so it can never contradict the word's text.
pub(crate) fn chars_match_text(word: &Word) -> bool {
    if word.chars.is_empty() {
        return false;
    }
    let mut rest = word.text.as_str();
    for c in &word.chars {
        let mut scalars = c.text.chars();
        if scalars.next().is_none() || scalars.next().is_some() {
            return false;
        }
        match rest.strip_prefix(c.text.as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// The words to write for a line: its words, or, for a line that has text but no word
/// segmentation, one synthesised word spanning the whole line so the text is not lost in the
/// word-level formats (hOCR, ALTO, TSV).
pub(crate) fn line_words(line: &Line) -> Cow<'_, [Word]> {
    if !line.words.is_empty() || line.text.trim().is_empty() {
        return Cow::Borrowed(&line.words);
    }
    Cow::Owned(vec![Word {
        text: line.text.trim().to_string(),
        bbox: line.bbox,
        confidence: line.confidence,
        needs_review: line.needs_review,
        chars: Vec::new(),
    }])
}

#[cfg(test)]
mod tests {
    use super::test_support::{empty_page_document, sample_document, word};
    use super::*;
    use crate::document::Char;
    use crate::geometry::BBox;

    const TEXT_FORMATS: [OutputFormat; 5] = [
        OutputFormat::Text,
        OutputFormat::Json,
        OutputFormat::Hocr,
        OutputFormat::Alto,
        OutputFormat::Tsv,
    ];

    #[test]
    fn dispatch_matches_the_per_format_functions() {
        let doc = sample_document();
        assert_eq!(render(&doc, OutputFormat::Text), Some(render_text(&doc)));
        assert_eq!(render(&doc, OutputFormat::Json), Some(render_json(&doc)));
        assert_eq!(render(&doc, OutputFormat::Hocr), Some(render_hocr(&doc)));
        assert_eq!(render(&doc, OutputFormat::Alto), Some(render_alto(&doc)));
        assert_eq!(render(&doc, OutputFormat::Tsv), Some(render_tsv(&doc)));
    }

    #[test]
    fn empty_documents_render_in_every_format() {
        let empty = Document {
            source: None,
            pages: Vec::new(),
        };
        for format in TEXT_FORMATS {
            let out = render(&empty, format).unwrap();
            if format == OutputFormat::Text {
                assert!(out.is_empty());
            } else {
                assert!(!out.is_empty(), "{format:?} rendered nothing");
            }
            let out = render(&empty_page_document(), format).unwrap();
            if format != OutputFormat::Text {
                assert!(!out.is_empty(), "{format:?} rendered nothing");
            }
        }
    }

    /// A dense page (4,000 words, ~25,000 chars) must render in every format in well under the
    /// per-page budget; the bound is loose so that a slow machine does not fail it.
    #[test]
    fn dense_page_renders_quickly() {
        let mut doc = sample_document();
        let block = &mut doc.pages[0].blocks[0];
        let template = block.lines[0].clone();
        block.lines = vec![template; 800];
        let words: usize = doc.pages[0].lines().map(|l| l.words.len()).sum();
        assert_eq!(words, 4000 + 3);
        for format in TEXT_FORMATS {
            let start = std::time::Instant::now();
            let out = render(&doc, format).unwrap();
            let ms = start.elapsed().as_secs_f64() * 1e3;
            eprintln!(
                "{format:?}: {ms:.2} ms for {words} words, {} bytes",
                out.len()
            );
            assert!(ms < 500.0, "{format:?} took {ms:.1} ms");
        }
    }

    #[test]
    fn confidence_is_normalised() {
        assert_eq!(unit_confidence(f32::NAN), 0.0);
        assert_eq!(unit_confidence(-0.5), 0.0);
        assert_eq!(unit_confidence(1.5), 1.0);
        assert_eq!(unit_confidence(f32::INFINITY), 1.0);
        assert_eq!(unit_confidence(0.25), 0.25);
    }

    #[test]
    fn chars_must_spell_the_word() {
        let mut w = word("a€b", 0, 0, 0.9);
        assert!(chars_match_text(&w));
        w.chars[1].text = "x".into();
        assert!(!chars_match_text(&w));
        let mut w = word("ab", 0, 0, 0.9);
        w.chars[0].text = "ab".into();
        w.chars.pop();
        assert!(!chars_match_text(&w), "a two-scalar char must be rejected");
        let mut w = word("ab", 0, 0, 0.9);
        w.chars.pop();
        assert!(!chars_match_text(&w), "missing chars must be rejected");
        w.chars.clear();
        assert!(!chars_match_text(&w));
        let w = Word {
            text: "ab".into(),
            bbox: BBox::new(0, 0, 2, 2),
            confidence: 1.0,
            needs_review: false,
            chars: vec![
                Char {
                    text: "a".into(),
                    bbox: BBox::new(0, 0, 1, 2),
                    confidence: 1.0,
                },
                Char {
                    text: "b".into(),
                    bbox: BBox::new(1, 0, 2, 2),
                    confidence: 1.0,
                },
            ],
        };
        assert!(chars_match_text(&w));
    }

    #[test]
    fn wordless_lines_get_one_synthetic_word() {
        let doc = sample_document();
        let mut line = doc.pages[0].blocks[0].lines[0].clone();
        assert_eq!(line_words(&line).len(), line.words.len());
        line.words.clear();
        let words = line_words(&line);
        assert_eq!(words.len(), 1);
        assert_eq!(words[0].text, line.text);
        assert_eq!(words[0].bbox, line.bbox);
        line.text = "  ".into();
        assert!(line_words(&line).is_empty());
    }
}
