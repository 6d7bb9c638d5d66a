//! Numeric-context corrections applied to every decoded line.
//!
//! A line recogniser without a language model confuses look-alike glyphs it cannot tell apart
//! from pixels alone: in many receipt and typewriter faces `0` and `O`, `1` and `I`/`l` differ
//! by a pixel or not at all, and monospaced faces leave a cell-wide gap after `.` and `:` that
//! reads like a space. Inside numbers the intended reading is unambiguous, so two conservative
//! rules run after CTC decoding (shared by the pipeline, `eval-lines` and validation):
//!
//! 1. **Look-alike letters in numbers.** A *numeric run* is a maximal run of digits, the
//!    look-alikes `O o I l` and the separators `. , : / -` inside one word. Its core (the run
//!    without separators at either end) is rewritten with digits (`O o` -> `0`, `I l` -> `1`)
//!    when it holds a real digit (`1O.5O` -> `10.50`) or has the shape of an amount with two
//!    decimals (`O.OO` -> `0.00`). A core directly followed by a letter is never rewritten, and
//!    one preceded by a letter (a currency prefix such as `RM5O.OO`) only when it begins with a
//!    real digit and no letter follows it in the word, so words such as `SOLO1`, `VEO5`, `1OZ`
//!    or `S0l.D` are left alone.
//! 2. **Spaces inside numbers.** A space between a word made only of digits and separators
//!    that ends in `<digit>.` or `<digit>:` and a digit is dropped (`36. 75` -> `36.75`,
//!    `02: 29` -> `02:29`; `N0. 17` keeps its space).
//!
//! Each rewritten character keeps its confidence and frames, so boxes and calibration are
//! unaffected.

use super::ctc::LineText;

/// Letters read as the digit they resemble inside a number.
fn digit_for(c: char) -> Option<char> {
    match c {
        'O' | 'o' => Some('0'),
        'I' | 'l' => Some('1'),
        _ => None,
    }
}

/// Separators that may sit inside a number.
fn is_separator(c: char) -> bool {
    matches!(c, '.' | ',' | ':' | '/' | '-')
}

/// Whether `c` may belong to a numeric run.
fn in_run(c: char) -> bool {
    c.is_ascii_digit() || digit_for(c).is_some() || is_separator(c)
}

/// Whether the core `chars` (no separators at its ends) should be read as a number.
/// `letter_before`: a letter touches the core's start; `letter_after`: a letter touches its end;
/// `letter_later`: a letter follows anywhere later in the same word.
fn core_is_numeric(
    core: &[char],
    letter_before: bool,
    letter_after: bool,
    letter_later: bool,
) -> bool {
    let has_digit = core.iter().any(|c| c.is_ascii_digit());
    if letter_after {
        return false;
    }
    if letter_before && (letter_later || !core.first().is_some_and(|c| c.is_ascii_digit())) {
        return false;
    }
    if has_digit {
        return core.iter().any(|&c| digit_for(c).is_some());
    }
    // No real digit: only the shape of an amount, e.g. `O.OO` or `OO,OO`.
    let n = core.len();
    !letter_before
        && !letter_after
        && n >= 4
        && matches!(core[n - 3], '.' | ',')
        && core
            .iter()
            .enumerate()
            .all(|(i, &c)| i == n - 3 || matches!(c, 'O' | 'o'))
}

/// Apply both rules to `line` in place (its `text` is rebuilt from its characters).
pub fn fix_numeric_context(line: &mut LineText) {
    let mut chars: Vec<char> = line.chars.iter().map(|c| c.ch).collect();
    let n = chars.len();
    let mut i = 0;
    while i < n {
        if !in_run(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && in_run(chars[i]) {
            i += 1;
        }
        // Core: the run without separators at its ends.
        let (mut a, mut b) = (start, i);
        while a < b && is_separator(chars[a]) {
            a += 1;
        }
        while b > a && is_separator(chars[b - 1]) {
            b -= 1;
        }
        if a == b {
            continue;
        }
        let letter_before = a > 0 && chars[a - 1].is_alphabetic();
        let letter_after = b < n && chars[b].is_alphabetic();
        let letter_later = chars[b..]
            .iter()
            .take_while(|c| **c != ' ')
            .any(|c| c.is_alphabetic());
        if core_is_numeric(&chars[a..b], letter_before, letter_after, letter_later) {
            for c in &mut chars[a..b] {
                if let Some(d) = digit_for(*c) {
                    *c = d;
                }
            }
        }
    }
    for (rc, &c) in line.chars.iter_mut().zip(&chars) {
        rc.ch = c;
    }
    // Rule 2: spaces inside numbers.
    let mut keep = vec![true; n];
    let mut word_start = 0;
    for k in 0..n {
        if chars[k] != ' ' {
            continue;
        }
        let word = &chars[word_start..k];
        word_start = k + 1;
        if k >= 2
            && k + 1 < n
            && matches!(chars[k - 1], '.' | ':')
            && chars[k - 2].is_ascii_digit()
            && chars[k + 1].is_ascii_digit()
            && word.iter().all(|&c| c.is_ascii_digit() || is_separator(c))
        {
            keep[k] = false;
        }
    }
    if keep.iter().any(|k| !k) {
        let mut flags = keep.into_iter();
        line.chars.retain(|_| flags.next().unwrap_or(true));
    }
    line.text = line.chars.iter().map(|c| c.ch).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recognize::ctc::test_line;

    fn fixed(s: &str) -> String {
        let mut line = test_line(s, |i| 0.5 + i as f32 / 100.0);
        fix_numeric_context(&mut line);
        assert_eq!(line.chars.len(), line.text.chars().count());
        line.text
    }

    #[test]
    fn look_alikes_inside_numbers_become_digits() {
        assert_eq!(fixed("TOTAL 1O.5O"), "TOTAL 10.50");
        assert_eq!(fixed("O.OO"), "0.00");
        assert_eq!(fixed("CASH RM5O.OO"), "CASH RM50.00");
        assert_eq!(fixed("TIME 1l:3O"), "TIME 11:30");
        assert_eq!(fixed("(4815OO-M)"), "(481500-M)");
        assert_eq!(fixed("A-1O"), "A-10");
    }

    #[test]
    fn words_and_ambiguous_tokens_are_left_alone() {
        for s in [
            "OIL", "Oil 5", "SOLO1", "VEO5", "I O", "lOO", "NO.", "1OZ", "I.O.", "O", "Hello",
            "Io.oo", "S0l.D", "o5YAIA",
        ] {
            assert_eq!(fixed(s), s, "{s}");
        }
    }

    #[test]
    fn spaces_inside_numbers_are_dropped_with_their_char() {
        assert_eq!(fixed("36. 75"), "36.75");
        assert_eq!(fixed("02: 29: 13 PM"), "02:29:13 PM");
        assert_eq!(fixed("TOTAL: 5"), "TOTAL: 5");
        assert_eq!(fixed("No. 5"), "No. 5");
        assert_eq!(fixed("N0. 17-G"), "N0. 17-G");
        assert_eq!(fixed("1.2 3"), "1.2 3");
        assert_eq!(fixed("3, 984"), "3, 984");
    }

    #[test]
    fn confidences_stay_with_their_characters() {
        let mut line = test_line("1O. 5", |i| i as f32 / 10.0);
        fix_numeric_context(&mut line);
        assert_eq!(line.text, "10.5");
        let confs: Vec<f32> = line.chars.iter().map(|c| c.confidence).collect();
        assert_eq!(confs, vec![0.0, 0.1, 0.2, 0.4]);
    }
}
