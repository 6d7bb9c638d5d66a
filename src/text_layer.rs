//! Pages read from a PDF's own text layer instead of by OCR (`--pdf-text`, `pdf_text=`).
//!
//! A born-digital PDF already holds its exact text; re-reading its rendered pixels can only
//! lose accents and symbols. [`use_text_layer`] decides per page; [`page_from_text_layer`]
//! builds the page's blocks, lines, words and characters from the glyphs (boxes in the
//! rendered page's pixels, confidence 1.0, the page's `source` = `pdf_text`):
//! - **lines**: consecutive glyphs (in content order) that share a row: each glyph's vertical
//!   middle inside the line's band and not far back to the left of where the line ends;
//! - **words**: split at space glyphs and where a glyph's pen position lies more than
//!   [`WORD_GAP_EM`] of its font size past the previous glyph's ink (PDFs often position
//!   words without writing a space);
//! - **blocks**: consecutive lines whose gap is under one line height and that overlap across.

use crate::decode::{DecodedPage, TextGlyph, TextLayer};
use crate::document::{Block, Char, Line, Page, PageSource, StageTimings, Word};
use crate::geometry::BBox;

/// Where a PDF page's text comes from.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PdfTextMode {
    /// The text layer where it covers the page with visible, mapped text and no image fills
    /// the page (a scan with a stamp on it is read by OCR); OCR otherwise.
    #[default]
    Auto,
    /// Always OCR the rendered page.
    Ocr,
    /// The text layer whenever the page has one, visible or not (an earlier OCR layer too).
    Use,
}

/// A gap, in ems, between a glyph's ink and the next glyph's pen position that starts a new
/// word: under the narrowest spaces (0.25 em in Times) and over the widest right side bearings
/// of letters and digits (Helvetica's "1": 0.2 em).
pub const WORD_GAP_EM: f32 = 0.22;
/// Visible mapped characters (not spaces) a page needs for `auto` to take its text layer.
const MIN_LAYER_CHARS: usize = 20;
/// Largest share of shown glyphs without a Unicode mapping that `auto` accepts.
const MAX_UNMAPPED_SHARE: f32 = 0.1;
/// An image covering at least this share of the page makes it a scan for `auto`.
const SCAN_IMAGE_COVER: f32 = 0.5;

/// Whether a page with `layer` is read from it under `mode`.
pub fn use_text_layer(layer: &TextLayer, mode: PdfTextMode) -> bool {
    let chars = |visible_only: bool| {
        layer
            .glyphs
            .iter()
            .filter(|g| (g.visible || !visible_only) && !g.text.trim().is_empty())
            .count()
    };
    match mode {
        PdfTextMode::Ocr => false,
        PdfTextMode::Use => chars(false) > 0,
        PdfTextMode::Auto => {
            let shown = chars(true);
            shown >= MIN_LAYER_CHARS
                && (layer.unmapped as f32) <= MAX_UNMAPPED_SHARE * (shown + layer.unmapped) as f32
                && layer.image_cover < SCAN_IMAGE_COVER
        }
    }
}

/// The page of `decoded` built from its text layer (see the module docs), or `None` when the
/// page has none or `mode` says OCR.
pub fn page_from_text_layer(
    decoded: &DecodedPage,
    mode: PdfTextMode,
    decode_ms: f64,
) -> Option<Page> {
    let layer = decoded.text_layer.as_ref()?;
    if !use_text_layer(layer, mode) {
        return None;
    }
    let (width, height) = (decoded.image.width(), decoded.image.height());
    let glyphs: Vec<&TextGlyph> = layer
        .glyphs
        .iter()
        .filter(|g| g.visible || mode == PdfTextMode::Use)
        .collect();
    let lines: Vec<Line> = group_lines(&glyphs)
        .iter()
        .filter_map(|l| line_of(l, width, height))
        .collect();
    let blocks = group_blocks(lines);
    Some(Page {
        index: decoded.index,
        width,
        height,
        dpi: decoded.dpi,
        exif_orientation: None,
        rotation: 0,
        skew_degrees: 0.0,
        confidence: 1.0,
        needs_review: false,
        source: PageSource::PdfText,
        blocks,
        timings: StageTimings {
            decode_ms,
            ..Default::default()
        },
    })
}

/// Glyph runs that share a row, in content order: a glyph joins the current line when its
/// baseline is within a third of the line's height of the line's and it does not start far
/// back to the left of where the line has got to.
fn group_lines<'g>(glyphs: &[&'g TextGlyph]) -> Vec<Vec<&'g TextGlyph>> {
    let mut lines: Vec<Vec<&TextGlyph>> = Vec::new();
    // Baseline, height and right edge of the current line.
    let (mut base, mut height, mut right) = (0.0f32, 1.0f32, 0.0f32);
    for &g in glyphs {
        let [x0, y0, x1, y1] = g.bbox;
        let joins = !lines.is_empty()
            && (g.origin[1] - base).abs() <= height / 3.0
            && x0 >= right - 2.0 * height;
        if let Some(line) = lines.last_mut().filter(|_| joins) {
            line.push(g);
            height = height.max(y1 - y0);
            right = right.max(x1);
        } else if !g.text.trim().is_empty() {
            lines.push(vec![g]);
            (base, height, right) = (g.origin[1], (y1 - y0).max(1.0), x1);
        }
        // (A space that starts no line is dropped.)
    }
    lines
}

/// A line from its glyphs: words split at spaces and wide gaps; `None` when no word is left.
fn line_of(glyphs: &[&TextGlyph], width: u32, height: u32) -> Option<Line> {
    let mut words: Vec<Vec<&TextGlyph>> = vec![Vec::new()];
    let mut last_x1: Option<f32> = None;
    for &g in glyphs {
        if g.text.trim().is_empty() {
            words.push(Vec::new());
            last_x1 = None;
            continue;
        }
        // The gap from the last glyph's ink to this glyph's pen position (its origin): ink
        // gaps mislead at narrow punctuation, whose side bearings are wide.
        if let Some(x1) = last_x1
            && g.origin[0] - x1 > WORD_GAP_EM * g.em.max(1.0)
        {
            words.push(Vec::new());
        }
        if let Some(w) = words.last_mut() {
            w.push(g);
        }
        last_x1 = Some(g.bbox[2]);
    }
    let words: Vec<Word> = words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| word_of(w, width, height))
        .collect();
    if words.is_empty() {
        return None;
    }
    let bbox = BBox::union_all(words.iter().map(|w| &w.bbox))?;
    Some(Line {
        text: crate::document::words_text(&words),
        bbox,
        confidence: 1.0,
        needs_review: false,
        words,
    })
}

fn word_of(glyphs: &[&TextGlyph], width: u32, height: u32) -> Word {
    let chars: Vec<Char> = glyphs
        .iter()
        .flat_map(|g| {
            // A ligature glyph ("ﬁ" mapped to "fi") shares its box among its letters.
            let letters: Vec<char> = g.text.chars().filter(|c| !c.is_control()).collect();
            let n = letters.len().max(1) as f32;
            let [x0, y0, x1, y1] = g.bbox;
            letters.into_iter().enumerate().map(move |(i, c)| Char {
                text: c.to_string(),
                bbox: pixel_box(
                    [
                        x0 + (x1 - x0) * i as f32 / n,
                        y0,
                        x0 + (x1 - x0) * (i + 1) as f32 / n,
                        y1,
                    ],
                    width,
                    height,
                ),
                confidence: 1.0,
            })
        })
        .collect();
    let bbox = BBox::union_all(chars.iter().map(|c| &c.bbox)).unwrap_or_default();
    Word {
        text: chars.iter().map(|c| c.text.as_str()).collect(),
        bbox,
        confidence: 1.0,
        needs_review: false,
        chars,
    }
}

/// A box in whole pixels inside the page, at least one pixel wide and high.
fn pixel_box([x0, y0, x1, y1]: [f32; 4], width: u32, height: u32) -> BBox {
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max.saturating_sub(1));
    let (x0, y0) = (clamp(x0.floor(), width), clamp(y0.floor(), height));
    let (x1, y1) = (
        (x1.ceil().max(0.0) as u32).clamp(x0 + 1, width.max(x0 + 1)),
        (y1.ceil().max(0.0) as u32).clamp(y0 + 1, height.max(y0 + 1)),
    );
    BBox::new(x0, y0, x1, y1)
}

/// Consecutive lines that are close below each other and overlap across share a block.
fn group_blocks(lines: Vec<Line>) -> Vec<Block> {
    let mut blocks: Vec<Vec<Line>> = Vec::new();
    for line in lines {
        let joins = blocks.last().and_then(|b| b.last()).is_some_and(|prev| {
            let gap = line.bbox.y0 as i64 - prev.bbox.y1 as i64;
            let h = prev.bbox.height().max(line.bbox.height()) as i64;
            gap >= -h / 2 && gap < h && prev.bbox.horizontal_overlap(&line.bbox) > 0
        });
        match blocks.last_mut() {
            Some(b) if joins => b.push(line),
            _ => blocks.push(vec![line]),
        }
    }
    blocks
        .into_iter()
        .map(|lines| Block {
            bbox: BBox::union_all(lines.iter().map(|l| &l.bbox)).unwrap_or_default(),
            confidence: 1.0,
            lines,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A glyph whose baseline is at 22 (first line) or 42 (second).
    fn glyph(text: &str, x0: f32, y0: f32, w: f32, h: f32) -> TextGlyph {
        TextGlyph {
            text: text.into(),
            bbox: [x0, y0, x0 + w, y0 + h],
            origin: [x0, if y0 < 25.0 { 22.0 } else { 42.0 }],
            em: 12.0,
            visible: true,
        }
    }

    /// "Grüße an" on one line, "alle" on the next; a wide gap splits words without a space.
    fn layer() -> TextLayer {
        let mut glyphs = Vec::new();
        let mut x = 10.0;
        for c in ["G", "r", "ü", "ß", "e"] {
            glyphs.push(glyph(c, x, 10.0, 8.0, 12.0));
            x += 9.0;
        }
        glyphs.push(glyph(" ", x, 22.0, 0.0, 0.0));
        glyphs.push(glyph("a", x + 5.0, 13.0, 8.0, 9.0));
        glyphs.push(glyph("n", x + 14.0, 13.0, 8.0, 9.0));
        for (i, c) in ["a", "l", "l", "e"].iter().enumerate() {
            glyphs.push(glyph(c, 10.0 + 9.0 * i as f32, 30.0, 8.0, 12.0));
        }
        glyphs.push(glyph("x", 200.0, 30.0, 8.0, 12.0));
        TextLayer {
            glyphs,
            unmapped: 0,
            image_cover: 0.0,
        }
    }

    fn page(layer: TextLayer) -> DecodedPage {
        DecodedPage {
            index: 0,
            image: image::DynamicImage::ImageLuma8(image::GrayImage::new(300, 100)),
            dpi: Some(300.0),
            exif_orientation: None,
            text_layer: Some(layer),
        }
    }

    #[test]
    fn glyphs_become_lines_words_and_exact_characters() {
        let p = page_from_text_layer(&page(layer()), PdfTextMode::Use, 0.0).unwrap();
        assert_eq!(p.source, PageSource::PdfText);
        assert_eq!(p.text(), "Grüße an\nalle x\n");
        let words: Vec<_> = p.lines().flat_map(|l| l.words.iter()).collect();
        assert_eq!(words[0].bbox, BBox::new(10, 10, 54, 22));
        assert_eq!(words[0].chars.len(), 5);
        assert!(words.iter().all(|w| w.confidence == 1.0));
    }

    #[test]
    fn auto_takes_visible_mapped_text_and_leaves_scans_to_ocr() {
        let mut l = layer();
        assert!(!use_text_layer(&l, PdfTextMode::Auto), "too few characters");
        let more: Vec<_> = l.glyphs.clone();
        l.glyphs.extend(more.iter().cloned());
        l.glyphs.extend(more);
        assert!(use_text_layer(&l, PdfTextMode::Auto));
        assert!(!use_text_layer(&l, PdfTextMode::Ocr));
        let mut scan = l.clone();
        scan.image_cover = 0.9;
        assert!(
            !use_text_layer(&scan, PdfTextMode::Auto),
            "a scan with a stamp"
        );
        let mut hidden = l.clone();
        hidden.glyphs.iter_mut().for_each(|g| g.visible = false);
        assert!(!use_text_layer(&hidden, PdfTextMode::Auto), "an OCR layer");
        assert!(use_text_layer(&hidden, PdfTextMode::Use));
        let mut garbled = l;
        garbled.unmapped = 40;
        assert!(!use_text_layer(&garbled, PdfTextMode::Auto));
        let no_layer = DecodedPage {
            text_layer: None,
            ..page(TextLayer::default())
        };
        assert!(page_from_text_layer(&no_layer, PdfTextMode::Use, 0.0).is_none());
    }
}
