//! Pipeline options: [`EngineOptions`] (what every stage runs with), and [`PipelineOptions`],
//! the per-request part, one type for `/v1/ocr`, `/v1/jobs` and the job workers (which read
//! them back from the store): parsed from the query string, checked, and laid over the
//! server's [`EngineOptions`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::decode::DecodeLimits;
use crate::error::{OcrError, Result};
use crate::layout::LayoutOptions;
use crate::preprocess::PreprocessOptions;
use crate::render::OutputFormat;
use crate::text_layer::PdfTextMode;

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

/// The options of one OCR request: the query of `/v1/ocr`, the pipeline part of a job's query,
/// and what a job stores so that its worker runs the same pipeline.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineOptions {
    /// Output format (default json).
    pub format: Option<OutputFormat>,
    /// Confidence under which words and lines are flagged needs_review (0..1, default 0.6).
    pub review_threshold: Option<f32>,
    /// Estimate and correct skew (default true).
    pub deskew: Option<bool>,
    /// Detect page orientation 0/90/180/270 (default true).
    pub orientation: Option<bool>,
    /// Detect columns and read column by column (default true).
    pub columns: Option<bool>,
    /// Most pages to accept (at most the server's limit).
    pub max_pages: Option<usize>,
    /// PDF pages: `auto` (default) reads a page's own text layer where it covers the page,
    /// `ocr` always recognises the rendered page, `use` takes any text layer.
    pub pdf_text: Option<PdfTextMode>,
    /// Deadline in ms (at most the server's `request_timeout_ms`).
    pub timeout_ms: Option<u64>,
}

impl PipelineOptions {
    /// Pipeline options for this request on top of the server's defaults.
    pub fn engine_options(&self, base: &EngineOptions) -> Result<EngineOptions> {
        let mut o = base.clone();
        if let Some(t) = self.review_threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(OcrError::bad_param(
                    "review_threshold",
                    format!("must be within 0..1, got {t}"),
                ));
            }
            o.review_threshold = t;
        }
        if let Some(d) = self.deskew {
            o.preprocess.deskew = d;
        }
        if let Some(r) = self.orientation {
            o.preprocess.detect_orientation = r;
        }
        if let Some(c) = self.columns {
            o.layout.detect_columns = c;
        }
        if let Some(m) = self.pdf_text {
            o.pdf_text = m;
        }
        if let Some(p) = self.max_pages {
            if p == 0 {
                return Err(OcrError::bad_param("max_pages", "must be at least 1"));
            }
            o.limits.max_pages = p.min(base.limits.max_pages);
        }
        Ok(o)
    }

    /// The request deadline: the asked one, capped by the server's.
    pub fn timeout(&self, server_ms: u64) -> Result<Duration> {
        match self.timeout_ms {
            Some(0) => Err(OcrError::bad_param("timeout_ms", "must be at least 1")),
            Some(ms) => Ok(Duration::from_millis(ms.min(server_ms))),
            None => Ok(Duration::from_millis(server_ms)),
        }
    }
}
