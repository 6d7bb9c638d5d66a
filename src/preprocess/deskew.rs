//! Skew estimation (projection profiles, ±15°) and bilinear rotation about the page centre.

use image::GrayImage;

use super::profile::{InkPoints, WORK_SIDE};

/// Largest skew searched, in degrees.
pub const MAX_SKEW: f32 = 15.0;
/// Minimum ink (in pixels of the working grid) for a skew estimate.
const MIN_INK: f32 = 400.0;
/// The best coarse angle must beat the median angle by this factor (else: no text lines).
const MIN_PEAK_CONTRAST: f64 = 1.05;

/// Estimate the skew of a binary page (ink = 0), in degrees within ±15°.
///
/// Positive means the text lines descend to the right, i.e. the content is rotated clockwise
/// (as displayed); `rotate_bilinear(page, -skew, 255)` straightens it. The estimate maximises
/// the sharpness (sum of squares) of the projection profile along the line direction on a
/// downscaled copy: 0.5° steps on a coarse grid, 0.25° and then 0.1° steps on finer grids
/// around the best angle, and a parabolic refinement. Returns 0 when the page has too little text or no line structure.
pub fn estimate_skew(binary: &GrayImage) -> f32 {
    skew_from_points(&InkPoints::from_binary(binary, WORK_SIDE))
}

/// [`estimate_skew`] on already pooled ink points (the pipeline reuses them).
pub(crate) fn skew_from_points(pts: &InkPoints) -> f32 {
    if pts.pts.len() < 50 || pts.total < MIN_INK {
        return 0.0;
    }
    // Coarse to fine: 0.5° steps on a 4x pooled grid (2x, then the full grid when the text is
    // too small for the coarse grid to show line structure), 0.25° on 2x, 0.1° on the full
    // grid.
    let mut bins = Vec::new();
    let mut a0 = None;
    for f in [4usize, 2, 1] {
        let coarse = pts.pooled(f);
        let (a, best, median) =
            InkPoints::search(-MAX_SKEW, MAX_SKEW, 0.5, |a| coarse.score(a, &mut bins));
        if best >= median * MIN_PEAK_CONTRAST {
            a0 = Some(a);
            break;
        }
    }
    let Some(a0) = a0 else {
        return 0.0;
    };
    let mid = pts.pooled(2);
    let (a1, _, _) = InkPoints::search(a0 - 0.75, a0 + 0.75, 0.25, |a| mid.score(a, &mut bins));
    let step = 0.1;
    let (a1, s0, _) = InkPoints::search(a1 - 0.3, a1 + 0.3, step, |a| pts.score(a, &mut bins));
    let sm = pts.score(a1 - step, &mut bins);
    let sp = pts.score(a1 + step, &mut bins);
    let denom = sm - 2.0 * s0 + sp;
    let delta = if denom < 0.0 {
        (0.5 * (sm - sp) / denom).clamp(-0.5, 0.5) as f32 * step
    } else {
        0.0
    };
    (a1 + delta).clamp(-MAX_SKEW, MAX_SKEW)
}

/// Fixed-point scale of the sampling coordinates (16 fractional bits).
const FIX: f64 = 65536.0;

/// The 16.16 fixed-point sampling coordinates of [`rotate_bilinear`]: the per-pixel step and
/// the exact start of each row. Public so that the GPU twin steps through the same
/// coordinates and produces identical pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotationSteps {
    /// Source x step per destination column (`round(cos * 65536)`).
    pub step_x: i64,
    /// Source y step per destination column (`round(-sin * 65536)`).
    pub step_y: i64,
    sin: f64,
    cos: f64,
    cx: f64,
    cy: f64,
}

impl RotationSteps {
    /// The steps of a clockwise rotation by `degrees` of a `w` x `h` image about its centre.
    pub fn new(w: u32, h: u32, degrees: f32) -> Self {
        let (sin, cos) = (degrees as f64).to_radians().sin_cos();
        RotationSteps {
            step_x: (cos * FIX).round() as i64,
            step_y: (-sin * FIX).round() as i64,
            sin,
            cos,
            cx: w as f64 / 2.0,
            cy: h as f64 / 2.0,
        }
    }

    /// Fixed-point source coordinates `(sx, sy)` of column 0 of destination row `y`.
    pub fn row_start(&self, y: u32) -> (i64, i64) {
        let (s, c) = (self.sin, self.cos);
        let dy = y as f64 + 0.5 - self.cy;
        let dx0 = 0.5 - self.cx;
        (
            ((self.cx + dx0 * c + dy * s - 0.5) * FIX).round() as i64,
            ((self.cy - dx0 * s + dy * c - 0.5) * FIX).round() as i64,
        )
    }
}

/// Rotate `gray` clockwise (as displayed) by `degrees` about the image centre, keeping its
/// size; areas with no source are `fill`.
///
/// Definition (so that other implementations can match it): with `(cx, cy) = (w/2, h/2)` and
/// `(s, c) = (sin, cos)(degrees)`, destination pixel `(x, y)` samples the source at
/// `sx = cx + dx*c + dy*s - 0.5`, `sy = cy - dx*s + dy*c - 0.5` where `dx = x + 0.5 - cx`,
/// `dy = y + 0.5 - cy`, bilinearly from its four neighbours (neighbours outside the image
/// count as `fill`). The implementation steps along each row in 16.16 fixed point (start of
/// row exact, per-pixel step rounded: under 0.03 px of drift on a 3,500 px row) and
/// interpolates with 8-bit weights `fx = floor(frac(sx) * 256)`:
/// `((p00*(256-fx) + p10*fx)*(256-fy) + (p01*(256-fx) + p11*fx)*fy + 32768) >> 16`, so an
/// exact floating-point implementation agrees within one gray level. Angle 0 (or a non-finite
/// angle) returns a copy.
pub fn rotate_bilinear(gray: &GrayImage, degrees: f32, fill: u8) -> GrayImage {
    let (w, h) = gray.dimensions();
    if degrees == 0.0 || !degrees.is_finite() || w == 0 || h == 0 {
        return gray.clone();
    }
    let steps = RotationSteps::new(w, h, degrees);
    let wu = w as usize;
    let src = gray.as_raw();
    let (wi, hi) = (w as i64, h as i64);
    let fill32 = fill as u32;
    let px = |x: i64, y: i64| -> u32 {
        if x >= 0 && y >= 0 && x < wi && y < hi {
            src[(y * wi + x) as usize] as u32
        } else {
            fill32
        }
    };
    // Fast-path limits: both neighbours inside when 0 <= sx < w - 1 and 0 <= sy < h - 1.
    let (lim_x, lim_y) = (((wi - 1) << 16) as u64, ((hi - 1) << 16) as u64);
    let (step_x, step_y) = (steps.step_x, steps.step_y);
    let mut out = vec![fill; src.len()];
    for (y, orow) in out.chunks_exact_mut(wu).enumerate() {
        let (mut fx_, mut fy_) = steps.row_start(y as u32);
        for o in orow.iter_mut() {
            let (sx, sy) = (fx_, fy_);
            fx_ += step_x;
            fy_ += step_y;
            let (x0, y0) = (sx >> 16, sy >> 16);
            let (fx, fy) = (((sx >> 8) & 255) as u32, ((sy >> 8) & 255) as u32);
            let (p00, p10, p01, p11) = if (sx as u64) < lim_x && (sy as u64) < lim_y {
                let i = y0 as usize * wu + x0 as usize;
                let (a, b) = (&src[i..i + 2], &src[i + wu..i + wu + 2]);
                (a[0] as u32, a[1] as u32, b[0] as u32, b[1] as u32)
            } else {
                if x0 < -1 || y0 < -1 || x0 >= wi || y0 >= hi {
                    continue;
                }
                (
                    px(x0, y0),
                    px(x0 + 1, y0),
                    px(x0, y0 + 1),
                    px(x0 + 1, y0 + 1),
                )
            };
            let top = p00 * (256 - fx) + p10 * fx;
            let bottom = p01 * (256 - fx) + p11 * fx;
            *o = ((top * (256 - fy) + bottom * fy + 32768) >> 16) as u8;
        }
    }
    GrayImage::from_raw(w, h, out).unwrap_or_else(|| gray.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::binarize::sauvola;
    use crate::preprocess::testutil::{load_font, text_page};
    use image::Luma;

    #[test]
    fn skew_of_rotated_pages_is_found() {
        let Some(font) = load_font() else { return };
        let page = text_page(&font, 1100, 1500, 22.0);
        let straight = estimate_skew(&sauvola(&page, 0, 0.2));
        assert!(straight.abs() < 0.2, "straight page skew {straight}");
        for angle in [3.0f32, -7.0, 12.0] {
            let rotated = rotate_bilinear(&page, angle, 255);
            let est = estimate_skew(&sauvola(&rotated, 0, 0.2));
            assert!(
                (est - angle).abs() <= 0.3,
                "rotated {angle}: estimated {est}"
            );
        }
    }

    #[test]
    fn a_page_on_a_large_canvas_has_its_own_skew() {
        // A 1,200 px page of small print, slightly skewed, alone and in the middle of a white
        // sheet three times as wide and high: the skew is measured on the ink's box, at the
        // same resolution either way.
        let Some(font) = load_font() else { return };
        let page = rotate_bilinear(&text_page(&font, 1200, 1200, 11.0), 1.3, 255);
        let alone = estimate_skew(&sauvola(&page, 0, 0.2));
        let mut sheet = GrayImage::from_pixel(3600, 3600, Luma([255]));
        image::imageops::replace(&mut sheet, &page, 1200, 1200);
        let on_sheet = estimate_skew(&sauvola(&sheet, 0, 0.2));
        assert!((alone - 1.3).abs() <= 0.3, "alone: {alone}");
        assert!(
            (on_sheet - alone).abs() <= 0.05,
            "alone {alone}, on the sheet {on_sheet}"
        );
    }

    #[test]
    fn blank_or_tiny_pages_have_no_skew() {
        let blank = GrayImage::from_pixel(800, 1000, Luma([255]));
        assert_eq!(estimate_skew(&blank), 0.0);
        let mut dot = blank.clone();
        for y in 500..505 {
            for x in 400..405 {
                dot.put_pixel(x, y, Luma([0]));
            }
        }
        assert_eq!(estimate_skew(&dot), 0.0);
        assert_eq!(estimate_skew(&GrayImage::new(0, 0)), 0.0);
    }

    #[test]
    fn rotation_geometry_and_identity() {
        let mut img = GrayImage::from_pixel(101, 61, Luma([255]));
        img.put_pixel(70, 30, Luma([0]));
        assert_eq!(rotate_bilinear(&img, 0.0, 255), img);
        // 90° clockwise about the centre (50.5, 30.5): the point 20 px right of the centre
        // moves 20 px below it.
        let r = rotate_bilinear(&img, 90.0, 255);
        assert_eq!(r.get_pixel(50, 50)[0], 0);
        assert_eq!(r.get_pixel(70, 30)[0], 255);
        // Areas with no source are filled.
        let r = rotate_bilinear(&GrayImage::from_pixel(100, 50, Luma([0])), 30.0, 200);
        assert_eq!(r.get_pixel(0, 0)[0], 200);
        assert_eq!(r.get_pixel(50, 25)[0], 0);
        // Forward then backward is close to the identity away from the border.
        let Some(font) = load_font() else { return };
        let page = text_page(&font, 400, 300, 18.0);
        let back = rotate_bilinear(&rotate_bilinear(&page, 5.0, 255), -5.0, 255);
        let mut diff = 0u64;
        for y in 60..240 {
            for x in 60..340 {
                diff += (page.get_pixel(x, y)[0] as i64 - back.get_pixel(x, y)[0] as i64)
                    .unsigned_abs();
            }
        }
        assert!(
            (diff as f64 / (180.0 * 280.0)) < 12.0,
            "mean abs diff {}",
            diff as f64 / 50400.0
        );
    }
}
