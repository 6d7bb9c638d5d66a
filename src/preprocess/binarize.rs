//! Adaptive (Sauvola) binarisation on integral images: O(pixels) whatever the window size.

use image::GrayImage;

/// Sauvola's dynamic range of the standard deviation for 8-bit images.
const SAUVOLA_R: f32 = 128.0;
/// Windows whose standard deviation is below this are uniform: paper unless clearly dark.
const MIN_STD: f32 = 3.0;
/// A pixel this dark inside a window this dark is ink whatever its neighbourhood (the inside of
/// black frames and thick bars, which plain Sauvola turns white).
const DARK_LEVEL: f32 = 72.0;
/// Largest window accepted (keeps the exact integer variance within u64).
const MAX_WINDOW: u32 = 1001;

/// Summed-area tables of a grayscale image: the sum and the sum of squares of the pixels.
///
/// Both tables have `(width + 1) * (height + 1)` entries with a zero first row and column, so
/// entry `(x, y)` (at `y * (width + 1) + x`) holds the total over pixels `[0, x) x [0, y)`.
/// The layout is public because a GPU implementation is checked against this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegralImages {
    /// Image width in pixels (the tables' row stride is `width + 1`).
    pub width: u32,
    /// Image height in pixels (the tables have `height + 1` rows).
    pub height: u32,
    /// Running sum of pixel values.
    pub sum: Vec<u64>,
    /// Running sum of squared pixel values.
    pub sum_sq: Vec<u64>,
}

impl IntegralImages {
    /// Sum and sum of squares over the pixel rectangle `[x0, x1) x [y0, y1)` (bounds must lie
    /// within the image; empty or inverted rectangles give zeros).
    pub fn window(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> (u64, u64) {
        if x1 <= x0 || y1 <= y0 || x1 > self.width || y1 > self.height {
            return (0, 0);
        }
        let stride = self.width as usize + 1;
        let (a, b) = (y0 as usize * stride, y1 as usize * stride);
        let (x0, x1) = (x0 as usize, x1 as usize);
        let s = self.sum[b + x1] + self.sum[a + x0] - self.sum[b + x0] - self.sum[a + x1];
        let q =
            self.sum_sq[b + x1] + self.sum_sq[a + x0] - self.sum_sq[b + x0] - self.sum_sq[a + x1];
        (s, q)
    }
}

/// Compute the integral images (sum and sum of squares) of `gray`, see [`IntegralImages`].
pub fn integral_images(gray: &GrayImage) -> IntegralImages {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let stride = w + 1;
    let mut sum = vec![0u64; stride * (h + 1)];
    let mut sum_sq = vec![0u64; stride * (h + 1)];
    let src = gray.as_raw();
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        let (prev_s, cur_s) = sum.split_at_mut((y + 1) * stride);
        let (prev_q, cur_q) = sum_sq.split_at_mut((y + 1) * stride);
        let prev_s = &prev_s[y * stride..];
        let prev_q = &prev_q[y * stride..];
        let (mut rs, mut rq) = (0u64, 0u64);
        for x in 0..w {
            let v = row[x] as u64;
            rs += v;
            rq += v * v;
            cur_s[x + 1] = prev_s[x + 1] + rs;
            cur_q[x + 1] = prev_q[x + 1] + rq;
        }
    }
    IntegralImages {
        width: w as u32,
        height: h as u32,
        sum,
        sum_sq,
    }
}

/// Automatic Sauvola window for a page: about 1/40 of the shorter side, odd, within 15..=101.
pub fn auto_window(width: u32, height: u32) -> u32 {
    ((width.min(height) / 40).clamp(15, 101)) | 1
}

/// The window side and `k` that [`sauvola`] actually uses for a `width` x `height` page:
/// `window` = 0 picks [`auto_window`], even windows are made odd and capped at 1001, `k` is
/// clamped to 0..=1 (non-finite: 0.2). Public so that the GPU twin resolves them identically.
pub fn sauvola_parameters(width: u32, height: u32, window: u32, k: f32) -> (u32, f32) {
    let win = if window == 0 {
        auto_window(width, height)
    } else {
        (window | 1).min(MAX_WINDOW)
    };
    let k = if k.is_finite() {
        k.clamp(0.0, 1.0)
    } else {
        0.2
    };
    (win, k)
}

/// Sauvola binarisation: ink (0) where `v <= mean * (1 + k * (std / 128 - 1))` over a
/// `window` x `window` neighbourhood (clipped at the image edges), paper (255) elsewhere.
///
/// `window` = 0 picks [`auto_window`]; even windows are made odd and windows are capped at
/// 1001; `k` is clamped to 0..=1 (a non-finite `k` counts as 0.2). The window sums are the
/// integral-image differences `I[y1][x] - I[y0][x]` of [`integral_images`], computed
/// incrementally (running column sums over the window rows, then a prefix sum along the row),
/// so the cost is O(pixels) whatever the window and the memory O(width); the values are
/// exactly those of the full tables. Two guards keep the output clean: windows whose standard
/// deviation is tiny are paper (blank regions never become noise), and dark pixels in dark
/// windows are ink (the inside of black frames and bars stays black so that border removal can
/// find them).
pub fn sauvola(gray: &GrayImage, window: u32, k: f32) -> GrayImage {
    let (w, h) = gray.dimensions();
    if w == 0 || h == 0 {
        return gray.clone();
    }
    let (win, k) = sauvola_parameters(w, h, window, k);
    let r = win as usize / 2;
    let (w, h) = (w as usize, h as usize);
    let src = gray.as_raw();
    let mut out = vec![255u8; src.len()];
    let x_bounds: Vec<(usize, usize)> = (0..w)
        .map(|x| (x.saturating_sub(r), (x + r + 1).min(w)))
        .collect();
    let inv_cols: Vec<f32> = x_bounds
        .iter()
        .map(|&(a, b)| 1.0 / (b - a) as f32)
        .collect();
    let classify = Classifier::new(k);
    // Column sums over the rows [y0, y1) of the current window.
    let mut col_s = vec![0u32; w];
    let mut col_q = vec![0u32; w];
    // Row prefix sums of the column sums: pre[x] = I[y1][x] - I[y0][x].
    let mut pre_s = vec![0u64; w + 1];
    let mut pre_q = vec![0u64; w + 1];
    let (mut y0, mut y1) = (0usize, 0usize);
    for y in 0..h {
        let (ny0, ny1) = (y.saturating_sub(r), (y + r + 1).min(h));
        while y1 < ny1 {
            for ((cs, cq), &v) in col_s
                .iter_mut()
                .zip(col_q.iter_mut())
                .zip(&src[y1 * w..(y1 + 1) * w])
            {
                *cs += v as u32;
                *cq += v as u32 * v as u32;
            }
            y1 += 1;
        }
        while y0 < ny0 {
            for ((cs, cq), &v) in col_s
                .iter_mut()
                .zip(col_q.iter_mut())
                .zip(&src[y0 * w..(y0 + 1) * w])
            {
                *cs -= v as u32;
                *cq -= v as u32 * v as u32;
            }
            y0 += 1;
        }
        let (mut as_, mut aq) = (0u64, 0u64);
        for (((ps, pq), &cs), &cq) in pre_s[1..]
            .iter_mut()
            .zip(pre_q[1..].iter_mut())
            .zip(&col_s)
            .zip(&col_q)
        {
            as_ += cs as u64;
            aq += cq as u64;
            *ps = as_;
            *pq = aq;
        }
        let rows = (y1 - y0) as i64;
        let inv_rows = 1.0 / rows as f32;
        let base = y * w;
        let srow = &src[base..base + w];
        let orow = &mut out[base..base + w];
        for (((o, &v), &(x0, x1)), &inv_c) in
            orow.iter_mut().zip(srow).zip(&x_bounds).zip(&inv_cols)
        {
            let n = rows * (x1 - x0) as i64;
            let s = (pre_s[x1] - pre_s[x0]) as i64;
            let q = (pre_q[x1] - pre_q[x0]) as i64;
            if classify.is_ink(v, n, s, q, inv_rows * inv_c) {
                *o = 0;
            }
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out)
        .unwrap_or_else(|| GrayImage::from_pixel(w as u32, h as u32, image::Luma([255])))
}

/// The per-pixel Sauvola decision, shared with the reference implementation of the tests.
#[derive(Debug, Clone, Copy)]
struct Classifier {
    k: f32,
    one_minus_k: f32,
    min_var: f32,
}

impl Classifier {
    fn new(k: f32) -> Classifier {
        Classifier {
            k,
            one_minus_k: 1.0 - k,
            min_var: MIN_STD * MIN_STD,
        }
    }

    /// Ink decision for pixel value `v` in a window of `n` pixels with sum `s` and sum of
    /// squares `q` (`inv_n` = 1 / n). Equivalent to `v <= m * (1 + k * (sd / R - 1))`,
    /// evaluated without a square root: with `a = v - m * (1 - k)`, ink iff `a <= 0` or
    /// `(a * R)^2 <= (m * k)^2 * var`.
    #[inline]
    fn is_ink(&self, v: u8, n: i64, s: i64, q: i64, inv_n: f32) -> bool {
        let mean = s as f32 * inv_n;
        let v = v as f32;
        if v < DARK_LEVEL && mean < DARK_LEVEL {
            return true;
        }
        // n * q - s^2 >= 0 (Cauchy-Schwarz); exact in i64 for windows up to MAX_WINDOW (signed
        // conversions to f32 are single instructions, unsigned ones are not).
        let var = (n * q - s * s).max(0) as f32 * (inv_n * inv_n);
        if var < self.min_var {
            return false;
        }
        let a = v - mean * self.one_minus_k;
        if a <= 0.0 {
            return true;
        }
        let (lhs, mk) = (a * SAUVOLA_R, mean * self.k);
        lhs * lhs <= mk * mk * var
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::testutil::{draw_paragraph, ink_count, load_font};
    use image::Luma;
    use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};

    #[test]
    fn integral_matches_naive_sums() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut img = GrayImage::new(37, 23);
        for p in img.pixels_mut() {
            p[0] = rng.random_range(0..=255u8);
        }
        let ii = integral_images(&img);
        assert_eq!(ii.sum.len(), 38 * 24);
        for _ in 0..200 {
            let (x0, x1) = (rng.random_range(0..37u32), rng.random_range(0..=37u32));
            let (y0, y1) = (rng.random_range(0..23u32), rng.random_range(0..=23u32));
            let (mut s, mut q) = (0u64, 0u64);
            for y in y0..y1 {
                for x in x0..x1 {
                    let v = img.get_pixel(x, y)[0] as u64;
                    s += v;
                    q += v * v;
                }
            }
            assert_eq!(ii.window(x0, y0, x1, y1), (s, q), "{x0},{y0},{x1},{y1}");
        }
        // The full-image corner entry is the total.
        let total: u64 = img.pixels().map(|p| p[0] as u64).sum();
        assert_eq!(*ii.sum.last().unwrap_or(&0), total);
    }

    /// The streaming implementation equals a direct evaluation on the full integral images.
    #[test]
    fn sauvola_matches_integral_image_reference() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let (w, h) = (83u32, 61u32);
        let mut img = GrayImage::new(w, h);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let base = if (x / 9 + y / 7) % 3 == 0 { 60 } else { 200 };
            p[0] = (base + rng.random_range(0..40u32) + x) as u8;
        }
        for (win, k) in [(15u32, 0.2f32), (31, 0.34), (4, 0.5)] {
            let fast = sauvola(&img, win, k);
            let ii = integral_images(&img);
            let r = (win | 1) / 2;
            let c = Classifier::new(k);
            for y in 0..h {
                for x in 0..w {
                    let (x0, y0) = (x.saturating_sub(r), y.saturating_sub(r));
                    let (x1, y1) = ((x + r + 1).min(w), (y + r + 1).min(h));
                    let (s, q) = ii.window(x0, y0, x1, y1);
                    let n = ((x1 - x0) * (y1 - y0)) as i64;
                    let inv = (1.0 / (y1 - y0) as f32) * (1.0 / (x1 - x0) as f32);
                    let expect = if c.is_ink(img.get_pixel(x, y)[0], n, s as i64, q as i64, inv) {
                        0
                    } else {
                        255
                    };
                    assert_eq!(fast.get_pixel(x, y)[0], expect, "win {win} at {x},{y}");
                }
            }
        }
    }

    #[test]
    fn auto_window_is_odd_and_clamped() {
        assert_eq!(auto_window(100, 100), 15);
        assert_eq!(auto_window(2480, 3508), 63);
        assert_eq!(auto_window(10000, 10000), 101);
        assert_eq!(auto_window(0, 0), 15);
    }

    #[test]
    fn gradient_page_keeps_text_without_background_blobs() {
        let Some(font) = load_font() else { return };
        let (w, h) = (1200u32, 800u32);
        let mut mask = GrayImage::from_pixel(w, h, Luma([255]));
        draw_paragraph(&mut mask, &font, 40, 40, 30.0, 0, 10);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut page = GrayImage::new(w, h);
        for (x, y, p) in page.enumerate_pixels_mut() {
            // Dark-to-light: 95 on the left to 245 on the right, plus sensor noise.
            let paper = 95.0 + 150.0 * x as f32 / w as f32 + rng.random_range(-3.0..3.0f32);
            let a = 1.0 - mask.get_pixel(x, y)[0] as f32 / 255.0;
            p[0] = (paper * (1.0 - 0.7 * a)).clamp(0.0, 255.0) as u8;
        }
        let bin = sauvola(&page, 0, 0.2);
        let ref_bin = sauvola(&mask, 0, 0.2);
        // Ink is found where the text is, and nowhere far from it.
        let (mut hit, mut text, mut stray) = (0u64, 0u64, 0u64);
        for (x, y, p) in bin.enumerate_pixels() {
            let is_text = ref_bin.get_pixel(x, y)[0] == 0;
            if is_text {
                text += 1;
                hit += (p[0] == 0) as u64;
            } else if p[0] == 0 && mask.get_pixel(x, y)[0] == 255 {
                stray += 1;
            }
        }
        assert!(hit as f64 > 0.85 * text as f64, "hit {hit} of {text}");
        assert!(
            (stray as f64) < 0.02 * text as f64,
            "stray {stray} (text {text})"
        );
        // The blank band below the paragraph has no ink at all.
        let below = image::imageops::crop_imm(&bin, 0, 700, w, 100).to_image();
        assert_eq!(ink_count(&below), 0);
    }

    #[test]
    fn solid_dark_block_stays_ink_and_empty_input_is_fine() {
        let mut img = GrayImage::from_pixel(300, 300, Luma([250]));
        for y in 50..250 {
            for x in 50..250 {
                img.put_pixel(x, y, Luma([20]));
            }
        }
        let bin = sauvola(&img, 31, 0.2);
        assert_eq!(bin.get_pixel(150, 150)[0], 0);
        assert_eq!(bin.get_pixel(10, 10)[0], 255);
        assert_eq!(sauvola(&GrayImage::new(0, 0), 0, 0.2).dimensions(), (0, 0));
    }
}
