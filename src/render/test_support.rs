//! Test-only helpers for the render tests: a hand-built document full of awkward text, a small
//! XML well-formedness parser (so the XML checks never depend on an installed tool), and an
//! `xmllint` check that runs when the tool is on PATH.

use std::process::Command;

use crate::document::{Block, Char, Document, Line, Page, StageTimings, Word, weighted_confidence};
use crate::geometry::BBox;

/// A word at `(x0, y0)`: 10 px per char, 20 px high, every char with `char_conf`, the word's
/// confidence the product of its chars' (as the assembler computes it).
pub(crate) fn word(text: &str, x0: u32, y0: u32, char_conf: f32) -> Word {
    let chars: Vec<Char> = text
        .chars()
        .zip(0u32..)
        .map(|(c, i)| Char {
            text: c.to_string(),
            bbox: BBox::new(x0 + 10 * i, y0, x0 + 10 * (i + 1), y0 + 20),
            confidence: char_conf,
        })
        .collect();
    let n = chars.len() as u32;
    let confidence = chars.iter().map(|c| c.confidence).product();
    Word {
        text: text.to_string(),
        bbox: BBox::new(x0, y0, x0 + 10 * n.max(1), y0 + 20),
        confidence,
        needs_review: confidence < 0.5,
        chars,
    }
}

/// A line at height `y` from `(text, char confidence)` pairs, words 15 px apart from x = 100.
fn line(y: u32, words: &[(&str, f32)]) -> Line {
    let mut x = 100;
    let words: Vec<Word> = words
        .iter()
        .map(|&(t, c)| {
            let w = word(t, x, y, c);
            x = w.bbox.x1 + 15;
            w
        })
        .collect();
    Line {
        text: words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        bbox: BBox::union_all(words.iter().map(|w| &w.bbox)).unwrap_or_default(),
        confidence: weighted_confidence(&words),
        needs_review: words.iter().any(|w| w.needs_review),
        words,
    }
}

fn block(lines: Vec<Line>) -> Block {
    Block {
        bbox: BBox::union_all(lines.iter().map(|l| &l.bbox)).unwrap_or_default(),
        confidence: weighted_confidence(lines.iter().flat_map(|l| l.words.iter())),
        lines,
    }
}

fn page(index: usize, width: u32, height: u32, dpi: Option<f32>, blocks: Vec<Block>) -> Page {
    Page {
        index,
        width,
        height,
        dpi,
        exif_orientation: None,
        rotation: if index == 0 { 0 } else { 90 },
        skew_degrees: 0.75,
        confidence: weighted_confidence(
            blocks
                .iter()
                .flat_map(|b| b.lines.iter())
                .flat_map(|l| l.words.iter()),
        ),
        source: crate::document::PageSource::Ocr,
        needs_review: blocks
            .iter()
            .flat_map(|b| b.lines.iter())
            .any(|l| l.needs_review),
        blocks,
        timings: StageTimings {
            decode_ms: 1.5,
            preprocess_ms: 12.25,
            layout_ms: 3.0,
            recognize_ms: 40.125,
            assemble_ms: 0.5,
        },
    }
}

/// Two pages: page 1 with two blocks (lines 1-2: markup characters and units; line 3: curly
/// quotes and accents), page 2 with one line. Word 0 ("Tom's") has confidence 1, word 14 ("—")
/// confidence 0. 16 words, 4 lines, 3 blocks in all.
pub(crate) fn sample_document() -> Document {
    let page1 = page(
        0,
        2480,
        3508,
        Some(300.0),
        vec![
            block(vec![
                line(
                    200,
                    &[
                        ("Tom's", 1.0),
                        ("\"quoted\"", 0.99),
                        ("a<b", 0.9),
                        ("&", 0.97),
                        ("x>y", 0.95),
                    ],
                ),
                line(
                    240,
                    &[("Price:", 0.98), ("€12", 0.93), ("at", 0.99), ("25°C", 0.9)],
                ),
            ]),
            block(vec![line(
                400,
                &[("“Hi”", 0.96), ("naïve", 0.94), ("café", 0.97)],
            )]),
        ],
    );
    let page2 = page(
        1,
        1000,
        1400,
        None,
        vec![block(vec![line(
            100,
            &[("Last", 0.99), ("line", 0.98), ("—", 0.0), ("end.", 0.3)],
        )])],
    );
    Document {
        source: Some("scans/page \"1\" & <2>.png".to_string()),
        pages: vec![page1, page2],
    }
}

/// One page without any text.
pub(crate) fn empty_page_document() -> Document {
    Document {
        source: Some("blank.png".to_string()),
        pages: vec![page(0, 800, 600, Some(200.0), Vec::new())],
    }
}

/// All words of the document in reading order.
pub(crate) fn all_words(doc: &Document) -> Vec<&Word> {
    doc.pages
        .iter()
        .flat_map(|p| p.lines())
        .flat_map(|l| l.words.iter())
        .collect()
}

/// The unsigned numbers of the `key` property of an hOCR title (`bbox 1 2 3 4; x_wconf 9`).
pub(crate) fn title_numbers(title: &str, key: &str) -> Vec<u32> {
    title
        .split(';')
        .map(str::trim)
        .find_map(|prop| prop.strip_prefix(key).filter(|rest| rest.starts_with(' ')))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Write `xml` to a temp file and assert that `xmllint --noout` accepts it; prints why when the
/// tool cannot be run (the in-process [`parse_xml`] check still runs in every test).
pub(crate) fn xmllint_check(xml: &str, suffix: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(format!("out.{suffix}"));
    std::fs::write(&path, xml).expect("write temp file");
    match Command::new("xmllint")
        .args(["--noout", "--nonet"])
        .arg(&path)
        .output()
    {
        Err(e) => crate::prerequisite::missing(&format!(
            "cannot run xmllint ({e}; install libxml2-utils)"
        )),
        Ok(o) => assert!(
            o.status.success(),
            "xmllint rejected the output: {}\n{xml}",
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

/// An element of a parsed XML document.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// Tag name (with prefix, if any).
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// Child elements.
    pub children: Vec<Node>,
    /// All text inside the element, descendants included, unescaped.
    pub text: String,
}

impl Node {
    /// The unescaped value of attribute `key`.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// This element and all its descendants matching `pred`, in document order.
    pub fn find_all(&self, pred: impl Fn(&Node) -> bool + Copy) -> Vec<&Node> {
        let mut found = Vec::new();
        if pred(self) {
            found.push(self);
        }
        for c in &self.children {
            found.extend(c.find_all(pred));
        }
        found
    }
}

/// Parse `src` as XML, checking well-formedness: one root element, matching start/end tags,
/// quoted and non-duplicated attributes, no `<` in attribute values, only the predefined or
/// numeric entity references, no characters XML forbids, no text outside the root.
pub(crate) fn parse_xml(src: &str) -> Result<Node, String> {
    if let Some(c) = src.chars().find(|&c| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
    }) {
        return Err(format!("forbidden character U+{:04X}", c as u32));
    }
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut i = 0;
    let find = |from: usize, pat: &str| {
        src[from..]
            .find(pat)
            .map(|p| from + p)
            .ok_or(format!("unterminated markup at byte {from}"))
    };
    while i < src.len() {
        let rest = &src[i..];
        if !rest.starts_with('<') {
            let end = rest.find('<').map_or(src.len(), |p| i + p);
            let raw = &src[i..end];
            if raw.contains("]]>") {
                return Err(format!("']]>' in text at byte {i}"));
            }
            let text = unescape(raw)?;
            match stack.last_mut() {
                Some(top) => top.text.push_str(&text),
                None if text.trim().is_empty() => {}
                None => return Err(format!("text outside the root element at byte {i}")),
            }
            i = end;
        } else if rest.starts_with("<?") {
            i = find(i, "?>")? + 2;
        } else if rest.starts_with("<!--") {
            i = find(i + 4, "-->")? + 3;
        } else if rest.starts_with("<!DOCTYPE") {
            if root.is_some() || !stack.is_empty() {
                return Err("DOCTYPE after the root element".into());
            }
            i = find(i, ">")? + 1;
        } else if rest.starts_with("<!") {
            return Err(format!("unsupported markup at byte {i}"));
        } else if let Some(close) = rest.strip_prefix("</") {
            let end = find(i, ">")?;
            let name = close[..end - i - 2].trim_end();
            let node = stack.pop().ok_or(format!("stray </{name}>"))?;
            if node.name != name {
                return Err(format!("<{}> closed by </{name}>", node.name));
            }
            close_node(&mut stack, &mut root, node);
            i = end + 1;
        } else {
            let (node, self_closing, end) = parse_start_tag(src, i)?;
            if root.is_some() && stack.is_empty() {
                return Err(format!("second root element <{}>", node.name));
            }
            if self_closing {
                close_node(&mut stack, &mut root, node);
            } else {
                stack.push(node);
            }
            i = end;
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{}> never closed", open.name));
    }
    root.ok_or_else(|| "no root element".to_string())
}

fn close_node(stack: &mut [Node], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => {
            parent.text.push_str(&node.text);
            parent.children.push(node);
        }
        None => *root = Some(node),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | ':' | '-' | '.')
}

fn read_name(src: &str, i: usize) -> Result<(String, usize), String> {
    let len = src[i..]
        .find(|c: char| !is_name_char(c))
        .unwrap_or(src.len() - i);
    let name = &src[i..i + len];
    match name.chars().next() {
        Some(c) if c.is_alphabetic() || c == '_' || c == ':' => Ok((name.to_string(), i + len)),
        _ => Err(format!("bad name at byte {i}")),
    }
}

/// Parse `<name attr="v" ...>` or `.../>` starting at `i`; returns the node, whether it closed
/// itself, and the byte after the tag.
fn parse_start_tag(src: &str, i: usize) -> Result<(Node, bool, usize), String> {
    let (name, mut j) = read_name(src, i + 1)?;
    let mut node = Node {
        name,
        ..Node::default()
    };
    loop {
        let ws = src[j..].len() - src[j..].trim_start().len();
        j += ws;
        let rest = &src[j..];
        if rest.starts_with("/>") {
            return Ok((node, true, j + 2));
        }
        if rest.starts_with('>') {
            return Ok((node, false, j + 1));
        }
        if ws == 0 {
            return Err(format!(
                "attributes of <{}> not separated at byte {j}",
                node.name
            ));
        }
        let (key, k) = read_name(src, j)?;
        let after_key = src[k..].trim_start();
        let value_part = after_key
            .strip_prefix('=')
            .ok_or(format!("attribute {key} without '='"))?
            .trim_start();
        let quote = value_part
            .chars()
            .next()
            .filter(|q| *q == '"' || *q == '\'')
            .ok_or(format!("attribute {key} value not quoted"))?;
        let start = src.len() - value_part.len() + 1;
        let len = src[start..]
            .find(quote)
            .ok_or(format!("attribute {key} value not terminated"))?;
        let raw = &src[start..start + len];
        if raw.contains('<') {
            return Err(format!("'<' in attribute {key}"));
        }
        if node.attr(&key).is_some() {
            return Err(format!("duplicate attribute {key} on <{}>", node.name));
        }
        node.attrs.push((key, unescape(raw)?));
        j = start + len + 1;
    }
}

/// Resolve the predefined and numeric character references; any other `&` is an error.
fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .filter(|&s| s <= 10)
            .ok_or(format!("bare '&' in {raw:?}"))?;
        let entity = &after[..semi];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(|n| n.ok())
                .and_then(char::from_u32),
        };
        out.push(c.ok_or(format!("unknown entity &{entity}; in {raw:?}"))?);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[test]
fn the_checker_rejects_malformed_xml() {
    let good = "<?xml version=\"1.0\"?>\n<!DOCTYPE a>\n<a x='1' y=\"&amp;&#39;&#x41;\"><b>t&lt;</b><c/>u</a>\n";
    let root = parse_xml(good).expect("well-formed");
    assert_eq!(root.attr("y"), Some("&'A"));
    assert_eq!(root.text, "t<u");
    assert_eq!(root.children.len(), 2);
    for bad in [
        "<a><b></a></b>",
        "<a>",
        "<a></a><b/>",
        "<a x=1/>",
        "<a x='1' x='2'/>",
        "<a x='<'/>",
        "<a>&nbsp;</a>",
        "<a>& b</a>",
        "text<a/>",
        "<a>\u{c}</a>",
        "<a x='1'y='2'/>",
        "",
    ] {
        assert!(parse_xml(bad).is_err(), "accepted {bad:?}");
    }
}
