//! ALTO v4 output (namespace `http://www.loc.gov/standards/alto/ns-v4#`, schema 4.2).
//!
//! Layout: `Description` (MeasurementUnit `pixel`, the source file name, the producing software),
//! then `Layout` > `Page` > `PrintSpace` > `TextBlock` > `TextLine` > `String`, with an `SP`
//! between consecutive words. Positions are `HPOS`/`VPOS`/`WIDTH`/`HEIGHT` in page pixels. `PC`
//! (page) and `WC` (word) are confidences in 0..1 with 4 decimals; `CC` has one digit per
//! character, 0 = most confident .. 9 = least, as the schema defines it. IDs are unique NCNames
//! scoped by the 1-based page number: `page_P`, `block_P_B`, `line_P_L`, `string_P_W`.
//!
//! The schema requires at least one `Page` in `Layout` and at least one `String` per
//! `TextLine`: lines without words are left out, and a document without pages yields a
//! well-formed file with an empty `Layout`, the closest valid-looking answer to "no pages".

use std::fmt::{self, Write};

use crate::document::{Block, Document, Line, Page, Word};
use crate::render::xml::push_escaped;
use crate::render::{FERROCR_VERSION, chars_match_text, line_words, unit_confidence};

/// Render the document as an ALTO v4 XML file (UTF-8).
pub fn render_alto(doc: &Document) -> String {
    let words: usize = doc
        .pages
        .iter()
        .flat_map(|p| p.lines())
        .map(|l| l.words.len() + 1)
        .sum();
    let mut out = String::with_capacity(1024 + words * 160);
    // Writing into a String cannot fail; fmt::Result exists only because of the Write trait.
    let _ = write_document(&mut out, doc);
    out
}

fn write_document(out: &mut String, doc: &Document) -> fmt::Result {
    out.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<alto xmlns=\"http://www.loc.gov/standards/alto/ns-v4#\"",
        " xmlns:xlink=\"http://www.w3.org/1999/xlink\"",
        " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
        " xsi:schemaLocation=\"http://www.loc.gov/standards/alto/ns-v4#",
        " http://www.loc.gov/alto/v4/alto-4-2.xsd\" SCHEMAVERSION=\"4.2\">\n",
        "  <Description>\n",
        "    <MeasurementUnit>pixel</MeasurementUnit>\n",
    ));
    if let Some(source) = &doc.source {
        out.push_str("    <sourceImageInformation>\n      <fileName>");
        push_escaped(out, source);
        out.push_str("</fileName>\n    </sourceImageInformation>\n");
    }
    out.push_str(concat!(
        "    <OCRProcessing ID=\"OCR_0\">\n",
        "      <ocrProcessingStep>\n",
        "        <processingSoftware>\n",
        "          <softwareName>ferrocr</softwareName>\n",
    ));
    writeln!(
        out,
        "          <softwareVersion>{FERROCR_VERSION}</softwareVersion>"
    )?;
    out.push_str(concat!(
        "        </processingSoftware>\n",
        "      </ocrProcessingStep>\n",
        "    </OCRProcessing>\n",
        "  </Description>\n",
        "  <Layout>\n",
    ));
    for (p, page) in doc.pages.iter().enumerate() {
        write_page(out, page, p + 1)?;
    }
    out.push_str("  </Layout>\n</alto>\n");
    Ok(())
}

fn write_page(out: &mut String, page: &Page, p: usize) -> fmt::Result {
    writeln!(
        out,
        "    <Page ID=\"page_{p}\" PHYSICAL_IMG_NR=\"{p}\" WIDTH=\"{}\" HEIGHT=\"{}\" PC=\"{:.4}\">",
        page.width,
        page.height,
        unit_confidence(page.confidence)
    )?;
    writeln!(
        out,
        "      <PrintSpace HPOS=\"0\" VPOS=\"0\" WIDTH=\"{}\" HEIGHT=\"{}\">",
        page.width, page.height
    )?;
    let mut ids = LineStringIds::default();
    for (b, block) in page.blocks.iter().enumerate() {
        write_block(out, block, p, b + 1, &mut ids)?;
    }
    out.push_str("      </PrintSpace>\n    </Page>\n");
    Ok(())
}

/// Per-page counters for line and string IDs.
#[derive(Default)]
struct LineStringIds {
    line: usize,
    string: usize,
}

fn write_block(
    out: &mut String,
    block: &Block,
    p: usize,
    b: usize,
    ids: &mut LineStringIds,
) -> fmt::Result {
    let bb = &block.bbox;
    writeln!(
        out,
        "        <TextBlock ID=\"block_{p}_{b}\" HPOS=\"{}\" VPOS=\"{}\" WIDTH=\"{}\" HEIGHT=\"{}\">",
        bb.x0,
        bb.y0,
        bb.width(),
        bb.height()
    )?;
    for line in &block.lines {
        write_line(out, line, p, ids)?;
    }
    out.push_str("        </TextBlock>\n");
    Ok(())
}

fn write_line(out: &mut String, line: &Line, p: usize, ids: &mut LineStringIds) -> fmt::Result {
    let words = line_words(line);
    if words.is_empty() {
        return Ok(());
    }
    ids.line += 1;
    let lb = &line.bbox;
    writeln!(
        out,
        "          <TextLine ID=\"line_{p}_{}\" HPOS=\"{}\" VPOS=\"{}\" WIDTH=\"{}\" HEIGHT=\"{}\">",
        ids.line,
        lb.x0,
        lb.y0,
        lb.width(),
        lb.height()
    )?;
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            let gap_start = words[i - 1].bbox.x1;
            writeln!(
                out,
                "            <SP HPOS=\"{gap_start}\" VPOS=\"{}\" WIDTH=\"{}\"/>",
                lb.y0,
                word.bbox.x0.saturating_sub(gap_start)
            )?;
        }
        ids.string += 1;
        write_string(out, word, p, ids.string)?;
    }
    out.push_str("          </TextLine>\n");
    Ok(())
}

fn write_string(out: &mut String, word: &Word, p: usize, s: usize) -> fmt::Result {
    let b = &word.bbox;
    out.push_str("            <String ID=\"string_");
    write!(out, "{p}_{s}\" CONTENT=\"")?;
    push_escaped(out, &word.text);
    write!(
        out,
        "\" HPOS=\"{}\" VPOS=\"{}\" WIDTH=\"{}\" HEIGHT=\"{}\" WC=\"{:.4}\"",
        b.x0,
        b.y0,
        b.width(),
        b.height(),
        unit_confidence(word.confidence)
    )?;
    if chars_match_text(word) {
        out.push_str(" CC=\"");
        for c in &word.chars {
            out.push(cc_digit(c.confidence));
        }
        out.push('"');
    }
    out.push_str("/>\n");
    Ok(())
}

/// ALTO character confidence: `0` (sure) .. `9` (unsure), i.e. `round(9 * (1 - confidence))`.
fn cc_digit(confidence: f32) -> char {
    let level = (9.0 * (1.0 - unit_confidence(confidence))).round() as u32;
    char::from_digit(level.min(9), 10).unwrap_or('9')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::{
        Node, all_words, empty_page_document, parse_xml, sample_document, xmllint_check,
    };
    use std::collections::HashSet;

    fn parse(doc: &Document) -> Node {
        let alto = render_alto(doc);
        xmllint_check(&alto, "alto.xml");
        parse_xml(&alto).unwrap_or_else(|e| panic!("ALTO is not well-formed: {e}\n{alto}"))
    }

    fn num(n: &Node, attr: &str) -> f64 {
        n.attr(attr)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{} lacks numeric {attr}", n.name))
    }

    #[test]
    fn structure_and_description() {
        let doc = sample_document();
        let root = parse(&doc);
        assert_eq!(root.name, "alto");
        assert_eq!(
            root.attr("xmlns"),
            Some("http://www.loc.gov/standards/alto/ns-v4#")
        );
        assert!(
            root.attr("xsi:schemaLocation")
                .is_some_and(|s| s.ends_with("http://www.loc.gov/alto/v4/alto-4-2.xsd"))
        );
        let text_of = |name: &str| {
            root.find_all(|n| n.name == name)
                .first()
                .map(|n| n.text.clone())
        };
        assert_eq!(text_of("MeasurementUnit").as_deref(), Some("pixel"));
        assert_eq!(text_of("fileName").as_deref(), doc.source.as_deref());
        assert_eq!(text_of("softwareName").as_deref(), Some("ferrocr"));
        assert_eq!(text_of("softwareVersion").as_deref(), Some(FERROCR_VERSION));
        let count = |name: &str| root.find_all(|n| n.name == name).len();
        assert_eq!(
            [
                "Page",
                "PrintSpace",
                "TextBlock",
                "TextLine",
                "String",
                "SP"
            ]
            .map(count),
            [2, 2, 3, 4, 16, 12]
        );
        let ids: Vec<&str> = root
            .find_all(|n| n.attr("ID").is_some())
            .iter()
            .filter_map(|n| n.attr("ID"))
            .collect();
        let unique: HashSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "duplicate IDs in {ids:?}");
        let pages = root.find_all(|n| n.name == "Page");
        assert_eq!(
            (num(pages[1], "WIDTH"), num(pages[1], "HEIGHT")),
            (1000.0, 1400.0)
        );
        assert_eq!(pages[1].attr("PHYSICAL_IMG_NR"), Some("2"));
        for page in &pages {
            assert!((0.0..=1.0).contains(&num(page, "PC")));
        }
    }

    #[test]
    fn strings_content_positions_and_confidences() {
        let doc = sample_document();
        let root = parse(&doc);
        let strings = root.find_all(|n| n.name == "String");
        for (node, word) in strings.iter().zip(all_words(&doc)) {
            assert_eq!(node.attr("CONTENT"), Some(word.text.as_str()));
            let b = word.bbox;
            assert_eq!(
                ["HPOS", "VPOS", "WIDTH", "HEIGHT"].map(|a| num(node, a)),
                [b.x0, b.y0, b.width(), b.height()].map(f64::from)
            );
            let wc = node.attr("WC").unwrap_or("");
            let decimals = wc.split('.').nth(1).map_or(0, str::len);
            assert!((2..=4).contains(&decimals), "WC {wc}");
            let wc: f64 = num(node, "WC");
            assert!((0.0..=1.0).contains(&wc));
            assert!((wc - f64::from(word.confidence)).abs() < 1e-4);
            let cc = node.attr("CC").unwrap_or("");
            assert_eq!(cc.chars().count(), word.text.chars().count(), "CC {cc}");
            assert!(cc.chars().all(|c| c.is_ascii_digit()));
        }
        assert_eq!(
            strings[0].attr("CC"),
            Some("00000"),
            "confidence 1 is digit 0"
        );
        assert_eq!(strings[14].attr("CC"), Some("9"), "confidence 0 is digit 9");
        assert_eq!(strings[14].attr("WC"), Some("0.0000"));
        let sp = root.find_all(|n| n.name == "SP");
        let (first, second) = (
            &doc.pages[0].blocks[0].lines[0].words[0],
            &doc.pages[0].blocks[0].lines[0].words[1],
        );
        assert_eq!(num(sp[0], "HPOS"), f64::from(first.bbox.x1));
        assert_eq!(
            num(sp[0], "WIDTH"),
            f64::from(second.bbox.x0 - first.bbox.x1)
        );
    }

    #[test]
    fn cc_digits() {
        assert_eq!(
            [1.0, 0.95, 0.5, 0.0, f32::NAN, 2.0].map(cc_digit),
            ['0', '0', '5', '9', '9', '0']
        );
    }

    #[test]
    fn edge_cases_stay_well_formed() {
        let root = parse(&Document {
            source: None,
            pages: Vec::new(),
        });
        assert!(root.find_all(|n| n.name == "Page").is_empty());
        assert!(
            root.find_all(|n| n.name == "sourceImageInformation")
                .is_empty()
        );
        let root = parse(&empty_page_document());
        assert_eq!(root.find_all(|n| n.name == "PrintSpace").len(), 1);
        assert!(root.find_all(|n| n.name == "TextBlock").is_empty());

        let mut doc = sample_document();
        doc.pages[0].blocks[0].lines[0].words[0].chars.pop();
        doc.pages[0].blocks[0].lines[1].words.clear();
        doc.pages[0].blocks[1].lines[0].words.clear();
        doc.pages[0].blocks[1].lines[0].text.clear();
        doc.pages[0].confidence = f32::NAN;
        let root = parse(&doc);
        let strings = root.find_all(|n| n.name == "String");
        assert_eq!(
            strings[0].attr("CC"),
            None,
            "no CC when chars do not spell the word"
        );
        assert_eq!(strings[5].attr("CONTENT"), Some("Price: €12 at 25°C"));
        assert_eq!(
            root.find_all(|n| n.name == "TextLine").len(),
            3,
            "empty line dropped"
        );
        assert_eq!(
            root.find_all(|n| n.name == "Page")[0].attr("PC"),
            Some("0.0000")
        );
    }
}
