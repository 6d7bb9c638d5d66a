//! XML helpers shared by the hOCR and ALTO writers.
//!
//! One escaping function serves element text and attribute values (single- or double-quoted):
//! it escapes `& < > " '`, writes tabs and line breaks as character references (so attribute
//! value normalisation cannot turn them into spaces) and replaces the characters XML 1.0 forbids
//! (most C0 controls, U+FFFE, U+FFFF) with U+FFFD, so the output is well-formed whatever text the
//! recogniser or the file name holds.

/// Append `s` to `out`, escaped for XML text or a quoted attribute value.
pub(crate) fn push_escaped(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let replacement = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            '\t' => "&#9;",
            '\n' => "&#10;",
            '\r' => "&#13;",
            c if is_forbidden_in_xml(c) => "\u{FFFD}",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(replacement);
        last = i + c.len_utf8();
    }
    out.push_str(&s[last..]);
}

/// `s` escaped for XML (see [`push_escaped`]).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_escaped(&mut out, s);
    out
}

/// Characters that may not appear in an XML 1.0 document at all, even as references.
fn is_forbidden_in_xml(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(escape("plain €°"), "plain €°");
        assert_eq!(
            escape(r#"a<b & c>d "q" 'a'"#),
            "a&lt;b &amp; c&gt;d &quot;q&quot; &#39;a&#39;"
        );
        assert_eq!(escape("t\tn\nr\r"), "t&#9;n&#10;r&#13;");
        assert_eq!(
            escape("x\u{0}y\u{c}z\u{FFFF}"),
            "x\u{FFFD}y\u{FFFD}z\u{FFFD}"
        );
        assert_eq!(escape(""), "");
        let mut out = String::from("pre:");
        push_escaped(&mut out, "“Hi” & bye");
        assert_eq!(out, "pre:“Hi” &amp; bye");
    }
}
