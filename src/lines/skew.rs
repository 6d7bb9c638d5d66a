//! Per-line skew: the slope of a text line inside its box, so that line normalisation can read
//! it level.
//!
//! A page scanned 1.5° askew makes a 300 px wide line climb 8 px from one end to the other: in
//! its axis-aligned box the text wanders over most of the box height, a form rule above it
//! cuts across several rows (so no row looks like a rule), and the line, scaled to the model's
//! 32 px, reaches it small and slanted. The page pipeline deskews whole pages first, but
//! ground-truth boxes in `eval-lines`, synthetic training lines and lines whose page skew was
//! not fully removed still come in slanted.
//!
//! The slope is the one, among [`SLOPES_PER_SIDE`] steps of [`SHEAR_STEP`] either way, whose
//! row profile of the box's ink is sharpest (largest sum of squared row counts: text rows,
//! baselines and rules pile up on few rows when followed along their slope). It is kept only
//! when it sharpens the profile by [`MIN_GAIN`] over level and moves the line by at least
//! [`MIN_RISE`] pixels across the box; otherwise the line is read level, exactly as before.
//! Normalisation then reads the box along that slope: a vertical shear, `y_page = y + shear *
//! (x - cx)`, applied both when framing the line ([`sheared_copy`]) and when resampling it.

use image::{GrayImage, Luma};

use super::ink_box::has_contrast;
use crate::geometry::BBox;
use crate::histogram::{box_histogram as histogram, otsu, percentile};

/// Slope step between candidate shears (rows per column; 0.0025 ≈ 0.14°).
pub const SHEAR_STEP: f32 = 0.0025;
/// Candidate slopes on each side of level: up to 14 × 0.0025 = 0.035 (2°).
pub const SLOPES_PER_SIDE: i32 = 14;
/// The chosen slope must make the profile this much sharper than level.
pub const MIN_GAIN: f32 = 1.1;
/// ... and move the line by at least this many pixels over the box's width.
pub const MIN_RISE: f32 = 2.0;

/// The shear (rows per column) along which the text in `b` (clamped to the page) runs; 0.0
/// when the box reads best level or has no clear ink. `inverted`: light text on a dark ground.
pub fn estimate_shear(gray: &GrayImage, b: BBox, inverted: bool) -> f32 {
    let b = b.clamp(gray.width(), gray.height());
    let (w, h) = (b.width() as usize, b.height() as usize);
    let max_slope = SHEAR_STEP * SLOPES_PER_SIDE as f32;
    if b.is_empty() || (w as f32) * max_slope < MIN_RISE {
        return 0.0;
    }
    let hist = histogram(gray, b);
    if !has_contrast(&hist) {
        return 0.0;
    }
    let t = otsu(&hist);
    let mut ink: Vec<(i32, i32)> = Vec::new(); // (x - cx, y), in pixels of the box
    let cx = (w / 2) as i32;
    for y in 0..h {
        for x in 0..w {
            let v = gray.get_pixel(b.x0 + x as u32, b.y0 + y as u32)[0];
            if (v <= t) != inverted {
                ink.push((x as i32 - cx, y as i32));
            }
        }
    }
    let off = (max_slope * w as f32).ceil() as i32 + 1;
    let mut profile = vec![0u32; h + 2 * off as usize];
    let mut sharpness = |slope: f32| -> f64 {
        profile.iter_mut().for_each(|p| *p = 0);
        for &(dx, y) in &ink {
            let r = y - (slope * dx as f32).round() as i32 + off;
            profile[r as usize] += 1;
        }
        profile.iter().map(|&n| (n as f64) * (n as f64)).sum()
    };
    let level = sharpness(0.0);
    let (mut best, mut best_score) = (0.0f32, level);
    for k in (-SLOPES_PER_SIDE..=SLOPES_PER_SIDE).filter(|&k| k != 0) {
        let slope = k as f32 * SHEAR_STEP;
        let score = sharpness(slope);
        if score > best_score {
            (best, best_score) = (slope, score);
        }
    }
    if best_score < MIN_GAIN as f64 * level || best.abs() * (w as f32) < MIN_RISE {
        return 0.0;
    }
    best
}

/// A copy of the page around the box `b` read along `shear` about column `cx`: pixel `(x, r)`
/// is page pixel `(b.x0 + x, b.y0 - ext + r + round(shear * (b.x0 + x - cx)))`, so a line
/// running at that slope lies level in it. Rows `ext..ext + b.height()` correspond to the box;
/// pixels whose page position falls outside the box read the box's median (its paper, or its
/// ground for light text on a dark ground), so nothing beyond the box adds ink.
pub fn sheared_copy(gray: &GrayImage, b: BBox, shear: f32, cx: f32, ext: u32) -> GrayImage {
    let paper = percentile(&histogram(gray, b), 0.5);
    let (w, h) = (b.width(), b.height() + 2 * ext);
    GrayImage::from_fn(w, h, |x, r| {
        let px = b.x0 + x;
        let y = b.y0 as i64 - ext as i64 + r as i64 + (shear * (px as f32 - cx)).round() as i64;
        if y >= b.y0 as i64 && y < b.y1 as i64 {
            *gray.get_pixel(px, y as u32)
        } else {
            Luma([paper])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page with a "text line": 9 glyph blocks 6 px high, climbing `rise` px over 200 px.
    fn slanted_line(rise: f32) -> GrayImage {
        let mut g = GrayImage::from_pixel(300, 80, Luma([235]));
        for i in 0..9u32 {
            for x in 40 + i * 22..40 + i * 22 + 16 {
                let dy = (rise * (x as f32 - 40.0) / 200.0).round() as i64;
                for y in 0..6i64 {
                    g.put_pixel(x, (40 - dy + y) as u32, Luma([25]));
                }
            }
        }
        g
    }

    #[test]
    fn finds_the_slope_of_a_slanted_line() {
        let g = slanted_line(6.0);
        let s = estimate_shear(&g, BBox::new(30, 25, 250, 55), false);
        assert!((s + 0.03).abs() <= SHEAR_STEP + 1e-6, "shear {s}");
    }

    #[test]
    fn level_and_nearly_level_lines_stay_level() {
        assert_eq!(
            estimate_shear(&slanted_line(0.0), BBox::new(30, 25, 250, 55), false),
            0.0
        );
        assert_eq!(
            estimate_shear(&slanted_line(1.0), BBox::new(30, 25, 250, 55), false),
            0.0
        );
        // Too narrow for any slope to move it 2 px.
        assert_eq!(
            estimate_shear(&slanted_line(6.0), BBox::new(30, 25, 80, 55), false),
            0.0
        );
    }

    #[test]
    fn the_sheared_copy_holds_the_line_level() {
        let g = slanted_line(6.0);
        let b = BBox::new(30, 25, 250, 55);
        let s = estimate_shear(&g, b, false);
        let d = sheared_copy(&g, b, s, (b.x0 + b.x1) as f32 / 2.0, 4);
        let rows: Vec<u32> = (0..d.height())
            .filter(|&r| (0..d.width()).any(|x| d.get_pixel(x, r)[0] < 128))
            .collect();
        assert!(rows.len() <= 7, "ink spans rows {rows:?}");
    }
}
