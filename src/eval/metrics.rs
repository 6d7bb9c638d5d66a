//! Text accuracy metrics, defined exactly as `../shared/eval/ocr_eval.py` does: Unicode NFKC,
//! whitespace runs collapsed to one space and trimmed, "ci" variants casefolded; CER = character
//! edits / ground-truth characters, WER = word edits / ground-truth words (Levenshtein).

use unicode_normalization::UnicodeNormalization;

/// NFKC, collapse whitespace, trim; lowercase too when `casefold`.
pub fn normalize_text(text: &str, casefold: bool) -> String {
    let nfkc: String = text.nfkc().collect();
    let joined = nfkc.split_whitespace().collect::<Vec<_>>().join(" ");
    if casefold {
        joined.to_lowercase()
    } else {
        joined
    }
}

/// Edit counts of one hypothesis against its ground truth.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EditCounts {
    /// Character edits (Levenshtein over chars).
    pub char_edits: usize,
    /// Ground-truth characters.
    pub gt_chars: usize,
    /// Word edits (Levenshtein over whitespace-separated words).
    pub word_edits: usize,
    /// Ground-truth words.
    pub gt_words: usize,
}

impl EditCounts {
    /// Compare `hyp` to `gt` after [`normalize_text`].
    pub fn compare(gt: &str, hyp: &str, casefold: bool) -> Self {
        let g = normalize_text(gt, casefold);
        let h = normalize_text(hyp, casefold);
        let gc: Vec<char> = g.chars().collect();
        let hc: Vec<char> = h.chars().collect();
        let gw: Vec<&str> = g.split(' ').filter(|w| !w.is_empty()).collect();
        let hw: Vec<&str> = h.split(' ').filter(|w| !w.is_empty()).collect();
        EditCounts {
            char_edits: strsim::generic_levenshtein(&gc, &hc),
            gt_chars: gc.len(),
            word_edits: strsim::generic_levenshtein(&gw, &hw),
            gt_words: gw.len(),
        }
    }

    /// Add another comparison's counts.
    pub fn add(&mut self, o: EditCounts) {
        self.char_edits += o.char_edits;
        self.gt_chars += o.gt_chars;
        self.word_edits += o.word_edits;
        self.gt_words += o.gt_words;
    }

    /// Total character edits over total ground-truth characters.
    pub fn cer(&self) -> f64 {
        self.char_edits as f64 / self.gt_chars.max(1) as f64
    }

    /// Total word edits over total ground-truth words.
    pub fn wer(&self) -> f64 {
        self.word_edits as f64 / self.gt_words.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_the_eval_script_definitions() {
        assert_eq!(normalize_text("  ﬁne \t  Day\n", false), "fine Day");
        let e = EditCounts::compare("Hello World", "Helo world", false);
        assert_eq!(
            (e.char_edits, e.gt_chars, e.word_edits, e.gt_words),
            (2, 11, 2, 2)
        );
        let e = EditCounts::compare("Hello World", "Helo world", true);
        assert_eq!((e.char_edits, e.word_edits), (1, 1));
        let mut t = EditCounts::default();
        t.add(e);
        assert!((t.cer() - 1.0 / 11.0).abs() < 1e-9);
    }
}
