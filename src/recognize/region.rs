//! Reading a labelled box that may hold vertical text.
//!
//! A box a user (or an annotator) draws around "a line" is sometimes text set vertically in a
//! margin (Bates numbers, spine labels, rotated table headers). The recogniser reads upright
//! lines, so a box at least [`VERTICAL_ASPECT`] times taller than wide is planned as three
//! *readings*: upright, and turned a quarter turn each way. All readings of all boxes are
//! recognised in one batch, and each box keeps the reading with the highest sum of character
//! confidences (spaces excluded): an upright reading of vertical text yields a character or
//! two from a sliver of a line image, a wrongly turned one yields uncertain characters.

use image::{GrayImage, imageops};

use super::views::reading_score;
use super::{LineText, Recognizer};
use crate::error::Result;
use crate::geometry::BBox;
use crate::lines::normalize::{LineImage, normalize_page_line};

/// A box at least this many times taller than wide is also read turned a quarter turn each
/// way. Upright single characters ('1', ':', 'l') in the dev set's boxes stay below 2.7.
pub const VERTICAL_ASPECT: f32 = 3.0;

/// The ways one box may be read.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionPlan {
    /// One normalised line image per reading; the first is upright. Images of turned readings
    /// are cut from the turned crop, so their page coordinates refer to that crop.
    pub readings: Vec<LineImage>,
}

/// Plan how to read the box `bbox` of `gray` (see the module docs); with `views`, every reading
/// carries its views for the recogniser's second look ([`super::views`]).
pub fn plan_region(gray: &GrayImage, bbox: BBox, views: bool) -> RegionPlan {
    let mut readings = vec![normalize_page_line(gray, bbox, views)];
    let b = bbox.clamp(gray.width(), gray.height());
    if !b.is_empty() && b.height() as f32 >= VERTICAL_ASPECT * b.width() as f32 {
        let crop = imageops::crop_imm(gray, b.x0, b.y0, b.width(), b.height()).to_image();
        for turned in [imageops::rotate90(&crop), imageops::rotate270(&crop)] {
            let whole = BBox::new(0, 0, turned.width(), turned.height());
            readings.push(normalize_page_line(&turned, whole, views));
        }
    }
    RegionPlan { readings }
}

/// Recognise every reading of every plan in one call to `recognizer` and keep each box's best
/// reading (see the module docs); one [`LineText`] per plan, in order.
pub fn read_regions(recognizer: &dyn Recognizer, plans: &[&RegionPlan]) -> Result<Vec<LineText>> {
    let images: Vec<LineImage> = plans
        .iter()
        .flat_map(|p| p.readings.iter().cloned())
        .collect();
    let mut texts = recognizer.recognize(&images)?.into_iter();
    Ok(plans
        .iter()
        .map(|plan| best_reading(texts.by_ref().take(plan.readings.len())))
        .collect())
}

/// The reading with the highest [`reading_score`]; the earliest on ties (upright first).
fn best_reading(readings: impl Iterator<Item = LineText>) -> LineText {
    let mut best: Option<(f32, LineText)> = None;
    for r in readings {
        let s = reading_score(&r);
        if best.as_ref().is_none_or(|(b, _)| s > *b) {
            best = Some((s, r));
        }
    }
    best.map(|(_, r)| r).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recognize::LINE_HEIGHT;
    use crate::recognize::ctc::test_line;
    use image::Luma;

    fn fill(g: &mut GrayImage, x0: u32, y0: u32, x1: u32, y1: u32) {
        for y in y0..y1 {
            for x in x0..x1 {
                g.put_pixel(x, y, Luma([20]));
            }
        }
    }

    /// A page with eight glyph blocks stacked vertically (a vertical line) at x 40..52.
    fn vertical_page() -> GrayImage {
        let mut g = GrayImage::from_pixel(100, 200, Luma([240]));
        for i in 0..8 {
            fill(&mut g, 40, 20 + i * 11, 52, 28 + i * 11);
        }
        g
    }

    #[test]
    fn wide_boxes_are_read_upright_only() {
        let mut g = GrayImage::from_pixel(200, 100, Luma([240]));
        for i in 0..8 {
            fill(&mut g, 50 + i * 11, 40, 58 + i * 11, 52);
        }
        let plan = plan_region(&g, BBox::new(45, 35, 140, 57), false);
        assert_eq!(plan.readings.len(), 1);
        assert_eq!(plan.readings[0].ink_box, BBox::new(50, 40, 135, 52));
    }

    #[test]
    fn tall_narrow_boxes_are_also_read_turned() {
        let plan = plan_region(&vertical_page(), BBox::new(38, 15, 55, 120), false);
        assert_eq!(plan.readings.len(), 3);
        assert!(plan.readings[0].content_width < LINE_HEIGHT);
        for turned in &plan.readings[1..] {
            assert!(
                turned.content_width > 4 * LINE_HEIGHT,
                "{}",
                turned.content_width
            );
        }
    }

    /// Reads a line as "long" (confidently) when it is wide and "x" otherwise.
    struct ByWidth;
    impl Recognizer for ByWidth {
        fn recognize(&self, lines: &[LineImage]) -> Result<Vec<LineText>> {
            Ok(lines
                .iter()
                .map(|l| {
                    let t = if l.content_width > 64 { "long" } else { "x" };
                    test_line(t, |_| 0.9)
                })
                .collect())
        }
        fn describe(&self) -> String {
            "by width".into()
        }
    }

    #[test]
    fn the_most_confident_reading_wins() {
        // A short upright word: two strokes (solid blocks would read as rules).
        let mut wide = GrayImage::from_pixel(200, 100, Luma([240]));
        fill(&mut wide, 80, 40, 82, 52);
        fill(&mut wide, 86, 40, 88, 52);
        let plans = [
            plan_region(&vertical_page(), BBox::new(38, 15, 55, 120), false),
            plan_region(&wide, BBox::new(75, 35, 95, 57), false),
        ];
        let texts = read_regions(&ByWidth, &[&plans[0], &plans[1]]).expect("read");
        assert_eq!(texts[0].text, "long");
        assert_eq!(texts[1].text, "x");
    }
}
