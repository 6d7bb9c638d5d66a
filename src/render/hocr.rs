//! hOCR 1.2 output (<https://kba.github.io/hocr-spec/1.2/>), laid out like Tesseract's so that
//! existing hOCR tools (hocr-tools, hocr-pdf, OCRmyPDF-style overlays) read it unchanged.
//!
//! Structure: XHTML 1.0 Transitional; one `ocr_page` per page, then per block an `ocr_carea`
//! holding one `ocr_par`, then `ocr_line` > `ocrx_word` > `ocrx_cinfo` (one span per character,
//! with `x_bboxes` and `x_confs`). Ids are unique and scoped by the 1-based page number:
//! `page_P`, `block_P_B`, `par_P_B`, `line_P_L`, `word_P_W` (lines and words counted over the
//! page). Boxes are `bbox x0 y0 x1 y1` in page pixels, x1/y1 exclusive. `x_wconf` is the word
//! confidence times 100, rounded to an integer; `x_confs` are char confidences times 100.

use std::fmt::{self, Write};

use crate::document::{Block, Document, Line, Page, Word};
use crate::geometry::BBox;
use crate::render::xml::{escape, push_escaped};
use crate::render::{FERROCR_VERSION, chars_match_text, line_words, unit_confidence};

/// Everything this writer can emit, as listed in the `ocr-capabilities` meta tag (the spec
/// forbids elements whose capability is not listed). `ocrp_wconf` is Tesseract's marker for
/// `x_wconf`.
const CAPABILITIES: &str = "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrx_cinfo ocrp_wconf";

/// Render the document as an hOCR 1.2 XHTML file (well-formed XML, UTF-8).
pub fn render_hocr(doc: &Document) -> String {
    render_hocr_documents(std::slice::from_ref(doc))
}

/// Render several documents as one hOCR file: their pages in order (ids numbered across the
/// whole file), each page's `image` property naming its own document's file.
pub fn render_hocr_documents(docs: &[Document]) -> String {
    let chars: usize = docs.iter().map(estimated_chars).sum();
    let mut out = String::with_capacity(1024 + chars * 96);
    // Writing into a String cannot fail; fmt::Result exists only because of the Write trait.
    let _ = write_documents(&mut out, docs);
    out
}

/// Rough number of characters in the document, to size the output buffer once.
fn estimated_chars(doc: &Document) -> usize {
    doc.pages
        .iter()
        .flat_map(|p| p.lines())
        .map(|l| l.text.len() + 1)
        .sum()
}

fn write_documents(out: &mut String, docs: &[Document]) -> fmt::Result {
    out.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n",
        "    \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n",
        "<html xmlns=\"http://www.w3.org/1999/xhtml\">\n",
        " <head>\n",
        "  <title>",
    ));
    let sources: Vec<&str> = docs.iter().filter_map(|d| d.source.as_deref()).collect();
    push_escaped(out, &sources.join(", "));
    out.push_str("</title>\n");
    out.push_str("  <meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\" />\n");
    writeln!(
        out,
        "  <meta name='ocr-system' content='ferrocr {FERROCR_VERSION}' />"
    )?;
    writeln!(
        out,
        "  <meta name='ocr-capabilities' content='{CAPABILITIES}' />"
    )?;
    writeln!(
        out,
        "  <meta name='ocr-number-of-pages' content='{}' />",
        docs.iter().map(|d| d.pages.len()).sum::<usize>()
    )?;
    out.push_str(" </head>\n <body>\n");
    let mut p = 0;
    for doc in docs {
        let image = doc.source.as_deref().map(image_property);
        for page in &doc.pages {
            p += 1;
            write_page(out, page, p, image.as_deref())?;
        }
    }
    out.push_str(" </body>\n</html>\n");
    Ok(())
}

/// The value of the `image` property: the file name in double quotes (Tesseract's form). The
/// spec wants a UNIX-like path, and the title syntax cannot quote `"` or `;`, so backslashes
/// become `/` and those two characters become `_`.
fn image_property(source: &str) -> String {
    let name: String = source
        .chars()
        .map(|c| match c {
            '\\' => '/',
            '"' | ';' => '_',
            c => c,
        })
        .collect();
    format!("image \"{name}\"; ")
}

fn write_page(out: &mut String, page: &Page, p: usize, image: Option<&str>) -> fmt::Result {
    let mut title = String::with_capacity(96);
    title.push_str(image.unwrap_or(""));
    write!(
        title,
        "bbox 0 0 {} {}; ppageno {}",
        page.width, page.height, page.index
    )?;
    if let Some(dpi) = page.dpi.filter(|d| d.is_finite() && *d > 0.0) {
        let dpi = dpi.round() as u32;
        write!(title, "; scan_res {dpi} {dpi}")?;
    }
    writeln!(
        out,
        "  <div class='ocr_page' id='page_{p}' title='{}'>",
        escape(&title)
    )?;
    let mut ids = LineWordIds::default();
    for (b, block) in page.blocks.iter().enumerate() {
        write_block(out, block, p, b + 1, &mut ids)?;
    }
    out.push_str("  </div>\n");
    Ok(())
}

/// Per-page counters for line and word ids.
#[derive(Default)]
struct LineWordIds {
    line: usize,
    word: usize,
}

fn write_block(
    out: &mut String,
    block: &Block,
    p: usize,
    b: usize,
    ids: &mut LineWordIds,
) -> fmt::Result {
    let bbox = bbox_str(&block.bbox);
    writeln!(
        out,
        "   <div class='ocr_carea' id='block_{p}_{b}' title='bbox {bbox}'>"
    )?;
    writeln!(
        out,
        "    <p class='ocr_par' id='par_{p}_{b}' title='bbox {bbox}'>"
    )?;
    for line in &block.lines {
        ids.line += 1;
        write_line(out, line, p, ids)?;
    }
    out.push_str("    </p>\n   </div>\n");
    Ok(())
}

fn write_line(out: &mut String, line: &Line, p: usize, ids: &mut LineWordIds) -> fmt::Result {
    writeln!(
        out,
        "     <span class='ocr_line' id='line_{p}_{}' title='bbox {}'>",
        ids.line,
        bbox_str(&line.bbox)
    )?;
    for word in line_words(line).iter() {
        ids.word += 1;
        write_word(out, word, p, ids.word)?;
    }
    out.push_str("     </span>\n");
    Ok(())
}

fn write_word(out: &mut String, word: &Word, p: usize, w: usize) -> fmt::Result {
    write!(
        out,
        "      <span class='ocrx_word' id='word_{p}_{w}' title='bbox {}; x_wconf {}'>",
        bbox_str(&word.bbox),
        x_wconf(word.confidence)
    )?;
    if chars_match_text(word) {
        // No whitespace between the spans: it would become part of the word's text.
        for c in &word.chars {
            write!(
                out,
                "<span class='ocrx_cinfo' title='x_bboxes {}; x_confs {:.2}'>",
                bbox_str(&c.bbox),
                unit_confidence(c.confidence) * 100.0
            )?;
            push_escaped(out, &c.text);
            out.push_str("</span>");
        }
    } else {
        push_escaped(out, &word.text);
    }
    out.push_str("</span>\n");
    Ok(())
}

/// `x0 y0 x1 y1`, the hOCR box order (x1/y1 exclusive, as in [`BBox`]).
fn bbox_str(b: &BBox) -> String {
    format!("{} {} {} {}", b.x0, b.y0, b.x1, b.y1)
}

/// hOCR word confidence: an integer percentage in 0..=100.
fn x_wconf(confidence: f32) -> u32 {
    (unit_confidence(confidence) * 100.0).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::{
        Node, all_words, empty_page_document, parse_xml, sample_document, title_numbers,
        xmllint_check,
    };
    use std::collections::HashSet;

    fn parse(doc: &Document) -> Node {
        let hocr = render_hocr(doc);
        xmllint_check(&hocr, "hocr");
        parse_xml(&hocr).unwrap_or_else(|e| panic!("hOCR is not well-formed: {e}\n{hocr}"))
    }

    fn class<'a>(root: &'a Node, class: &str) -> Vec<&'a Node> {
        root.find_all(|n| n.attr("class") == Some(class))
    }

    #[test]
    fn structure_ids_and_capabilities() {
        let doc = sample_document();
        let root = parse(&doc);
        assert_eq!(root.name, "html");
        let metas = root.find_all(|n| n.name == "meta");
        let meta = |name: &str| {
            metas
                .iter()
                .find(|m| m.attr("name") == Some(name))
                .and_then(|m| m.attr("content"))
                .map(str::to_string)
        };
        assert_eq!(
            meta("ocr-system"),
            Some(format!("ferrocr {FERROCR_VERSION}"))
        );
        let caps: HashSet<String> = meta("ocr-capabilities")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let used: HashSet<String> = root
            .find_all(|n| n.attr("class").is_some())
            .iter()
            .filter_map(|n| n.attr("class").map(str::to_string))
            .collect();
        assert!(used.is_subset(&caps), "used {used:?} not all in {caps:?}");
        let counts: Vec<usize> = ["ocr_page", "ocr_carea", "ocr_par", "ocr_line", "ocrx_word"]
            .iter()
            .map(|c| class(&root, c).len())
            .collect();
        assert_eq!(counts, vec![2, 3, 3, 4, 16]);
        let ids: Vec<&str> = root
            .find_all(|n| n.attr("id").is_some())
            .iter()
            .filter_map(|n| n.attr("id"))
            .collect();
        let unique: HashSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "duplicate ids in {ids:?}");
        assert!(ids.contains(&"line_1_3") && ids.contains(&"word_2_4"));
        assert!(ids.contains(&"block_1_2") && ids.contains(&"par_1_2"));
    }

    #[test]
    fn page_titles() {
        let root = parse(&sample_document());
        let pages = class(&root, "ocr_page");
        assert_eq!(
            pages[0].attr("title"),
            Some(
                "image \"scans/page _1_ & <2>.png\"; bbox 0 0 2480 3508; ppageno 0; scan_res 300 300"
            )
        );
        assert_eq!(
            pages[1].attr("title"),
            Some("image \"scans/page _1_ & <2>.png\"; bbox 0 0 1000 1400; ppageno 1")
        );
    }

    #[test]
    fn words_text_confidence_and_chars() {
        let doc = sample_document();
        let root = parse(&doc);
        let words = class(&root, "ocrx_word");
        let expected = all_words(&doc);
        assert_eq!(words.len(), expected.len());
        for (node, word) in words.iter().zip(&expected) {
            assert_eq!(node.text, word.text, "text survives escaping");
            let title = node.attr("title").unwrap_or("");
            let conf = title
                .rsplit("x_wconf ")
                .next()
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or_else(|| panic!("x_wconf is not an integer in {title:?}"));
            assert!(conf <= 100);
            assert_eq!(conf, (word.confidence * 100.0).round() as u32);
            assert_eq!(
                title_numbers(title, "bbox"),
                vec![word.bbox.x0, word.bbox.y0, word.bbox.x1, word.bbox.y1]
            );
            let cinfo: Vec<&Node> = node
                .children
                .iter()
                .filter(|c| c.attr("class") == Some("ocrx_cinfo"))
                .collect();
            assert_eq!(cinfo.len(), word.chars.len());
            for (span, c) in cinfo.iter().zip(&word.chars) {
                let t = span.attr("title").unwrap_or("");
                let b = c.bbox;
                assert_eq!(title_numbers(t, "x_bboxes"), vec![b.x0, b.y0, b.x1, b.y1]);
                assert!(
                    t.contains(&format!("x_confs {:.2}", c.confidence * 100.0)),
                    "{t}"
                );
            }
        }
        let confs: Vec<&str> = words.iter().filter_map(|w| w.attr("title")).collect();
        assert!(confs[0].ends_with("x_wconf 100") && confs[14].ends_with("x_wconf 0"));
    }

    #[test]
    fn edge_cases_stay_well_formed() {
        let empty = Document {
            source: None,
            pages: Vec::new(),
        };
        let root = parse(&empty);
        assert!(class(&root, "ocr_page").is_empty());
        let root = parse(&empty_page_document());
        assert_eq!(class(&root, "ocr_page").len(), 1);
        assert!(class(&root, "ocr_line").is_empty());

        // Mismatched chars, a wordless line, control characters and NaN confidence.
        let mut doc = sample_document();
        let line = &mut doc.pages[0].blocks[0].lines[0];
        line.words[0].chars.pop();
        line.words[1].text = "tab\there\u{0}".into();
        line.words[2].confidence = f32::NAN;
        doc.pages[0].blocks[1].lines[0].words.clear();
        let root = parse(&doc);
        let words = class(&root, "ocrx_word");
        assert_eq!(words[0].text, "Tom's");
        assert!(
            words[0].children.is_empty(),
            "no cinfo when chars do not spell the word"
        );
        assert_eq!(words[1].text, "tab\there\u{FFFD}");
        assert!(
            words[2]
                .attr("title")
                .is_some_and(|t| t.ends_with("x_wconf 0"))
        );
        let lines = class(&root, "ocr_line");
        assert_eq!(lines[2].text.trim(), "“Hi” naïve café");
    }
}
