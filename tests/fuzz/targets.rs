//! Fuzz targets: one function per untrusted-input surface, each taking arbitrary bytes and
//! panicking only on a real bug (an invariant broken), never on bad input.
//!
//! Shared by the coverage-guided `fuzz/` crate (cargo-afl, see fuzz/README.md) and by
//! `tests/fuzz.rs`, which replays the kept corpus and a bounded run of mutations of it in CI.

use std::sync::Arc;
use std::time::Duration;

use ferrocr::decode::{DecodeLimits, PageReader, decode};
use ferrocr::document::{Block, Char, Document, Line, Page, PageSource, StageTimings, Word};
use ferrocr::engine::EngineOptions;
use ferrocr::geometry::BBox;
use ferrocr::options::PipelineOptions;
use ferrocr::render::{OutputFormat, render};
use ferrocr::server::upload::{BodyBudget, UploadRules, read_uploads};

/// Limits small enough that a fuzz run never allocates much, whatever a header claims.
fn small_limits() -> DecodeLimits {
    DecodeLimits {
        max_bytes: 1 << 20,
        max_page_pixels: 4_000_000,
        max_pages: 8,
        max_document_pixels: 8_000_000,
    }
}

/// The decoders: every file either decodes within the limits or is refused with an error; a
/// decoded page is as big as its header said, and 8-bit gray or RGB.
pub fn decode_file(data: &[u8]) {
    let limits = small_limits();
    let all = decode(data, &limits);
    let Ok(mut reader) = PageReader::open(bytes::Bytes::copy_from_slice(data), &limits) else {
        assert!(all.is_err(), "open refused a file that decode accepted");
        return;
    };
    assert!(reader.page_count() >= 1 && reader.page_count() <= limits.max_pages);
    for index in 0..reader.page_count() {
        let Ok(page) = reader.read_page(index) else {
            continue;
        };
        assert_eq!(page.index, index);
        let pixels = u64::from(page.image.width()) * u64::from(page.image.height());
        assert!(
            pixels <= limits.max_page_pixels,
            "page {index}: {pixels} pixels"
        );
        assert!(matches!(
            page.image,
            image::DynamicImage::ImageLuma8(_) | image::DynamicImage::ImageRgb8(_)
        ));
    }
}

/// The request body reader: any body under a multipart (or raw) content type is read into
/// uploads or refused with a 4xx; the body budget is given back either way.
pub fn multipart_body(data: &[u8]) {
    // The first byte picks the content type; the rest is the body.
    let (ctype, body) = match data.split_first() {
        Some((b, rest)) if b % 4 == 0 => ("application/pdf", rest),
        Some((b, rest)) if b % 4 == 1 => ("multipart/form-data", rest),
        Some((_, rest)) => ("multipart/form-data; boundary=X", rest),
        None => ("multipart/form-data; boundary=X", data),
    };
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/ocr")
        .header("content-type", ctype)
        .body(axum::body::Body::from(body.to_vec()))
        .expect("request");
    let rules = UploadRules {
        max_bytes: 1 << 20,
        min_rate: 0,
        grace: Duration::from_secs(10),
        refusal_delay: Duration::ZERO,
    };
    let budget = Arc::new(BodyBudget::new(4 << 20));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let result = runtime.block_on(read_uploads(req, rules, &budget));
    match result {
        Ok((uploads, hold)) => {
            let total: usize = uploads.iter().map(|u| u.bytes.len()).sum();
            assert!(total <= body.len(), "uploads hold more bytes than the body");
            assert!(hold.bytes() <= budget.total());
        }
        Err(e) => {
            let status = axum::response::IntoResponse::into_response(e).status();
            assert!(status.is_client_error(), "a bad body answered {status}");
        }
    }
    assert_eq!(
        budget.available(),
        budget.total(),
        "body budget not given back"
    );
}

/// The query string of `/v1/ocr` and `/v1/jobs`: parsed or refused, and options built from
/// what parses are within their documented ranges.
pub fn query_string(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(uri) = format!("/v1/ocr?{text}").parse::<axum::http::Uri>() else {
        return;
    };
    let Ok(axum::extract::Query(q)) = axum::extract::Query::<PipelineOptions>::try_from_uri(&uri)
    else {
        return;
    };
    if let Ok(o) = q.engine_options(&EngineOptions::default()) {
        assert!((0.0..=1.0).contains(&o.review_threshold));
        assert!(o.limits.max_pages <= EngineOptions::default().limits.max_pages);
    }
    if let Ok(t) = q.timeout(60_000) {
        assert!(t <= Duration::from_millis(60_000));
    }
}

/// A document built from the bytes: text split at 0 and 1 bytes into words and lines (any
/// Unicode the bytes hold, control characters included), boxes and confidences from a counter.
fn document_from(data: &[u8]) -> Document {
    let mut lines = Vec::new();
    for (li, line_bytes) in data.split(|&b| b == 0).enumerate() {
        let mut words = Vec::new();
        for (wi, w) in line_bytes.split(|&b| b == 1).enumerate() {
            let text = String::from_utf8_lossy(w).into_owned();
            let x0 = (wi as u32) * 50;
            let bbox = BBox {
                x0,
                y0: li as u32 * 20,
                x1: x0 + 40,
                y1: li as u32 * 20 + 16,
            };
            let chars = text
                .chars()
                .map(|c| Char {
                    text: c.to_string(),
                    bbox,
                    confidence: 0.5,
                })
                .collect();
            let confidence = w.first().map_or(f32::NAN, |&b| f32::from(b) / 200.0 - 0.1);
            words.push(Word {
                text,
                bbox,
                confidence,
                needs_review: false,
                chars,
            });
        }
        let text = words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let bbox = BBox {
            x0: 0,
            y0: li as u32 * 20,
            x1: 1000,
            y1: li as u32 * 20 + 16,
        };
        lines.push(Line {
            text,
            bbox,
            confidence: 0.7,
            needs_review: false,
            words,
        });
    }
    let page = Page {
        index: 0,
        width: 1000,
        height: 20 * lines.len() as u32 + 20,
        dpi: data.first().map(|&b| f32::from(b)),
        exif_orientation: None,
        rotation: 0,
        skew_degrees: 0.0,
        confidence: 0.7,
        needs_review: false,
        source: PageSource::Ocr,
        blocks: vec![Block {
            bbox: BBox {
                x0: 0,
                y0: 0,
                x1: 1000,
                y1: 1000,
            },
            confidence: 0.7,
            lines,
        }],
        timings: StageTimings::default(),
    };
    Document {
        source: Some(String::from_utf8_lossy(data.get(..8).unwrap_or(data)).into_owned()),
        pages: vec![page],
    }
}

/// The renderers: every text format renders; JSON parses back, hOCR and ALTO are well-formed
/// XML whatever characters the text holds, TSV has one row per word plus the header lines.
pub fn render_document(data: &[u8]) {
    let doc = document_from(data);
    for format in [
        OutputFormat::Text,
        OutputFormat::Json,
        OutputFormat::Hocr,
        OutputFormat::Alto,
        OutputFormat::Tsv,
    ] {
        let out = render(&doc, format).expect("text formats render");
        match format {
            OutputFormat::Json => {
                serde_json::from_str::<serde_json::Value>(&out).expect("JSON parses");
            }
            OutputFormat::Hocr | OutputFormat::Alto => {
                // hOCR is XHTML: its doctype is not part of what an XML parser must take.
                let body = out.find("<html").map_or(out.as_str(), |i| &out[i..]);
                if let Err(e) = roxmltree::Document::parse(body) {
                    panic!("{format:?} is not well-formed XML: {e}\n{out}");
                }
            }
            _ => {}
        }
    }
}
