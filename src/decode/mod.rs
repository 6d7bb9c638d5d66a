//! Decode stage: bytes of a document file -> page images.
//!
//! The type is sniffed from magic bytes (never from the file name), limits are checked from
//! headers *before* full decoding so decompression bombs are refused cheaply, and every failure
//! is an [`OcrError`] that names the problem.
//!
//! Formats: PNG, JPEG (EXIF orientation applied), TIFF (all pages; 1/2/4/8/16-bit gray, RGB(A),
//! CMYK, YCbCr; every compression the `tiff` crate reads; palette TIFFs are refused as
//! unsupported), BMP, WebP, PNM (via the `image` / `tiff` crates) and PDF (pages rendered with
//! the pure-Rust `hayro` renderer at 300 DPI, or at the highest DPI >= 100 that fits the pixel
//! limit; password-protected PDFs are refused as unsupported).
//!
//! Limits ([`DecodeLimits`]), in the order they are checked:
//! - `max_bytes`: the input length, before anything else;
//! - `max_pages`: the page count (TIFF IFD chain, PDF page tree), before any page is decoded;
//! - `max_page_pixels`: width x height of each page, read from the header (PNG IHDR, JPEG SOF,
//!   TIFF IFD, PDF page box) before its pixels are decoded; `image::Limits` and the `tiff`
//!   crate's limits are passed to the decoders as a second line of defence;
//! - `max_document_pixels`: the pages' pixels together, from the same headers before any page
//!   is decoded (a 35 KB TIFF of 200 pages of 10000 x 10000 pixels sharing one compressed strip
//!   is refused here); PDF pages are rendered at a lower DPI to fit instead, down to 100 DPI.
//!
//! Output pages are always 8-bit [`DynamicImage::ImageLuma8`] or [`DynamicImage::ImageRgb8`]:
//! 16-bit samples are reduced to 8 bits and alpha is composited onto white. Errors: empty input
//! -> [`OcrError::Empty`], unknown magic -> [`OcrError::UnknownFormat`], truncated or corrupt
//! data (including a decoder panic, caught) -> [`OcrError::Corrupt`], a feature the decoders lack
//! -> [`OcrError::Unsupported`], a limit -> [`OcrError::LimitExceeded`].

mod pdf;
mod pdf_text;
mod pdf_work;
mod pixels;
mod probe;
mod raster;
mod reader;
mod tiff;

use std::panic::{AssertUnwindSafe, catch_unwind};

use image::DynamicImage;

use crate::error::{OcrError, Result};
pub use pdf_text::{TextGlyph, TextLayer};
pub use reader::PageReader;

/// Default pixel budget of one file's pages together: 57 A4 pages at 300 DPI (500 MB as gray,
/// 1.5 GB as colour), or a PDF of 128 A4 pages rendered at 200 DPI.
pub const DEFAULT_DOCUMENT_PIXELS: u64 = 500_000_000;

/// Limits checked before a file is fully decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeLimits {
    /// Maximum input size in bytes.
    pub max_bytes: u64,
    /// Maximum pixels (width x height) of one page.
    pub max_page_pixels: u64,
    /// Maximum number of pages in one file.
    pub max_pages: usize,
    /// Maximum pixels of all pages of one file together (a file's pages are decoded before
    /// any is processed): TIFF pages' sizes are summed from their headers before any page is
    /// decoded, PDF pages are rendered at a lower DPI to fit (not below 100 DPI). Never below
    /// `max_page_pixels` in effect ([`Self::document_pixels`]): one page that passes the page
    /// limit always passes this one.
    pub max_document_pixels: u64,
}

impl DecodeLimits {
    /// The pixel budget of one file: `max_document_pixels`, or `max_page_pixels` where that is
    /// larger.
    pub fn document_pixels(&self) -> u64 {
        self.max_document_pixels.max(self.max_page_pixels)
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_bytes: 256 * 1024 * 1024,
            max_page_pixels: 100_000_000,
            max_pages: 1000,
            max_document_pixels: DEFAULT_DOCUMENT_PIXELS,
        }
    }
}

/// A supported input format, as recognised from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Portable Network Graphics.
    Png,
    /// JPEG / JFIF / EXIF.
    Jpeg,
    /// TIFF (classic or BigTIFF), possibly multi-page.
    Tiff,
    /// Windows bitmap.
    Bmp,
    /// WebP.
    WebP,
    /// Netpbm (PBM/PGM/PPM/PAM).
    Pnm,
    /// PDF, rendered page by page.
    Pdf,
}

impl Format {
    /// Human-readable name used in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Tiff => "TIFF",
            Format::Bmp => "BMP",
            Format::WebP => "WebP",
            Format::Pnm => "PNM",
            Format::Pdf => "PDF",
        }
    }
}

/// One decoded page.
#[derive(Debug, Clone)]
pub struct DecodedPage {
    /// 0-based page index in the file.
    pub index: usize,
    /// The page's pixels, upright as the file says (EXIF orientation applied); always
    /// `ImageLuma8` or `ImageRgb8`.
    pub image: DynamicImage,
    /// Resolution in dots per inch when known (file metadata; the render DPI for PDF pages).
    pub dpi: Option<f32>,
    /// The EXIF orientation (2-8) applied to make the pixels upright; `None` when the file had
    /// none, or 1 (stored upright).
    pub exif_orientation: Option<u8>,
    /// A PDF page's own text layer (glyphs with their text and boxes in these pixels); `None`
    /// for images.
    pub text_layer: Option<TextLayer>,
}

/// How far into the file the PDF header may start (the PDF spec allows leading junk).
const PDF_HEADER_WINDOW: usize = 1024;

/// Recognises the format of `bytes` from its magic bytes alone.
///
/// Returns [`OcrError::Empty`] for no bytes and [`OcrError::UnknownFormat`] (with a short
/// description of what was seen) for anything that is not one of the [`Format`]s.
pub fn sniff(bytes: &[u8]) -> Result<Format> {
    if bytes.is_empty() {
        return Err(OcrError::Empty);
    }
    let format = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if [b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"]
        .iter()
        .any(|magic| bytes.starts_with(*magic))
    {
        Some(Format::Tiff)
    } else if is_bmp(bytes) {
        Some(Format::Bmp)
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else if bytes.len() >= 3
        && bytes[0] == b'P'
        && (b'1'..=b'7').contains(&bytes[1])
        && bytes[2].is_ascii_whitespace()
    {
        Some(Format::Pnm)
    } else if bytes[..bytes.len().min(PDF_HEADER_WINDOW)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        Some(Format::Pdf)
    } else {
        None
    };
    format.ok_or_else(|| OcrError::UnknownFormat {
        detail: describe_unknown(bytes),
    })
}

/// "BM" plus a known DIB header size, so that text starting with "BM" is not taken for a bitmap.
fn is_bmp(bytes: &[u8]) -> bool {
    if bytes.len() < 18 || !bytes.starts_with(b"BM") {
        return false;
    }
    let dib = u32::from_le_bytes([bytes[14], bytes[15], bytes[16], bytes[17]]);
    matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

/// A short, human-readable description of unrecognised bytes for the error message.
fn describe_unknown(bytes: &[u8]) -> String {
    const KNOWN: &[(&[u8], &str)] = &[
        (b"GIF8", "a GIF image (not supported)"),
        (
            b"PK\x03\x04",
            "a ZIP archive (e.g. DOCX/ODT; not supported)",
        ),
        (b"\0\0\0\x0cjP  ", "a JPEG 2000 image (not supported)"),
        (
            b"\xff\x4f\xff\x51",
            "a JPEG 2000 codestream (not supported)",
        ),
        (b"AT&TFORM", "a DjVu document (not supported)"),
        (b"qoif", "a QOI image (not supported)"),
    ];
    if let Some((_, what)) = KNOWN.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return (*what).to_string();
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return "an ISO media file (HEIC/AVIF/MP4; not supported)".to_string();
    }
    let head = &bytes[..bytes.len().min(512)];
    let printable = head
        .iter()
        .filter(|&&b| {
            b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80
        })
        .count();
    if std::str::from_utf8(head).is_ok() && printable * 100 >= head.len() * 95 {
        let text: String = String::from_utf8_lossy(head).chars().take(32).collect();
        return format!("looks like text: {text:?}");
    }
    let hex: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("first bytes: {}", hex.join(" "))
}

/// Decodes every page of a document file, refusing over-limit input before decoding it.
///
/// Checks `limits.max_bytes`, sniffs the format, then decodes per format (see the module
/// documentation for the limits and the error kinds). All pages are held at once: callers that
/// process pages one by one use [`PageReader`] instead.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Vec<DecodedPage>> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(OcrError::LimitExceeded {
            what: "bytes",
            actual: bytes.len() as u64,
            limit: limits.max_bytes,
        });
    }
    PageReader::open(bytes::Bytes::copy_from_slice(bytes), limits)?.read_all()
}

/// Refuses a file with more than `limits.max_pages` pages.
fn check_pages(count: usize, limits: &DecodeLimits) -> Result<()> {
    if count > limits.max_pages {
        return Err(OcrError::LimitExceeded {
            what: "pages",
            actual: count as u64,
            limit: limits.max_pages as u64,
        });
    }
    Ok(())
}

/// Refuses a page whose header claims more than `limits.max_page_pixels` pixels.
fn check_page_pixels(width: u32, height: u32, limits: &DecodeLimits) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_page_pixels {
        return Err(OcrError::LimitExceeded {
            what: "page pixels",
            actual: pixels,
            limit: limits.max_page_pixels,
        });
    }
    Ok(())
}

/// Shorthand for an [`OcrError::Corrupt`] of `format`.
fn corrupt(format: Format, detail: impl Into<String>) -> OcrError {
    OcrError::Corrupt {
        format: format.name(),
        detail: detail.into(),
    }
}

/// Runs a third-party decoder, turning a panic (a decoder bug on hostile input) into
/// [`OcrError::Corrupt`] so that bad input never takes the process down.
fn guard<T>(format: Format, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(corrupt(format, format!("decoder failed: {msg}")))
    })
}

#[cfg(test)]
mod pdf_limits_tests;
#[cfg(test)]
mod tests;
