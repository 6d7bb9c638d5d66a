//! The one page processor: the steps from a decoded page to an assembled [`Page`], shared by
//! every driver — [`crate::engine::Engine`] (the CLI, one page at a time on the calling
//! thread) and the [`crate::batcher`] (the server and the job workers: pages of many requests
//! batched, whole-page kernels possibly on a GPU, lines read by the line stage). A driver
//! chooses where each step runs; what the steps do, and how their results fit together, is
//! written here once.
//!
//! 1. [`from_text_layer`]: a PDF page whose own text layer is used skips everything below.
//! 2. [`preprocess`] (or a batched equivalent with page kernels): the prepared page.
//! 3. [`lay_out`]: layout analysis, then orientation settled by reading a sample of lines
//!    ([`crate::orient::settle`]), which may preprocess and lay out the page again.
//! 4. [`LaidOutPage::cut_lines`] (or the kernels' batched equivalent): the line images.
//! 5. [`LaidOutPage::into_lines`]: the page images are let go; the lines the orientation check
//!    already read whole are set aside with their readings, the rest are to be read.
//! 6. The driver reads [`PageLines::to_read`] with its recogniser.
//! 7. [`PageLines::assemble`]: the readings put back in reading order and the page assembled.

use std::time::Instant;

use image::DynamicImage;

use crate::assemble::{PageContext, assemble_page};
use crate::decode::DecodedPage;
use crate::document::{Page, StageTimings};
use crate::error::Result;
use crate::geometry::BBox;
use crate::layout::{PageLayout, analyze};
use crate::lines::{LineImage, normalize_page_line};
use crate::options::EngineOptions;
use crate::preprocess::{PageTransform, PreparedPage};
use crate::recognize::{LineText, Recognizer};

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Step 1: the page read from its own PDF text layer, when `options` say to use it there
/// ([`crate::text_layer`]); `None` means the page is to be OCR'd.
pub fn from_text_layer(
    page: &DecodedPage,
    options: &EngineOptions,
    decode_ms: f64,
) -> Option<Page> {
    crate::text_layer::page_from_text_layer(page, options.pdf_text, decode_ms)
}

/// Step 2 on the CPU: the prepared page and the milliseconds it took.
pub fn preprocess(image: &DynamicImage, options: &EngineOptions) -> (PreparedPage, f64) {
    let t = Instant::now();
    let prepared = crate::preprocess::preprocess(image, &options.preprocess);
    (prepared, ms_since(t))
}

/// What a page is besides its pixels: where it is in its file and how it was scanned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageOrigin {
    /// 0-based page index in the file.
    pub index: usize,
    /// Resolution, when known.
    pub dpi: Option<f32>,
    /// The EXIF orientation the decoder applied (2-8), if any.
    pub exif_orientation: Option<u8>,
}

impl PageOrigin {
    /// The origin of a decoded page.
    pub fn of(page: &DecodedPage) -> Self {
        PageOrigin {
            index: page.index,
            dpi: page.dpi,
            exif_orientation: page.exif_orientation,
        }
    }
}

/// A page prepared, laid out and turned upright: ready for its lines to be cut.
pub struct LaidOutPage {
    /// Where the page comes from.
    pub origin: PageOrigin,
    /// The prepared page (under the orientation reading chose).
    pub prepared: PreparedPage,
    /// Blocks, lines and words in reading order.
    pub layout: PageLayout,
    /// Preprocessing and layout times so far.
    pub timings: StageTimings,
    /// Lines the orientation check read whole, with their readings
    /// ([`crate::orient::OrientationDecision::readings`]).
    known: Vec<(BBox, LineText)>,
}

/// Step 3: lay out a prepared page (`preprocess_ms` is recorded in its timings) and settle its
/// orientation by reading a sample of its lines with `reader`.
pub fn lay_out(
    page: &DecodedPage,
    prepared: PreparedPage,
    preprocess_ms: f64,
    options: &EngineOptions,
    reader: &dyn Recognizer,
) -> Result<LaidOutPage> {
    let t = Instant::now();
    let layout = analyze(&prepared.binary, &options.layout);
    let (prepared, layout, decision) = crate::orient::settle(
        &page.image,
        &options.preprocess,
        &options.layout,
        reader,
        prepared,
        layout,
    )?;
    let timings = StageTimings {
        preprocess_ms,
        layout_ms: ms_since(t),
        ..Default::default()
    };
    Ok(LaidOutPage {
        origin: PageOrigin::of(page),
        prepared,
        layout,
        timings,
        known: decision.map(|d| d.readings).unwrap_or_default(),
    })
}

/// The boxes of a layout's lines, in reading order.
pub fn line_boxes(layout: &PageLayout) -> Vec<BBox> {
    layout
        .blocks
        .iter()
        .flat_map(|b| b.lines.iter())
        .map(|l| l.bbox)
        .collect()
}

/// Every line of `layout` cut from `page` and normalised for reading, in reading order, with its
/// views when `views` (step 4 on the CPU).
pub fn cut_lines(page: &PreparedPage, layout: &PageLayout, views: bool) -> Vec<LineImage> {
    line_boxes(layout)
        .into_iter()
        .map(|b| normalize_page_line(&page.gray, b, views))
        .collect()
}

impl LaidOutPage {
    /// The boxes of the page's lines, in reading order (what [`Self::cut_lines`] cuts).
    pub fn line_boxes(&self) -> Vec<BBox> {
        line_boxes(&self.layout)
    }

    /// Step 4 on the CPU: every line's image, in reading order, with its views when `views`
    /// (the recogniser reads them, [`Recognizer::reads_views`]).
    pub fn cut_lines(&self, views: bool) -> Vec<LineImage> {
        cut_lines(&self.prepared, &self.layout, views)
    }

    /// Step 5: done with the page images. `images` are the page's lines in reading order; the
    /// orientation check's readings are reused for the lines it read whole when `reuse` (the
    /// images were cut by [`Self::cut_lines`] without views: only the same image is sure to
    /// read the same), and every line is read otherwise.
    pub fn into_lines(self, images: Vec<LineImage>, reuse: bool) -> PageLines {
        let boxes = self.line_boxes();
        let mut reused = Vec::new();
        let to_read = if !reuse || self.known.is_empty() || boxes.len() != images.len() {
            images
        } else {
            let readings = crate::orient::known_readings(&boxes, &self.known);
            let mut unread = Vec::with_capacity(images.len());
            for (i, (image, reading)) in images.into_iter().zip(readings).enumerate() {
                match reading {
                    Some(text) => reused.push((i, image, text)),
                    None => unread.push(image),
                }
            }
            if !reused.is_empty() {
                tracing::debug!(
                    lines = boxes.len(),
                    reused = reused.len(),
                    "lines read by the orientation check"
                );
            }
            unread
        };
        PageLines {
            to_read,
            reused,
            frame: PageFrame {
                origin: self.origin,
                transform: self.prepared.transform,
                layout: self.layout,
                timings: self.timings,
            },
        }
    }
}

/// What assembling a page needs once its images are gone.
pub struct PageFrame {
    /// Where the page comes from.
    pub origin: PageOrigin,
    /// Mapping from prepared-page pixels back to the original image.
    pub transform: PageTransform,
    /// Blocks, lines and words in reading order.
    pub layout: PageLayout,
    /// Stage timings so far.
    pub timings: StageTimings,
}

/// A page's lines after step 5: those to read, those already read, and the page's frame.
pub struct PageLines {
    /// The lines the recogniser has to read, in reading order.
    pub to_read: Vec<LineImage>,
    /// Lines already read by the orientation check: (index among the page's lines, image,
    /// reading), in order.
    pub reused: Vec<(usize, LineImage, LineText)>,
    /// What assembly needs besides the lines.
    pub frame: PageFrame,
}

impl PageLines {
    /// Step 7: assemble the page from the readings of [`Self::to_read`] (`read`, the images
    /// handed back with their `texts`), with `decode_ms` and `recognize_ms` recorded in its
    /// timings.
    pub fn assemble(
        frame: PageFrame,
        read: (Vec<LineImage>, Vec<LineText>),
        reused: Vec<(usize, LineImage, LineText)>,
        review_threshold: f32,
        (decode_ms, recognize_ms): (f64, f64),
    ) -> Page {
        let (images, texts) = merge_reused(read.0, read.1, reused);
        let mut timings = frame.timings;
        timings.decode_ms = decode_ms;
        timings.recognize_ms = recognize_ms;
        let ctx = PageContext {
            index: frame.origin.index,
            dpi: frame.origin.dpi,
            exif_orientation: frame.origin.exif_orientation,
            transform: &frame.transform,
            layout: &frame.layout,
            review_threshold,
            timings,
        };
        assemble_page(ctx, &images, &texts)
    }
}

/// The page's lines in order: those read (`images`, `texts`) with those the orientation check
/// had read already (`reused`, by index) put back in their places.
pub fn merge_reused(
    images: Vec<LineImage>,
    texts: Vec<LineText>,
    reused: Vec<(usize, LineImage, LineText)>,
) -> (Vec<LineImage>, Vec<LineText>) {
    if reused.is_empty() {
        return (images, texts);
    }
    let n = images.len() + reused.len();
    let (mut all_images, mut all_texts) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut read = images.into_iter().zip(texts);
    let mut reused = reused.into_iter().peekable();
    for i in 0..n {
        let (image, text) = match reused.next_if(|(at, _, _)| *at == i) {
            Some((_, image, text)) => (image, text),
            None => match read.next() {
                Some(pair) => pair,
                None => break,
            },
        };
        all_images.push(image);
        all_texts.push(text);
    }
    (all_images, all_texts)
}

/// Every step for one decoded page on the calling thread (the CPU path of the [`Engine`]);
/// `decode_ms` is recorded in the page's timings.
///
/// [`Engine`]: crate::engine::Engine
pub fn process_page(
    page: &DecodedPage,
    decode_ms: f64,
    options: &EngineOptions,
    recognizer: &dyn Recognizer,
) -> Result<Page> {
    if let Some(p) = from_text_layer(page, options, decode_ms) {
        return Ok(p);
    }
    let (prepared, preprocess_ms) = preprocess(&page.image, options);
    let laid = lay_out(page, prepared, preprocess_ms, options, recognizer)?;
    let views = recognizer.reads_views();
    let t = Instant::now();
    let images = laid.cut_lines(views);
    let cut_ms = ms_since(t);
    let PageLines {
        to_read,
        reused,
        frame,
    } = laid.into_lines(images, !views);
    // Cutting lines has always counted as recognition time.
    let t = Instant::now();
    let texts = recognizer.recognize(&to_read)?;
    let recognize_ms = cut_ms + ms_since(t);
    Ok(PageLines::assemble(
        frame,
        (to_read, texts),
        reused,
        options.review_threshold,
        (decode_ms, recognize_ms),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_by_the_orientation_check_go_back_in_their_places() {
        let line = |w: usize| LineImage {
            width: w,
            content_width: w,
            pixels: vec![0.0; 32 * w],
            source_x0: 0.0,
            source_y0: 0.0,
            scale_x: 1.0,
            scale_y: 1.0,
            ink_box: crate::geometry::BBox::new(0, 0, w as u32, 32),
            views: Vec::new(),
        };
        let text = |t: &str| LineText {
            text: t.into(),
            ..Default::default()
        };
        let (images, texts) = merge_reused(
            vec![line(2), line(4)],
            vec![text("b"), text("d")],
            vec![
                (0, line(1), text("a")),
                (2, line(3), text("c")),
                (4, line(5), text("e")),
            ],
        );
        assert_eq!(
            images.iter().map(|l| l.width).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(
            texts.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "d", "e"]
        );
    }

    /// A laid-out page whose four lines (8, 16, 24, 32 columns) the orientation check read in
    /// part: lines 0 and 2 as "known zero" and "known two".
    fn page_with_known_lines() -> (LaidOutPage, Vec<LineImage>) {
        use crate::layout::{LayoutBlock, LayoutLine};
        let boxes: Vec<BBox> = (0..4)
            .map(|i| BBox::new(0, i * 40, 300, i * 40 + 30))
            .collect();
        let layout = PageLayout {
            blocks: vec![LayoutBlock {
                bbox: BBox::new(0, 0, 300, 150),
                lines: boxes
                    .iter()
                    .map(|&bbox| crate::layout::LayoutLine {
                        bbox,
                        words: vec![bbox],
                        char_height: 20.0,
                    })
                    .collect::<Vec<LayoutLine>>(),
            }],
            char_height: 20.0,
        };
        let text = |t: &str| LineText {
            text: t.into(),
            ..Default::default()
        };
        let transform = PageTransform {
            original_width: 300,
            original_height: 160,
            rotation: 0,
            skew_degrees: 0.0,
            scale: 1.0,
            width: 300,
            height: 160,
        };
        let page = LaidOutPage {
            origin: PageOrigin {
                index: 0,
                dpi: None,
                exif_orientation: None,
            },
            prepared: PreparedPage {
                gray: image::GrayImage::new(300, 160),
                binary: image::GrayImage::new(300, 160),
                transform,
            },
            layout,
            timings: StageTimings::default(),
            known: vec![
                (boxes[2], text("known two")),
                (boxes[0], text("known zero")),
            ],
        };
        let images = (1..=4)
            .map(|i| LineImage::from_pixels(8 * i, vec![0.0; crate::lines::LINE_HEIGHT * 8 * i]))
            .collect();
        (page, images)
    }

    #[test]
    fn lines_the_orientation_check_read_whole_are_not_read_again() {
        let (page, images) = page_with_known_lines();
        let lines = page.into_lines(images, true);
        let widths = |v: &[LineImage]| v.iter().map(|l| l.content_width).collect::<Vec<_>>();
        assert_eq!(widths(&lines.to_read), [16, 32]);
        let reused: Vec<(usize, &str)> = lines
            .reused
            .iter()
            .map(|(i, _, t)| (*i, t.text.as_str()))
            .collect();
        assert_eq!(reused, [(0, "known zero"), (2, "known two")]);
        // Read the others, and the page holds all four in reading order.
        let texts = vec![
            LineText {
                text: "read one".into(),
                ..Default::default()
            };
            2
        ];
        let (images, texts) = merge_reused(lines.to_read, texts, lines.reused);
        assert_eq!(widths(&images), [8, 16, 24, 32]);
        assert_eq!(texts[0].text, "known zero");
        assert_eq!(texts[3].text, "read one");

        // Lines cut elsewhere (another image than the check read) are all read.
        let (page, images) = page_with_known_lines();
        let lines = page.into_lines(images, false);
        assert_eq!(lines.to_read.len(), 4);
        assert!(lines.reused.is_empty());
    }
}
