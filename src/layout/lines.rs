//! Grouping glyph components into text lines.
//!
//! Components are first classified against the page's text height (glyph, small mark, noise,
//! non-text, leader). Glyphs, sorted by x, are chained into line pieces when they overlap the
//! piece's recent vertical band by half the smaller height and the horizontal gap is small;
//! pieces on one row are then merged across wider gaps unless the gap is a gutter that the rows
//! above and below share (label/value columns, text columns). Small marks (i-dots, accents,
//! punctuation, thermal-print fragments) are attached to the line they sit in or next to;
//! unattached specks are dropped.

use super::components::{Component, median_u32};
use crate::geometry::BBox;

/// What a component is taken to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    /// A glyph-sized component that can start or extend a line.
    Glyph,
    /// A small mark (punctuation, accent, dot, stroke fragment): kept only next to a line.
    Small,
    /// A speck far below the text height: ignored.
    Noise,
    /// A logo, stamp, photo or box: far taller than text and sparse or huge; ignored.
    NonText,
    /// Part of a dotted or dashed leader: ignored.
    Leader,
}

/// Classifies components against the page text height `th` (see [`ComponentKind`]).
pub fn classify(comps: &[Component], leaders: &[bool], th: f32) -> Vec<ComponentKind> {
    comps
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (w, h) = (c.width() as f32, c.height() as f32);
            if leaders.get(i).copied().unwrap_or(false) {
                ComponentKind::Leader
            } else if is_graphic(c, th) {
                ComponentKind::NonText
            } else if c.pixels < 3 || w.max(h) < 0.1 * th {
                ComponentKind::Noise
            } else if h >= 0.45 * th {
                ComponentKind::Glyph
            } else {
                ComponentKind::Small
            }
        })
        .collect()
}

/// True for a component that is not text: far taller than the text height `th` and sparse,
/// huge or very tall (logos, stamps, photos, frames), a wide slab much taller than text, a
/// flat bar far wider than any dash (a thick separator that was not thin enough for a rule), or
/// a thin upright bar taller than three text lines (a box side or column rule that rule removal
/// left, which as a "glyph" would chain the lines beside it into one).
pub fn is_graphic(c: &Component, th: f32) -> bool {
    let (w, h) = (c.width() as f32, c.height() as f32);
    (h > 4.0 * th && (c.fill() < 0.12 || w * h > 150.0 * th * th || h > 12.0 * th))
        || (w > 40.0 * th && h > 2.0 * th)
        || (w > 4.0 * th && h < 0.5 * th)
        || (h > 3.0 * th && w < 0.5 * th)
}

/// One text line (or row piece) as component indices.
#[derive(Debug, Clone, PartialEq)]
pub struct LineGroup {
    /// Union of the members' boxes.
    pub bbox: BBox,
    /// Indices into the component list: glyphs first (left to right), then attached marks.
    pub members: Vec<u32>,
    /// Number of glyph members at the start of `members`.
    pub glyphs: usize,
    /// Typical glyph height of the line in pixels (see [`cluster_height`]).
    pub char_height: f32,
}

/// Tunable factors of the line grouping, in units of the line's mean glyph height.
const JOIN_GAP: f32 = 1.5;
const ROW_MERGE_GAP: f32 = 2.5;
const MIN_OVERLAP: f32 = 0.5;

struct Piece {
    bbox: BBox,
    recent: [(u32, u32); 4],
    n_recent: usize,
    height_sum: u64,
    glyphs: Vec<u32>,
}

impl Piece {
    fn band(&self) -> (u32, u32) {
        let r = &self.recent[..self.n_recent.min(4)];
        let y0 = r.iter().map(|b| b.0).min().unwrap_or(self.bbox.y0);
        let y1 = r.iter().map(|b| b.1).max().unwrap_or(self.bbox.y1);
        (y0, y1)
    }

    fn mean_height(&self) -> f32 {
        self.height_sum as f32 / self.glyphs.len().max(1) as f32
    }

    fn push(&mut self, idx: u32, c: &Component) {
        self.bbox = self.bbox.union(&c.bbox);
        self.recent[self.n_recent % 4] = (c.bbox.y0, c.bbox.y1);
        self.n_recent += 1;
        self.height_sum += c.height() as u64;
        self.glyphs.push(idx);
    }
}

/// Overlap of two vertical extents divided by the smaller height (0 when either is empty).
fn overlap_ratio(a: (u32, u32), b: (u32, u32)) -> f32 {
    let ov = a.1.min(b.1).saturating_sub(a.0.max(b.0)) as f32;
    let m = (a.1 - a.0).min(b.1 - b.0);
    if m == 0 { 0.0 } else { ov / m as f32 }
}

/// Chains glyph components (sorted by x) into line pieces.
fn chain_pieces(comps: &[Component], kinds: &[ComponentKind]) -> Vec<Piece> {
    let mut seeds: Vec<u32> = (0..comps.len() as u32)
        .filter(|&i| kinds[i as usize] == ComponentKind::Glyph)
        .collect();
    seeds.sort_unstable_by_key(|&i| (comps[i as usize].bbox.x0, comps[i as usize].bbox.y0));
    let mut pieces: Vec<Piece> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    for &s in &seeds {
        let c = &comps[s as usize];
        let cb = (c.bbox.y0, c.bbox.y1);
        open.retain(|&p| {
            let piece = &pieces[p];
            (c.bbox.x0 as f32) <= piece.bbox.x1 as f32 + JOIN_GAP * piece.mean_height()
        });
        let mut best: Option<(usize, f32, i64)> = None;
        for &p in &open {
            let piece = &pieces[p];
            let ratio = overlap_ratio(cb, piece.band());
            if ratio < MIN_OVERLAP {
                continue;
            }
            let gap = c.bbox.x0 as i64 - piece.bbox.x1 as i64;
            let better = match best {
                None => true,
                Some((_, r, g)) => ratio > r + 0.05 || ((ratio - r).abs() <= 0.05 && gap < g),
            };
            if better {
                best = Some((p, ratio, gap));
            }
        }
        match best {
            Some((p, _, _)) => pieces[p].push(s, c),
            None => {
                let mut piece = Piece {
                    bbox: c.bbox,
                    recent: [(0, 0); 4],
                    n_recent: 0,
                    height_sum: 0,
                    glyphs: Vec::new(),
                };
                piece.push(s, c);
                open.push(pieces.len());
                pieces.push(piece);
            }
        }
    }
    pieces
}

/// True when the whitespace between `a` and `b` (same row) continues as a clean gutter through
/// the neighbouring rows: pieces on both sides within a few line heights and none crossing it.
fn is_gutter(pieces: &[BBox], by_y: &[usize], a: &BBox, b: &BBox, lh: f32) -> bool {
    let gap = b.x0.saturating_sub(a.x1);
    let (s0, s1) = (a.x1 + gap / 4, b.x0 - gap / 4);
    let (wy0, wy1) = (
        (a.y0.min(b.y0) as f32 - 3.0 * lh).max(0.0) as u32,
        (a.y1.max(b.y1) as f32 + 3.0 * lh) as u32,
    );
    let row = (a.y0.min(b.y0), a.y1.max(b.y1));
    let (mut left, mut right) = (false, false);
    let start = by_y.partition_point(|&i| (pieces[i].y0 as f32) < wy0 as f32 - 6.0 * lh);
    for &i in &by_y[start..] {
        let p = &pieces[i];
        if p.y0 >= wy1 {
            break;
        }
        if p.y1 <= wy0 || overlap_ratio((p.y0, p.y1), row) >= MIN_OVERLAP {
            continue;
        }
        if p.x0 < s1 && p.x1 > s0 {
            return false;
        }
        left |= p.x1 <= s0 && p.x1 as f32 + 6.0 * lh >= a.x1 as f32;
        right |= p.x0 >= s1 && (p.x0 as f32) <= b.x0 as f32 + 6.0 * lh;
    }
    left && right
}

/// Merges pieces of one row across gaps below [`ROW_MERGE_GAP`] line heights, except at
/// gutters shared with neighbouring rows.
fn merge_row_pieces(pieces: Vec<Piece>) -> Vec<Piece> {
    let boxes: Vec<BBox> = pieces.iter().map(|p| p.bbox).collect();
    let mut by_y: Vec<usize> = (0..pieces.len()).collect();
    by_y.sort_unstable_by_key(|&i| boxes[i].y0);
    let max_h = boxes.iter().map(|b| b.height()).max().unwrap_or(0);
    let mut parent: Vec<usize> = (0..pieces.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (ai, a) in boxes.iter().enumerate() {
        let lh = pieces[ai].mean_height();
        // Nearest piece to the right on the same row.
        let lo = by_y.partition_point(|&i| boxes[i].y0 + max_h <= a.y0);
        let mut best: Option<(usize, i64)> = None;
        for &bi in &by_y[lo..] {
            let b = &boxes[bi];
            if b.y0 >= a.y1 {
                break;
            }
            if bi == ai || b.x0 < a.x0 || overlap_ratio((a.y0, a.y1), (b.y0, b.y1)) < MIN_OVERLAP {
                continue;
            }
            let gap = b.x0 as i64 - a.x1 as i64;
            if best.is_none_or(|(_, g)| gap < g) {
                best = Some((bi, gap));
            }
        }
        let Some((bi, gap)) = best else { continue };
        let lh = lh.max(pieces[bi].mean_height());
        let merge = gap <= 0
            || ((gap as f32) < ROW_MERGE_GAP * lh && !is_gutter(&boxes, &by_y, a, &boxes[bi], lh));
        if merge {
            let (ra, rb) = (root(&mut parent, ai), root(&mut parent, bi));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut slot = vec![usize::MAX; pieces.len()];
    let mut out: Vec<Piece> = Vec::new();
    for (i, piece) in pieces.into_iter().enumerate() {
        let r = root(&mut parent, i);
        if slot[r] == usize::MAX {
            slot[r] = out.len();
            out.push(piece);
        } else {
            let t = &mut out[slot[r]];
            t.bbox = t.bbox.union(&piece.bbox);
            t.height_sum += piece.height_sum;
            t.glyphs.extend(piece.glyphs);
        }
    }
    out
}

/// Groups glyphs into lines, attaches small marks, and drops lone specks.
///
/// `th` is the page text height from [`super::components::estimate_text_height`].
pub fn group_lines(comps: &[Component], kinds: &[ComponentKind], th: f32) -> Vec<LineGroup> {
    if th <= 0.0 {
        return Vec::new();
    }
    let pieces = merge_row_pieces(chain_pieces(comps, kinds));
    let mut lines: Vec<LineGroup> = pieces
        .into_iter()
        .map(|p| {
            // The mean glyph height sizes the reach of small marks; the final value follows.
            let char_height = p.mean_height();
            let mut glyphs = p.glyphs;
            glyphs.sort_unstable_by_key(|&i| comps[i as usize].bbox.x0);
            LineGroup {
                bbox: p.bbox,
                glyphs: glyphs.len(),
                members: glyphs,
                char_height,
            }
        })
        .collect();
    attach_small(comps, kinds, &mut lines, th);
    for l in &mut lines {
        l.char_height = cluster_height(comps, &l.members, l.glyphs);
    }
    lines.retain(|l| l.glyphs > 1 || l.char_height >= 0.6 * th);
    lines
}

/// Median height of a line's ink clusters (members touching or overlapping on the x axis)
/// that hold a glyph. Clusters rebuild glyphs broken into stacked fragments (faint or thermal
/// print), whose own heights would understate the text size.
pub fn cluster_height(comps: &[Component], members: &[u32], n_glyphs: usize) -> f32 {
    let mut items: Vec<(BBox, bool)> = members
        .iter()
        .enumerate()
        .filter_map(|(k, &i)| comps.get(i as usize).map(|c| (c.bbox, k < n_glyphs)))
        .collect();
    items.sort_unstable_by_key(|it| it.0.x0);
    let mut heights: Vec<u32> = Vec::new();
    let mut cur: Option<(BBox, bool)> = None;
    for (b, g) in items {
        cur = match cur {
            Some((cb, cg)) if b.x0 <= cb.x1 + 1 => Some((cb.union(&b), cg || g)),
            other => {
                if let Some((cb, true)) = other {
                    heights.push(cb.height());
                }
                Some((b, g))
            }
        };
    }
    if let Some((cb, true)) = cur {
        heights.push(cb.height());
    }
    heights.sort_unstable();
    median_u32(&heights)
}

/// Attaches each small mark to the line whose (expanded) box holds it, nearest band first.
fn attach_small(comps: &[Component], kinds: &[ComponentKind], lines: &mut [LineGroup], th: f32) {
    if lines.is_empty() {
        return;
    }
    let bucket = th.max(4.0);
    let max_y = lines.iter().map(|l| l.bbox.y1).max().unwrap_or(0) as f32 + 2.0 * bucket;
    let n_buckets = (max_y / bucket) as usize + 2;
    let mut index: Vec<Vec<u32>> = vec![Vec::new(); n_buckets];
    let reach = |l: &LineGroup| {
        (
            0.7 * l.char_height,
            0.5 * l.char_height,
            0.6 * l.char_height,
        )
    };
    for (li, l) in lines.iter().enumerate() {
        let (up, down, _) = reach(l);
        let b0 = ((l.bbox.y0 as f32 - up).max(0.0) / bucket) as usize;
        let b1 = ((l.bbox.y1 as f32 + down) / bucket) as usize;
        for slot in index.iter_mut().take(b1.min(n_buckets - 1) + 1).skip(b0) {
            slot.push(li as u32);
        }
    }
    let boxes: Vec<BBox> = lines.iter().map(|l| l.bbox).collect();
    for (ci, c) in comps.iter().enumerate() {
        if kinds[ci] != ComponentKind::Small {
            continue;
        }
        let cy = (c.bbox.y0 + c.bbox.y1) as f32 / 2.0;
        let b = (cy / bucket) as usize;
        let Some(cands) = index.get(b) else { continue };
        let mut best: Option<(u32, f32)> = None;
        for &li in cands {
            let l = &lines[li as usize];
            let lb = &boxes[li as usize];
            let (up, down, side) = reach(l);
            if cy < lb.y0 as f32 - up || cy > lb.y1 as f32 + down {
                continue;
            }
            if (c.bbox.x1 as f32) < lb.x0 as f32 - side || c.bbox.x0 as f32 > lb.x1 as f32 + side {
                continue;
            }
            let dist = if cy < lb.y0 as f32 {
                lb.y0 as f32 - cy
            } else if cy > lb.y1 as f32 {
                cy - lb.y1 as f32
            } else {
                0.0
            };
            if best.is_none_or(|(_, d)| dist < d) {
                best = Some((li, dist));
            }
        }
        if let Some((li, _)) = best {
            let l = &mut lines[li as usize];
            l.members.push(ci as u32);
            l.bbox = l.bbox.union(&c.bbox);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(x0: u32, y0: u32, w: u32, h: u32) -> Component {
        Component {
            bbox: BBox::new(x0, y0, x0 + w, y0 + h),
            pixels: w * h / 3 + 1,
        }
    }

    #[test]
    fn rows_marks_and_specks() {
        let mut comps = Vec::new();
        // Two rows of 20 px glyphs; the second row has an i-dot above its third glyph.
        for row in 0..2 {
            for k in 0..6 {
                comps.push(comp(10 + k * 16, 100 + row * 40, 12, 20));
            }
        }
        comps.push(comp(44, 133, 4, 4)); // i-dot of the second row
        comps.push(comp(500, 300, 1, 1)); // a lone speck: noise
        comps.push(comp(600, 300, 5, 5)); // a lone small mark far from text
        // Far taller than text and sparse: a stamp's stroke.
        comps.push(Component {
            bbox: BBox::new(10, 400, 22, 600),
            pixels: 100,
        });
        let th = 20.0;
        let kinds = classify(&comps, &vec![false; comps.len()], th);
        assert_eq!(kinds[13], ComponentKind::Noise);
        assert_eq!(kinds[15], ComponentKind::NonText);
        let lines = group_lines(&comps, &kinds, th);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].bbox, BBox::new(10, 100, 102, 120));
        assert_eq!(lines[1].bbox, BBox::new(10, 133, 102, 160));
        assert!(lines[1].members.contains(&12));
        assert_eq!(lines[1].glyphs, 6);
        assert_eq!(lines[0].char_height, 20.0);
    }
}
