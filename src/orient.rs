//! Page orientation decided by reading.
//!
//! The preprocess stage's profile test ([`crate::preprocess::detect_orientation`]) only
//! *proposes* a quarter turn: ink profiles cannot tell an all-capitals receipt from its
//! upside-down twin, and a narrow receipt or a ruled form can look sideways. This stage decides.
//! It reads a sample of the laid-out page's lines with the recogniser under each candidate
//! orientation and keeps the page as it was scanned unless a turned reading is clearly better:
//!
//! 1. the sample (up to [`SAMPLE_LINES`] of the page's body-text lines, most words first) is
//!    read as laid out and turned half a turn (the same line images reversed: no second
//!    layout); a page left as scanned whose sample reads above `1 - MARGIN` stops after the
//!    first reading, since no other reading could beat it by [`MARGIN`];
//! 2. when the proposal was a quarter turn, or neither of those readings is clear (mean character
//!    confidence under [`CLEAR_READING`]: a page that reads badly under one hypothesis is tried
//!    under another), the prepared page is turned a quarter turn, laid out again, and its sample
//!    read both ways too;
//! 3. the orientation whose reading has the highest mean character confidence wins, weighed by
//!    how much was read ([`ReadScore::evidence`]: a sample that is one sideways page number says
//!    little), but a turn away from the scan's own orientation must beat the scan's reading by
//!    [`MARGIN`];
//! 4. when the winner is not what preprocessing did, the page is preprocessed again with that
//!    rotation forced (skew re-measured along the right axis) and laid out again.
//!
//! The thresholds were chosen on every page of the dev and tune sets turned by 0, 90, 180 and
//! 270 degrees (`scripts/robustness.sh`), not on single pages.

use image::DynamicImage;

use crate::error::Result;
use crate::geometry::BBox;
use crate::layout::{LayoutOptions, PageLayout, analyze};
use crate::preprocess::{PreparedPage, PreprocessOptions, preprocess};
use crate::recognize::{LINE_HEIGHT, LineImage, LineText, Recognizer, normalize_page_line};

/// Lines read per orientation hypothesis, at most.
pub const SAMPLE_LINES: usize = 6;
/// Widest line sampled, in its own heights (longer lines are read over this much of their box
/// only: enough characters to judge, and a bounded cost).
const MAX_SAMPLE_ASPECT: u32 = 24;
/// Tallest line box sampled, in its glyph heights: a text line's box (ascenders, descenders)
/// is about twice its glyph height; taller boxes are pictures, stamps or merged lines.
const MAX_SAMPLE_BOX_HEIGHT: f32 = 2.5;
/// Narrowest line sampled, in its own heights: a line of two or three characters says little.
const MIN_SAMPLE_ASPECT: u32 = 3;
/// A reading whose mean character confidence reaches this is clear: the quarter-turn
/// hypotheses are not tried unless the profile test proposed one.
pub const CLEAR_READING: f32 = 0.80;
/// How much higher the mean character confidence of a turned reading must be than the scan's
/// own (rotation 0) for the page to be turned.
pub const MARGIN: f32 = 0.08;
/// Lowest mean character confidence of a turned reading for the page to be turned: a page that
/// reads badly every way (a picture, a bad scan) stays as scanned.
pub const MIN_TURNED_READING: f32 = 0.6;

/// Characters of prior belief added to every reading in [`ReadScore::evidence`] (a sample of
/// six body-text lines holds 100-200 characters).
pub const PRIOR_CHARS: f32 = 20.0;
/// Confidence of those prior characters: no evidence either way.
pub const PRIOR_CONFIDENCE: f32 = 0.5;

/// How well a sample of lines reads: its characters (spaces aside) and their confidences.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadScore {
    /// Characters read, spaces not counted.
    pub chars: usize,
    /// Sum of their confidences.
    pub confidence_sum: f32,
}

impl ReadScore {
    /// Score of the readings of a sample.
    pub fn of(texts: &[LineText]) -> ReadScore {
        let mut s = ReadScore::default();
        for c in texts.iter().flat_map(|t| t.chars.iter()) {
            if !c.ch.is_whitespace() {
                s.chars += 1;
                s.confidence_sum += c.confidence;
            }
        }
        s
    }

    /// Mean character confidence (0 when nothing was read).
    pub fn mean(&self) -> f32 {
        if self.chars == 0 {
            0.0
        } else {
            self.confidence_sum / self.chars as f32
        }
    }

    /// The mean character confidence as evidence, weighed by how much was read: the mean of
    /// the characters read and [`PRIOR_CHARS`] more at [`PRIOR_CONFIDENCE`]. A hypothesis
    /// under which the sample is one stamp or page number (a few characters, read in its own
    /// orientation) does not outweigh six lines of body text read under another.
    pub fn evidence(&self) -> f32 {
        (self.confidence_sum + PRIOR_CHARS * PRIOR_CONFIDENCE) / (self.chars as f32 + PRIOR_CHARS)
    }
}

/// What the orientation check found for one page.
#[derive(Debug, Clone, PartialEq)]
pub struct OrientationDecision {
    /// Clockwise turn the profile test proposed (what preprocessing did).
    pub proposed: u32,
    /// Clockwise turn chosen by reading.
    pub chosen: u32,
    /// Each tried turn and its reading's [`ReadScore::evidence`].
    pub scores: Vec<(u32, f32)>,
    /// When the page is kept as laid out: the sample lines read whole (not cut to
    /// [`MAX_SAMPLE_ASPECT`]) with their readings, which are what reading those lines again
    /// would give ([`crate::pipeline::LaidOutPage::into_lines`]); empty otherwise.
    pub readings: Vec<(BBox, LineText)>,
}

/// The boxes of the sample read under each hypothesis: lines of body-text height (not titles,
/// logos or specks), at least [`MIN_SAMPLE_ASPECT`] heights wide, those of most words first
/// (text rather than rules, bars or pictures), then the widest, each cut to
/// [`MAX_SAMPLE_ASPECT`] heights from its left edge.
pub fn sample_lines(layout: &PageLayout) -> Vec<BBox> {
    sample_lines_marked(layout)
        .into_iter()
        .map(|(b, _)| b)
        .collect()
}

/// [`sample_lines`], each box with whether it is its line's whole box (not cut).
fn sample_lines_marked(layout: &PageLayout) -> Vec<(BBox, bool)> {
    let ch = layout.char_height.max(1.0);
    let mut lines: Vec<(usize, BBox)> = layout
        .blocks
        .iter()
        .flat_map(|b| b.lines.iter())
        .filter(|l| {
            (0.6 * ch..=1.8 * ch).contains(&l.char_height)
                && l.bbox.height() as f32 <= MAX_SAMPLE_BOX_HEIGHT * l.char_height
        })
        .map(|l| (l.words.len().min(6), l.bbox))
        .filter(|(_, b)| b.height() > 0 && b.width() >= MIN_SAMPLE_ASPECT * b.height())
        .collect();
    lines.sort_by_key(|&(w, b)| {
        std::cmp::Reverse((w, b.width().min(MAX_SAMPLE_ASPECT * b.height())))
    });
    lines
        .into_iter()
        .take(SAMPLE_LINES)
        .map(|(_, mut b)| {
            let cut = b.x1.min(b.x0 + MAX_SAMPLE_ASPECT * b.height());
            let whole = cut == b.x1;
            b.x1 = cut;
            (b, whole)
        })
        .collect()
}

/// A line image turned half a turn: its content reversed in both axes, padding kept at the right.
pub fn turn_half(line: &LineImage) -> LineImage {
    let (w, cw) = (line.width, line.content_width.min(line.width));
    let mut pixels = vec![0.0f32; line.pixels.len()];
    for y in 0..LINE_HEIGHT {
        let src = &line.pixels[(LINE_HEIGHT - 1 - y) * w..(LINE_HEIGHT - y) * w];
        let dst = &mut pixels[y * w..(y + 1) * w];
        for x in 0..cw {
            dst[x] = src[cw - 1 - x];
        }
    }
    LineImage {
        pixels,
        views: Vec::new(),
        ..line.clone()
    }
}

/// How a sample read as laid out, and half a turn round when that was needed.
struct SampleReading {
    here: ReadScore,
    turned: Option<ReadScore>,
    /// The readings as laid out, one per sample box.
    texts: Vec<LineText>,
}

/// Read the sample `boxes` of `gray` as they stand, then turned half a turn unless `enough`
/// says the first reading already settles the question.
fn read_sample(
    recognizer: &dyn Recognizer,
    gray: &image::GrayImage,
    boxes: &[BBox],
    enough: impl Fn(&ReadScore) -> bool,
) -> Result<SampleReading> {
    if boxes.is_empty() {
        return Ok(SampleReading {
            here: ReadScore::default(),
            turned: Some(ReadScore::default()),
            texts: Vec::new(),
        });
    }
    let upright: Vec<LineImage> = boxes
        .iter()
        .map(|&b| normalize_page_line(gray, b, false))
        .collect();
    let texts = recognizer.recognize(&upright)?;
    let here = ReadScore::of(&texts);
    for (bx, t) in boxes.iter().zip(&texts) {
        tracing::trace!(?bx, text = %t.text, "orientation sample");
    }
    if enough(&here) {
        return Ok(SampleReading {
            here,
            turned: None,
            texts,
        });
    }
    let images: Vec<LineImage> = upright.iter().map(turn_half).collect();
    let turned = recognizer.recognize(&images)?;
    for (bx, t) in boxes.iter().zip(&turned) {
        tracing::trace!(?bx, text = %t.text, "orientation sample turned");
    }
    Ok(SampleReading {
        here,
        turned: Some(ReadScore::of(&turned)),
        texts,
    })
}

/// The turn to keep: the best-reading one, unless it is a turn away from the scan's own
/// orientation (0) that does not read clearly ([`MIN_TURNED_READING`]) or does not beat the
/// scan's reading by [`MARGIN`].
pub fn choose(scores: &[(u32, f32)]) -> u32 {
    let Some(&(best, best_score)) = scores.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return 0;
    };
    let upright = scores.iter().find(|s| s.0 == 0).map_or(0.0, |s| s.1);
    if best != 0 && (best_score < upright + MARGIN || best_score < MIN_TURNED_READING) {
        0
    } else {
        best
    }
}

/// A page preprocessed with its quarter turn forced, and its layout.
fn prepared_at(
    image: &DynamicImage,
    preprocess_opts: &PreprocessOptions,
    layout_opts: &LayoutOptions,
    rotation: u32,
) -> (PreparedPage, PageLayout) {
    let forced = PreprocessOptions {
        rotation: Some(rotation),
        ..preprocess_opts.clone()
    };
    let prepared = preprocess(image, &forced);
    let layout = analyze(&prepared.binary, layout_opts);
    (prepared, layout)
}

/// Decide the orientation of a page already preprocessed and laid out (by the CPU or by
/// batched GPU kernels) by reading: the page comes back unchanged when reading agrees with its
/// turn (or orientation detection is off), else preprocessed and laid out again with the chosen
/// turn forced. Also returns the decision, when one was made (see the module documentation for
/// the steps).
pub fn settle(
    image: &DynamicImage,
    preprocess_opts: &PreprocessOptions,
    layout_opts: &LayoutOptions,
    recognizer: &dyn Recognizer,
    prepared: PreparedPage,
    layout: PageLayout,
) -> Result<(PreparedPage, PageLayout, Option<OrientationDecision>)> {
    if !preprocess_opts.detect_orientation || preprocess_opts.rotation.is_some() {
        return Ok((prepared, layout, None));
    }
    let proposed = prepared.transform.rotation % 360;
    let mut scores: Vec<(u32, f32)> = Vec::with_capacity(4);
    // A scan read as laid out at 1 - MARGIN or better cannot be beaten by MARGIN: no other
    // reading is needed (most upright pages stop here, after one read of the sample).
    let settled = |r: &ReadScore| proposed == 0 && r.mean() > 1.0 - MARGIN;
    let marked = sample_lines_marked(&layout);
    let boxes: Vec<BBox> = marked.iter().map(|&(b, _)| b).collect();
    let first = read_sample(recognizer, &prepared.gray, &boxes, settled)?;
    // What the sample read of whole lines, for the page's own reading if it stays as laid out.
    let readings: Vec<(BBox, LineText)> = marked
        .iter()
        .zip(&first.texts)
        .filter(|((_, whole), _)| *whole)
        .map(|(&(b, _), t)| (b, t.clone()))
        .collect();
    scores.push((proposed, first.here.evidence()));
    let Some(turned) = first.turned else {
        let decision = OrientationDecision {
            proposed,
            chosen: proposed,
            scores,
            readings,
        };
        tracing::debug!(?decision, "orientation by reading");
        return Ok((prepared, layout, Some(decision)));
    };
    scores.push(((proposed + 180) % 360, turned.evidence()));
    let clear = first.here.mean().max(turned.mean()) >= CLEAR_READING;
    // The quarter-turn hypotheses are preprocessed in their own right: the skew measured under
    // a wrong orientation is not the page's, and a page deskewed by it reads badly.
    let mut quarter = None;
    if !proposed.is_multiple_of(180) || !clear {
        let q = (proposed + 90) % 360;
        let (p, l) = prepared_at(image, preprocess_opts, layout_opts, q);
        let r = read_sample(recognizer, &p.gray, &sample_lines(&l), |_| false)?;
        scores.push((q, r.here.evidence()));
        scores.push(((q + 180) % 360, r.turned.unwrap_or_default().evidence()));
        quarter = Some((q, p, l));
    }
    let chosen = choose(&scores);
    let decision = OrientationDecision {
        proposed,
        chosen,
        scores,
        readings: if chosen == proposed {
            readings
        } else {
            Vec::new()
        },
    };
    tracing::debug!(?decision, "orientation by reading");
    let (prepared, layout) = match quarter {
        _ if decision.chosen == proposed => (prepared, layout),
        Some((q, p, l)) if q == decision.chosen => (p, l),
        _ => prepared_at(image, preprocess_opts, layout_opts, decision.chosen),
    };
    Ok((prepared, layout, Some(decision)))
}

/// For each of a page's lines (boxes in reading order), the reading the orientation check
/// already made of it, if any (`known`: [`OrientationDecision::readings`]).
pub fn known_readings(boxes: &[BBox], known: &[(BBox, LineText)]) -> Vec<Option<LineText>> {
    boxes
        .iter()
        .map(|b| known.iter().find(|(k, _)| k == b).map(|(_, t)| t.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_keeps_the_scan_unless_a_turn_reads_clearly_better() {
        assert_eq!(choose(&[(0, 0.90), (180, 0.95)]), 0);
        assert_eq!(choose(&[(0, 0.60), (180, 0.95)]), 180);
        assert_eq!(choose(&[(90, 0.70), (270, 0.72), (0, 0.68), (180, 0.5)]), 0);
        assert_eq!(
            choose(&[(90, 0.93), (270, 0.40), (0, 0.55), (180, 0.5)]),
            90
        );
        // Nothing reads clearly: the page stays as scanned.
        assert_eq!(
            choose(&[(90, 0.48), (270, 0.38), (0, 0.28), (180, 0.27)]),
            0
        );
        assert_eq!(choose(&[]), 0);
    }

    #[test]
    fn a_few_characters_read_clearly_do_not_outweigh_lines_of_text() {
        // funsd_80728670 turned by 270°: as scanned, the only sample line is the page number
        // printed along the margin (8 characters at 0.96); a quarter turn reads six lines of
        // body text (250 characters at 0.97). By mean confidence alone the scan would stay.
        let stamp = ReadScore {
            chars: 8,
            confidence_sum: 8.0 * 0.96,
        };
        let body = ReadScore {
            chars: 250,
            confidence_sum: 250.0 * 0.97,
        };
        assert_eq!(choose(&[(90, body.mean()), (0, stamp.mean())]), 0);
        assert_eq!(choose(&[(90, body.evidence()), (0, stamp.evidence())]), 90);
        // Evidence approaches the mean as more is read, and nothing read is no evidence.
        assert!((body.evidence() - body.mean()).abs() < 0.04);
        assert_eq!(ReadScore::default().evidence(), PRIOR_CONFIDENCE);
    }

    #[test]
    fn readings_are_found_by_their_lines_box() {
        let boxes: Vec<BBox> = (0..4)
            .map(|i| BBox::new(0, i * 40, 300, i * 40 + 30))
            .collect();
        let text = |t: &str| LineText {
            text: t.into(),
            ..Default::default()
        };
        let known = vec![
            (boxes[2], text("known two")),
            (boxes[0], text("known zero")),
            // A box that is no line of the page is ignored.
            (BBox::new(1, 1, 2, 2), text("stray")),
        ];
        let found: Vec<Option<String>> = known_readings(&boxes, &known)
            .into_iter()
            .map(|t| t.map(|t| t.text))
            .collect();
        assert_eq!(
            found,
            [
                Some("known zero".into()),
                None,
                Some("known two".into()),
                None
            ]
        );
    }

    #[test]
    fn turn_half_reverses_content_and_keeps_padding() {
        let mut pixels = vec![0.0f32; LINE_HEIGHT * 8];
        pixels[0] = 1.0; // top-left
        pixels[LINE_HEIGHT * 8 - 8 + 4] = 0.5; // bottom row, column 4
        let line = LineImage {
            width: 8,
            content_width: 5,
            pixels,
            source_x0: 0.0,
            source_y0: 0.0,
            scale_x: 1.0,
            scale_y: 1.0,
            ink_box: BBox::new(0, 0, 5, 32),
            views: Vec::new(),
        };
        let t = turn_half(&line);
        assert_eq!(t.pixels[(LINE_HEIGHT - 1) * 8 + 4], 1.0); // to bottom, column cw-1
        assert_eq!(t.pixels[0], 0.5); // bottom column 4 to top column 0
        assert_eq!(turn_half(&t).pixels, line.pixels);
        assert!(t.pixels[5..8].iter().all(|&v| v == 0.0));
    }
}
