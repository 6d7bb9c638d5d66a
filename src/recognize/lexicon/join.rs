//! Joining a word the decoder split in two: `bui lding` -> `building`, `WOL EMEAL` ->
//! `WHOLEMEAL`.
//!
//! A space is a class like any other, and on a wide letter gap its frames can edge out blank,
//! which splits a word into fragments the lexicon never sees whole. For two letter runs
//! separated by one space (each bounded by anything but a letter or digit on its far side), of
//! which at least one is not a lexicon word, the lexicon words that the runs spell when joined
//! (and, for joined words of [`MIN_WORD_LEN_TWO_EDITS`]+ letters, the lexicon words one edit
//! away from the join) are weighed against the split reading over the same frames, by the rule
//! the rest of the lexicon uses: the best candidate replaces the reading when its CTC
//! log-probability is within [`super::MAX_LOG_PRIOR_GAIN`] of the reading's. Two lexicon words
//! (`to day`) are never joined. The joined word's characters take their frames and confidences
//! from its best alignment; [`super::correct_line`] then judges it like any read word.

use super::{
    Lexicon, MIN_WORD_LEN, MIN_WORD_LEN_TWO_EDITS, Verdict, judge_candidates, recase, word_frames,
};
use crate::recognize::alphabet::Alphabet;
use crate::recognize::ctc::RecognizedChar;

/// Where one character of a word lies in its frames: first frame, last frame, best posterior.
type CharSpan = (usize, usize, f32);

/// The characters of one line with every split word the lexicon recognises joined; `probs` are
/// the line's `frames x classes` posteriors the characters were decoded from.
pub(super) fn join_split_words(
    chars: &[RecognizedChar],
    probs: &[f32],
    classes: usize,
    alphabet: &Alphabet,
    lexicon: &Lexicon,
) -> Vec<RecognizedChar> {
    let frames = probs.len() / classes.max(1);
    let letter = |k: usize| chars.get(k).is_some_and(|c| c.ch.is_ascii_alphabetic());
    let alnum = |k: Option<usize>| {
        k.and_then(|k| chars.get(k))
            .is_some_and(|c| c.ch.is_ascii_alphanumeric())
    };
    let mut out: Vec<RecognizedChar> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if !letter(i) || alnum(i.checked_sub(1)) {
            out.push(chars[i].clone());
            i += 1;
            continue;
        }
        let mut a_end = i;
        while letter(a_end) {
            a_end += 1;
        }
        let b_start = a_end + 1;
        let splits = chars.get(a_end).is_some_and(|c| c.ch == ' ') && letter(b_start);
        let mut b_end = b_start;
        while splits && letter(b_end) {
            b_end += 1;
        }
        if splits && !alnum(Some(b_end)) {
            let (f0, f1) = word_frames(chars, i, b_end, frames);
            let span = &probs[f0.min(f1) * classes..f1 * classes];
            let parts = [&chars[i..a_end], &chars[b_start..b_end]];
            if let Some((word, spans)) = best_join(parts, span, classes, alphabet, lexicon) {
                out.extend(
                    word.chars()
                        .zip(spans)
                        .map(|(ch, (a, b, p))| RecognizedChar {
                            ch,
                            confidence: p,
                            first_frame: f0 + a,
                            last_frame: f0 + b,
                        }),
                );
                i = b_end;
                continue;
            }
        }
        out.extend_from_slice(&chars[i..a_end]);
        i = a_end;
    }
    out
}

/// The joined lexicon word that beats the split reading `parts[0] + ' ' + parts[1]` over its
/// frames `span`, with its alignment; `None` when the reading stands.
fn best_join(
    parts: [&[RecognizedChar]; 2],
    span: &[f32],
    classes: usize,
    alphabet: &Alphabet,
    lexicon: &Lexicon,
) -> Option<(String, Vec<CharSpan>)> {
    let text = |p: &[RecognizedChar]| -> String { p.iter().map(|c| c.ch).collect() };
    let (a, b) = (text(parts[0]), text(parts[1]));
    if lexicon.contains(&a) && lexicon.contains(&b) {
        return None;
    }
    let letters: Vec<char> = a.chars().chain(b.chars()).collect();
    let joined: String = letters.iter().map(|c| c.to_ascii_lowercase()).collect();
    if joined.len() < MIN_WORD_LEN {
        return None;
    }
    let mut candidates: Vec<String> = Vec::new();
    if lexicon.contains(&joined) {
        candidates.push(joined.clone());
    }
    if joined.len() >= MIN_WORD_LEN_TWO_EDITS {
        candidates.extend(lexicon.neighbours(&joined));
    }
    if candidates.is_empty() {
        return None;
    }
    // The split reading is not a lexicon word (it has a space), so the shared judge replaces it
    // by its best candidate within MAX_LOG_PRIOR_GAIN; the joined word's confidence is set when
    // `correct_line` judges it as a word.
    let read: Vec<char> = format!("{a} {b}").chars().collect();
    let candidates = candidates.iter().map(|w| recase(w, &letters)).collect();
    match judge_candidates(&read, span, classes, alphabet, lexicon, candidates, None)? {
        Verdict::Replace { word, spans, .. } => Some((word, spans)),
        Verdict::Keep { .. } => None,
    }
}
