//! The recogniser's character set: printable ASCII plus common document symbols.
//!
//! Class 0 is the CTC blank; class `i + 1` is `CHARS[i]`. The alphabet is stored with the model
//! weights (`models/*/config.json`) so a model always decodes with the alphabet it was trained on;
//! [`DEFAULT_ALPHABET`] is what new models are trained with.

use serde::{Deserialize, Serialize};

/// Symbols beyond printable ASCII that documents commonly contain.
pub const EXTRA_SYMBOLS: &str = "€£¥°§±×÷•–—‘’“”½¼©";

/// The default alphabet: space, printable ASCII `!`..`~`, then [`EXTRA_SYMBOLS`].
pub fn default_chars() -> String {
    let mut s: String = (0x20u8..=0x7e).map(char::from).collect();
    s.push_str(EXTRA_SYMBOLS);
    s
}

/// Name used for the default alphabet in configs and model cards.
pub const DEFAULT_ALPHABET: &str = "ascii+doc-symbols-v1";

/// A character set with the CTC blank at index 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alphabet {
    chars: Vec<char>,
}

impl Default for Alphabet {
    fn default() -> Self {
        Alphabet::new(&default_chars())
    }
}

impl Alphabet {
    /// An alphabet from its characters (duplicates are dropped, order kept).
    pub fn new(chars: &str) -> Self {
        let mut v: Vec<char> = Vec::new();
        for c in chars.chars() {
            if !v.contains(&c) {
                v.push(c);
            }
        }
        Alphabet { chars: v }
    }

    /// Number of model output classes: characters + 1 for the blank.
    pub fn num_classes(&self) -> usize {
        self.chars.len() + 1
    }

    /// The characters, in class order (class = index + 1).
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The character of a class, `None` for the blank or an out-of-range class.
    pub fn char_of(&self, class: usize) -> Option<char> {
        if class == 0 {
            None
        } else {
            self.chars.get(class - 1).copied()
        }
    }

    /// The class of a character, `None` when it is not in the alphabet.
    pub fn class_of(&self, c: char) -> Option<usize> {
        self.chars.iter().position(|&x| x == c).map(|i| i + 1)
    }

    /// Map text to a canonical form the alphabet can express: typographic variants that
    /// documents use interchangeably are folded (non-breaking space -> space, ligatures split,
    /// `‐`/`−` -> `-`), then characters outside the alphabet are dropped. Used for training
    /// labels and for comparing against ground truth.
    pub fn canonicalize(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            let folded: &str = match c {
                '\u{a0}' | '\t' | '\u{2009}' | '\u{202f}' => " ",
                '\u{2010}' | '\u{2011}' | '\u{2212}' => "-",
                '\u{fb01}' => "fi",
                '\u{fb02}' => "fl",
                '\u{fb00}' => "ff",
                '\u{2026}' => "...",
                _ => "",
            };
            if !folded.is_empty() {
                out.push_str(folded);
            } else if self.class_of(c).is_some() {
                out.push(c);
            }
        }
        out
    }

    /// Class sequence of a text (characters outside the alphabet are skipped).
    pub fn encode(&self, text: &str) -> Vec<usize> {
        text.chars().filter_map(|c| self.class_of(c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_alphabet_roundtrip() {
        let a = Alphabet::default();
        assert_eq!(a.num_classes(), 95 + EXTRA_SYMBOLS.chars().count() + 1);
        assert_eq!(a.char_of(0), None);
        for &c in a.chars() {
            assert_eq!(a.char_of(a.class_of(c).unwrap()), Some(c));
        }
        assert_eq!(a.canonicalize("ﬁne\u{a0}€5 ✓"), "fine €5 ");
    }
}
