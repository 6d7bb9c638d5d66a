//! The [`Engine`] facade: decode -> preprocess -> layout -> recognise -> assemble, each step
//! callable alone, plus whole-page and whole-file helpers that time every stage. A PDF page
//! whose own text layer is used ([`crate::text_layer`]) skips the OCR stages.

use std::sync::Arc;
use std::time::Instant;

use crate::assemble::{PageContext, assemble_page};
use crate::decode::{DecodeLimits, DecodedPage, PageReader, decode};
use crate::document::{Document, Page, StageTimings};
use crate::error::Result;
use crate::layout::{LayoutOptions, PageLayout, analyze};
use crate::preprocess::{PreparedPage, PreprocessOptions, preprocess};
use crate::recognize::{LineImage, LineText, Recognizer, normalize_page_line};
use crate::text_layer::{PdfTextMode, page_from_text_layer};

/// Options of the whole pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// Limits checked while decoding.
    pub limits: DecodeLimits,
    /// Preprocess stage options.
    pub preprocess: PreprocessOptions,
    /// Layout stage options.
    pub layout: LayoutOptions,
    /// Words and lines whose confidence is below this are flagged `needs_review`.
    pub review_threshold: f32,
    /// Whether a PDF page is read from its own text layer ([`crate::text_layer`]).
    pub pdf_text: PdfTextMode,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            limits: DecodeLimits::default(),
            preprocess: PreprocessOptions::default(),
            layout: LayoutOptions::default(),
            review_threshold: 0.6,
            pdf_text: PdfTextMode::Auto,
        }
    }
}

/// The OCR pipeline behind one recogniser. Cheap to share between threads (`Arc` inside).
#[derive(Clone)]
pub struct Engine {
    recognizer: Arc<dyn Recognizer>,
    options: EngineOptions,
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

impl Engine {
    /// An engine using `recognizer` with `options`.
    pub fn new(recognizer: Arc<dyn Recognizer>, options: EngineOptions) -> Self {
        Engine {
            recognizer,
            options,
        }
    }

    /// The pipeline options.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The recogniser's description.
    pub fn describe(&self) -> String {
        self.recognizer.describe()
    }

    /// Stage 1: bytes -> page images (limits checked before full decode).
    pub fn decode(&self, bytes: &[u8]) -> Result<Vec<DecodedPage>> {
        decode(bytes, &self.options.limits)
    }

    /// Stage 2: a decoded page -> upright, deskewed, binarised page.
    pub fn preprocess(&self, page: &DecodedPage) -> PreparedPage {
        preprocess(&page.image, &self.options.preprocess)
    }

    /// Stage 3: blocks, lines and words in reading order.
    pub fn layout(&self, page: &PreparedPage) -> PageLayout {
        analyze(&page.binary, &self.options.layout)
    }

    /// Stage 3b: the page's orientation decided by reading a sample of its lines
    /// ([`crate::orient`]); the page and layout come back unchanged when reading agrees with
    /// preprocessing, else the page is preprocessed and laid out again under the chosen turn.
    pub fn orient(
        &self,
        image: &image::DynamicImage,
        prepared: PreparedPage,
        layout: PageLayout,
    ) -> Result<(PreparedPage, PageLayout)> {
        let (prepared, layout, _) = self.settle(image, prepared, layout)?;
        Ok((prepared, layout))
    }

    /// [`Engine::orient`] with the decision (and the sample's readings) kept.
    fn settle(
        &self,
        image: &image::DynamicImage,
        prepared: PreparedPage,
        layout: PageLayout,
    ) -> Result<(
        PreparedPage,
        PageLayout,
        Option<crate::orient::OrientationDecision>,
    )> {
        crate::orient::settle(
            image,
            &self.options.preprocess,
            &self.options.layout,
            self.recognizer.as_ref(),
            prepared,
            layout,
        )
    }

    /// Line images of every layout line in reading order (with their views when the recogniser
    /// reads them, [`Recognizer::reads_views`]): the recogniser's input.
    pub fn line_images(&self, page: &PreparedPage, layout: &PageLayout) -> Vec<LineImage> {
        layout
            .blocks
            .iter()
            .flat_map(|b| b.lines.iter())
            .map(|l| normalize_page_line(&page.gray, l.bbox, self.recognizer.reads_views()))
            .collect()
    }

    /// Stage 4: recognise line images.
    pub fn recognize(&self, lines: &[LineImage]) -> Result<Vec<LineText>> {
        self.recognizer.recognize(lines)
    }

    /// All stages for one decoded page; `decode_ms` is recorded in the page's timings.
    pub fn process_page(&self, page: &DecodedPage, decode_ms: f64) -> Result<Page> {
        if let Some(p) = page_from_text_layer(page, self.options.pdf_text, decode_ms) {
            return Ok(p);
        }
        let mut timings = StageTimings {
            decode_ms,
            ..Default::default()
        };
        let t = Instant::now();
        let prepared = self.preprocess(page);
        timings.preprocess_ms = ms_since(t);
        let t = Instant::now();
        let layout = self.layout(&prepared);
        let (prepared, layout, decision) = self.settle(&page.image, prepared, layout)?;
        timings.layout_ms = ms_since(t);
        let t = Instant::now();
        let images = self.line_images(&prepared, &layout);
        // Lines the orientation check read whole are not read again (same image, same text),
        // unless the recogniser reads views, which the check's images lack.
        let known = match &decision {
            Some(d) if !self.recognizer.reads_views() => d.readings.as_slice(),
            _ => &[],
        };
        let boxes: Vec<crate::geometry::BBox> = layout
            .blocks
            .iter()
            .flat_map(|b| b.lines.iter())
            .map(|l| l.bbox)
            .collect();
        let texts =
            crate::orient::recognize_reusing(self.recognizer.as_ref(), &images, &boxes, known)?;
        timings.recognize_ms = ms_since(t);
        let ctx = PageContext {
            index: page.index,
            dpi: page.dpi,
            exif_orientation: page.exif_orientation,
            transform: &prepared.transform,
            layout: &layout,
            review_threshold: self.options.review_threshold,
            timings,
        };
        Ok(assemble_page(ctx, &images, &texts))
    }

    /// All stages for a whole file's bytes, one page at a time: each page is decoded when its
    /// turn comes and dropped once it is read, so a long document never sits in memory whole.
    pub fn process_bytes(&self, bytes: &[u8], source: Option<String>) -> Result<Document> {
        if bytes.len() as u64 > self.options.limits.max_bytes {
            // Refused before the copy below.
            return Err(crate::error::OcrError::LimitExceeded {
                what: "bytes",
                actual: bytes.len() as u64,
                limit: self.options.limits.max_bytes,
            });
        }
        let t = Instant::now();
        let mut reader =
            PageReader::open(bytes::Bytes::copy_from_slice(bytes), &self.options.limits)?;
        let open_ms = ms_since(t) / reader.page_count().max(1) as f64;
        let pages = (0..reader.page_count())
            .map(|i| {
                let t = Instant::now();
                let page = reader.read_page(i)?;
                self.process_page(&page, open_ms + ms_since(t))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Document { source, pages })
    }
}
