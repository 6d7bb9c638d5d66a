//! Searchable PDF output (`--format pdf`, `format=pdf`), checked with independent readers:
//! poppler's `pdftotext` (text and word boxes), `pdftoppm` (what the page shows) and `qpdf
//! --check` (file structure). Each needs Debian's poppler-utils and qpdf (scripts/setup.sh).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{data_path as data, ferrocr_bin as bin};
use ferrocr::eval::metrics::EditCounts;

/// True when every reader is installed; otherwise reports the skip (a failure under CI).
fn readers_present() -> bool {
    for tool in ["pdftotext", "pdftoppm", "pdfimages", "pdfinfo", "qpdf"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success() || !o.stderr.is_empty());
        if !ok {
            ferrocr::prerequisite::missing(&format!("{tool} (poppler-utils / qpdf)"));
            return false;
        }
    }
    true
}

fn ocr(args: &[&str], files: &[&Path]) -> Output {
    let out = bin().arg("ocr").args(args).args(files).output().unwrap();
    assert!(
        out.status.success(),
        "ferrocr ocr {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn tool(name: &str, args: &[&str]) -> Output {
    let out = Command::new(name).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `pdftotext -raw` of `pdf` (whitespace squashed): the text in the order the PDF holds it,
/// which is the order selection follows (without `-raw`, pdftotext re-derives columns from
/// the geometry, and reads a receipt's prices as a column of their own, as it does for
/// Tesseract's PDFs); and its word boxes in points (`pdftotext -tsv`: page, left, top, right,
/// bottom, text).
fn pdf_text(pdf: &Path) -> (String, Vec<(usize, [f64; 4], String)>) {
    let p = pdf.to_str().unwrap();
    let text = tool("pdftotext", &["-raw", p, "-"]).stdout;
    let tsv = tool("pdftotext", &["-tsv", p, "-"]).stdout;
    let words = String::from_utf8_lossy(&tsv)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            // level 5 = word; conf -1 marks poppler's layout rows.
            if f.len() < 12 || f[0] != "5" {
                return None;
            }
            let n = |i: usize| f[i].parse::<f64>().unwrap();
            let (x, y, w, h) = (n(6), n(7), n(8), n(9));
            Some((
                f[1].parse().unwrap(),
                [x, y, x + w, y + h],
                f[11].to_string(),
            ))
        })
        .collect();
    (squash(&String::from_utf8_lossy(&text)), words)
}

fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let ix = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iy = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let area = |r: [f64; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter).max(1e-9)
}

/// Checks one input's PDF against ferrocr's own text and JSON of the same input: text CER
/// ≤ 0.01, ≥ 95 % of the JSON's words matched by a PDF word box with IoU ≥ 0.5, and `qpdf
/// --check` clean. Returns the PDF path.
fn check_searchable(input: &Path, dir: &Path) -> PathBuf {
    let d = dir.to_str().unwrap();
    ocr(&["--format", "pdf", "--out", d], &[input]);
    let text = ocr(&["--format", "text"], &[input]).stdout;
    let json = ocr(&["--format", "json"], &[input]).stdout;
    let stem = input.file_stem().unwrap().to_str().unwrap();
    let pdf = dir.join(format!("{stem}.pdf"));
    tool("qpdf", &["--check", pdf.to_str().unwrap()]);
    let (pdf_text, pdf_words) = pdf_text(&pdf);
    let ours = squash(&String::from_utf8_lossy(&text));
    assert!(!ours.is_empty());
    let cer = EditCounts::compare(&ours, &pdf_text, false).cer();
    assert!(
        cer <= 0.01,
        "{stem}: pdftotext differs from ferrocr's text (CER {cer:.4})\nours: {ours}\npdf:  {pdf_text}"
    );
    // Word boxes: ferrocr's pixels to the PDF page's points (y down in both).
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let (mut total, mut matched) = (0, 0);
    for (pi, page) in v["document"]["pages"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let info = tool(
            "pdfinfo",
            &[
                "-f",
                &format!("{}", pi + 1),
                "-l",
                &format!("{}", pi + 1),
                pdf.to_str().unwrap(),
            ],
        )
        .stdout;
        let info = String::from_utf8_lossy(&info);
        let size_line = info
            .lines()
            .find(|l| l.starts_with("Page") && l.contains("size:"))
            .unwrap();
        let nums: Vec<f64> = size_line
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        let (w_pt, h_pt) = (nums[nums.len() - 2], nums[nums.len() - 1]);
        // Points per pixel (the same across and down: the page keeps the image's aspect).
        let sx = w_pt.max(h_pt)
            / page["width"]
                .as_f64()
                .unwrap()
                .max(page["height"].as_f64().unwrap());
        let sy = sx;
        for block in page["blocks"].as_array().unwrap() {
            for line in block["lines"].as_array().unwrap() {
                for word in line["words"].as_array().unwrap() {
                    let b: Vec<f64> = ["x0", "y0", "x1", "y1"]
                        .iter()
                        .map(|k| word["bbox"][k].as_f64().unwrap())
                        .collect();
                    // pdftotext measures the page as displayed, i.e. turned by `rotation`.
                    let (w, h) = (
                        page["width"].as_f64().unwrap(),
                        page["height"].as_f64().unwrap(),
                    );
                    let shown = match page["rotation"].as_u64().unwrap() {
                        90 => [h - b[3], b[0], h - b[1], b[2]],
                        180 => [w - b[2], h - b[3], w - b[0], h - b[1]],
                        270 => [b[1], w - b[2], b[3], w - b[0]],
                        _ => [b[0], b[1], b[2], b[3]],
                    };
                    let ours = [shown[0] * sx, shown[1] * sy, shown[2] * sx, shown[3] * sy];
                    total += 1;
                    if pdf_words
                        .iter()
                        .any(|(p, r, _)| *p == pi + 1 && iou(ours, *r) >= 0.5)
                    {
                        matched += 1;
                    }
                }
            }
        }
    }
    assert!(total > 0);
    assert!(
        matched as f64 >= 0.95 * total as f64,
        "{stem}: {matched} of {total} words have a PDF word box with IoU >= 0.5"
    );
    pdf
}

/// Renders page 1 of `pdf` as 8-bit gray at `dpi`.
fn render_page(pdf: &Path, dpi: u32, dir: &Path, name: &str) -> image::GrayImage {
    let base = dir.join(name);
    tool(
        "pdftoppm",
        &[
            "-r",
            &dpi.to_string(),
            "-gray",
            "-png",
            "-singlefile",
            pdf.to_str().unwrap(),
            base.to_str().unwrap(),
        ],
    );
    image::open(base.with_extension("png")).unwrap().to_luma8()
}

#[test]
fn image_pages_become_searchable_pdfs_that_show_the_scan() {
    if !readers_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A PNG: embedded losslessly, so poppler renders exactly the page that was read.
    let letter = data("sample-letter.png");
    let pdf = check_searchable(&letter, dir.path());
    // The reference is the page as ferrocr read it (this PNG is 16-bit gray with alpha).
    let bytes = std::fs::read(&letter).unwrap();
    let decoded = ferrocr::decode::decode(&bytes, &Default::default()).unwrap();
    let original = decoded[0].image.to_luma8();
    // The embedded image is exactly the page that was read ...
    let base = dir.path().join("embedded");
    tool(
        "pdfimages",
        &["-png", pdf.to_str().unwrap(), base.to_str().unwrap()],
    );
    let embedded = image::open(dir.path().join("embedded-000.png"))
        .unwrap()
        .to_luma8();
    assert!(
        embedded == original,
        "the embedded image differs from the page read"
    );
    // ... and poppler shows it at the page's size (its resampling moves edges by a pixel here
    // and there, so the comparison is of the mean difference).
    let shown = render_page(&pdf, 300, dir.path(), "letter-shown");
    assert_eq!(shown.dimensions(), original.dimensions());
    let total: u64 = shown
        .pixels()
        .zip(original.pixels())
        .map(|(a, b)| u64::from(a.0[0].abs_diff(b.0[0])))
        .sum();
    let mean = total as f64 / original.len() as f64;
    assert!(
        mean < 2.0,
        "rendered page differs from the scan by {mean:.2} levels on average"
    );
    // A JPEG: its own bytes are the page image (DCTDecode), never re-encoded.
    let receipt = data("sample-receipt.jpg");
    let pdf = check_searchable(&receipt, dir.path());
    let jpeg = std::fs::read(&receipt).unwrap();
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(
        bytes.windows(jpeg.len()).any(|w| w == jpeg.as_slice()),
        "the JPEG was re-encoded"
    );
}

#[test]
fn a_turned_page_is_shown_upright_and_its_text_reads_in_order() {
    if !readers_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let turned = dir.path().join("letter-turned.png");
    image::open(data("sample-letter.png"))
        .unwrap()
        .rotate270()
        .save(&turned)
        .unwrap();
    let pdf = check_searchable(&turned, dir.path());
    let info =
        String::from_utf8_lossy(&tool("pdfinfo", &[pdf.to_str().unwrap()]).stdout).to_string();
    let rot = info
        .lines()
        .find_map(|l| l.strip_prefix("Page rot:"))
        .map(|v| v.trim().to_string());
    assert_eq!(rot.as_deref(), Some("90"), "{info}");
}

/// A one-page PDF of `w` x `h` points showing `content`, written with pdf-writer: objects 1-3
/// are the catalog, page tree and page, the content stream is 10; the page's resources name
/// `xobjects` and `fonts` (name, id), whose objects `objects` writes.
fn one_page_pdf(
    (w, h): (f32, f32),
    xobjects: &[(&[u8], pdf_writer::Ref)],
    fonts: &[(&[u8], pdf_writer::Ref)],
    content: pdf_writer::Content,
    objects: impl FnOnce(&mut pdf_writer::Pdf),
) -> Vec<u8> {
    use pdf_writer::{Finish, Name, Pdf, Rect, Ref};
    let mut pdf = Pdf::new();
    let (catalog, tree, page, content_id) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(10));
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.parent(tree)
        .media_box(Rect::new(0.0, 0.0, w, h))
        .contents(content_id);
    let mut resources = p.resources();
    resources
        .x_objects()
        .pairs(xobjects.iter().map(|(n, r)| (Name(n), *r)));
    resources
        .fonts()
        .pairs(fonts.iter().map(|(n, r)| (Name(n), *r)));
    resources.finish();
    p.finish();
    objects(&mut pdf);
    pdf.stream(content_id, &content.finish());
    pdf.finish()
}

/// A one-page PDF showing `img` (gray, at 300 DPI) under a stroked vector frame: what a
/// scanner's PDF looks like, plus vector content that must survive.
fn scanned_pdf(img: &image::GrayImage) -> Vec<u8> {
    use pdf_writer::{Content, Filter, Finish, Name, Ref};
    let (w, h) = (
        img.width() as f32 * 72.0 / 300.0,
        img.height() as f32 * 72.0 / 300.0,
    );
    let image_id = Ref::new(4);
    let mut c = Content::new();
    c.save_state()
        .transform([w, 0.0, 0.0, h, 0.0, 0.0])
        .x_object(Name(b"Im"))
        .restore_state();
    c.set_line_width(2.0)
        .rect(10.0, 10.0, w - 20.0, h - 20.0)
        .stroke();
    one_page_pdf((w, h), &[(b"Im", image_id)], &[], c, |pdf| {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, img.as_raw()).unwrap();
        let compressed = enc.finish().unwrap();
        let mut im = pdf.image_xobject(image_id, &compressed);
        im.filter(Filter::FlateDecode);
        im.width(img.width() as i32)
            .height(img.height() as i32)
            .bits_per_component(8);
        im.color_space().device_gray();
        im.finish();
    })
}

#[test]
fn a_scanned_pdf_keeps_its_pages_and_gains_a_text_layer() {
    if !readers_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = image::open(data("sample-letter.png")).unwrap().to_luma8();
    let input = dir.path().join("scan.pdf");
    std::fs::write(&input, scanned_pdf(&img)).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let pdf = check_searchable(&input, &out_dir);
    // The page looks exactly as before: same size, same pixels (frame included).
    let before = render_page(&input, 100, dir.path(), "before");
    let after = render_page(&pdf, 100, dir.path(), "after");
    assert_eq!(before.dimensions(), after.dimensions());
    let differing = before
        .pixels()
        .zip(after.pixels())
        .filter(|(a, b)| a.0[0].abs_diff(b.0[0]) > 2)
        .count();
    assert!(
        differing * 1000 <= before.len(),
        "{differing} pixels differ"
    );
}

#[test]
fn pdf_output_needs_a_file_per_input() {
    let out = bin()
        .args(["ocr", "--format", "pdf"])
        .arg(data("sample-letter.png"))
        .arg(data("sample-receipt.jpg"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--out"), "{err}");
}

/// A born-digital PDF: one page of text in a standard font (WinAnsi: "Grüße" is bytes
/// 47 72 FC DF 65), written with pdf-writer.
fn born_digital_pdf(lines: &[&[u8]]) -> Vec<u8> {
    use pdf_writer::{Content, Name, Ref, Str};
    let font = Ref::new(4);
    let mut c = Content::new();
    for (i, line) in lines.iter().enumerate() {
        c.begin_text()
            .set_font(Name(b"F1"), 14.0)
            .next_line(72.0, 760.0 - 24.0 * i as f32)
            .show(Str(line))
            .end_text();
    }
    one_page_pdf((595.0, 842.0), &[], &[(b"F1", font)], c, |pdf| {
        pdf.type1_font(font)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    })
}

#[test]
fn a_born_digital_pdf_is_read_from_its_text_layer() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("letter.pdf");
    let lines: [&[u8]; 3] = [
        b"Gr\xfc\xdfe aus K\xf6ln, sagte der Stra\xdfenbahnfahrer.",
        b"Le caf\xe9 \xe0 c\xf4t\xe9 de l'h\xf4tel est ferm\xe9.",
        b"Invoice total: 1,234.50 EUR",
    ];
    std::fs::write(&input, born_digital_pdf(&lines)).unwrap();
    let text = |mode: &str| {
        let out = ocr(&["--format", "json", "--pdf-text", mode], &[&input]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let doc = text("auto");
    let page = &doc["document"]["pages"][0];
    assert_eq!(page["source"], "pdf_text");
    let read: Vec<&str> = page["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["lines"].as_array().unwrap())
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        read,
        [
            "Grüße aus Köln, sagte der Straßenbahnfahrer.",
            "Le café à côté de l'hôtel est fermé.",
            "Invoice total: 1,234.50 EUR"
        ]
    );
    // Word boxes lie on the rendered page where the words are (300 DPI: 72 pt = 300 px).
    let first = &page["blocks"][0]["lines"][0]["words"][0]["bbox"];
    let x0 = first["x0"].as_f64().unwrap();
    assert!((295.0..=305.0).contains(&x0), "{first}");
    // --pdf-text ocr reads the pixels instead.
    assert_eq!(text("ocr")["document"]["pages"][0]["source"], "ocr");
    // As a searchable PDF it passes through: its text is there once, not twice.
    if !readers_present() {
        return;
    }
    let out_dir = dir.path().join("out");
    ocr(
        &["--format", "pdf", "--out", out_dir.to_str().unwrap()],
        &[&input],
    );
    let (pdf_text, _) = pdf_text(&out_dir.join("letter.pdf"));
    assert_eq!(
        pdf_text,
        "Grüße aus Köln, sagte der Straßenbahnfahrer. Le café à côté de l'hôtel est fermé. \
         Invoice total: 1,234.50 EUR"
    );
}
