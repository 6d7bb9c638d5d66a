//! Contrast normalisation: illumination flattening followed by a robust, noise-aware stretch.

use image::GrayImage;

/// Radius (in downscaled blocks) of the grayscale closing that erases text from the background
/// estimate.
const CLOSE_RADIUS: usize = 2;
/// Regions darker than this fraction of the paper level are content (frames, photos), not
/// shading: the background estimate is clamped there so they stay dark.
const MIN_BG_FRACTION: f32 = 0.45;
/// Largest gain of the stretch (a range of 255 / 10 levels is stretched to the full range).
const MAX_GAIN: f32 = 10.0;
/// Pixels further than this many noise sigmas below the paper level count as ink evidence.
const INK_SIGMAS: f32 = 5.0;
/// Minimum fraction of ink-evidence pixels for the stretch to apply (below: blank paper).
const MIN_INK_FRACTION: f64 = 0.0005;
/// A block no more than this many levels from darkest to brightest is flat: an empty canvas, a
/// rendered page's margin, or paper clipped to white by the scanner.
const FLAT_BLOCK_CONTRAST: u8 = 2;
/// When the document's area covers at least this share of the blocks, it is the whole page.
const WHOLE_PAGE_SHARE: f64 = 0.9;

/// Flatten uneven illumination and stretch the contrast so that ink is dark and paper white.
///
/// The background (paper brightness) is estimated on a copy downscaled by block maxima, closed
/// with a max-then-min filter so that text strokes vanish from it, clamped so that large dark
/// regions stay dark, upsampled bilinearly, and divided out. A percentile stretch then maps the
/// typical ink level to black and the paper level (minus its noise) to white. The stretch only
/// applies when there is clear ink evidence (pixels several noise sigmas below the paper level),
/// so blank paper is not turned into amplified noise, while faint thermal-receipt print (gray
/// text on light paper) becomes dark text on white.
///
/// The paper level, its noise and the ink level are read from the document's own area
/// ([`content_blocks`]): a receipt on a large white canvas (a scan placed on a PDF page, a
/// small document on a scanner's white lid) is stretched by its own paper, not by the
/// noiseless white around it, which would make its gray paper look like ink.
pub fn normalize_contrast(gray: &GrayImage) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w == 0 || h == 0 {
        return gray.clone();
    }
    let (mut out, mut hist, maxima) = flatten(gray);
    let s = block_side(w, h);
    if let Some(mask) = content_blocks(gray, s, &maxima) {
        hist = masked_histogram(&out, w, h, s, &mask);
    }
    let lut = stretch_lut(&hist);
    for v in out.iter_mut() {
        *v = lut[*v as usize];
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| gray.clone())
}

/// Block side of the downscaled background of a `w` x `h` page (about 160 blocks across the
/// shorter side).
pub(crate) fn block_side(w: usize, h: usize) -> usize {
    (w.min(h) / 160).max(1)
}

/// Maxima of the `s` x `s` blocks of `gray` (partial blocks at the right and bottom edges), a
/// `ceil(w / s)` x `ceil(h / s)` image.
pub(crate) fn block_maxima(gray: &GrayImage, s: usize) -> Vec<u8> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let src = gray.as_raw();
    let sw = w.div_ceil(s);
    let mut small = vec![0u8; sw * h.div_ceil(s)];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        let srow = &mut small[(y / s) * sw..(y / s + 1) * sw];
        for (bx, chunk) in row.chunks(s).enumerate() {
            let m = chunk.iter().copied().max().unwrap_or(0);
            if m > srow[bx] {
                srow[bx] = m;
            }
        }
    }
    small
}

/// The blocks (side `s`, row-major like [`block_maxima`]) of the document's area: the bounding
/// box of every block that is not flat ([`FLAT_BLOCK_CONTRAST`]). A document set on a
/// noiseless canvas (a scan placed on a rendered PDF page, a synthetic margin) lies inside it,
/// the canvas outside. `None` when the box is (nearly) the whole page, as it is for every scan
/// or photo whose paper shows noise up to its edges, or when every block is flat. `hi` is the
/// page's [`block_maxima`], which the background estimate has already computed.
pub(crate) fn content_blocks(gray: &GrayImage, s: usize, hi: &[u8]) -> Option<Vec<bool>> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let (sw, sh) = (w.div_ceil(s), h.div_ceil(s));
    let src = gray.as_raw();
    let mut lo = vec![255u8; sw * sh];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        let lrow = &mut lo[(y / s) * sw..(y / s + 1) * sw];
        for (l, chunk) in lrow.iter_mut().zip(row.chunks(s)) {
            *l = chunk.iter().copied().fold(*l, u8::min);
        }
    }
    let (mut x0, mut y0, mut x1, mut y1) = (sw, sh, 0, 0);
    for by in 0..sh {
        for bx in 0..sw {
            let i = by * sw + bx;
            if hi[i].saturating_sub(lo[i]) > FLAT_BLOCK_CONTRAST {
                (x0, y0, x1, y1) = (x0.min(bx), y0.min(by), x1.max(bx + 1), y1.max(by + 1));
            }
        }
    }
    if x1 <= x0 || ((x1 - x0) * (y1 - y0)) as f64 >= WHOLE_PAGE_SHARE * (sw * sh) as f64 {
        return None;
    }
    tracing::debug!(x0, y0, x1, y1, sw, sh, "document area on a flat canvas");
    Some(
        (0..sw * sh)
            .map(|i| (x0..x1).contains(&(i % sw)) && (y0..y1).contains(&(i / sw)))
            .collect(),
    )
}

/// Histogram of the pixels of `flat` (a `w` x `h` page) that lie in the blocks of side `s`
/// marked in `mask` ([`content_blocks`]).
pub(crate) fn masked_histogram(
    flat: &[u8],
    w: usize,
    h: usize,
    s: usize,
    mask: &[bool],
) -> [u64; 256] {
    let sw = w.div_ceil(s);
    let mut hist = [0u64; 256];
    for y in 0..h {
        let row = &flat[y * w..(y + 1) * w];
        let mrow = &mask[(y / s) * sw..(y / s + 1) * sw];
        for (chunk, &keep) in row.chunks(s).zip(mrow) {
            if keep {
                for &v in chunk {
                    hist[v as usize] += 1;
                }
            }
        }
    }
    hist
}

/// The gain `255 / background` on the small grid: block maxima closed (max then min) so text
/// strokes vanish, lightly blurred, and clamped so that large dark regions stay dark.
pub(crate) fn background_gain(small: &[u8], sw: usize, sh: usize) -> Vec<f32> {
    let closed = min_filter(
        &max_filter(small, sw, sh, CLOSE_RADIUS),
        sw,
        sh,
        CLOSE_RADIUS,
    );
    let mut bg = box_blur(&closed, sw, sh, 1);
    let paper = percentile_f32(&bg, 0.9);
    let floor = (paper * MIN_BG_FRACTION).max(1.0);
    for v in bg.iter_mut() {
        *v = v.max(floor);
    }
    // Interpolating the gain is within rounding of interpolating the background and saves a
    // division per pixel.
    bg.iter().map(|b| 255.0 / b).collect()
}

/// Bilinear coordinate of full-resolution index `i` on a small grid of `n` cells of side `s`:
/// the two cells bracketing it and the weight of the second.
pub(crate) fn interp_coord(i: usize, n: usize, s: usize) -> (usize, usize, f32) {
    let c = (i as f32 + 0.5) / s as f32 - 0.5;
    if c <= 0.0 {
        return (0, 0, 0.0);
    }
    let i0 = c.floor() as usize;
    if i0 + 1 >= n {
        return (n - 1, n - 1, 0.0);
    }
    (i0, i0 + 1, c - i0 as f32)
}

/// Illumination flattening: each pixel divided by the local background estimate (0..=255 out),
/// with the histogram of the result and the page's [`block_maxima`].
fn flatten(gray: &GrayImage) -> (Vec<u8>, [u64; 256], Vec<u8>) {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let src = gray.as_raw();
    let s = block_side(w, h);
    let (sw, sh) = (w.div_ceil(s), h.div_ceil(s));
    let small = block_maxima(gray, s);
    let gain_small = background_gain(&small, sw, sh);

    // Bilinear upsampling of the gain.
    let xs: Vec<(usize, usize, f32)> = (0..w).map(|x| interp_coord(x, sw, s)).collect();
    let expand = |small_row: usize, full: &mut [f32]| {
        let r = &gain_small[small_row * sw..(small_row + 1) * sw];
        for (g, &(x0, x1, fx)) in full.iter_mut().zip(&xs) {
            *g = r[x0] + (r[x1] - r[x0]) * fx;
        }
    };
    // Full-width gain rows of the two downscaled rows bracketing the current row, updated only
    // when the bracket moves, so the per-pixel work is a vertical lerp and a multiply.
    let (mut g0, mut g1) = (vec![0f32; w], vec![0f32; w]);
    let mut bracket = (usize::MAX, usize::MAX);
    let mut out = vec![0u8; w * h];
    let mut sub = [[0u32; 256]; 4];
    for y in 0..h {
        let (y0, y1, fy) = interp_coord(y, sh, s);
        if (y0, y1) != bracket {
            if y0 == bracket.1 {
                std::mem::swap(&mut g0, &mut g1);
            } else {
                expand(y0, &mut g0);
            }
            expand(y1, &mut g1);
            bracket = (y0, y1);
        }
        let srow = &src[y * w..(y + 1) * w];
        let orow = &mut out[y * w..(y + 1) * w];
        for ((o, &v), (&a, &b)) in orow.iter_mut().zip(srow).zip(g0.iter().zip(&g1)) {
            let g = a + (b - a) * fy;
            *o = (v as f32 * g + 0.5).min(255.0) as u8;
        }
        // Four interleaved sub-histograms: paper pixels hit the same bin over and over, and a
        // single counter would serialise on its own increments.
        let mut quads = orow.chunks_exact(4);
        for q in &mut quads {
            sub[0][q[0] as usize] += 1;
            sub[1][q[1] as usize] += 1;
            sub[2][q[2] as usize] += 1;
            sub[3][q[3] as usize] += 1;
        }
        for &o in quads.remainder() {
            sub[0][o as usize] += 1;
        }
    }
    let mut hist = [0u64; 256];
    for (i, hv) in hist.iter_mut().enumerate() {
        *hv = sub.iter().map(|s| s[i] as u64).sum();
    }
    (out, hist, small)
}

/// Build the stretch lookup table from the histogram of the flattened page.
pub(crate) fn stretch_lut(hist: &[u64; 256]) -> [u8; 256] {
    let mut lut = [0u8; 256];
    for (i, l) in lut.iter_mut().enumerate() {
        *l = i as u8;
    }
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return lut;
    }
    let paper = hist_percentile(hist, total, 0.5) as f32;
    let p20 = hist_percentile(hist, total, 0.2) as f32;
    let sigma = ((paper - p20) / 0.84).max(1.0);
    let ink_limit = paper - INK_SIGMAS * sigma;
    if ink_limit <= 0.0 {
        return lut;
    }
    let ink_limit = ink_limit as usize;
    let dark: u64 = hist[..ink_limit].iter().sum();
    if (dark as f64) < MIN_INK_FRACTION * total as f64 {
        // Blank paper: no evidence of ink; leave the page as flattened.
        return lut;
    }
    // Typical ink level: lower quartile of the clearly-dark pixels.
    let mut acc = 0u64;
    let mut lo = 0usize;
    for (i, &c) in hist[..ink_limit].iter().enumerate() {
        acc += c;
        if acc * 4 >= dark {
            lo = i;
            break;
        }
    }
    let lo = lo as f32;
    let white = (paper - 1.5 * sigma).max(lo + 255.0 / MAX_GAIN);
    let scale = 255.0 / (white - lo);
    for (i, l) in lut.iter_mut().enumerate() {
        *l = ((i as f32 - lo) * scale).clamp(0.0, 255.0).round() as u8;
    }
    lut
}

/// Smallest level at which the cumulative count reaches fraction `p` of `total`.
fn hist_percentile(hist: &[u64; 256], total: u64, p: f64) -> usize {
    let target = (p * total as f64).ceil().max(1.0) as u64;
    let mut acc = 0u64;
    for (i, &c) in hist.iter().enumerate() {
        acc += c;
        if acc >= target {
            return i;
        }
    }
    255
}

fn percentile_f32(v: &[f32], p: f32) -> f32 {
    if v.is_empty() {
        return 255.0;
    }
    let mut s = v.to_vec();
    let k = ((s.len() - 1) as f32 * p) as usize;
    let (_, m, _) = s.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    *m
}

/// Separable sliding max (radius `r`) of a small u8 image.
fn max_filter(img: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    separable(img, w, h, r, |a, b| a.max(b))
}

/// Separable sliding min (radius `r`) of a small u8 image.
fn min_filter(img: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    separable(img, w, h, r, |a, b| a.min(b))
}

/// Naive separable rank filter; only used on the downscaled background (a few 10^4 pixels).
fn separable(img: &[u8], w: usize, h: usize, r: usize, f: impl Fn(u8, u8) -> u8) -> Vec<u8> {
    let mut tmp = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r).min(w - 1));
            tmp[y * w + x] = img[y * w + a..=y * w + b]
                .iter()
                .copied()
                .reduce(&f)
                .unwrap_or(0);
        }
    }
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let (a, b) = (y.saturating_sub(r), (y + r).min(h - 1));
        for x in 0..w {
            out[y * w + x] = (a..=b).map(|yy| tmp[yy * w + x]).reduce(&f).unwrap_or(0);
        }
    }
    out
}

/// Box blur (radius `r`, clamped at the edges) of a small u8 image, to f32.
fn box_blur(img: &[u8], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r).min(h - 1));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r).min(w - 1));
            let mut sum = 0u32;
            for yy in y0..=y1 {
                sum += img[yy * w + x0..=yy * w + x1]
                    .iter()
                    .map(|&v| v as u32)
                    .sum::<u32>();
            }
            out[y * w + x] = sum as f32 / ((y1 - y0 + 1) * (x1 - x0 + 1)) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::binarize::sauvola;
    use crate::preprocess::testutil::{draw_paragraph, ink_count, load_font};
    use image::Luma;
    use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

    #[test]
    fn faint_text_becomes_dark_and_survives_binarisation() {
        let Some(font) = load_font() else { return };
        let mut page = GrayImage::from_pixel(900, 500, Luma([235]));
        draw_paragraph(&mut page, &font, 40, 40, 28.0, 200, 8);
        let mut reference = GrayImage::from_pixel(900, 500, Luma([255]));
        draw_paragraph(&mut reference, &font, 40, 40, 28.0, 0, 8);
        let norm = normalize_contrast(&page);
        // Ink cores must now be dark, paper white.
        let mut ink_levels = Vec::new();
        for (p, r) in norm.pixels().zip(reference.pixels()) {
            if r[0] == 0 {
                ink_levels.push(p[0]);
            }
        }
        ink_levels.sort_unstable();
        assert!(
            ink_levels[ink_levels.len() / 2] < 80,
            "ink median {}",
            ink_levels[ink_levels.len() / 2]
        );
        assert!(norm.get_pixel(5, 5)[0] > 240);
        let bin = sauvola(&norm, 0, 0.2);
        let ref_bin = sauvola(&reference, 0, 0.2);
        let (a, b) = (ink_count(&bin), ink_count(&ref_bin));
        assert!(
            a as f64 > 0.8 * b as f64 && (a as f64) < 1.3 * b as f64,
            "ink {a} vs {b}"
        );
    }

    #[test]
    fn a_document_on_a_flat_canvas_is_stretched_by_its_own_paper() {
        let Some(font) = load_font() else { return };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (dw, dh) = (500u32, 400u32);
        let mut doc = GrayImage::new(dw, dh);
        for p in doc.pixels_mut() {
            p[0] = 200 + rng.random_range(0..12u8);
        }
        draw_paragraph(&mut doc, &font, 20, 20, 24.0, 40, 8);
        let mut reference = GrayImage::from_pixel(dw, dh, Luma([255]));
        draw_paragraph(&mut reference, &font, 20, 20, 24.0, 0, 8);
        let mut canvas = GrayImage::from_pixel(3 * dw, 3 * dh, Luma([255]));
        image::imageops::replace(&mut canvas, &doc, dw as i64, dh as i64);
        let area = |p: &GrayImage| {
            let s = block_side(p.width() as usize, p.height() as usize);
            content_blocks(p, s, &block_maxima(p, s))
        };
        assert!(area(&canvas).is_some(), "the canvas is not the document");
        assert!(area(&doc).is_none());
        // The document's paper stays paper, as it does when the document is alone.
        let paper_median = |norm: &GrayImage, x0: u32, y0: u32| {
            let mut v: Vec<u8> = reference
                .enumerate_pixels()
                .filter(|(_, _, r)| r[0] == 255)
                .map(|(x, y, _)| norm.get_pixel(x0 + x, y0 + y)[0])
                .collect();
            v.sort_unstable();
            v[v.len() / 2]
        };
        let alone = paper_median(&normalize_contrast(&doc), 0, 0);
        let placed = paper_median(&normalize_contrast(&canvas), dw, dh);
        assert!(alone > 220, "alone {alone}");
        assert!(placed > 220, "on the canvas {placed} (alone {alone})");
    }

    #[test]
    fn blank_noisy_paper_is_not_amplified() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut page = GrayImage::new(600, 800);
        for p in page.pixels_mut() {
            p[0] = 225 + rng.random_range(0..7u8);
        }
        let norm = normalize_contrast(&page);
        let (mn, mx) = norm
            .pixels()
            .fold((255u8, 0u8), |(a, b), p| (a.min(p[0]), b.max(p[0])));
        assert!(mx - mn <= 12, "range {mn}..{mx}");
        let bin = sauvola(&norm, 0, 0.2);
        assert_eq!(ink_count(&bin), 0);
    }

    #[test]
    fn uneven_illumination_is_flattened() {
        let Some(font) = load_font() else { return };
        let (w, h) = (1000u32, 700u32);
        let mut page = GrayImage::new(w, h);
        for (x, y, p) in page.enumerate_pixels_mut() {
            p[0] =
                (110.0 + 130.0 * (x as f32 / w as f32) * (0.6 + 0.4 * y as f32 / h as f32)) as u8;
        }
        let mut mask = GrayImage::from_pixel(w, h, Luma([255]));
        draw_paragraph(&mut mask, &font, 30, 30, 26.0, 0, 12);
        for (p, m) in page.pixels_mut().zip(mask.pixels()) {
            let a = 1.0 - m[0] as f32 / 255.0;
            p[0] = (p[0] as f32 * (1.0 - 0.75 * a)) as u8;
        }
        let norm = normalize_contrast(&page);
        // Paper far from text: uniform and white on both sides of the gradient.
        let dark_side = norm.get_pixel(3, h - 3)[0];
        let light_side = norm.get_pixel(w - 3, 3)[0];
        assert!(
            dark_side > 225 && light_side > 225,
            "{dark_side} {light_side}"
        );
    }
}
