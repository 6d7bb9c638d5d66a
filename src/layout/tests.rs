//! End-to-end tests of [`super::analyze`] on pages drawn with DejaVu Sans.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use image::{GrayImage, Luma};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

use super::{LayoutLine, LayoutOptions, PageLayout, analyze};
use crate::geometry::BBox;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const SIZE: f32 = 40.0;

struct Canvas {
    img: GrayImage,
    font: FontVec,
}

impl Canvas {
    /// A white page, or `None` (with the reason printed) when the font is missing.
    fn new(w: u32, h: u32) -> Option<Canvas> {
        let bytes = match std::fs::read(FONT) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("skipping layout test: cannot read {FONT}: {e}");
                return None;
            }
        };
        let font = match FontVec::try_from_vec(bytes) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("skipping layout test: bad font {FONT}: {e}");
                return None;
            }
        };
        Some(Canvas {
            img: GrayImage::from_pixel(w, h, Luma([255])),
            font,
        })
    }

    /// Draws `s` with its baseline at `y`, binarised at coverage 0.5; returns the end x.
    fn text(&mut self, x: f32, y: f32, size: f32, s: &str) -> f32 {
        let scaled = self.font.as_scaled(PxScale::from(size));
        let (w, h) = self.img.dimensions();
        let mut caret = x;
        let mut prev = None;
        for ch in s.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(size, point(caret, y));
            caret += scaled.h_advance(id);
            prev = Some(id);
            if let Some(og) = self.font.outline_glyph(glyph) {
                let bb = og.px_bounds();
                let img = &mut self.img;
                og.draw(|gx, gy, c| {
                    let px = bb.min.x as i64 + gx as i64;
                    let py = bb.min.y as i64 + gy as i64;
                    if c > 0.5 && px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                        img.put_pixel(px as u32, py as u32, Luma([0]));
                    }
                });
            }
        }
        caret
    }

    fn rect(&mut self, x0: u32, y0: u32, x1: u32, y1: u32) {
        let (w, h) = self.img.dimensions();
        for y in y0..y1.min(h) {
            for x in x0..x1.min(w) {
                self.img.put_pixel(x, y, Luma([0]));
            }
        }
    }
}

/// Turn every pixel where `paper(x, y)` holds to white paper (broken or dotted print).
fn paper_where(img: &mut GrayImage, mut paper: impl FnMut(u32, u32) -> bool) {
    let (w, h) = img.dimensions();
    for y in 0..h {
        for x in 0..w {
            if paper(x, y) {
                img.put_pixel(x, y, Luma([255]));
            }
        }
    }
}

fn all_lines(layout: &PageLayout) -> Vec<&LayoutLine> {
    layout.blocks.iter().flat_map(|b| b.lines.iter()).collect()
}

/// Prints a layout (shown by the test harness when a test fails).
fn dump(layout: &PageLayout) {
    for (bi, b) in layout.blocks.iter().enumerate() {
        for l in &b.lines {
            eprintln!(
                "block {bi} line {:?} ch {} words {:?}",
                l.bbox,
                l.char_height,
                l.words.iter().map(|w| (w.x0, w.x1)).collect::<Vec<_>>()
            );
        }
    }
}

fn center(b: &BBox) -> (u32, u32) {
    ((b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2)
}

#[test]
fn paragraph_lines_and_words_in_order() {
    let Some(mut c) = Canvas::new(1400, 500) else {
        return;
    };
    let text = [
        "The quick brown fox jumps",
        "over the lazy dog, again.",
        "Pack my box with five dozen",
        "liquor jugs and then some",
        "Sphinx of black quartz judge",
    ];
    for (i, t) in text.iter().enumerate() {
        c.text(60.0, 100.0 + i as f32 * 56.0, SIZE, t);
    }
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    assert_eq!(lines.len(), 5, "{lines:#?}");
    for (i, (l, t)) in lines.iter().zip(text).enumerate() {
        assert_eq!(
            l.words.len(),
            t.split(' ').count(),
            "line {i}: {:?}",
            l.words
        );
        if i > 0 {
            assert!(l.bbox.y0 > lines[i - 1].bbox.y0);
        }
        assert!(
            l.char_height > 15.0 && l.char_height < 35.0,
            "{}",
            l.char_height
        );
    }
    assert_eq!(layout.blocks.len(), 1);
    assert!(layout.char_height > 15.0 && layout.char_height < 35.0);
}

#[test]
fn underline_touching_descenders_is_removed() {
    let Some(mut c) = Canvas::new(1200, 300) else {
        return;
    };
    let end = c.text(100.0, 150.0, SIZE, "Signature: Johnny Gray") as u32;
    // The rule runs through the descenders and well past the text on both sides.
    c.rect(40, 154, end + 200, 158);
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let b = lines[0].bbox;
    assert!(b.x0 >= 95 && b.x1 <= end + 5, "{b:?} vs text end {end}");
    assert_eq!(lines[0].words.len(), 3, "{:?}", lines[0].words);
}

#[test]
fn two_columns_read_column_by_column() {
    let Some(mut c) = Canvas::new(1700, 900) else {
        return;
    };
    let left = [
        "Columns are read from",
        "top to bottom before",
        "moving on to the next",
        "one on the right side",
        "of this page layout.",
        "The gutter is narrow",
    ];
    let right = [
        "Second column text",
        "continues down here",
        "with several lines",
        "of ordinary words in",
        "a row that ends at",
        "the bottom margin.",
    ];
    let mut gutter = 0.0f32;
    for (i, t) in left.iter().enumerate() {
        gutter = gutter.max(c.text(60.0, 120.0 + i as f32 * 56.0, SIZE, t));
    }
    let x2 = gutter + 45.0;
    for (i, t) in right.iter().enumerate() {
        c.text(x2, 120.0 + i as f32 * 56.0, SIZE, t);
    }
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    assert_eq!(lines.len(), 12, "{lines:#?}");
    for (i, l) in lines.iter().enumerate() {
        let in_left = (l.bbox.x1 as f32) <= gutter + 2.0;
        assert_eq!(in_left, i < 6, "line {i}: {:?}", l.bbox);
        if i % 6 > 0 {
            assert!(l.bbox.y0 > lines[i - 1].bbox.y0);
        }
    }
    // Without column detection the same page reads by rows.
    let rows = analyze(
        &c.img,
        &LayoutOptions {
            detect_columns: false,
        },
    );
    let first: Vec<u32> = all_lines(&rows).iter().take(2).map(|l| l.bbox.x0).collect();
    assert!(first[1] as f32 >= x2 - 2.0, "{first:?}");
}

#[test]
fn form_reads_label_then_value() {
    let Some(mut c) = Canvas::new(1400, 600) else {
        return;
    };
    let rows = [
        ("Name:", "John Smith"),
        ("Address:", "12 Main Street"),
        ("Phone:", "555 0101"),
        ("Date:", "2024 01 15"),
        ("City:", "Springfield"),
    ];
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 100.0 + i as f32 * 70.0;
        c.text(60.0, y, SIZE, label);
        c.text(420.0, y, SIZE, value);
    }
    for detect_columns in [true, false] {
        let layout = analyze(&c.img, &LayoutOptions { detect_columns });
        dump(&layout);
        let lines = all_lines(&layout);
        assert_eq!(lines.len(), 10, "{lines:#?}");
        for (i, l) in lines.iter().enumerate() {
            let is_label = l.bbox.x0 < 300;
            assert_eq!(is_label, i % 2 == 0, "line {i}: {:?}", l.bbox);
            let (label, value) = rows[i / 2];
            let words = if is_label { label } else { value };
            assert_eq!(l.words.len(), words.split(' ').count(), "line {i}");
        }
    }
}

/// A form whose labels are long enough to pass for a narrow text column ("Hole Depth:" is over
/// eight text heights wide) and whose values stand beyond a clean vertical gutter, in sections
/// under headings set over the values only (as on FUNSD's inspection sheets): still read row by
/// row, each label before its value.
#[test]
fn form_with_long_labels_reads_by_rows() {
    let Some(mut c) = Canvas::new(1600, 1100) else {
        return;
    };
    let rows = [
        ("Hole Depth:", "below one mm from end"),
        ("Scorching :", "Insignificant."),
        ("Cratering :", "None to insignificant."),
        ("Comments :", "Excellent appearance here."),
    ];
    let mut expected = Vec::new();
    for (s, heading) in ["FRONT CIGARETTES", "BACK CIGARETTES"].iter().enumerate() {
        let top = 100.0 + s as f32 * 450.0;
        c.text(650.0, top, SIZE, heading);
        expected.push(heading.to_string());
        for (i, (label, value)) in rows.iter().enumerate() {
            let y = top + 80.0 + i as f32 * 80.0;
            c.text(60.0, y, SIZE, label);
            c.text(480.0, y, SIZE, value);
            expected.push(label.to_string());
            expected.push(value.to_string());
        }
    }
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (i, l) in lines.iter().enumerate() {
        let want_label = expected[i].ends_with(':');
        assert_eq!(
            l.bbox.x0 < 300,
            want_label,
            "line {i} ({}): {:?}",
            expected[i],
            l.bbox
        );
    }
}

/// A receipt: item names at the left edge, prices at the right edge, each item's price on its
/// row; every item is read right before its price.
#[test]
fn receipt_prices_follow_their_items() {
    let Some(mut c) = Canvas::new(900, 900) else {
        return;
    };
    let items = [
        ("BREAD WHOLEMEAL", "2.45"),
        ("MILK 2L", "1.99"),
        ("FREE RANGE EGGS", "3.20"),
        ("APPLES 1KG", "2.10"),
        ("CHEDDAR CHEESE", "4.75"),
        ("SUBTOTAL", "14.49"),
        ("TOTAL", "14.49"),
    ];
    for (i, (item, price)) in items.iter().enumerate() {
        let y = 100.0 + i as f32 * 70.0;
        c.text(40.0, y, SIZE, item);
        c.text(720.0, y, SIZE, price);
    }
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    assert_eq!(lines.len(), 2 * items.len(), "{lines:#?}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l.bbox.x0 < 400, i % 2 == 0, "line {i}: {:?}", l.bbox);
        if i % 2 == 1 {
            assert!(lines[i - 1].bbox.vertical_overlap(&l.bbox) > 0, "line {i}");
        }
    }
}

#[test]
fn dotted_leaders_do_not_make_lines_or_glue_words() {
    let Some(mut c) = Canvas::new(1200, 400) else {
        return;
    };
    let rows = [("Subtotal", "10.00"), ("Tax", "2.50"), ("Total", "12.50")];
    let mut spans = Vec::new();
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 100.0 + i as f32 * 70.0;
        let label_end = c.text(60.0, y, SIZE, label);
        let mut x = label_end + 15.0;
        while x < 800.0 {
            x = c.text(x, y, SIZE, ".");
        }
        let value_x = 850.0;
        let value_end = c.text(value_x, y, SIZE, value);
        spans.push((label_end, value_x, value_end));
    }
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    let words: Vec<BBox> = lines.iter().flat_map(|l| l.words.iter().copied()).collect();
    assert_eq!(words.len(), 6, "{lines:#?}");
    for (i, &(label_end, value_x, value_end)) in spans.iter().enumerate() {
        let (label, value) = (words[2 * i], words[2 * i + 1]);
        assert!(
            label.x0 >= 55 && (label.x1 as f32) <= label_end + 2.0,
            "{label:?}"
        );
        assert!(value.x0 as f32 >= value_x - 2.0 && (value.x1 as f32) <= value_end + 2.0);
    }
}

#[test]
fn table_rules_are_removed_and_cell_words_found() {
    let Some(mut c) = Canvas::new(1100, 500) else {
        return;
    };
    let cells = [
        ["Apple", "Pear", "Fig"],
        ["Grape", "Plum", "Kiwi"],
        ["Lemon", "Lime", "Date"],
    ];
    let (x0, y0, cw, rh) = (50u32, 60u32, 320u32, 100u32);
    for r in 0..=3 {
        c.rect(x0, y0 + r * rh, x0 + 3 * cw + 3, y0 + r * rh + 3);
    }
    for k in 0..=3 {
        c.rect(x0 + k * cw, y0, x0 + k * cw + 3, y0 + 3 * rh + 3);
    }
    for (r, row) in cells.iter().enumerate() {
        for (k, word) in row.iter().enumerate() {
            // Baselines close to the cell's bottom rule, so descenders ("p", "g") touch it.
            let by = (y0 + (r as u32 + 1) * rh) as f32 - 6.0;
            c.text((x0 + k as u32 * cw + 40) as f32, by, SIZE, word);
        }
    }
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    assert_eq!(lines.len(), 9, "{lines:#?}");
    for (i, l) in lines.iter().enumerate() {
        let (cx, cy) = center(&l.bbox);
        let (r, k) = ((cy - y0) / rh, (cx - x0) / cw);
        assert_eq!(
            (r as usize, k as usize),
            (i / 3, i % 3),
            "line {i}: {:?}",
            l.bbox
        );
        assert!(l.bbox.width() < cw - 40, "{:?}", l.bbox);
        assert!(l.bbox.height() < rh - 20, "{:?}", l.bbox);
        assert_eq!(l.words.len(), 1);
    }
}

#[test]
fn specks_and_stamps_do_not_make_lines() {
    let Some(mut c) = Canvas::new(1400, 1000) else {
        return;
    };
    let e1 = c.text(100.0, 150.0, SIZE, "Only these two lines");
    let e2 = c.text(100.0, 210.0, SIZE, "are real text here");
    // A stamp: a thick ring far taller than text.
    for t in 0..2000 {
        let a = t as f32 * std::f32::consts::TAU / 2000.0;
        for r in 150..156 {
            let (x, y) = (1000.0 + r as f32 * a.cos(), 650.0 + r as f32 * a.sin());
            c.img.put_pixel(x as u32, y as u32, Luma([0]));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..400 {
        let (x, y) = (rng.random_range(0..1390u32), rng.random_range(0..990u32));
        let s = rng.random_range(1..4u32);
        c.rect(x, y, x + s, y + s);
    }
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    for (l, end) in lines.iter().zip([e1, e2]) {
        assert!(
            l.bbox.x0 >= 80 && l.bbox.x1 as f32 <= end + 30.0,
            "{:?}",
            l.bbox
        );
    }
}

#[test]
fn broken_thermal_print_still_forms_lines() {
    let Some(mut c) = Canvas::new(1000, 400) else {
        return;
    };
    let text = [
        "MILK 2L        3.49",
        "BREAD WHOLE    2.10",
        "EGGS 12 PACK   4.25",
    ];
    for (i, t) in text.iter().enumerate() {
        c.text(60.0, 100.0 + i as f32 * 60.0, 30.0, t);
    }
    // Dead print-head dots: thin white columns through every glyph, plus random dropouts.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    paper_where(&mut c.img, |x, _| x % 7 == 0 || rng.random_bool(0.05));
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    let words: Vec<usize> = lines.iter().map(|l| l.words.len()).collect();
    // Each row: the item words, then the price piece (far to the right).
    assert_eq!(words.iter().sum::<usize>(), 10, "{lines:#?}");
    for (i, l) in lines.iter().enumerate().skip(1) {
        assert!(l.bbox.y0 + 10 >= lines[i - 1].bbox.y0, "{lines:#?}");
    }
}

#[test]
fn dot_matrix_print_is_rejoined() {
    let Some(mut c) = Canvas::new(900, 300) else {
        return;
    };
    let text = ["DOT MATRIX 12.00", "CASH CHANGE 3.50"];
    for (i, t) in text.iter().enumerate() {
        c.text(60.0, 100.0 + i as f32 * 60.0, SIZE, t);
    }
    // Keep one ink pixel in every 3 x 3 cell: each glyph falls apart into single dots.
    paper_where(&mut c.img, |x, y| x % 3 != 0 || y % 3 != 0);
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    for (l, t) in lines.iter().zip(text) {
        assert_eq!(l.words.len(), t.split(' ').count(), "{:?}", l.words);
        assert!(l.bbox.x0 >= 58 && l.bbox.x0 <= 70, "{:?}", l.bbox);
    }
}

#[test]
fn dense_dot_matrix_fragments_are_rejoined() {
    let Some(mut c) = Canvas::new(900, 300) else {
        return;
    };
    // Rows set tightly, as on receipts: the gap between them is a fifth of the text size.
    let text = ["DOT MATRIX 12.00", "CASH CHANGE 3.50", "TOTAL DUE 15.50"];
    for (i, t) in text.iter().enumerate() {
        c.text(60.0, 80.0 + i as f32 * 1.25 * SIZE, SIZE, t);
    }
    // One-pixel paper lines every 7 pixels both ways: each glyph falls apart into fragments of
    // up to 6 x 6 pixels (too big for dots, far smaller than the glyphs).
    paper_where(&mut c.img, |x, y| x % 7 == 0 || y % 7 == 0);
    let layout = analyze(&c.img, &LayoutOptions::default());
    dump(&layout);
    let lines = all_lines(&layout);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for (l, t) in lines.iter().zip(text) {
        assert_eq!(l.words.len(), t.split(' ').count(), "{:?}", l.words);
    }
}

#[test]
fn empty_page_has_no_text() {
    let img = GrayImage::from_pixel(200, 100, Luma([255]));
    assert_eq!(
        analyze(&img, &LayoutOptions::default()),
        PageLayout::default()
    );
    let tiny = GrayImage::new(0, 0);
    assert_eq!(
        analyze(&tiny, &LayoutOptions::default()),
        PageLayout::default()
    );
}

/// A dense A4 page at 300 DPI (2,480 x 3,508): ~60 lines of ~95 characters and a ruled table.
#[test]
fn dense_page_timing() {
    let Some(mut c) = Canvas::new(2480, 3508) else {
        return;
    };
    let words = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
        "ut",
        "labore",
        "et",
        "dolore",
        "magna",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut rows = 0;
    let mut y = 150.0;
    while y < 3350.0 {
        let mut x = 150.0;
        while x < 2200.0 {
            let w = words[rng.random_range(0..words.len())];
            x = c.text(x, y, SIZE, w) + 12.0;
        }
        rows += 1;
        y += 52.0;
    }
    c.rect(140, 1000, 2340, 1003);
    let t = std::time::Instant::now();
    let n = 5;
    let mut layout = PageLayout::default();
    for _ in 0..n {
        layout = analyze(&c.img, &LayoutOptions::default());
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let lines = all_lines(&layout);
    let n_words: usize = lines.iter().map(|l| l.words.len()).sum();
    eprintln!(
        "analyze on 2480x3508 dense page: {ms:.1} ms ({} lines, {n_words} words)",
        lines.len()
    );
    assert_eq!(
        lines.len(),
        rows,
        "{:?}",
        lines.iter().map(|l| l.bbox).collect::<Vec<_>>()
    );
}
