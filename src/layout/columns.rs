//! Column gutters for the reading order's XY-cut ([`super::blocks`]): where a node of lines may
//! be cut vertically into two text columns, and which lines cross the gutter.
//!
//! A gutter separates text columns only when the evidence holds over many lines: at least
//! [`MIN_COLUMN_LINES`] lines on each side standing beside each other, running text on median
//! on both sides ([`MIN_COLUMN_WIDTH`] text heights wide, [`MIN_COLUMN_WORDS`] words), clean or
//! crossed only as [`column_cut`] allows.

use crate::geometry::BBox;

/// Lines on each side of a column gutter, at least.
const MIN_COLUMN_LINES: usize = 3;
/// Lines on each side of a gutter that other lines cross, at least: a small table under a
/// merged row is not a pair of columns.
const MIN_CROSSED_COLUMN_LINES: usize = 8;
/// Median line width of a text column, in text heights, at least.
const MIN_COLUMN_WIDTH: f32 = 8.0;
/// Median words per line of a text column, at least: running text set in columns holds several
/// words a line, while the label column of a form ("Hole Depth:", "Name") and a column of
/// prices or codes hold one or two. Without this a form's labels and values, separated by a
/// clean vertical gutter, were read as two columns: all labels, then all values.
const MIN_COLUMN_WORDS: usize = 3;
/// Free x-intervals at least `min_w` wide inside `lo..hi` not covered by any of the boxes.
pub(super) fn free_intervals(
    boxes: &[BBox],
    idx: &[usize],
    lo: u32,
    hi: u32,
    min_w: f32,
) -> Vec<(u32, u32)> {
    let mut spans: Vec<(u32, u32)> = idx.iter().map(|&i| (boxes[i].x0, boxes[i].x1)).collect();
    spans.sort_unstable();
    let mut out = Vec::new();
    let mut cursor = lo;
    for (a, b) in spans {
        if a > cursor && (a - cursor) as f32 >= min_w {
            out.push((cursor, a));
        }
        cursor = cursor.max(b);
    }
    if hi > cursor && (hi - cursor) as f32 >= min_w {
        out.push((cursor, hi));
    }
    out
}

/// Median number of words of the lines `idx` (the upper median).
fn median_words(words: &[usize], idx: &[usize]) -> usize {
    let mut w: Vec<usize> = idx
        .iter()
        .map(|&i| words.get(i).copied().unwrap_or(0))
        .collect();
    w.sort_unstable();
    w.get(w.len() / 2).copied().unwrap_or(0)
}

fn median_width(boxes: &[BBox], idx: &[usize]) -> f32 {
    let mut w: Vec<u32> = idx.iter().map(|&i| boxes[i].width()).collect();
    w.sort_unstable();
    super::components::median_u32(&w)
}

/// A vertical cut of a node at a text-column gutter.
#[derive(Debug, Default)]
pub struct ColumnCut {
    /// Lines across the gutter above the span both columns share (a title, a running head),
    /// read before the columns.
    pub above: Vec<usize>,
    /// Lines left of the gutter.
    pub left: Vec<usize>,
    /// Lines right of the gutter.
    pub right: Vec<usize>,
    /// Lines across the gutter inside the span both columns share (a caption or pull quote set
    /// between the columns around a picture), read after both columns.
    pub floats: Vec<usize>,
    /// Lines across the gutter below the shared span (a footer), read last.
    pub below: Vec<usize>,
}

/// Vertical extent (top, bottom) of the lines `s`.
fn extent(boxes: &[BBox], s: &[usize]) -> (u32, u32) {
    let y0 = s.iter().map(|&i| boxes[i].y0).min().unwrap_or(0);
    let y1 = s.iter().map(|&i| boxes[i].y1).max().unwrap_or(0);
    (y0, y1)
}

/// Maximal x-intervals at least `min_w` wide inside `lo..hi` covered by at most `max_cover` of
/// the boxes.
fn sparse_intervals(
    boxes: &[BBox],
    idx: &[usize],
    (lo, hi): (u32, u32),
    min_w: f32,
    max_cover: usize,
) -> Vec<(u32, u32)> {
    if max_cover == 0 {
        return free_intervals(boxes, idx, lo, hi, min_w);
    }
    let mut edges: Vec<(u32, i32)> = Vec::with_capacity(2 * idx.len());
    for &i in idx {
        edges.push((boxes[i].x0, 1));
        edges.push((boxes[i].x1, -1));
    }
    edges.sort_unstable();
    let mut out = Vec::new();
    let (mut cover, mut run_start) = (0i32, Some(lo));
    let close = |start: u32, end: u32, out: &mut Vec<(u32, u32)>| {
        if end > start && (end - start) as f32 >= min_w {
            out.push((start, end));
        }
    };
    for (x, d) in edges {
        let was_sparse = cover as usize <= max_cover;
        cover += d;
        let sparse = cover as usize <= max_cover;
        match (was_sparse, sparse) {
            (true, false) => {
                if let Some(s) = run_start.take() {
                    close(s, x, &mut out);
                }
            }
            (false, true) => run_start = Some(x),
            _ => {}
        }
    }
    if let Some(s) = run_start {
        close(s, hi, &mut out);
    }
    out
}

/// A vertical cut of `idx` at a text-column gutter, if there is one. Where no gutter is clean,
/// lines may cross it when both columns have at least [`MIN_CROSSED_COLUMN_LINES`] lines:
/// above or below the span both columns share (titles, running heads, footers: read before or
/// after the columns), and inside that span when they are few (at most a quarter of the shorter
/// column's lines) and each narrower than both columns' median line (a caption set between two
/// columns around a picture, or specks of the picture: read after the columns). The cut with
/// the fewest crossing lines wins, then the widest gutter.
pub fn column_cut(boxes: &[BBox], words: &[usize], idx: &[usize], th: f32) -> Option<ColumnCut> {
    if idx.len() < 2 * MIN_COLUMN_LINES {
        return None;
    }
    let lo = idx.iter().map(|&i| boxes[i].x0).min()?;
    let hi = idx.iter().map(|&i| boxes[i].x1).max()?;
    // A clean gutter first, then gutters crossed by more and more lines.
    for cover in 0..=idx.len() / 8 {
        let mut best: Option<(u32, ColumnCut)> = None;
        for (g0, g1) in sparse_intervals(boxes, idx, (lo, hi), th, cover) {
            if let Some(cut) = cut_at(boxes, words, idx, th, (g0, g1))
                && best.as_ref().is_none_or(|(w, _)| g1 - g0 > *w)
            {
                best = Some((g1 - g0, cut));
            }
        }
        if let Some((_, cut)) = best {
            return Some(cut);
        }
    }
    None
}

/// The cut of `idx` at the gutter `g0..g1` if both sides are text columns and the lines that
/// cross the gutter are placed as [`column_cut`] allows.
fn cut_at(
    boxes: &[BBox],
    words: &[usize],
    idx: &[usize],
    th: f32,
    (g0, g1): (u32, u32),
) -> Option<ColumnCut> {
    let mut cut = ColumnCut::default();
    let mut crossing = Vec::new();
    for &i in idx {
        if boxes[i].x1 <= g0 {
            cut.left.push(i);
        } else if boxes[i].x0 >= g1 {
            cut.right.push(i);
        } else {
            crossing.push(i);
        }
    }
    if cut.left.len() < MIN_COLUMN_LINES || cut.right.len() < MIN_COLUMN_LINES {
        return None;
    }
    let (l, r) = (extent(boxes, &cut.left), extent(boxes, &cut.right));
    let (top, bottom) = (l.0.max(r.0), l.1.min(r.1));
    if (bottom.saturating_sub(top) as f32) < 3.0 * th {
        return None;
    }
    // Columns stand side by side: each has lines beside the other, not only above or below it
    // (a form's labels left of a title and a small header row are not two columns).
    let beside = |s: &[usize]| {
        s.iter()
            .filter(|&&i| (top..bottom).contains(&((boxes[i].y0 + boxes[i].y1) / 2)))
            .count()
    };
    if beside(&cut.left) < MIN_COLUMN_LINES || beside(&cut.right) < MIN_COLUMN_LINES {
        return None;
    }
    let lw = median_width(boxes, &cut.left);
    let rw = median_width(boxes, &cut.right);
    if lw < MIN_COLUMN_WIDTH * th || rw < MIN_COLUMN_WIDTH * th {
        return None;
    }
    if median_words(words, &cut.left) < MIN_COLUMN_WORDS
        || median_words(words, &cut.right) < MIN_COLUMN_WORDS
    {
        return None;
    }
    if !crossing.is_empty() && cut.left.len().min(cut.right.len()) < MIN_CROSSED_COLUMN_LINES {
        return None;
    }
    for i in crossing {
        let b = &boxes[i];
        if b.y1 <= top {
            cut.above.push(i);
        } else if b.y0 >= bottom {
            cut.below.push(i);
        } else if b.y0 > top && b.y1 < bottom && (b.width() as f32) < lw.min(rw) {
            cut.floats.push(i);
        } else {
            return None;
        }
    }
    if 4 * cut.floats.len() > cut.left.len().min(cut.right.len()) {
        return None;
    }
    Some(cut)
}
