//! Rasterising a text string into an ink-coverage plane with `ab_glyph`.
//!
//! Layout follows the font: horizontal advances plus pair kerning, with a small random
//! per-glyph jitter and optional tracking so that spacing is not pixel-perfectly regular (it
//! never is on typewriters, dot-matrix or thermal printers). Runs of spaces are rendered as the
//! wide gaps they are (receipt columns); the label collapses them.

use ab_glyph::{Font, FontArc, PxScale, ScaleFont, point};
use rand::{RngExt, rngs::ChaCha8Rng};

use super::plane::{Plane, Rect};

/// How to lay a string out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderParams {
    /// Font pixel scale (ascent - descent), i.e. the nominal line height in pixels.
    pub px: f32,
    /// Horizontal stretch of the glyphs (1 = as designed; <1 condensed, >1 expanded).
    pub stretch: f32,
    /// Extra advance after each glyph, in pixels (letter-spacing; may be slightly negative).
    pub tracking: f32,
    /// Standard deviation-ish amplitude of the random per-glyph advance jitter, in pixels.
    pub jitter: f32,
    /// Blank margin added left and right, in pixels.
    pub pad_x: f32,
    /// Blank margin added above the ascent and below the descent, in pixels.
    pub pad_y: f32,
    /// Per-glyph random darkness loss in 0..1 (typewriter keys struck with uneven force):
    /// each glyph's coverage is multiplied by a factor in `1 - glyph_fade ..= 1`.
    pub glyph_fade: f32,
}

/// A rendered string.
#[derive(Debug, Clone)]
pub struct RenderedText {
    /// Ink coverage in 0..1.
    pub plane: Plane,
    /// y of the baseline in the plane.
    pub baseline: f32,
    /// Height of lower-case `x` in pixels (for sizing rules and margins).
    pub x_height: f32,
    /// Tight box of the ink (coverage > 0.25), `None` when the text drew nothing.
    pub ink: Option<Rect>,
}

/// Render `text` with `font`. Characters the font lacks draw as its `.notdef` glyph, so callers
/// must pass only characters the font covers (see `FontEntry::has_char`).
pub fn render_text(
    font: &FontArc,
    x_height_ratio: f32,
    text: &str,
    p: &RenderParams,
    rng: &mut ChaCha8Rng,
) -> RenderedText {
    let px = p.px.max(2.0);
    let scale = PxScale {
        x: px * p.stretch.clamp(0.5, 2.0),
        y: px,
    };
    let scaled = font.as_scaled(scale);
    let ascent = scaled.ascent();
    let descent = scaled.descent(); // negative
    let overhang = 0.3 * px;

    // Lay out glyph positions first to size the plane.
    let mut glyphs = Vec::with_capacity(text.len());
    let mut caret = p.pad_x + overhang;
    let baseline = p.pad_y + ascent;
    let mut prev = None;
    for c in text.chars() {
        let id = font.glyph_id(c);
        if let Some(pid) = prev {
            caret += scaled.kern(pid, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(caret, baseline)));
        let jitter = if p.jitter > 0.0 {
            rng.random_range(-p.jitter..p.jitter)
        } else {
            0.0
        };
        caret += scaled.h_advance(id) + p.tracking + jitter;
        prev = Some(id);
    }
    let w = (caret + overhang + p.pad_x).ceil().max(1.0) as usize;
    let h = (p.pad_y * 2.0 + ascent - descent).ceil().max(1.0) as usize;
    let mut plane = Plane::filled(w, h, 0.0);
    for g in glyphs {
        let gain = if p.glyph_fade > 0.0 {
            1.0 - rng.random_range(0.0..p.glyph_fade.min(0.9))
        } else {
            1.0
        };
        if let Some(og) = scaled.outline_glyph(g) {
            let b = og.px_bounds();
            let (bx, by) = (b.min.x as i64, b.min.y as i64);
            og.draw(|x, y, c| {
                plane.max_at(bx + x as i64, by + y as i64, c.min(1.0) * gain);
            });
        }
    }
    let ink = plane.bbox_above(0.25);
    RenderedText {
        plane,
        baseline,
        x_height: px * x_height_ratio,
        ink,
    }
}

/// Simulated bold / ink spread: grey-level dilation by `r` pixels.
pub fn embolden(plane: &Plane, r: usize) -> Plane {
    plane.morph(r, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn renders_ink_within_plane_and_spacing_grows_width() {
        let dir = std::path::Path::new("/usr/share/fonts/truetype/dejavu");
        if !dir.exists() {
            crate::prerequisite::missing("dejavu fonts (fonts-dejavu-core)");
            return;
        }
        let Ok(set) = super::super::fonts::FontSet::from_dirs(&[dir.to_path_buf()]) else {
            panic!("dejavu present but no font loaded");
        };
        let f = &set.fonts()[0];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let p = RenderParams {
            px: 40.0,
            stretch: 1.0,
            tracking: 0.0,
            jitter: 0.0,
            pad_x: 5.0,
            pad_y: 5.0,
            glyph_fade: 0.0,
        };
        let a = render_text(&f.font, f.x_height_ratio, "Hello, World", &p, &mut rng);
        let ink = a.ink.expect("ink drawn");
        assert!(ink.x0 >= 0 && ink.y0 >= 0);
        assert!(ink.x1 <= a.plane.w as i64 && ink.y1 <= a.plane.h as i64);
        assert!(ink.height() > 20 && ink.height() < 45);
        let wide = RenderParams { tracking: 5.0, ..p };
        let b = render_text(&f.font, f.x_height_ratio, "Hello, World", &wide, &mut rng);
        assert!(b.plane.w > a.plane.w + 40);
        let bold = embolden(&a.plane, 1);
        let sum = |q: &Plane| q.data.iter().sum::<f32>();
        assert!(sum(&bold) > sum(&a.plane) * 1.2);
    }
}
