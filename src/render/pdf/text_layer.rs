//! The invisible text layer of a searchable PDF: one glyphless font whose every glyph is an
//! empty box half an em wide, and the page's words written in it in rendering mode 3
//! (invisible), each placed on its box and stretched (`Tz`) to the box's width, in reading
//! order, so that text selection, search and copy follow the lines of the scan.
//!
//! Character codes are two-byte CIDs numbered in order of first use across the document
//! ([`CodeTable`]); the font's ToUnicode map turns each back into its text, so any Unicode
//! character (accents, symbols, characters outside the BMP) copies out exactly.

use std::collections::HashMap;
use std::io::Write;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode, UnicodeCmap};
use pdf_writer::{Chunk, Content, Filter, Name, Rect, Ref, Str};

use crate::document::{Document, Page, Word};
use crate::geometry::BBox;
use crate::render::line_words;

/// Tesseract's GlyphLessFont (`tessdata/pdf.ttf`, Apache-2.0, by Ken Sharp for the Tesseract
/// project): a TrueType font of one empty glyph (GID 1) with an advance of 1024 / 2048 em.
const GLYPHLESS_TTF: &[u8] = include_bytes!("glyphless.ttf");
/// Advance of every glyph in text space units (thousandths of the font size).
const GLYPH_ADVANCE: f32 = 500.0;
/// The resource name of the font on every page.
pub(super) const FONT_NAME: Name<'static> = Name(b"F0");
/// The least gap, in font sizes, left between a word and the next on its row: pdftotext and
/// viewers join words closer than about a tenth of the font size.
const MIN_GAP_EM: f32 = 0.2;
/// The most distinct characters one document can carry (two-byte codes, 0 is unused).
const MAX_CODES: usize = u16::MAX as usize;

/// Two-byte character codes for every character the document's text uses.
pub(super) struct CodeTable {
    codes: HashMap<char, u16>,
    chars: Vec<char>,
}

impl CodeTable {
    /// Codes for the characters of every word of `doc`, in order of first use. Past
    /// [`MAX_CODES`] distinct characters the rest share the code of U+FFFD.
    pub(super) fn for_document(doc: &Document) -> Self {
        let mut table = CodeTable {
            codes: HashMap::new(),
            chars: Vec::new(),
        };
        table.code(' ');
        table.code('\u{FFFD}');
        for page in &doc.pages {
            for line in page.lines() {
                for word in line_words(line).iter() {
                    for c in word.text.chars() {
                        table.code(c);
                    }
                }
            }
        }
        table
    }

    /// The code of `c`, assigned on first use.
    fn code(&mut self, c: char) -> u16 {
        if let Some(&code) = self.codes.get(&c) {
            return code;
        }
        if self.chars.len() >= MAX_CODES - 1 {
            return self.codes.get(&'\u{FFFD}').copied().unwrap_or(1);
        }
        self.chars.push(c);
        let code = self.chars.len() as u16;
        self.codes.insert(c, code);
        code
    }

    /// `text` as big-endian two-byte codes (characters without a code as U+FFFD's).
    fn encode(&self, text: &str) -> Vec<u8> {
        let fallback = self.codes.get(&'\u{FFFD}').copied().unwrap_or(1);
        text.chars()
            .flat_map(|c| {
                self.codes
                    .get(&c)
                    .copied()
                    .unwrap_or(fallback)
                    .to_be_bytes()
            })
            .collect()
    }
}

/// Writes the Type 0 font (with its CIDFont, descriptor, embedded glyphless TrueType file,
/// CID-to-GID map and ToUnicode map) into `chunk` under `font`, taking ids from `next`.
pub(super) fn write_font(chunk: &mut Chunk, font: Ref, table: &CodeTable, next: &mut Ref) {
    let cid_font = next.bump();
    let descriptor = next.bump();
    let file = next.bump();
    let cid_map = next.bump();
    let to_unicode = next.bump();
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    chunk
        .type0_font(font)
        .base_font(Name(b"GlyphLessFont"))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_font)
        .to_unicode(to_unicode);
    chunk
        .cid_font(cid_font)
        .subtype(CidFontType::Type2)
        .base_font(Name(b"GlyphLessFont"))
        .system_info(system_info)
        .font_descriptor(descriptor)
        .default_width(GLYPH_ADVANCE)
        .cid_to_gid_map_stream(cid_map);
    chunk
        .font_descriptor(descriptor)
        .name(Name(b"GlyphLessFont"))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(0.0, 0.0, GLYPH_ADVANCE, 1000.0))
        .italic_angle(0.0)
        .ascent(1000.0)
        // Not 0: readers take a zero descent for a missing one and guess a deep descender.
        .descent(-1.0)
        .cap_height(1000.0)
        .stem_v(80.0)
        .font_file2(file);
    chunk
        .stream(file, GLYPHLESS_TTF)
        .pair(Name(b"Length1"), GLYPHLESS_TTF.len() as i32);
    // Every CID (0 ..= the last code) shows GID 1, the font's one empty glyph.
    let gids: Vec<u8> = (0..=table.chars.len()).flat_map(|_| [0u8, 1u8]).collect();
    chunk
        .stream(cid_map, &deflate(&gids))
        .filter(Filter::FlateDecode);
    let mut cmap = UnicodeCmap::new(Name(b"GlyphLessFont-UTF16"), system_info);
    for (i, &c) in table.chars.iter().enumerate() {
        cmap.pair(i as u16 + 1, c);
    }
    chunk.stream(to_unicode, &cmap.finish());
}

/// Maps boxes in the page's pixel coordinates (y down) into the PDF page's user space in
/// points (y up), and from there into the frame in which the text reads upright.
pub(super) struct PageFrame {
    /// Page width in points.
    pub width_pt: f32,
    /// Page height in points.
    pub height_pt: f32,
    /// Points per pixel, across and down.
    pub scale: (f32, f32),
    /// Clockwise turn (0, 90, 180, 270) that makes the page's text upright.
    pub rotation: u32,
}

impl PageFrame {
    /// The matrix that maps the upright frame (what the page shows once turned by
    /// `rotation`) back onto the page's user space: text is written upright under it.
    pub(super) fn upright_to_page(&self) -> [f32; 6] {
        let (w, h) = (self.width_pt, self.height_pt);
        match self.rotation {
            90 => [0.0, 1.0, -1.0, 0.0, w, 0.0],
            180 => [-1.0, 0.0, 0.0, -1.0, w, h],
            270 => [0.0, -1.0, 1.0, 0.0, 0.0, h],
            _ => [1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        }
    }

    /// `b` (pixels, y down) as `(x0, y0, x1, y1)` in points of the upright frame (y up).
    pub(super) fn upright_box(&self, b: &BBox) -> (f32, f32, f32, f32) {
        let (sx, sy) = self.scale;
        let (w, h) = (self.width_pt, self.height_pt);
        // Page user space, y up.
        let (x0, x1) = (b.x0 as f32 * sx, b.x1 as f32 * sx);
        let (y0, y1) = (h - b.y1 as f32 * sy, h - b.y0 as f32 * sy);
        let map = |x: f32, y: f32| match self.rotation {
            90 => (y, w - x),
            180 => (w - x, h - y),
            270 => (h - y, x),
            _ => (x, y),
        };
        let (ax, ay) = map(x0, y0);
        let (bx, by) = map(x1, y1);
        (ax.min(bx), ay.min(by), ax.max(bx), ay.max(by))
    }
}

/// The lines of `page` grouped into rows as its plain text joins them ([`Page::same_row`]: a
/// receipt item and its price, a label and its value), each line's words (a line without word
/// segmentation as one word).
fn rows(page: &Page) -> Vec<Vec<std::borrow::Cow<'_, [Word]>>> {
    let mut rows: Vec<Vec<_>> = Vec::new();
    for block in &page.blocks {
        let mut prev: Option<&crate::document::Line> = None;
        for line in &block.lines {
            match (prev, rows.last_mut()) {
                (Some(p), Some(row)) if page.same_row(p, line) => row.push(line_words(line)),
                _ => rows.push(vec![line_words(line)]),
            }
            prev = Some(line);
        }
    }
    rows
}

/// The content that writes `page`'s words invisibly, in reading order. Each row of text (a
/// line, or the lines plain text joins into one) is written on one flat baseline (the median of its words' lower edges) in one font size (the median
/// height of its words), as Tesseract does for small tilts: a baseline that wanders from word
/// to word makes readers (pdftotext, viewers' selection) split the line. Each word starts at
/// its box's left edge and is stretched (`Tz`) to its box's width; a space between two words
/// is stretched over the gap to the next word, so copied text has its spaces.
pub(super) fn write_words(
    content: &mut Content,
    page: &Page,
    frame: &PageFrame,
    table: &CodeTable,
) {
    content.save_state();
    content.transform(frame.upright_to_page());
    content.begin_text();
    content.set_text_rendering_mode(TextRenderingMode::Invisible);
    for row in rows(page) {
        let words: Vec<&Word> = row.iter().flat_map(|w| w.iter()).collect();
        let boxes: Vec<_> = words.iter().map(|w| frame.upright_box(&w.bbox)).collect();
        let median = |mut v: Vec<f32>| {
            v.sort_by(f32::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let size = median(boxes.iter().map(|b| b.3 - b.1).collect())
            .unwrap_or(0.0)
            .max(1.0);
        let baseline = median(boxes.iter().map(|b| b.1).collect()).unwrap_or(0.0);
        content.set_font(FONT_NAME, size);
        for (i, word) in words.iter().enumerate() {
            if word.text.is_empty() {
                continue;
            }
            let (x0, _, mut x1, _) = boxes[i];
            let em = GLYPH_ADVANCE / 1000.0 * size;
            let stretch = |width: f32, chars: usize| 100.0 * width.max(0.1) / (chars as f32 * em);
            // Readers find word breaks by the gap before the next word: words whose boxes
            // touch or overlap end a little early, keeping at least half their width.
            let next = boxes.get(i + 1).map(|b| b.0);
            if let Some(n) = next {
                x1 = x1.min(n - MIN_GAP_EM * size).max(x0 + (x1 - x0) / 2.0);
            }
            content.set_text_matrix([1.0, 0.0, 0.0, 1.0, x0, baseline]);
            content.set_horizontal_scaling(stretch(x1 - x0, word.text.chars().count()));
            content.show(Str(&table.encode(&word.text)));
            // The space to the next word on its own, so the word's box stays the word's.
            if let Some(n) = next {
                content.set_horizontal_scaling(stretch(n - x1, 1));
                content.show(Str(&table.encode(" ")));
            }
        }
    }
    content.end_text();
    content.restore_state();
}

/// `data` compressed with zlib (PDF's FlateDecode).
pub(super) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::sample_document;

    fn frame(rotation: u32) -> PageFrame {
        PageFrame {
            width_pt: 200.0,
            height_pt: 100.0,
            scale: (0.5, 0.5),
            rotation,
        }
    }

    /// Applies a PDF matrix to a point.
    fn apply(m: [f32; 6], (x, y): (f32, f32)) -> (f32, f32) {
        (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
    }

    #[test]
    fn upright_boxes_map_back_onto_the_page_box() {
        // A box 20..60 x 10..30 px = 10..30 x 5..15 pt, y up: 10..30 x 85..95 pt.
        let b = BBox::new(20, 10, 60, 30);
        for rotation in [0, 90, 180, 270] {
            let f = frame(rotation);
            let (x0, y0, x1, y1) = f.upright_box(&b);
            let m = f.upright_to_page();
            let (ax, ay) = apply(m, (x0, y0));
            let (bx, by) = apply(m, (x1, y1));
            let page = (ax.min(bx), ay.min(by), ax.max(bx), ay.max(by));
            assert_eq!(page, (10.0, 85.0, 30.0, 95.0), "rotation {rotation}");
        }
        // Turned by 90° clockwise for display, the page's left edge becomes the top.
        let (_, _, _, y1) = frame(90).upright_box(&BBox::new(0, 0, 2, 200));
        assert_eq!(y1, 200.0);
    }

    #[test]
    fn every_character_gets_a_code_and_round_trips() {
        let mut doc = sample_document();
        doc.pages[0].blocks[0].lines[0].words[0].text = "Grüße 𝄞".into();
        let table = CodeTable::for_document(&doc);
        let codes = table.encode("Grüße 𝄞");
        assert_eq!(codes.len(), 2 * "Grüße 𝄞".chars().count());
        let back: String = codes
            .chunks(2)
            .map(|c| table.chars[usize::from(u16::from_be_bytes([c[0], c[1]])) - 1])
            .collect();
        assert_eq!(back, "Grüße 𝄞");
        // A character the document never used is written as U+FFFD, never dropped.
        let unknown = table.encode("\u{4E00}");
        let code = usize::from(u16::from_be_bytes([unknown[0], unknown[1]]));
        assert_eq!(table.chars[code - 1], '\u{FFFD}');
    }
}
