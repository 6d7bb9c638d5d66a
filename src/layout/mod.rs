//! Layout stage: text lines, words, blocks and reading order from a binarised page.
//!
//! Input is a [`crate::preprocess::PreparedPage`]'s binary image (ink = 0, paper = 255), already
//! upright and deskewed. Output boxes are in that prepared page's pixel coordinates.
//!
//! [`analyze`] runs the steps below in order; each is public and callable alone:
//! 1. [`components::connected_components`]: ink components (boxes, pixel counts);
//! 2. [`components::estimate_text_height`]: the page's text height;
//! 3. [`rules::remove_rules`]: table rules, underlines and box sides removed from a copy, so
//!    text touching them separates again; [`rules::erase_graphics`]: stamps and logos;
//!    [`rules::find_leaders`]: dotted leaders;
//! 4. [`lines::classify`] and [`lines::group_lines`]: glyphs into lines (row pieces split at
//!    gutters), small marks attached, specks, stamps and logos ignored;
//! 5. [`words::split_words`]: words by each line's own gap distribution;
//! 6. [`blocks::reading_order`]: XY-cut at true column gutters, rows elsewhere, then blocks.

pub mod blocks;
pub mod columns;
pub mod components;
pub mod lines;
pub mod rules;
pub mod words;

#[cfg(test)]
mod tests;

use image::GrayImage;

use crate::geometry::BBox;

/// Options of the layout stage.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutOptions {
    /// Detect columns and read them one after another (otherwise: rows top to bottom).
    pub detect_columns: bool,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            detect_columns: true,
        }
    }
}

/// One text line (or a horizontally separated piece of a row) found on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutLine {
    /// Tight box around the line's ink, in prepared-page pixels.
    pub bbox: BBox,
    /// Word boxes found by gap analysis, left to right.
    pub words: Vec<BBox>,
    /// Typical character height (x-height to cap-height range) of the line, in pixels.
    pub char_height: f32,
}

/// A block of lines read together (a column piece or a paragraph).
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutBlock {
    /// Union of the lines' boxes.
    pub bbox: BBox,
    /// Lines top to bottom.
    pub lines: Vec<LayoutLine>,
}

/// The layout of one page: blocks in reading order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PageLayout {
    /// Blocks in reading order.
    pub blocks: Vec<LayoutBlock>,
    /// Median character height on the page, in pixels (0 when no text was found).
    pub char_height: f32,
}

/// Finds the text lines, words and blocks of a binarised page (ink = 0, paper = 255), in
/// reading order; boxes are in `binary`'s pixel coordinates. A page without text gives an
/// empty layout with `char_height` 0.
///
/// When the components are far too small to be glyphs (text height under
/// [`MIN_TEXT_HEIGHT`] pixels, or most ink in dots smaller than that: dot-matrix or broken
/// thermal print falling apart into dots), or are fragments of glyphs (the text height
/// estimate jumps when ink one pixel apart is joined: dense dot-matrix print), the page is
/// analysed again with its ink dilated by [`BROKEN_PRINT_DILATION`] pixels (one pixel for
/// fragments) and the boxes are shrunk back.
pub fn analyze(binary: &GrayImage, opts: &LayoutOptions) -> PageLayout {
    analyze_page(binary, opts, None)
}

/// Text height (pixels) below which the page's components are taken as the dots of broken
/// print rather than glyphs.
pub const MIN_TEXT_HEIGHT: f32 = 6.0;

/// Dilation radius (pixels) used to rejoin broken print, see [`analyze`].
pub const BROKEN_PRINT_DILATION: u32 = 2;

/// True when most of the page's ink (large graphics aside) lies in dots smaller than
/// [`MIN_TEXT_HEIGHT`] pixels.
fn mostly_dots(comps: &[components::Component], page_height: u32) -> bool {
    let (mut dots, mut all) = (0u64, 0u64);
    let max_h = components::glyph_cap(comps, page_height);
    for c in comps.iter().filter(|c| c.height() <= max_h) {
        all += c.pixels as u64;
        if (c.width().max(c.height()) as f32) < MIN_TEXT_HEIGHT {
            dots += c.pixels as u64;
        }
    }
    all > 0 && 2 * dots > all
}

/// Text heights (pixels) under which [`broken_into_fragments`] is checked: glyph fragments are
/// small, and the check's dilation is not worth paying on pages of large text.
const FRAGMENT_CHECK_BELOW: f32 = 16.0;

/// Growth of the text height estimate, beyond the two pixels a one-pixel dilation adds, that
/// means the components were fragments of glyphs: whole glyphs grow by at most a quarter (an
/// i-dot joining its stem), dot-matrix glyphs falling apart into strokes by two to three times.
const FRAGMENT_GROWTH: f32 = 1.8;

/// True when the page's glyphs fall apart into fragments bigger than [`mostly_dots`]'s dots
/// (dense dot-matrix print, broken strokes): joining ink one pixel apart makes the text height
/// estimate grow by more than [`FRAGMENT_GROWTH`]. The rules are taken out first: small print
/// a pixel or two from the rules of the cells and fields it is set in (a form at 100 DPI) would
/// otherwise join them, and the estimate would grow to the cells' height.
fn broken_into_fragments(binary: &GrayImage, th0: f32) -> bool {
    if th0 >= FRAGMENT_CHECK_BELOW {
        return false;
    }
    fragments_without_rules(&rules::remove_rules(binary, th0).0, th0)
}

/// [`broken_into_fragments`] on the page with its rules already taken out (`clean`).
fn fragments_without_rules(clean: &GrayImage, th0: f32) -> bool {
    let joined = components::dilate(clean, 1);
    let comps = components::connected_components(&joined);
    let th = components::estimate_text_height(&comps, clean.height()) - 2.0;
    tracing::debug!(th0, joined = th, growth = th / th0, "fragment check");
    th > FRAGMENT_GROWTH * th0
}

/// The page's text height as the layout stage sees it, see [`page_text_height`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TextHeight {
    /// Glyph height in pixels (0 when the page has no text).
    pub pixels: f32,
    /// Whether it was measured on a rejoined (dilated) copy because the print falls apart into
    /// dots or fragments.
    pub rejoined: bool,
}

/// The page's text height as the layout stage sees it: the glyph-height estimate of
/// [`components::estimate_text_height`], measured on the rejoined copy [`analyze`] would use
/// when the print falls apart into dots or fragments (shrunk back by the dilation), so
/// dot-matrix print counts at its glyphs' height, not its dots'.
pub fn page_text_height(binary: &GrayImage) -> TextHeight {
    let height = binary.height();
    let comps = components::connected_components(binary);
    let th0 = components::estimate_text_height(&comps, height);
    if th0 <= 0.0 {
        return TextHeight::default();
    }
    let rejoin = if th0 < MIN_TEXT_HEIGHT || mostly_dots(&comps, height) {
        Some(BROKEN_PRINT_DILATION)
    } else if broken_into_fragments(binary, th0) {
        Some(1)
    } else {
        None
    };
    let pixels = match rejoin {
        Some(r) => {
            let joined = components::connected_components(&components::dilate(binary, r));
            let th = components::estimate_text_height(&joined, height) - 2.0 * r as f32;
            tracing::debug!(th0, rejoined = th, "text height on the rejoined copy");
            if th > 0.0 { th } else { th0 }
        }
        None => th0,
    };
    TextHeight {
        pixels,
        rejoined: rejoin.is_some(),
    }
}

/// Shrinks a box by `r` on each side (boxes found on a dilated copy), keeping it non-empty.
fn shrink(b: BBox, r: u32) -> BBox {
    if b.width() > 2 * r && b.height() > 2 * r {
        BBox::new(b.x0 + r, b.y0 + r, b.x1 - r, b.y1 - r)
    } else {
        b
    }
}

/// [`analyze`]; `dilated` is the radius by which `binary` was already dilated, if it was.
fn analyze_page(binary: &GrayImage, opts: &LayoutOptions, dilated: Option<u32>) -> PageLayout {
    let (width, height) = binary.dimensions();
    let (runs, row_start) = components::image_runs(binary);
    let (raw_comps, labels) = components::label_runs(&runs, &row_start);
    let th0 = components::estimate_text_height(&raw_comps, height);
    if raw_comps.is_empty() {
        return PageLayout::default();
    }
    // Rules are taken out once: for the fragment check when it runs, then for the layout.
    let mut dirty = vec![false; height as usize];
    let mut ruled = None;
    let rejoin = if dilated.is_some() {
        None
    } else if th0 < MIN_TEXT_HEIGHT || mostly_dots(&raw_comps, height) {
        Some(BROKEN_PRINT_DILATION)
    } else if th0 < FRAGMENT_CHECK_BELOW
        && fragments_without_rules(
            &ruled
                .insert(rules::remove_rules_in_runs(
                    binary, &runs, &row_start, th0, &mut dirty,
                ))
                .0,
            th0,
        )
    {
        // Fragments lie one pixel apart; a wider dilation would join tightly set rows.
        Some(1)
    } else {
        None
    };
    if let Some(r) = rejoin {
        let mut layout = analyze_page(&components::dilate(binary, r), opts, Some(r));
        // Words and character heights were measured on shrunk components already.
        for block in &mut layout.blocks {
            block.bbox = shrink(block.bbox, r).clamp(width, height);
            for line in &mut block.lines {
                line.bbox = shrink(line.bbox, r).clamp(width, height);
            }
        }
        return layout;
    }
    if th0 <= 0.0 {
        return PageLayout::default();
    }
    let (mut clean, _rulings) = match ruled {
        Some(r) => r,
        None => rules::remove_rules_in_runs(binary, &runs, &row_start, th0, &mut dirty),
    };
    rules::erase_graphics(&mut clean, &raw_comps, &runs, &labels, th0, &mut dirty);
    let comps = if dirty.iter().any(|&d| d) {
        let (runs, row_start) = components::rescan_rows(&clean, &runs, &row_start, &dirty);
        components::components_from_runs(&runs, &row_start)
    } else {
        raw_comps
    };
    let th = match components::estimate_text_height(&comps, height) {
        t if t > 0.0 => t,
        _ => th0,
    };
    let leaders = rules::find_leaders(&comps, th);
    let kinds = lines::classify(&comps, &leaders, th);
    let groups = lines::group_lines(&comps, &kinds, th);
    if groups.is_empty() {
        return PageLayout::default();
    }
    // On a dilated copy, gaps and heights are measured on the components shrunk back.
    let shrunk: Vec<components::Component>;
    let measured: &[components::Component] = match dilated {
        Some(r) => {
            shrunk = comps
                .iter()
                .map(|c| components::Component {
                    bbox: shrink(c.bbox, r),
                    pixels: c.pixels,
                })
                .collect();
            &shrunk
        }
        None => &comps,
    };
    let found: Vec<LayoutLine> = groups
        .iter()
        .map(|g| {
            let char_height = match dilated {
                Some(_) => lines::cluster_height(measured, &g.members, g.glyphs),
                None => g.char_height,
            };
            LayoutLine {
                bbox: g.bbox,
                words: words::split_words(measured, &g.members, char_height),
                char_height,
            }
        })
        .collect();
    let mut heights: Vec<u32> = found.iter().map(|l| l.char_height.round() as u32).collect();
    heights.sort_unstable();
    PageLayout {
        blocks: blocks::reading_order(found, th, opts.detect_columns),
        char_height: components::median_u32(&heights),
    }
}
