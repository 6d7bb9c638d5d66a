//! PDF pages rendered with `hayro` (pure Rust, CPU).
//!
//! The document is loaded (password-protected files are refused as unsupported, unparsable ones
//! as corrupt), the page count is checked, then every page's pixel size is planned from its
//! page box *before* anything is rendered ([`PdfPages::open`]; pages are rendered one at a time
//! on demand by [`PdfPages::read`]): 300 DPI, or the highest DPI that fits
//! `max_page_pixels` (and the renderer's 65535-pixel side), but never below 100 DPI. Pages are
//! rendered on white and returned as `Luma8` when they contain no colour, else `Rgb8`. All
//! `hayro` calls run under [`guard`], so a renderer panic becomes [`OcrError::Corrupt`].

use std::sync::Arc;

use bytes::Bytes;

use super::pixels::premul_rgba_on_white;
use super::{DecodeLimits, DecodedPage, Format, check_pages, corrupt, guard};
use crate::error::{OcrError, Result};
use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::object::dict::keys;
use hayro::hayro_syntax::object::{Name, Object};
use hayro::hayro_syntax::{DecryptionError, Filter, LoadPdfError, Pdf};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings, render};

/// The DPI pages are rendered at when the pixel limit allows.
const TARGET_DPI: f32 = 300.0;
/// The lowest DPI we render at; below it text is too small to recognise, so we refuse.
const MIN_DPI: f32 = 100.0;
/// Largest side the renderer supports (it sizes its canvas in `u16`).
const MAX_SIDE: f32 = 65_535.0;

/// How one page will be rendered.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RenderPlan {
    dpi: f32,
    width: u32,
    height: u32,
}

/// An opened PDF: its pages counted and their render sizes planned, each rendered on demand.
pub(super) struct PdfPages {
    pdf: Pdf,
    plans: Vec<RenderPlan>,
}

impl PdfPages {
    /// Loads the document structure (no page is rendered), checks the page count and plans
    /// every page's render size within the limits.
    pub(super) fn open(bytes: Bytes, limits: &DecodeLimits) -> Result<PdfPages> {
        guard(Format::Pdf, || {
            let pdf = Pdf::new(Arc::new(bytes)).map_err(map_load_error)?;
            let pages = pdf.pages();
            if pages.is_empty() {
                return Err(corrupt(Format::Pdf, "document has no pages"));
            }
            check_pages(pages.len(), limits)?;
            check_images(&pdf, limits)?;
            let plans = plan_document(
                &pages
                    .iter()
                    .map(|page| page.render_dimensions())
                    .collect::<Vec<_>>(),
                limits,
            )?;
            Ok(PdfPages { pdf, plans })
        })
    }

    /// Width x height of every page as it will be rendered.
    pub(super) fn pixels(&self) -> Vec<u64> {
        self.plans
            .iter()
            .map(|p| u64::from(p.width) * u64::from(p.height))
            .collect()
    }

    /// Renders page `index` (0-based) at its planned DPI, with its own text layer.
    pub(super) fn read(&self, index: usize) -> Result<DecodedPage> {
        guard(Format::Pdf, || {
            let pages = self.pdf.pages();
            let (page, plan) = pages
                .get(index)
                .zip(self.plans.get(index))
                .ok_or_else(|| OcrError::Internal(format!("PDF page {index} out of range")))?;
            let operations = super::pdf_work::page_operations(page);
            if operations > super::pdf_work::MAX_PAGE_OPERATIONS {
                return Err(OcrError::LimitExceeded {
                    what: "PDF drawing operations of a page",
                    actual: operations,
                    limit: super::pdf_work::MAX_PAGE_OPERATIONS,
                });
            }
            let scale = plan.dpi / 72.0;
            let pixmap = render(
                page,
                &RenderCache::new(),
                &InterpreterSettings::default(),
                &RenderSettings::default(),
                &PixmapSettings {
                    x_scale: scale,
                    y_scale: scale,
                    bg_color: WHITE,
                },
            );
            let (w, h) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
            if (w, h) != (plan.width, plan.height) {
                return Err(OcrError::Internal(format!(
                    "PDF page {index} rendered at {w}x{h}, planned {}x{}",
                    plan.width, plan.height
                )));
            }
            Ok(DecodedPage {
                index,
                image: premul_rgba_on_white(w, h, pixmap.data_as_u8_slice()).ok_or_else(|| {
                    OcrError::Internal("PDF pixmap shorter than its size".to_string())
                })?,
                dpi: Some(plan.dpi),
                exif_orientation: None,
                text_layer: Some(super::pdf_text::read_text_layer(page, scale, w, h)),
            })
        })
    }
}

/// Refuses a document holding an image whose pixels exceed `max_page_pixels`, before any page
/// is rendered: the renderer decodes each image it draws in full, so one JPEG stream claiming
/// 65000 x 65000 pixels in a small page would take gigabytes. The size is what the image
/// dictionary says, or for a bare JPEG (DCTDecode) stream what its frame header claims, the
/// larger of the two.
fn check_images(pdf: &Pdf, limits: &DecodeLimits) -> Result<()> {
    for object in pdf.objects() {
        let Object::Stream(stream) = object else {
            continue;
        };
        let dict = stream.dict();
        if dict.get::<Name>(keys::SUBTYPE).as_deref() != Some(b"Image".as_slice()) {
            continue;
        }
        let side = |key| dict.get::<f64>(key).filter(|v| v.is_finite() && *v > 0.0);
        let mut pixels = match (side(keys::WIDTH), side(keys::HEIGHT)) {
            (Some(w), Some(h)) => (w * h) as u64,
            _ => 0,
        };
        if matches!(stream.filters().as_slice(), [Filter::DctDecode])
            && let Some((w, h)) = super::probe::jpeg_frame_dims(&stream.raw_data())
        {
            pixels = pixels.max(u64::from(w) * u64::from(h));
        }
        if pixels > limits.max_page_pixels {
            return Err(OcrError::LimitExceeded {
                what: "embedded image pixels",
                actual: pixels,
                limit: limits.max_page_pixels,
            });
        }
    }
    Ok(())
}

fn map_load_error(err: LoadPdfError) -> OcrError {
    match err {
        LoadPdfError::Decryption(
            e @ (DecryptionError::PasswordProtected | DecryptionError::UnsupportedAlgorithm),
        ) => OcrError::Unsupported {
            format: "PDF",
            detail: format!("encrypted document ({e:?})"),
        },
        LoadPdfError::Decryption(e) => corrupt(Format::Pdf, format!("broken encryption: {e:?}")),
        LoadPdfError::Invalid => corrupt(Format::Pdf, "cannot parse the document structure"),
    }
}

/// Pixel size `hayro::render` produces for a page of `pt` points at `scale` (it truncates).
fn side_px(pt: f32, scale: f32) -> u32 {
    (pt * scale) as u32
}

/// Chooses the render DPI of every page from its size in points (width, height), before
/// rendering: each page as [`plan_size`] allows, then, when the pages together would exceed the
/// document's pixel budget ([`DecodeLimits::document_pixels`]), every page at a DPI lowered by
/// the same factor (not below 100 DPI; beyond that the document is refused).
fn plan_document(sizes: &[(f32, f32)], limits: &DecodeLimits) -> Result<Vec<RenderPlan>> {
    let plans = sizes
        .iter()
        .map(|&(w, h)| plan_size(w, h, limits))
        .collect::<Result<Vec<_>>>()?;
    let total = |plans: &[RenderPlan]| -> u64 {
        plans
            .iter()
            .map(|p| u64::from(p.width) * u64::from(p.height))
            .sum()
    };
    let budget = limits.document_pixels();
    let first = total(&plans);
    if first <= budget {
        return Ok(plans);
    }
    // Pixels grow with the square of the DPI; a little under the exact factor so truncation
    // and the 100 DPI floor of small pages leave the total under the budget.
    let factor = ((budget as f64 / first as f64).sqrt() * 0.995) as f32;
    let lowered = sizes
        .iter()
        .zip(&plans)
        .map(|(&(w, h), p)| plan_size_at(w, h, (p.dpi * factor).max(MIN_DPI), limits))
        .collect::<Result<Vec<_>>>()?;
    let actual = total(&lowered);
    if actual > budget {
        return Err(OcrError::LimitExceeded {
            what: "document pixels",
            actual,
            limit: budget,
        });
    }
    Ok(lowered)
}

/// The render plan of a page of `w_pt` x `h_pt` points: [`TARGET_DPI`], or the highest DPI under
/// it that fits the page limits.
fn plan_size(w_pt: f32, h_pt: f32, limits: &DecodeLimits) -> Result<RenderPlan> {
    plan_size_at(w_pt, h_pt, TARGET_DPI, limits)
}

/// [`plan_size`] with `target_dpi` in place of [`TARGET_DPI`].
fn plan_size_at(
    w_pt: f32,
    h_pt: f32,
    target_dpi: f32,
    limits: &DecodeLimits,
) -> Result<RenderPlan> {
    if !(w_pt.is_finite() && h_pt.is_finite() && w_pt > 0.0 && h_pt > 0.0) {
        return Err(corrupt(
            Format::Pdf,
            format!("invalid page size {w_pt}x{h_pt} pt"),
        ));
    }
    let at = |dpi: f32| {
        let scale = dpi / 72.0;
        RenderPlan {
            dpi,
            width: side_px(w_pt, scale),
            height: side_px(h_pt, scale),
        }
    };
    let fits = |p: &RenderPlan| {
        u64::from(p.width) * u64::from(p.height) <= limits.max_page_pixels
            && p.width as f32 <= MAX_SIDE
            && p.height as f32 <= MAX_SIDE
            && p.width > 0
            && p.height > 0
    };
    let target = at(target_dpi);
    if fits(&target) {
        return Ok(target);
    }
    // Highest DPI under both the pixel budget and the side limit, floored to 1/100 DPI and
    // stepped down until the truncated pixel size really fits.
    let area_dpi =
        72.0 * ((limits.max_page_pixels as f64) / (f64::from(w_pt) * f64::from(h_pt))).sqrt();
    let side_dpi = 72.0 * f64::from(MAX_SIDE) / f64::from(w_pt.max(h_pt));
    let mut dpi = (area_dpi.min(side_dpi).min(f64::from(target_dpi)) * 100.0).floor() / 100.0;
    for _ in 0..100 {
        if dpi < f64::from(MIN_DPI) {
            break;
        }
        let plan = at(dpi as f32);
        if fits(&plan) {
            return Ok(plan);
        }
        dpi -= 0.01;
    }
    let minimum = at(MIN_DPI);
    if minimum.width as f32 > MAX_SIDE || minimum.height as f32 > MAX_SIDE {
        return Err(OcrError::LimitExceeded {
            what: "page side pixels",
            actual: u64::from(minimum.width.max(minimum.height)),
            limit: MAX_SIDE as u64,
        });
    }
    Err(OcrError::LimitExceeded {
        what: "page pixels",
        actual: u64::from(minimum.width) * u64::from(minimum.height),
        limit: limits.max_page_pixels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;
    use crate::decode::tests::{minimal_pdf, text_page_content};
    use image::DynamicImage;

    const A4: (f32, f32) = (595.0, 842.0);

    #[test]
    fn a4_plans_at_300_dpi() {
        let plan = plan_size(A4.0, A4.1, &DecodeLimits::default()).expect("plan");
        assert_eq!(
            plan,
            RenderPlan {
                dpi: 300.0,
                width: 2479,
                height: 3508
            }
        );
    }

    #[test]
    fn a_long_pdf_is_rendered_at_a_lower_dpi_to_fit_the_document_budget() {
        let limits = DecodeLimits::default();
        // 57 A4 pages fit at 300 DPI; 200 do at a lower DPI, every page alike.
        let plans = plan_document(&[A4; 57], &limits).expect("plans");
        assert!(plans.iter().all(|p| p.dpi == TARGET_DPI));
        let plans = plan_document(&[A4; 200], &limits).expect("plans");
        let total: u64 = plans
            .iter()
            .map(|p| u64::from(p.width) * u64::from(p.height))
            .sum();
        assert!(total <= limits.document_pixels(), "{total}");
        assert!(total > limits.document_pixels() * 9 / 10, "{total}");
        assert!(
            plans
                .iter()
                .all(|p| p.dpi == plans[0].dpi && p.dpi >= MIN_DPI)
        );
        // 200 pages of 2400 x 2400 pt hold 2.2 gigapixels even at 100 DPI: refused.
        let err = plan_document(&[(2400.0, 2400.0); 200], &limits).unwrap_err();
        assert!(
            matches!(
                err,
                OcrError::LimitExceeded {
                    what: "document pixels",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn tight_pixel_limit_lowers_dpi_but_not_below_100() {
        let limits = DecodeLimits {
            max_page_pixels: 2_000_000,
            ..DecodeLimits::default()
        };
        let plan = plan_size(A4.0, A4.1, &limits).expect("plan");
        assert!(plan.dpi < 300.0 && plan.dpi >= 100.0, "{plan:?}");
        assert!(u64::from(plan.width) * u64::from(plan.height) <= 2_000_000);
        assert!(
            u64::from(plan.width) * u64::from(plan.height) > 1_990_000,
            "{plan:?}"
        );
        let limits = DecodeLimits {
            max_page_pixels: 500_000,
            ..DecodeLimits::default()
        };
        let err = plan_size(A4.0, A4.1, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                OcrError::LimitExceeded {
                    what: "page pixels",
                    ..
                }
            ),
            "{err}"
        );
        let err = plan_size(14_400.0, 1_000_000.0, &DecodeLimits::default()).unwrap_err();
        assert!(matches!(err, OcrError::LimitExceeded { .. }), "{err}");
        assert!(plan_size(f32::NAN, 10.0, &DecodeLimits::default()).is_err());
    }

    #[test]
    fn filled_rectangle_renders_black_on_white_at_300_dpi() {
        // 200 x 300 pt rectangle at (100, 100) pt from the bottom-left corner.
        let pdf = minimal_pdf(&["0 0 0 rg 100 100 200 300 re f"]);
        let pages = decode(&pdf, &DecodeLimits::default()).expect("decode");
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].dpi, Some(300.0));
        let DynamicImage::ImageLuma8(img) = &pages[0].image else {
            panic!("expected Luma8 for a black-and-white page");
        };
        assert_eq!(img.dimensions(), (2479, 3508));
        let s = 300.0 / 72.0;
        let inside = ((200.0 * s) as u32, ((842.0 - 250.0) * s) as u32);
        assert_eq!(img.get_pixel(inside.0, inside.1).0, [0]);
        assert_eq!(img.get_pixel(10, 10).0, [255]);
        assert_eq!(img.get_pixel((50.0 * s) as u32, inside.1).0, [255]);
    }

    #[test]
    fn standard_font_text_renders_ink_where_the_text_is() {
        let content = text_page_content();
        let pdf = minimal_pdf(&[content.as_str()]);
        let start = std::time::Instant::now();
        let pages = decode(&pdf, &DecodeLimits::default()).expect("decode");
        eprintln!("one A4 text page at 300 DPI: {:?}", start.elapsed());
        let gray = pages[0].image.to_luma8();
        assert_eq!(gray.dimensions(), (2479, 3508));
        // First line: 11 pt Helvetica with its baseline at 770 pt, starting at x = 72 pt.
        let s = 300.0 / 72.0;
        let (y0, y1) = (((842.0 - 780.0) * s) as u32, ((842.0 - 768.0) * s) as u32);
        let (x0, x1) = ((72.0 * s) as u32, (400.0 * s) as u32);
        let ink = (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| gray.get_pixel(x, y).0[0] < 128)
            .count();
        assert!(
            ink > 500,
            "expected glyph ink on the first line, found {ink} dark pixels"
        );
        let margin_ink = (0..200)
            .filter(|&y| gray.get_pixel(20, y).0[0] < 128)
            .count();
        assert_eq!(margin_ink, 0);
    }

    #[test]
    fn page_limit_counts_pdf_pages() {
        let pdf = minimal_pdf(&["0 0 0 rg 0 0 10 10 re f", "0 0 0 rg 0 0 10 10 re f"]);
        let limits = DecodeLimits {
            max_pages: 1,
            ..DecodeLimits::default()
        };
        let err = decode(&pdf, &limits).unwrap_err();
        assert!(
            matches!(
                err,
                OcrError::LimitExceeded {
                    what: "pages",
                    actual: 2,
                    limit: 1
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_reader_plans_every_page_and_renders_only_the_one_asked_for() {
        let pdf = minimal_pdf(&["0 0 0 rg 0 0 10 10 re f", "0 0 0 rg 0 0 10 10 re f"]);
        let mut reader =
            crate::decode::PageReader::open(bytes::Bytes::from(pdf), &DecodeLimits::default())
                .expect("open");
        assert_eq!(reader.page_count(), 2);
        // A4 at 300 DPI, planned before anything is rendered.
        assert_eq!(reader.page_pixels(1), 2479 * 3508);
        let page = reader.read_page(1).expect("page 1");
        assert_eq!(page.index, 1);
        assert_eq!((page.image.width(), page.image.height()), (2479, 3508));
        assert_eq!(page.dpi, Some(300.0));
    }
}
