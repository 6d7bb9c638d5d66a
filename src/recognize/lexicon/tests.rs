//! Tests of the lexicon correction (split from `mod.rs` to keep it short).
use super::super::ctc_score::posteriors;
use super::*;

fn greedy(probs: &[f32], alphabet: &Alphabet) -> LineText {
    let classes = alphabet.num_classes();
    super::super::ctc::greedy_decode(probs, probs.len() / classes, classes, alphabet)
}

fn lexicon() -> Lexicon {
    Lexicon::from_text("total\ntotals\ncash\nChange\nit's\n")
}

#[test]
fn lexicon_parses_lower_cases_and_finds_neighbours() {
    let lex = lexicon();
    assert_eq!(lex.len(), 4);
    assert!(lex.contains("TOTAL") && lex.contains("change") && !lex.contains("it's"));
    assert_eq!(lex.neighbours("iotal"), vec!["total".to_string()]);
    assert_eq!(lex.neighbours("totl"), vec!["total".to_string()]);
    assert_eq!(lex.neighbours("otal"), vec!["total".to_string()]);
    assert_eq!(lex.neighbours("ttoal"), vec!["total".to_string()]);
    assert!(lex.neighbours("xyzzy").is_empty());
}

#[test]
fn an_uncertain_letter_is_corrected_and_a_confident_one_is_not() {
    let a = Alphabet::default();
    let classes = a.num_classes();
    let lex = lexicon();
    let word = |first: &[(char, f32)]| {
        let frames: Vec<&[(char, f32)]> = vec![
            first,
            &[],
            &[('o', 0.9)],
            &[('t', 0.9)],
            &[('a', 0.9)],
            &[('l', 0.9)],
            &[(' ', 0.9)],
            &[('5', 0.9)],
        ];
        posteriors(&a, &frames)
    };
    let probs = word(&[('I', 0.5), ('T', 0.4)]);
    let mut line = greedy(&probs, &a);
    assert_eq!(line.text, "Iotal 5");
    correct_line(&mut line, &probs, classes, &a, &lex);
    assert_eq!(line.text, "Total 5");
    assert_eq!(line.chars.len(), 7);
    assert_eq!(line.chars[0].first_frame, 0);
    let word_conf: f32 = line.chars[..5].iter().map(|c| c.confidence).product();
    assert!(word_conf > 0.4 && word_conf < 0.9, "{word_conf}");
    assert_eq!(line.chars[6].ch, '5');

    let probs = word(&[('I', 0.99), ('T', 0.005)]);
    let mut line = greedy(&probs, &a);
    correct_line(&mut line, &probs, classes, &a, &lex);
    assert_eq!(line.text, "Iotal 5");
}

#[test]
fn two_uncertain_letters_of_a_long_word_are_corrected() {
    let a = Alphabet::default();
    let classes = a.num_classes();
    let lex = Lexicon::from_text("research\nresearcher\n");
    assert_eq!(
        lex.two_edit_neighbours("rcscarch", &[1, 3, 0]),
        vec!["research".to_string()]
    );
    // Not reachable by changing the given positions.
    assert!(lex.two_edit_neighbours("rcscarch", &[0, 7]).is_empty());
    // "research" read as "rcscarch": the two wrong letters are the uncertain ones.
    let frame = |c: char| -> Vec<(char, f32)> {
        match c {
            'c' => vec![('c', 0.5), ('e', 0.4)],
            _ => vec![(c, 0.95)],
        }
    };
    let mut frames: Vec<Vec<(char, f32)>> = Vec::new();
    for (i, c) in "rcscarch".chars().enumerate() {
        // The last 'c' (research's own) is confident.
        frames.push(if i == 6 { vec![('c', 0.95)] } else { frame(c) });
        frames.push(Vec::new());
    }
    let refs: Vec<&[(char, f32)]> = frames.iter().map(|f| f.as_slice()).collect();
    let probs = posteriors(&a, &refs);
    let mut line = greedy(&probs, &a);
    assert_eq!(line.text, "rcscarch");
    correct_line(&mut line, &probs, classes, &a, &lex);
    assert_eq!(line.text, "research");
    // Short words are not corrected two edits away.
    let short = Lexicon::from_text("tonal\n");
    let frames: Vec<Vec<(char, f32)>> = "lanal".chars().map(|c| vec![(c, 0.5)]).collect();
    let refs: Vec<&[(char, f32)]> = frames.iter().map(|f| f.as_slice()).collect();
    let probs = posteriors(&a, &refs);
    let mut line = greedy(&probs, &a);
    let before = line.clone();
    correct_line(&mut line, &probs, classes, &a, &short);
    assert_eq!(line, before);
}

#[test]
fn words_next_to_digits_short_words_and_known_words_stay() {
    let a = Alphabet::default();
    let classes = a.num_classes();
    let lex = lexicon();
    for text in ["Iotal5", "Ca", "totals"] {
        let frames: Vec<Vec<(char, f32)>> = text.chars().map(|c| vec![(c, 0.5)]).collect();
        let refs: Vec<&[(char, f32)]> = frames.iter().map(|f| f.as_slice()).collect();
        let probs = posteriors(&a, &refs);
        let mut line = greedy(&probs, &a);
        let before = line.clone();
        correct_line(&mut line, &probs, classes, &a, &lex);
        assert_eq!(line, before, "{text}");
    }
}

#[test]
fn look_alike_digits_in_words_are_read_as_letters_when_the_frames_allow() {
    let a = Alphabet::default();
    let classes = a.num_classes();
    let lex = Lexicon::from_text("goods\nsold\nbuilding\nlot\n");
    assert_eq!(
        lex.lookalike_readings(&['G', '0', '0', 'D', 'S']),
        vec!["GOODS".to_string()]
    );
    assert_eq!(
        lex.lookalike_readings(&['b', 'u', 'i', '1', 'd', 'i', 'n', 'g']),
        vec!["building".to_string()]
    );
    let read = |text: &str, zero_o: f32| {
        // One frame per character, each followed by a blank frame.
        let frames: Vec<Vec<(char, f32)>> = text
            .chars()
            .flat_map(|c| {
                let frame = match c {
                    '0' => vec![('0', 0.55), ('O', zero_o)],
                    _ => vec![(c, 0.95)],
                };
                [frame, Vec::new()]
            })
            .collect();
        let refs: Vec<&[(char, f32)]> = frames.iter().map(|f| f.as_slice()).collect();
        let probs = posteriors(&a, &refs);
        let mut line = greedy(&probs, &a);
        assert_eq!(line.text, text);
        correct_line(&mut line, &probs, classes, &a, &lex);
        line.text
    };
    assert_eq!(read("G00DS S0LD", 0.4), "GOODS SOLD");
    // A confident digit stays, and so do codes that are not letters with look-alikes in them.
    assert_eq!(read("S0LD", 0.001), "S0LD");
    assert_eq!(read("A30 CTS400 10am L0", 0.4), "A30 CTS400 10am L0");
}

#[test]
fn recase_follows_the_reading() {
    assert_eq!(recase("total", &['I', 'O', 'T', 'a', 'L']), "TOTAL");
    assert_eq!(recase("total", &['I', 'o', 't', 'a', 'l']), "Total");
    assert_eq!(recase("total", &['i', 'o', 't', 'a', 'L']), "total");
}

/// Frames spelling `left`, a space at probability `space` (blank the rest), then `right`.
fn split_word(a: &Alphabet, left: &str, space: f32, right: &str) -> Vec<f32> {
    let letter: Vec<[(char, f32); 1]> = left
        .chars()
        .chain(right.chars())
        .map(|c| [(c, 0.99)])
        .collect();
    let gap = [(' ', space)];
    let mut frames: Vec<&[(char, f32)]> = Vec::new();
    for (k, l) in letter.iter().enumerate() {
        if k == left.len() {
            frames.push(&gap);
        }
        frames.push(l);
        frames.push(&[]);
    }
    posteriors(a, &frames)
}

#[test]
fn a_word_split_on_an_uncertain_space_is_joined_and_a_confident_split_is_not() {
    let a = Alphabet::default();
    let classes = a.num_classes();
    let lex = Lexicon::from_text("total\nto\nday\ntoday\n");
    let probs = split_word(&a, "tot", 0.6, "al");
    let mut line = greedy(&probs, &a);
    assert_eq!(line.text, "tot al");
    correct_line(&mut line, &probs, classes, &a, &lex);
    assert_eq!(line.text, "total");
    assert_eq!(line.chars.len(), 5);
    assert!(
        line.chars
            .windows(2)
            .all(|w| w[0].last_frame < w[1].first_frame)
    );

    let probs = split_word(&a, "tot", 0.995, "al");
    let mut line = greedy(&probs, &a);
    correct_line(&mut line, &probs, classes, &a, &lex);
    assert_eq!(line.text, "tot al");

    // Two lexicon words stay two words however uncertain the space.
    let probs = split_word(&a, "to", 0.6, "day");
    let mut line = greedy(&probs, &a);
    correct_line(&mut line, &probs, classes, &a, &lex);
    assert_eq!(line.text, "to day");
}

#[test]
fn two_words_run_together_are_split_where_the_frames_hold_a_trace_of_a_space() {
    let a = Alphabet::default();
    let classes = a.num_classes();
    let lex = Lexicon::from_text("of\nthe\ntotal\ndue\nth\n");
    assert_eq!(
        lex.split_readings(&['o', 'f', 't', 'h', 'e']),
        vec!["of the".to_string()]
    );
    assert_eq!(
        lex.split_readings(&['T', 'O', 'T', 'A', 'L', 'D', 'U', 'E']),
        vec!["TOTAL DUE".to_string()]
    );
    // A two-letter lexicon word that is not a common short word is no part of a split.
    assert!(lex.split_readings(&['t', 'h', 'd', 'u', 'e']).is_empty());
    let read = |left: &str, space: f32, right: &str| {
        let probs = split_word(&a, left, space, right);
        let mut line = greedy(&probs, &a);
        assert_eq!(line.text, format!("{left}{right}"));
        correct_line(&mut line, &probs, classes, &a, &lex);
        line
    };
    let line = read("of", 0.3, "the");
    assert_eq!(line.text, "of the");
    assert!(
        line.chars
            .windows(2)
            .all(|w| w[0].last_frame < w[1].first_frame)
    );
    assert_eq!(read("TOTAL", 0.2, "DUE").text, "TOTAL DUE");
    // No trace of a space in the frames: the reading stays.
    assert_eq!(read("of", 0.0005, "the").text, "ofthe");
}
