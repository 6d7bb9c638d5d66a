//! Splitting words the decoder ran together: `ofthe` -> `of the`, `TOTALDUE` -> `TOTAL DUE`.
//!
//! The reverse of `join.rs`: a narrow word gap can leave the space's frames below blank, and
//! greedy or beam decoding then reads two words as one that no dictionary holds. For an
//! out-of-vocabulary read word, every way of cutting it into two lexicon words (each of
//! [`MIN_PART_LEN`]+ letters, or one of the common [`SHORT_WORDS`]) is a candidate with a space at
//! the cut. [`super::judge`] weighs these beside the words one edit away (inserting a space is
//! one edit), by the rule the rest of the lexicon uses: the best candidate replaces the reading
//! when its CTC log-probability over the word's frames is within [`super::MAX_LOG_PRIOR_GAIN`]
//! of the reading's. A cut where the frames hold no trace of a space is therefore never made.

use super::{Lexicon, recase};

/// Shortest part of a split that may be any lexicon word (the lexicon holds hundreds of
/// two-letter abbreviations, `th`, `ne`, `ot`, that would cut almost any word).
pub const MIN_PART_LEN: usize = 3;

/// The short words a split may produce besides lexicon words of [`MIN_PART_LEN`]+ letters:
/// the commonest English words of one and two letters. Fixed a priori, not fitted on data.
pub const SHORT_WORDS: &[&str] = &[
    "a", "am", "an", "as", "at", "be", "by", "do", "go", "he", "if", "in", "is", "it", "me", "my",
    "no", "of", "on", "or", "so", "to", "up", "us", "we",
];

impl Lexicon {
    /// Whether lower-case `w` may be one part of a split word.
    fn is_split_part(&self, w: &str) -> bool {
        if w.len() >= MIN_PART_LEN {
            self.contains(w)
        } else {
            SHORT_WORDS.contains(&w)
        }
    }

    /// Every way of cutting the read word `read` (letters) into two split parts, as the two
    /// parts with a space between, each cased like the letters it came from (see [`recase`]),
    /// in cut order.
    pub fn split_readings(&self, read: &[char]) -> Vec<String> {
        let lower: String = read.iter().map(|c| c.to_ascii_lowercase()).collect();
        if !lower.is_ascii() {
            return Vec::new();
        }
        (1..read.len())
            .filter(|&k| self.is_split_part(&lower[..k]) && self.is_split_part(&lower[k..]))
            .map(|k| {
                let left = recase(&lower[..k], &read[..k]);
                let right = recase(&lower[k..], &read[k..]);
                format!("{left} {right}")
            })
            .collect()
    }
}
