//! The data model the pipeline produces: Document > Page > Block > Line > Word > Char.
//!
//! Every level carries a bounding box in the **original page's pixel coordinates** (the decoded
//! image before orientation and skew correction, so boxes overlay the file the user sent) and a
//! confidence in `0..=1`. Confidence aggregation (see `docs/ARCHITECTURE.md`):
//! - char: the CTC posterior of the character at its peak frame;
//! - word: the product of its chars' confidences (the probability that every char is right,
//!   assuming independence), so one doubtful char makes the word doubtful;
//! - line, block, page: the mean of their words' confidences weighted by word length in chars.
//!
//! This module is pure data: serialisable with serde (the JSON output format is this structure,
//! documented in `docs/JSON.md`).

use serde::{Deserialize, Serialize};

use crate::geometry::BBox;

/// One recognised character.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Char {
    /// The character (one Unicode scalar).
    pub text: String,
    /// Box in page pixels.
    pub bbox: BBox,
    /// Posterior probability of this character, 0..1.
    pub confidence: f32,
}

/// One word: a maximal run of non-space characters in a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The word's text.
    pub text: String,
    /// Box in page pixels.
    pub bbox: BBox,
    /// Product of its characters' confidences.
    pub confidence: f32,
    /// True when `confidence` is below the configured review threshold.
    pub needs_review: bool,
    /// The characters, left to right.
    pub chars: Vec<Char>,
}

/// The text of a line made of `words`: their texts joined by single spaces.
pub fn words_text(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One text line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The line's text, words joined by single spaces.
    pub text: String,
    /// Box in page pixels.
    pub bbox: BBox,
    /// Char-weighted mean of its words' confidences.
    pub confidence: f32,
    /// True when `confidence` is below the configured review threshold.
    pub needs_review: bool,
    /// The words, left to right.
    pub words: Vec<Word>,
}

/// A block of lines (a column piece or a paragraph), the unit of reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Box in page pixels.
    pub bbox: BBox,
    /// Char-weighted mean of its words' confidences.
    pub confidence: f32,
    /// The lines, top to bottom.
    pub lines: Vec<Line>,
}

/// Wall-clock time spent in each stage for one page, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTimings {
    /// Decoding the page (a share of the file's decode time for multi-page files).
    pub decode_ms: f64,
    /// Grayscale, contrast, orientation, deskew, binarisation, cleaning.
    pub preprocess_ms: f64,
    /// Line, word and block detection and reading order.
    pub layout_ms: f64,
    /// Line normalisation and the recogniser.
    pub recognize_ms: f64,
    /// Building this structure.
    pub assemble_ms: f64,
}

/// One page of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// 0-based page index within the document.
    pub index: usize,
    /// Width of the decoded page in pixels.
    pub width: u32,
    /// Height of the decoded page in pixels.
    pub height: u32,
    /// Resolution, when the file states one (PDF pages are rendered at 300 DPI).
    pub dpi: Option<f32>,
    /// The EXIF orientation tag (2-8) applied when the file was decoded, before anything else
    /// (`width`/`height` and all boxes are of the image as the tag makes it upright); `None`
    /// when the file had none, or 1.
    pub exif_orientation: Option<u8>,
    /// Clockwise rotation in degrees (0, 90, 180, 270) that was applied to make text upright.
    pub rotation: u32,
    /// Estimated skew angle in degrees that was corrected (positive = counter-clockwise text).
    pub skew_degrees: f32,
    /// Char-weighted mean of the page's word confidences: 1.0 for a blank page (no text lines
    /// found), 0.0 for a page whose text lines all read as nothing.
    pub confidence: f32,
    /// True when any line on the page needs review, or text lines were found and none read.
    pub needs_review: bool,
    /// Where the page's text comes from: OCR of its pixels, or a PDF's own text layer.
    #[serde(default)]
    pub source: PageSource,
    /// Blocks in reading order.
    pub blocks: Vec<Block>,
    /// Per-stage timings.
    pub timings: StageTimings,
}

/// Where a page's text comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageSource {
    /// Recognised from the page's pixels.
    #[default]
    Ocr,
    /// Read from the PDF page's own text layer (see `text_layer`): exact text, confidence 1.
    PdfText,
}

/// A whole input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Where the document came from (a file name), if known.
    pub source: Option<String>,
    /// Pages in file order.
    pub pages: Vec<Page>,
}

impl Page {
    /// All lines of the page in reading order.
    pub fn lines(&self) -> impl Iterator<Item = &Line> {
        self.blocks.iter().flat_map(|b| b.lines.iter())
    }

    /// Plain text of the page: lines in reading order, blank line between blocks. Pieces of one
    /// row of a block (a receipt item and its price, a form label and its value: layout lines
    /// split at a wide gap) share one text line, separated by a space.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (i, block) in self.blocks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let mut prev: Option<&Line> = None;
            for line in &block.lines {
                if let Some(p) = prev {
                    if self.same_row(p, line) {
                        out.push(' ');
                    } else {
                        out.push('\n');
                    }
                }
                out.push_str(&line.text);
                prev = Some(line);
            }
            if prev.is_some() {
                out.push('\n');
            }
        }
        out
    }

    /// Whether `b`, read after `a`, continues `a`'s row: their boxes overlap across the text
    /// direction by at least half the smaller extent and `b` starts after `a` ends along it.
    /// Boxes are in the unrotated page's pixels, so the text direction follows `rotation`.
    pub fn same_row(&self, a: &Line, b: &Line) -> bool {
        let (a, b) = (a.bbox, b.bbox);
        // A clockwise turn of 90 made the page upright: its reading direction is up the
        // unrotated page, its rows are the unrotated page's columns; and so on.
        let (across_a, across_b, follows) = match self.rotation % 360 {
            90 => ((a.x0, a.x1), (b.x0, b.x1), b.y1 <= a.y0),
            180 => ((a.y0, a.y1), (b.y0, b.y1), b.x1 <= a.x0),
            270 => ((a.x0, a.x1), (b.x0, b.x1), b.y0 >= a.y1),
            _ => ((a.y0, a.y1), (b.y0, b.y1), b.x0 >= a.x1),
        };
        let overlap = across_a
            .1
            .min(across_b.1)
            .saturating_sub(across_a.0.max(across_b.0));
        let smaller =
            (across_a.1.saturating_sub(across_a.0)).min(across_b.1.saturating_sub(across_b.0));
        smaller > 0 && 2 * overlap >= smaller && follows
    }
}

impl Document {
    /// Plain text of all pages, pages separated by a form feed line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (i, page) in self.pages.iter().enumerate() {
            if i > 0 {
                out.push_str("\u{c}\n");
            }
            out.push_str(&page.text());
        }
        out
    }
}

/// Confidence-weighted aggregation shared by lines, blocks and pages: the mean of word
/// confidences weighted by each word's length in characters; `1.0` when there are no words.
pub fn weighted_confidence<'a>(words: impl IntoIterator<Item = &'a Word>) -> f32 {
    let (mut sum, mut weight) = (0.0f64, 0.0f64);
    for w in words {
        let n = w.chars.len().max(1) as f64;
        sum += w.confidence as f64 * n;
        weight += n;
    }
    if weight == 0.0 {
        1.0
    } else {
        (sum / weight) as f32
    }
}
