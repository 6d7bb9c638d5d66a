//! Reading order and blocks.
//!
//! With column detection, a recursive XY-cut splits the lines at vertical gutters that are tall
//! (several lines on each side), clean (no line crosses them) and separate real text columns
//! (lines on both sides at least 8 text heights wide on median, which rules out form label
//! columns and price columns). Where no such gutter exists the node is cut into horizontal
//! strips; consecutive strips sharing a vertical gap are kept together so a column section
//! below a full-width title is cut on its own. Leaves are read by rows: top to bottom, left to
//! right within a row, so a form reads each label before its value. Lines that follow each
//! other closely are finally grouped into blocks; a column change always starts a new block.

use super::{LayoutBlock, LayoutLine};
use crate::geometry::BBox;

/// Lines on each side of a column gutter, at least.
const MIN_COLUMN_LINES: usize = 3;
/// Median line width of a text column, in text heights, at least.
const MIN_COLUMN_WIDTH: f32 = 8.0;
/// Largest row pitch (centre to centre) within a block, in character heights (the median glyph
/// height, about the x-height): 1.5-line spacing is ~3.1, double spacing ~4.2.
const MAX_PITCH: f32 = 3.4;
/// Deepest recursion of the XY-cut; deeper nodes are read by rows.
const MAX_DEPTH: usize = 48;

fn overlap_ratio(a: &BBox, b: &BBox) -> f32 {
    let m = a.height().min(b.height());
    if m == 0 {
        0.0
    } else {
        a.vertical_overlap(b) as f32 / m as f32
    }
}

/// Indices of `boxes` in row order: rows top to bottom (boxes overlapping a row's band by half
/// the smaller height belong to it), left to right within a row.
pub fn row_order(boxes: &[BBox], idx: &[usize]) -> Vec<usize> {
    let mut sorted: Vec<usize> = idx.to_vec();
    sorted.sort_unstable_by_key(|&i| (boxes[i].y0, boxes[i].x0));
    let mut out = Vec::with_capacity(sorted.len());
    let mut row: Vec<usize> = Vec::new();
    let mut band = BBox::default();
    for i in sorted {
        if !row.is_empty() && overlap_ratio(&band, &boxes[i]) < 0.5 {
            row.sort_unstable_by_key(|&j| boxes[j].x0);
            out.append(&mut row);
        }
        if row.is_empty() {
            band = boxes[i];
        }
        row.push(i);
    }
    row.sort_unstable_by_key(|&j| boxes[j].x0);
    out.append(&mut row);
    out
}

/// Free x-intervals at least `min_w` wide inside `lo..hi` not covered by any of the boxes.
fn free_intervals(boxes: &[BBox], idx: &[usize], lo: u32, hi: u32, min_w: f32) -> Vec<(u32, u32)> {
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

fn median_width(boxes: &[BBox], idx: &[usize]) -> f32 {
    let mut w: Vec<u32> = idx.iter().map(|&i| boxes[i].width()).collect();
    w.sort_unstable();
    super::components::median_u32(&w)
}

/// A vertical cut of `idx` at a text-column gutter, as (left, right), if there is one.
pub fn column_cut(boxes: &[BBox], idx: &[usize], th: f32) -> Option<(Vec<usize>, Vec<usize>)> {
    if idx.len() < 2 * MIN_COLUMN_LINES {
        return None;
    }
    let lo = idx.iter().map(|&i| boxes[i].x0).min()?;
    let hi = idx.iter().map(|&i| boxes[i].x1).max()?;
    let mut best: Option<(u32, Vec<usize>, Vec<usize>)> = None;
    for (g0, g1) in free_intervals(boxes, idx, lo, hi, th) {
        let (left, right): (Vec<usize>, Vec<usize>) = idx.iter().partition(|&&i| boxes[i].x1 <= g0);
        if left.len() < MIN_COLUMN_LINES || right.len() < MIN_COLUMN_LINES {
            continue;
        }
        let extent = |s: &[usize]| {
            let y0 = s.iter().map(|&i| boxes[i].y0).min().unwrap_or(0);
            let y1 = s.iter().map(|&i| boxes[i].y1).max().unwrap_or(0);
            (y0, y1)
        };
        let (l, r) = (extent(&left), extent(&right));
        let shared = l.1.min(r.1).saturating_sub(l.0.max(r.0)) as f32;
        if shared < 3.0 * th {
            continue;
        }
        if median_width(boxes, &left) < MIN_COLUMN_WIDTH * th
            || median_width(boxes, &right) < MIN_COLUMN_WIDTH * th
        {
            continue;
        }
        if best.as_ref().is_none_or(|(w, _, _)| g1 - g0 > *w) {
            best = Some((g1 - g0, left, right));
        }
    }
    best.map(|(_, l, r)| (l, r))
}

/// Horizontal strips of `idx` (separated by blank rows), consecutive strips that share a
/// vertical gap at least `th` wide merged into one group.
fn strip_groups(boxes: &[BBox], idx: &[usize], th: f32) -> Vec<Vec<usize>> {
    let mut sorted = idx.to_vec();
    sorted.sort_unstable_by_key(|&i| boxes[i].y0);
    let mut strips: Vec<Vec<usize>> = Vec::new();
    let mut bottom = 0u32;
    for i in sorted {
        if strips.is_empty() || boxes[i].y0 >= bottom {
            strips.push(Vec::new());
        }
        bottom = if strips.last().is_some_and(|s| !s.is_empty()) {
            bottom.max(boxes[i].y1)
        } else {
            boxes[i].y1
        };
        if let Some(s) = strips.last_mut() {
            s.push(i);
        }
    }
    let lo = idx.iter().map(|&i| boxes[i].x0).min().unwrap_or(0);
    let hi = idx.iter().map(|&i| boxes[i].x1).max().unwrap_or(0);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut shared: Vec<(u32, u32)> = Vec::new();
    for strip in strips {
        let free = free_intervals(boxes, &strip, lo, hi, th);
        let mut common = Vec::new();
        for &(a0, a1) in &shared {
            for &(b0, b1) in &free {
                let (c0, c1) = (a0.max(b0), a1.min(b1));
                if c1 > c0 && (c1 - c0) as f32 >= th {
                    common.push((c0, c1));
                }
            }
        }
        match groups.last_mut() {
            Some(g) if !common.is_empty() => {
                g.extend(strip);
                shared = common;
            }
            _ => {
                groups.push(strip);
                shared = free;
            }
        }
    }
    groups
}

struct Cut<'a> {
    boxes: &'a [BBox],
    th: f32,
    order: Vec<usize>,
    breaks: Vec<bool>,
    pending_break: bool,
}

impl Cut<'_> {
    fn emit(&mut self, lines: Vec<usize>) {
        for i in lines {
            self.order.push(i);
            self.breaks.push(self.pending_break);
            self.pending_break = false;
        }
    }

    fn run(&mut self, idx: Vec<usize>, depth: usize) {
        if idx.len() < 2 || depth >= MAX_DEPTH {
            let o = row_order(self.boxes, &idx);
            self.emit(o);
            return;
        }
        if let Some((left, right)) = column_cut(self.boxes, &idx, self.th) {
            self.pending_break = true;
            self.run(left, depth + 1);
            self.pending_break = true;
            self.run(right, depth + 1);
            self.pending_break = true;
            return;
        }
        let groups = strip_groups(self.boxes, &idx, self.th);
        if groups.len() < 2 {
            let o = row_order(self.boxes, &idx);
            self.emit(o);
            return;
        }
        for g in groups {
            self.run(g, depth + 1);
        }
    }
}

/// Blocks of `lines` in reading order (see the module documentation); `th` is the page text
/// height.
pub fn reading_order(lines: Vec<LayoutLine>, th: f32, detect_columns: bool) -> Vec<LayoutBlock> {
    let boxes: Vec<BBox> = lines.iter().map(|l| l.bbox).collect();
    let all: Vec<usize> = (0..lines.len()).collect();
    let mut cut = Cut {
        boxes: &boxes,
        th: th.max(1.0),
        order: Vec::new(),
        breaks: Vec::new(),
        pending_break: false,
    };
    if detect_columns {
        cut.run(all, 0);
    } else {
        let o = row_order(&boxes, &all);
        cut.emit(o);
    }
    let (order, breaks) = (cut.order, cut.breaks);
    let mut slots: Vec<Option<LayoutLine>> = lines.into_iter().map(Some).collect();
    let mut blocks: Vec<LayoutBlock> = Vec::new();
    let mut row = BBox::default(); // the current row of the current block
    let mut last_pitch: Option<f32> = None; // the pitch above the current row
    for (i, brk) in order.into_iter().zip(breaks) {
        let Some(line) = slots[i].take() else {
            continue;
        };
        let b = line.bbox;
        let mut step = Step::NewBlock;
        if let Some(block) = blocks.last().filter(|_| !brk)
            && let Some(prev) = block.lines.last()
        {
            let (pch, lch) = (prev.char_height.max(1.0), line.char_height.max(1.0));
            let ch = pch.max(lch);
            // Row pitch between centres: insensitive to ascenders and descenders.
            let pitch = (b.y0 + b.y1) as f32 / 2.0 - (row.y0 + row.y1) as f32 / 2.0;
            if overlap_ratio(&row, &b) >= 0.5 && b.x0 >= prev.bbox.x1 {
                step = Step::SameRow;
            } else if b.y0 as f32 >= row.y1 as f32 - 0.3 * ch
                && pitch <= MAX_PITCH * ch
                && last_pitch.is_none_or(|p| pitch <= 1.25 * p + 0.3 * ch)
                && block.bbox.horizontal_overlap(&b) > 0
                && ch / pch.min(lch) <= 1.5
            {
                step = Step::NextRow(pitch);
            }
        }
        match (step, blocks.last_mut()) {
            (Step::SameRow, Some(block)) => {
                row = row.union(&b);
                block.bbox = block.bbox.union(&b);
                block.lines.push(line);
            }
            (Step::NextRow(pitch), Some(block)) => {
                row = b;
                last_pitch = Some(pitch);
                block.bbox = block.bbox.union(&b);
                block.lines.push(line);
            }
            _ => {
                row = b;
                last_pitch = None;
                blocks.push(LayoutBlock {
                    bbox: b,
                    lines: vec![line],
                });
            }
        }
    }
    blocks
}

/// How a line continues the block being built.
#[derive(Clone, Copy)]
enum Step {
    /// Another piece of the block's current row.
    SameRow,
    /// The next row of the block, at this pitch (centre to centre) below the previous row.
    NextRow(f32),
    /// Starts a new block.
    NewBlock,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(x0: u32, y0: u32, x1: u32) -> LayoutLine {
        LayoutLine {
            bbox: BBox::new(x0, y0, x1, y0 + 20),
            words: vec![],
            char_height: 20.0,
        }
    }

    #[test]
    fn columns_read_one_after_another() {
        let mut lines = Vec::new();
        for r in 0..6 {
            lines.push(line(100, 100 + r * 30, 600));
            lines.push(line(700, 100 + r * 30, 1200));
        }
        lines.push(line(100, 20, 1200)); // a full-width title
        let blocks = reading_order(lines, 20.0, true);
        let xs: Vec<(u32, u32)> = blocks
            .iter()
            .flat_map(|b| b.lines.iter().map(|l| (l.bbox.x0, l.bbox.y0)))
            .collect();
        assert_eq!(xs[0], (100, 20));
        assert!(xs[1..7].iter().all(|p| p.0 == 100), "{xs:?}");
        assert!(xs[7..].iter().all(|p| p.0 == 700), "{xs:?}");
        assert_eq!(blocks.len(), 3);
    }

    #[test]
    fn forms_read_by_rows() {
        let mut lines = Vec::new();
        for r in 0..6 {
            lines.push(line(100, 100 + r * 30, 200));
            lines.push(line(400, 100 + r * 30, 700));
        }
        for detect in [true, false] {
            let blocks = reading_order(lines.clone(), 20.0, detect);
            let xs: Vec<u32> = blocks
                .iter()
                .flat_map(|b| b.lines.iter().map(|l| l.bbox.x0))
                .collect();
            assert_eq!(xs, [100, 400].repeat(6));
            assert_eq!(blocks.len(), 1);
        }
    }
}
