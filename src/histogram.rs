//! Gray-level histograms and what is read from them (percentiles, Otsu's threshold): one
//! implementation for line preparation and page preprocessing.

use image::GrayImage;

use crate::geometry::BBox;

/// Otsu's threshold of a histogram (0..=255).
pub fn otsu(hist: &[u32; 256]) -> u8 {
    let total: u64 = hist.iter().map(|&c| c as u64).sum();
    if total == 0 {
        return 128;
    }
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w_b, mut sum_b, mut best, mut best_t) = (0u64, 0f64, -1f64, 128u8);
    for (t, &c) in hist.iter().enumerate() {
        w_b += c as u64;
        if w_b == 0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0 {
            break;
        }
        sum_b += t as f64 * c as f64;
        let m_b = sum_b / w_b as f64;
        let m_f = (sum_all - sum_b) / w_f as f64;
        let between = w_b as f64 * w_f as f64 * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t
}

/// The smallest gray level at or below which at least `p` (0..=1) of the histogram's pixels
/// lie (255 for an empty histogram).
pub fn percentile(hist: &[u32; 256], p: f32) -> u8 {
    let total: u64 = hist.iter().map(|&c| c as u64).sum();
    let target = (total as f64 * p as f64).ceil() as u64;
    let mut acc = 0u64;
    for (i, &c) in hist.iter().enumerate() {
        acc += c as u64;
        if acc >= target.max(1) {
            return i as u8;
        }
    }
    255
}

/// Gray-level histogram of the box `b` of `gray` (`b` already clamped to the page).
pub fn box_histogram(gray: &GrayImage, b: BBox) -> [u32; 256] {
    let mut hist = [0u32; 256];
    for y in b.y0..b.y1 {
        for x in b.x0..b.x1 {
            hist[gray.get_pixel(x, y)[0] as usize] += 1;
        }
    }
    hist
}
