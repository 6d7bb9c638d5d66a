//! [`PageReader`]: a document opened from its headers, its pages decoded one at a time.
//!
//! Opening checks every limit that headers allow (bytes, page count, each page's pixels, the
//! document's pixels together) and learns each page's pixel size, without decoding any page. A
//! caller then decodes the pages it wants, when it wants them, so a long document never has all
//! its pages in memory at once and work that is no longer wanted stops between pages.

use bytes::Bytes;

use super::pdf::PdfPages;
use super::raster::{decode_raster, raster_dims};
use super::tiff::TiffPages;
use super::{DecodeLimits, DecodedPage, Format, check_pages, sniff};
use crate::error::{OcrError, Result};

/// Where the pages come from.
enum Source {
    /// A single-image file (PNG, JPEG, BMP, WebP, PNM): page 0.
    Raster(Bytes),
    /// A TIFF file's IFDs.
    Tiff(Box<TiffPages>),
    /// A PDF file's pages, rendered on demand.
    Pdf(Box<PdfPages>),
}

/// A document file opened from its headers; pages are decoded on demand by
/// [`PageReader::read_page`].
pub struct PageReader {
    format: Format,
    pixels: Vec<u64>,
    limits: DecodeLimits,
    source: Source,
}

impl std::fmt::Debug for PageReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageReader")
            .field("format", &self.format)
            .field("pages", &self.pixels.len())
            .finish()
    }
}

impl PageReader {
    /// Opens `bytes` under `limits`: checks the size, sniffs the format and reads the headers
    /// (page count, each page's pixel size; a PDF's pages are planned at their render DPI).
    /// No page is decoded.
    pub fn open(bytes: Bytes, limits: &DecodeLimits) -> Result<PageReader> {
        let len = bytes.len() as u64;
        if len > limits.max_bytes {
            return Err(OcrError::LimitExceeded {
                what: "bytes",
                actual: len,
                limit: limits.max_bytes,
            });
        }
        let format = sniff(&bytes)?;
        let (pixels, source) = match format {
            Format::Png | Format::Jpeg | Format::Bmp | Format::WebP | Format::Pnm => {
                check_pages(1, limits)?;
                let (w, h) = raster_dims(&bytes, format, limits)?;
                (vec![u64::from(w) * u64::from(h)], Source::Raster(bytes))
            }
            Format::Tiff => {
                let pages = TiffPages::open(bytes, limits)?;
                (pages.pixels().to_vec(), Source::Tiff(Box::new(pages)))
            }
            Format::Pdf => {
                let pages = PdfPages::open(bytes, limits)?;
                (pages.pixels(), Source::Pdf(Box::new(pages)))
            }
        };
        Ok(PageReader {
            format,
            pixels,
            limits: limits.clone(),
            source,
        })
    }

    /// The file's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Number of pages.
    pub fn page_count(&self) -> usize {
        self.pixels.len()
    }

    /// Width x height of page `index` as it will be decoded (from its header; a PDF page at
    /// its planned render DPI), or 0 past the last page.
    pub fn page_pixels(&self, index: usize) -> u64 {
        self.pixels.get(index).copied().unwrap_or(0)
    }

    /// Decodes page `index` (0-based). Pages may be read in any order and more than once.
    pub fn read_page(&mut self, index: usize) -> Result<DecodedPage> {
        if index >= self.pixels.len() {
            return Err(OcrError::Internal(format!(
                "page {index} of a {}-page document",
                self.pixels.len()
            )));
        }
        match &mut self.source {
            Source::Raster(bytes) => decode_raster(bytes, self.format, &self.limits),
            Source::Tiff(pages) => pages.read(index),
            Source::Pdf(pages) => pages.read(index),
        }
    }

    /// Decodes every page, in order.
    pub fn read_all(mut self) -> Result<Vec<DecodedPage>> {
        (0..self.page_count()).map(|i| self.read_page(i)).collect()
    }
}
