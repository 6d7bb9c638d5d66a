//! Step 1 of line normalisation: find the text's own ink inside a line box.
//!
//! Boxes from annotators and from the layout stage are looser than the text: they take in
//! blank paper, the underline or table rule under a form field, the frame of a boxed cell and
//! the cut-off descenders or tops of neighbouring lines. Every row of that which stays in the
//! ink box shrinks the text when the line is scaled to the model's height (a framed 9 px line
//! in a 17 px box reaches the model at half the size of the same line boxed tightly), and the
//! synthetic training lines are framed on their text's ink alone. So the ink box here is:
//! 1. the rows and columns holding ink (Otsu threshold over the box);
//! 2. without horizontal rules in the outer bands (an unbroken straight line of ink covering
//!    most of the ink width, level or slanted by up to ~2°, as on a page scanned askew),
//!    together with anything beyond them;
//! 3. without edge bands of rows that a blank row separates from the text and that are much
//!    lower than it (fragments of the neighbouring lines);
//! 4. of several text lines left touching each other (through a descender, a signature
//!    stroke), the one with the most ink: an annotator's box around one line of a dense
//!    paragraph takes in much of the lines above and below (a part joined to it by ink
//!    across the valley must span half its columns: the bar of a bold `T` is no line);
//! 5. columns re-trimmed to the ink of the rows that remain.
//!
//! Each cut is undone when what would remain is too little to be the line (a box holding only
//! a rule or a row of dashes keeps its ink box).

use image::GrayImage;

use crate::geometry::BBox;
use crate::histogram::{box_histogram as histogram, otsu, percentile};

/// A row is a rule when one run of ink covers at least this fraction of the ink width.
const RULE_RUN: f32 = 0.6;
/// Rules are looked for only in this fraction of the ink height at the top and at the bottom.
const RULE_BAND: f32 = 0.4;
/// An edge band is a neighbour fragment when its height and its ink are at most this fraction
/// of the main band's (the two dots of a lone colon are alike and both stay).
const FRAGMENT_HEIGHT: f32 = 0.5;
/// A row with at least this fraction of the peak row's ink is the body of a text line.
const PEAK: f32 = 0.5;
/// A row with at most this fraction of the peak row's ink between two text-line bodies
/// separates two lines.
const VALLEY: f32 = 0.15;
/// A text line's body (its rows with at least [`PEAK`] of its peak ink) covers at least this
/// fraction of its height.
const BODY: f32 = 0.35;
/// Slopes (rows per column) at which rules are looked for: level, and up to about 2.3 degrees
/// either way.
const RULE_SLOPES: &[f32] = &[
    0.0, 0.005, -0.005, 0.01, -0.01, 0.02, -0.02, 0.03, -0.03, 0.04, -0.04,
];
/// Whatever is cut, at least this fraction of the first ink height remains.
const MIN_KEPT: f32 = 0.3;
/// A part joined to the kept one by ink across the valley row between them is another text
/// line only when its ink spans at least this fraction of the kept part's columns: a
/// capital's top (the bar of a `T` over `ax`, joined by the stem) is narrow, a neighbouring
/// line runs along the box.
const LINE_SPAN: f32 = 0.5;

/// The thresholded box: `ink[y * w + x]` for the box's `w` x `h` pixels.
struct InkMask {
    w: usize,
    ink: Vec<bool>,
}

impl InkMask {
    fn at(&self, x: usize, y: usize) -> bool {
        self.ink[y * self.w + x]
    }

    /// Ink pixels of row `y` between columns `x0..x1`.
    fn row_count(&self, y: usize, x0: usize, x1: usize) -> usize {
        (x0..x1).filter(|&x| self.at(x, y)).count()
    }

    /// First and last column (exclusive end) holding ink in rows `y0..y1` between columns
    /// `x0..x1`.
    fn columns_within(&self, y0: usize, y1: usize, x0: usize, x1: usize) -> Option<(usize, usize)> {
        let has = |x: usize| (y0..y1).any(|y| self.at(x, y));
        let first = (x0..x1).find(|&x| has(x))?;
        let last = (x0..x1).rev().find(|&x| has(x))?;
        Some((first, last + 1))
    }

    /// First and last column (exclusive end) holding ink in rows `y0..y1`.
    fn columns(&self, y0: usize, y1: usize) -> Option<(usize, usize)> {
        let has = |x: usize| (y0..y1).any(|y| self.at(x, y));
        let first = (0..self.w).find(|&x| has(x))?;
        let last = (0..self.w).rev().find(|&x| has(x))?;
        Some((first, last + 1))
    }
}

/// Whether a box's histogram can hold ink at all: its 2nd and 98th percentiles at least 24
/// levels apart (an empty histogram has none).
pub(super) fn has_contrast(hist: &[u32; 256]) -> bool {
    percentile(hist, 0.98).saturating_sub(percentile(hist, 0.02)) >= 24
}

/// Tighten `bbox` to the text's ink inside it (see the module docs); returns the box unchanged
/// when it holds no clear ink.
pub fn tighten_to_ink(gray: &GrayImage, bbox: BBox) -> BBox {
    let b = bbox.clamp(gray.width(), gray.height());
    if b.is_empty() {
        return b;
    }
    let hist = histogram(gray, b);
    if !has_contrast(&hist) {
        return b;
    }
    let t = otsu(&hist);
    let (w, h) = (b.width() as usize, b.height() as usize);
    let mut ink = Vec::with_capacity(w * h);
    for y in b.y0..b.y1 {
        for x in b.x0..b.x1 {
            ink.push(gray.get_pixel(x, y)[0] <= t);
        }
    }
    let mask = InkMask { w, ink };
    match text_rows_and_columns(&mask, h) {
        Some((x0, x1, y0, y1)) => BBox::new(
            b.x0 + x0 as u32,
            b.y0 + y0 as u32,
            b.x0 + x1 as u32,
            b.y0 + y1 as u32,
        ),
        None => b,
    }
}

/// Steps 1–5 of the module docs on the mask: `(x0, x1, y0, y1)`, ends exclusive.
fn text_rows_and_columns(mask: &InkMask, h: usize) -> Option<(usize, usize, usize, usize)> {
    let row_min = ((mask.w as f32) * 0.005).ceil().max(1.0) as usize;
    let inked = |y: usize, x0: usize, x1: usize| mask.row_count(y, x0, x1) >= row_min;
    let (x0, x1) = mask.columns(0, h)?;
    let y0 = (0..h).find(|&y| inked(y, x0, x1))?;
    let y1 = (0..h).rev().find(|&y| inked(y, x0, x1))? + 1;
    let first = (x0, x1, y0, y1);
    let min_kept = ((y1 - y0) as f32 * MIN_KEPT).ceil() as usize;

    // 2. Rules in the outer bands, and whatever lies beyond them.
    let (mut top, mut bottom) = (y0, y1);
    let band = ((y1 - y0) as f32 * RULE_BAND).floor() as usize;
    if let Some((first_row, _)) = rule_in(mask, x0, x1, y1 - band, y1, true) {
        bottom = first_row;
    }
    if let Some((_, last_row)) = rule_in(mask, x0, x1, y0, y0 + band, false) {
        top = last_row + 1;
    }
    while top < bottom && !inked(top, x0, x1) {
        top += 1;
    }
    while bottom > top && !inked(bottom - 1, x0, x1) {
        bottom -= 1;
    }
    if bottom - top < min_kept.max(2) {
        return Some(first);
    }

    // 3. Bands of inked rows; drop thin edge bands split from the main one by a blank row.
    let mut bands: Vec<(usize, usize, usize)> = Vec::new(); // (start, end, ink)
    for y in top..bottom {
        let n = mask.row_count(y, x0, x1);
        if n >= row_min {
            match bands.last_mut() {
                Some(last) if last.1 == y => {
                    last.1 = y + 1;
                    last.2 += n;
                }
                _ => bands.push((y, y + 1, n)),
            }
        }
    }
    if let Some(main) = (0..bands.len()).max_by_key(|&i| bands[i].2) {
        let main_h = (bands[main].1 - bands[main].0) as f32;
        let main_ink = bands[main].2 as f32;
        let thin = |i: usize| {
            ((bands[i].1 - bands[i].0) as f32) <= FRAGMENT_HEIGHT * main_h
                && (bands[i].2 as f32) <= FRAGMENT_HEIGHT * main_ink
        };
        let mut first_kept = 0;
        while first_kept < main && thin(first_kept) {
            first_kept += 1;
        }
        let mut last_kept = bands.len() - 1;
        while last_kept > main && thin(last_kept) {
            last_kept -= 1;
        }
        let (t, b) = (bands[first_kept].0, bands[last_kept].1);
        if b - t >= min_kept.max(2) {
            (top, bottom) = (t, b);
        }
    }

    // 4. Several text lines in what remains: keep the one with the most ink.
    let (top, bottom) = main_text_line(mask, x0, x1, top, bottom, row_min, min_kept);

    // 5. Columns of what remains.
    let (cx0, cx1) = mask.columns(top, bottom)?;
    Some((cx0, cx1, top, bottom))
}

/// The rule nearest the text among those lying wholly in rows `lo..hi`: a straight line of
/// ink, level or at one of [`RULE_SLOPES`] (a form rule on a page scanned a little askew
/// crosses several rows), unbroken over at least [`RULE_RUN`] of the ink width `x0..x1`.
/// Returns its first and last row; `bottom_band` picks the highest rule (nearest text above
/// it), otherwise the lowest.
fn rule_in(
    mask: &InkMask,
    x0: usize,
    x1: usize,
    lo: usize,
    hi: usize,
    bottom_band: bool,
) -> Option<(usize, usize)> {
    if lo >= hi || x1 <= x0 {
        return None;
    }
    let need = RULE_RUN * (x1 - x0) as f32;
    let mut best: Option<(usize, usize)> = None;
    for &slope in RULE_SLOPES {
        let rise = (slope.abs() * (x1 - x0) as f32).ceil() as isize;
        // Row offset of the line at each column, the same for every start row.
        let offsets: Vec<isize> = (0..x1 - x0)
            .map(|i| (slope * i as f32).round() as isize)
            .collect();
        for start in lo as isize - rise..hi as isize + rise {
            let row_at = |x: usize| start + offsets[x - x0];
            let (mut run, mut run_start) = (0usize, x0);
            for x in x0..=x1 {
                let y = if x < x1 { row_at(x) } else { -1 };
                let inside = y >= lo as isize && y < hi as isize;
                if inside && mask.at(x, y as usize) {
                    if run == 0 {
                        run_start = x;
                    }
                    run += 1;
                    continue;
                }
                if run as f32 >= need {
                    let (a, b) = (row_at(run_start) as usize, row_at(x - 1) as usize);
                    let rows = (a.min(b), a.max(b));
                    let nearer = match best {
                        None => true,
                        Some(r) if bottom_band => rows.0 < r.0,
                        Some(r) => rows.1 > r.1,
                    };
                    if nearer {
                        best = Some(rows);
                    }
                }
                run = 0;
                if ((x1 - x).saturating_sub(1) as f32) < need {
                    break; // too few columns left for a rule to start and be long enough
                }
            }
        }
    }
    best
}

/// Whether a row profile has a text line's body: a run of rows with at least [`PEAK`] of its
/// peak ink covering [`BODY`] of its height (at least 2 rows). The halves of a `Z` cut through
/// its diagonal, or the dot rows of dot-matrix print, are bars, not bodies.
fn looks_like_a_line(profile: &[usize]) -> bool {
    let peak = profile.iter().copied().max().unwrap_or(0) as f32;
    let (mut run, mut longest) = (0usize, 0usize);
    for &n in profile {
        run = if n as f32 >= PEAK * peak { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest >= 2 && longest as f32 >= BODY * profile.len() as f32
}

/// Rows `top..bottom` split at deep valleys of the row profile (a row with at most
/// [`VALLEY`] of the peak ink, between rows with at least [`PEAK`] of it on both sides: two text
/// lines touching through a descender or a signature stroke); returns the part with the most
/// ink (without blank rows at its ends), or the rows unchanged when there is no such valley or
/// when a part does not look like a text line ([`looks_like_a_line`]). Ascenders, descenders
/// and the dots over `i`s never make a valley: no strong row lies beyond them.
fn main_text_line(
    mask: &InkMask,
    x0: usize,
    x1: usize,
    top: usize,
    bottom: usize,
    row_min: usize,
    min_kept: usize,
) -> (usize, usize) {
    let profile: Vec<usize> = (top..bottom).map(|y| mask.row_count(y, x0, x1)).collect();
    let peak = profile.iter().copied().max().unwrap_or(0) as f32;
    let strong = |n: usize| n as f32 >= PEAK * peak;
    let weak = |n: usize| n as f32 <= VALLEY * peak;
    let mut cuts = Vec::new();
    let (mut seen_strong, mut valley): (bool, Option<usize>) = (false, None);
    for (i, &n) in profile.iter().enumerate() {
        if strong(n) {
            if let (true, Some(v)) = (seen_strong, valley) {
                cuts.push(v);
            }
            seen_strong = true;
            valley = None;
        } else if seen_strong && weak(n) && valley.is_none_or(|v| n <= profile[v]) {
            valley = Some(i);
        }
    }
    if cuts.is_empty() {
        return (top, bottom);
    }
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for end in cuts.into_iter().chain(std::iter::once(profile.len())) {
        parts.push(&profile[start..end]);
        start = end + 1;
    }
    if !parts.iter().all(|p| looks_like_a_line(p)) {
        return (top, bottom);
    }
    let mut best = (0, 0, 0); // (ink, start, end) in profile indices
    let mut spans = Vec::with_capacity(parts.len()); // (start, end) of each part
    let mut start = 0;
    for part in parts {
        let ink = part.iter().sum::<usize>();
        if ink > best.0 {
            best = (ink, start, start + part.len());
        }
        spans.push((start, start + part.len()));
        start += part.len() + 1;
    }
    // A part that touches the kept one through ink in the valley row between them (not a
    // blank row) must run along the box to be another line: a capital's bar over the
    // x-height, joined by its stem, does not.
    let width = |(s, e): (usize, usize)| {
        mask.columns_within(top + s, top + e, x0, x1)
            .map_or(0, |(a, b)| b - a)
    };
    let kept_width = width((best.1, best.2)) as f32;
    let narrow_and_joined = spans.iter().any(|&(s, e)| {
        let valley = if e < best.1 {
            e
        } else if s > best.2 {
            s - 1
        } else {
            return false;
        };
        let adjacent = valley + 1 == best.1 || valley == best.2;
        adjacent && profile[valley] > 0 && (width((s, e)) as f32) < LINE_SPAN * kept_width
    });
    if narrow_and_joined {
        return (top, bottom);
    }
    let (_, mut s, mut e) = best;
    while s < e && profile[s] < row_min {
        s += 1;
    }
    while e > s && profile[e - 1] < row_min {
        e -= 1;
    }
    if e - s < min_kept.max(4) {
        return (top, bottom);
    }
    (top + s, top + e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn page() -> GrayImage {
        GrayImage::from_pixel(200, 100, Luma([240]))
    }

    fn fill(g: &mut GrayImage, x0: u32, y0: u32, x1: u32, y1: u32) {
        for y in y0..y1 {
            for x in x0..x1 {
                g.put_pixel(x, y, Luma([20]));
            }
        }
    }

    /// `n` "glyphs": blocks 8 px wide, 3 px apart, rows `y0..y1`, from column `x0`.
    fn glyphs(g: &mut GrayImage, x0: u32, n: u32, y0: u32, y1: u32) {
        for i in 0..n {
            fill(g, x0 + i * 11, y0, x0 + 8 + i * 11, y1);
        }
    }

    /// A line of text: 8 glyphs from x = 50 (ink 50..135).
    fn text(g: &mut GrayImage, y0: u32, y1: u32) {
        glyphs(g, 50, 8, y0, y1);
    }

    #[test]
    fn tightens_loose_boxes() {
        let mut g = page();
        fill(&mut g, 50, 40, 150, 60);
        assert_eq!(
            tighten_to_ink(&g, BBox::new(30, 20, 180, 90)),
            BBox::new(50, 40, 150, 60)
        );
    }

    #[test]
    fn drops_underlines_and_box_rules() {
        let mut g = page();
        text(&mut g, 40, 52);
        fill(&mut g, 40, 54, 150, 56); // underline, wider than the text
        fill(&mut g, 40, 33, 150, 34); // rule above
        assert_eq!(
            tighten_to_ink(&g, BBox::new(35, 30, 160, 60)),
            BBox::new(50, 40, 135, 52)
        );
    }

    #[test]
    fn drops_slanted_rules_and_the_line_beyond() {
        let mut g = page();
        glyphs(&mut g, 52, 5, 20, 30); // the line above, beyond the rule
        text(&mut g, 40, 52);
        // A 2 px rule rising 4 rows over 110 columns (~2°), touching no row the text uses.
        for x in 40..150u32 {
            let y = 37 - (x - 40) / 28;
            fill(&mut g, x, y, x + 1, y + 2);
        }
        assert_eq!(
            tighten_to_ink(&g, BBox::new(35, 20, 160, 56)),
            BBox::new(50, 40, 135, 52)
        );
    }

    #[test]
    fn drops_cut_off_neighbour_lines() {
        let mut g = page();
        text(&mut g, 40, 52);
        glyphs(&mut g, 60, 5, 55, 58); // tops of the next line's letters
        glyphs(&mut g, 52, 3, 36, 38); // descenders of the line above
        assert_eq!(
            tighten_to_ink(&g, BBox::new(45, 36, 140, 58)),
            BBox::new(50, 40, 135, 52)
        );
    }

    #[test]
    fn keeps_the_fullest_of_touching_lines() {
        let mut g = page();
        glyphs(&mut g, 52, 5, 28, 37); // the line above, nearly as tall but shorter
        fill(&mut g, 53, 37, 56, 39); // its descender, reaching the blank row over the text
        text(&mut g, 40, 52);
        glyphs(&mut g, 50, 4, 55, 62); // the line below, cut by the box
        assert_eq!(
            tighten_to_ink(&g, BBox::new(45, 28, 140, 62)),
            BBox::new(50, 40, 135, 52)
        );
    }

    #[test]
    fn keeps_the_top_of_a_capital() {
        // "Tax" in a bold face: the T's bar is as inky as the x-height rows and only its stem
        // crosses the rows between them, a valley; the bar is narrow, so it is no line.
        let mut g = page();
        fill(&mut g, 50, 30, 80, 34); // the bar
        fill(&mut g, 63, 34, 67, 52); // the stem
        glyphs(&mut g, 84, 5, 40, 52); // "ax"
        assert_eq!(
            tighten_to_ink(&g, BBox::new(45, 25, 145, 60)),
            BBox::new(50, 30, 136, 52)
        );
    }

    #[test]
    fn keeps_lines_that_are_only_a_rule() {
        let mut g = page();
        fill(&mut g, 50, 40, 150, 43);
        assert_eq!(
            tighten_to_ink(&g, BBox::new(40, 30, 160, 60)),
            BBox::new(50, 40, 150, 43)
        );
    }

    #[test]
    fn keeps_strike_through() {
        let mut g = page();
        text(&mut g, 40, 52);
        fill(&mut g, 48, 45, 140, 47); // struck through the middle: not an outer band
        assert_eq!(
            tighten_to_ink(&g, BBox::new(45, 35, 145, 70)),
            BBox::new(48, 40, 140, 52)
        );
    }

    #[test]
    fn keeps_ascenders_and_i_dots() {
        let mut g = page();
        text(&mut g, 40, 52); // x-height body
        fill(&mut g, 50, 33, 52, 40); // an ascender
        fill(&mut g, 72, 36, 74, 38); // a dot, split from its stem by a blank row
        assert_eq!(
            tighten_to_ink(&g, BBox::new(45, 30, 145, 60)),
            BBox::new(50, 33, 135, 52)
        );
    }

    #[test]
    fn random_pages_and_boxes_stay_inside_the_box() {
        use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..300 {
            let (w, h) = (rng.random_range(1..80u32), rng.random_range(1..60u32));
            let dark = rng.random_range(0.0..0.6f32);
            let g = GrayImage::from_fn(w, h, |_, _| {
                Luma([if rng.random_bool(f64::from(dark)) {
                    10
                } else {
                    245
                }])
            });
            let x0 = rng.random_range(0..w + 10);
            let y0 = rng.random_range(0..h + 10);
            let bbox = BBox::new(
                x0,
                y0,
                x0 + rng.random_range(0..90),
                y0 + rng.random_range(0..70),
            );
            let clamped = bbox.clamp(w, h);
            let t = tighten_to_ink(&g, bbox);
            assert!(
                t.x0 >= clamped.x0
                    && t.y0 >= clamped.y0
                    && t.x1 <= clamped.x1
                    && t.y1 <= clamped.y1,
                "{t:?} outside {clamped:?}"
            );
        }
    }
}
