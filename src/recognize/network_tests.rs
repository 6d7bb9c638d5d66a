//! The recogniser's decoding, lexicon and confidences driven end to end by a fake network
//! ([`super::network::fake::FakeNetwork`]): posteriors written by hand go through the real
//! pass planning, CTC greedy and beam decoding, lexicon correction, numeric context and the
//! assembler's confidence aggregation.

use std::sync::atomic::Ordering;

use super::alphabet::Alphabet;
use super::ctc_score::posteriors;
use super::lexicon::Lexicon;
use super::network::fake::FakeNetwork;
use super::*;
use crate::assemble::{PageContext, assemble_page};
use crate::document::StageTimings;
use crate::geometry::BBox;
use crate::layout::{LayoutBlock, LayoutLine, PageLayout};
use crate::preprocess::PageTransform;

/// A blank line image `width` columns wide (the fake reads by width, not by pixels).
fn line(width: usize) -> LineImage {
    LineImage::from_pixels(width, vec![0.0; LINE_HEIGHT * width])
}

/// `frames` as posteriors, padded with blank frames to `width / 4`.
fn scripted(a: &Alphabet, width: usize, frames: &[&[(char, f32)]]) -> Vec<f32> {
    let mut all: Vec<&[(char, f32)]> = frames.to_vec();
    all.resize(width.div_ceil(WIDTH_MULTIPLE), &[]);
    posteriors(a, &all)
}

#[test]
fn greedy_and_beam_decoding_read_the_networks_posteriors() {
    let a = Alphabet::default();
    // Two frames, each 0.4 `a` and 0.6 blank: the best path is blank-blank (greedy reads
    // nothing), but the paths that read `a` sum to 0.64 (beam search reads `a`).
    let faint = scripted(&a, 8, &[&[('a', 0.4)], &[('a', 0.4)]]);
    let sure = scripted(&a, 24, &[&[('o', 0.9)], &[], &[('k', 0.8)]]);
    let net = || {
        FakeNetwork::new(&a)
            .script(8, faint.clone())
            .script(24, sure.clone())
    };
    let lines = [line(8), line(24)];

    let greedy = LineRecognizer::from_network(net(), a.clone()).greedy();
    let read = greedy.recognize(&lines).expect("read");
    assert_eq!((read[0].text.as_str(), read[1].text.as_str()), ("", "ok"));
    // Both lines went through one pass, the narrow one padded: its frames are its own.
    assert_eq!(greedy.network().passes.load(Ordering::Relaxed), 1);
    assert_eq!((read[0].frames, read[1].frames), (2, 6));
    let conf: Vec<f32> = read[1].chars.iter().map(|c| c.confidence).collect();
    assert_eq!(conf, [0.9, 0.8]);

    let beam = LineRecognizer::from_network(net(), a.clone());
    let read = beam.recognize(&lines).expect("read");
    assert_eq!((read[0].text.as_str(), read[1].text.as_str()), ("a", "ok"));
    // What the network said is also available as is, per line.
    let probs = beam.line_probabilities(&lines).expect("probabilities");
    assert_eq!(probs[0], faint);
    assert_eq!(probs[1], sure);
}

#[test]
fn passes_follow_the_networks_policy_and_lines_keep_their_order() {
    let a = Alphabet::default();
    let widths = [40usize, 8, 24, 16, 32];
    let mut net = FakeNetwork::new(&a).with_max_lines(2);
    let letters = ['v', 'w', 'x', 'y', 'z'];
    for (&w, &c) in widths.iter().zip(&letters) {
        net = net.script(w, scripted(&a, w, &[&[(c, 0.9)]]));
    }
    let rec = LineRecognizer::from_network(net, a);
    let lines: Vec<LineImage> = widths.iter().map(|&w| line(w)).collect();
    let read = rec.recognize(&lines).expect("read");
    let texts: Vec<&str> = read.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(texts, ["v", "w", "x", "y", "z"]);
    assert_eq!(rec.network().passes.load(Ordering::Relaxed), 3);
    let clock = rec.stage_seconds().expect("the recogniser keeps time");
    assert_eq!(clock.passes, 3);
    assert_eq!(clock.line_columns, widths.iter().sum::<usize>() as u64);
}

#[test]
fn the_lexicon_corrects_what_the_network_was_unsure_of() {
    let a = Alphabet::default();
    let lexicon = || Lexicon::from_text("total\ncash\nchange\n");
    let word = |first: &'static [(char, f32)]| {
        scripted(
            &a,
            32,
            &[
                first,
                &[],
                &[('o', 0.9)],
                &[('t', 0.9)],
                &[('a', 0.9)],
                &[('l', 0.9)],
            ],
        )
    };
    let unsure = word(&[('I', 0.5), ('T', 0.4)]);
    let sure = word(&[('I', 0.99), ('T', 0.005)]);
    for beam in [false, true] {
        let build = |probs: Vec<f32>, lexicon: Option<Lexicon>| {
            let rec =
                LineRecognizer::from_network(FakeNetwork::new(&a).script(32, probs), a.clone());
            let rec = if beam { rec } else { rec.greedy() };
            match lexicon {
                Some(l) => rec.with_lexicon(l),
                None => rec,
            }
        };
        let read = |r: &LineRecognizer<FakeNetwork>| r.recognize(&[line(32)]).unwrap()[0].clone();
        assert_eq!(
            read(&build(unsure.clone(), None)).text,
            "Iotal",
            "beam {beam}"
        );
        let corrected = read(&build(unsure.clone(), Some(lexicon())));
        assert_eq!(corrected.text, "Total", "beam {beam}");
        // The corrected letter carries a confidence like every other.
        let c = corrected.chars[0].confidence;
        assert!(c > 0.0 && c <= 1.0, "{:?}", corrected.chars[0]);
        // A letter the network was sure of is left alone.
        assert_eq!(read(&build(sure.clone(), Some(lexicon()))).text, "Iotal");
        // So is everything once the lexicon is switched off again.
        let off = build(unsure.clone(), Some(lexicon())).without_lexicon();
        assert_eq!(read(&off).text, "Iotal");
    }
}

#[test]
fn numeric_context_applies_to_what_the_network_read() {
    let a = Alphabet::default();
    // "1O.5O": letters O between digits around a decimal point read as zeros.
    let probs = scripted(
        &a,
        40,
        &[
            &[('1', 0.9)],
            &[],
            &[('O', 0.6)],
            &[],
            &[('.', 0.9)],
            &[],
            &[('5', 0.9)],
            &[],
            &[('O', 0.6)],
        ],
    );
    let rec = LineRecognizer::from_network(FakeNetwork::new(&a).script(40, probs), a).greedy();
    assert_eq!(rec.recognize(&[line(40)]).unwrap()[0].text, "10.50");
}

#[test]
fn confidences_aggregate_from_characters_to_the_page() {
    let a = Alphabet::default();
    // "ab cd": characters 0.9, 0.8, 0.55, 1.0 (the space 0.95).
    let probs = scripted(
        &a,
        40,
        &[
            &[('a', 0.9)],
            &[],
            &[('b', 0.8)],
            &[],
            &[(' ', 0.95)],
            &[],
            &[('c', 0.55)],
            &[],
            &[('d', 1.0)],
        ],
    );
    let ok = scripted(&a, 16, &[&[('o', 0.6)], &[], &[('k', 0.55)]]);
    let rec =
        LineRecognizer::from_network(FakeNetwork::new(&a).script(40, probs).script(16, ok), a)
            .greedy();
    let images = [line(40), line(16)];
    let texts = rec.recognize(&images).expect("read");
    let transform = PageTransform {
        original_width: 200,
        original_height: 100,
        rotation: 0,
        skew_degrees: 0.0,
        scale: 1.0,
        width: 200,
        height: 100,
    };
    let layout_line = |bbox: BBox| LayoutLine {
        bbox,
        words: vec![bbox],
        char_height: 20.0,
    };
    let (first, second) = (BBox::new(0, 0, 40, 32), BBox::new(0, 40, 16, 72));
    let layout = PageLayout {
        blocks: vec![LayoutBlock {
            bbox: BBox::new(0, 0, 40, 72),
            lines: vec![layout_line(first), layout_line(second)],
        }],
        char_height: 20.0,
    };
    let page = assemble_page(
        PageContext {
            index: 0,
            dpi: None,
            exif_orientation: None,
            transform: &transform,
            layout: &layout,
            review_threshold: 0.6,
            timings: StageTimings::default(),
        },
        &images,
        &texts,
    );
    let lines: Vec<&crate::document::Line> = page.blocks.iter().flat_map(|b| &b.lines).collect();
    assert_eq!(lines.len(), 2);
    let close = |x: f32, y: f32| (x - y).abs() < 1e-5;
    // A word: the product of its characters' confidences.
    let words: Vec<(&str, f32)> = lines[0]
        .words
        .iter()
        .map(|w| (w.text.as_str(), w.confidence))
        .collect();
    assert_eq!(words.len(), 2);
    assert!(
        close(words[0].1, 0.72) && close(words[1].1, 0.55),
        "{words:?}"
    );
    assert!(!lines[0].words[0].needs_review && lines[0].words[1].needs_review);
    // A line, block and page: the mean of their words' confidences weighted by length.
    assert!(close(lines[0].confidence, 0.635), "{}", lines[0].confidence);
    assert!(close(lines[1].confidence, 0.33), "{}", lines[1].confidence);
    let page_conf = (0.72 * 2.0 + 0.55 * 2.0 + 0.33 * 2.0) / 6.0;
    assert!(close(page.blocks[0].confidence, page_conf));
    assert!(close(page.confidence, page_conf), "{}", page.confidence);
    assert!(
        page.needs_review,
        "a line under the threshold flags the page"
    );
}
