//! Searchable PDF output: each page as it was sent (the scanned image, or the page of a PDF
//! input with its own content), with the recognised words on it as invisible text that
//! selects, searches and copies in reading order.
//!
//! Unlike the text formats this renderer needs the source file besides the [`Document`]: the
//! pages are taken from it again ([`render_pdf`]). Each PDF page has the physical size of the
//! scanned page (pixels over its DPI, 300 DPI when the file states none or an implausible one;
//! PDF inputs keep their own page size), and is turned by the page's `rotation` (`/Rotate`) so
//! that a viewer shows the text upright, as it was read. The file is written with `pdf-writer`;
//! PDF pages are carried over with `hayro-write` ([`background`]); the text layer is in
//! [`text_layer`].

mod background;
mod text_layer;

use std::panic::{AssertUnwindSafe, catch_unwind};

use hayro_write::hayro_syntax::Pdf as SourcePdf;
use hayro_write::{ChunkSettings, ExtractionQuery, extract};
use pdf_writer::{Chunk, Content, Finish, Rect, Ref, TextStr};

use crate::decode::{self, DecodeLimits, Format};
use crate::document::{Document, PageSource};
use crate::error::{OcrError, Result};
use background::{BACKGROUND_NAME, ImageData, embeddable_jpeg_components, write_image};
use text_layer::{CodeTable, FONT_NAME, PageFrame, write_font, write_words};

/// Resolution assumed for an image whose file states none, or one outside
/// [`PLAUSIBLE_DPI`].
pub const DEFAULT_IMAGE_DPI: f32 = 300.0;
/// Resolutions taken at their word; anything else is a file's mistake (72 DPI screenshots
/// are plausible, 1 DPI is not).
const PLAUSIBLE_DPI: std::ops::RangeInclusive<f32> = 50.0..=2400.0;
/// The largest page side PDF readers accept (200 inches, in points).
const MAX_SIDE_PT: f32 = 14_400.0;

/// The searchable PDF of `doc`, whose pages were read from `source` (the file the user sent,
/// decoded again here under `limits`, the limits it was read under).
///
/// Fails only when `source` no longer decodes to the document's pages, or when the PDF input
/// cannot be carried over (a panic in the PDF libraries is caught and reported as
/// [`OcrError::Internal`]).
pub fn render_pdf(doc: &Document, source: &[u8], limits: &DecodeLimits) -> Result<Vec<u8>> {
    let format = decode::sniff(source)?;
    catch_unwind(AssertUnwindSafe(|| {
        if format == Format::Pdf {
            render_over_pdf(doc, source)
        } else {
            render_over_images(doc, source, format, limits)
        }
    }))
    .unwrap_or_else(|_| {
        Err(OcrError::Internal(
            "the PDF writer failed on this document".to_string(),
        ))
    })
}

/// One output page: its frame and what it shows under the text.
struct OutputPage {
    frame: PageFrame,
    background: Ref,
}

/// The writer's state: a chunk of objects and the next free object id.
struct Writer {
    chunk: Chunk,
    next: Ref,
}

impl Writer {
    fn new() -> Self {
        Writer {
            chunk: Chunk::new(),
            next: Ref::new(1),
        }
    }

    fn alloc(&mut self) -> Ref {
        self.next.bump()
    }
}

fn render_over_images(
    doc: &Document,
    source: &[u8],
    format: Format,
    limits: &DecodeLimits,
) -> Result<Vec<u8>> {
    let decoded = decode::decode(source, limits)?;
    let mut writer = Writer::new();
    let mut pages = Vec::with_capacity(doc.pages.len());
    for page in &doc.pages {
        let img = decoded
            .iter()
            .find(|d| d.index == page.index)
            .ok_or_else(|| missing_page(page.index))?;
        let (width, height) = (img.image.width(), img.image.height());
        let jpeg = (format == Format::Jpeg && img.exif_orientation.is_none())
            .then(|| embeddable_jpeg_components(source))
            .flatten();
        let data = match jpeg {
            Some(components) => ImageData::Jpeg {
                bytes: source,
                components,
                width,
                height,
            },
            None => ImageData::Pixels(&img.image),
        };
        let id = writer.alloc();
        write_image(&mut writer.chunk, id, &data);
        let dpi = page
            .dpi
            .or(img.dpi)
            .filter(|d| PLAUSIBLE_DPI.contains(d))
            .unwrap_or(DEFAULT_IMAGE_DPI);
        let points = 72.0 / dpi;
        let fit = (MAX_SIDE_PT / (width.max(height) as f32 * points)).min(1.0);
        let (w_pt, h_pt) = (width as f32 * points * fit, height as f32 * points * fit);
        pages.push(OutputPage {
            frame: frame_of(page, w_pt, h_pt),
            background: id,
        });
    }
    Ok(finish(writer, doc, &pages, |content, frame| {
        content.save_state();
        content.transform([frame.width_pt, 0.0, 0.0, frame.height_pt, 0.0, 0.0]);
        content.x_object(BACKGROUND_NAME);
        content.restore_state();
    }))
}

fn render_over_pdf(doc: &Document, source: &[u8]) -> Result<Vec<u8>> {
    let pdf = SourcePdf::new(source.to_vec()).map_err(|e| OcrError::Corrupt {
        format: "PDF",
        detail: format!("cannot be read again for PDF output: {e:?}"),
    })?;
    let source_pages = pdf.pages();
    let mut sizes = Vec::with_capacity(doc.pages.len());
    let mut queries = Vec::with_capacity(doc.pages.len());
    for page in &doc.pages {
        let p = source_pages
            .get(page.index)
            .ok_or_else(|| missing_page(page.index))?;
        sizes.push(p.render_dimensions());
        queries.push(ExtractionQuery::new_xobject(page.index));
    }
    let mut writer = Writer::new();
    let mut next = writer.next;
    let extracted = extract(
        &pdf,
        Box::new(|| next.bump()),
        ChunkSettings::default(),
        &queries,
    )
    .map_err(|e| OcrError::Internal(format!("cannot carry the PDF pages over: {e:?}")))?;
    writer.next = next;
    writer.chunk.extend(&extracted.chunk);
    let mut pages = Vec::with_capacity(doc.pages.len());
    for ((page, (w_pt, h_pt)), root) in doc.pages.iter().zip(sizes).zip(extracted.root_refs) {
        let background =
            root.map_err(|e| OcrError::Internal(format!("cannot carry a PDF page over: {e:?}")))?;
        pages.push(OutputPage {
            frame: frame_of(page, w_pt, h_pt),
            background,
        });
    }
    Ok(finish(writer, doc, &pages, |content, _| {
        content.x_object(BACKGROUND_NAME);
    }))
}

/// Writes the catalog, page tree, font and one page per [`OutputPage`] (its background drawn
/// by `draw_background`, then the invisible words), and serialises the file.
fn finish(
    mut writer: Writer,
    doc: &Document,
    pages: &[OutputPage],
    draw_background: impl Fn(&mut Content, &PageFrame),
) -> Vec<u8> {
    let catalog = writer.alloc();
    let tree = writer.alloc();
    let font = writer.alloc();
    let info = writer.alloc();
    let table = CodeTable::for_document(doc);
    write_font(&mut writer.chunk, font, &table, &mut writer.next);
    let mut kids = Vec::with_capacity(pages.len());
    for (out, page) in pages.iter().zip(&doc.pages) {
        let id = writer.alloc();
        let contents = writer.alloc();
        kids.push(id);
        let mut content = Content::new();
        draw_background(&mut content, &out.frame);
        // A page read from its own text layer has its text already.
        if page.source != PageSource::PdfText {
            write_words(&mut content, page, &out.frame, &table);
        }
        let stream = text_layer::deflate(&content.finish());
        writer
            .chunk
            .stream(contents, &stream)
            .filter(pdf_writer::Filter::FlateDecode);
        let mut p = writer.chunk.page(id);
        p.parent(tree)
            .media_box(Rect::new(0.0, 0.0, out.frame.width_pt, out.frame.height_pt))
            .contents(contents);
        if out.frame.rotation % 360 != 0 {
            p.rotate(out.frame.rotation as i32);
        }
        let mut resources = p.resources();
        resources.x_objects().pair(BACKGROUND_NAME, out.background);
        resources.fonts().pair(FONT_NAME, font);
        resources.finish();
        p.finish();
    }
    writer
        .chunk
        .pages(tree)
        .kids(kids.iter().copied())
        .count(kids.len() as i32);
    let mut pdf = pdf_writer::Pdf::new();
    pdf.set_version(1, 5);
    pdf.catalog(catalog).pages(tree);
    let mut info_dict = pdf.document_info(info);
    info_dict.producer(TextStr(concat!("ferrocr ", env!("CARGO_PKG_VERSION"))));
    if let Some(title) = &doc.source {
        info_dict.title(TextStr(title));
    }
    info_dict.finish();
    pdf.extend(&writer.chunk);
    pdf.finish()
}

/// The frame of `page` shown on a PDF page of `w_pt` × `h_pt` points.
fn frame_of(page: &crate::document::Page, w_pt: f32, h_pt: f32) -> PageFrame {
    PageFrame {
        width_pt: w_pt,
        height_pt: h_pt,
        scale: (
            w_pt / page.width.max(1) as f32,
            h_pt / page.height.max(1) as f32,
        ),
        rotation: page.rotation,
    }
}

fn missing_page(index: usize) -> OcrError {
    OcrError::Internal(format!(
        "page {} of the document is missing from its source file",
        index + 1
    ))
}
