//! Tesseract-compatible TSV output (`tesseract IMAGE out tsv`), so tools written for
//! Tesseract's `image_to_data` (pytesseract, pandas scripts) read ferrocr unchanged.
//!
//! One header row, then per page a level-1 row, per block a level-2 row and a level-3
//! (paragraph = the block) row, per line a level-4 row and per word a level-5 row. Numbers
//! (`page_num`, `block_num`, `par_num`, `line_num`, `word_num`) are 1-based and count within the
//! parent (0 where the level does not apply), boxes are `left top width height` in page pixels,
//! `conf` is `-1` on levels 1-4 (as Tesseract prints, which is what scripts filter on) and the
//! word confidence times 100 with two decimals on level 5. Tabs and line breaks in text become
//! spaces; every row has exactly 12 columns.

use std::fmt::{self, Write};

use crate::document::{Document, Word};
use crate::geometry::BBox;
use crate::render::{line_words, unit_confidence};

/// The header row (without its newline), identical to Tesseract's.
pub const TSV_HEADER: &str =
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext";

/// Render the document as Tesseract-compatible TSV (see the module documentation).
pub fn render_tsv(doc: &Document) -> String {
    let rows: usize = doc
        .pages
        .iter()
        .flat_map(|p| p.lines())
        .map(|l| l.words.len() + 1)
        .sum();
    let mut out = String::with_capacity(TSV_HEADER.len() + 64 * (rows + 8));
    // Writing into a String cannot fail; fmt::Result exists only because of the Write trait.
    let _ = write_document(&mut out, doc);
    out
}

/// The position numbers of a row: page, block, paragraph, line, word.
type Nums = [usize; 5];

fn write_document(out: &mut String, doc: &Document) -> fmt::Result {
    out.push_str(TSV_HEADER);
    out.push('\n');
    for (p, page) in doc.pages.iter().enumerate() {
        let page_box = BBox::new(0, 0, page.width, page.height);
        let p = p + 1;
        write_structural_row(out, 1, [p, 0, 0, 0, 0], &page_box)?;
        for (b, block) in page.blocks.iter().enumerate() {
            let b = b + 1;
            write_structural_row(out, 2, [p, b, 0, 0, 0], &block.bbox)?;
            write_structural_row(out, 3, [p, b, 1, 0, 0], &block.bbox)?;
            for (l, line) in block.lines.iter().enumerate() {
                let l = l + 1;
                write_structural_row(out, 4, [p, b, 1, l, 0], &line.bbox)?;
                for (w, word) in line_words(line).iter().enumerate() {
                    write_word_row(out, [p, b, 1, l, w + 1], word)?;
                }
            }
        }
    }
    Ok(())
}

/// The first ten columns: level, the five numbers, and the box.
fn write_prefix(out: &mut String, level: u8, n: Nums, b: &BBox) -> fmt::Result {
    write!(
        out,
        "{level}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t",
        n[0],
        n[1],
        n[2],
        n[3],
        n[4],
        b.x0,
        b.y0,
        b.width(),
        b.height()
    )
}

/// A page, block, paragraph or line row: confidence -1 and empty text, as Tesseract writes.
fn write_structural_row(out: &mut String, level: u8, n: Nums, b: &BBox) -> fmt::Result {
    write_prefix(out, level, n, b)?;
    out.push_str("-1\t\n");
    Ok(())
}

fn write_word_row(out: &mut String, n: Nums, word: &Word) -> fmt::Result {
    write_prefix(out, 5, n, &word.bbox)?;
    write!(out, "{:.2}\t", unit_confidence(word.confidence) * 100.0)?;
    out.extend(word.text.chars().map(|c| match c {
        '\t' | '\n' | '\r' => ' ',
        c => c,
    }));
    out.push('\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::{all_words, empty_page_document, sample_document};

    fn parse_rows(tsv: &str) -> Vec<Vec<&str>> {
        let mut lines = tsv.lines();
        assert_eq!(lines.next(), Some(TSV_HEADER));
        assert!(tsv.ends_with('\n'));
        lines.map(|l| l.split('\t').collect()).collect()
    }

    #[test]
    fn rows_per_level_and_columns() {
        let doc = sample_document();
        let tsv = render_tsv(&doc);
        let rows = parse_rows(&tsv);
        assert!(
            rows.iter().all(|r| r.len() == 12),
            "every row has 12 columns"
        );
        let per_level: Vec<usize> = (1..=5)
            .map(|lvl| rows.iter().filter(|r| r[0] == lvl.to_string()).count())
            .collect();
        assert_eq!(per_level, vec![2, 3, 3, 4, 16]);
        for r in rows.iter().filter(|r| r[0] != "5") {
            assert_eq!((r[10], r[11]), ("-1", ""));
        }
        assert_eq!(
            rows[0],
            [
                "1", "1", "0", "0", "0", "0", "0", "0", "2480", "3508", "-1", ""
            ]
        );
        assert_eq!(
            rows[3][..6],
            ["4", "1", "1", "1", "1", "0"],
            "page, block, par, line rows come first"
        );
        let words: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == "5").collect();
        for (r, w) in words.iter().zip(all_words(&doc)) {
            assert_eq!(r[11], w.text);
            let b = w.bbox;
            assert_eq!(
                r[6..10],
                [b.x0, b.y0, b.width(), b.height()].map(|v| v.to_string())
            );
            let conf: f64 = r[10].parse().unwrap_or(-1.0);
            assert!((0.0..=100.0).contains(&conf), "conf {}", r[10]);
            assert_eq!(r[10].split('.').nth(1).map(str::len), Some(2));
        }
        assert_eq!(words[0][..6], ["5", "1", "1", "1", "1", "1"]);
        assert_eq!(words[0][10], "100.00");
        assert_eq!(words[15][..6], ["5", "2", "1", "1", "1", "4"]);
        assert_eq!(words[14][10], "0.00");
        let block2_word = words[9];
        assert_eq!(block2_word[..6], ["5", "1", "2", "1", "1", "1"]);
    }

    #[test]
    fn text_is_sanitised_and_edge_cases_render() {
        let mut doc = sample_document();
        doc.pages[0].blocks[0].lines[0].words[0].text = "a\tb\nc\rd".into();
        doc.pages[0].blocks[0].lines[0].words[1].confidence = f32::NAN;
        doc.pages[0].blocks[0].lines[1].words.clear();
        let tsv = render_tsv(&doc);
        let rows = parse_rows(&tsv);
        assert!(rows.iter().all(|r| r.len() == 12));
        let words: Vec<&Vec<&str>> = rows.iter().filter(|r| r[0] == "5").collect();
        assert_eq!(words[0][11], "a b c d");
        assert_eq!(words[1][10], "0.00");
        assert_eq!(
            words[5][11], "Price: €12 at 25°C",
            "wordless line gets one word row"
        );
        assert_eq!(words.len(), 16 - 4 + 1);

        let empty = Document {
            source: None,
            pages: Vec::new(),
        };
        assert_eq!(render_tsv(&empty), format!("{TSV_HEADER}\n"));
        let tsv = render_tsv(&empty_page_document());
        let rows = parse_rows(&tsv);
        assert_eq!(rows.len(), 1, "only the page row");
        assert_eq!(rows[0].len(), 12);
    }
}
