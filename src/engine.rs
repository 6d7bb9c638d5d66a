//! The [`Engine`] facade: decode -> preprocess -> layout -> recognise -> assemble, each step
//! callable alone, plus whole-page and whole-file helpers that time every stage. A whole page
//! runs through the one page processor ([`crate::pipeline`]) on the calling thread; a PDF page
//! whose own text layer is used ([`crate::text_layer`]) skips the OCR stages.

use std::sync::Arc;
use std::time::Instant;

use crate::decode::{DecodedPage, PageReader, decode};
use crate::document::{Document, Page};
use crate::error::Result;
use crate::layout::{PageLayout, analyze};
use crate::lines::LineImage;
use crate::preprocess::{PreparedPage, preprocess};
use crate::recognize::{LineText, Recognizer};

pub use crate::options::EngineOptions;

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
        let (prepared, layout, _) = crate::orient::settle(
            image,
            &self.options.preprocess,
            &self.options.layout,
            self.recognizer.as_ref(),
            prepared,
            layout,
        )?;
        Ok((prepared, layout))
    }

    /// Line images of every layout line in reading order (with their views when the recogniser
    /// reads them, [`Recognizer::reads_views`]): the recogniser's input.
    pub fn line_images(&self, page: &PreparedPage, layout: &PageLayout) -> Vec<LineImage> {
        crate::pipeline::cut_lines(page, layout, self.recognizer.reads_views())
    }

    /// Stage 4: recognise line images.
    pub fn recognize(&self, lines: &[LineImage]) -> Result<Vec<LineText>> {
        self.recognizer.recognize(lines)
    }

    /// All stages for one decoded page ([`crate::pipeline::process_page`]); `decode_ms` is
    /// recorded in the page's timings.
    pub fn process_page(&self, page: &DecodedPage, decode_ms: f64) -> Result<Page> {
        crate::pipeline::process_page(page, decode_ms, &self.options, self.recognizer.as_ref())
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
