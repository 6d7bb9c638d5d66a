//! Lexicon correction: an out-of-vocabulary word is replaced by a dictionary word one edit away
//! when the model's own frame posteriors say that word is nearly as likely as what greedy
//! decoding read.
//!
//! Greedy CTC decoding reads every frame on its own; a word such as `Iotal` whose `T` frame was
//! 45 % `I` and 40 % `T` is a coin toss the pixels lost but a dictionary wins. For each run of
//! 3+ letters standing alone (bounded by spaces, punctuation or the line's ends, not digits)
//! that is not in the lexicon, every lexicon word at edit distance 1 (deletion, insertion,
//! substitution, transposition; cased like the read word) is scored by the CTC probability of
//! the word's frames (summed over all alignments, [`ctc_log_prob`]); the best candidate
//! replaces the reading when its log-probability is within [`MAX_LOG_PRIOR_GAIN`] of the
//! reading's. Confident readings therefore never change: a frame at 99 % for one letter makes
//! any other letter there ~100x less likely. The replaced characters get their frames from the
//! best alignment of the new word ([`ctc_align`]). A word of [`MIN_WORD_LEN_TWO_EDITS`]+ letters
//! with no winner one edit away is also weighed against lexicon words two edits away that
//! change only its [`TWO_EDIT_POSITIONS`] least confident characters (substituted or deleted),
//! under the same rule. An out-of-vocabulary word that is two lexicon words run together
//! (`ofthe`) is weighed, as a one-edit candidate, against those two words with a space between
//! (see `split.rs`). A word that is letters with look-alike digits in it (`T0P`, `G00DS`,
//! `bui1ding`: see [`lookalike_token`]) is weighed, under the same rule, against the lexicon
//! words it spells when those digits are read as the letters they resemble.
//!
//! Confidence: every judged word (read word of 3+ letters, in the lexicon or not) gets its
//! posterior under the lexicon prior as its confidence, `q = weight(w) P(w) / Z` with `P` the
//! CTC probability over the word's frames, `weight` `g = e^MAX_LOG_PRIOR_GAIN` for lexicon words
//! and 1 otherwise, and `Z` the weighted mass of the reading, its neighbours and the rest (see
//! [`judge`]). Without it, dictionary words read from uncertain frames are right far more often
//! than the product of their character probabilities says (measured in the model card). A kept
//! word's characters are rescaled by a common factor so that their product is `q`; a replaced
//! word's characters each get `q^(1/n)`.
//!
//! The lexicon ships with the model (`models/NAME/lexicon.txt`, one lower-case word per line).

use std::collections::HashSet;

use super::alphabet::Alphabet;
use super::ctc::{LineText, RecognizedChar};
use super::ctc_score::{ctc_align, ctc_log_prob};

mod join;
mod split;

/// Natural-log odds a dictionary word is granted over an out-of-vocabulary reading: a candidate
/// up to e^3 (~20x) less likely under the model still wins. Fixed a priori (documents are mostly
/// dictionary words), not fitted on evaluation data.
pub const MAX_LOG_PRIOR_GAIN: f32 = 3.0;

/// Shortest read word that is corrected (shorter words have too many neighbours).
pub const MIN_WORD_LEN: usize = 3;

/// Shortest read word corrected towards words two edits away (shorter words have too many).
pub const MIN_WORD_LEN_TWO_EDITS: usize = 6;

/// Two-edit candidates change only the read word's this many least confident characters
/// (substituted or deleted): the frames the model was unsure of.
pub const TWO_EDIT_POSITIONS: usize = 3;

/// A set of lower-case words.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    words: HashSet<String>,
}

impl Lexicon {
    /// Parse one word per line; words are lower-cased and anything but ASCII letters skipped.
    pub fn from_text(text: &str) -> Self {
        let words = text
            .lines()
            .map(|l| l.trim().to_ascii_lowercase())
            .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
            .collect();
        Lexicon { words }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the lexicon has no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Whether `word` (any case) is in the lexicon.
    pub fn contains(&self, word: &str) -> bool {
        self.words.contains(&word.to_ascii_lowercase())
    }

    /// Lexicon words at edit distance exactly 1 from lower-case `w`, sorted, without repeats.
    /// Candidates are built in one scratch buffer and looked up as `&str`: only hits allocate.
    pub fn neighbours(&self, w: &str) -> Vec<String> {
        let b = w.as_bytes();
        let mut out: Vec<String> = Vec::new();
        let mut buf: Vec<u8> = Vec::with_capacity(b.len() + 1);
        let mut check = |cand: &[u8]| {
            if let Ok(s) = std::str::from_utf8(cand)
                && s != w
                && self.words.contains(s)
            {
                out.push(s.to_string());
            }
        };
        for i in 0..b.len() {
            buf.clear();
            buf.extend_from_slice(&b[..i]);
            buf.extend_from_slice(&b[i + 1..]);
            check(&buf);
            if i + 1 < b.len() {
                buf.clear();
                buf.extend_from_slice(b);
                buf.swap(i, i + 1);
                check(&buf);
            }
            buf.clear();
            buf.extend_from_slice(b);
            for c in b'a'..=b'z' {
                if c != b[i] {
                    buf[i] = c;
                    check(&buf);
                }
            }
        }
        for i in 0..=b.len() {
            buf.clear();
            buf.extend_from_slice(&b[..i]);
            buf.push(b'a');
            buf.extend_from_slice(&b[i..]);
            for c in b'a'..=b'z' {
                buf[i] = c;
                check(&buf);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Lexicon words that `read` spells when each of its look-alike digits is read as the
    /// letter it resembles (`0` -> o, `1` -> l or i, `5` -> s, `8` -> b) and nothing else
    /// changes; cased like the reading (see [`recase`]), sorted, without repeats.
    pub fn lookalike_readings(&self, read: &[char]) -> Vec<String> {
        let mut words = vec![String::new()];
        for &c in read {
            let options: Vec<char> = if c.is_ascii_digit() {
                letters_for(c).iter().map(|&b| b as char).collect()
            } else {
                vec![c.to_ascii_lowercase()]
            };
            words = words
                .iter()
                .flat_map(|w| options.iter().map(move |&o| format!("{w}{o}")))
                .collect();
        }
        let letters: Vec<char> = read
            .iter()
            .copied()
            .filter(|c| c.is_ascii_alphabetic())
            .collect();
        let mut out: Vec<String> = words
            .into_iter()
            .filter(|w| self.words.contains(w))
            .map(|w| recase(&w, &letters))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Lexicon words reached from lower-case `w` by changing two of the characters at
    /// `positions` (each substituted by a letter or deleted), sorted, without repeats.
    pub fn two_edit_neighbours(&self, w: &str, positions: &[usize]) -> Vec<String> {
        let b = w.as_bytes();
        let mut out: Vec<String> = Vec::new();
        let mut buf: Vec<u8> = Vec::with_capacity(b.len());
        let ops = |i: usize| {
            (b'a'..=b'z')
                .filter(move |&c| c != b[i])
                .map(Some)
                .chain([None])
        };
        for (k, &i) in positions.iter().enumerate() {
            for &j in &positions[k + 1..] {
                let (i, j) = (i.min(j), i.max(j));
                if i == j || j >= b.len() {
                    continue;
                }
                for oi in ops(i) {
                    for oj in ops(j) {
                        buf.clear();
                        for (p, &c) in b.iter().enumerate() {
                            match p {
                                _ if p == i => buf.extend(oi),
                                _ if p == j => buf.extend(oj),
                                _ => buf.push(c),
                            }
                        }
                        if let Ok(s) = std::str::from_utf8(&buf)
                            && self.words.contains(s)
                        {
                            out.push(s.to_string());
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Case `word` (lower case) like `read`: all upper when most of its letters are, title case
/// when only its first is, else lower.
fn recase(word: &str, read: &[char]) -> String {
    let upper = read.iter().filter(|c| c.is_ascii_uppercase()).count();
    if 2 * upper > read.len() {
        word.to_ascii_uppercase()
    } else if read.first().is_some_and(|c| c.is_ascii_uppercase()) {
        let mut s = word.to_string();
        if let Some(f) = s.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        s
    } else {
        word.to_string()
    }
}

/// What the lexicon says about one read word.
enum Verdict {
    /// Keep the reading; its word confidence becomes `q`.
    Keep { q: f32 },
    /// Replace it by `word` (aligned as `spans`, frame offsets relative to the word's frames)
    /// with word confidence `q`.
    Replace {
        word: String,
        spans: Vec<(usize, usize, f32)>,
        q: f32,
    },
}

/// Correct the out-of-vocabulary words of one decoded line in place (after joining words the
/// decoder split in two, see `join.rs`) and set the confidence of every word the lexicon judged
/// to its posterior; `probs` are the line's `frames x classes` posteriors that `line` was
/// decoded from.
pub fn correct_line(
    line: &mut LineText,
    probs: &[f32],
    classes: usize,
    alphabet: &Alphabet,
    lexicon: &Lexicon,
) {
    if lexicon.is_empty() || classes == 0 {
        return;
    }
    let frames = probs.len() / classes;
    let joined = join::join_split_words(&line.chars, probs, classes, alphabet, lexicon);
    let chars = &joined;
    let mut out: Vec<RecognizedChar> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = lookalike_token(chars, i) {
            let run = &chars[i..end];
            let (f0, f1) = word_frames(chars, i, end, frames);
            let span = &probs[f0.min(f1) * classes..f1 * classes];
            let read: Vec<char> = run.iter().map(|c| c.ch).collect();
            let candidates = lexicon.lookalike_readings(&read);
            match judge_candidates(&read, span, classes, alphabet, lexicon, candidates, None) {
                Some(Verdict::Replace { word, spans, q }) => {
                    push_replacement(&mut out, &word, &spans, q, f0)
                }
                _ => out.extend_from_slice(run),
            }
            i = end;
            continue;
        }
        if !chars[i].ch.is_ascii_alphabetic() {
            out.push(chars[i].clone());
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].ch.is_ascii_alphabetic() {
            i += 1;
        }
        let run = &chars[start..i];
        let digit_next = |c: Option<&RecognizedChar>| c.is_some_and(|c| c.ch.is_ascii_digit());
        let eligible = run.len() >= MIN_WORD_LEN
            && !digit_next(start.checked_sub(1).and_then(|k| chars.get(k)))
            && !digit_next(chars.get(i));
        if !eligible {
            out.extend_from_slice(run);
            continue;
        }
        // The word's frames: from after the previous character to before the next one.
        let (f0, f1) = word_frames(chars, start, i, frames);
        let span = &probs[f0.min(f1) * classes..f1 * classes];
        match judge(run, span, classes, alphabet, lexicon) {
            None => out.extend_from_slice(run),
            Some(Verdict::Keep { q }) => {
                // Rescale the characters so that their product (the word's confidence) is q.
                let prod: f32 = run.iter().map(|c| c.confidence).product();
                let f = (q / prod.max(1e-30)).powf(1.0 / run.len() as f32);
                out.extend(run.iter().map(|c| RecognizedChar {
                    confidence: (c.confidence * f).clamp(0.0, 1.0),
                    ..c.clone()
                }));
            }
            Some(Verdict::Replace { word, spans, q }) => {
                push_replacement(&mut out, &word, &spans, q, f0)
            }
        }
    }
    line.text = out.iter().map(|c| c.ch).collect();
    line.chars = out;
}

/// The frames `f0..f1` a word `chars[start..end]` may use: from after the character before it
/// (or the line's start) to before the character after it (or the line's `frames`).
fn word_frames(
    chars: &[RecognizedChar],
    start: usize,
    end: usize,
    frames: usize,
) -> (usize, usize) {
    let f0 = start.checked_sub(1).map_or(0, |k| chars[k].last_frame + 1);
    let f1 = chars.get(end).map_or(frames, |c| c.first_frame).min(frames);
    (f0, f1)
}

/// Push a replacing word's characters: each gets `q^(1/n)` (their product is the word's
/// posterior `q`) and its frames from the alignment `spans` (relative to frame `f0`).
fn push_replacement(
    out: &mut Vec<RecognizedChar>,
    word: &str,
    spans: &[(usize, usize, f32)],
    q: f32,
    f0: usize,
) {
    let per_char = q.powf(1.0 / spans.len().max(1) as f32);
    for (ch, &(a, b, _)) in word.chars().zip(spans) {
        out.push(RecognizedChar {
            ch,
            confidence: per_char,
            first_frame: f0 + a,
            last_frame: f0 + b,
        });
    }
}

/// The letter a digit is mistaken for inside a word (`T0P`, `bui1ding`, `G00DS`), if any.
fn letters_for(digit: char) -> &'static [u8] {
    match digit {
        '0' => b"o",
        '1' => b"li",
        '5' => b"s",
        '8' => b"b",
        _ => b"",
    }
}

/// End of the word starting at `start` when it is letters with look-alike digits in it: a
/// maximal run of ASCII letters and digits (bounded by anything else) of 3+ characters, every
/// digit one of `0 1 5 8`, at least two letters and more letters than digits. Codes such as
/// `A30`, `CTS400` or `10am` do not qualify.
fn lookalike_token(chars: &[RecognizedChar], start: usize) -> Option<usize> {
    let alnum = |k: usize| chars.get(k).is_some_and(|c| c.ch.is_ascii_alphanumeric());
    if !alnum(start) || start.checked_sub(1).is_some_and(alnum) {
        return None;
    }
    let mut end = start;
    while alnum(end) {
        end += 1;
    }
    let run = &chars[start..end];
    let digits = run.iter().filter(|c| c.ch.is_ascii_digit()).count();
    let letters = run.len() - digits;
    let qualifies = digits > 0
        && run.len() >= MIN_WORD_LEN
        && letters >= 2
        && letters > digits
        && run
            .iter()
            .all(|c| !c.ch.is_ascii_digit() || !letters_for(c.ch).is_empty());
    qualifies.then_some(end)
}

/// Judge one read word against its lexicon neighbours over its frames `span`. With `P` the CTC
/// probability of a word and `g = e^MAX_LOG_PRIOR_GAIN` the weight of lexicon words, the
/// posterior of a word `w` is `weight(w) P(w) / Z`, `Z = Σ weight(v) P(v)` over the reading and
/// its neighbours plus the rest of the probability mass at weight 1. `None` when the word
/// cannot be scored (a character outside the alphabet, too few frames).
fn judge(
    run: &[RecognizedChar],
    span: &[f32],
    classes: usize,
    alphabet: &Alphabet,
    lexicon: &Lexicon,
) -> Option<Verdict> {
    let read: Vec<char> = run.iter().map(|c| c.ch).collect();
    let lower: String = read.iter().map(|c| c.to_ascii_lowercase()).collect();
    let read_known = lexicon.contains(&lower);
    let mut candidates: Vec<String> = lexicon
        .neighbours(&lower)
        .iter()
        .map(|w| recase(w, &read))
        .collect();
    if !read_known {
        // A space inserted between two lexicon words is one edit too (see split.rs).
        candidates.extend(lexicon.split_readings(&read));
    }
    let one_edit = candidates.len();
    if !read_known && lower.len() >= MIN_WORD_LEN_TWO_EDITS {
        let mut order: Vec<usize> = (0..run.len()).collect();
        order.sort_by(|&a, &b| run[a].confidence.total_cmp(&run[b].confidence));
        order.truncate(TWO_EDIT_POSITIONS);
        let two = lexicon.two_edit_neighbours(&lower, &order);
        candidates.extend(two.iter().map(|w| recase(w, &read)));
    }
    judge_candidates(
        &read,
        span,
        classes,
        alphabet,
        lexicon,
        candidates,
        Some(one_edit),
    )
}

/// Judge the reading `read` against `candidates` (lexicon words, already cased), as [`judge`]
/// says. With `stop_after: Some(k)`, candidates from index `k` on are weighed only when none
/// before them won (two-edit words after one-edit words).
fn judge_candidates(
    read: &[char],
    span: &[f32],
    classes: usize,
    alphabet: &Alphabet,
    lexicon: &Lexicon,
    candidates: Vec<String>,
    stop_after: Option<usize>,
) -> Option<Verdict> {
    let lower: String = read.iter().map(|c| c.to_ascii_lowercase()).collect();
    let encode =
        |w: &str| -> Option<Vec<usize>> { w.chars().map(|c| alphabet.class_of(c)).collect() };
    let read_label = encode(&read.iter().collect::<String>())?;
    let read_lp = ctc_log_prob(span, classes, &read_label);
    if read_lp == f32::NEG_INFINITY {
        return None;
    }
    let g = MAX_LOG_PRIOR_GAIN.exp();
    let read_known = lexicon.contains(&lower);
    let read_weight = if read_known { g } else { 1.0 };
    let mut best: Option<(f32, String, Vec<usize>)> = None;
    let mut mass = read_lp.exp();
    let mut weighted = read_weight * read_lp.exp();
    for (k, word) in candidates.into_iter().enumerate() {
        if Some(k) == stop_after && best.is_some() {
            break; // a word one edit away won: two-edit words are not weighed
        }
        let Some(label) = encode(&word) else { continue };
        let score = ctc_log_prob(span, classes, &label);
        mass += score.exp();
        weighted += g * score.exp();
        if !read_known
            && score > read_lp - MAX_LOG_PRIOR_GAIN
            && best.as_ref().is_none_or(|b| score > b.0)
        {
            best = Some((score, word, label));
        }
    }
    let z = weighted + (1.0 - mass).max(0.0);
    let posterior = |lp: f32, weight: f32| (weight * lp.exp() / z).clamp(0.0, 1.0);
    if let Some((score, word, label)) = best
        && let Some(spans) = ctc_align(span, classes, &label)
    {
        let q = posterior(score, g);
        return Some(Verdict::Replace { word, spans, q });
    }
    Some(Verdict::Keep {
        q: posterior(read_lp, read_weight),
    })
}

#[cfg(test)]
mod tests;
