//! Page orientation (0/90/180/270) from projection profiles and Latin ascender statistics.

use image::GrayImage;

use super::deskew::skew_from_points;
use super::profile::{InkPoints, WORK_SIDE};

/// The column profile must be this much more line-like than the row profile for a page to be
/// considered sideways.
const SIDEWAYS_RATIO: f64 = 1.35;
/// ... and the row profile this much more than the column profile to test for upside-down.
const UPRIGHT_RATIO: f64 = 1.2;
/// Minimum number of text lines for an upside-down decision.
const MIN_LINES: usize = 4;
/// Upside-down needs ink below the baseline band to outweigh ink above it by this factor.
const FLIP_RATIO: f64 = 1.5;
/// Ink below the lines must be at least this share of the ink inside them (x-height cores)
/// for an upside-down decision.
const MIN_ZONE_SHARE: f64 = 0.035;
/// Minimum ink (working-grid pixels) for any decision.
const MIN_INK: f32 = 1500.0;

/// Ink above and below the x-height band of the text lines of a page.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LineZones {
    /// Number of text lines measured.
    pub lines: usize,
    /// Ink above the x-height band (ascenders, capitals, i-dots).
    pub above: f64,
    /// Ink below the baseline (descenders).
    pub below: f64,
    /// Lines with clearly more ink above than below.
    pub votes_up: usize,
    /// Lines with clearly more ink below than above.
    pub votes_down: usize,
    /// Ink inside the x-height bands.
    pub core: f64,
}

/// Clockwise rotation (0, 90, 180 or 270) that makes the text of a binary page upright.
///
/// Sideways pages are recognised because their column profile (searched over ±15° of skew) is
/// much more line-like than their row profile. Upside-down pages are recognised from the
/// asymmetry of Latin text: ascenders, capitals and i-dots put far more ink above the x-height
/// band than descenders put below the baseline. The detector is conservative: it answers 0
/// unless the evidence is clear (enough ink, enough lines, strong ratios), so an upright page
/// is essentially never rotated; for a clearly sideways page it picks the better of 90/270.
pub fn detect_orientation(binary: &GrayImage) -> u32 {
    orientation_from_points(&InkPoints::from_binary(binary, WORK_SIDE))
}

/// [`detect_orientation`] on already pooled ink points.
pub(crate) fn orientation_from_points(pts: &InkPoints) -> u32 {
    orientation_and_skew(pts).0
}

/// Orientation of the page and, when it was measured on the way, the skew of the page once
/// turned upright (a quarter or half turn keeps the sign of a skew, so the line angle measured
/// for the up/down test is the skew of the corrected page).
pub(crate) fn orientation_and_skew(pts: &InkPoints) -> (u32, Option<f32>) {
    if pts.pts.len() < 200 || pts.total < MIN_INK {
        return (0, None);
    }
    // Line structure of rows vs columns; coarse grids first, finer ones when the text is too
    // small for the coarse grid to resolve its lines.
    let mut bins = Vec::new();
    let mut verdict = None;
    for f in [4usize, 2, 1] {
        let coarse = pts.pooled(f);
        let (_, rows, _) =
            InkPoints::search(-15.0, 15.0, 1.0, |a| coarse.concentration(a, &mut bins));
        let t = coarse.transposed();
        let (_, cols, _) = InkPoints::search(-15.0, 15.0, 1.0, |a| t.concentration(a, &mut bins));
        if cols > SIDEWAYS_RATIO * rows {
            verdict = Some(true);
            break;
        }
        if rows > UPRIGHT_RATIO * cols {
            verdict = Some(false);
            break;
        }
    }
    match verdict {
        Some(true) => {
            // Text runs vertically: a quarter turn clockwise makes it horizontal, and it is
            // then either upright (90) or upside down (270): pick the likelier.
            let (z, skew) = line_zones(&pts.rotate_quarter(90));
            (if z.below > z.above { 270 } else { 90 }, Some(skew))
        }
        Some(false) => {
            let (z, skew) = line_zones(pts);
            (if z.upside_down() { 180 } else { 0 }, Some(skew))
        }
        None => (0, None),
    }
}

impl LineZones {
    /// Clear evidence of upside-down Latin text: enough lines, much more ink below the lines
    /// than above, most lines agreeing, and that ink being a plausible share of the line ink
    /// (text without ascenders and descenders, such as all-capitals receipts or digits,
    /// carries no evidence either way).
    pub fn upside_down(&self) -> bool {
        let lines = self.lines.max(1);
        self.lines >= MIN_LINES
            && self.below > FLIP_RATIO * self.above
            && self.votes_down * 2 >= lines
            && self.votes_down >= 3 * self.votes_up.max(1)
            && self.below >= MIN_ZONE_SHARE * self.core
    }
}

/// Measure [`LineZones`] of a binary page whose lines are (roughly) horizontal.
pub fn measure_line_zones(binary: &GrayImage) -> LineZones {
    line_zones(&InkPoints::from_binary(binary, WORK_SIDE)).0
}

/// Zones of the text lines along their own direction (the skew, returned too).
fn line_zones(pts: &InkPoints) -> (LineZones, f32) {
    if pts.pts.is_empty() {
        return (LineZones::default(), 0.0);
    }
    let skew = skew_from_points(pts);
    let mut bins = Vec::new();
    pts.profile(skew, &mut bins);
    (zones_of_profile(&bins), skew)
}

/// Split a row profile into text lines (x-height cores) and sum the ink above and below them.
fn zones_of_profile(p: &[f32]) -> LineZones {
    let mut nz: Vec<f32> = p.iter().copied().filter(|&v| v > 0.0).collect();
    if nz.len() < 8 {
        return LineZones::default();
    }
    let k = (nz.len() as f32 * 0.9) as usize;
    let k = k.min(nz.len() - 1);
    let (_, &mut p90, _) = nz.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    let t = 0.45 * p90;
    // Cores: runs of bins at or above t, merging gaps of a single bin.
    let mut cores: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < p.len() {
        if p[i] < t {
            i += 1;
            continue;
        }
        let s = i;
        while i < p.len() && p[i] >= t {
            i += 1;
        }
        match cores.last_mut() {
            Some(last) if s <= last.1 + 1 => last.1 = i,
            _ => cores.push((s, i)),
        }
    }
    cores.retain(|&(s, e)| e - s >= 2);
    let argmin = |a: usize, b: usize| -> usize {
        (a..b).min_by(|&x, &y| p[x].total_cmp(&p[y])).unwrap_or(a)
    };
    let mut z = LineZones::default();
    for (k, &(s, e)) in cores.iter().enumerate() {
        let len = e - s;
        let top = if k == 0 { 0 } else { argmin(cores[k - 1].1, s) };
        let bottom = if k + 1 == cores.len() {
            p.len()
        } else {
            argmin(e, cores[k + 1].0)
        };
        let above: f64 = p[top.max(s.saturating_sub(len))..s]
            .iter()
            .map(|&v| v as f64)
            .sum();
        let below: f64 = p[e..bottom.min(e + len)].iter().map(|&v| v as f64).sum();
        z.core += p[s..e].iter().map(|&v| v as f64).sum::<f64>();
        z.lines += 1;
        z.above += above;
        z.below += below;
        if above > 1.2 * below {
            z.votes_up += 1;
        } else if below > 1.2 * above {
            z.votes_down += 1;
        }
    }
    z
}

/// Rotate an image clockwise by a multiple of 90° (`degrees_cw` is rounded down to one of 0,
/// 90, 180, 270 modulo 360); exact, no resampling. Quarter turns are done tile by tile to stay
/// cache-friendly on full pages.
pub fn rotate_quarter(gray: &GrayImage, degrees_cw: u32) -> GrayImage {
    const TILE: usize = 64;
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let q = (degrees_cw % 360) / 90;
    let src = gray.as_raw();
    let data = match q {
        1 | 3 => {
            let mut out = vec![0u8; src.len()];
            for ty in (0..h).step_by(TILE) {
                for tx in (0..w).step_by(TILE) {
                    for y in ty..(ty + TILE).min(h) {
                        let row = &src[y * w..(y + 1) * w];
                        for (x, &v) in row.iter().enumerate().take((tx + TILE).min(w)).skip(tx) {
                            // 90: (x, y) -> (h-1-y, x); 270: (x, y) -> (y, w-1-x).
                            let i = if q == 1 {
                                x * h + (h - 1 - y)
                            } else {
                                (w - 1 - x) * h + y
                            };
                            out[i] = v;
                        }
                    }
                }
            }
            return GrayImage::from_raw(h as u32, w as u32, out).unwrap_or_else(|| gray.clone());
        }
        2 => {
            let mut v = src.clone();
            v.reverse();
            v
        }
        _ => return gray.clone(),
    };
    GrayImage::from_raw(w as u32, h as u32, data).unwrap_or_else(|| gray.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::binarize::sauvola;
    use crate::preprocess::deskew::rotate_bilinear;
    use crate::preprocess::testutil::{draw_text, load_font, text_page};
    use image::Luma;

    #[test]
    fn quarter_rotations_are_detected() {
        let Some(font) = load_font() else { return };
        let page = sauvola(&text_page(&font, 1000, 1400, 24.0), 0, 0.2);
        let z = measure_line_zones(&page);
        assert!(z.above > 1.5 * z.below, "upright zones {z:?}");
        assert_eq!(detect_orientation(&page), 0);
        for r in [90u32, 180, 270] {
            let rotated = rotate_quarter(&page, r);
            assert_eq!(
                detect_orientation(&rotated),
                (360 - r) % 360,
                "page rotated by {r}"
            );
        }
    }

    #[test]
    fn upright_pages_stay_upright() {
        let Some(font) = load_font() else { return };
        for (w, h, px) in [
            (1200u32, 900u32, 30.0f32),
            (800, 1100, 16.0),
            (1000, 1300, 40.0),
        ] {
            let page = text_page(&font, w, h, px);
            for skew in [0.0f32, -4.0, 6.0] {
                let bin = sauvola(&rotate_bilinear(&page, skew, 255), 0, 0.2);
                assert_eq!(detect_orientation(&bin), 0, "{w}x{h} {px}px skew {skew}");
            }
        }
        let blank = GrayImage::from_pixel(500, 700, Luma([255]));
        assert_eq!(detect_orientation(&blank), 0);
        // All-capitals receipt lines (no ascenders or descenders) and a ruled table of numbers.
        let mut receipt = GrayImage::from_pixel(600, 1800, Luma([255]));
        let items = [
            "TOTAL 12.50",
            "VISA **** 1234",
            "CHANGE 0.00",
            "MILK 2L 1.99",
            "TAX 0.45",
        ];
        for (i, item) in items.iter().cycle().take(40).enumerate() {
            draw_text(&mut receipt, &font, 30, 30 + 40 * i as i32, 26.0, 0, item);
        }
        let mut table = GrayImage::from_pixel(1200, 1600, Luma([255]));
        for r in 0..30u32 {
            for x in 100..1100 {
                table.put_pixel(x, 100 + r * 45, Luma([0]));
            }
        }
        for c in 0..6u32 {
            for y in 100..1405 {
                table.put_pixel(100 + c * 200, y, Luma([0]));
            }
        }
        for r in 0..29i32 {
            for c in 0..5i32 {
                let n = format!("{}", 1000 + r * 37 + c * 11);
                draw_text(&mut table, &font, 110 + c * 200, 108 + r * 45, 24.0, 0, &n);
            }
        }
        for page in [receipt, table] {
            assert_eq!(detect_orientation(&sauvola(&page, 0, 0.2)), 0);
        }
    }

    #[test]
    fn quarter_rotation_mapping() {
        let mut img = GrayImage::from_pixel(4, 2, Luma([255]));
        img.put_pixel(0, 0, Luma([0]));
        let r = rotate_quarter(&img, 90);
        assert_eq!(r.dimensions(), (2, 4));
        assert_eq!(r.get_pixel(1, 0)[0], 0); // top-left goes to top-right
        assert_eq!(rotate_quarter(&img, 270).get_pixel(0, 3)[0], 0);
        assert_eq!(rotate_quarter(&img, 180).get_pixel(3, 1)[0], 0);
        assert_eq!(rotate_quarter(&img, 360), img);
        // Matches the `image` crate's rotations on an odd-sized, multi-tile image.
        let mut big = GrayImage::new(131, 70);
        for (x, y, p) in big.enumerate_pixels_mut() {
            p[0] = ((x * 7 + y * 13) % 251) as u8;
        }
        assert_eq!(rotate_quarter(&big, 90), image::imageops::rotate90(&big));
        assert_eq!(rotate_quarter(&big, 180), image::imageops::rotate180(&big));
        assert_eq!(rotate_quarter(&big, 270), image::imageops::rotate270(&big));
    }
}
