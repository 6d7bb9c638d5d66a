//! Plain-text output: lines in reading order, a blank line between blocks, and a form feed line
//! (`"\x0c\n"`) between pages, exactly [`Document::text`].

use crate::document::Document;

/// Render the document as plain UTF-8 text (see the module documentation for the layout). The
/// text model lives on [`Document::text`] so that the CLI, the server and the evaluation tools
/// all read the same string; this function is the render-stage entry point for it.
pub fn render_text(doc: &Document) -> String {
    doc.text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::{empty_page_document, sample_document};

    #[test]
    fn layout_of_blocks_and_pages() {
        let text = render_text(&sample_document());
        assert_eq!(
            text,
            "Tom's \"quoted\" a<b & x>y\nPrice: €12 at 25°C\n\n“Hi” naïve café\n\u{c}\nLast line — end.\n"
        );
    }

    #[test]
    fn empty_inputs_give_empty_text() {
        let empty = Document {
            source: None,
            pages: Vec::new(),
        };
        assert_eq!(render_text(&empty), "");
        assert_eq!(render_text(&empty_page_document()), "");
        let mut two = empty_page_document();
        two.pages.push(two.pages[0].clone());
        assert_eq!(
            render_text(&two),
            "\u{c}\n",
            "pages stay separated even when empty"
        );
    }
}
