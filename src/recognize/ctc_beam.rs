//! CTC prefix beam search: the most probable reading of a line, not the most probable path.
//!
//! Greedy decoding ([`super::ctc::greedy_decode`]) reads the best class of each frame on its
//! own, which is the best single *path*; a reading's probability is the sum over all paths that
//! spell it. The two differ where the model hesitates: two frames at 40 % `1` and 60 % blank
//! read as nothing greedily, yet `1` (0.64) is more likely than nothing (0.36). Prefix beam
//! search (Hannun et al., 2014, without a language model) keeps the [`BEAM_WIDTH`] most
//! probable prefixes frame by frame, each with its probability of ending in a blank and in its
//! last character, and so sums those paths.
//!
//! [`decode`] runs greedy decoding, then the beam; when the beam's reading differs, the two
//! readings are scored exactly ([`ctc_log_prob`]) and the more probable one is kept, so the
//! result is never less probable than greedy's (an empty beam reading never replaces a
//! non-empty greedy one: the beam may add or change characters, not erase a line). A beam reading's characters are placed by its
//! best alignment ([`ctc_align`]) and get, as in greedy decoding, their highest posterior over
//! their frames as confidence. No parameter here was fitted on evaluation data: the width is
//! the usual a-priori choice and the floor of [`MIN_CLASS_PROB`] follows from its doc.

use std::collections::HashMap;

use super::alphabet::Alphabet;
use super::ctc::{LineText, RecognizedChar, clean_line, greedy_chars};
use super::ctc_score::{ctc_align, ctc_log_prob};

/// Prefixes kept after each frame.
pub const BEAM_WIDTH: usize = 8;

/// A character is tried as an extension only at frames where the model gives it at least this
/// posterior. Under CTC's frame independence many faint frames add up: 100 frames of blank
/// paper at 1 % `0` make `0` about as probable as nothing, so without a floor the beam reads
/// characters into empty space. A tenth of a frame's mass is what a character must show
/// somewhere to be read at all (fixed a priori, not fitted).
pub const MIN_CLASS_PROB: f32 = 0.1;

/// Decode `frames` x `classes` posteriors: greedy, then prefix beam search, keeping the more
/// probable reading (see the module doc).
pub fn decode(probs: &[f32], frames: usize, classes: usize, alphabet: &Alphabet) -> LineText {
    let greedy = greedy_chars(probs, frames, classes, alphabet);
    let probs = &probs[..frames * classes];
    let greedy_label: Vec<usize> = greedy
        .iter()
        .filter_map(|c| alphabet.class_of(c.ch))
        .collect();
    let beam_label = beam_labels(probs, classes, BEAM_WIDTH);
    if beam_label == greedy_label || beam_label.is_empty() {
        return clean_line(greedy, frames);
    }
    if ctc_log_prob(probs, classes, &beam_label) <= ctc_log_prob(probs, classes, &greedy_label) {
        return clean_line(greedy, frames);
    }
    let Some(spans) = ctc_align(probs, classes, &beam_label) else {
        return clean_line(greedy, frames);
    };
    let chars = beam_label
        .iter()
        .zip(spans)
        .filter_map(|(&k, (first, last, p))| {
            alphabet.char_of(k).map(|ch| RecognizedChar {
                ch,
                confidence: p,
                first_frame: first,
                last_frame: last,
            })
        })
        .collect();
    clean_line(chars, frames)
}

/// One node of the prefix tree: its parent and last class (the root has class 0).
#[derive(Clone, Copy)]
struct Node {
    parent: u32,
    class: u32,
}

/// Prefixes shared as a tree, so that extending one costs no copy.
struct PrefixTree {
    nodes: Vec<Node>,
    children: HashMap<(u32, u32), u32>,
}

impl PrefixTree {
    fn new() -> Self {
        PrefixTree {
            nodes: vec![Node {
                parent: 0,
                class: 0,
            }],
            children: HashMap::new(),
        }
    }

    /// The node for prefix `node` + `class`.
    fn child(&mut self, node: u32, class: u32) -> u32 {
        let next = self.nodes.len() as u32;
        *self.children.entry((node, class)).or_insert_with(|| {
            self.nodes.push(Node {
                parent: node,
                class,
            });
            next
        })
    }

    /// Classes of the prefix ending at `node`, first to last.
    fn label(&self, mut node: u32) -> Vec<usize> {
        let mut out = Vec::new();
        while node != 0 {
            let n = self.nodes[node as usize];
            out.push(n.class as usize);
            node = n.parent;
        }
        out.reverse();
        out
    }
}

/// Probability of a prefix ending in a blank and ending in its last character, scaled by a
/// common factor per frame (only ratios between prefixes matter).
#[derive(Clone, Copy, Default)]
struct Mass {
    blank: f64,
    last: f64,
}

impl Mass {
    fn total(self) -> f64 {
        self.blank + self.last
    }
}

/// The most probable labelling (class indices, no blanks) of `probs` (`frames x classes`, blank
/// at class 0) found by prefix beam search of `width` prefixes.
pub fn beam_labels(probs: &[f32], classes: usize, width: usize) -> Vec<usize> {
    let mut tree = PrefixTree::new();
    let mut beam: Vec<(u32, Mass)> = vec![(
        0,
        Mass {
            blank: 1.0,
            last: 0.0,
        },
    )];
    let mut next: HashMap<u32, Mass> = HashMap::new();
    let mut tried: Vec<(usize, f64)> = Vec::new();
    for row in probs.chunks_exact(classes.max(1)) {
        tried.clear();
        tried.extend(
            row.iter()
                .enumerate()
                .skip(1)
                .filter(|&(_, &p)| p >= MIN_CLASS_PROB)
                .map(|(k, &p)| (k, p as f64)),
        );
        let blank = row[0] as f64;
        next.clear();
        for &(node, m) in &beam {
            next.entry(node).or_default().blank += m.total() * blank;
            let last = tree.nodes[node as usize].class as usize;
            for &(k, p) in &tried {
                let child = tree.child(node, k as u32);
                if node != 0 && k == last {
                    // A repeat continues the last character unless a blank split them.
                    next.entry(node).or_default().last += m.last * p;
                    next.entry(child).or_default().last += m.blank * p;
                } else {
                    next.entry(child).or_default().last += m.total() * p;
                }
            }
        }
        beam.clear();
        beam.extend(next.iter().map(|(&n, &m)| (n, m)));
        beam.sort_unstable_by(|a, b| b.1.total().total_cmp(&a.1.total()).then(a.0.cmp(&b.0)));
        beam.truncate(width.max(1));
        let scale = beam.first().map_or(1.0, |b| b.1.total());
        if scale > 0.0 {
            for b in &mut beam {
                b.1.blank /= scale;
                b.1.last /= scale;
            }
        }
    }
    beam.first().map_or_else(Vec::new, |b| tree.label(b.0))
}

#[cfg(test)]
mod tests {
    use super::super::ctc_score::posteriors;
    use super::*;

    #[test]
    fn beam_reads_a_character_greedy_drops() {
        let a = Alphabet::default();
        let classes = a.num_classes();
        // "a", then two frames at 40 % '1': greedy reads "a", the reading "a1" is more likely.
        let probs = posteriors(&a, &[&[('a', 0.9)], &[('1', 0.4)], &[('1', 0.4)]]);
        let greedy = super::super::ctc::greedy_decode(&probs, 3, classes, &a);
        assert_eq!(greedy.text, "a");
        let out = decode(&probs, 3, classes, &a);
        assert_eq!(out.text, "a1");
        assert_eq!(out.chars.len(), 2);
        assert!((out.chars[1].confidence - 0.4).abs() < 1e-6);
        assert!((1..=2).contains(&out.chars[1].first_frame));
    }

    #[test]
    fn beam_keeps_confident_readings_and_splits_doubled_letters() {
        let a = Alphabet::default();
        let classes = a.num_classes();
        let probs = posteriors(
            &a,
            &[
                &[('o', 0.99)],
                &[],
                &[('o', 0.99)],
                &[('k', 0.98)],
                &[(' ', 0.97)],
                &[('x', 0.99)],
            ],
        );
        let greedy = super::super::ctc::greedy_decode(&probs, 6, classes, &a);
        assert_eq!(decode(&probs, 6, classes, &a), greedy);
        assert_eq!(greedy.text, "ook x");
        let label: String = beam_labels(&probs, classes, BEAM_WIDTH)
            .iter()
            .filter_map(|&k| a.char_of(k))
            .collect();
        assert_eq!(label, "ook x");
    }

    #[test]
    fn faint_frames_do_not_add_up_to_a_character() {
        let a = Alphabet::default();
        let classes = a.num_classes();
        // 100 frames at 5 % '0': summed over paths '0' is far more probable than nothing, but
        // no frame shows it; the beam must not read it into blank paper.
        let faint: &[(char, f32)] = &[('0', 0.05)];
        let probs = posteriors(&a, &[faint; 100]);
        assert_eq!(decode(&probs, 100, classes, &a).text, "");
    }

    #[test]
    fn empty_and_all_blank_lines_decode_to_nothing() {
        let a = Alphabet::default();
        let classes = a.num_classes();
        assert_eq!(decode(&[], 0, classes, &a).text, "");
        let probs = posteriors(&a, &[&[], &[]]);
        assert_eq!(decode(&probs, 2, classes, &a).text, "");
        assert!(beam_labels(&probs, classes, 4).is_empty());
    }
}
