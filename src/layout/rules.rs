//! Ruling removal (table rules, underlines, form boxes) and dotted-leader detection.
//!
//! Rules are ink runs far longer than any glyph stroke: a horizontal run of at least ~4 text
//! heights cannot belong to a letter, nor can a vertical one. Removing those pixels from a
//! working copy splits text that touches an underline or a table rule back into separate glyph
//! components. Dotted leaders ("Total ........ 12.50") are rows of tiny equal dots; they are
//! found on the components so that they neither glue a label to its value nor become a line.

use image::GrayImage;

use super::components::{Component, Run, image_runs, is_ink};
use crate::geometry::BBox;

/// Rules found on a page, in page pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rulings {
    /// Horizontal rules (underlines, table rows, form boxes).
    pub horizontal: Vec<BBox>,
    /// Vertical rules (table columns, box sides).
    pub vertical: Vec<BBox>,
}

/// Largest mean thickness of a rule, in text heights: thicker long strokes are bars of large
/// letters (a headline's "T" or "I") or solid blocks, which are left alone.
pub const MAX_RULE_THICKNESS: f32 = 0.4;

/// Minimum run length, in pixels, that counts as a rule for a page of the given text height.
pub fn min_rule_length(text_height: f32) -> u32 {
    (4.0 * text_height).max(24.0).round() as u32
}

/// Returns a copy of `binary` without horizontal and vertical rules, and the rules' boxes.
///
/// A horizontal rule is an ink run (1-pixel breaks bridged, as in scanned or thermal print) of
/// at least [`min_rule_length`] pixels; a vertical rule is such a run down a column. Runs on
/// adjacent lines are grouped and only thin groups (mean thickness at most
/// [`MAX_RULE_THICKNESS`] text heights) count. Both directions are detected on the original
/// image and then painted white, so crossings of the two are found.
pub fn remove_rules(binary: &GrayImage, text_height: f32) -> (GrayImage, Rulings) {
    let (runs, row_start) = image_runs(binary);
    let mut dirty = vec![false; binary.height() as usize];
    remove_rules_in_runs(binary, &runs, &row_start, text_height, &mut dirty)
}

/// [`remove_rules`] on the runs of `binary` already found by [`image_runs`]; the work is
/// proportional to the ink, not the page. Sets `dirty[y]` for every row it changes.
pub fn remove_rules_in_runs(
    binary: &GrayImage,
    runs: &[Run],
    row_start: &[usize],
    text_height: f32,
    dirty: &mut [bool],
) -> (GrayImage, Rulings) {
    let (w, h) = binary.dimensions();
    let min_len = min_rule_length(text_height);
    let mut clean = binary.clone();
    if w == 0 || h == 0 || row_start.len() != h as usize + 1 || dirty.len() < h as usize {
        return (clean, Rulings::default());
    }
    let mut h_segments: Vec<(u32, u32, u32)> = Vec::new(); // (y, x0, x1)
    let mut v_segments: Vec<(u32, u32, u32)> = Vec::new(); // (x, y0, y1)

    // Horizontal: long runs in a row, bridging single-pixel breaks.
    for y in 0..h as usize {
        let row = &runs[row_start[y]..row_start[y + 1]];
        let mut i = 0;
        while i < row.len() {
            let (start, mut end) = (row[i].x0, row[i].x1);
            let mut j = i + 1;
            while j < row.len() && row[j].x0 <= end + 1 {
                end = row[j].x1;
                j += 1;
            }
            if end - start >= min_len {
                h_segments.push((y as u32, start, end));
            }
            i = j;
        }
    }

    // Vertical: per-column length of the ink run ending at the column's last ink row.
    let mut count = vec![0u32; w as usize];
    let mut last = vec![u32::MAX; w as usize];
    for r in runs {
        for x in r.x0 as usize..r.x1 as usize {
            if last[x] != u32::MAX && last[x] + 1 == r.y {
                count[x] += 1;
            } else {
                if count[x] >= min_len {
                    v_segments.push((x as u32, last[x] + 1 - count[x], last[x] + 1));
                }
                count[x] = 1;
            }
            last[x] = r.y;
        }
    }
    for x in 0..w as usize {
        if count[x] >= min_len {
            v_segments.push((x as u32, last[x] + 1 - count[x], last[x] + 1));
        }
    }

    let max_thickness = (MAX_RULE_THICKNESS * text_height).max(3.0);
    let mut keep = Vec::new();
    let horizontal = thin_rules(&h_segments, max_thickness, false, &mut keep);
    let buf: &mut [u8] = &mut clean;
    for (&(y, x0, x1), _) in h_segments.iter().zip(&keep).filter(|(_, k)| **k) {
        let base = y as usize * w as usize;
        buf[base + x0 as usize..base + x1 as usize].fill(255);
        dirty[y as usize] = true;
    }
    let vertical = thin_rules(&v_segments, max_thickness, true, &mut keep);
    for (&(x, y0, y1), _) in v_segments.iter().zip(&keep).filter(|(_, k)| **k) {
        for y in y0..y1 {
            buf[y as usize * w as usize + x as usize] = 255;
            dirty[y as usize] = true;
        }
    }
    let rulings = Rulings {
        horizontal,
        vertical,
    };
    (clean, rulings)
}

/// Erases from `clean` the graphics of the original page: components of `comps` (labelled on
/// the original, with `runs`/`labels` from [`super::components::label_runs`]) that
/// [`super::lines::is_graphic`] calls non-text and that were not mostly removed as rules.
///
/// Rule removal cuts a stamp's ring or a logo's outline into arcs that could pass for glyphs;
/// a table grid, by contrast, is almost all rule pixels and its cells' text must stay. Sets
/// `dirty[y]` for the rows it changes and returns the number of components erased.
pub fn erase_graphics(
    clean: &mut GrayImage,
    comps: &[Component],
    runs: &[Run],
    labels: &[u32],
    th: f32,
    dirty: &mut [bool],
) -> usize {
    let graphic: Vec<bool> = comps
        .iter()
        .map(|c| super::lines::is_graphic(c, th))
        .collect();
    if !graphic.iter().any(|&g| g) {
        return 0;
    }
    let w = clean.width() as usize;
    let buf: &mut [u8] = clean;
    let mut remaining = vec![0u32; comps.len()];
    for (r, &l) in runs.iter().zip(labels) {
        if graphic[l as usize] {
            let base = r.y as usize * w;
            remaining[l as usize] += buf[base + r.x0 as usize..base + r.x1 as usize]
                .iter()
                .filter(|&&v| is_ink(v))
                .count() as u32;
        }
    }
    let erase: Vec<bool> = (0..comps.len())
        .map(|i| graphic[i] && remaining[i] as f32 > 0.3 * comps[i].pixels as f32)
        .collect();
    for (r, &l) in runs.iter().zip(labels) {
        if erase[l as usize] {
            let base = r.y as usize * w;
            buf[base + r.x0 as usize..base + r.x1 as usize].fill(255);
            if let Some(d) = dirty.get_mut(r.y as usize) {
                *d = true;
            }
        }
    }
    erase.iter().filter(|&&e| e).count()
}

/// A group of rule segments on adjacent lines that overlap: one rule.
struct SegmentGroup {
    /// First line, last line + 1, first and end position along the rule.
    span: (u32, u32, u32, u32),
    /// Ink pixels in the group's segments.
    pixels: u64,
    /// Indices of the segments.
    members: Vec<usize>,
}

impl SegmentGroup {
    /// Mean thickness across the rule: ink over length, so a slightly skewed thin rule that
    /// drifts over several lines still counts as thin.
    fn thickness(&self) -> f32 {
        self.pixels as f32 / (self.span.3 - self.span.2).max(1) as f32
    }

    fn bbox(&self, vertical: bool) -> BBox {
        let (l0, l1, a0, a1) = self.span;
        if vertical {
            BBox::new(l0, a0, l1, a1)
        } else {
            BBox::new(a0, l0, a1, l1)
        }
    }
}

/// Groups run segments `(line, a0, a1)` on adjacent lines that overlap.
fn group_segments(segments: &[(u32, u32, u32)]) -> Vec<SegmentGroup> {
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_unstable_by_key(|&i| segments[i]);
    let mut open: Vec<SegmentGroup> = Vec::new();
    let mut done: Vec<SegmentGroup> = Vec::new();
    for i in order {
        let (line, a0, a1) = segments[i];
        // Close groups that ended more than one line ago.
        let mut k = 0;
        while k < open.len() {
            if open[k].span.1 + 1 < line {
                done.push(open.swap_remove(k));
            } else {
                k += 1;
            }
        }
        let len = (a1 - a0) as u64;
        if let Some(g) = open
            .iter_mut()
            .find(|g| g.span.1 + 1 >= line && a0 < g.span.3 && g.span.2 < a1)
        {
            g.span.1 = g.span.1.max(line + 1);
            g.span.2 = g.span.2.min(a0);
            g.span.3 = g.span.3.max(a1);
            g.pixels += len;
            g.members.push(i);
        } else {
            open.push(SegmentGroup {
                span: (line, line + 1, a0, a1),
                pixels: len,
                members: vec![i],
            });
        }
    }
    done.extend(open);
    done
}

/// Keeps the thin groups (rules, not bars of large letters or solid blocks), flags their
/// segments in `keep` and returns their boxes sorted top to bottom.
fn thin_rules(
    segments: &[(u32, u32, u32)],
    max_thickness: f32,
    vertical: bool,
    keep: &mut Vec<bool>,
) -> Vec<BBox> {
    keep.clear();
    keep.resize(segments.len(), false);
    let mut boxes = Vec::new();
    for g in group_segments(segments) {
        if g.thickness() <= max_thickness {
            for &m in &g.members {
                keep[m] = true;
            }
            boxes.push(g.bbox(vertical));
        }
    }
    boxes.sort_unstable_by_key(|b| (b.y0, b.x0));
    boxes
}

/// True for a component small enough to be a leader dot or dash.
fn leader_candidate(c: &Component, text_height: f32) -> bool {
    let (w, h) = (c.width() as f32, c.height() as f32);
    h <= 0.4 * text_height && w <= 0.7 * text_height
}

/// Marks the components that form dotted (or dashed) leaders: rows of at least four similar
/// small components at one height, spaced less than 1.5 text heights apart, with no glyph
/// between them. Returns one flag per component.
pub fn find_leaders(comps: &[Component], text_height: f32) -> Vec<bool> {
    let mut flags = vec![false; comps.len()];
    if text_height <= 0.0 {
        return flags;
    }
    let mut cand: Vec<usize> = (0..comps.len())
        .filter(|&i| leader_candidate(&comps[i], text_height))
        .collect();
    cand.sort_unstable_by_key(|&i| (comps[i].bbox.x0, comps[i].bbox.y0));
    let tol_y = (0.2 * text_height).max(2.0);
    let max_gap = 1.5 * text_height;
    let center = |c: &Component| (c.bbox.y0 + c.bbox.y1) as f32 / 2.0;
    let similar = |a: &Component, b: &Component| {
        let r = |p: u32, q: u32| {
            let (p, q) = (p.max(1) as f32, q.max(1) as f32);
            p.max(q) / p.min(q)
        };
        r(a.width(), b.width()) <= 2.0 && r(a.height(), b.height()) <= 2.0
    };
    // Chain each candidate to the nearest similar candidate on its right at the same height.
    let mut next = vec![usize::MAX; cand.len()];
    let mut has_prev = vec![false; cand.len()];
    for (k, &i) in cand.iter().enumerate() {
        let a = &comps[i];
        let mut best: Option<(usize, u32)> = None;
        for (m, &j) in cand.iter().enumerate().skip(k + 1) {
            let b = &comps[j];
            if b.bbox.x0 as f32 > a.bbox.x1 as f32 + max_gap {
                break;
            }
            if b.bbox.x0 < a.bbox.x1 || (center(a) - center(b)).abs() > tol_y || !similar(a, b) {
                continue;
            }
            let gap = b.bbox.x0 - a.bbox.x1;
            if best.is_none_or(|(_, g)| gap < g) {
                best = Some((m, gap));
            }
        }
        if let Some((m, _)) = best
            && !has_prev[m]
        {
            next[k] = m;
            has_prev[m] = true;
        }
    }
    // Glyph-sized components, sorted by x, to check that a chain's span holds nothing else.
    let mut glyphs: Vec<&Component> = comps
        .iter()
        .filter(|c| c.height() as f32 > 0.5 * text_height)
        .collect();
    glyphs.sort_unstable_by_key(|c| c.bbox.x0);
    for (start, &linked) in has_prev.iter().enumerate() {
        if linked {
            continue;
        }
        let mut chain = vec![start];
        let mut k = start;
        while next[k] != usize::MAX {
            k = next[k];
            chain.push(k);
        }
        if chain.len() < 4 {
            continue;
        }
        let first = &comps[cand[chain[0]]];
        let last = &comps[cand[k]];
        let (x0, x1) = (first.bbox.x0, last.bbox.x1);
        let cy = center(first);
        let band0 = cy - text_height;
        let band1 = cy + 0.3 * text_height;
        let from = glyphs.partition_point(|c| c.bbox.x0 as f32 + 4.0 * text_height < x0 as f32);
        let blocked = glyphs[from..]
            .iter()
            .take_while(|c| c.bbox.x0 < x1)
            .any(|c| {
                let mid = (c.bbox.x0 + c.bbox.x1) / 2;
                mid > x0 && mid < x1 && (c.bbox.y1 as f32) > band0 && (c.bbox.y0 as f32) < band1
            });
        if !blocked {
            for &m in &chain {
                flags[cand[m]] = true;
            }
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn fill(img: &mut GrayImage, x0: u32, y0: u32, x1: u32, y1: u32) {
        for y in y0..y1 {
            for x in x0..x1 {
                img.put_pixel(x, y, Luma([0]));
            }
        }
    }

    #[test]
    fn removes_long_runs_only() {
        let mut img = GrayImage::from_pixel(300, 200, Luma([255]));
        fill(&mut img, 10, 100, 290, 103); // horizontal rule
        img.put_pixel(150, 101, Luma([255])); // a 1-px break is bridged
        fill(&mut img, 200, 10, 202, 190); // vertical rule
        fill(&mut img, 20, 80, 24, 100); // a glyph stem touching the rule
        fill(&mut img, 20, 80, 40, 84); // a glyph bar, shorter than 4x text height
        fill(&mut img, 10, 150, 290, 165); // a thick bar (15 px > 0.4 x 20): not a rule
        let (clean, rules) = remove_rules(&img, 20.0);
        assert_eq!(rules.horizontal.len(), 1, "{rules:?}");
        assert_eq!(rules.horizontal[0], BBox::new(10, 100, 290, 103));
        assert_eq!(rules.vertical.len(), 1, "{rules:?}");
        assert_eq!(rules.vertical[0], BBox::new(200, 10, 202, 190));
        assert_eq!(clean.get_pixel(100, 101)[0], 255);
        assert_eq!(clean.get_pixel(201, 50)[0], 255);
        assert_eq!(clean.get_pixel(22, 90)[0], 0);
        assert_eq!(clean.get_pixel(30, 82)[0], 0);
        assert_eq!(clean.get_pixel(100, 157)[0], 0);
    }

    #[test]
    fn leaders_found_but_not_ellipsis_or_decimals() {
        let comp = |x0: u32, y0: u32, w: u32, h: u32| Component {
            bbox: BBox::new(x0, y0, x0 + w, y0 + h),
            pixels: w * h,
        };
        let mut comps = Vec::new();
        // "Total" glyphs, a leader of 8 dots, "12" glyphs.
        for i in 0..5 {
            comps.push(comp(10 + i * 16, 100, 12, 20));
        }
        for i in 0..8 {
            comps.push(comp(100 + i * 10, 116, 4, 4));
        }
        comps.push(comp(190, 100, 12, 20));
        // An ellipsis "..." elsewhere and "1.2.3.4.5" (dots separated by digits).
        for i in 0..3 {
            comps.push(comp(10 + i * 8, 300, 4, 4));
        }
        for i in 0..5 {
            comps.push(comp(10 + i * 20, 400, 12, 20));
            comps.push(comp(24 + i * 20, 416, 4, 4));
        }
        let flags = find_leaders(&comps, 20.0);
        let leaders: Vec<usize> = (0..comps.len()).filter(|&i| flags[i]).collect();
        assert_eq!(leaders, (5..13).collect::<Vec<_>>());
    }
}
