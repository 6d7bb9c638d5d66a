//! Assemble stage: layout + recognised lines -> [`Page`] with words, characters, boxes in the
//! original image's pixels, and confidences at every level.
//!
//! Character boxes come from the CTC alignment: a character spans from halfway between the
//! previous character's last frame and its own first frame to halfway to the next character,
//! clamped to the line's ink box; its height is the line's. Words are maximal runs of non-space
//! characters. Confidence aggregation is documented in [`crate::document`].

use crate::document::{Block, Char, Line, Page, StageTimings, Word, weighted_confidence};
use crate::geometry::BBox;
use crate::layout::PageLayout;
use crate::preprocess::PageTransform;
use crate::recognize::{LineImage, LineText, WIDTH_MULTIPLE};

/// Split a recognised line into (word, confidence) pairs; word confidence is the product of its
/// characters' confidences.
pub fn split_words(line: &LineText) -> Vec<(String, f32)> {
    let mut out = Vec::new();
    let (mut word, mut conf) = (String::new(), 1.0f32);
    for c in &line.chars {
        if c.ch == ' ' {
            if !word.is_empty() {
                out.push((std::mem::take(&mut word), conf));
            }
            conf = 1.0;
        } else {
            word.push(c.ch);
            conf *= c.confidence;
        }
    }
    if !word.is_empty() {
        out.push((word, conf));
    }
    out
}

/// Character boxes of one line in prepared-page pixels (one per char of `text.chars`).
fn char_boxes(image: &LineImage, text: &LineText) -> Vec<BBox> {
    let m = WIDTH_MULTIPLE as f32;
    let ink = image.ink_box;
    let n = text.chars.len();
    (0..n)
        .map(|i| {
            let c = &text.chars[i];
            let start = c.first_frame as f32 * m;
            let end = (c.last_frame + 1) as f32 * m;
            let left = if i == 0 {
                start - m
            } else {
                ((text.chars[i - 1].last_frame + 1) as f32 * m + start) / 2.0
            };
            let right = if i + 1 == n {
                end + m
            } else {
                (end + text.chars[i + 1].first_frame as f32 * m) / 2.0
            };
            let x0 = image
                .column_to_page_x(left)
                .round()
                .clamp(ink.x0 as f32, ink.x1 as f32) as u32;
            let x1 = image
                .column_to_page_x(right)
                .round()
                .clamp(ink.x0 as f32, ink.x1 as f32) as u32;
            BBox::new(x0, ink.y0, x1.max(x0 + 1).min(ink.x1.max(x0 + 1)), ink.y1)
        })
        .collect()
}

/// Build one [`Line`] (boxes mapped to the original image); `None` when nothing was read.
pub fn assemble_line(
    image: &LineImage,
    text: &LineText,
    line_box: BBox,
    transform: &PageTransform,
    review_threshold: f32,
) -> Option<Line> {
    let boxes = char_boxes(image, text);
    let mut words: Vec<Word> = Vec::new();
    let mut current: Vec<Char> = Vec::new();
    let flush = |chars: &mut Vec<Char>, words: &mut Vec<Word>| {
        if chars.is_empty() {
            return;
        }
        let chars = std::mem::take(chars);
        let text: String = chars.iter().map(|c| c.text.as_str()).collect();
        let confidence = chars.iter().map(|c| c.confidence).product::<f32>();
        let bbox = BBox::union_all(chars.iter().map(|c| &c.bbox)).unwrap_or_default();
        words.push(Word {
            text,
            bbox,
            confidence,
            needs_review: confidence < review_threshold,
            chars,
        });
    };
    for (c, b) in text.chars.iter().zip(boxes) {
        if c.ch == ' ' {
            flush(&mut current, &mut words);
        } else {
            current.push(Char {
                text: c.ch.to_string(),
                bbox: transform.map_box(b),
                confidence: c.confidence,
            });
        }
    }
    flush(&mut current, &mut words);
    if words.is_empty() {
        return None;
    }
    let confidence = weighted_confidence(&words);
    Some(Line {
        text: crate::document::words_text(&words),
        bbox: transform.map_box(line_box),
        confidence,
        needs_review: confidence < review_threshold,
        words,
    })
}

/// A line under this confidence that holds no run of two letters or digits is noise (a
/// checkbox edge, a rule fragment, specks, a scribble read as `! - ( _ i`) and is left out of
/// the page. On the 200 dev + tune pages such lines averaged 0.32: leaving out those under
/// 0.2, 0.35, 0.5, 0.65 or 0.8 took tune CER-ci from 0.151 to 0.147, 0.143, 0.142, 0.142, 0.142
/// (dev 0.127 to 0.122-0.117) and BoW F1-ci up by 0.005-0.015; leaving out every such line,
/// confident initials and item numbers ("B.", "4.2") included, did worse (docs/BENCHMARKS.md).
pub const NOISE_LINE_CONFIDENCE: f32 = 0.5;

/// True when `line` is noise by [`NOISE_LINE_CONFIDENCE`]'s rule.
pub fn is_noise(line: &Line) -> bool {
    if line.confidence >= NOISE_LINE_CONFIDENCE {
        return false;
    }
    let mut run = 0;
    for c in line.text.chars() {
        run = if c.is_alphanumeric() { run + 1 } else { 0 };
        if run >= 2 {
            return false;
        }
    }
    true
}

/// Everything [`assemble_page`] needs besides the recognised lines.
pub struct PageContext<'a> {
    /// 0-based page index.
    pub index: usize,
    /// Resolution of the decoded page, when known.
    pub dpi: Option<f32>,
    /// The EXIF orientation the decoder applied (2-8), if any.
    pub exif_orientation: Option<u8>,
    /// Mapping from prepared-page pixels to the original image.
    pub transform: &'a PageTransform,
    /// The page's layout (blocks in reading order).
    pub layout: &'a PageLayout,
    /// Confidence under which words and lines are flagged `needs_review`.
    pub review_threshold: f32,
    /// Stage timings measured so far.
    pub timings: StageTimings,
}

/// Build the [`Page`]; `images` and `texts` follow the layout's lines in reading order. Lines
/// that read as noise ([`is_noise`]) are left out.
pub fn assemble_page(ctx: PageContext<'_>, images: &[LineImage], texts: &[LineText]) -> Page {
    let t0 = std::time::Instant::now();
    let mut k = 0usize;
    let mut blocks = Vec::new();
    for lb in &ctx.layout.blocks {
        let mut lines = Vec::new();
        for ll in &lb.lines {
            if let (Some(img), Some(txt)) = (images.get(k), texts.get(k))
                && let Some(line) =
                    assemble_line(img, txt, ll.bbox, ctx.transform, ctx.review_threshold)
                && !is_noise(&line)
            {
                lines.push(line);
            }
            k += 1;
        }
        if lines.is_empty() {
            continue;
        }
        let confidence = weighted_confidence(lines.iter().flat_map(|l| l.words.iter()));
        blocks.push(Block {
            bbox: BBox::union_all(lines.iter().map(|l| &l.bbox)).unwrap_or_default(),
            confidence,
            lines,
        });
    }
    let all_words = blocks
        .iter()
        .flat_map(|b| b.lines.iter())
        .flat_map(|l| l.words.iter());
    let mut confidence = weighted_confidence(all_words);
    let mut needs_review = blocks
        .iter()
        .flat_map(|b| b.lines.iter())
        .any(|l| l.needs_review);
    // Ink the layout took for text, and nothing read from it: not a confident blank page.
    let found_lines = ctx.layout.blocks.iter().any(|b| !b.lines.is_empty());
    if found_lines && blocks.is_empty() {
        confidence = 0.0;
        needs_review = true;
    }
    let mut timings = ctx.timings;
    timings.assemble_ms = t0.elapsed().as_secs_f64() * 1000.0;
    Page {
        index: ctx.index,
        width: ctx.transform.original_width,
        height: ctx.transform.original_height,
        dpi: ctx.dpi,
        exif_orientation: ctx.exif_orientation,
        rotation: ctx.transform.rotation,
        skew_degrees: ctx.transform.skew_degrees,
        confidence,
        needs_review,
        source: crate::document::PageSource::Ocr,
        blocks,
        timings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recognize::RecognizedChar;

    fn text(s: &str, conf: f32) -> LineText {
        LineText {
            text: s.to_string(),
            chars: s
                .chars()
                .enumerate()
                .map(|(i, ch)| RecognizedChar {
                    ch,
                    confidence: conf,
                    first_frame: 2 * i + 1,
                    last_frame: 2 * i + 1,
                })
                .collect(),
            frames: 2 * s.len() + 2,
        }
    }

    #[test]
    fn words_and_confidences() {
        let t = text("ab cd", 0.9);
        let w = split_words(&t);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].0, "ab");
        assert!((w[0].1 - 0.81).abs() < 1e-6);
    }

    #[test]
    fn line_boxes_are_ordered_and_inside_the_line() {
        let img = LineImage::from_pixels(48, vec![0.0; 32 * 48]);
        let id = PageTransform {
            original_width: 100,
            original_height: 100,
            rotation: 0,
            skew_degrees: 0.0,
            scale: 1.0,
            width: 100,
            height: 100,
        };
        let line =
            assemble_line(&img, &text("ab cd", 0.5), BBox::new(0, 0, 48, 32), &id, 0.6).unwrap();
        assert_eq!(line.text, "ab cd");
        assert_eq!(line.words.len(), 2);
        assert!(line.needs_review && line.words[0].needs_review);
        let xs: Vec<u32> = line
            .words
            .iter()
            .flat_map(|w| w.chars.iter().map(|c| c.bbox.x0))
            .collect();
        assert!(xs.windows(2).all(|p| p[0] <= p[1]), "{xs:?}");
        for w in &line.words {
            assert!(w.bbox.x1 <= 48 && w.bbox.y1 <= 32);
        }
        assert!((line.confidence - 0.25).abs() < 1e-6);
    }

    #[test]
    fn inked_page_read_as_nothing_is_flagged_not_confident() {
        use crate::layout::{LayoutBlock, LayoutLine, PageLayout};
        let id = PageTransform {
            original_width: 200,
            original_height: 80,
            rotation: 0,
            skew_degrees: 0.0,
            scale: 1.0,
            width: 200,
            height: 80,
        };
        let bbox = BBox::new(10, 20, 190, 60);
        let inked = PageLayout {
            blocks: vec![LayoutBlock {
                bbox,
                lines: vec![LayoutLine {
                    bbox,
                    words: vec![bbox],
                    char_height: 30.0,
                }],
            }],
            char_height: 30.0,
        };
        let ctx = |layout| PageContext {
            index: 0,
            dpi: None,
            exif_orientation: None,
            transform: &id,
            layout,
            review_threshold: 0.6,
            timings: StageTimings::default(),
        };
        let img = LineImage::from_pixels(48, vec![0.0; 32 * 48]);
        let page = assemble_page(ctx(&inked), std::slice::from_ref(&img), &[text("", 0.9)]);
        assert!(page.blocks.is_empty());
        assert_eq!((page.confidence, page.needs_review), (0.0, true));
        // A blank page (no text lines found) stays confident.
        let blank = PageLayout::default();
        let page = assemble_page(ctx(&blank), &[], &[]);
        assert_eq!((page.confidence, page.needs_review), (1.0, false));
        // A line read normally keeps the word-based figures.
        let page = assemble_page(ctx(&inked), std::slice::from_ref(&img), &[text("ok", 0.9)]);
        assert!((page.confidence - 0.81).abs() < 1e-6 && !page.needs_review);
        // Marks read as a few unsure symbols are noise; the page is then as if read as nothing.
        let page = assemble_page(ctx(&inked), std::slice::from_ref(&img), &[text("! -", 0.3)]);
        assert!(page.blocks.is_empty() && page.needs_review);
        // Sure symbols, an unsure word of two letters, and an initial read clearly stay.
        for (s, conf) in [("! -", 0.9), ("ok !", 0.5), ("B.", 0.99)] {
            let page = assemble_page(ctx(&inked), std::slice::from_ref(&img), &[text(s, conf)]);
            assert_eq!(page.blocks.len(), 1, "{s} at {conf}");
        }
    }
}
