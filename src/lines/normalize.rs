//! Line normalisation: a line's box on a grayscale page -> the model's input image.
//!
//! This is the ONE place where line images are prepared, used by inference (crops from the
//! layout stage, or from ground-truth boxes in `eval-lines`) and by training (synthetic lines),
//! so the model always sees lines prepared the same way:
//! 1. tighten the box to the text's ink inside it (`ink_box`: Otsu threshold over the crop,
//!    without rules and cut-off neighbouring lines at its edges), so loose annotator boxes,
//!    layout boxes and synthetic training lines give the same framing;
//! 2. add a margin proportional to the ink height (`MARGIN_Y` above/below, `MARGIN_X` left/right);
//! 3. resample to [`LINE_HEIGHT`] pixels high keeping the aspect ratio (area-averaging when
//!    shrinking, bilinear when enlarging);
//! 4. map intensities so paper = 0.0 and ink = 1.0 (robust percentiles of the crop);
//! 5. pad the width to a multiple of [`WIDTH_MULTIPLE`] (the model's horizontal downsampling).
//!
//! A slanted line (a page scanned askew) is read along its slope ([`super::skew`]): steps 1–4
//! then work on the box as if it were level.
//!
//! Light text on a dark ground (a box with most of its pixels on the dark side of its Otsu
//! threshold: reverse-video labels, shaded headers) is tightened on the box's negative and mapped
//! the other way round (ground = 0.0, text = 1.0), so the model always sees dark-on-light text.

use image::GrayImage;

use super::ink_box::has_contrast;
pub use super::ink_box::tighten_to_ink;
use super::skew;
use crate::geometry::BBox;
use crate::histogram::{box_histogram as histogram, otsu, percentile};

/// Height of every model input line, in pixels.
pub const LINE_HEIGHT: usize = 32;
/// The model downsamples horizontally by this factor: widths are padded to a multiple of it.
pub const WIDTH_MULTIPLE: usize = 4;
/// Longest line the model reads at once, in model pixels; longer crops are squeezed to it.
pub const MAX_LINE_WIDTH: usize = 2400;
/// Vertical margin added above and below the ink, as a fraction of the ink height.
pub const MARGIN_Y: f32 = 0.12;
/// Horizontal margin added left and right of the ink, as a fraction of the ink height.
pub const MARGIN_X: f32 = 0.25;

/// A normalised line: `LINE_HEIGHT` rows of `width` columns, paper = 0.0, ink = 1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct LineImage {
    /// Width in model pixels (a multiple of [`WIDTH_MULTIPLE`]).
    pub width: usize,
    /// Width actually covered by the line before padding.
    pub content_width: usize,
    /// Row-major pixels, `LINE_HEIGHT * width` values in 0..=1.
    pub pixels: Vec<f32>,
    /// The page region the line image was cut from (including margins, possibly extending past
    /// the page edge), in page pixels.
    pub source_x0: f32,
    /// Top of the source region in page pixels.
    pub source_y0: f32,
    /// Horizontal scale: model pixels per page pixel.
    pub scale_x: f32,
    /// Vertical scale: model pixels per page pixel.
    pub scale_y: f32,
    /// The tightened ink box on the page.
    pub ink_box: BBox,
    /// Other views of the same line ([`super::views`]), read only when the model is unsure of
    /// this one; empty for training lines and for lines drawn without views.
    pub views: Vec<LineImage>,
}

impl LineImage {
    /// Page x coordinate of a model column (fractional columns allowed).
    pub fn column_to_page_x(&self, column: f32) -> f32 {
        self.source_x0 + column / self.scale_x
    }

    /// A line image from raw pixels (paper = 0, ink = 1) already `LINE_HEIGHT` high; used by
    /// tests and fakes. The width is padded to a multiple of [`WIDTH_MULTIPLE`].
    pub fn from_pixels(width: usize, pixels: Vec<f32>) -> Self {
        let padded = pad_width(width);
        let mut out = vec![0.0; LINE_HEIGHT * padded];
        for y in 0..LINE_HEIGHT {
            out[y * padded..y * padded + width]
                .copy_from_slice(&pixels[y * width..(y + 1) * width]);
        }
        LineImage {
            width: padded,
            content_width: width,
            pixels: out,
            source_x0: 0.0,
            source_y0: 0.0,
            scale_x: 1.0,
            scale_y: 1.0,
            ink_box: BBox::new(0, 0, width as u32, LINE_HEIGHT as u32),
            views: Vec::new(),
        }
    }
}

/// `w` rounded up to a multiple of [`WIDTH_MULTIPLE`] (at least one multiple).
fn pad_width(w: usize) -> usize {
    w.max(WIDTH_MULTIPLE).div_ceil(WIDTH_MULTIPLE) * WIDTH_MULTIPLE
}

/// `v.floor()` without the `floorf` call baseline x86-64 makes of it (same result for every
/// finite `v` within `i32`, which page coordinates are).
#[inline]
fn floor(v: f32) -> f32 {
    let t = v as i32 as f32;
    if t > v { t - 1.0 } else { t }
}

/// Sample the page at (x, y) with bilinear interpolation; outside the page reads `fill`.
#[inline]
fn sample_bilinear(gray: &GrayImage, x: f32, y: f32, fill: f32) -> f32 {
    let (w, h) = (gray.width() as i64, gray.height() as i64);
    let (x0, y0) = (floor(x), floor(y));
    let fx = x - x0;
    let fy = y - y0;
    let px = |xi: i64, yi: i64| -> f32 {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            fill
        } else {
            gray.get_pixel(xi as u32, yi as u32)[0] as f32
        }
    };
    let (xi, yi) = (x0 as i64, y0 as i64);
    let top = px(xi, yi) * (1.0 - fx) + px(xi + 1, yi) * fx;
    let bot = px(xi, yi + 1) * (1.0 - fx) + px(xi + 1, yi + 1) * fx;
    top * (1.0 - fy) + bot * fy
}

/// Where and how a line is resampled: everything [`normalize_line`] decides from the page
/// before the per-pixel resampling loop. Split out so that the GPU twin
/// (`shaders/resample.wgsl`) resamples with exactly the same window, scale and levels.
#[derive(Debug, Clone, PartialEq)]
pub struct LineGeometry {
    /// The tightened ink box on the page.
    pub ink_box: BBox,
    /// Left of the source window in page pixels (ink box minus margin).
    pub source_x0: f32,
    /// Top of the source window in page pixels.
    pub source_y0: f32,
    /// Horizontal scale: model pixels per page pixel.
    pub scale_x: f32,
    /// Vertical scale: model pixels per page pixel.
    pub scale_y: f32,
    /// Content columns of the output (before padding).
    pub out_width: usize,
    /// Output width padded to a multiple of [`WIDTH_MULTIPLE`].
    pub padded_width: usize,
    /// Samples per output pixel horizontally (1..=4).
    pub nx: usize,
    /// Samples per output pixel vertically (1..=4).
    pub ny: usize,
    /// Gray level mapped to 0.0 (paper); also the value read outside the page.
    pub paper_level: f32,
    /// Gray range mapped onto 0..=1 (at least 32 in size): positive for dark text on light
    /// paper, negative for light text on a dark ground (`paper_level` is then the ground).
    pub range: f32,
    /// Slope of the line (rows per column, [`super::skew`]): the window is read along it, a
    /// sample at `(x, y)` coming from page row `y + shear * (x - shear_cx)`; 0.0 for a level
    /// line. `source_y0` is then measured along the slope, and `ink_box` is the page box
    /// around the slanted ink.
    pub shear: f32,
    /// Column about which the window is sheared (the box's centre).
    pub shear_cx: f32,
}

/// A box holds light text on a dark ground when more than this fraction of its pixels fall on
/// the dark side of its Otsu threshold (dark text on paper stays well below, even bold text in
/// a tight box).
pub const DARK_GROUND: f32 = 0.6;

/// Whether the box `bbox` of `gray` holds light text on a dark ground (see [`DARK_GROUND`]); a
/// box without contrast does not.
fn light_on_dark(gray: &GrayImage, bbox: BBox) -> bool {
    let hist = histogram(gray, bbox.clamp(gray.width(), gray.height()));
    if !has_contrast(&hist) {
        return false;
    }
    let total: u64 = hist.iter().map(|&c| c as u64).sum();
    let t = otsu(&hist) as usize;
    let dark: u64 = hist[..=t].iter().map(|&c| c as u64).sum();
    dark as f32 > DARK_GROUND * total as f32
}

/// [`tighten_to_ink`] for light text on a dark ground: the same rules on the box's negative.
fn tighten_light_ink(gray: &GrayImage, bbox: BBox) -> BBox {
    let b = bbox.clamp(gray.width(), gray.height());
    let mut crop = image::imageops::crop_imm(gray, b.x0, b.y0, b.width(), b.height()).to_image();
    image::imageops::invert(&mut crop);
    let t = tighten_to_ink(&crop, BBox::new(0, 0, b.width(), b.height()));
    BBox::new(b.x0 + t.x0, b.y0 + t.y0, b.x0 + t.x1, b.y0 + t.y1)
}

/// Decide the geometry and intensity mapping of the line at `bbox` (steps 1, 2 and 4 of the
/// module docs), see [`LineGeometry`]; a slanted line ([`skew::estimate_shear`]) is framed on
/// a copy of its box read along its slope.
pub fn line_geometry(gray: &GrayImage, bbox: BBox) -> LineGeometry {
    let b = bbox.clamp(gray.width(), gray.height());
    let inverted = light_on_dark(gray, b);
    let shear = if b.is_empty() {
        0.0
    } else {
        skew::estimate_shear(gray, b, inverted)
    };
    if shear == 0.0 {
        return level_geometry(gray, bbox, inverted);
    }
    let cx = (b.x0 + b.x1) as f32 / 2.0;
    let ext = (b.height() as f32 * 0.5).ceil() as u32 + 1;
    let copy = skew::sheared_copy(gray, b, shear, cx, ext);
    let inner = BBox::new(0, ext, b.width(), ext + b.height());
    let mut geo = level_geometry(&copy, inner, light_on_dark(&copy, inner));
    // From the copy's pixels to page columns and rows measured along the slope.
    let (dx, dy) = (b.x0 as f32, b.y0 as f32 - ext as f32);
    geo.source_x0 += dx;
    geo.source_y0 += dy;
    let ink = geo.ink_box;
    let (x0, x1) = (ink.x0 as f32 + dx, ink.x1 as f32 + dx);
    let rise = [shear * (x0 - cx), shear * (x1 - cx)];
    let (lo, hi) = (rise[0].min(rise[1]), rise[0].max(rise[1]));
    let page_y = |y: f32, r: f32| (y + dy + r).clamp(0.0, gray.height() as f32);
    geo.ink_box = BBox::new(
        x0 as u32,
        page_y(ink.y0 as f32, lo).floor() as u32,
        x1 as u32,
        page_y(ink.y1 as f32, hi).ceil() as u32,
    );
    geo.shear = shear;
    geo.shear_cx = cx;
    geo
}

/// [`line_geometry`] of a line read level; `inverted`: [`light_on_dark`] of the box.
fn level_geometry(gray: &GrayImage, bbox: BBox, inverted: bool) -> LineGeometry {
    let ink = if inverted {
        tighten_light_ink(gray, bbox)
    } else {
        tighten_to_ink(gray, bbox)
    };
    let ink = if ink.is_empty() {
        BBox::new(0, 0, gray.width().max(1), gray.height().max(1))
    } else {
        ink
    };
    let ink_h = ink.height().max(4) as f32;
    let (my, mx) = (ink_h * MARGIN_Y, ink_h * MARGIN_X);
    let sx0 = ink.x0 as f32 - mx;
    let sy0 = ink.y0 as f32 - my;
    let src_w = ink.width() as f32 + 2.0 * mx;
    let src_h = ink_h + 2.0 * my;
    let scale_y = LINE_HEIGHT as f32 / src_h;

    // Intensity mapping from the crop's own histogram (ink box plus margins, so there is
    // always paper in it): paper -> 0, ink -> 1.
    let cb = ink
        .expand(
            mx.round() as u32,
            my.round() as u32,
            gray.width(),
            gray.height(),
        )
        .clamp(gray.width(), gray.height());
    let hist = histogram(gray, cb);
    // Light text on a dark ground (reverse video labels, shaded headers) maps the same way with
    // the roles swapped: the dark ground -> 0, the light text -> 1 (a negative range).
    let (paper_level, range) = if inverted {
        let ink_level = percentile(&hist, 0.98) as f32;
        let paper_level = percentile(&hist, 0.10).min(percentile(&hist, 0.5)) as f32;
        (paper_level, -(ink_level - paper_level).max(32.0))
    } else {
        let ink_level = percentile(&hist, 0.02) as f32;
        let paper_level = percentile(&hist, 0.90).max(percentile(&hist, 0.5)) as f32;
        (paper_level, (paper_level - ink_level).max(32.0))
    };
    LineGeometry {
        ink_box: ink,
        source_x0: sx0,
        source_y0: sy0,
        scale_x: scale_y,
        scale_y,
        out_width: 0,
        padded_width: 0,
        nx: 1,
        ny: ((1.0 / scale_y).ceil() as usize).clamp(1, 4),
        paper_level,
        range,
        shear: 0.0,
        shear_cx: 0.0,
    }
    .with_scale_x(scale_y, src_w)
}

impl LineGeometry {
    /// Set the horizontal scale for a source window `source_width` page pixels wide, and the
    /// output widths and sample counts that follow from it (squeezed to [`MAX_LINE_WIDTH`]).
    pub(crate) fn with_scale_x(mut self, scale_x: f32, source_width: f32) -> Self {
        let mut out = (source_width * scale_x).round().max(1.0) as usize;
        let mut scale_x = scale_x;
        if out > MAX_LINE_WIDTH {
            out = MAX_LINE_WIDTH;
            scale_x = out as f32 / source_width;
        }
        self.scale_x = scale_x;
        self.out_width = out;
        self.padded_width = pad_width(out);
        self.nx = ((1.0 / scale_x).ceil() as usize).clamp(1, 4);
        self
    }
}

/// Resample the line described by `geo` from `gray` (step 3 and 5 of the module docs).
pub fn resample_line(gray: &GrayImage, geo: &LineGeometry) -> LineImage {
    let (out_w, padded) = (geo.out_width, geo.padded_width);
    let (sx0, sy0, paper_level, range) = (geo.source_x0, geo.source_y0, geo.paper_level, geo.range);
    let mut pixels = vec![0.0f32; LINE_HEIGHT * padded];
    // Each output pixel averages a small grid of bilinear samples over its footprint, which
    // area-averages when shrinking and interpolates when enlarging.
    let step_x = 1.0 / geo.scale_x;
    let step_y = 1.0 / geo.scale_y;
    let (nx, ny) = (geo.nx, geo.ny);
    let inv = 1.0 / (nx * ny) as f32;
    let (shear, cx) = (geo.shear, geo.shear_cx);
    for oy in 0..LINE_HEIGHT {
        for ox in 0..out_w {
            let mut acc = 0.0;
            for j in 0..ny {
                let y = sy0 + (oy as f32 + (j as f32 + 0.5) / ny as f32) * step_y - 0.5;
                for i in 0..nx {
                    let x = sx0 + (ox as f32 + (i as f32 + 0.5) / nx as f32) * step_x - 0.5;
                    acc += sample_bilinear(gray, x, y + shear * (x - cx), paper_level);
                }
            }
            let g = acc * inv;
            pixels[oy * padded + ox] = ((paper_level - g) / range).clamp(0.0, 1.0);
        }
    }
    LineImage {
        width: padded,
        content_width: out_w,
        pixels,
        source_x0: sx0,
        source_y0: sy0,
        scale_x: geo.scale_x,
        scale_y: geo.scale_y,
        ink_box: geo.ink_box,
        views: Vec::new(),
    }
}

/// Normalise the line at `bbox` on `gray` into a model input (see the module docs).
pub fn normalize_line(gray: &GrayImage, bbox: BBox) -> LineImage {
    resample_line(gray, &line_geometry(gray, bbox))
}

/// [`normalize_line`] with the line's views drawn beside it (for the recogniser's second look
/// at lines it is unsure of, [`super::views`]): how page lines are normalised for reading.
pub fn normalize_line_with_views(gray: &GrayImage, bbox: BBox) -> LineImage {
    let geo = line_geometry(gray, bbox);
    let mut line = resample_line(gray, &geo);
    line.views = super::views::view_geometries(&geo)
        .iter()
        .map(|g| resample_line(gray, g))
        .collect();
    line
}

/// A page line as the recogniser wants it: [`normalize_line_with_views`] when it reads views
/// (`views`, [`crate::recognize::Recognizer::reads_views`]), else [`normalize_line`].
pub fn normalize_page_line(gray: &GrayImage, bbox: BBox, views: bool) -> LineImage {
    if views {
        normalize_line_with_views(gray, bbox)
    } else {
        normalize_line(gray, bbox)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn floor_matches_the_library_floor() {
        for i in -4000..4000 {
            let v = i as f32 * 0.37 - 0.5;
            assert_eq!(floor(v), v.floor(), "{v}");
        }
        for v in [-1.0f32, 0.0, -0.0, 1.0, -0.999_999, 2.5, -2.5, 1e6 + 0.5] {
            assert_eq!(floor(v), v.floor(), "{v}");
        }
    }

    use super::*;
    use image::Luma;

    fn page_with_bar(x0: u32, y0: u32, x1: u32, y1: u32) -> GrayImage {
        let mut g = GrayImage::from_pixel(200, 100, Luma([240]));
        for y in y0..y1 {
            for x in x0..x1 {
                g.put_pixel(x, y, Luma([20]));
            }
        }
        g
    }

    #[test]
    fn normalised_line_has_fixed_height_and_polarity() {
        let g = page_with_bar(50, 40, 150, 60);
        let l = normalize_line(&g, BBox::new(40, 30, 160, 70));
        assert_eq!(l.pixels.len(), LINE_HEIGHT * l.width);
        assert_eq!(l.width % WIDTH_MULTIPLE, 0);
        // ink 20 px high + margins -> 32 px: the bar is ~100/(20*1.24)*32 wide.
        let expected = ((100.0 + 2.0 * 0.25 * 20.0) * 32.0 / (20.0 * 1.24f32)).round() as usize;
        assert!(
            (l.content_width as i64 - expected as i64).abs() <= 1,
            "{}",
            l.content_width
        );
        let mid = LINE_HEIGHT / 2 * l.width + l.content_width / 2;
        assert!(l.pixels[mid] > 0.9, "ink maps to ~1: {}", l.pixels[mid]);
        assert!(l.pixels[0] < 0.1, "paper maps to ~0: {}", l.pixels[0]);
        // Column mapping goes back to the page: the bar's left edge is near column mx*scale.
        let x = l.column_to_page_x(0.25 * 20.0 * l.scale_x);
        assert!((x - 50.0).abs() < 1.0, "{x}");
    }

    #[test]
    fn light_text_on_a_dark_ground_reads_like_dark_text_on_paper() {
        // "Text": 2 px strokes every 6 px (a third of the ink box is ink).
        let mut dark_on_light = GrayImage::from_pixel(200, 100, Luma([240]));
        for x in (50..150).filter(|x| x % 6 < 2) {
            for y in 40..60 {
                dark_on_light.put_pixel(x, y, Luma([20]));
            }
        }
        let mut light_on_dark = dark_on_light.clone();
        image::imageops::invert(&mut light_on_dark);
        // The same box on both: dark strokes with paper margins, and on the negative light
        // strokes on a dark ground filling the box.
        let a = normalize_line(&dark_on_light, BBox::new(40, 30, 160, 70));
        let b = normalize_line(&light_on_dark, BBox::new(40, 30, 160, 70));
        assert_eq!(a.content_width, b.content_width);
        let diff = a
            .pixels
            .iter()
            .zip(&b.pixels)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 0.05, "{diff}");
        assert!(line_geometry(&light_on_dark, BBox::new(40, 30, 160, 70)).range < 0.0);
        assert!(line_geometry(&dark_on_light, BBox::new(40, 30, 160, 70)).range > 0.0);
    }

    #[test]
    fn blank_and_degenerate_boxes_do_not_panic() {
        let g = GrayImage::from_pixel(10, 10, Luma([255]));
        let l = normalize_line(&g, BBox::new(0, 0, 10, 10));
        assert!(l.pixels.iter().all(|&p| p < 0.01));
        let l = normalize_line(&g, BBox::new(5, 5, 5, 5));
        assert_eq!(l.pixels.len(), LINE_HEIGHT * l.width);
        let l = normalize_line(&g, BBox::new(50, 50, 60, 60));
        assert_eq!(l.pixels.len(), LINE_HEIGHT * l.width);
    }
}
