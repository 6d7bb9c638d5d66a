//! Other views of a line, for a second look at lines the model is unsure of.
//!
//! The CRNN's reading of a line depends a little on how the line is framed: a few more model
//! columns per character, or a little more paper above and below, turn some misreadings into
//! right ones and some right ones into misreadings. With the second look on (`--second-look`,
//! [`super::CrnnRecognizer::with_second_look`]), when the first reading of a line has a
//! character the model gives less than [`SECOND_LOOK_BELOW`], the recogniser also reads the
//! line's views and keeps the reading with the highest sum of character confidences (the same
//! rule that picks the way a vertical box is turned, [`super::region`]); the first reading
//! wins ties.
//!
//! The views are [`SECOND_LOOK_VIEWS`]: the line 10 % wider ([`LineGeometry::stretched`]) and
//! the line framed with 10 % more of its window above and below ([`LineGeometry::loosened`]),
//! both resampled from the page (not from the normalised line: the looser window shows page
//! pixels the first one cut off). Normalisation draws them beside the line
//! ([`super::normalize::normalize_line_with_views`], and the GPU twin) when the recogniser
//! reads them ([`super::Recognizer::reads_views`]); training lines carry none.
//!
//! The views and the threshold were chosen on the dev set's 2,152 real line crops (the shared
//! evaluation lines, our only real labelled lines): CER-ci 0.0752 → 0.0704 and ECE 0.0495 →
//! 0.0475 with the shipped model, a fifth of the lines read again. On whole dev pages it
//! changed nothing measurable (CER-ci 0.166 both ways) while a third of the layout's lines
//! were read again, which is why it is off by default.

use super::ctc::LineText;
use crate::lines::normalize::{LineImage, WIDTH_MULTIPLE};
pub use crate::lines::views::SECOND_LOOK_VIEWS;

/// A line whose least confident non-space character is below this gets a second look.
pub const SECOND_LOOK_BELOW: f32 = 0.5;

/// Sum of the confidences of a reading's non-space characters: how readings of one line (its
/// views, or the ways a box is turned) are compared.
pub fn reading_score(text: &LineText) -> f32 {
    text.chars
        .iter()
        .filter(|c| c.ch != ' ')
        .map(|c| c.confidence)
        .sum()
}

/// Whether `text` is unsure enough for a second look: a non-space character below
/// [`SECOND_LOOK_BELOW`], or nothing read at all.
pub fn wants_second_look(text: &LineText) -> bool {
    text.chars
        .iter()
        .filter(|c| c.ch != ' ')
        .map(|c| c.confidence)
        .reduce(f32::min)
        .is_none_or(|least| least < SECOND_LOOK_BELOW)
}

/// Express a reading of `view` in the frames of `line` (same page, other framing), so that
/// character boxes are placed from `line` as usual.
pub fn into_line_frames(mut text: LineText, view: &LineImage, line: &LineImage) -> LineText {
    let m = WIDTH_MULTIPLE as f32;
    let frames = line.content_width.div_ceil(WIDTH_MULTIPLE);
    let to_line = |frame: usize, edge: f32| -> usize {
        let page_x = view.column_to_page_x(frame as f32 * m + edge);
        let col = (page_x - line.source_x0) * line.scale_x;
        ((col / m).floor().max(0.0) as usize).min(frames.saturating_sub(1))
    };
    for c in &mut text.chars {
        c.first_frame = to_line(c.first_frame, 0.5);
        c.last_frame = to_line(c.last_frame, m - 0.5).max(c.first_frame);
    }
    text.frames = frames;
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BBox;
    use crate::lines::normalize::{line_geometry, resample_line};
    use crate::lines::views::tests::page_with_bar;
    use crate::recognize::ctc::test_line;

    #[test]
    fn readings_of_a_view_land_on_the_lines_frames() {
        let page = page_with_bar();
        let geo = line_geometry(&page, BBox::new(80, 30, 130, 70));
        let line = resample_line(&page, &geo);
        let view = resample_line(&page, &geo.stretched(2.0));
        // A character over view frames 4..=5 covers page columns that are frames 2 of the line.
        let mut t = test_line("I", |_| 0.9);
        t.chars[0].first_frame = 4;
        t.chars[0].last_frame = 5;
        let t = into_line_frames(t, &view, &line);
        assert_eq!((t.chars[0].first_frame, t.chars[0].last_frame), (2, 2));
        assert_eq!(t.frames, line.content_width.div_ceil(WIDTH_MULTIPLE));
    }

    #[test]
    fn only_unsure_or_empty_readings_get_a_second_look() {
        assert!(!wants_second_look(&test_line("ok it", |_| 0.9)));
        assert!(wants_second_look(&test_line("ok it", |i| if i == 3 {
            0.3
        } else {
            0.9
        })));
        assert!(wants_second_look(&LineText::default()));
        let a = test_line("ab", |_| 0.6);
        assert!((reading_score(&a) - 1.2).abs() < 1e-6);
    }
}
