//! Greedy CTC decoding that keeps every character's probability and position.
//!
//! The model emits one class distribution per output frame (one frame per
//! [`WIDTH_MULTIPLE`](crate::lines::WIDTH_MULTIPLE) input columns). Greedy decoding takes the
//! best class per frame, merges runs of the same class and drops blanks. For each character we
//! keep the highest posterior over its run (its confidence) and the frames it spans, from which
//! the assembler derives character boxes.

use super::alphabet::Alphabet;

/// One decoded character.
#[derive(Debug, Clone, PartialEq)]
pub struct RecognizedChar {
    /// The character.
    pub ch: char,
    /// Its posterior probability at its most confident frame, in 0..1.
    pub confidence: f32,
    /// First frame of its run.
    pub first_frame: usize,
    /// Last frame of its run (inclusive).
    pub last_frame: usize,
}

/// The decoded text of one line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineText {
    /// The text, with leading/trailing spaces trimmed and inner space runs collapsed.
    pub text: String,
    /// One entry per character of `text` (spaces included), in order.
    pub chars: Vec<RecognizedChar>,
    /// Number of frames the line had (before padding).
    pub frames: usize,
}

/// Decode `frames` x `classes` posteriors (row-major probabilities, each row summing to ~1).
pub fn greedy_decode(
    probs: &[f32],
    frames: usize,
    classes: usize,
    alphabet: &Alphabet,
) -> LineText {
    clean_line(greedy_chars(probs, frames, classes, alphabet), frames)
}

/// The characters greedy decoding reads, before spaces are trimmed and collapsed: the best
/// class per frame, runs merged, blanks dropped.
pub fn greedy_chars(
    probs: &[f32],
    frames: usize,
    classes: usize,
    alphabet: &Alphabet,
) -> Vec<RecognizedChar> {
    let mut chars: Vec<RecognizedChar> = Vec::new();
    let mut prev_class = 0usize;
    for t in 0..frames {
        let row = &probs[t * classes..(t + 1) * classes];
        let (best, p) =
            row.iter().enumerate().fold(
                (0usize, f32::MIN),
                |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
            );
        if best != 0 {
            if best == prev_class {
                if let Some(last) = chars.last_mut() {
                    last.last_frame = t;
                    last.confidence = last.confidence.max(p);
                }
            } else if let Some(ch) = alphabet.char_of(best) {
                chars.push(RecognizedChar {
                    ch,
                    confidence: p,
                    first_frame: t,
                    last_frame: t,
                });
            }
        }
        prev_class = best;
    }
    chars
}

/// A line of `frames` frames from decoded characters: spaces at the ends trimmed and runs of
/// spaces collapsed (keeping the most confident one).
pub fn clean_line(chars: Vec<RecognizedChar>, frames: usize) -> LineText {
    let mut cleaned: Vec<RecognizedChar> = Vec::with_capacity(chars.len());
    for c in chars {
        if c.ch == ' ' {
            match cleaned.last_mut() {
                None => continue,
                Some(last) if last.ch == ' ' => {
                    last.confidence = last.confidence.max(c.confidence);
                    last.last_frame = c.last_frame;
                    continue;
                }
                _ => {}
            }
        }
        cleaned.push(c);
    }
    while cleaned.last().is_some_and(|c| c.ch == ' ') {
        cleaned.pop();
    }
    LineText {
        text: cleaned.iter().map(|c| c.ch).collect(),
        chars: cleaned,
        frames,
    }
}

/// Numerically stable softmax of each row of `logits` (`rows` x `classes`), with a temperature
/// (1.0 = plain softmax; > 1 softens over-confident outputs, fitted for calibration).
pub fn softmax_rows(logits: &mut [f32], classes: usize, temperature: f32) {
    let inv_t = 1.0 / temperature.max(1e-3);
    for row in logits.chunks_mut(classes) {
        let max = row.iter().copied().fold(f32::MIN, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = ((*v - max) * inv_t).exp();
            sum += *v;
        }
        let inv = 1.0 / sum.max(f32::MIN_POSITIVE);
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

/// A decoded line for tests: one frame per character, character `i` with confidence `conf(i)`.
#[cfg(test)]
pub fn test_line(text: &str, conf: impl Fn(usize) -> f32) -> LineText {
    LineText {
        text: text.to_string(),
        chars: text
            .chars()
            .enumerate()
            .map(|(i, ch)| RecognizedChar {
                ch,
                confidence: conf(i),
                first_frame: i,
                last_frame: i,
            })
            .collect(),
        frames: text.chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_hot(seq: &[usize], classes: usize, p: f32) -> Vec<f32> {
        let mut v = vec![(1.0 - p) / (classes - 1) as f32; seq.len() * classes];
        for (t, &c) in seq.iter().enumerate() {
            v[t * classes + c] = p;
        }
        v
    }

    #[test]
    fn collapses_repeats_and_blanks_and_keeps_positions() {
        let a = Alphabet::new(" abl");
        let (sp, aa, b, l) = (1, 2, 3, 4);
        // " a a _ b b _ _ l _ l  " -> "ab ll" style: repeats split by blank stay double.
        let seq = [sp, aa, aa, 0, b, b, sp, 0, l, 0, l, sp];
        let c = a.num_classes();
        let out = greedy_decode(&one_hot(&seq, c, 0.9), seq.len(), c, &a);
        assert_eq!(out.text, "ab ll");
        assert_eq!(out.chars.len(), 5);
        assert_eq!((out.chars[0].first_frame, out.chars[0].last_frame), (1, 2));
        assert_eq!((out.chars[3].first_frame, out.chars[3].last_frame), (8, 8));
        assert!((out.chars[0].confidence - 0.9).abs() < 1e-6);
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let mut v = vec![1.0, 2.0, 3.0, 1000.0, 0.0, -1000.0];
        softmax_rows(&mut v, 3, 1.0);
        assert!((v[0] + v[1] + v[2] - 1.0).abs() < 1e-6);
        assert!((v[3] - 1.0).abs() < 1e-6);
        let mut w = vec![1.0, 2.0, 3.0];
        softmax_rows(&mut w, 3, 2.0);
        assert!(w[2] < 0.67 && w[2] > 0.4);
    }
}
