//! A PDF page's own text layer: every glyph the page shows (or hides, rendering mode 3) with
//! its Unicode text and its box in the pixels of the rendered page, read by interpreting the
//! page with `hayro-interpret` through a device that records glyphs instead of painting them.
//! Also how much of the page its largest image covers, which tells a scan with a stamp on it
//! from a born-digital page ([`TextLayer::image_cover`]).

use hayro::hayro_interpret::font::{Glyph, GlyphRun};
use hayro::hayro_interpret::hayro_syntax::page::Page;
use hayro::hayro_interpret::kurbo::{Affine, BezPath, Point, Rect, Shape};
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_interpret::{
    BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image, ImageDrawProps,
    InterpreterCache, InterpreterSettings, SoftMask, interpret_page,
};

/// Most glyphs kept per page (a dense page holds ~10,000): bounds memory on hostile files.
const MAX_GLYPHS: usize = 200_000;

/// One glyph of a page's text layer.
#[derive(Debug, Clone, PartialEq)]
pub struct TextGlyph {
    /// Its Unicode text (usually one character; ligatures give several).
    pub text: String,
    /// Box in the rendered page's pixels (x0, y0, x1, y1; y down): the glyph's outline, or
    /// for a glyph without one (a space) a zero-width box at its origin.
    pub bbox: [f32; 4],
    /// Where the glyph sits on its baseline (x, y in the same pixels).
    pub origin: [f32; 2],
    /// The font size (one em) in the same pixels.
    pub em: f32,
    /// False for text in rendering mode 3 (invisible, e.g. an earlier OCR layer).
    pub visible: bool,
}

/// The text layer of one PDF page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextLayer {
    /// Glyphs in content order (which born-digital PDFs usually write in reading order).
    pub glyphs: Vec<TextGlyph>,
    /// Glyphs shown that have no Unicode mapping (their text cannot be known).
    pub unmapped: usize,
    /// Share of the page covered by its largest image's box (0..1).
    pub image_cover: f32,
}

/// Reads the text layer of `page` as rendered at `scale` pixels per point into a `width` ×
/// `height` pixmap (the same transform `hayro::render` uses).
pub(super) fn read_text_layer(page: &Page<'_>, scale: f32, width: u32, height: u32) -> TextLayer {
    let transform = Affine::scale(f64::from(scale)) * page.initial_transform(true).to_kurbo();
    let cache = InterpreterCache::new();
    let mut context = Context::new(
        transform,
        Rect::new(0.0, 0.0, f64::from(width), f64::from(height)),
        &cache,
        page.xref(),
        InterpreterSettings::default(),
    );
    let mut device = GlyphRecorder {
        layer: TextLayer::default(),
        page_area: f64::from(width) * f64::from(height),
    };
    interpret_page(page, &mut context, &mut device);
    device.layer
}

/// A device that keeps glyphs and image extents and paints nothing.
struct GlyphRecorder {
    layer: TextLayer,
    page_area: f64,
}

impl<'a> Device<'a> for GlyphRecorder {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}

    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, props: DrawProps<'a>, mode: &DrawMode) {
        // Stroked and filled text arrives twice (fill, then stroke): keep the fill.
        if matches!(mode, DrawMode::Stroke(_)) {
            return;
        }
        let visible = !matches!(mode, DrawMode::Invisible);
        for glyph in run.glyphs() {
            if self.layer.glyphs.len() >= MAX_GLYPHS {
                return;
            }
            let Some(text) = glyph.as_unicode().map(|u| match u {
                hayro::hayro_interpret::hayro_cmap::BfString::Char(c) => c.to_string(),
                hayro::hayro_interpret::hayro_cmap::BfString::String(s) => s,
            }) else {
                self.layer.unmapped += 1;
                continue;
            };
            let to_device = props.transform * glyph.transform();
            let outline = match &**glyph {
                Glyph::Outline(g) => Some(g.outline().bounding_box()),
                Glyph::Type3(_) => None,
            };
            let origin = to_device * Point::ZERO;
            let bbox = match outline.filter(|r| r.area() > 0.0) {
                Some(r) => to_device.transform_rect_bbox(r),
                None => Rect::new(origin.x, origin.y, origin.x, origin.y),
            };
            self.layer.glyphs.push(TextGlyph {
                text,
                bbox: [
                    bbox.x0 as f32,
                    bbox.y0 as f32,
                    bbox.x1 as f32,
                    bbox.y1 as f32,
                ],
                origin: [origin.x as f32, origin.y as f32],
                em: em_of(to_device),
                visible,
            });
        }
    }

    fn draw_image(&mut self, _: Image<'a, '_>, props: ImageDrawProps<'a>) {
        let r = props
            .transform
            .transform_rect_bbox(Rect::new(0.0, 0.0, 1.0, 1.0));
        let cover = (r.area() / self.page_area.max(1.0)).clamp(0.0, 1.0) as f32;
        self.layer.image_cover = self.layer.image_cover.max(cover);
    }
}

/// Glyph-space units per em in `hayro-interpret` (hayro-font's `UNITS_PER_EM`, not exported).
const GLYPH_UNITS_PER_EM: f64 = 1000.0;

/// One em of a glyph drawn under `to_device`, in device pixels: the length of the glyph's
/// vertical em.
fn em_of(to_device: Affine) -> f32 {
    let [_, _, c, d, _, _] = to_device.as_coeffs();
    (GLYPH_UNITS_PER_EM * c.hypot(d)) as f32
}
