//! JSON output: the [`Document`] serialised by serde inside a versioned envelope.
//!
//! The schema is documented in `docs/JSON.md`. Keys appear in declaration order (serde derives
//! serialise struct fields in order), so the output is stable and diffable between runs.

use serde::{Deserialize, Serialize};

use crate::document::Document;
use crate::error::{OcrError, Result};
use crate::render::FERROCR_VERSION;

/// Version of the JSON schema; bumped on any change that can break a reader (renamed or removed
/// fields, changed units). Adding a field does not bump it.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// The top-level JSON object, owned form, for reading our own output back (clients, tests,
/// evaluation tools).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonEnvelope {
    /// Version of ferrocr that produced the file.
    pub ferrocr_version: String,
    /// [`JSON_SCHEMA_VERSION`] of the producer.
    pub schema_version: u32,
    /// The recognised document.
    pub document: Document,
}

/// Borrowing form of [`JsonEnvelope`], so rendering does not clone the document.
#[derive(Serialize)]
struct EnvelopeRef<'a> {
    ferrocr_version: &'a str,
    schema_version: u32,
    document: &'a Document,
}

/// Render the document as pretty-printed JSON (two-space indent, trailing newline).
///
/// Serialising these plain structs cannot fail with serde_json (no maps with non-string keys, no
/// custom serialisers); should it ever, the output is still a JSON object, carrying an `error`
/// field instead of `document`, rather than a panic.
pub fn render_json(doc: &Document) -> String {
    render_envelope(doc, true)
}

/// The same envelope as [`render_json`] on one line (plus a newline): used for JSON Lines output
/// when several documents share one stream.
pub fn render_json_line(doc: &Document) -> String {
    render_envelope(doc, false)
}

fn render_envelope(doc: &Document, pretty: bool) -> String {
    let envelope = EnvelopeRef {
        ferrocr_version: FERROCR_VERSION,
        schema_version: JSON_SCHEMA_VERSION,
        document: doc,
    };
    let result = if pretty {
        serde_json::to_string_pretty(&envelope)
    } else {
        serde_json::to_string(&envelope)
    };
    match result {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => {
            let fallback = serde_json::json!({
                "ferrocr_version": FERROCR_VERSION,
                "schema_version": JSON_SCHEMA_VERSION,
                "error": e.to_string(),
            });
            format!("{fallback}\n")
        }
    }
}

/// Parse JSON written by [`render_json`].
///
/// Errors: [`OcrError::Corrupt`] when the text is not such a JSON document,
/// [`OcrError::Unsupported`] when its `schema_version` is not [`JSON_SCHEMA_VERSION`].
pub fn parse_json(s: &str) -> Result<JsonEnvelope> {
    // Check the version first so a future schema gets a clear message, not a field error.
    #[derive(Deserialize)]
    struct VersionOnly {
        schema_version: u32,
    }
    let corrupt = |e: serde_json::Error| OcrError::Corrupt {
        format: "JSON",
        detail: e.to_string(),
    };
    let version: VersionOnly = serde_json::from_str(s).map_err(corrupt)?;
    if version.schema_version != JSON_SCHEMA_VERSION {
        return Err(OcrError::Unsupported {
            format: "JSON",
            detail: format!(
                "schema_version {} (this build reads {JSON_SCHEMA_VERSION})",
                version.schema_version
            ),
        });
    }
    serde_json::from_str(s).map_err(corrupt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::render::test_support::{empty_page_document, sample_document};

    #[test]
    fn round_trips_into_the_same_document() {
        for doc in [
            sample_document(),
            empty_page_document(),
            Document {
                source: None,
                pages: Vec::new(),
            },
        ] {
            let json = render_json(&doc);
            assert!(json.ends_with("}\n"));
            let back = parse_json(&json).expect("our own JSON must parse");
            assert_eq!(back.document, doc);
            assert_eq!(back.ferrocr_version, FERROCR_VERSION);
            assert_eq!(back.schema_version, JSON_SCHEMA_VERSION);
        }
    }

    #[test]
    fn keys_are_in_declaration_order_and_text_is_unescaped_utf8() {
        let json = render_json(&sample_document());
        let pos = |key: &str| {
            json.find(&format!("\"{key}\""))
                .unwrap_or_else(|| panic!("key {key} missing"))
        };
        assert!(pos("ferrocr_version") < pos("schema_version"));
        assert!(pos("schema_version") < pos("document"));
        assert!(pos("source") < pos("pages"));
        let page_keys = [
            "index",
            "width",
            "height",
            "dpi",
            "rotation",
            "skew_degrees",
            "confidence",
            "needs_review",
            "blocks",
            "timings",
        ];
        for pair in page_keys.windows(2) {
            assert!(
                pos(pair[0]) < pos(pair[1]),
                "{} before {}",
                pair[0],
                pair[1]
            );
        }
        assert!(
            json.contains("\"text\": \"25°C\""),
            "non-ASCII stays literal"
        );
        assert!(json.contains(r#""text": "\"quoted\"""#));
        assert!(
            json.starts_with("{\n  \"ferrocr_version\""),
            "pretty, 2-space indent"
        );
    }

    /// docs/JSON.md must stay in sync: its example parses, and it documents every key we write.
    #[test]
    fn documentation_matches_the_output() {
        let doc_md = include_str!("../../docs/JSON.md");
        let example = doc_md
            .split("```json")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("docs/JSON.md has a ```json example");
        let parsed = parse_json(example).expect("the documented example must parse");
        assert_eq!(
            parsed.document.pages[0].blocks[0].lines[0].text,
            "Total €12"
        );

        fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        out.push(k.clone());
                        keys(v, out);
                    }
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
                _ => {}
            }
        }
        let value: serde_json::Value =
            serde_json::from_str(&render_json(&sample_document())).expect("valid JSON");
        let mut all = Vec::new();
        keys(&value, &mut all);
        for key in all {
            assert!(
                doc_md.contains(&format!("`{key}`")) || doc_md.contains(&format!("\"{key}\"")),
                "docs/JSON.md does not document `{key}`"
            );
        }
    }

    #[test]
    fn rejects_garbage_and_other_schema_versions() {
        let err = parse_json("not json").expect_err("garbage must fail");
        assert_eq!(err.kind(), ErrorKind::BadInput);
        let err = parse_json(r#"{"schema_version": 1}"#).expect_err("no document must fail");
        assert_eq!(err.kind(), ErrorKind::BadInput);
        let future = render_json(&sample_document())
            .replace("\"schema_version\": 1,", "\"schema_version\": 2,");
        let err = parse_json(&future).expect_err("schema 2 must be refused");
        assert_eq!(err.kind(), ErrorKind::Unsupported);
    }
}
