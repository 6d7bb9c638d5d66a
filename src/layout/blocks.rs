//! Reading order and blocks.
//!
//! With column detection, a recursive XY-cut splits the lines at vertical gutters that are tall
//! (several lines on each side, side by side with the other column's, not only above or below
//! it), clean (no line crosses them) and separate real text columns
//! (lines on both sides at least 8 text heights wide and at least 3 words long on median: running
//! text, which rules out form label columns and price columns). Between two long columns the gutter may also be crossed by a
//! title or footer above or below them and by a few narrow lines between them (a caption beside
//! a picture, read after both columns), as [`column_cut`] states. Where no such gutter exists
//! the node is cut into horizontal strips; consecutive strips sharing a vertical gap are kept
//! together so a column section below a full-width title is cut on its own. Leaves are read by
//! rows: top to bottom, left to right within a row, so a form reads each label before its
//! value. Lines that follow each other closely are finally grouped into blocks; a column change
//! always starts a new block.

use super::columns::free_intervals;
pub use super::columns::{ColumnCut, column_cut};
use super::{LayoutBlock, LayoutLine};
use crate::geometry::BBox;

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

/// Indices of `boxes` in row order: rows top to bottom, left to right within a row. A box joins
/// the row when it overlaps the row's band (the union of its boxes so far) by half the smaller
/// height and the row's first box by a quarter: a label set a little lower than the taller
/// value it is taken for still reads first, while a row that drifts down line by line ends.
pub fn row_order(boxes: &[BBox], idx: &[usize]) -> Vec<usize> {
    let mut sorted: Vec<usize> = idx.to_vec();
    sorted.sort_unstable_by_key(|&i| (boxes[i].y0, boxes[i].x0));
    let mut out = Vec::with_capacity(sorted.len());
    let mut row: Vec<usize> = Vec::new();
    let (mut band, mut first) = (BBox::default(), BBox::default());
    for i in sorted {
        if !row.is_empty()
            && (overlap_ratio(&band, &boxes[i]) < 0.5 || overlap_ratio(&first, &boxes[i]) < 0.25)
        {
            row.sort_unstable_by_key(|&j| boxes[j].x0);
            out.append(&mut row);
        }
        if row.is_empty() {
            (band, first) = (boxes[i], boxes[i]);
        } else {
            band = band.union(&boxes[i]);
        }
        row.push(i);
    }
    row.sort_unstable_by_key(|&j| boxes[j].x0);
    out.append(&mut row);
    out
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
    words: &'a [usize],
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
        if let Some(cut) = column_cut(self.boxes, self.words, &idx, self.th) {
            self.read_columns(cut, depth);
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

    /// Reads the lines above the columns, the left column, the right one, the lines set between
    /// them and the lines below, each part starting a new block.
    fn read_columns(&mut self, cut: ColumnCut, depth: usize) {
        for part in [cut.above, cut.left, cut.right, cut.floats, cut.below] {
            if !part.is_empty() {
                self.pending_break = true;
                self.run(part, depth + 1);
            }
        }
        self.pending_break = true;
    }
}

/// Blocks of `lines` in reading order (see the module documentation); `th` is the page text
/// height.
pub fn reading_order(lines: Vec<LayoutLine>, th: f32, detect_columns: bool) -> Vec<LayoutBlock> {
    let boxes: Vec<BBox> = lines.iter().map(|l| l.bbox).collect();
    let words: Vec<usize> = lines.iter().map(|l| l.words.len()).collect();
    let all: Vec<usize> = (0..lines.len()).collect();
    let mut cut = Cut {
        boxes: &boxes,
        words: &words,
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

    /// A line of words about five text heights wide each.
    fn line(x0: u32, y0: u32, x1: u32) -> LayoutLine {
        let words = ((x1 - x0) / 100).max(1);
        let w = (x1 - x0) / words;
        LayoutLine {
            bbox: BBox::new(x0, y0, x1, y0 + 20),
            words: (0..words)
                .map(|k| BBox::new(x0 + k * w, y0, x0 + (k + 1) * w - 10, y0 + 20))
                .collect(),
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
    fn a_caption_across_the_gutter_is_read_after_both_columns() {
        // Baselines of the two columns alternate, so no blank row crosses the page; a
        // three-line caption between the columns (around a picture) crosses their gutter.
        let mut lines = Vec::new();
        for r in 0..12 {
            let (lx1, rx0) = if (4..8).contains(&r) {
                (500, 800)
            } else {
                (600, 700)
            };
            lines.push(line(100, 100 + r * 30, lx1));
            lines.push(line(rx0, 115 + r * 30, 1200));
        }
        for r in 5..8 {
            lines.push(line(560, 100 + r * 30 + 5, 740));
        }
        let blocks = reading_order(lines, 20.0, true);
        let xs: Vec<u32> = blocks
            .iter()
            .flat_map(|b| b.lines.iter().map(|l| l.bbox.x0))
            .collect();
        assert!(xs[..12].iter().all(|&x| x == 100), "{xs:?}");
        assert!(xs[12..24].iter().all(|&x| x >= 700), "{xs:?}");
        assert_eq!(xs[24..], [560, 560, 560], "{xs:?}");
        assert_eq!(blocks.len(), 3);
    }

    #[test]
    fn a_full_width_line_between_columns_is_not_a_caption() {
        let mut lines = Vec::new();
        for r in 0..12 {
            lines.push(line(100, 100 + r * 30, 600));
            lines.push(line(700, 115 + r * 30, 1200));
        }
        lines.push(line(100, 100 + 6 * 30 + 5, 1200));
        let blocks = reading_order(lines, 20.0, true);
        let xs: Vec<u32> = blocks
            .iter()
            .flat_map(|b| b.lines.iter().map(|l| l.bbox.x0))
            .collect();
        assert_ne!(xs[..12], [100; 12], "{xs:?}");
    }

    #[test]
    fn labels_under_a_title_are_not_a_column() {
        // A form: three title lines right of the label column's gutter, labels below them, and
        // one header row beside the labels; only that row stands beside the labels.
        let mut lines = vec![
            line(900, 20, 1100),
            line(350, 60, 900),
            line(400, 100, 800),
            line(700, 260, 900),
        ];
        for r in 0..6 {
            lines.push(line(100, 180 + r * 40, 300));
        }
        let blocks = reading_order(lines, 20.0, true);
        let ys: Vec<u32> = blocks
            .iter()
            .flat_map(|b| b.lines.iter().map(|l| l.bbox.y0))
            .collect();
        assert_eq!(
            ys,
            [20, 60, 100, 180, 220, 260, 260, 300, 340, 380],
            "{ys:?}"
        );
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

    #[test]
    fn a_label_set_lower_than_its_row_still_reads_first() {
        let boxes = [
            BBox::new(300, 100, 500, 120), // the value the row is sorted on first
            BBox::new(600, 105, 800, 130), // a taller box beside it
            BBox::new(100, 112, 250, 132), // the label, a little lower
            BBox::new(100, 160, 250, 180), // the next row
        ];
        assert_eq!(row_order(&boxes, &[0, 1, 2, 3]), [2, 0, 1, 3]);
        // A box that touches the band only because the row drifted down is the next row's.
        let drift = [
            BBox::new(100, 100, 200, 120),
            BBox::new(210, 108, 310, 128),
            BBox::new(50, 118, 90, 138),
        ];
        assert_eq!(row_order(&drift, &[0, 1, 2]), [0, 1, 2]);
    }
}
